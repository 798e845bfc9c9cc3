-- Holds after a revocation (issue 24): only a proven registration's
-- revocation holds other registrations of its number, and only those
-- first proven after it; a hold is recorded so its holder and the site
-- admins are told once and the admins can work through a queue.
--   first_proven_at  when the registration was first proven (Unix ms);
--                    renewals move proven_at, never this
--   held_at          when the registration was held for review because
--                    of another account's revocation (NULL: not held)
ALTER TABLE registrations ADD COLUMN first_proven_at BIGINT;
ALTER TABLE registrations ADD COLUMN held_at BIGINT;
-- The first code used for a registration proved it first; a proof whose
-- codes are gone counts from its latest proof.
UPDATE registrations SET first_proven_at = COALESCE(
    (SELECT MIN(c.used_at) FROM number_codes c WHERE c.registration_id = registrations.id),
    proven_at)
WHERE proven_at IS NOT NULL;
-- Registrations held before this migration join the admins' queue.
UPDATE registrations SET held_at = COALESCE(proven_at, created_at)
WHERE status IN ('pending', 'suspended')
  AND status_reason = 'held for review: the registry''s administrators revoked this number before';
CREATE INDEX registrations_held ON registrations (held_at) WHERE held_at IS NOT NULL;
