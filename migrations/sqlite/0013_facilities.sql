-- The facilities (prisons, jails, …) where a provider's system applies
-- the registry, each under the provider's own code. Retiring one keeps its
-- history; the same code PUT again brings it back.
CREATE TABLE facilities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider_id BIGINT NOT NULL REFERENCES providers (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    -- A US postal code: WA, DC, PR, …
    state TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('prison', 'jail', 'detention', 'juvenile', 'other')),
    -- 'pending' after a vendor switch until a reconciliation matches.
    status TEXT NOT NULL CHECK (status IN ('live', 'pending')),
    -- The same facility under the provider that served it before.
    predecessor_id BIGINT REFERENCES facilities (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    retired_at BIGINT,
    -- Unix ms when a site admin was emailed about the open incident
    -- (a failed reconciliation or staleness); NULL once it has cleared.
    incident_notified_at BIGINT,
    UNIQUE (provider_id, code)
);
CREATE INDEX facilities_place ON facilities (state, name);

-- "This facility applied the change log through seq N", kept forever.
CREATE TABLE facility_acks (
    facility_id BIGINT NOT NULL REFERENCES facilities (id),
    through_seq BIGINT NOT NULL,
    acked_at BIGINT NOT NULL,
    key_id BIGINT NOT NULL REFERENCES provider_keys (id),
    PRIMARY KEY (facility_id, through_seq)
);

-- Every reconciliation: what the facility claimed, what the registry held
-- at that seq, and whether they matched.
CREATE TABLE facility_reconciliations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    facility_id BIGINT NOT NULL REFERENCES facilities (id),
    as_of_seq BIGINT NOT NULL,
    claimed_count BIGINT NOT NULL,
    claimed_digest TEXT NOT NULL,
    registry_count BIGINT NOT NULL,
    registry_digest TEXT NOT NULL,
    matched BOOLEAN NOT NULL,
    at BIGINT NOT NULL,
    key_id BIGINT NOT NULL REFERENCES provider_keys (id)
);
CREATE INDEX facility_reconciliations_facility ON facility_reconciliations (facility_id, at);

-- Point-in-time reads of the privileged set ("as of seq N").
CREATE INDEX privileged_intervals_added ON privileged_intervals (added_seq);
