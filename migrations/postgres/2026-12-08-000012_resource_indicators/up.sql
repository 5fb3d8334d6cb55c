-- Resource indicators (RFC 8707, #14). Mirrored under migrations/sqlite and
-- migrations/postgres.

-- The resources (absolute URIs) a client may ask tokens for, as a JSON array, and the
-- one its access tokens are for when a request names none (NULL: `tokens.audience`).
ALTER TABLE clients ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN default_resource TEXT;

-- The resources an authorization request named: a code carries them to its grant, and
-- each refresh token of the grant carries them on, so a token request can only pick
-- among them (RFC 8707 §2.2).
ALTER TABLE authorization_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE refresh_tokens ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
