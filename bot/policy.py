"""decide(): verdicts + settings -> Decision. Pure, so every policy rule is testable without I/O."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Sequence, TypedDict

from bot.config import ServerSettings
from bot.models import Action, Decision, Message
from classifiers.base import Verdict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleContext:
    """What a server's own rules (README "Your own rules") say about one message.

    The pipeline finds it (detecting: which allow-listed phrases the text contains) and `decide` applies it
    (deciding: what they drop), so the policy stays pure. Exemptions are the stored ones; the config's are in
    the ServerSettings.
    """

    exempt_roles: frozenset[str] = frozenset()
    exempt_channels: frozenset[str] = frozenset()
    exempt_users: frozenset[str] = frozenset()
    allowed: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # label -> why
    #: Detectors whose verdicts an allow-listed phrase drops: the text model's (with its lexicon), never the
    #: server's own term rules, the re-share bank, an image model, AutoMod or a member's report.
    suppressible: frozenset[str] = frozenset()


NO_RULES = RuleContext()


def exemption(message: Message, settings: ServerSettings, rules: RuleContext = NO_RULES) -> str | None:
    """Why this message is never flagged, or None."""
    if message.author_is_bot and settings.exempt_bots:
        return "author is a bot"
    if message.author_is_moderator and settings.exempt_moderators:
        return "author is a moderator"
    if message.channel_id in settings.allow_channels or message.channel_id in rules.exempt_channels:
        return "channel is allow-listed"
    if message.author_id in settings.exempt_users or message.author_id in rules.exempt_users:
        return "author is exempt"
    if message.author_roles and not (settings.exempt_roles.isdisjoint(message.author_roles) and rules.exempt_roles.isdisjoint(message.author_roles)):
        return "author has an exempt role"
    return None


def allow_listed(verdicts: Sequence[Verdict], rules: RuleContext) -> tuple[Verdict, ...]:
    """The verdicts an allow-listed phrase leaves: it drops its label's text-model verdicts, nothing else."""
    if not rules.allowed:
        return tuple(verdicts)
    return tuple(v for v in verdicts if not (v.label in rules.allowed and v.detector in rules.suppressible))


def flagged_labels(verdicts: Sequence[Verdict], settings: ServerSettings, base_thresholds: Mapping[str, float]) -> tuple[str, ...]:
    """Labels with some verdict at or above the server's threshold, in first-seen order."""
    out: list[str] = []
    for v in verdicts:
        if v.label not in out and v.score >= settings.threshold(v.label, base_thresholds):
            out.append(v.label)
    return tuple(out)


#: Action points for labels that come from no text model: a re-share matched against a protected picture
#: (verified by the bank, no false match in its benchmark) is as sure as it gets.
BUILTIN_ACTION_THRESHOLDS: Mapping[str, float] = {"reshare": 0.99}


def delete_threshold(label: str, settings: ServerSettings, action_thresholds: Mapping[str, float]) -> float:
    """The score a `label` verdict needs for an automatic delete: the server's own bar, else the model's action
    point for that label (or the built-in one for re-shares); other labels (AutoMod, reports) never qualify on
    their own unless the server set a bar."""
    if settings.auto_delete_threshold is not None:
        return settings.auto_delete_threshold
    return action_thresholds.get(label, BUILTIN_ACTION_THRESHOLDS.get(label, float("inf")))


class _ActionTarget(TypedDict):
    """The fields every automatic action of one message shares (typed, so `Action(**common)` is checked)."""

    server: str
    channel_id: str
    message_id: str
    user_id: str
    dry_run: bool


def decide(
    message: Message,
    verdicts: Sequence[Verdict],
    settings: ServerSettings,
    base_thresholds: Mapping[str, float],
    prior_flags: int = 0,
    action_thresholds: Mapping[str, float] | None = None,
    rules: RuleContext = NO_RULES,
) -> Decision:
    """Apply exemptions, thresholds, automatic actions and dry-run.

    A message is flagged for review at the (recall-oriented) `base_thresholds`; automatic deletion needs
    the precision-oriented `action_thresholds` of its label, unless the server set `auto_delete_threshold`.
    `prior_flags` is how many flags this author already has within the server's
    timeout window; the caller looks it up so this function stays pure. `rules` are the server's own
    exemptions and the allow-listed phrases found in this message (their label's text-model verdicts are dropped).
    """
    verdicts = allow_listed(verdicts, rules)
    why = exemption(message, settings, rules)
    if why:
        return Decision(flagged=False, labels=(), verdicts=verdicts, dry_run=settings.dry_run, exempt=why)
    labels = flagged_labels(verdicts, settings, base_thresholds)
    if not labels:
        return Decision(flagged=False, labels=(), verdicts=verdicts, dry_run=settings.dry_run)

    common = _ActionTarget(
        server=message.server, channel_id=message.channel_id, message_id=message.message_id, user_id=message.author_id, dry_run=settings.dry_run
    )
    # Every flag is shown to moderators (the alert outbox does that); actions here are the protective ones.
    actions: list[Action] = []
    if settings.auto_delete:
        bars = {label: delete_threshold(label, settings, action_thresholds or {}) for label in labels}
        sure = [(v.label, v.score, bars[v.label]) for v in verdicts if v.label in bars and v.score >= bars[v.label]]
        if sure:
            label, score, bar = max(sure, key=lambda t: t[1])
            actions.append(Action(kind="delete", reason=f"auto: {label} score {score:.2f} >= {bar:.2f}", **common))
    if settings.auto_timeout and prior_flags + 1 >= settings.timeout_after_flags:
        actions.append(
            Action(
                kind="timeout",
                duration_s=settings.timeout_minutes * 60,
                reason=f"auto: {prior_flags + 1} flags within {settings.timeout_window_minutes} min",
                **common,
            )
        )
    return Decision(flagged=True, labels=labels, verdicts=verdicts, actions=tuple(actions), dry_run=settings.dry_run)
