-- Issue 24: a claim is proven by the person who created the account, not
-- by a bare click in a mailbox.
--   users.email_proven_at  when the account's holder proved control of its
--                          address: confirmed it with the account's
--                          password (NULL: never; a bare click proves only
--                          that someone reads the mailbox)
ALTER TABLE users ADD COLUMN email_proven_at BIGINT;

-- A link to a bar's email of record either asks about a claim (e164
-- NULL: confirm or block it, issue 12) or tells of a number (E.164) that
-- became privileged under the bar number (a notice: it can only block
-- the claim).
ALTER TABLE claim_tokens ADD COLUMN e164 TEXT;

-- Each time a registration becomes active, the bar's email of record for
-- its attorney's bar number is told once: a row is open (ended_at NULL)
-- while the registration stays active, and ended once it is not.
--   sent_to  the address told (NULL: the roster had none)
CREATE TABLE privilege_notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    registration_id BIGINT NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    sent_to TEXT,
    noticed_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE UNIQUE INDEX privilege_notices_open ON privilege_notices (registration_id)
    WHERE ended_at IS NULL;
-- Numbers already live are not announced again.
INSERT INTO privilege_notices (registration_id, sent_to, noticed_at)
SELECT id, NULL, 0 FROM registrations WHERE status = 'active';
