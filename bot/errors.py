"""Bot-side errors under the one root (classifiers.errors.TriagebotError), for problems with no better home.

Every error here is shown by the CLI as one line and exit status 1 (bot/cli/app.py does that, once).
"""

from __future__ import annotations

import logging

from classifiers.errors import TriagebotError

log = logging.getLogger(__name__)

__all__ = ["TriagebotError", "InputError", "BatchFailed", "AppealRefused"]


class InputError(TriagebotError):
    """A file or string given on the command line cannot be used; the message names the file and line."""


class BatchFailed(TriagebotError):
    """Some items of a batch failed; the others were done and reported, then the command exits 1."""

    def __init__(self, failed: int, total: int, what: str) -> None:
        super().__init__(f"{failed} of {total} {what} failed (see the error lines above)")
        self.failed = failed
        self.total = total


class AppealRefused(TriagebotError):
    """An appeal that cannot be opened or decided; `key` and `values` give the message in the member's language."""

    def __init__(self, key: str, lang: str = "en", **values: object) -> None:
        from bot import i18n

        self.key, self.lang, self.values = key, lang, values
        super().__init__(i18n.text(key, lang, **values))

    def text(self, lang: str | None = None) -> str:
        """The refusal in another language (e.g. the moderator's own)."""
        from bot import i18n

        return i18n.text(self.key, lang or self.lang, **self.values)
