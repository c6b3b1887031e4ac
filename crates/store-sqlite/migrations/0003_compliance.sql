-- The compliance archive (SQLite): legal holds, retention policies and the
-- record of journal entries whose content retention or erasure removed.

CREATE TABLE legal_holds (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    date_from   INTEGER,
    date_to     INTEGER,
    created_at  INTEGER NOT NULL,
    released_at INTEGER
);

CREATE TABLE legal_hold_custodians (
    hold_id INTEGER NOT NULL REFERENCES legal_holds (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (hold_id, user_id)
) WITHOUT ROWID;

CREATE TABLE legal_hold_channels (
    hold_id    INTEGER NOT NULL REFERENCES legal_holds (id),
    channel_id INTEGER NOT NULL REFERENCES channels (id),
    PRIMARY KEY (hold_id, channel_id)
) WITHOUT ROWID;

-- scope is 'global', 'team:NAME' or 'channel:ID'; days NULL keeps forever.
CREATE TABLE retention_policies (
    scope      TEXT PRIMARY KEY,
    days       INTEGER,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- A journal entry whose payload was replaced by a redacted stub keeps the
-- SHA-256 of its original payload here, so the hash chain still verifies.
CREATE TABLE journal_redactions (
    position       INTEGER PRIMARY KEY REFERENCES events (position),
    payload_sha256 TEXT NOT NULL,
    redacted_at    INTEGER NOT NULL,
    reason         TEXT NOT NULL
);

CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX messages_author ON messages (author_id, id);
CREATE INDEX attachments_storage ON attachments (storage_key);
CREATE INDEX events_kind ON events (kind, position);
