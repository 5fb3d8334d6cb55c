//! #14's forged tokens, each refused with the right error, and key rotation picked up
//! without a restart or a failed verification — against a stand-in issuer on loopback.

mod support;

use std::time::Duration;

use actix_web::{test, web, App, HttpResponse};
use base64::Engine;
use portcullis_verifier::{AccessToken, Alg, Authorized, Policy, Rejection, Requirement, Verifier};
use ring::hmac;
use serde_json::{json, Value};
use support::issuer::{now, Issuer, Key};

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// A compact JWS with any header at all, signed by `sign` over the signing input.
fn forge(header: Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header).unwrap()),
        b64(&serde_json::to_vec(claims).unwrap())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

async fn verifier(issuer: &Issuer) -> Verifier {
    Verifier::builder(&issuer.url)
        .audience("api")
        .build()
        .await
        .unwrap()
}

fn invalid_token(result: Result<AccessToken, Rejection>, why: &str) -> String {
    match result {
        Err(Rejection::InvalidToken(description)) => description,
        other => panic!("{why}: expected invalid_token, got {other:?}"),
    }
}

#[actix_web::test]
async fn a_good_token_verifies_and_hands_over_its_claims() {
    let key = Key::es256();
    let issuer = Issuer::start(&[&key]);
    let v = verifier(&issuer).await;
    let token = v
        .verify(&key.sign("at+jwt", &issuer.claims(now())))
        .await
        .unwrap();
    assert_eq!(token.sub, "alice");
    assert_eq!(token.aud, ["api"]);
    assert!(token.has_scope("images:read"));
    assert_eq!(token.acr.as_deref(), Some("urn:portcullis:acr:pwd"));
    // RFC 7515 §4.1.9: the `application/` form of the media type is the same type.
    assert!(v
        .verify(&key.sign("application/at+jwt", &issuer.claims(now())))
        .await
        .is_ok());
}

/// OpenID Connect Discovery §4.3: the document must be for the issuer asked, identically;
/// a trailing slash is another issuer (its tokens' `iss` would differ).
#[actix_web::test]
async fn discovery_for_another_issuer_is_refused() {
    let key = Key::es256();
    let issuer = Issuer::start(&[&key]);
    let other = Verifier::builder(format!("{}/", issuer.url))
        .audience("api")
        .build()
        .await;
    assert!(matches!(
        other,
        Err(portcullis_verifier::SetupError::Discovery(_))
    ));
}

#[actix_web::test]
async fn alg_none_is_refused() {
    let key = Key::es256();
    let issuer = Issuer::start(&[&key]);
    let v = verifier(&issuer).await;
    let token = forge(
        json!({"alg": "none", "kid": key.kid, "typ": "at+jwt"}),
        &issuer.claims(now()),
        |_| Vec::new(),
    );
    invalid_token(v.verify(&token).await, "alg=none");
    // Without the trailing signature, too.
    invalid_token(
        v.verify(token.trim_end_matches('.')).await,
        "alg=none, two parts",
    );
}

#[actix_web::test]
async fn hs256_keyed_with_our_public_key_is_refused_as_pem_and_as_jwk() {
    use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
    let key = Key::rs256();
    let issuer = Issuer::start(&[&key]);
    let v = verifier(&issuer).await;
    let private = rsa::PrivateKey::from_pkcs8_der(&key.pkcs8).unwrap();
    let pem = private
        .to_public_key()
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap();
    let jwk = serde_json::to_vec(&key.published()).unwrap();
    for (name, secret) in [("PEM", pem.as_bytes().to_vec()), ("JWK", jwk)] {
        let token = forge(
            json!({"alg": "HS256", "kid": key.kid, "typ": "at+jwt"}),
            &issuer.claims(now()),
            |input| {
                let k = hmac::Key::new(hmac::HMAC_SHA256, &secret);
                hmac::sign(&k, input).as_ref().to_vec()
            },
        );
        invalid_token(v.verify(&token).await, name);
    }
}

