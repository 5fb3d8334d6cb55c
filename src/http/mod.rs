//! actix only: each handler extracts its input, calls one domain function and maps the
//! result to a response. No diesel and no crypto here.

use std::sync::Arc;

use actix_web::web;

use crate::config::SignInConfig;
use crate::crypto::password::PasswordHasher;
use crate::crypto::MasterKey;
use crate::keys::KeyRing;
use crate::oauth::issuer::TokenSettings;
use crate::store::Db;

pub mod account;
pub mod assets;
pub mod authorize;
pub mod body_deadline;
pub mod client_addr;
pub mod consent;
pub mod cookies;
pub mod cors;
pub mod csrf;
pub mod devices;
pub mod discovery;
pub mod federation;
pub mod health;
pub mod introspect;
pub mod jwks;
pub mod login;
pub mod logout;
pub mod metrics;
pub mod mfa;
pub mod page;
pub mod providers;
pub mod request_log;
pub mod revocations;
pub mod revoke;
pub mod second_factor;
pub mod token;
pub mod userinfo;

/// What handlers share; built once by `Application::build`.
pub struct AppState {
    pub db: Db,
    pub keys: Arc<KeyRing>,
    /// The discovery document, serialised once (it only changes with the configuration).
    pub discovery_json: actix_web::web::Bytes,
    /// `Cache-Control` of `/jwks`, built once from `keys.jwks_max_age`.
    pub jwks_cache_control: actix_web::http::header::HeaderValue,
    pub metrics: metrics::Metrics,
    /// `scheme://host[:port]` of the issuer, for `Origin` checks.
    pub issuer_origin: String,
    pub cookies: cookies::Cookies,
    pub master: Arc<MasterKey>,
    pub hasher: PasswordHasher,
    pub sign_in: SignInConfig,
    pub tokens: Arc<TokenSettings>,
    /// The registered clients, reloaded in the background.
    pub registry: crate::oauth::registry::Registry,
    /// Proxies whose forwarding headers say where the client is.
    pub proxies: client_addr::TrustedProxies,
    /// Access tokens whose signature was already checked.
    pub verified: Arc<crate::oauth::issuer::VerifiedTokens>,
    /// The time every handler acts on (`clock.rs`).
    pub clock: crate::clock::Clock,
    /// Code lifetime and the assurance policy (`[mfa]`).
    pub flow: Arc<crate::authorization::Flow>,
    /// The issuer name authenticator apps show (`mfa.issuer_label`).
    pub mfa_label: String,
    /// The upstream providers people may sign in with (`[[upstreams]]`).
    pub federation: Arc<crate::federation::Federation>,
    /// The newest revocation this instance knows of, for `/revocations` followers.
    pub feed: Arc<crate::revocation::feed::Feed>,
    /// `private_key_jwt`: the clients' fetched key sets (`oauth::client_assertion`).
    pub assertions: Arc<crate::oauth::client_assertion::Assertions>,
    /// What a client assertion's `aud` may name: the issuer and the token endpoint.
    pub assertion_audiences: Vec<String>,
}

impl AppState {
    /// The request's client credentials, with a `private_key_jwt` assertion settled.
    pub async fn settle(
        &self,
        presented: crate::oauth::client_auth::Presented,
    ) -> Result<crate::oauth::client_auth::Presented, crate::oauth::OAuthError> {
        self.assertions
            .settle(
                &self.db,
                &self.registry,
                presented,
                &self.assertion_audiences,
                self.clock.now(),
            )
            .await
    }
}

