ALTER TABLE refresh_tokens DROP COLUMN resources;
ALTER TABLE authorization_codes DROP COLUMN resources;
ALTER TABLE clients DROP COLUMN default_resource;
ALTER TABLE clients DROP COLUMN resources;
