-- Resource servers (#14): every revocation, in the order it committed, for the feed.
-- Mirrored under migrations/sqlite and migrations/postgres.
--
-- `seq` is the cursor a follower resumes from: assigned as MAX + 1 while the writer
-- holds the revocation lock (SQLite's write lock; a PostgreSQL advisory lock held to
-- commit), so a later `seq` always committed later — even within one second — and a
-- reader never sees a gap fill in behind its cursor. `kind` is 'grant' (a grant id:
-- access tokens carry it as `grant_id`), 'jti' (one access token) or 'user' (every
-- token of the user issued until `occurred_at`). `expires_at`: when no token it could
-- reject is still alive; the clean-up removes the event after that, never the newest.
CREATE TABLE revocation_events (
    seq BIGINT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revocation_events_expires ON revocation_events (expires_at);
