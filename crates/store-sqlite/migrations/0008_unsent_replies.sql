-- Replies to WhatsApp customers not yet accepted by Meta ('queued', or
-- 'sending' under a claim), which every server process looks for each
-- minute. Never edit once landed: add a new file.
--
-- Only those rows are indexed, so the search reads a handful of entries
-- instead of every WhatsApp message ever sent or received.
CREATE INDEX whatsapp_messages_unsent ON whatsapp_messages (status, updated_at)
    WHERE status IN ('queued', 'sending');
