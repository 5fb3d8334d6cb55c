//! One integration-test binary: each module is a capability, each test starts the real
//! server on 127.0.0.1:0 against a temporary SQLite file, or against a throwaway
//! PostgreSQL database when `TEST_POSTGRES_URL` is set (see `scripts/test`).

mod common;

mod authorize;
mod cleanup;
mod cli;
mod client_credentials;
mod code_flow;
mod config;
mod cors;
mod devices;
mod discovery;
mod federation;
mod federation_answers;
mod health;
mod keys;
mod lifecycle;
mod logout;
mod private_key_jwt;
mod processes;
mod resources;
mod revocation;
mod signin;
mod step_up;
mod storage;
mod three_servers;
mod token;
mod userinfo;
mod verifier;
