-- Sessions of a user carry the generation they were opened in; changing
-- the password bumps it, which ends every other session.
ALTER TABLE users ADD COLUMN session_generation BIGINT NOT NULL DEFAULT 0;
-- The one jurisdiction a bar admin acts for (NULL for everyone else).
ALTER TABLE users ADD COLUMN admin_jurisdiction TEXT;
-- Why the standing is what it is: 'roster' (matched), 'admin' (decided by
-- a site admin, with the reason given), NULL while pending.
ALTER TABLE users ADD COLUMN standing_source TEXT CHECK (standing_source IN ('roster', 'admin'));
ALTER TABLE users ADD COLUMN standing_reason TEXT;
ALTER TABLE users ADD COLUMN standing_changed_at BIGINT;
-- TOTP (RFC 6238): the base32 secret once enrolment is confirmed, and the
-- last time step accepted, so no code is ever accepted twice.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
CREATE INDEX users_bar ON users (jurisdiction, bar_number);

-- Single-use recovery codes for the second factor; only SHA-256 hashes.
CREATE TABLE recovery_codes (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- Bar members as their bar association lists them. `name_key` is the
-- name reduced for matching (see domain::name::NameKey).
CREATE TABLE roster (
    jurisdiction TEXT NOT NULL,
    bar_number TEXT NOT NULL,
    full_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('active', 'inactive', 'suspended', 'disbarred', 'deceased', 'resigned', 'not_listed')),
    email TEXT,
    admitted_on TEXT,
    office_phone TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (jurisdiction, bar_number)
);
CREATE INDEX roster_name ON roster (jurisdiction, name_key);
