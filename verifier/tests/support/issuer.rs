//! A stand-in issuer on loopback for the verifier's own tests and benchmark: discovery
//! and a JWKS it can change while running (key rotation), signing tokens with its keys.
//! Tests against the real Portcullis live in the server's suite (`tests/it/verifier.rs`).

#![allow(dead_code)]

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpResponse, HttpServer};
use portcullis_jose::{jws, Alg, Signer};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

/// One signing key: the private half and its published JWK.
pub struct Key {
    pub kid: String,
    pub signer: Signer,
    pub pkcs8: Vec<u8>,
}

impl Key {
    pub fn es256() -> Key {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap()
                .as_ref()
                .to_vec();
        Key::from_pkcs8(Alg::ES256, pkcs8)
    }

    pub fn rs256() -> Key {
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
        Key::from_pkcs8(Alg::RS256, key.to_pkcs8_der().unwrap().as_bytes().to_vec())
    }

    fn from_pkcs8(alg: Alg, pkcs8: Vec<u8>) -> Key {
        let signer = Signer::from_pkcs8(alg, &pkcs8).unwrap();
        Key {
            kid: signer.public_jwk().thumbprint(),
            signer,
            pkcs8,
        }
    }

    pub fn published(&self) -> Value {
        self.signer
            .public_jwk()
            .to_published(&self.kid, self.signer.alg())
    }

    /// A token with this key, this `typ` and these claims.
    pub fn sign(&self, typ: &str, claims: &Value) -> String {
        jws::encode(&self.signer, &self.kid, typ, claims)
    }
}

pub struct Issuer {
    pub url: String,
    jwks: Arc<Mutex<Value>>,
    cache_control: Arc<Mutex<String>>,
    jwks_fetches: Arc<AtomicUsize>,
}

impl Issuer {
    /// Serves discovery and `keys` (published) on a loopback port, in its own thread.
    pub fn start(keys: &[&Key]) -> Issuer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let jwks = Arc::new(Mutex::new(json!({ "keys": [] })));
        let cache_control = Arc::new(Mutex::new("public, max-age=300".to_owned()));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let issuer = Issuer {
            url: url.clone(),
            jwks: jwks.clone(),
            cache_control: cache_control.clone(),
            jwks_fetches: jwks_fetches.clone(),
        };
        issuer.publish(keys);
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let discovery = json!({
                    "issuer": url,
                    "jwks_uri": format!("{url}/jwks"),
                });
                HttpServer::new(move || {
                    let (discovery, jwks) = (discovery.clone(), jwks.clone());
                    let (cache_control, fetches) = (cache_control.clone(), jwks_fetches.clone());
                    App::new()
                        .route(
                            "/.well-known/openid-configuration",
                            web::get().to(move || {
                                let discovery = discovery.clone();
                                async move { HttpResponse::Ok().json(discovery) }
                            }),
                        )
                        .route(
                            "/jwks",
                            web::get().to(move || {
                                let body = jwks.lock().unwrap().clone();
                                let cache = cache_control.lock().unwrap().clone();
                                fetches.fetch_add(1, Ordering::SeqCst);
                                async move {
                                    HttpResponse::Ok()
                                        .insert_header(("cache-control", cache))
                                        .json(body)
                                }
                            }),
                        )
                })
                .workers(1)
                .listen(listener)
                .unwrap()
                .run()
                .await
                .unwrap();
            });
        });
        issuer
    }

    /// Replaces the published key set.
    pub fn publish(&self, keys: &[&Key]) {
        let keys: Vec<Value> = keys.iter().map(|k| k.published()).collect();
        *self.jwks.lock().unwrap() = json!({ "keys": keys });
    }

    /// Publishes raw JWKS entries (keys of kinds we must skip).
    pub fn publish_raw(&self, keys: Vec<Value>) {
        *self.jwks.lock().unwrap() = json!({ "keys": keys });
    }

    pub fn set_cache_control(&self, value: &str) {
        *self.cache_control.lock().unwrap() = value.to_owned();
    }

    pub fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    /// RFC 9068 claims for audience `api`, valid around `now`.
    pub fn claims(&self, now: i64) -> Value {
        json!({
            "iss": self.url, "sub": "alice", "aud": "api", "exp": now + 300, "iat": now,
            "jti": "jti-1", "client_id": "spa", "scope": "openid images:read",
            "auth_time": now, "acr": "urn:portcullis:acr:pwd", "grant_id": "grant-1"
        })
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
