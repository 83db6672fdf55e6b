"""The Ed25519 key that signs export manifests: kept in its own file (mode 0600), never in the database.

A copy of the database alone then cannot forge a signed export, and a rewritten file plus manifest is
caught by anyone holding the public key (printed in every manifest and by `triagebot key show`).
"""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bot.audit_chain import canonical
from classifiers.errors import TriagebotError

log = logging.getLogger(__name__)

ALGORITHM = "ed25519"
KEY_ENV = "TRIAGEBOT_SIGNING_KEY"


class SigningKeyError(TriagebotError):
    """The signing key file cannot be read, created or trusted."""


def default_key_path(db_path: str | Path) -> Path:
    """Next to the database, so one deployment has one key: `<db>.signing-key`."""
    p = Path(db_path)
    return p.with_name(p.name + ".signing-key")


def key_path_for(db_path: str | Path) -> Path:
    """The key file for a database: $TRIAGEBOT_SIGNING_KEY if set, else next to the database."""
    env = os.environ.get(KEY_ENV)
    return Path(env) if env else default_key_path(db_path)


def load_or_create_key(path: str | Path) -> Ed25519PrivateKey:
    """The key at `path`; a new one is generated there (0600, never overwritten) on first use."""
    p = Path(path)
    if not p.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_or_create_key(p)  # another process made it first
        except OSError as exc:
            raise SigningKeyError(f"cannot create the signing key {p}: {exc.strerror}") from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        log.info("generated a new export signing key at %s", p)
        return key
    if p.stat().st_mode & 0o077:
        raise SigningKeyError(f"the signing key {p} is readable by others; run: chmod 600 {p}")
    try:
        loaded = serialization.load_pem_private_key(p.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise SigningKeyError(f"{p} is not a usable signing key ({exc.__class__.__name__})") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise SigningKeyError(f"{p} is not an Ed25519 key")
    return loaded


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """`ed25519:<base64 of the 32 raw bytes>`: short enough to read out or print on paper."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"{ALGORITHM}:{base64.b64encode(raw).decode('ascii')}"


def _unsigned(manifest: Mapping[str, Any]) -> bytes:
    return canonical({k: v for k, v in manifest.items() if k != "signature"}).encode("utf-8")


def sign_manifest(manifest: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The manifest plus `signature` (algorithm, public key, base64 signature over the rest, canonical JSON)."""
    sig = key.sign(_unsigned(manifest))
    return {**manifest, "signature": {"algorithm": ALGORITHM, "public_key": public_key_text(key), "value": base64.b64encode(sig).decode("ascii")}}


def check_signature(manifest: Mapping[str, Any]) -> str:
    """The signing public key if the manifest's signature is valid; raises SigningKeyError otherwise."""
    sig = manifest.get("signature")
    if not isinstance(sig, Mapping):
        raise SigningKeyError("the manifest is not signed")
    pub_text = str(sig.get("public_key", ""))
    algo, _, b64 = pub_text.partition(":")
    try:
        if algo != ALGORITHM or sig.get("algorithm") != ALGORITHM:
            raise ValueError("algorithm")
        pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(b64, validate=True))
        pub.verify(base64.b64decode(str(sig.get("value", "")), validate=True), _unsigned(manifest))
    except (ValueError, InvalidSignature):
        raise SigningKeyError("the manifest's signature does not match its contents (manifest edited or signed by another key)") from None
    return pub_text
