"""Numbered schema steps. Append a new step; never edit an applied one."""

from __future__ import annotations


MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "initial schema",
        """
CREATE TABLE servers (
    key TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    name TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    server TEXT NOT NULL REFERENCES servers(key),
    target_id TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    flag_count INTEGER NOT NULL DEFAULT 0,
    author_count INTEGER NOT NULL DEFAULT 0,
    labels TEXT NOT NULL DEFAULT '',
    alert_ref TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX incidents_target ON incidents(server, target_id, last_at);
CREATE TABLE flags (
    id INTEGER PRIMARY KEY,
    server TEXT NOT NULL REFERENCES servers(key),
    platform TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    author_id TEXT NOT NULL,
    author_name TEXT,
    excerpt TEXT,
    content_sha256 TEXT NOT NULL,
    link TEXT,
    targets TEXT NOT NULL DEFAULT '[]',
    attachments TEXT NOT NULL DEFAULT '[]',
    labels TEXT NOT NULL DEFAULT '',
    max_score REAL NOT NULL DEFAULT 0,
    source TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    report_count INTEGER NOT NULL DEFAULT 0,
    incident_id INTEGER REFERENCES incidents(id),
    alert_ref TEXT,
    dry_run INTEGER NOT NULL DEFAULT 0,
    message_time TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    content_purged_at TEXT,
    UNIQUE(server, channel_id, message_id)
);
CREATE INDEX flags_queue ON flags(server, status, created_at);
CREATE INDEX flags_status ON flags(status, created_at);
CREATE INDEX flags_author ON flags(server, author_id, created_at);
CREATE INDEX flags_incident ON flags(incident_id);
CREATE TABLE verdicts (
    id INTEGER PRIMARY KEY,
    flag_id INTEGER NOT NULL REFERENCES flags(id),
    label TEXT NOT NULL,
    score REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    detector TEXT NOT NULL
);
CREATE INDEX verdicts_flag ON verdicts(flag_id);
CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    server TEXT NOT NULL REFERENCES servers(key),
    flag_id INTEGER NOT NULL REFERENCES flags(id),
    reporter_id TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX reports_flag ON reports(flag_id);
CREATE INDEX reports_reporter ON reports(server, reporter_id, created_at);
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    server TEXT NOT NULL REFERENCES servers(key),
    flag_id INTEGER NOT NULL REFERENCES flags(id),
    decision TEXT NOT NULL,
    reviewer_id TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX reviews_flag ON reviews(flag_id);
CREATE TABLE actions (
    id INTEGER PRIMARY KEY,
    server TEXT NOT NULL REFERENCES servers(key),
    flag_id INTEGER REFERENCES flags(id),
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    automatic INTEGER NOT NULL,
    dry_run INTEGER NOT NULL DEFAULT 0,
    target_user TEXT,
    duration_s INTEGER,
    reason TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending',
    detail TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX actions_flag ON actions(flag_id);
CREATE INDEX actions_server ON actions(server, created_at);
CREATE TABLE bank_entries (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    registered_by TEXT,
    protects TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX bank_scope ON bank_entries(scope);
CREATE TABLE image_hashes (
    id INTEGER PRIMARY KEY,
    entry_id INTEGER NOT NULL REFERENCES bank_entries(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX image_hashes_entry ON image_hashes(entry_id);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    server TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ref_id INTEGER NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE(server, seq)
);
""",
    ),
    (
        2,
        "image fingerprints of flagged messages (hashes only), so a moderator's confirm can bank them",
        """
CREATE TABLE flag_image_hashes (
    id INTEGER PRIMARY KEY,
    flag_id INTEGER NOT NULL REFERENCES flags(id),
    image_no INTEGER NOT NULL,
    kind TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX flag_image_hashes_flag ON flag_image_hashes(flag_id);
ALTER TABLE bank_entries ADD COLUMN flag_id INTEGER REFERENCES flags(id);
""",
    ),
    (
        3,
        "display name of an incident's target, so alerts say @name rather than an id",
        """
ALTER TABLE incidents ADD COLUMN target_name TEXT;
""",
    ),
    (
        4,
        "Telegram one-time link codes, so a restart does not void a code an admin was given",
        """
CREATE TABLE link_codes (
    code TEXT PRIMARY KEY,
    server TEXT NOT NULL,
    chat_id INTEGER NOT NULL,
    issued_by INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    notice_message_id INTEGER
);
""",
    ),
    (
        5,
        "alert outbox: alerts to post or edit are rows written with the flag, delivered by a worker",
        """
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    server TEXT NOT NULL REFERENCES servers(key),
    subject TEXT NOT NULL,
    flag_id INTEGER NOT NULL REFERENCES flags(id),
    incident_id INTEGER REFERENCES incidents(id),
    version INTEGER NOT NULL DEFAULT 1,
    delivered_version INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    delivered_at TEXT,
    UNIQUE(server, subject)
);
CREATE INDEX outbox_due ON outbox(server, next_attempt_at) WHERE delivered_version < version;
INSERT OR IGNORE INTO outbox (server, subject, flag_id, incident_id, next_attempt_at, created_at, updated_at)
SELECT server, CASE WHEN incident_id IS NULL THEN 'flag:' || id ELSE 'incident:' || incident_id END,
       MAX(id), incident_id, MAX(created_at), MAX(created_at), MAX(created_at)
FROM flags WHERE alert_ref IS NULL AND status IN ('pending', 'escalated')
GROUP BY server, CASE WHEN incident_id IS NULL THEN 'flag:' || id ELSE 'incident:' || incident_id END;
""",
    ),
    (
        6,
        "legal holds on flags and incidents, which purge and retention must respect",
        """
CREATE TABLE holds (
    id INTEGER PRIMARY KEY,
    server TEXT NOT NULL REFERENCES servers(key),
    target TEXT NOT NULL CHECK (target IN ('flag', 'incident')),
    target_id INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    placed_by TEXT NOT NULL,
    placed_at TEXT NOT NULL,
    released_by TEXT,
    released_at TEXT
);
CREATE INDEX holds_target ON holds(server, target, target_id);
""",
    ),
    (
        10,
        "small key/value state of the running bot (e.g. the hash of the last registered Discord command set)",
        """
CREATE TABLE app_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
""",
    ),
    (
        11,
        "Discord channel cursors: the newest message handled per channel, so a restart re-checks what it missed",
        """
CREATE TABLE channel_cursors (
    server TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    last_message_id INTEGER NOT NULL,
    last_seen_at TEXT NOT NULL,
    PRIMARY KEY (server, channel_id)
);
CREATE INDEX channel_cursors_seen ON channel_cursors(last_seen_at);
""",
    ),
    (
        12,
        "moderators' notes on a flag, an incident or a member",
        """
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    server TEXT NOT NULL REFERENCES servers(key),
    subject_kind TEXT NOT NULL CHECK (subject_kind IN ('flag', 'incident', 'member')),
    subject_id TEXT NOT NULL,
    author_id TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX notes_subject ON notes(server, subject_kind, subject_id);
""",
    ),
    (
        19,
        "notices to the moderators that belong to no flag (the daily evidence anchor), delivered like alerts",
        """
CREATE TABLE notices (
    id INTEGER PRIMARY KEY,
    server TEXT NOT NULL REFERENCES servers(key),
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    ref TEXT
);
CREATE INDEX notices_due ON notices(server, next_attempt_at) WHERE delivered_at IS NULL;
""",
    ),
    (
        15,
        "appeals: a member's appeal against an action on a flag, and the moderators' decision",
        """
CREATE TABLE appeals (
    id INTEGER PRIMARY KEY,
    server TEXT NOT NULL REFERENCES servers(key),
    flag_id INTEGER NOT NULL REFERENCES flags(id),
    incident_id INTEGER REFERENCES incidents(id),
    appellant_id TEXT NOT NULL,
    text TEXT NOT NULL,
    lang TEXT NOT NULL DEFAULT 'en',
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'upheld', 'reversed')),
    decided_by TEXT,
    decided_at TEXT,
    note TEXT NOT NULL DEFAULT '',
    alert_ref TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX appeals_status ON appeals(server, status);
CREATE INDEX appeals_appellant ON appeals(server, appellant_id, created_at);
CREATE UNIQUE INDEX appeals_one_open ON appeals(flag_id, appellant_id) WHERE status = 'open';
""",
    ),
]
