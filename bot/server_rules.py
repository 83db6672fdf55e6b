"""A server's own rules (terms, allow-listed phrases, exempt roles/channels/users): config plus stored, validated,
compiled, and cached for the pipeline.

Why here and not in the store or the classifier: the store only keeps rows, `classifiers.rules` only matches
text; this module joins the config file's rules with the ones moderators add by command, and is the one place
the bots and the CLI go through to change them (so validation and the audit trail are the same everywhere).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping

from bot.config import ConfigError, ServerSettings, parse_id
from bot.pipeline_base import PipelineBase
from bot.policy import RuleContext
from bot.store import Store
from classifiers.base import TEXT_LABELS
from classifiers.rules import ALL_LABELS, MAX_RULES, Rule, RuleError, RuleMatcher, check_rule, compile_rules

log = logging.getLogger(__name__)

#: Pattern rules (matched in text) and exemptions (ids).
PATTERN_KINDS: tuple[str, ...] = ("term", "allow")
EXEMPT_KINDS: tuple[str, ...] = ("exempt_role", "exempt_channel", "exempt_user")
KINDS: tuple[str, ...] = PATTERN_KINDS + EXEMPT_KINDS
#: Labels a rule of each kind may carry ("" for exemptions).
LABELS_BY_KIND: Mapping[str, tuple[str, ...]] = {
    "term": TEXT_LABELS,
    "allow": TEXT_LABELS + (ALL_LABELS,),
    **{kind: ("",) for kind in EXEMPT_KINDS},
}
MAX_EXEMPT_IDS = 10_000
#: A running bot re-reads a server's stored rules at least this often, so a change made with the CLI (another
#: process) takes effect without a restart; changes made through the bot itself apply at once.
RELOAD_SECONDS = 30.0


@dataclass(frozen=True)
class RuleEntry:
    """One rule as moderators see it in a list. `id` is None for rules from the config file."""

    kind: str
    label: str
    pattern: str
    score: float = 1.0
    id: int | None = None
    added_by: str = "config"
    added_at: str = ""

    @property
    def source(self) -> str:
        return "config" if self.id is None else "command"


@dataclass(frozen=True)
class ServerRules:
    """A server's rules compiled for the message path."""

    matcher: RuleMatcher
    exempt_roles: frozenset[str] = frozenset()
    exempt_channels: frozenset[str] = frozenset()
    exempt_users: frozenset[str] = frozenset()

    def context(self, allowed: Mapping[str, str], suppressible: frozenset[str]) -> RuleContext:
        """What `decide` needs for one message: these exemptions and the allow-listed labels found in it."""
        return RuleContext(self.exempt_roles, self.exempt_channels, self.exempt_users, allowed, suppressible)


def config_entries(settings: ServerSettings) -> list[RuleEntry]:
    """The rules a server's config section sets (`rules_sexual`, `rules_racial`, `allow_phrases`)."""
    out = [RuleEntry("term", "sexual", p) for p in settings.rules_sexual]
    out += [RuleEntry("term", "racial", p) for p in settings.rules_racial]
    out += [RuleEntry("allow", ALL_LABELS, p) for p in settings.allow_phrases]
    out += [RuleEntry("exempt_role", "", r) for r in sorted(settings.exempt_roles)]
    return out


def stored_entries(store: Store, server: str) -> list[RuleEntry]:
    return [RuleEntry(r["kind"], r["label"], r["pattern"], r["score"], r["id"], r["added_by"], r["added_at"]) for r in store.server_rules(server)]


def rule_entries(store: Store, settings: ServerSettings, server: str) -> list[RuleEntry]:
    """Every rule of a server, config first, then those added by command (oldest first)."""
    return config_entries(settings) + stored_entries(store, server)


def build_rules(settings: ServerSettings, entries: list[RuleEntry]) -> ServerRules:
    """Compile entries (invalid stored ones are skipped with a warning, never failing the whole server)."""
    patterns = [Rule(e.kind, e.label, e.pattern, e.score) for e in entries if e.kind in PATTERN_KINDS]

    def ids(kind: str) -> frozenset[str]:
        return frozenset(e.pattern for e in entries if e.kind == kind)

    return ServerRules(compile_rules(patterns, skip_invalid=True), ids("exempt_role"), ids("exempt_channel"), ids("exempt_user"))


def validate_entry(kind: str, label: str | None, pattern: str, score: float = 1.0) -> RuleEntry:
    """A rule as a moderator typed it -> a clean entry, or RuleError saying what to fix.

    `label` may be omitted for an allow-listed phrase (all labels) and for exemptions."""
    if kind not in KINDS:
        raise RuleError(f"unknown rule kind {kind!r} (known: {', '.join(KINDS)})")
    if kind in EXEMPT_KINDS:
        if label:
            raise RuleError("an exemption has no label")
        try:
            ident = parse_id(str(pattern).strip().strip("<@&#!>"), kind.replace("_", " "))
        except ConfigError as exc:
            raise RuleError(str(exc)) from None
        return RuleEntry(kind, "", ident)
    label = label or (ALL_LABELS if kind == "allow" else "")
    if not label:
        raise RuleError(f"a term needs a label: {', '.join(TEXT_LABELS)}")
    check_rule(Rule(kind, label, pattern, score))
    return RuleEntry(kind, label, pattern.strip(), float(score))


