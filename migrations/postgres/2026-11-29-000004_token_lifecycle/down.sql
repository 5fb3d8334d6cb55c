DROP INDEX grants_user_client;
DROP INDEX refresh_tokens_parent;
ALTER TABLE refresh_tokens DROP COLUMN grace_response;
