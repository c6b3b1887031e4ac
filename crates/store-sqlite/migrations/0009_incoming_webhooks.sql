-- Slack-compatible incoming webhooks. Each hook posts as its own bot user
-- (author_id: a users row that cannot sign in). Only the SHA-256 of the
-- token is kept; the token is shown once, when the hook is created.
-- Never edit once landed: add a new file.
CREATE TABLE incoming_webhooks (
    id          INTEGER PRIMARY KEY,
    channel_id  INTEGER NOT NULL REFERENCES channels (id),
    creator_id  INTEGER NOT NULL REFERENCES users (id),
    author_id   INTEGER NOT NULL UNIQUE REFERENCES users (id),
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX incoming_webhooks_channel ON incoming_webhooks (channel_id, id);
