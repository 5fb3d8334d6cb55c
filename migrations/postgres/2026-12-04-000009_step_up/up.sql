-- Step-up MFA (#12). Mirrored under migrations/sqlite and migrations/postgres.

-- When the session's person last proved a second factor: the `mfa` level holds for
-- `mfa.level_max_age` after it, while the session itself may live on.
ALTER TABLE sessions ADD COLUMN mfa_at BIGINT;

-- A client's assurance policy (OpenID Connect Dynamic Client Registration §2
-- `default_acr_values`): the levels asked for when a request names none; with
-- `require_acr` the first is a minimum, not a wish. `enroll_on_step_up` overrides
-- `mfa.enroll_on_step_up` for this client (NULL: the server's setting).
ALTER TABLE clients ADD COLUMN default_acr_values TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN require_acr BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN enroll_on_step_up BOOLEAN;
