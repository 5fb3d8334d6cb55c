-- Failed sign-in counters, shared by every instance: one row per account
-- ("user:<username>") and per client address ("ip:<address>").
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    window_started_at BIGINT NOT NULL,
    locked_until BIGINT
);
