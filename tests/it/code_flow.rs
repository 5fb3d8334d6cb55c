//! The authorization code flow end to end (issue #3 "Done when"), with the `openidconnect`
//! crate as an independent relying party: discovery, an authorization URL with PKCE S256,
//! nonce and state, our sign-in and consent pages submitted like a browser, `code`,
//! `state` and `iss` on the callback, the exchange, the ID token verified by the crate
//! (signature from our JWKS, nonce, `at_hash`), and `/userinfo`.

use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use crate::common::oidc::{self, browser, drive, location, query_of};
use crate::common::TestApp;

fn relying_party_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// One whole flow for `client_id`; returns the subject it signed in as.
async fn full_flow(app: &TestApp, client_id: &str, secret: Option<&str>, redirect: &str) -> String {
    let http = relying_party_http();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.into()),
        secret.map(|s| ClientSecret::new(s.into())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = browser();
    let callback = drive(app, &browser, url.as_str()).await;
    assert_eq!(callback.status(), 303);
    let to = location(&callback);
    assert!(to.starts_with(redirect), "sent back to the client: {to}");
    let params = query_of(&to);
    assert_eq!(params["state"], *state.secret(), "state echoed");
    assert_eq!(params["iss"], app.issuer, "RFC 9207 iss");

    let tokens = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code exchanges for tokens");
    assert!(
        tokens.refresh_token().is_some(),
        "offline_access was consented"
    );
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("the ID token verifies");
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash");
    assert!(claims.auth_time().is_some());
    assert!(claims.auth_context_ref().is_some(), "acr");

    let info: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.preferred_username().unwrap().as_str(), "alice");
    assert_eq!(info.email().unwrap().as_str(), "alice@example.test");
    assert_eq!(info.email_verified(), Some(true));
    claims.subject().to_string()
}

#[tokio::test]
async fn a_confidential_client_signs_a_person_in_with_openidconnect() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    full_flow(&app, oidc::WEB, Some(oidc::WEB_SECRET), oidc::WEB_CALLBACK).await;
}

#[tokio::test]
async fn a_public_client_signs_a_person_in_on_a_loopback_port() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let a = full_flow(&app, oidc::SPA, None, oidc::SPA_CALLBACK).await;
    let b = full_flow(&app, oidc::WEB, Some(oidc::WEB_SECRET), oidc::WEB_CALLBACK).await;
    assert_eq!(a, b, "the public sub is stable per user across clients");
}
