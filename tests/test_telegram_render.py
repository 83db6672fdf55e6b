"""Telegram alert HTML and button payloads: hostile text stays text, incident alerts get incident buttons,
every payload fits Telegram's 64 bytes and malformed ones are refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from bot.alerts import Alert
from bot.platforms.telegram_render import incident_data, parse_callback, parse_incident_data, render_alert, render_page
from bot.store import FlagView, IncidentView

NOW = datetime.now(timezone.utc)
HOSTILE = "<b>x</b> <a href='https://evil.example'>y</a> &amp; @everyone"


def flag(i: int = 7, excerpt: str = "you slur") -> FlagView:
    return FlagView(
        id=i,
        server="telegram:-1001",
        platform="telegram",
        channel_id="-1001",
        message_id=str(50 + i),
        author_id="300",
        author_name="Troll",
        excerpt=excerpt,
        link=f"https://t.me/c/1/{50 + i}",
        labels=("racial",),
        max_score=0.9,
        source="detector",
        status="pending",
        report_count=0,
        created_at=NOW,
        message_time=NOW,
        targets=("400",),
        attachments=(),
    )


def alert(**kw) -> Alert:
    base = Alert(
        server="telegram:-1001",
        flag=flag(),
        incident=None,
        title="Flagged: racial",
        excerpt="you slur",
        labels=("racial",),
        scores={"racial": 0.9},
        reasons=(),
        report_count=0,
        status_line="pending",
        attachment_lines=(),
        dry_run=False,
        ref=None,
    )
    return replace(base, **kw)


INCIDENT = IncidentView(
    id=3, server="telegram:-1001", target_id="400", status="open", first_at=NOW, last_at=NOW, flag_count=60, author_count=9, labels=("racial",), alert_ref=None
)


@pytest.mark.parametrize(
    "field,value",
    [
        ("notes", (f"Ada: {HOSTILE}",)),
        ("outcomes", (f"57 deleted {HOSTILE}",)),
        ("author_history", HOSTILE),
        ("excerpt", HOSTILE),
        ("title", HOSTILE),
        ("excerpt", ""),
        ("excerpt", "x" * 20000),
        ("notes", ("Budi: tolong hapus pesan rasis ini <script>",)),
    ],
)
def test_hostile_text_in_any_field_stays_text(field, value):
    text, _ = render_alert(alert(**{field: value}))
    assert "<a href='https://evil" not in text and "<b>x</b>" not in text and "<script>" not in text
    assert len(text) <= 4096


def test_outcome_names_the_moderator_where_known():
    text, _ = render_alert(alert(incident=INCIDENT, outcomes=("57 deleted, 3 already gone by 100",)), names={"100": "Ada (@ada)"})
    assert "Done: 57 deleted, 3 already gone by Ada (@ada) · id <code>100</code>" in text


@pytest.mark.parametrize("incident,prefix", [(None, "tb:"), (INCIDENT, "ti:")])
def test_incident_alerts_get_incident_buttons(incident, prefix):
    _, markup = render_alert(alert(incident=incident))
    datas = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert datas and all(d.startswith(prefix) for d in datas)


@pytest.mark.parametrize("verb,arg", [("confirm", None), ("yesmute", 86400), ("yesban", None), ("items", 10**6), ("cancel", None)])
def test_incident_payloads_fit_64_bytes_for_the_largest_ids(verb, arg):
    data = incident_data(verb, -1009999999999999, 10**12, arg)
    assert len(data.encode()) <= 64
    press = parse_incident_data(data)
    assert (press.verb, press.chat_id, press.incident_id, press.arg) == (verb, -1009999999999999, 10**12, arg)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "ti",
        "ti:ban",
        "ti:nuke:-1:3",
        "ti:ban:x:3",
        "ti:mute:-1:3",
        "ti:mute:-1:3:0",
        "ti:items:-1:3",
        "ti:items:-1:3:-5",
        "tb:ban:-1:3",
        "ti:ban:-1:3:4:5",
        "ti:ban:-1:٣",
    ],
)
def test_malformed_incident_payloads_are_refused(data):
    assert parse_incident_data(data) is None
    assert parse_callback(data) is None or data.startswith("tb:")


@pytest.mark.parametrize(
    "total,offset,shown,nav",
    [
        (0, 0, 0, []),
        (3, 0, 3, []),
        (9, 0, 5, [5]),
        (9, 5, 4, [0]),
        (60, 25, 5, [20, 30]),
    ],
)
def test_pager_pages(total, offset, shown, nav):
    flags = [flag(i, excerpt=HOSTILE) for i in range(offset, offset + shown)]
    text, markup = render_page(flags, total, offset, -1001, 3, group_title="Sari's <fans>")
    assert f"of {total}" in text and "Sari&#x27;s &lt;fans&gt;" in text and "<b>x</b>" not in text
    datas = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert [parse_incident_data(d).arg for d in datas if d.startswith("ti:")] == nav
    assert len([d for d in datas if d.startswith("tb:ban")]) == shown
