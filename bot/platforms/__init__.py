"""Thin adapters: platform events -> core Messages, core Actions -> platform API calls.

Only modules in this package may import `discord` or `telegram`.
"""
