-- WhatsApp import keys, smaller and in time order (SQLite). Never edit once
-- landed: add a new file.
--
-- A key is now the message's local time (the phone's clock reading in
-- seconds, counted as if it were UTC) followed by its SHA-256 digest as 32
-- bytes instead of 64 hex characters. With the time first, the keys of a
-- chronological export are appended at the end of the index instead of
-- rewriting pages all over it.
--
-- Keys stored before this migration carry no time: they move here with
-- local_time = -9223372036854775808 (the smallest integer), and an import
-- also looks for its digests under that time while the channel holds any.
-- A stored key that is not a 64-character hex digest could never match a
-- digest and is not carried over. As before, no foreign key to messages: a
-- key outlives its message, so a removed message is not imported again.
CREATE TABLE whatsapp_import_digests (
    channel_id INTEGER NOT NULL,
    local_time INTEGER NOT NULL,
    digest     BLOB NOT NULL,
    message_id INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    line       INTEGER NOT NULL,
    PRIMARY KEY (channel_id, local_time, digest)
) WITHOUT ROWID;

INSERT INTO whatsapp_import_digests (channel_id, local_time, digest, message_id, kind, line)
SELECT channel_id, -9223372036854775808, unhex(dedupe_key), message_id, kind, line
FROM whatsapp_import_keys
WHERE length(dedupe_key) = 64 AND unhex(dedupe_key) IS NOT NULL;

DROP TABLE whatsapp_import_keys;
