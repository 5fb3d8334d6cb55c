-- Which tokens a client may introspect (#11 item 11). Mirrored under migrations/sqlite
-- and migrations/postgres.

-- 'own': tokens issued to this client only (the default, also for existing clients);
-- 'any': any token, for resource servers. Another client's token is `active: false`.
ALTER TABLE clients ADD COLUMN introspection TEXT NOT NULL DEFAULT 'own';
