-- Delivery of each code as the carrier reports it (issue 14): Twilio's
-- status callbacks reach /twilio/status/<delivery_token>, and a voice
-- call fetches its script at /twilio/voice/<delivery_token>.
--   delivery_sid      Twilio's SM…/CA… of the message or call (NULL: the
--                     development outbox, or not sent yet)
--   delivery_status   sent, delivered, heard, not_heard, voicemail,
--                     undelivered, failed, no_answer, busy, canceled
--                     (NULL: nothing to report)
--   delivery_error    Twilio's ErrorCode with a failed status (30006 …)
--   sealed_code       a voice call's code, sealed under the server's key
--                     (infra/sealing.rs) for the call's script; cleared
--                     when the call ends or the code expires
--   given_back_at     a failed delivery no longer counts against the
--                     hourly and daily send limits
ALTER TABLE number_codes ADD COLUMN delivery_token TEXT;
ALTER TABLE number_codes ADD COLUMN delivery_sid TEXT;
ALTER TABLE number_codes ADD COLUMN delivery_status TEXT CHECK (delivery_status IN ('sent', 'delivered', 'heard', 'not_heard', 'voicemail', 'undelivered', 'failed', 'no_answer', 'busy', 'canceled'));
ALTER TABLE number_codes ADD COLUMN delivery_error BIGINT;
ALTER TABLE number_codes ADD COLUMN delivery_updated_at BIGINT;
ALTER TABLE number_codes ADD COLUMN sealed_code TEXT;
ALTER TABLE number_codes ADD COLUMN given_back_at BIGINT;
CREATE UNIQUE INDEX number_codes_delivery_token ON number_codes (delivery_token);
