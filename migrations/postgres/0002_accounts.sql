-- People with an account. Instants are Unix milliseconds (UTC).
CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The address as typed (domain lower-cased), and its lower-cased key:
    -- one account per mailbox whatever the capitalisation.
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    bar_number TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'attorney'
        CHECK (role IN ('attorney', 'bar_admin', 'site_admin')),
    standing TEXT NOT NULL DEFAULT 'pending_review'
        CHECK (standing IN ('verified', 'pending_review', 'rejected')),
    email_verified_at BIGINT,
    created_at BIGINT NOT NULL
);

-- Single-use links sent by email; only a SHA-256 of the token is stored.
CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX email_tokens_user ON email_tokens (user_id);
