-- Phone providers that pull the registry, and their API keys: only a
-- SHA-256 of each key is kept, with a visible prefix to tell keys apart.
CREATE TABLE providers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE provider_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider_id BIGINT NOT NULL REFERENCES providers (id),
    prefix TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL UNIQUE,
    -- Space-separated: registry:read, audit:write.
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT
);

-- "Applied through seq N", kept forever: with the change log they prove
-- when each provider knew each number.
CREATE TABLE provider_acks (
    provider_id BIGINT NOT NULL REFERENCES providers (id),
    through_seq BIGINT NOT NULL,
    acked_at BIGINT NOT NULL,
    key_id BIGINT NOT NULL REFERENCES provider_keys (id),
    PRIMARY KEY (provider_id, through_seq)
);

-- Every read of the registry by a provider: which key, what, when.
CREATE TABLE provider_reads (
    key_id BIGINT NOT NULL REFERENCES provider_keys (id),
    what TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX provider_reads_key ON provider_reads (key_id, at);
