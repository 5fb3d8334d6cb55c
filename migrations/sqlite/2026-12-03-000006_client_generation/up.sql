-- The clients' generation (#11 item 5). Mirrored under migrations/sqlite and migrations/postgres.

-- One row, bumped in the transaction of every change to `clients`: an instance's
-- in-memory copy of the clients is trusted only while its generation is the one stored
-- here, read after the request arrived.
CREATE TABLE client_generation (
    id INTEGER PRIMARY KEY NOT NULL,
    generation BIGINT NOT NULL
);
INSERT INTO client_generation (id, generation) VALUES (1, 0);
