-- Work done in the background, durably: code deliveries to retry and
-- emails to send. It is enqueued in the same transaction as the change
-- that calls for it, so neither happens without the other. A worker
-- claims due jobs with a lease (locked_by, locked_until); a job whose
-- worker died is claimed again once the lease has run out, so nothing is
-- lost across a crash or a restart.
CREATE TABLE jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- At most one queued job per key (e.g. one code delivery per
    -- registration); done and failed ones stay as the delivery log.
    dedupe_key TEXT,
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'done', 'failed')),
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    locked_by TEXT,
    locked_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE UNIQUE INDEX jobs_queued_once ON jobs (dedupe_key) WHERE state = 'queued';
CREATE INDEX jobs_by_key ON jobs (dedupe_key, id);

-- Who revoked a registration, and when; the reason is status_reason.
ALTER TABLE registrations ADD COLUMN revoked_by BIGINT REFERENCES users (id);
ALTER TABLE registrations ADD COLUMN revoked_at BIGINT;
