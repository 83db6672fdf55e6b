"""A command decorator: a TriagebotError ends the command with one line and exit 1, never a traceback.

Stop-gap until the CLI converts TriagebotError centrally; then this decorator can go.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable

import click

from classifiers.errors import TriagebotError

log = logging.getLogger(__name__)


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TriagebotError as exc:
            raise click.ClickException(str(exc)) from None
    return wrapper
