"""The victim stays in control: she lists and withdraws what she registered, and re-shares stop matching."""

import sqlite3

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.pipeline import Pipeline
from tests.conftest import KeywordDetector, RecordingAdapter, StandInImageScanner, make_message, make_settings
from bot.models import Attachment

PHOTO = b"PRIV her photo"


@pytest.fixture
def p(store, db_path):
    pipeline = Pipeline(make_settings(db_path), store, [KeywordDetector()], image_scanner=StandInImageScanner())
    pipeline.adapters["discord"] = RecordingAdapter(files={"x://reshare": PHOTO})
    yield pipeline
    pipeline.executor.shutdown(wait=False)


def reshare() -> object:
    return make_message("", attachments=(Attachment(kind="image", url="x://reshare"),))


async def test_unprotect_lists_removes_and_stops_matching(p, store, db_path):
    mine = await p.protect("discord:s1", PHOTO, "sari", "holiday")
    await p.protect("discord:s1", b"PRIV other", "someone-else")
    assert (await p.handle(reshare())).flagged
    listed = p.protected_images("discord:s1", "sari")
    assert [e["id"] for e in listed] == [mine.entry_id] and listed[0]["note"] == "holiday"
    assert not p.unprotect("discord:s1", "someone-else", mine.entry_id)  # only she can withdraw it
    assert not p.unprotect("discord:s2", "sari", mine.entry_id)  # and only in her server's bank
    assert p.unprotect("discord:s1", "sari", mine.entry_id)
    assert p.protected_images("discord:s1", "sari") == []
    assert not (await p.handle(reshare())).flagged
    raw = sqlite3.connect(db_path)
    assert raw.execute("SELECT COUNT(*) FROM image_hashes WHERE entry_id = ?", (mine.entry_id,)).fetchone()[0] == 0
    raw.close()


async def test_cli_bank_list_and_remove(p, store, db_path):
    a = await p.protect("discord:s1", PHOTO, "sari", '=HYPERLINK("x") note')
    b = await p.protect("discord:s1", b"PRIV other", "dewi")
    store.close()
    run = CliRunner().invoke
    out = run(main, ["bank", "list", "--db", str(db_path)])
    assert out.exit_code == 0 and out.output.splitlines()[0].startswith(f"#{b.entry_id} discord:s1")
    out = run(main, ["bank", "list", "--db", str(db_path), "--registered-by", "sari", "--json"])
    assert out.exit_code == 0 and len(out.output.splitlines()) == 1 and '"registered_by": "sari"' in out.output
    assert run(main, ["bank", "remove", str(a.entry_id), "--db", str(db_path)], input="n\n").exit_code == 1  # asked, refused
    out = run(main, ["bank", "remove", str(a.entry_id), "--db", str(db_path), "--yes"])
    assert out.exit_code == 0 and f"removed #{a.entry_id}" in out.output
    again = run(main, ["bank", "remove", str(a.entry_id), "--db", str(db_path), "--yes"])
    assert again.exit_code == 1 and f"no bank entry #{a.entry_id}" in again.output
    assert run(main, ["bank", "remove", "0", "--db", str(db_path), "--yes"]).exit_code == 2
