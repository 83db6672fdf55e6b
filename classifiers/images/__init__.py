"""Image detection, independent of any chat platform.

decode: safe decoding of untrusted uploads (whitelist, caps, frame sampling, downscale).
nsfw:   NudeNet explicit-image detector (optional `images` extra).
bank:   re-share bank matching (perceptual hashes + ORB); storage is the caller's.
"""
