DROP TABLE client_generation;
