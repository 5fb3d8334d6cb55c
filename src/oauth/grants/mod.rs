//! The grants of the token endpoint (RFC 6749 §4), one file each, and what they share:
//! the successful response (§5.1, plus OpenID Connect Core §3.1.3.3 `id_token`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::issuer::TokenSettings;
use super::registry::Registry;
use crate::crypto::MasterKey;
use crate::keys::KeySet;
use crate::people::sessions::Client;

pub mod authorization_code;
pub mod client_credentials;
pub mod mint;
pub mod refresh_token;

/// RFC 6749 §5.1.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// `Bearer` (RFC 6750 §4).
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// What a grant needs besides the database: settings, keys, and where the request came
/// from (kept with refresh tokens).
#[derive(Clone)]
pub struct TokenContext {
    pub settings: Arc<TokenSettings>,
    pub keys: Arc<KeySet>,
    pub master: Arc<MasterKey>,
    /// The registered clients in memory (client authentication without a query).
    pub registry: Registry,
    pub origin: Client,
}
