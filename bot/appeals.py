"""Appeals: a member affected by a delete, timeout, ban or warning is told privately how to appeal; moderators
uphold or reverse the appeal; a reversal is recorded as a false positive and undoes what the platform allows.

The member is told through an `appeal_notice` Action, logged and carried out by the action runner after the
action it is about succeeded (never on the message path). The appeal is a row in the store, audited, with an
outbox row that posts the moderators' entry (`appeal_alert`). Everything the member sees is built here from
the flag and the action, never from reports: the member never learns who reported them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from bot import i18n
from bot.errors import AppealRefused
from bot.models import Action, ActionResult, Review, utcnow
from bot.pipeline_base import PipelineBase
from bot.store import AppealView, FlagView, Store, StoreError

log = logging.getLogger(__name__)

#: Actions on a member that they are told about and may appeal. (A warning is itself a private message from a
#: moderator; a second one about appealing it would be noise.)
APPEALABLE: tuple[str, ...] = ("delete", "timeout", "ban")
#: What undoes each action after a reversal, where the platform allows it (a deleted message cannot come back).
UNDO: dict[str, str] = {"timeout": "untimeout", "ban": "unban"}
#: Longest appeal text kept (Discord's modal allows more; a moderator reads this on a phone).
TEXT_CHARS = 1500
#: Reversal notes start with this: the precision figures count such a dismiss as a false positive.
REVERSED_PREFIX = "appeal reversed: "
DECISIONS = {"uphold": "upheld", "reverse": "reversed"}


@dataclass(frozen=True)
class MemberNotice:
    """A private message to a member, written by the core in their language; the adapter only sends it.

    `case` is the flag id the member quotes; `button` labels Discord's Appeal button (None: no button)."""

    case: int
    text: str  # may hold "{server}", which `fill` replaces with the community's name
    lang: str
    button: str | None = None
    modal_title: str = ""
    modal_label: str = ""

    def fill(self, server_name: str | None) -> str:
        """The text with the community's name (the adapter knows it; escape it first for the platform's markup)."""
        return self.text.replace("{server}", server_name or i18n.text("appeal.server_unknown", self.lang))


@dataclass(frozen=True)
class AppealAlert:
    """The moderators' entry for one appeal (every string but the labels is hostile data: escape it)."""

    appeal: AppealView
    flag: FlagView
    title: str
    fields: tuple[tuple[str, str], ...]  # (label, value) in display order
    uphold: str
    reverse: str
    lang: str

    @property
    def open(self) -> bool:
        return self.appeal.open


@dataclass(frozen=True)
class AppealOutcome:
    """What a decision did, for the moderator who clicked (in their language) and the CLI."""

    appeal: AppealView
    undone: tuple[str, ...] = ()  # action kinds lifted on the platform ("timeout", "ban")
    failed: tuple[tuple[str, str], ...] = ()  # (kind, why) that could not be undone
    deleted: bool = False  # a message was deleted: it cannot come back

    def summary(self, lang: str = "en") -> str:
        if self.appeal.status == "upheld":
            return i18n.text("appeal.decided.upheld", lang, id=self.appeal.id)
        parts = [i18n.text(f"appeal.undone.{k}", lang) for k in self.undone]
        parts += [i18n.text("appeal.undone.failed", lang, kind=k, detail=d) for k, d in self.failed]
        text = i18n.text("appeal.decided.reversed", lang, id=self.appeal.id, undone="; ".join(parts) or i18n.text("appeal.undone.none", lang))
        return text + (" " + i18n.text("appeal.decided.deleted", lang) if self.deleted else "")


def affecting(store: Store, server: str, flag_id: int, member_id: str) -> list[dict]:
    """Actions carried out on a member for a flag that they may appeal (the only basis for an appeal)."""
    return [
        a for a in store.actions_for(server, flag_id) if a["kind"] in APPEALABLE and a["status"] == "ok" and a["target_user"] == member_id and not a["dry_run"]
    ]


