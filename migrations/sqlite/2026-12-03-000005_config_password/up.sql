-- Users from [[users]] (#11 item 4). Mirrored under migrations/sqlite and migrations/postgres.

-- HMAC (under the instance key) of the password the configuration file last set, so a
-- start re-applies the file's password only when the file's value changed, never over a
-- password set since with `user set-password`. NULL for users the file never set.
ALTER TABLE users ADD COLUMN config_password_mac BLOB;
