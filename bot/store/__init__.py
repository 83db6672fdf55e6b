"""The only SQL in triagebot: one SQLite file (WAL) behind typed, server-scoped functions.

Bots and the CLI share this API. Every audited write (flag, report, review, action, action result, hold,
note, purge) appends a row to a per-server hash chain in the same transaction, so evidence can later be
shown to be unaltered. Each module of this package holds one table family; `Store` composes them.
"""

from __future__ import annotations

from bot.audit_chain import GENESIS, ChainProblem, ChainReport, canonical, chain_hash
from bot.store.app_state import AppStateStore
from bot.store.appeals import APPEAL_STATUSES, AppealsStore, AppealView
from bot.store.base import BUSY_TIMEOUT_S, EXCERPT_CHARS, PURGED, StoreError, content_sha256, db_error, iso, parse_time, safe_text
from bot.store.checkpoint import JOURNAL_SIZE_LIMIT, WAL_RESTART_BYTES
from bot.store.erasure import ErasureStore
from bot.store.learning import DecidedFlag, LearningStore
from bot.store.lookups import LookupsStore
from bot.store.members import MembersStore
from bot.store.notices import Notice, NoticesStore
from bot.store.record import RecordStore
from bot.store.rules import RulesStore
from bot.store.views import FlagFilter, FlagResult, FlagView, IncidentView, MemberHistory, OutboxItem, PurgePlan, VerdictRow

__all__ = [
    "APPEAL_STATUSES",
    "AppealView",
    "BUSY_TIMEOUT_S",
    "EXCERPT_CHARS",
    "GENESIS",
    "JOURNAL_SIZE_LIMIT",
    "PURGED",
    "WAL_RESTART_BYTES",
    "ChainProblem",
    "ChainReport",
    "DecidedFlag",
    "FlagFilter",
    "FlagResult",
    "FlagView",
    "IncidentView",
    "MemberHistory",
    "Notice",
    "OutboxItem",
    "PurgePlan",
    "Store",
    "StoreError",
    "VerdictRow",
    "canonical",
    "chain_hash",
    "content_sha256",
    "db_error",
    "iso",
    "parse_time",
    "safe_text",
]


class Store(RecordStore, MembersStore, LookupsStore, ErasureStore, AppStateStore, NoticesStore, LearningStore, AppealsStore, RulesStore):
    """Open with `Store.open(path)`; migrations run on open."""
