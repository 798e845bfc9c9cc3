-- An admin's look-up of a number (who holds it, in what state) is
-- recorded in the audit trail: `number_looked_up` joins the actions.
-- SQLite cannot change a CHECK in place, so the table is rebuilt with its
-- rows as they are (ids, times and hashes unchanged: the chain holds).
ALTER TABLE audit_trail RENAME TO audit_trail_before_0021;

CREATE TABLE audit_trail (
    id BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('review_decided', 'registration_revoked', 'roster_committed', 'provider_created', 'provider_key_created', 'provider_key_revoked', 'admin_created', 'facility_linked', 'secrets_rotated', 'number_looked_up')),
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

INSERT INTO audit_trail (id, at, actor, action, subject, detail, prev_hash, hash)
SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit_trail_before_0021;

DROP TABLE audit_trail_before_0021;
