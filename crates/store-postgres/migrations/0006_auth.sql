-- Authentication: sign-in lockout, TOTP MFA with recovery codes, single
-- sign-on attempts, organisation settings and the acceptable-use policy.

CREATE TABLE login_throttle (
    user_id      BIGINT PRIMARY KEY REFERENCES users (id),
    failures     BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT
);

CREATE TABLE mfa_enrolments (
    user_id      BIGINT PRIMARY KEY REFERENCES users (id),
    secret       BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT
);

CREATE TABLE mfa_recovery_codes (
    user_id    BIGINT NOT NULL REFERENCES users (id),
    code_hash  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE auth_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE sso_attempts (
    state_hash   TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    verifier     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sso_attempts_expiry ON sso_attempts (expires_at);

CREATE TABLE acceptable_use_policies (
    version      BIGINT PRIMARY KEY,
    text         TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    published_by BIGINT REFERENCES users (id)
);

CREATE TABLE policy_acceptances (
    user_id     BIGINT NOT NULL REFERENCES users (id),
    version     BIGINT NOT NULL REFERENCES acceptable_use_policies (version),
    accepted_at BIGINT NOT NULL,
    address     TEXT,
    PRIMARY KEY (user_id, version)
);
CREATE INDEX policy_acceptances_version ON policy_acceptances (version, accepted_at);
