-- Look-ups of single numbers are no longer logged number by number: a
-- per-call log would become a record of which lawyers a facility's
-- callers reached. Only their count per key and hour is kept, for a
-- configurable time; the exact trail stays for snapshot, feed, digests
-- and audit reads.
CREATE TABLE provider_lookup_counts (
    key_id BIGINT NOT NULL REFERENCES provider_keys (id),
    -- Unix ms of the hour's start (UTC).
    hour_start BIGINT NOT NULL,
    lookups BIGINT NOT NULL,
    PRIMARY KEY (key_id, hour_start)
);

INSERT INTO provider_lookup_counts (key_id, hour_start, lookups)
SELECT key_id, (at / 3600000) * 3600000, COUNT(*)
FROM provider_reads WHERE what LIKE 'number %'
GROUP BY key_id, (at / 3600000) * 3600000;

DELETE FROM provider_reads WHERE what LIKE 'number %';
