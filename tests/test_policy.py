from types import MappingProxyType

import pytest

from bot.config import ServerSettings
from bot.policy import decide
from classifiers.base import Verdict
from tests.conftest import make_message

BASE = {"sexual": 0.6, "racial": 0.7}


def v(label, score):
    return Verdict(label=label, score=score, reason=f"{label} reason", detector="t")


@pytest.mark.parametrize(
    "verdicts, expected",
    [
        ([], ()),
        ([v("sexual", 0.59)], ()),
        ([v("sexual", 0.6)], ("sexual",)),
        ([v("racial", 0.69), v("sexual", 0.1)], ()),
        ([v("racial", 0.9), v("sexual", 0.95)], ("racial", "sexual")),
        ([v("reshare", 0.5)], ("reshare",)),  # unknown-to-base labels fall back to 0.5
    ],
)
def test_thresholds(verdicts, expected):
    d = decide(make_message("x"), verdicts, ServerSettings(), BASE)
    assert d.labels == expected
    assert d.flagged == bool(expected)


def test_server_threshold_overrides_base():
    s = ServerSettings(thresholds=MappingProxyType({"sexual": 0.9}))
    assert not decide(make_message("x"), [v("sexual", 0.8)], s, BASE).flagged
    assert decide(make_message("x"), [v("sexual", 0.95)], s, BASE).flagged


@pytest.mark.parametrize(
    "kw, settings, why",
    [
        ({"author_is_bot": True}, ServerSettings(), "author is a bot"),
        ({"author_is_moderator": True}, ServerSettings(), "author is a moderator"),
        ({"channel": "support"}, ServerSettings(allow_channels=frozenset({"support"})), "channel is allow-listed"),
        ({"author": "vip"}, ServerSettings(exempt_users=frozenset({"vip"})), "author is exempt"),
    ],
)
def test_exemptions(kw, settings, why):
    d = decide(make_message("x", **kw), [v("sexual", 0.99)], settings, BASE)
    assert not d.flagged and d.exempt == why


def test_exemption_can_be_turned_off():
    d = decide(make_message("x", author_is_bot=True), [v("sexual", 0.99)], ServerSettings(exempt_bots=False), BASE)
    assert d.flagged


def test_no_protective_action_by_default():
    d = decide(make_message("x"), [v("sexual", 0.99)], ServerSettings(), BASE)
    assert d.flagged and d.actions == ()


def test_auto_delete_and_timeout_when_enabled():
    s = ServerSettings(auto_delete=True, auto_delete_threshold=0.95, auto_timeout=True, timeout_after_flags=3, timeout_minutes=5)
    d = decide(make_message("x"), [v("sexual", 0.97)], s, BASE, prior_flags=2)
    kinds = {a.kind: a for a in d.actions}
    assert set(kinds) == {"delete", "timeout"}
    assert kinds["timeout"].duration_s == 300
    d2 = decide(make_message("x"), [v("sexual", 0.90)], s, BASE, prior_flags=0)
    assert d2.flagged and d2.actions == ()


def test_dry_run_marks_actions():
    s = ServerSettings(dry_run=True, auto_delete=True, auto_delete_threshold=0.5)
    d = decide(make_message("x"), [v("sexual", 0.97)], s, BASE)
    assert d.dry_run and all(a.dry_run for a in d.actions)


def test_decide_is_pure():
    m, vs, s = make_message("x"), [v("sexual", 0.97)], ServerSettings()
    assert decide(m, vs, s, BASE) == decide(m, vs, s, BASE)


ACTION = {"sexual": 0.85, "racial": 0.98}


@pytest.mark.parametrize(
    "scores, server_bar, deleted",
    [
        ({"sexual": 0.90}, None, True),  # over the model's action point for sexual
        ({"sexual": 0.80}, None, False),  # flagged for review, not sure enough to delete
        ({"racial": 0.97}, None, False),
        ({"racial": 0.99}, None, True),
        ({"reshare": 1.0}, None, True),  # a verified re-share of a protected picture
        ({"automod": 1.0}, None, False),  # no action point: review only
        ({"sexual": 0.80}, 0.75, True),  # the server's own bar wins
        ({"automod": 1.0}, 0.75, True),
    ],
)
def test_auto_delete_uses_the_action_threshold(scores, server_bar, deleted):
    overrides = {"auto_delete": True} | ({"auto_delete_threshold": server_bar} if server_bar is not None else {})
    s = ServerSettings().with_overrides(overrides)
    d = decide(
        make_message("x"),
        [v(label, score) for label, score in scores.items()],
        s,
        {"sexual": 0.46, "racial": 0.67, "reshare": 0.5, "automod": 0.5},
        action_thresholds=ACTION,
    )
    assert d.flagged and (any(a.kind == "delete" for a in d.actions) is deleted)
