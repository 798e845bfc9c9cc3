-- Proof that an attorney controls the bar's email of record for the bar
-- number they claim (issue 12). Signing up with the roster's address and
-- confirming it proves the claim without a row here; a claim link sent to
-- the roster's address records its outcome in users.claim_state:
--   'unproven' (nothing yet), 'proven' (the link was followed), 'disputed'
--   (the address answered "this was not me": never verified by the roster).
ALTER TABLE users ADD COLUMN claim_state TEXT NOT NULL DEFAULT 'unproven'
    CHECK (claim_state IN ('unproven', 'proven', 'disputed'));
ALTER TABLE users ADD COLUMN claim_changed_at BIGINT;

-- Single-use claim links sent to a roster's email of record. Only a
-- SHA-256 of the token is stored, with the address it went to.
CREATE TABLE claim_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sent_to TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX claim_tokens_user ON claim_tokens (user_id);

-- A number an admin revoked stays out of the registry through any other
-- account until an admin clears the new registration after review.
ALTER TABLE registrations ADD COLUMN revocation_cleared_by BIGINT REFERENCES users (id);
ALTER TABLE registrations ADD COLUMN revocation_cleared_at BIGINT;

-- Evidence an attorney uploads for review (bar card, letter): the file
-- lives outside the web root under its random name; deleted after the
-- decision.
CREATE TABLE review_documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stored_name TEXT NOT NULL UNIQUE,
    original_name TEXT NOT NULL,
    content_type TEXT NOT NULL CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    bytes BIGINT NOT NULL,
    uploaded_at BIGINT NOT NULL
);
CREATE INDEX review_documents_user ON review_documents (user_id);
