-- A bar's roster file, from upload to commit: the history per
-- jurisdiction (who, when, the file's SHA-256, mode, counts, result).
CREATE TABLE roster_uploads (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jurisdiction TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('full', 'partial')),
    state TEXT NOT NULL CHECK (state IN ('previewed', 'committed', 'discarded')),
    -- The account that uploaded, or NULL from the command line.
    uploaded_by BIGINT REFERENCES users (id),
    uploader TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    rows_valid BIGINT NOT NULL,
    rows_invalid BIGINT NOT NULL,
    -- Columns the file had that the format does not use, comma-separated.
    ignored_columns TEXT NOT NULL,
    new_members BIGINT NOT NULL,
    changed_members BIGINT NOT NULL,
    unchanged_members BIGINT NOT NULL,
    missing_members BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_by BIGINT REFERENCES users (id),
    decided_at BIGINT,
    -- 1 when the commit skipped rows with errors.
    skipped_invalid BIGINT NOT NULL DEFAULT 0,
    standings_changed BIGINT,
    numbers_added BIGINT,
    numbers_removed BIGINT
);
CREATE INDEX roster_uploads_history ON roster_uploads (jurisdiction, id);

-- The valid rows of an upload awaiting its commit; deleted once decided.
CREATE TABLE roster_staging (
    upload_id BIGINT NOT NULL REFERENCES roster_uploads (id) ON DELETE CASCADE,
    bar_number TEXT NOT NULL,
    line BIGINT NOT NULL,
    full_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    status TEXT NOT NULL,
    email TEXT,
    admitted_on TEXT,
    office_phone TEXT,
    PRIMARY KEY (upload_id, bar_number)
);

-- The rows an upload could not take, as the uploader is shown them (the
-- first 10,000; rows_invalid counts them all).
CREATE TABLE roster_upload_errors (
    upload_id BIGINT NOT NULL REFERENCES roster_uploads (id) ON DELETE CASCADE,
    line BIGINT NOT NULL,
    column_name TEXT NOT NULL,
    cell TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX roster_upload_errors_upload ON roster_upload_errors (upload_id, line);
