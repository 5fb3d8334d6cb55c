ALTER TABLE sessions DROP COLUMN idle_expires_at;
