-- Federated sign-in (#13). Mirrored under migrations/sqlite and migrations/postgres.

-- One sign-in at an upstream provider in flight: found by the SHA-256 of the `state`
-- sent to the upstream, bound to the browser that started it (the hash of its binding
-- cookie) and to the authorization request waiting for it, and taken once. `sealed`
-- holds the nonce and the PKCE verifier, AES-GCM under the instance key with the row id
-- as associated data. `link_user_id`: a signed-in person linking this provider to their
-- account, instead of signing in.
CREATE TABLE federation_states (
    id TEXT PRIMARY KEY NOT NULL,
    upstream TEXT NOT NULL,
    binding_hash BYTEA NOT NULL,
    request_id TEXT,
    link_user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX federation_states_expires ON federation_states (expires_at);
