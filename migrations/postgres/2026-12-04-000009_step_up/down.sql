ALTER TABLE clients DROP COLUMN enroll_on_step_up;
ALTER TABLE clients DROP COLUMN require_acr;
ALTER TABLE clients DROP COLUMN default_acr_values;
ALTER TABLE sessions DROP COLUMN mfa_at;
