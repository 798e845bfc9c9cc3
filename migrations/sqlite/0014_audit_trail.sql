-- Every decision of people with power, hash-chained (see
-- app/src/ssr/infra/audit_trail.rs): each entry stores the hash of the
-- one before it and its own; `audit_head` names the last.
CREATE TABLE audit_trail (
    id BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('review_decided', 'registration_revoked', 'roster_committed', 'provider_created', 'provider_key_created', 'provider_key_revoked', 'admin_created', 'facility_linked', 'secrets_rotated')),
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_id BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
