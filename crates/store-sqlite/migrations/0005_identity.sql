-- Identity administration (SQLite): SCIM tokens and provisioning records,
-- departments and teams, channel auto-membership rules, account expiry.
-- Never edit once landed: add a new file.

CREATE TABLE scim_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

-- What the identity provider said about a user beyond the users row, as a
-- JSON document. deleted_at hides the user from SCIM; the account stays.
CREATE TABLE scim_users (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id),
    document   TEXT NOT NULL,
    deleted_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE org_units (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('department', 'team')),
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    external_id TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (kind, name_key)
);

CREATE TABLE org_unit_members (
    unit_id  INTEGER NOT NULL REFERENCES org_units (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id),
    added_at INTEGER NOT NULL,
    PRIMARY KEY (unit_id, user_id)
) WITHOUT ROWID;
CREATE INDEX org_unit_members_user ON org_unit_members (user_id, unit_id);

CREATE TABLE auto_membership_rules (
    id         INTEGER PRIMARY KEY,
    unit_id    INTEGER NOT NULL REFERENCES org_units (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL REFERENCES channels (id),
    created_by INTEGER REFERENCES users (id),
    created_at INTEGER NOT NULL,
    UNIQUE (unit_id, channel_id)
);

CREATE TABLE account_expiry (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id),
    expires_at INTEGER NOT NULL
);
CREATE INDEX account_expiry_due ON account_expiry (expires_at);
