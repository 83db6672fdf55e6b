"""The one error root: every error a user can cause or meet is a TriagebotError, shown as one line by the CLI."""

from __future__ import annotations


class TriagebotError(Exception):
    """An error with a message fit for a user: one line, no traceback, no secret."""