def notice_text(server: str, kind: str, case: int, lang: str) -> str:
    """What the member is told about an action and how to appeal it (the adapter adds the server's name)."""
    platform = server.split(":", 1)[0]
    how = f"appeal.how.{platform}" if platform in ("discord", "telegram") else "appeal.how.other"
    return f"{i18n.text(f'appeal.notice.{kind}', lang, server='{server}', case=case)}\n{i18n.text(how, lang, case=case)}"


def appeal_notice(action: Action, lang: str) -> Action:
    """The `appeal_notice` Action telling the member about `action` (which succeeded), logged by the caller."""
    assert action.flag_id is not None and action.user_id is not None
    notice = MemberNotice(
        case=action.flag_id,
        text=notice_text(action.server, action.kind, action.flag_id, lang),
        lang=lang,
        button=i18n.text("appeal.button", lang),
        modal_title=i18n.text("appeal.modal.title", lang, case=action.flag_id),
        modal_label=i18n.text("appeal.modal.label", lang),
    )
    return Action(
        kind="appeal_notice",
        server=action.server,
        flag_id=action.flag_id,
        user_id=action.user_id,
        reason=f"appeal notice: {action.kind}",
        actor="auto",
        appeal=notice,
        incident_id=action.incident_id,
    )


def build_alert(store: Store, server: str, appeal_id: int, lang: str = "en") -> AppealAlert:
    """The moderators' entry for an appeal: the case, what was done, the member's words, the status."""
    appeal = store.appeal(server, appeal_id)
    flag = store.flag(server, appeal.flag_id)
    done = [f"{a['kind']} ({'auto' if a['automatic'] else a['actor']})" for a in affecting(store, server, flag.id, appeal.appellant_id)]
    if appeal.open:
        status = i18n.text("appeal.status.open", lang)
    else:
        status = i18n.text(f"appeal.status.{appeal.status}", lang, by=appeal.decided_by or "?")
        if appeal.note:
            status += f" — {appeal.note}"
    excerpt = (flag.excerpt or "")[:300]
    fields = (
        (i18n.text("appeal.alert.appellant", lang), appeal.appellant_id),
        (i18n.text("appeal.alert.flag", lang), f"{', '.join(flag.labels)}: {excerpt}" + (f"\n{flag.link}" if flag.link else "")),
        (i18n.text("appeal.alert.actions", lang), ", ".join(done) or "—"),
        (i18n.text("appeal.alert.text", lang), appeal.text),
        (i18n.text("appeal.alert.status", lang), status),
    )
    return AppealAlert(
        appeal=appeal,
        flag=flag,
        title=i18n.text("appeal.alert.title", lang, id=appeal.id, case=flag.id),
        fields=fields,
        uphold=i18n.text("appeal.decide.uphold", lang),
        reverse=i18n.text("appeal.decide.reverse", lang),
        lang=lang,
    )


