-- Conclave schema, version 1 (SQLite). Never edit once landed: add 0002.

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    handle         TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    active         INTEGER NOT NULL DEFAULT 1,
    password_hash  TEXT,
    created_at     INTEGER NOT NULL,
    deactivated_at INTEGER
);
CREATE INDEX users_deactivated ON users (deactivated_at) WHERE deactivated_at IS NOT NULL;

CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    user_agent  TEXT,
    address     TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE channels (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,
    name             TEXT NOT NULL,
    topic            TEXT NOT NULL DEFAULT '',
    archived         INTEGER NOT NULL DEFAULT 0,
    read_only        INTEGER NOT NULL DEFAULT 0,
    conversation_key TEXT UNIQUE,
    created_by       INTEGER NOT NULL REFERENCES users (id),
    created_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX channels_name ON channels (name) WHERE kind IN ('public', 'private');

CREATE TABLE memberships (
    channel_id           INTEGER NOT NULL REFERENCES channels (id),
    user_id              INTEGER NOT NULL REFERENCES users (id),
    joined_at            INTEGER NOT NULL,
    last_read_message_id INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, user_id)
) WITHOUT ROWID;
CREATE INDEX memberships_user ON memberships (user_id, channel_id);

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
    channel_id    INTEGER NOT NULL REFERENCES channels (id),
    author_id     INTEGER NOT NULL REFERENCES users (id),
    thread_id     INTEGER REFERENCES messages (id),
    text          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    edited_at     INTEGER,
    deleted_at    INTEGER,
    deleted_by    INTEGER,
    pinned        INTEGER NOT NULL DEFAULT 0,
    reply_count   INTEGER NOT NULL DEFAULT 0,
    last_reply_at INTEGER,
    client_id     TEXT
);
CREATE INDEX messages_channel ON messages (channel_id, thread_id, id);
CREATE INDEX messages_thread ON messages (thread_id, id) WHERE thread_id IS NOT NULL;
CREATE UNIQUE INDEX messages_client ON messages (author_id, client_id) WHERE client_id IS NOT NULL;

-- Every text a message has had; version 1 is the original.
CREATE TABLE message_versions (
    message_id INTEGER NOT NULL REFERENCES messages (id),
    version    INTEGER NOT NULL,
    text       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    author_id  INTEGER NOT NULL,
    PRIMARY KEY (message_id, version)
) WITHOUT ROWID;

CREATE TABLE mentions (
    message_id INTEGER NOT NULL REFERENCES messages (id),
    user_id    INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id)
) WITHOUT ROWID;
CREATE INDEX mentions_user ON mentions (user_id, channel_id, message_id);

CREATE TABLE reactions (
    message_id INTEGER NOT NULL REFERENCES messages (id),
    emoji      TEXT NOT NULL,
    user_id    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
) WITHOUT ROWID;

CREATE TABLE attachments (
    id            INTEGER PRIMARY KEY,
    uploader_id   INTEGER NOT NULL REFERENCES users (id),
    channel_id    INTEGER NOT NULL REFERENCES channels (id),
    message_id    INTEGER REFERENCES messages (id),
    name          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    storage_key   TEXT NOT NULL,
    thumbnail_key TEXT,
    width         INTEGER,
    height        INTEGER,
    created_at    INTEGER NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id);

-- The event log and compliance journal: positions in commit order, each row
-- chained to the one before by `hash`.
CREATE TABLE events (
    position        INTEGER PRIMARY KEY,
    created_at      INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    channel_id      INTEGER,
    subject_user_id INTEGER,
    private         INTEGER NOT NULL,
    payload         TEXT NOT NULL,
    hash            TEXT NOT NULL
);
CREATE INDEX events_channel ON events (channel_id, position);
CREATE INDEX events_subject ON events (subject_user_id, position);
