"""`triagebot` command line: a click group whose commands are thin wrappers over library functions.

Each command module registers itself on `main` when imported here.
"""

from bot.cli.app import main
from bot.cli import queue_commands  # noqa: E402,F401
from bot.cli import run_commands  # noqa: E402,F401
from bot.cli import model_commands  # noqa: E402,F401
from bot.cli import image_commands  # noqa: E402,F401
from bot.cli import member_commands  # noqa: E402,F401
from bot.cli import bank_commands  # noqa: E402,F401
from bot.cli import note_commands  # noqa: E402,F401
from bot.cli import evidence_commands  # noqa: E402,F401
from bot.cli import appeal_commands  # noqa: E402,F401
from bot.cli import rules_commands  # noqa: E402,F401

__all__ = ["main"]
