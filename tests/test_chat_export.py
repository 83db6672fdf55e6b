"""Exports the bots upload: one case at a time, built off the event loop, fitted to the upload limit."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from bot import chat_export
from bot.export import export_bytes
from bot.export_check import check_export
from bot.models import Decision
from bot.store import FlagFilter
from bot.platforms.telegram_export import ExportRequest, parse_export_args
from classifiers.base import Verdict
from tests.conftest import make_message

FLAGGED = Decision(flagged=True, labels=("sexual",), verdicts=(Verdict("sexual", 0.9, '"b0k3p" → bokep', "text_model"),))


@pytest.fixture
def busy(store, monkeypatch):
    """60 flags at one member in one incident, 20 at another member, in discord:s1."""
    monkeypatch.delenv("TRIAGEBOT_SIGNING_KEY", raising=False)
    for i in range(80):
        target = "v1" if i < 60 else "v2"
        store.record_flag(make_message(f"kamu b0k3p {i} " * 10, author=f"t{i}", targets=(target,)), FLAGGED, incident_window_minutes=30)
    return store


def _checked(files: dict[str, bytes]) -> dict:
    """verify-export's checks on the uploaded pair (unzipped first when zipped); returns the manifest."""
    if len(files) == 1:
        [(name, packed)] = files.items()
        assert name.endswith(".zip")
        with zipfile.ZipFile(io.BytesIO(packed)) as z:
            files = {n: z.read(n) for n in z.namelist()}
    [data_name] = [n for n in files if not n.endswith(".manifest.json")]
    manifest = json.loads(files[data_name + ".manifest.json"])  # beside the file, where verify-export looks
    result = check_export(files[data_name], manifest)
    assert result.ok, result.problems
    return manifest


@pytest.mark.parametrize("fit", ["as is", "zipped", "too big"])
async def test_an_export_is_fitted_to_the_upload_limit(busy, fit):
    raw = export_bytes(busy, "csv", "discord:s1")
    size = len(raw.data) + len(raw.manifest_json)
    limit = {"as is": size, "zipped": size - 1, "too big": 1000}[fit]
    out = await chat_export.build(busy, "csv", FlagFilter("discord:s1"), limit)
    assert out.rows == 80 and out.size == len(raw.data)
    assert all(len(data) <= limit for _, data in out.files)
    assert out.too_big is (fit == "too big") and out.zipped is (fit == "zipped")
    if fit != "too big":
        assert _checked(dict(out.files))["rows"] == 80


@pytest.mark.parametrize("filters, rows", [({"incident": "first"}, 60), ({"target": "v2"}, 20), ({"target": "nobody"}, 0), ({}, 80)])
async def test_one_case_is_built_on_a_reader_of_its_own(busy, filters, rows):
    if filters.get("incident") == "first":
        filters = {"incident": busy.flag("discord:s1", 1).incident_id}
    assert busy.path is not None  # a real file: the export is read in a worker thread, through its own connection
    out = await chat_export.build(busy, "json", FlagFilter("discord:s1", **filters), 10**8)
    manifest = _checked(dict(out.files))
    assert out.rows == rows == manifest["rows"]
    assert {k: v for k, v in manifest["filters"].items() if k in filters} == filters
    [data] = [d for name, d in out.files if not name.endswith(".manifest.json")]
    assert data == export_bytes(busy, "json", FlagFilter("discord:s1", **filters)).data  # the same rows as an export on the bot's own connection


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], ExportRequest()),
        (["json"], ExportRequest("json")),
        (["csv", "-1001234567890"], ExportRequest("csv", -1001234567890)),
        (["incident", "3"], ExportRequest(incident=3)),
        (["i3"], ExportRequest(incident=3)),
        (["#3", "json"], ExportRequest("json", incident=3)),
        (["insiden", "#12", "-100"], ExportRequest(group=-100, incident=12)),
        (["member", "123456789"], ExportRequest(member="123456789")),
        (["anggota", "42", "csv"], ExportRequest(member="42")),
        (["incident"], ExportRequest(problem="tg.export.usage")),
        (["member", "@troll"], ExportRequest(problem="tg.export.usage")),
        (["incident", "3", "member", "4"], ExportRequest(problem="tg.export.usage")),
        (["xlsx"], ExportRequest(problem="tg.export.usage")),
        (["=cmd|' /C calc'!A0"], ExportRequest(problem="tg.export.usage")),
    ],
)
def test_telegram_export_arguments(args, expected):
    assert parse_export_args(args) == expected


def test_the_export_reader_cannot_write(busy):
    import sqlite3

    from bot.store import Store

    reader = Store.open_reader(busy.path)
    try:
        assert reader.count_flags("discord:s1") == 80
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.db.conn.execute("DELETE FROM flags")
    finally:
        reader.close()
    assert busy.count_flags("discord:s1") == 80
