"""`triagebot demo` end to end: shipped model, real store, synthetic images, no tokens or network."""

import importlib.util

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.store import Store
from tests.conftest import needs_model

pytestmark = needs_model
#: With OpenCV (the `images` extra) every re-share matches; without it matching is hash-only (the documented
#: fallback, classifiers/images/bank.py) and the tight crop in m06 is missed while JPEG and watermark re-shares match.
RESHARES = ("m06", "m14", "m16") if importlib.util.find_spec("cv2") else ("m14", "m16")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    result = CliRunner().invoke(main, ["demo", "--db", str(db)], catch_exceptions=False)
    return result, db


def test_demo_prints_incident_queue_and_database(demo_run):
    result, db = demo_run
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Review queue (oldest first):" in out and f"Database: {db.resolve()}" in out
    assert "targeting @sari" in out and "re-shared image" in out
    # progress while it runs (stderr): each step, then the replay counter up to every event
    assert out.index("Loading the text model...") < out.index("Replaying the chat...") < out.index("replayed 26/26")


def test_demo_catches_reshares_reports_and_spares_chatter(demo_run):
    _, db = demo_run
    with Store.open(db) as s:
        flags = {f.message_id: f for f in s.iter_flags("demo:fanserver")}
        assert {"m06", "m14", "m16"} <= set(flags)  # every re-share of Sari's registered photo (m06 by its text too)
        assert [m for m in ("m06", "m14", "m16") if "reshare" in flags[m].labels] == list(RESHARES)
        assert flags["m19"].source == "report" and flags["m19"].report_count == 1  # what the bot missed, members reported
        assert flags["m08"].report_count == 2  # two reports collapse into one item
        benign = {"m01", "m02", "m03", "m04", "m05", "m12", "m15", "m18", "m20", "m22", "m23"}
        assert not benign & set(flags), f"benign chatter flagged: {sorted(benign & set(flags))}"
        assert all(r.ok for r in s.verify_chain())


def test_demo_replaces_its_own_db(demo_run):
    """A second run starts from scratch: same flags, not twice as many."""
    _, db = demo_run
    with Store.open(db) as s:
        before = s.count_flags("demo:fanserver")
    CliRunner().invoke(main, ["demo", "--db", str(db)], catch_exceptions=False)
    with Store.open(db) as s:
        assert s.count_flags("demo:fanserver") == before > 0


def test_demo_refuses_to_replace_a_real_db(tmp_path):
    db = tmp_path / "real.db"
    with Store.open(db) as s:
        s.ensure_server("discord:1")
    r = CliRunner().invoke(main, ["demo", "--db", str(db)])
    assert r.exit_code == 1 and "holds real servers" in r.output
