"""`triagebot` command line: a click group whose commands are thin wrappers over library functions.

Each command module registers itself on `main` when imported here.
"""
from bot.cli.app import main

__all__ = ["main"]
