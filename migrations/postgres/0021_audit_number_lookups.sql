-- An admin's look-up of a number (who holds it, in what state) is
-- recorded in the audit trail: `number_looked_up` joins the actions.
ALTER TABLE audit_trail DROP CONSTRAINT audit_trail_action_check;
ALTER TABLE audit_trail ADD CONSTRAINT audit_trail_action_check CHECK (action IN ('review_decided', 'registration_revoked', 'roster_committed', 'provider_created', 'provider_key_created', 'provider_key_revoked', 'admin_created', 'facility_linked', 'secrets_rotated', 'number_looked_up'));
