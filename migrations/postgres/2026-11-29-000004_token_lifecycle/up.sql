-- Token lifecycle (#4). Mirrored under migrations/sqlite and migrations/postgres.

-- With a reuse grace period, the response a rotation returned, sealed with the instance
-- key (AES-256-GCM, the row id as associated data), so that a retry within the window
-- gets the same successor tokens. NULL when the grace period is 0.
ALTER TABLE refresh_tokens ADD COLUMN grace_response BYTEA;
CREATE INDEX refresh_tokens_parent ON refresh_tokens (parent_id);
CREATE INDEX grants_user_client ON grants (user_id, client_id);
