DROP TABLE authorization_requests;
DROP TABLE grants;
