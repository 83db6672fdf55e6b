"""A server's own rules through the real Pipeline and store: terms, allow-listed phrases, exemptions, config, audit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

from bot.config import ConfigError, ServerSettings, Settings, parse_settings
from bot.pipeline import Pipeline
from bot.policy import RuleContext, decide
from bot.server_rules import add_rule, remove_rule, rule_entries, validate_entry
from bot.store import Store
from classifiers.base import Verdict
from classifiers.rules import RuleError
from tests.conftest import KeywordDetector, RecordingAdapter, make_message, make_settings

SERVER = "discord:s1"


@pytest.fixture
def rules_pipeline(store: Store, db_path: Path):
    """The real Pipeline with a keyword stand-in for the model ("lewd" sexual, "slur" racial, score 0.99)."""
    settings = make_settings(db_path, exempt_roles=["777"], rules_sexual=["colmek*"], allow_phrases=["slur list"])
    p = Pipeline(settings, store, [KeywordDetector()])
    p.adapters["discord"] = RecordingAdapter()
    yield p
    p.executor.shutdown(wait=False)


async def handle(p: Pipeline, text: str, **kw):
    return await p.handle(make_message(text, **kw))


@pytest.mark.parametrize(
    "rules,text,labels,reason",
    [
        ([("term", "racial", "ching*")], "dasar CH1NGCH0NG", ("racial",), 'server rule "ching*": "CH1NGCH0NG" → chingchong'),
        ([("term", "sexual", "anak * haram")], "kamu anak cina haram", ("sexual",), 'server rule "anak * haram": "anak cina haram"'),
        ([], "ayo colmekan", ("sexual",), 'server rule "colmek*": "colmekan"'),  # rules_sexual in the config file
        ([], "halo semua, apa kabar", (), None),
        ([], "", (), None),
        # an allow-listed phrase drops its label's model verdicts...
        ([("allow", "sexual", "lewd joke")], "that lewd joke again", (), None),
        ([("allow", "all", "lewd joke")], "that lewd joke again", (), None),
        ([], "the slur list for the report", (), None),  # allow_phrases from the config file: every label
        # ...only that label's, and never a server term rule's
        ([("allow", "racial", "lewd joke")], "that lewd joke again", ("sexual",), 'keyword "lewd"'),
        ([("allow", "sexual", "lewd joke")], "that lewd joke, slur", ("racial",), 'keyword "slur"'),
        ([("allow", "sexual", "lewd joke"), ("term", "sexual", "*joke")], "that lewd joke", ("sexual",), 'server rule "*joke": "joke"'),
    ],
)
async def test_rules_through_the_pipeline(rules_pipeline, rules, text, labels, reason):
    for kind, label, pattern in rules:
        rules_pipeline.add_rule(SERVER, kind, label, pattern, "mod1")
    d = await handle(rules_pipeline, text)
    assert d.labels == labels
    if reason is not None:
        assert reason in d.reasons
    assert all(v.detector != "keyword" or v.label not in labels or v.label in d.labels for v in d.verdicts)


async def test_allow_list_does_not_drop_other_detectors(rules_pipeline):
    rules_pipeline.add_rule(SERVER, "allow", "all", "lewd joke", "mod1")
    automod = Verdict("automod", 1.0, "AutoMod rule 1 matched 'lewd'", "discord_automod")
    nsfw = Verdict("sexual", 0.95, "nudity in an attached image", "nudenet")
    d = await rules_pipeline.handle(make_message("a lewd joke"), extra_verdicts=[automod, nsfw])
    assert d.labels == ("automod", "sexual")
    assert {v.detector for v in d.verdicts} == {"discord_automod", "nudenet"}


@pytest.mark.parametrize(
    "kind,value,message_kw,why",
    [
        ("exempt_role", "555", {"author_roles": ("1", "555")}, "author has an exempt role"),
        ("exempt_role", "<@&555>", {"author_roles": ("555",)}, "author has an exempt role"),
        ("exempt_channel", "c9", {"channel": "c9"}, "channel is allow-listed"),
        ("exempt_user", "u7", {"author": "u7"}, "author is exempt"),
        (None, None, {"author_roles": ("777",)}, "author has an exempt role"),  # exempt_roles in the config file
    ],
)
async def test_exemptions(rules_pipeline, kind, value, message_kw, why):
    if kind:
        rules_pipeline.add_rule(SERVER, kind, None, value, "mod1")
    d = await handle(rules_pipeline, "lewd", **message_kw)
    assert not d.flagged and d.exempt == why
    assert (await handle(rules_pipeline, "lewd")).flagged  # others still are


async def test_a_removed_rule_stops_matching_at_once_and_changes_are_audited(rules_pipeline, store):
    entry = rules_pipeline.add_rule(SERVER, "term", "racial", "ching*", "mod1")
    assert (await handle(rules_pipeline, "chingchong")).labels == ("racial",)
    assert rules_pipeline.remove_rule(SERVER, f"#{entry.id}", "mod2") == entry
    assert not (await handle(rules_pipeline, "chingchong")).flagged
    kinds = [r[0] for r in store.db.conn.execute("SELECT kind FROM audit WHERE server = ? ORDER BY seq", (SERVER,))]
    assert [k for k in kinds if k.startswith("rule")] == ["rule_add", "rule_remove"]
    assert all(r.ok for r in store.verify_chain(SERVER))


async def test_a_change_from_another_process_is_seen_after_the_reload_interval(rules_pipeline, store, monkeypatch):
    assert not (await handle(rules_pipeline, "chingchong")).flagged
    add_rule(store, rules_pipeline.server_settings(SERVER), SERVER, "term", "racial", "ching*", "cli")  # like the CLI
    assert not (await handle(rules_pipeline, "chingchong")).flagged  # cached
    import bot.server_rules as sr

    monkeypatch.setattr(sr, "RELOAD_SECONDS", -1.0)
    assert (await handle(rules_pipeline, "chingchong")).labels == ("racial",)


@pytest.mark.parametrize(
    "kind,label,pattern,message",
    [
        ("term", None, "ching*", "needs a label"),
        ("term", "all", "ching*", "label is one of sexual, racial"),
        ("term", "racial", "*", "at least 2"),
        ("ban", "racial", "ching*", "unknown rule kind"),
        ("exempt_role", "sexual", "555", "no label"),
        ("exempt_role", None, "role with spaces", "expected an id"),
        ("exempt_channel", None, "", "expected an id"),
    ],
)
def test_invalid_rules_are_refused(kind, label, pattern, message):
    with pytest.raises(RuleError, match=message):
        validate_entry(kind, label, pattern)


def test_duplicates_and_removal_by_pattern(store):
    settings = ServerSettings(rules_racial=("aseng",))
    add_rule(store, settings, SERVER, "term", "racial", "ching*", "mod1")
    with pytest.raises(RuleError, match="exists already"):
        add_rule(store, settings, SERVER, "term", "racial", "CHING*", "mod1")
    with pytest.raises(RuleError, match="in the config file"):
        add_rule(store, settings, SERVER, "term", "racial", "aseng", "mod1")
    add_rule(store, settings, SERVER, "term", "sexual", "ching*", "mod1")
    with pytest.raises(RuleError, match="several rules"):
        remove_rule(store, SERVER, "ching*", "mod1")
    assert remove_rule(store, SERVER, "ching*", "mod1", label="sexual").label == "sexual"
    with pytest.raises(RuleError, match="no such rule"):
        remove_rule(store, SERVER, "aseng", "mod1")
    assert [(e.source, e.label, e.pattern) for e in rule_entries(store, settings, SERVER)] == [("config", "racial", "aseng"), ("command", "racial", "ching*")]


def test_rules_are_per_server(store):
    add_rule(store, ServerSettings(), SERVER, "term", "racial", "ching*", "mod1")
    assert rule_entries(store, ServerSettings(), "discord:other") == []


@pytest.mark.parametrize(
    "section,message",
    [
        ({"rules_sexual": "bokep"}, "rules_sexual: expected a list"),
        ({"rules_racial": ["ok", "*"]}, r"rules_racial\[1\]: a pattern needs at least 2"),
        ({"allow_phrases": [1]}, r"allow_phrases\[0\]: a pattern is text"),
        ({"rules_sexual": ["x" * 101]}, "at most 100 characters"),
        ({"exempt_roles": "555"}, "exempt_roles: expected a list of ids"),
    ],
)
def test_config_keys_are_validated(section, message):
    with pytest.raises(ConfigError, match=message):
        parse_settings({"servers": {SERVER: section}}, env={})


def test_config_keys_parse():
    s = parse_settings(
        {"defaults": {"rules_sexual": ["bokep", " bokep "], "exempt_roles": [555]}, "servers": {SERVER: {"allow_phrases": ["anak ayam"]}}}, env={}
    )
    assert s.for_server(SERVER).rules_sexual == ("bokep",)
    assert s.for_server(SERVER).exempt_roles == frozenset({"555"})
    assert s.for_server(SERVER).allow_phrases == ("anak ayam",)
    assert s.for_server(SERVER).differences(ServerSettings())["rules_sexual"] == ["bokep"]


@pytest.mark.parametrize(
    "allowed,suppressible,labels",
    [
        ({}, frozenset({"model"}), ("sexual",)),
        ({"sexual": "phrase"}, frozenset({"model"}), ()),
        ({"racial": "phrase"}, frozenset({"model"}), ("sexual",)),
        ({"sexual": "phrase"}, frozenset(), ("sexual",)),  # only the named detectors are dropped
    ],
)
def test_policy_applies_the_allow_list_purely(allowed, suppressible, labels):
    verdicts = [Verdict("sexual", 0.99, "model reason", "model")]
    ctx = RuleContext(allowed=MappingProxyType(allowed), suppressible=suppressible)
    assert decide(make_message("x"), verdicts, ServerSettings(), {"sexual": 0.5}, rules=ctx).labels == labels


async def test_a_telegram_group_upgrade_keeps_its_rules_once(rules_pipeline, store):
    old, new = "telegram:-1", "telegram:-1001"
    rules_pipeline.add_rule(old, "term", "racial", "ching*", "mod1")
    rules_pipeline.add_rule(old, "exempt_user", None, "42", "mod1")
    assert rules_pipeline.carry_over_server(old, new) == {"rules": 2}
    assert rules_pipeline.carry_over_server(old, new) == {}  # announced twice: nothing is copied again
    assert [(e.kind, e.pattern, e.added_by) for e in rules_pipeline.rule_entries(new)][-2:] == [("term", "ching*", "mod1"), ("exempt_user", "42", "mod1")]
    d = await rules_pipeline.handle(make_message("chingchong", platform="telegram", server_id="-1001"))
    assert d.labels == ("racial",)
    assert all(r.ok for r in store.verify_chain(new))