/// Every route, so that tests and the binary mount the same application.
pub fn routes(cfg: &mut web::ServiceConfig, origins: &cors::AllowedOrigins) {
    cfg.service(
        web::resource("/.well-known/openid-configuration")
            .wrap(cors::public_reads(origins))
            .route(web::get().to(discovery::openid_configuration)),
    )
    .service(
        web::resource("/.well-known/oauth-authorization-server")
            .wrap(cors::public_reads(origins))
            .route(web::get().to(discovery::oauth_authorization_server)),
    )
    .service(
        web::resource("/jwks")
            .wrap(cors::public_reads(origins))
            .route(web::get().to(jwks::jwks)),
    )
    // Never CORS on /authorize: it is a top-level navigation (checklist §1.29).
    .service(
        web::resource("/authorize")
            .app_data(token::payload_config())
            .route(web::get().to(authorize::authorize_get))
            .route(web::post().to(authorize::authorize_post)),
    )
    .route("/authorize/resume", web::get().to(authorize::resume))
    .service(
        web::resource("/token")
            .app_data(token::payload_config())
            .wrap(cors::protocol(origins, &["POST"]))
            .route(web::post().to(token::token)),
    )
    .service(
        web::resource("/introspect")
            .app_data(token::payload_config())
            .route(web::post().to(introspect::introspect)),
    )
    .service(
        web::resource("/revoke")
            .app_data(token::payload_config())
            .wrap(cors::protocol(origins, &["POST"]))
            .route(web::post().to(revoke::revoke)),
    )
    // No CORS: resource servers follow it, not browsers.
    .route("/revocations", web::get().to(revocations::revocations))
    .service(
        web::resource("/userinfo")
            .app_data(token::payload_config())
            .wrap(cors::protocol(origins, &["GET", "POST"]))
            .route(web::get().to(userinfo::get))
            .route(web::post().to(userinfo::post)),
    )
    .service(
        web::resource("/consent")
            .app_data(login::form_config())
            .route(web::get().to(consent::show))
            .route(web::post().to(consent::submit)),
    )
    .service(
        web::resource("/logout")
            .app_data(web::PayloadConfig::new(16 * 1024))
            .route(web::get().to(logout::end_session_get))
            .route(web::post().to(logout::end_session_post)),
    )
    .service(
        web::resource("/logout/confirm")
            .app_data(web::PayloadConfig::new(16 * 1024))
            .route(web::post().to(logout::confirm)),
    )
    .service(
        web::resource("/login")
            .app_data(login::form_config())
            .route(web::get().to(login::show))
            .route(web::post().to(login::submit)),
    )
    .service(
        web::resource("/login/otp")
            .app_data(login::form_config())
            .route(web::get().to(second_factor::show))
            .route(web::post().to(second_factor::submit)),
    )
    .service(
        web::resource("/account/mfa")
            .app_data(login::form_config())
            .route(web::get().to(mfa::show))
            .route(web::post().to(mfa::confirm)),
    )
    .service(
        web::resource("/account/mfa/recovery-codes")
            .app_data(login::form_config())
            .route(web::post().to(mfa::renew_recovery_codes)),
    )
    .service(
        web::resource("/account/mfa/remove")
            .app_data(login::form_config())
            .route(web::post().to(mfa::remove)),
    )
    .service(
        web::resource("/federation/{upstream}/start")
            .app_data(login::form_config())
            .route(web::post().to(federation::start)),
    )
    .service(
        web::resource("/federation/{upstream}/callback")
            .app_data(federation::query_config())
            .route(web::get().to(federation::callback)),
    )
    .route("/account/providers", web::get().to(providers::show))
    .service(
        web::resource("/account/providers/{upstream}/link")
            .app_data(login::form_config())
            .route(web::post().to(providers::link)),
    )
    .service(
        web::resource("/account/providers/unlink")
            .app_data(login::form_config())
            .route(web::post().to(providers::unlink)),
    )
    .route("/account", web::get().to(account::show))
    .route("/account/devices", web::get().to(devices::show))
    .service(
        web::resource("/account/devices/sign-out")
            .app_data(login::form_config())
            .route(web::post().to(devices::sign_out_device)),
    )
    .service(
        web::resource("/account/devices/sign-out-everywhere")
            .app_data(login::form_config())
            .route(web::post().to(devices::sign_out_everywhere)),
    )
    .service(
        web::resource("/account/sign-out")
            .app_data(login::form_config())
            .route(web::post().to(account::sign_out)),
    )
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/static/{path:.*}", web::get().to(assets::asset));
}