#[actix_web::test]
async fn an_unknown_kid_is_refused_after_one_fetch_and_a_burst_costs_no_more() {
    let key = Key::es256();
    let issuer = Issuer::start(&[&key]);
    let v = Verifier::builder(&issuer.url)
        .audience("api")
        .refetch_cooldown(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    let stranger = Key::es256();
    let before = issuer.jwks_fetches();
    for _ in 0..20 {
        let description = invalid_token(
            v.verify(&stranger.sign("at+jwt", &issuer.claims(now())))
                .await,
            "kid",
        );
        assert_eq!(description, "the token is signed with an unknown key");
    }
    assert_eq!(
        issuer.jwks_fetches(),
        before + 1,
        "one fetch, then the cool-down"
    );
}

#[actix_web::test]
async fn our_kid_with_an_attackers_key_is_refused() {
    let key = Key::es256();
    let issuer = Issuer::start(&[&key]);
    let v = verifier(&issuer).await;
    let attacker = Key::es256();
    let token = forge(
        json!({"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}),
        &issuer.claims(now()),
        |input| attacker.signer.sign(input),
    );
    let description = invalid_token(v.verify(&token).await, "our kid");
    assert_eq!(description, "the token is not signed by the issuer");
}

#[actix_web::test]
async fn a_key_embedded_in_the_header_is_never_used() {
    let key = Key::es256();
    let issuer = Issuer::start(&[&key]);
    let v = verifier(&issuer).await;
    let attacker = Key::es256();
    for header in [
        json!({"alg": "ES256", "typ": "at+jwt", "jwk": attacker.published()}),
        json!({"alg": "ES256", "typ": "at+jwt", "kid": attacker.kid, "jwk": attacker.published()}),
        json!({"alg": "ES256", "typ": "at+jwt", "kid": key.kid, "jwk": attacker.published()}),
    ] {
        let token = forge(header.clone(), &issuer.claims(now()), |input| {
            attacker.signer.sign(input)
        });
        invalid_token(v.verify(&token).await, &header.to_string());
    }
}

#[actix_web::test]
async fn lifetime_issuer_audience_and_type_are_checked() {
    let key = Key::es256();
    let issuer = Issuer::start(&[&key]);
    let v = verifier(&issuer).await;
    let t = now();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = issuer.claims(t);
        change(&mut claims);
        key.sign("at+jwt", &claims)
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            with(&|c| c["exp"] = json!(t - 31)),
            "the token has expired",
        ),
        (
            "not yet valid",
            with(&|c| c["nbf"] = json!(t + 31)),
            "the token is not valid yet (nbf)",
        ),
        (
            "issued in the future",
            with(&|c| c["iat"] = json!(t + 31)),
            "the token was issued in the future (iat)",
        ),
        (
            "wrong iss",
            with(&|c| c["iss"] = json!("https://evil.example")),
            "the token is from another issuer",
        ),
        (
            "wrong aud",
            with(&|c| c["aud"] = json!("images")),
            "the token is not meant for this resource server (aud)",
        ),
        (
            "an ID token",
            key.sign("JWT", &issuer.claims(t)),
            "the token is not an access token (typ)",
        ),
        (
            "no typ",
            forge(
                json!({"alg": "ES256", "kid": key.kid}),
                &issuer.claims(t),
                |i| key.signer.sign(i),
            ),
            "the token is not an access token (typ)",
        ),
    ];
    for (name, token, expected) in cases {
        assert_eq!(
            invalid_token(v.verify(&token).await, name),
            expected,
            "{name}"
        );
    }
    // Within the leeway is fine; an audience list naming us is fine.
    assert!(v.verify(&with(&|c| c["exp"] = json!(t - 29))).await.is_ok());
    assert!(v
        .verify(&with(&|c| c["aud"] = json!(["images", "api"])))
        .await
        .is_ok());
}

#[actix_web::test]
async fn a_missing_scope_is_403_insufficient_scope() {
    let key = Key::es256();
    let issuer = Issuer::start(&[&key]);
    let v = verifier(&issuer).await;
    let header = format!("Bearer {}", key.sign("at+jwt", &issuer.claims(now())));
    let refused = v
        .authorize(Some(&header), &Requirement::new().scope("images:write"))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused,
        Rejection::InsufficientScope {
            scope: "images:write".into()
        }
    );
    assert!(v
        .authorize(Some(&header), &Requirement::new().scope("images:read"))
        .await
        .is_ok());
}

#[actix_web::test]
async fn an_algorithm_off_the_allow_list_is_refused_though_the_key_is_published() {
    let (es, rs) = (Key::es256(), Key::rs256());
    let issuer = Issuer::start(&[&es, &rs]);
    let v = Verifier::builder(&issuer.url)
        .audience("api")
        .algorithms(&[Alg::ES256])
        .build()
        .await
        .unwrap();
    assert!(v
        .verify(&es.sign("at+jwt", &issuer.claims(now())))
        .await
        .is_ok());
    invalid_token(
        v.verify(&rs.sign("at+jwt", &issuer.claims(now()))).await,
        "RS256",
    );
}

#[actix_web::test]
async fn keys_for_encryption_or_another_algorithm_are_skipped() {
    let key = Key::es256();
    let issuer = Issuer::start(&[]);
    let mut enc = key.published();
    enc["use"] = json!("enc");
    let mut other_alg = key.published();
    other_alg["alg"] = json!("RS256");
    issuer.publish_raw(vec![enc, other_alg]);
    let v = verifier(&issuer).await;
    invalid_token(
        v.verify(&key.sign("at+jwt", &issuer.claims(now()))).await,
        "unusable",
    );
}

#[actix_web::test]
async fn a_rotation_is_picked_up_without_a_restart_or_a_failed_verification() {
    let old = Key::es256();
    let issuer = Issuer::start(&[&old]);
    // Keys cached for an hour: only the unknown kid makes the verifier look again.
    issuer.set_cache_control("public, max-age=3600");
    let v = verifier(&issuer).await;
    let new = Key::rs256();
    let mut failures = 0;
    for round in 0..40 {
        if round == 10 {
            // Announced: published before it signs.
            issuer.publish(&[&old, &new]);
        }
        if round == 20 {
            issuer.publish(&[&new]);
        }
        let signer = if round < 15 { &old } else { &new };
        if v.verify(&signer.sign("at+jwt", &issuer.claims(now())))
            .await
            .is_err()
        {
            failures += 1;
        }
    }
    assert_eq!(failures, 0);
}

