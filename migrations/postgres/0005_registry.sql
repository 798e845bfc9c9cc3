-- An attorney's claim on a phone number (E.164). A number is privileged
-- while at least one of its registrations is active.
CREATE TABLE registrations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    e164 TEXT NOT NULL,
    label TEXT CHECK (label IN ('office', 'mobile', 'switchboard', 'other')),
    extension TEXT,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'active', 'suspended', 'expired', 'removed', 'revoked')),
    status_reason TEXT,
    proven_at BIGINT,
    expires_at BIGINT,
    -- When the renewal reminders for the current proof went out.
    reminded_30_at BIGINT,
    reminded_7_at BIGINT,
    created_at BIGINT NOT NULL
);
-- One current claim per attorney and number; removed and revoked ones
-- stay as history.
CREATE UNIQUE INDEX registrations_current ON registrations (user_id, e164)
    WHERE status NOT IN ('removed', 'revoked');
CREATE INDEX registrations_number ON registrations (e164, status);

-- The one row every writer of the registry updates first: it serialises
-- appends, so the order of seq is the order of commits on both engines.
CREATE TABLE registry_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO registry_head (id, seq) VALUES (1, 0);

-- The change log providers follow: one row per flip of a number's
-- privileged state. Numbers and times only, never who holds them.
CREATE TABLE registry_changes (
    seq BIGINT PRIMARY KEY,
    e164 TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'remove')),
    at BIGINT NOT NULL
);
CREATE INDEX registry_changes_number ON registry_changes (e164, seq);

-- When each number was privileged: [since, until), until NULL while it is.
CREATE TABLE privileged_intervals (
    e164 TEXT NOT NULL,
    since BIGINT NOT NULL,
    until BIGINT,
    added_seq BIGINT NOT NULL,
    removed_seq BIGINT,
    PRIMARY KEY (e164, added_seq)
);
CREATE UNIQUE INDEX privileged_now ON privileged_intervals (e164) WHERE until IS NULL;

-- One-time codes proving control of a registered number: argon2 hashes,
-- valid 10 minutes, single use, at most 5 wrong tries each.
CREATE TABLE number_codes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_id BIGINT NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    e164 TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('sms', 'voice')),
    code_hash TEXT NOT NULL,
    wrong_tries INTEGER NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX number_codes_registration ON number_codes (registration_id, created_at);
CREATE INDEX number_codes_number ON number_codes (e164, created_at);
CREATE INDEX number_codes_user ON number_codes (user_id, created_at);
