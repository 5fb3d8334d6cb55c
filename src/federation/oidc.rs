//! An OpenID Connect upstream (`kind = "oidc"`), through the `openidconnect` crate as
//! the relying party: discovery from the issuer (OpenID Connect Discovery 1.0 §4; the
//! document's `issuer` must be the configured one, §4.3), cached for
//! `federation.discovery_max_age`; the authorization code flow with PKCE S256, `state`
//! and `nonce` (Core §3.1.2.1, RFC 7636); the ID token verified against the upstream's
//! JWKS — signature, `iss`, `aud`, `azp`, `exp`, `nonce` (Core §3.1.3.7) — with the keys
//! fetched again once when a token names a key we have not seen (a rotation upstream);
//! and UserInfo (§5.3) when the ID token carries no email.
//!
//! `kind = "google"` is this with Google's issuer by default, `hosted_domain` checked on
//! the `hd` claim, and an ID token whose `iss` is the issuer without its scheme verified
//! by `google.rs` (`openidconnect` cannot parse it).

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType, CoreUserInfoClaims,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClaimsVerificationError, Client, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use super::outbound::Outbound;
use super::{Asserted, FederationError};
use crate::config::UpstreamConfig;

/// The claims beyond the standard ones that we read: Google's `hd` (hosted domain).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hd: Option<String>,
}

impl AdditionalClaims for ExtraClaims {}

type Fields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The relying party's client, with the endpoints discovery gives.
type UpstreamClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<Fields, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How soon after one fetch the keys may be fetched again for an unknown `kid`.
const REFETCH_AFTER: i64 = 60;

pub struct Provider {
    issuer: IssuerUrl,
    hosted_domain: Option<String>,
    /// Google: the issuer as its ID tokens may also name it, without the scheme.
    schemeless_issuer: Option<String>,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    scopes: Vec<Scope>,
    max_age: i64,
    cached: RwLock<Option<(i64, CoreProviderMetadata)>>,
}

