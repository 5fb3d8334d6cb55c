-- private_key_jwt client authentication (RFC 7523 §2.2, OpenID Connect Core §9; #14).
-- Mirrored under migrations/sqlite and migrations/postgres.

-- The client's public keys: a JWK Set registered inline (JSON), or where to fetch it.
ALTER TABLE clients ADD COLUMN jwks TEXT;
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;

-- Assertions seen, by their `jti`, until they expire: a replay is refused on every
-- instance (RFC 7523 §3 item 7).
CREATE TABLE client_assertion_jtis (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_expires_at ON client_assertion_jtis (expires_at);
