//! A fake Facebook on loopback: the login dialog (approves at once), the code exchange,
//! `debug_token` (checks the app token) and Graph `/me` (checks `appsecret_proof`), as
//! Facebook documents them for `v21.0`.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpResponse, HttpServer};
use portcullis::crypto::token;
use portcullis::federation::facebook::appsecret_proof;

pub const APP_ID: &str = "1234567890";
pub const APP_SECRET: &str = "fake-facebook-app-secret";

#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The app-scoped user id, name and (maybe) email.
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    /// What `debug_token` says of the token.
    pub is_valid: bool,
    pub app_id: String,
    /// The secret `/me` checks `appsecret_proof` with.
    pub proof_secret: String,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            id: "10150000000000001".into(),
            name: "Fiona Facebook".into(),
            email: Some("fiona@facebook.test".into()),
            is_valid: true,
            app_id: APP_ID.into(),
            proof_secret: APP_SECRET.into(),
        }
    }
}

struct Shared {
    behaviour: Arc<Mutex<Behaviour>>,
    /// code → (redirect_uri, code_challenge)
    codes: Mutex<BTreeMap<String, (String, String)>>,
    /// user token → user id
    tokens: Mutex<BTreeMap<String, String>>,
}

pub struct FakeFacebook {
    pub base: String,
    pub behaviour: Arc<Mutex<Behaviour>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for FakeFacebook {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeFacebook {
    pub async fn start() -> FakeFacebook {
        let listener = TcpListener::bind("127.0.0.2:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = web::Data::new(Shared {
            behaviour: Default::default(),
            codes: Default::default(),
            tokens: Default::default(),
        });
        let behaviour = shared.behaviour.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route("/v21.0/dialog/oauth", web::get().to(dialog))
                .route("/v21.0/oauth/access_token", web::get().to(access_token))
                .route("/v21.0/debug_token", web::get().to(debug_token))
                .route("/v21.0/me", web::get().to(me))
        })
        .listen(listener)
        .unwrap()
        .workers(1)
        .disable_signals()
        .run();
        FakeFacebook {
            base,
            behaviour,
            server: tokio::spawn(server),
        }
    }

    pub fn behave(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.behaviour.lock().unwrap());
    }
}

type Query = web::Query<BTreeMap<String, String>>;

fn graph_error(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(serde_json::json!({
        "error": { "message": message, "type": "OAuthException", "code": 100 }
    }))
}

async fn dialog(shared: web::Data<Shared>, q: Query) -> HttpResponse {
    let q = q.into_inner();
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != APP_ID || get("code_challenge_method") != "S256" {
        return graph_error("bad dialog request");
    }
    let code = token::random_secret();
    shared
        .codes
        .lock()
        .unwrap()
        .insert(code.clone(), (get("redirect_uri"), get("code_challenge")));
    HttpResponse::SeeOther()
        .insert_header((
            "location",
            format!("{}?code={code}&state={}", get("redirect_uri"), get("state")),
        ))
        .finish()
}

async fn access_token(shared: web::Data<Shared>, q: Query) -> HttpResponse {
    let q = q.into_inner();
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let Some((redirect_uri, challenge)) = shared.codes.lock().unwrap().remove(&get("code")) else {
        return graph_error("This authorization code has been used.");
    };
    let verifier_ok = token::b64url(&token::sha256(get("code_verifier").as_bytes())) == challenge;
    if get("client_id") != APP_ID
        || get("client_secret") != APP_SECRET
        || get("redirect_uri") != redirect_uri
        || !verifier_ok
    {
        return graph_error("Error validating verification code.");
    }
    let user_token = format!("EAAB{}", token::random_secret());
    let id = shared.behaviour.lock().unwrap().id.clone();
    shared.tokens.lock().unwrap().insert(user_token.clone(), id);
    HttpResponse::Ok().json(serde_json::json!({
        "access_token": user_token, "token_type": "bearer", "expires_in": 5183944
    }))
}

async fn debug_token(shared: web::Data<Shared>, q: Query) -> HttpResponse {
    let q = q.into_inner();
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("access_token") != format!("{APP_ID}|{APP_SECRET}") {
        return graph_error("Invalid OAuth access token.");
    }
    let b = shared.behaviour.lock().unwrap().clone();
    let Some(user_id) = shared
        .tokens
        .lock()
        .unwrap()
        .get(&get("input_token"))
        .cloned()
    else {
        return HttpResponse::Ok().json(serde_json::json!({ "data": { "is_valid": false } }));
    };
    HttpResponse::Ok().json(serde_json::json!({
        "data": { "app_id": b.app_id, "is_valid": b.is_valid, "user_id": user_id,
                  "type": "USER", "scopes": ["email", "public_profile"] }
    }))
}

async fn me(shared: web::Data<Shared>, q: Query) -> HttpResponse {
    let q = q.into_inner();
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let b = shared.behaviour.lock().unwrap().clone();
    let user_token = get("access_token");
    if get("appsecret_proof") != appsecret_proof(&b.proof_secret, &user_token) {
        return graph_error("Invalid appsecret_proof provided in the API argument");
    }
    let Some(id) = shared.tokens.lock().unwrap().get(&user_token).cloned() else {
        return graph_error("Invalid OAuth access token.");
    };
    let mut profile = serde_json::json!({ "id": id, "name": b.name });
    if let Some(email) = b.email {
        profile["email"] = serde_json::Value::String(email);
    }
    HttpResponse::Ok().json(profile)
}