class AppealsMixin(PipelineBase):
    """Part of `Pipeline`: telling members how to appeal, opening appeals, deciding them."""

    async def before_action(self, action: Action) -> None:
        """A ban's notice goes out first, and is awaited: once banned, the member shares no server with the bot,
        and Discord then refuses the bot's private messages to them (50007). If the ban then fails, the member
        was told of a ban that did not happen; the notice and the failure are both in the record."""
        if action.kind != "ban" or action.dry_run:
            return
        notice = self._appeal_notice_for(action)
        if notice is not None:
            await self.actions.carry_out(self.store.record_action(notice), notice)

    def after_action(self, action: Action, result: ActionResult) -> None:
        """An action finished: if it landed on a member, tell them (in the background) how to appeal it.

        One notice per member, flag and kind of action; nothing for dry runs, failures or targets already gone
        (a ban's was sent before it, see `before_action`)."""
        if not result.ok or result.gone:
            return
        notice = self._appeal_notice_for(action)
        if notice is None:
            return
        try:
            self.actions.submit([(self.store.record_action(notice), notice)])
        except Exception:  # the action itself is done and recorded; only the notice is lost, and that is logged
            log.exception("could not queue the appeal notice for %s flag %s", action.server, action.flag_id)

    def _appeal_notice_for(self, action: Action) -> Action | None:
        """The notice to send about `action`, or None: not appealable, appeals off, dry run, or already sent."""
        if action.kind not in APPEALABLE or action.dry_run or not action.user_id or action.flag_id is None:
            return None
        settings = self.server_settings(action.server)
        if not settings.appeals or settings.dry_run:
            return None
        reason = f"appeal notice: {action.kind}"
        if any(
            a["kind"] == "appeal_notice" and a["target_user"] == action.user_id and a["reason"] == reason
            for a in self.store.actions_for(action.server, action.flag_id)
        ):
            return None
        return appeal_notice(action, settings.language)

    def prepare_action(self, action: Action) -> Action:
        """A member notice resumed after a restart lost its text: write it again from what was stored."""
        if action.kind == "appeal_notice" and action.appeal is None and action.reason.startswith("appeal notice: "):
            kind = action.reason.removeprefix("appeal notice: ")
            if kind in APPEALABLE and action.flag_id is not None:
                rebuilt = appeal_notice(replace(action, kind=kind), self.server_settings(action.server).language)
                return replace(action, appeal=rebuilt.appeal)
        if action.kind == "appeal_outcome" and action.appeal is None and action.reason.startswith("appeal #"):
            ident = action.reason.removeprefix("appeal #").split(" ", 1)[0]
            try:
                appeal = self.store.appeal(action.server, int(ident))
            except (StoreError, ValueError):
                return action
            return replace(action, appeal=outcome_notice(AppealOutcome(appeal)).appeal)
        return action

    def open_appeal(self, platform: str, case: int, appellant: str, text: str, locale: str | None = None) -> AppealView:
        """A member appeals case `case` (a flag id) from a private chat. Raises AppealRefused (with a message key
        for the member, in their language) when it is not theirs to appeal, already open, over the daily limit,
        empty, or appeals are off. The same refusal for a case that does not exist and one of someone else."""
        server = self.store.flag_server(case)
        lang = i18n.pick(self.server_settings(server).language if server else None, locale)
        if server is None or not server.startswith(platform + ":") or not affecting(self.store, server, case, appellant):
            raise AppealRefused("appeal.refused.not_yours", lang, case=case)
        settings = self.server_settings(server)
        if not settings.appeals:
            raise AppealRefused("appeal.refused.off", lang)
        body = "\n".join(" ".join(line.split()) for line in text.strip().splitlines()).strip()  # spaces collapsed, lines kept
        if not body:
            raise AppealRefused("appeal.refused.empty", lang)
        if len(body) > TEXT_CHARS:
            body = body[: TEXT_CHARS - 1] + "…"
        if any(a.appellant_id == appellant for a in self.store.appeals(server, ("open",), flag_id=case)):
            raise AppealRefused("appeal.refused.open", lang, case=case)
        if self.store.appeals_opened_since(server, appellant, utcnow() - timedelta(days=1)) >= settings.appeals_per_day:
            raise AppealRefused("appeal.refused.limit", lang, n=settings.appeals_per_day)
        try:
            appeal_id = self.store.add_appeal(server, case, appellant, body, lang, settings.appeals_per_day)
        except StoreError as exc:  # a second click racing the first: the store's checks hold
            log.info("appeal on %s flag %s refused by the store: %s", server, case, exc)
            raise AppealRefused("appeal.refused.open", lang, case=case) from exc
        log.info("appeal #%d opened on %s flag %d", appeal_id, server, case)
        self.delivery.wake(server)
        return self.store.appeal(server, appeal_id)

    async def decide_appeal(self, server: str, appeal_id: int, decision: str, moderator: str, note: str = "") -> AppealOutcome:
        """Uphold or reverse an open appeal. A reversal records a `dismiss` review noted "appeal reversed: …",
        lifts the member's timeout and ban (awaited: the moderator waits for the answer), and the member is told.
        Raises AppealRefused("appeal.decided.already") for a decided appeal, StoreError for one not in `server`."""
        settings = self.server_settings(server)
        appeal, undo = record_decision(self.store, server, appeal_id, decision, moderator, note, settings.language, dry_run=settings.dry_run)
        undone: list[str] = []
        failed: list[tuple[str, str]] = []
        for action in undo:
            result = await self.actions.perform(action)
            kind = {v: k for k, v in UNDO.items()}[action.kind]
            if result.ok:
                undone.append(kind)
            else:
                failed.append((kind, result.detail))
        outcome = AppealOutcome(appeal, tuple(undone), tuple(failed), deleted=deleted_message(self.store, appeal))
        self.delivery.wake(server)
        self.refresh_alert(server, appeal.flag_id)
        if settings.appeals:
            told = outcome_notice(outcome)
            self.actions.submit([(self.store.record_action(told), told)])
        log.info("appeal #%d in %s %s by %s", appeal_id, server, appeal.status, moderator)
        return outcome


