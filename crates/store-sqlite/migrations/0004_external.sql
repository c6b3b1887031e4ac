-- Captured outside conversations (SQLite): WhatsApp export imports and the
-- WhatsApp Cloud API connector. Never edit once landed: add a new file.

-- People outside the organisation. Each has a user row (inactive, no
-- password, role guest, an address @whatsapp.invalid) so that messages keep
-- an author; this table says who they really are. key is
-- 'phone:+491701234567', 'name:CHANNEL_ID:Display Name' or 'system:whatsapp'.
CREATE TABLE external_participants (
    user_id      INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    key          TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    phone        TEXT,
    display_name TEXT NOT NULL,
    source       TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX external_participants_phone ON external_participants (phone) WHERE phone IS NOT NULL;

-- Channels that hold captured conversations; source is 'whatsapp_export'
-- (read-only archive channels) or 'whatsapp_cloud' (customer conversations).
CREATE TABLE external_channels (
    channel_id   INTEGER PRIMARY KEY REFERENCES channels (id),
    source       TEXT NOT NULL,
    custodian_id INTEGER REFERENCES users (id),
    created_at   INTEGER NOT NULL
);

-- The dedupe key of every imported message, per channel. No foreign key to
-- messages on purpose: after retention or erasure removed a message, its key
-- stays, so importing the same export again does not bring it back.
CREATE TABLE whatsapp_import_keys (
    channel_id INTEGER NOT NULL,
    dedupe_key TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    line       INTEGER NOT NULL,
    PRIMARY KEY (channel_id, dedupe_key)
) WITHOUT ROWID;

CREATE TABLE whatsapp_import_runs (
    id           INTEGER PRIMARY KEY,
    channel_id   INTEGER NOT NULL REFERENCES channels (id),
    custodian_id INTEGER REFERENCES users (id),
    source_name  TEXT NOT NULL,
    summary      TEXT NOT NULL,
    at           INTEGER NOT NULL
);

-- One customer number talking to one business number.
CREATE TABLE whatsapp_conversations (
    channel_id       INTEGER PRIMARY KEY REFERENCES channels (id),
    phone_number_id  TEXT NOT NULL,
    customer_wa_id   TEXT NOT NULL,
    customer_user_id INTEGER NOT NULL REFERENCES users (id),
    assignee_id      INTEGER REFERENCES users (id),
    last_inbound_at  INTEGER,
    created_at       INTEGER NOT NULL,
    UNIQUE (phone_number_id, customer_wa_id)
);

-- The WhatsApp side of messages that travelled through the Cloud API.
CREATE TABLE whatsapp_messages (
    message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL,
    wamid      TEXT UNIQUE,
    direction  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    status     TEXT NOT NULL,
    error      TEXT,
    request    TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX whatsapp_messages_channel ON whatsapp_messages (channel_id, message_id);