def add_rule(store: Store, settings: ServerSettings, server: str, kind: str, label: str | None, pattern: str, added_by: str, score: float = 1.0) -> RuleEntry:
    """Validate and store a rule (written to the server's audit chain); returns it with its id."""
    entry = validate_entry(kind, label, pattern, score)
    existing = rule_entries(store, settings, server)
    for e in existing:
        if (e.kind, e.label, e.pattern.casefold()) == (entry.kind, entry.label, entry.pattern.casefold()):
            where = f"#{e.id}" if e.id is not None else "in the config file"
            raise RuleError(f"that rule exists already ({where})")
    if kind in PATTERN_KINDS and sum(e.kind in PATTERN_KINDS for e in existing) >= MAX_RULES:
        raise RuleError(f"this server has {MAX_RULES} terms and phrases already: remove some first")
    if kind in EXEMPT_KINDS and sum(e.kind == kind for e in existing) >= MAX_EXEMPT_IDS:
        raise RuleError(f"this server has {MAX_EXEMPT_IDS} of these exemptions already")
    rid = store.add_server_rule(server, entry.kind, entry.label, entry.pattern, entry.score, added_by)
    log.info("rule #%d added in %s (%s %s)", rid, server, entry.kind, entry.label or "-")
    return next(e for e in stored_entries(store, server) if e.id == rid)


def find_rule(store: Store, server: str, which: str, label: str | None = None) -> RuleEntry:
    """A stored rule by id (`12` or `#12`) or by its exact pattern (and label when the pattern has several)."""
    stored = stored_entries(store, server)
    key = str(which).strip()
    if key.lstrip("#").isdigit():
        for e in stored:
            if e.id == int(key.lstrip("#")):
                return e
    found = [e for e in stored if e.pattern.casefold() == key.casefold() and (not label or e.label == label)]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise RuleError("several rules have that pattern: give the rule's number (see the list)")
    raise RuleError("no such rule added by command (rules in the config file are changed there)")


def remove_rule(store: Store, server: str, which: str, removed_by: str, label: str | None = None) -> RuleEntry:
    """Remove a stored rule (the removal is written to the audit chain); returns what was removed."""
    entry = find_rule(store, server, which, label)
    assert entry.id is not None
    store.remove_server_rule(server, entry.id, removed_by)
    log.info("rule #%d removed in %s", entry.id, server)
    return entry


def carry_over_rules(store: Store, old: str, new: str) -> int:
    """A group that got a new id (Telegram's upgrade to a supergroup) keeps the rules added by command: each is
    added again under the new id (audited there, crediting who added it); the old ones stay with the old chain.
    Idempotent: returns how many were copied."""
    have = {(e.kind, e.label, e.pattern) for e in stored_entries(store, new)}
    copied = 0
    for e in stored_entries(store, old):
        if (e.kind, e.label, e.pattern) not in have:
            store.add_server_rule(new, e.kind, e.label, e.pattern, e.score, e.added_by)
            copied += 1
    return copied


class ServerRulesMixin(PipelineBase):
    """Part of `Pipeline`: each server's compiled rules, cached, dropped when they change."""

    _rules_cache: dict[str, tuple[float, ServerSettings, ServerRules]]

    def server_rules(self, server: str) -> ServerRules:
        """Compiled on first use; again after a change, a /setup change of the settings, or RELOAD_SECONDS."""
        cached = self._rules_cache.get(server)
        now = time.monotonic()
        settings = self.server_settings(server)
        if cached is None or cached[1] is not settings or now - cached[0] > RELOAD_SECONDS:
            cached = self._rules_cache[server] = (now, settings, build_rules(settings, rule_entries(self.store, settings, server)))
        return cached[2]

    def carry_over_rules(self, old: str, new: str) -> int:
        copied = carry_over_rules(self.store, old, new)
        if copied:
            self._rules_cache.pop(new, None)
        return copied

    def rule_entries(self, server: str) -> list[RuleEntry]:
        return rule_entries(self.store, self.server_settings(server), server)

    def add_rule(self, server: str, kind: str, label: str | None, pattern: str, added_by: str, score: float = 1.0) -> RuleEntry:
        entry = add_rule(self.store, self.server_settings(server), server, kind, label, pattern, added_by, score)
        self._rules_cache.pop(server, None)
        return entry

    def remove_rule(self, server: str, which: str, removed_by: str, label: str | None = None) -> RuleEntry:
        entry = remove_rule(self.store, server, which, removed_by, label)
        self._rules_cache.pop(server, None)
        return entry


def entry_json(e: RuleEntry) -> dict[str, Any]:
    """A rule for `--json` output and logs."""
    return {
        "id": e.id,
        "kind": e.kind,
        "label": e.label,
        "pattern": e.pattern,
        "score": e.score,
        "source": e.source,
        "added_by": e.added_by,
        "added_at": e.added_at,
    }