def outcome_notice(outcome: AppealOutcome) -> Action:
    """The `appeal_outcome` Action telling the member the decision and what was undone, in their language."""
    appeal, lang = outcome.appeal, outcome.appeal.lang
    lines = [i18n.text(f"appeal.outcome.{appeal.status}", lang, id=appeal.id, case=appeal.flag_id)]
    lines += [i18n.text(f"appeal.undo.{k}", lang) for k in outcome.undone]
    if outcome.deleted and appeal.status == "reversed":
        lines.append(i18n.text("appeal.undo.delete", lang))
    if outcome.failed:
        lines.append(i18n.text("appeal.undo.failed", lang))
    notice = MemberNotice(case=appeal.flag_id, text="\n".join(lines), lang=lang)
    return Action(
        kind="appeal_outcome",
        server=appeal.server,
        flag_id=appeal.flag_id,
        user_id=appeal.appellant_id,
        reason=f"appeal #{appeal.id} {appeal.status}",
        actor="auto",
        appeal=notice,
        incident_id=appeal.incident_id,
    )


def record_decision(
    store: Store, server: str, appeal_id: int, decision: str, moderator: str, note: str = "", lang: str = "en", dry_run: bool = False
) -> tuple[AppealView, list[Action]]:
    """Record an appeal's decision (and, for a reversal, the `dismiss` review noted "appeal reversed: …" in the
    same transaction); return the decided appeal and the actions that undo what the platform allows (not yet
    logged or carried out). Shared by the bots (which carry them out at once) and the offline CLI."""
    if decision not in DECISIONS:
        raise ValueError(f"an appeal is upheld or reversed, not {decision!r} (expected uphold or reverse)")
    appeal = store.appeal(server, appeal_id)
    if not appeal.open:
        raise AppealRefused("appeal.decided.already", lang, id=appeal_id, status=appeal.status)
    review = None
    if decision == "reverse":
        review = Review(
            flag_id=appeal.flag_id, server=server, decision="dismiss", reviewer=moderator, note=REVERSED_PREFIX + (note.strip() or f"appeal #{appeal_id}")
        )
    try:
        appeal = store.decide_appeal(server, appeal_id, DECISIONS[decision], moderator, note, review=review)
    except StoreError as exc:  # decided meanwhile (another moderator's click)
        current = store.appeal(server, appeal_id)
        if current.open:
            raise
        raise AppealRefused("appeal.decided.already", lang, id=appeal_id, status=current.status) from exc
    if decision != "reverse":
        return appeal, []
    done = {a["kind"] for a in affecting(store, server, appeal.flag_id, appeal.appellant_id)}
    return appeal, [
        Action(
            kind=UNDO[kind],
            server=server,
            flag_id=appeal.flag_id,
            user_id=appeal.appellant_id,
            reason=f"appeal #{appeal.id} reversed",
            actor=moderator,
            dry_run=dry_run,
            incident_id=appeal.incident_id,
        )
        for kind in ("timeout", "ban")
        if kind in done
    ]


def deleted_message(store: Store, appeal: AppealView) -> bool:
    """Whether the appealed case deleted a message of the appellant (which no platform can bring back)."""
    return any(a["kind"] == "delete" for a in affecting(store, appeal.server, appeal.flag_id, appeal.appellant_id))
