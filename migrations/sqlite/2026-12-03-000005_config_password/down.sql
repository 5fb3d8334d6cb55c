ALTER TABLE users DROP COLUMN config_password_mac;
