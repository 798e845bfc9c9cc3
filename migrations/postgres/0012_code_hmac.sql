-- One-time phone codes are stored as HMAC-SHA256 under a server key
-- (issue 14) instead of argon2. The key is CODE_HMAC_KEY when configured;
-- otherwise it is generated once and kept here, shared by every instance.
CREATE TABLE server_keys (
    name TEXT PRIMARY KEY,
    key_hex TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Codes still outstanding carry an argon2 hash the new check cannot read:
-- they end now (they lived ten minutes at most); the attorney asks again.
UPDATE number_codes SET expires_at = created_at
WHERE used_at IS NULL AND code_hash LIKE '$argon2%';
