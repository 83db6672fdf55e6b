"""Bot-side errors under the one root (classifiers.errors.TriagebotError), for problems with no better home.

Every error here is shown by the CLI as one line and exit status 1 (bot/cli/app.py does that, once).
"""
from __future__ import annotations

import logging

from classifiers.errors import TriagebotError

log = logging.getLogger(__name__)

__all__ = ["TriagebotError", "InputError", "BatchFailed"]


class InputError(TriagebotError):
    """A file or string given on the command line cannot be used; the message names the file and line."""


class BatchFailed(TriagebotError):
    """Some items of a batch failed; the others were done and reported, then the command exits 1."""

    def __init__(self, failed: int, total: int, what: str) -> None:
        super().__init__(f"{failed} of {total} {what} failed (see the error lines above)")
        self.failed = failed
        self.total = total
