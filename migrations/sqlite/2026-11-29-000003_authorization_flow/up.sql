-- The authorization code flow (#3). Mirrored under migrations/sqlite and migrations/postgres.

-- One grant per authorization: the code, and every token issued from it, belong to it.
-- Revoking the grant (a replayed code, reuse of a rotated refresh token, revocation)
-- revokes every access token that carries its id.
CREATE TABLE grants (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_user ON grants (user_id);
CREATE INDEX grants_expires ON grants (expires_at);

-- An authorization request waiting for the person (sign-in, consent), bound to one
-- browser by the hash of its binding cookie. The validated request is JSON.
CREATE TABLE authorization_requests (
    id TEXT PRIMARY KEY NOT NULL,
    binding_hash BLOB NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    request TEXT NOT NULL,
    consented_at BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX authorization_requests_expires ON authorization_requests (expires_at);
