ALTER TABLE clients DROP COLUMN introspection;
