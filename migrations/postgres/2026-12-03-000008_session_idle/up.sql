-- Sessions end after a time without use (#11 item 12). Mirrored under migrations/sqlite
-- and migrations/postgres.

-- When the session ends unless used before: `sign_in.session_idle_timeout` after
-- `last_seen_at`, never after `expires_at`. Sessions from before end at `expires_at`.
ALTER TABLE sessions ADD COLUMN idle_expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET idle_expires_at = expires_at;
