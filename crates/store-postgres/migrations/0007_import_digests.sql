-- WhatsApp import keys, smaller and in time order (PostgreSQL). Never edit
-- once landed: add a new file.
--
-- A key is now the message's local time (the phone's clock reading in
-- seconds, counted as if it were UTC) followed by its SHA-256 digest as 32
-- bytes instead of 64 hex characters. With the time first, the keys of a
-- chronological export are appended at the end of the index instead of
-- touching pages all over it.
--
-- Keys stored before this migration carry no time: they move here with
-- local_time = -9223372036854775808 (the smallest BIGINT), and an import
-- also looks for its digests under that time while the channel holds any.
-- A stored key that is not a 64-character hex digest could never match a
-- digest and is not carried over. As before, no foreign key to messages: a
-- key outlives its message, so a removed message is not imported again.
CREATE TABLE whatsapp_import_digests (
    channel_id BIGINT NOT NULL,
    local_time BIGINT NOT NULL,
    digest     BYTEA NOT NULL,
    message_id BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    line       BIGINT NOT NULL,
    PRIMARY KEY (channel_id, local_time, digest)
);

INSERT INTO whatsapp_import_digests (channel_id, local_time, digest, message_id, kind, line)
SELECT channel_id, -9223372036854775808, decode(dedupe_key, 'hex'), message_id, kind, line
FROM whatsapp_import_keys
WHERE dedupe_key ~ '^[0-9a-fA-F]{64}$';

DROP TABLE whatsapp_import_keys;