#[actix_web::test]
async fn keys_removed_from_the_jwks_stop_verifying_once_the_cache_expires() {
    let (old, new) = (Key::es256(), Key::es256());
    let issuer = Issuer::start(&[&old]);
    issuer.set_cache_control("no-store");
    let v = Verifier::builder(&issuer.url)
        .audience("api")
        .refetch_cooldown(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let token = old.sign("at+jwt", &issuer.claims(now()));
    assert!(v.verify(&token).await.is_ok());
    issuer.publish(&[&new]);
    // The stale set is refreshed in the background; wait for that fetch to land.
    let before = issuer.jwks_fetches();
    let mut refused = false;
    for _ in 0..500 {
        if v.verify(&token).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "a key the issuer withdrew must stop verifying");
    assert!(issuer.jwks_fetches() > before);
}

struct Payments;
impl Policy for Payments {
    fn requirement() -> Requirement {
        Requirement::new()
            .scope("images:read")
            .acr(["urn:portcullis:acr:mfa"])
            .max_age(Duration::from_secs(300))
    }
}

async fn whoami(token: AccessToken) -> HttpResponse {
    HttpResponse::Ok().body(token.sub)
}

async fn pay(token: Authorized<Payments>) -> HttpResponse {
    HttpResponse::Ok().body(token.sub.clone())
}

#[actix_web::test]
async fn the_actix_extractors_answer_rfc_6750_and_rfc_9470_challenges() {
    let key = Key::es256();
    let issuer = Issuer::start(&[&key]);
    let v = Verifier::builder(&issuer.url)
        .audience("api")
        .realm("api")
        .build()
        .await
        .unwrap();
    let app = test::init_service(
        App::new()
            .app_data(v.clone())
            .route("/me", web::get().to(whoami))
            .route("/pay", web::post().to(pay)),
    )
    .await;
    let call = |method: actix_web::http::Method, path: &str, authorization: Option<String>| {
        let mut req = test::TestRequest::default().method(method).uri(path);
        if let Some(a) = authorization {
            req = req.insert_header(("authorization", a));
        }
        req.to_request()
    };
    let challenge = |res: &actix_web::dev::ServiceResponse| {
        res.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    use actix_web::http::Method;

    let res = test::call_service(&app, call(Method::GET, "/me", None)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(challenge(&res).unwrap(), "Bearer realm=\"api\"");

    let res = test::call_service(
        &app,
        call(Method::GET, "/me", Some("Bearer not-a-jwt".into())),
    )
    .await;
    assert_eq!(res.status(), 401);
    assert!(challenge(&res).unwrap().contains("error=\"invalid_token\""));
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");

    let t = now();
    let pwd = format!("Bearer {}", key.sign("at+jwt", &issuer.claims(t)));
    let res = test::call_service(&app, call(Method::GET, "/me", Some(pwd.clone()))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(test::read_body(res).await, "alice");

    // RFC 9470 §3: a password-level token asks for the mfa level.
    let res = test::call_service(&app, call(Method::POST, "/pay", Some(pwd))).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        challenge(&res).unwrap(),
        "Bearer realm=\"api\", error=\"insufficient_user_authentication\", \
         error_description=\"a different authentication level is required\", \
         acr_values=\"urn:portcullis:acr:mfa\""
    );
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["error"], "insufficient_user_authentication");

    let bearer = |claims: &Value| Some(format!("Bearer {}", key.sign("at+jwt", claims)));

    // An mfa token from a sign-in too long ago asks for a fresh one, with max_age.
    let mut old_mfa = issuer.claims(t);
    old_mfa["acr"] = json!("urn:portcullis:acr:mfa");
    old_mfa["auth_time"] = json!(t - 301);
    let res = test::call_service(&app, call(Method::POST, "/pay", bearer(&old_mfa))).await;
    assert_eq!(res.status(), 401);
    let header = challenge(&res).unwrap();
    assert!(
        header.contains("error=\"insufficient_user_authentication\""),
        "{header}"
    );
    assert!(header.contains("max_age=\"300\""), "{header}");
    assert!(!header.contains("acr_values"), "{header}");

    let mut mfa = issuer.claims(t);
    mfa["acr"] = json!("urn:portcullis:acr:mfa");
    let res = test::call_service(&app, call(Method::POST, "/pay", bearer(&mfa))).await;
    assert_eq!(res.status(), 200);

    // Without the scope: 403, whatever the level.
    mfa["scope"] = json!("openid");
    let res = test::call_service(&app, call(Method::POST, "/pay", bearer(&mfa))).await;
    assert_eq!(res.status(), 403);
    assert!(challenge(&res).unwrap().contains("scope=\"images:read\""));

    let res = test::call_service(&app, call(Method::GET, "/me", Some("Bearer a b".into()))).await;
    assert_eq!(res.status(), 400);
    assert!(challenge(&res)
        .unwrap()
        .contains("error=\"invalid_request\""));
}
