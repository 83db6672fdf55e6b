"""Text that users hand the CLI (arguments, .txt/.csv/.jsonl files, stdin), made safe to score and print.

Why: real files come from Excel (a UTF-8 BOM), from broken exports (invalid UTF-8, `null` texts) and from
attackers (JSON nested 100,000 deep, escaped lone surrogates). Every text leaving this module is valid
UTF-8, and every bad line is reported by number instead of ending the run in a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

import click

from bot.errors import InputError

log = logging.getLogger(__name__)

FORMATS = ("txt", "csv", "jsonl")
STDIN = "-"
#: A message object needs depth 1; nothing real nests deeper than this, and json.loads recurses.
MAX_JSON_DEPTH = 64

_SURROGATE = re.compile("[\ud800-\udfff]")
#: A JSON string (skipped whole, so brackets inside it do not count) or one bracket.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def clean_text(text: str) -> str:
    """`text` with lone surrogates (undecodable argument bytes, escaped `\\ud800` in JSON) replaced by U+FFFD,
    so it always encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


class CleanText(click.ParamType):
    """A string option or argument whose undecodable bytes become U+FFFD (never a UnicodeEncodeError later)."""

    name = "TEXT"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        return clean_text(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Item:
    """One input text, or why its line could not be used; `line` counts from 1 (CSV: the record's last line)."""

    line: int
    text: str | None = None
    error: str | None = None


def input_format(source: str, given: str | None) -> str:
    """The format named by --input-format, else by the file suffix; stdin defaults to one text per line."""
    if given:
        return given
    if source == STDIN:
        return "txt"
    suffix = Path(source).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise click.BadParameter(
            f"unsupported file type {('.' + suffix) if suffix else '(none)'!r}; use .txt, .csv or .jsonl, or give --input-format", param_hint="--input"
        )
    return suffix


def _open_text(source: str) -> IO[str]:
    """A text stream over the file or stdin: UTF-8, BOM dropped, invalid bytes replaced."""
    if source == STDIN:
        raw: IO[bytes] = sys.stdin.buffer
    else:
        try:
            raw = open(source, "rb")
        except OSError as exc:
            raise InputError(f"{clean_text(source)}: cannot read ({exc.strerror or exc})") from None
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


def json_too_deep(line: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the JSON text nests arrays/objects deeper than `limit` (checked without recursion)."""
    if line.count("[") + line.count("{") <= limit:
        return False
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(line):  # stops at the first bracket over the limit
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return True
        elif token in "]}":
            depth -= 1
    return False


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(type(value), "not text")


def _jsonl_item(n: int, line: str) -> Item:
    if json_too_deep(line):
        return Item(n, error=f"line {n}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        obj = json.loads(line)
    except ValueError as exc:  # JSONDecodeError, or an integer over Python's digit limit
        return Item(n, error=f"line {n}: not JSON ({getattr(exc, 'msg', None) or str(exc).splitlines()[0][:80]})")
    if not isinstance(obj, dict) or "text" not in obj:
        return Item(n, error=f"line {n}: no 'text' field")
    text = obj["text"]
    if not isinstance(text, str):
        return Item(n, error=f"line {n}: 'text' is {_kind(text)}, expected a string")
    return Item(n, clean_text(text))


def read_items(source: str, fmt: str) -> Iterator[Item]:
    """Texts from `source` (a path, or "-" for stdin) in `fmt`: txt = one per non-blank line, csv = the
    `text` column, jsonl = the `text` field. A bad line becomes an error Item and reading goes on; a file
    that cannot be read at all (or a CSV without a `text` column) raises."""
    with _open_text(source) as fh:
        if fmt == "txt":
            for n, line in enumerate(fh, 1):
                line = line.rstrip("\r\n")
                if line.strip():
                    yield Item(n, line)
        elif fmt == "jsonl":
            for n, line in enumerate(fh, 1):
                if line.strip():
                    yield _jsonl_item(n, line)
        elif fmt == "csv":
            csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
            reader = csv.DictReader(fh)
            name = "standard input" if source == STDIN else Path(source).name
            try:
                fields = reader.fieldnames
            except csv.Error as exc:
                raise InputError(f"{clean_text(name)}: not CSV ({exc})") from None
            if not fields or "text" not in fields:
                shown = clean_text(", ".join(fields or [])[:200])
                raise click.BadParameter(f"{clean_text(name)} has no 'text' column (columns: {shown or 'none'})", param_hint="--input")
            last_error = -1
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    if reader.line_num == last_error:  # the reader did not move on: stop here
                        return
                    last_error = reader.line_num
                    yield Item(reader.line_num, error=f"line {reader.line_num}: not CSV ({exc})")
                    continue
                text = row.get("text")
                if text is None:
                    yield Item(reader.line_num, error=f"line {reader.line_num}: no value in the 'text' column")
                else:
                    yield Item(reader.line_num, text)
        else:
            raise AssertionError(fmt)
