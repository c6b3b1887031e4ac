-- Authentication: sign-in lockout, TOTP MFA with recovery codes, single
-- sign-on attempts, organisation settings and the acceptable-use policy.

CREATE TABLE login_throttle (
    user_id      INTEGER PRIMARY KEY REFERENCES users (id),
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER
);

CREATE TABLE mfa_enrolments (
    user_id      INTEGER PRIMARY KEY REFERENCES users (id),
    secret       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    last_step    INTEGER
);

CREATE TABLE mfa_recovery_codes (
    user_id    INTEGER NOT NULL REFERENCES users (id),
    code_hash  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE auth_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE sso_attempts (
    state_hash   TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    verifier     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sso_attempts_expiry ON sso_attempts (expires_at);

CREATE TABLE acceptable_use_policies (
    version      INTEGER PRIMARY KEY,
    text         TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    published_by INTEGER REFERENCES users (id)
);

CREATE TABLE policy_acceptances (
    user_id     INTEGER NOT NULL REFERENCES users (id),
    version     INTEGER NOT NULL REFERENCES acceptable_use_policies (version),
    accepted_at INTEGER NOT NULL,
    address     TEXT,
    PRIMARY KEY (user_id, version)
);
CREATE INDEX policy_acceptances_version ON policy_acceptances (version, accepted_at);