/// What the person's browser is sent to, and what must be kept to finish.
pub struct Started {
    pub url: url::Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl Provider {
    pub fn new(config: &UpstreamConfig, max_age: i64) -> Result<Provider, String> {
        let issuer = config.issuer().unwrap_or_default().to_owned();
        Ok(Provider {
            issuer: IssuerUrl::new(issuer.clone()).map_err(|e| e.to_string())?,
            hosted_domain: config.hosted_domain.clone(),
            schemeless_issuer: (config.kind == crate::config::UpstreamKind::Google)
                .then(|| super::google::schemeless(&issuer).to_owned()),
            client_id: ClientId::new(config.client_id.clone()),
            client_secret: config
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose().to_owned())),
            scopes: config
                .scopes()
                .into_iter()
                .filter(|s| s != "openid")
                .map(Scope::new)
                .collect(),
            max_age,
            cached: RwLock::new(None),
        })
    }

    /// The discovery document (with the JWKS), from the cache while it is fresh; with
    /// `refresh`, fetched again unless it was fetched within [`REFETCH_AFTER`].
    async fn metadata(
        &self,
        outbound: &Outbound,
        now: i64,
        refresh: bool,
    ) -> Result<CoreProviderMetadata, FederationError> {
        if let Some((at, metadata)) = &*self.cached.read().await {
            let fresh = now - at < self.max_age;
            if fresh && !(refresh && now - at >= REFETCH_AFTER) {
                return Ok(metadata.clone());
            }
        }
        let http = |request| outbound.send(request);
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &http)
            .await
            .map_err(|e| FederationError::Unreachable(format!("discovery: {e}")))?;
        *self.cached.write().await = Some((now, metadata.clone()));
        Ok(metadata)
    }

    /// The upstream's authorization endpoint, once discovery has been read.
    pub async fn authorization_origin(&self) -> Option<String> {
        let cached = self.cached.read().await;
        let (_, metadata) = cached.as_ref()?;
        Some(
            metadata
                .authorization_endpoint()
                .url()
                .origin()
                .ascii_serialization(),
        )
    }

    fn client(&self, metadata: CoreProviderMetadata, redirect: &RedirectUrl) -> UpstreamClient {
        UpstreamClient::from_provider_metadata(
            metadata,
            self.client_id.clone(),
            self.client_secret.clone(),
        )
        .set_redirect_uri(redirect.clone())
    }

    pub async fn start(
        &self,
        outbound: &Outbound,
        redirect: &RedirectUrl,
        now: i64,
    ) -> Result<Started, FederationError> {
        let client = self.client(self.metadata(outbound, now, false).await?, redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(self.scopes.iter().cloned())
            .set_pkce_challenge(challenge);
        if let Some(domain) = &self.hosted_domain {
            // A hint that narrows Google's account chooser; the `hd` claim decides.
            request = request.add_extra_param("hd", domain.clone());
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Redeems `code` and verifies what the upstream says of the person.
    pub async fn finish(
        &self,
        outbound: &Outbound,
        redirect: &RedirectUrl,
        code: String,
        nonce: &str,
        pkce_verifier: String,
        now: i64,
    ) -> Result<Asserted, FederationError> {
        let http = |request| outbound.send(request);
        let metadata = self.metadata(outbound, now, false).await?;
        let client = self.client(metadata, redirect);
        let exchanged = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| FederationError::Rejected(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&http)
            .await;
        let tokens = match exchanged {
            Ok(tokens) => tokens,
            // Google naming itself without the scheme: openidconnect cannot read it.
            Err(RequestTokenError::Parse(_, body)) if self.schemeless_issuer.is_some() => {
                return self.google_schemeless(outbound, &body, nonce, now).await;
            }
            Err(e) => return Err(token_error(e)),
        };
        let id_token = tokens
            .id_token()
            .ok_or_else(|| FederationError::Rejected("no ID token".into()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let at = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
        let verify = |client: &UpstreamClient| {
            let verifier = client.id_token_verifier().set_time_fn(move || at);
            id_token.claims(&verifier, &nonce).cloned().map_err(|e| {
                (
                    matches!(e, ClaimsVerificationError::SignatureVerification(_)),
                    e,
                )
            })
        };
        let claims = match verify(&client) {
            Ok(claims) => claims,
            // A key we have not seen: the upstream may have rotated; read its keys again.
            Err((true, _)) => {
                let fresh = self.client(self.metadata(outbound, now, true).await?, redirect);
                verify(&fresh)
                    .map_err(|(_, e)| FederationError::Rejected(format!("ID token: {e}")))?
            }
            Err((false, e)) => return Err(FederationError::Rejected(format!("ID token: {e}"))),
        };
        if let Some(domain) = &self.hosted_domain {
            if claims.additional_claims().hd.as_deref() != Some(domain) {
                return Err(FederationError::NotAllowed("hosted domain"));
            }
        }
        let mut asserted = Asserted {
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
            preferred_username: claims.preferred_username().map(|u| u.to_string()),
            amr: claims
                .auth_method_refs()
                .map(|refs| refs.iter().map(|r| r.to_string()).collect())
                .unwrap_or_default(),
        };
        if asserted.email.is_none() {
            if let Ok(request) = client.user_info(
                tokens.access_token().clone(),
                Some(claims.subject().clone()),
            ) {
                let info: Result<CoreUserInfoClaims, _> = request.request_async(&http).await;
                if let Ok(info) = info {
                    asserted.email = info.email().map(|e| e.to_string());
                    asserted.email_verified = info.email_verified().unwrap_or(false);
                    if asserted.name.is_none() {
                        asserted.name =
                            info.name().and_then(|n| n.get(None)).map(|n| n.to_string());
                    }
                }
            }
        }
        Ok(asserted)
    }
}

impl Provider {
    /// A Google ID token whose `iss` has no scheme, verified by `google.rs` against the
    /// published keys (fetched again once for a key not among them).
    async fn google_schemeless(
        &self,
        outbound: &Outbound,
        body: &[u8],
        nonce: &str,
        now: i64,
    ) -> Result<Asserted, FederationError> {
        let expected = super::google::Expected {
            issuer: self.schemeless_issuer.as_deref().unwrap_or_default(),
            client_id: self.client_id.as_str(),
            nonce,
            hosted_domain: self.hosted_domain.as_deref(),
            now,
        };
        for refresh in [false, true] {
            let metadata = self.metadata(outbound, now, refresh).await?;
            match super::google::verify(body, metadata.jwks(), &expected) {
                Ok(asserted) => return Ok(asserted),
                Err(super::google::Failure::Refused(e)) => return Err(e),
                Err(super::google::Failure::UnknownKey) => continue,
            }
        }
        Err(FederationError::Rejected("ID token: unknown key".into()))
    }
}

/// What a failed code exchange means for the person (the upstream's error code, never
/// its description: that is the upstream's text).
pub(super) fn token_error<
    E: std::error::Error,
    T: openidconnect::ErrorResponseType + std::fmt::Display + 'static,
>(
    e: RequestTokenError<E, StandardErrorResponse<T>>,
) -> FederationError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            FederationError::Rejected(format!("token endpoint: {}", r.error()))
        }
        RequestTokenError::Request(e) => {
            FederationError::Unreachable(format!("token endpoint: {e}"))
        }
        RequestTokenError::Parse(..) | RequestTokenError::Other(_) => {
            FederationError::Rejected("token endpoint: an unreadable answer".into())
        }
    }
}
