-- How far a roster upload in a browser has got, written by the instance
-- receiving it every quarter second, so the page's progress bar reads it
-- from whichever instance answers (issue 16). Deleted when the upload ends;
-- a row not updated for 30 s belongs to an instance that died.
CREATE TABLE roster_upload_progress (
    user_id BIGINT NOT NULL,
    token TEXT NOT NULL,
    received BIGINT NOT NULL,
    checked BIGINT NOT NULL,
    rows_checked BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, token)
);
