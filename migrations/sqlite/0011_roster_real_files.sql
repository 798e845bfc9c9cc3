-- Rosters as bars really send them (issue 13).

-- How the file was read, shown on the preview; rows with warnings (an
-- optional cell left empty); when a preview is abandoned it expires.
ALTER TABLE roster_uploads ADD COLUMN encoding TEXT NOT NULL DEFAULT 'utf-8'
    CHECK (encoding IN ('utf-8', 'utf-8-bom', 'utf-16le', 'utf-16be', 'windows-1252'));
ALTER TABLE roster_uploads ADD COLUMN rows_warned BIGINT NOT NULL DEFAULT 0;
-- Rows whose bar number could not be read (part of rows_invalid).
ALTER TABLE roster_uploads ADD COLUMN rows_unread BIGINT NOT NULL DEFAULT 0;
-- Which header gave each field ("bar_number: Registration Number; …").
ALTER TABLE roster_uploads ADD COLUMN columns_read TEXT NOT NULL DEFAULT '';
-- The confirmation the brake asked for and got (the count typed), if any.
ALTER TABLE roster_uploads ADD COLUMN confirmed_removals BIGINT;

-- An error blocks the commit until it is mapped or skipped; a warning
-- only says what was left empty.
ALTER TABLE roster_upload_errors ADD COLUMN severity TEXT NOT NULL DEFAULT 'error'
    CHECK (severity IN ('error', 'warning'));

-- Office phones: E.164 with the extension apart when readable, else the
-- text as given.
ALTER TABLE roster ADD COLUMN office_phone_ext TEXT;

-- Staged rows may now hold a member's place with blocking errors
-- (`blocking` counts them; a NULL name or status could not be read): such
-- a row changes nothing of its member when skipped, and never counts as
-- missing from a full roster. Mapping a status word lowers the count.
-- Staging is transient: previews waiting at this migration are discarded.
UPDATE roster_uploads SET state = 'discarded' WHERE state = 'previewed';
DROP TABLE roster_staging;
CREATE TABLE roster_staging (
    upload_id BIGINT NOT NULL REFERENCES roster_uploads (id) ON DELETE CASCADE,
    bar_number TEXT NOT NULL,
    line BIGINT NOT NULL,
    full_name TEXT,
    name_key TEXT,
    status TEXT,
    -- The status cell as written, when the vocabulary did not know it.
    status_given TEXT,
    email TEXT,
    admitted_on TEXT,
    office_phone TEXT,
    office_phone_ext TEXT,
    blocking BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (upload_id, bar_number)
);
CREATE INDEX roster_staging_unknown ON roster_staging (upload_id, status_given);

-- A bar's own words for statuses, mapped to ours; exact matches only
-- (compared after trimming, folding case and collapsing spaces).
CREATE TABLE roster_status_words (
    jurisdiction TEXT NOT NULL,
    word TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('active', 'inactive', 'suspended', 'disbarred', 'deceased', 'resigned', 'not_listed')),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (jurisdiction, word)
);

-- A bar's column names, mapped to the fields of the format; `header` is
-- the name folded (case, spaces, underscores and hyphens ignored).
CREATE TABLE roster_column_maps (
    jurisdiction TEXT NOT NULL,
    field TEXT NOT NULL CHECK (field IN ('bar_number', 'full_name', 'given_name', 'middle_name',
        'family_name', 'name_suffix', 'status', 'email', 'admitted_on', 'office_phone')),
    header TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (jurisdiction, field)
);
