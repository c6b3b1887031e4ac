-- A person's own account: one-time password resets issued by an
-- administrator (only the SHA-256 of each code is kept) and the profile
-- they edit themselves (status text, photo).
-- Never edit once landed: add a new file.
CREATE TABLE password_resets (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    code_hash   TEXT NOT NULL UNIQUE,
    created_by  INTEGER REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX password_resets_user ON password_resets (user_id, used_at);

CREATE TABLE user_profiles (
    user_id     INTEGER PRIMARY KEY REFERENCES users (id),
    status_text TEXT NOT NULL DEFAULT '',
    avatar_key  TEXT,
    updated_at  INTEGER NOT NULL
);

-- Who was welcomed already (joined the default channel on first sign-in),
-- so someone who left it is not put back.
CREATE TABLE onboarded_users (
    user_id       INTEGER PRIMARY KEY REFERENCES users (id),
    onboarded_at  INTEGER NOT NULL
);
