-- Who minted each SCIM token. SCIM acts with the maker's rights, capped at
-- admin, and a token dies with its maker's owner or admin role; NULL is a
-- token minted on the command line (an admin-capped operator token).
-- Tokens minted before this migration through the admin API get their maker
-- back from the audit log's scim_token.create entry; command-line ones have
-- none there and stay operator tokens.
-- Never edit once landed: add a new file.
ALTER TABLE scim_tokens ADD COLUMN created_by INTEGER REFERENCES users (id);

UPDATE scim_tokens SET created_by = (
    SELECT audit_log.actor_id FROM audit_log
    WHERE audit_log.action = 'scim_token.create'
      AND audit_log.target_kind = 'scim_token'
      AND audit_log.target_id = CAST(scim_tokens.id AS TEXT)
      AND audit_log.actor_id IN (SELECT users.id FROM users)
    ORDER BY audit_log.id
    LIMIT 1
);

CREATE INDEX scim_tokens_created_by ON scim_tokens (created_by);
