-- Alerts about failing facilities go to the site admins in batches
-- (issue 24): a provider with thousands of facilities failing at once
-- sends one email per period, not one per facility.
--   facilities.incident_notified_at  now: when the open incident opened
--                                    (NULL: none open), as before
--   facilities.incident_reason       why it opened, for the batch's email
--   facilities.incident_alerted_at   when a batch named it (NULL: not yet)
ALTER TABLE facilities ADD COLUMN incident_reason TEXT;
ALTER TABLE facilities ADD COLUMN incident_alerted_at BIGINT;
-- Incidents open before this migration were emailed one by one already.
UPDATE facilities SET incident_alerted_at = incident_notified_at
WHERE incident_notified_at IS NOT NULL;

-- Every batch sent: when, and how many facilities it named.
CREATE TABLE facility_alert_batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sent_at BIGINT NOT NULL,
    facilities BIGINT NOT NULL
);
CREATE INDEX facility_alert_batches_sent ON facility_alert_batches (sent_at);
