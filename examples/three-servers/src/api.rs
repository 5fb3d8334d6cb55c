//! The API server: the SPA's backend. It verifies the person's token locally (and
//! follows the revocation feed), calls the image server with a `client_credentials`
//! token of its own (`resource` = the image server), and asks for step-up on payments.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use portcullis_verifier::{AccessToken, FeedOutage, Requirement, Verifier};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

/// What the API server needs to know.
#[derive(Clone)]
pub struct Settings {
    /// The issuer (Portcullis), as in `iss`.
    pub issuer: String,
    /// This server's resource URI: what `aud` of the person's tokens must be.
    pub resource: String,
    /// Its own client at the issuer: `client_credentials` for the image server, and
    /// `introspection = "any"` to follow the revocation feed.
    pub client_id: String,
    pub client_secret: String,
    /// Where the image server listens, and its resource URI.
    pub images_url: String,
    pub images_resource: String,
    /// The level `/payments` needs (the issuer's `mfa` name).
    pub payment_acr: String,
}

/// The API server's state: its verifier, and its own token for the image server.
pub struct Api {
    settings: Settings,
    verifier: Verifier,
    http: reqwest::Client,
    token_endpoint: String,
    service_token: Mutex<Option<(String, Instant)>>,
}

#[derive(Deserialize)]
struct Discovery {
    token_endpoint: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

/// The JSON answer of a successful request.
async fn json_of<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let response = response.error_for_status().map_err(|e| e.to_string())?;
    response.json().await.map_err(|e| e.to_string())
}

/// Why the API cannot answer (the image server or the issuer failed).
fn bad_gateway(what: &str) -> HttpResponse {
    HttpResponse::BadGateway().json(json!({ "error": "bad_gateway", "error_description": what }))
}

impl Api {
    /// Reads the issuer's discovery and keys, and starts following its revocations.
    pub async fn new(settings: Settings) -> Result<Api, String> {
        let verifier = Verifier::builder(&settings.issuer)
            .audience(&settings.resource)
            .client_credentials(&settings.client_id, &settings.client_secret)
            .follow_revocations(FeedOutage::ServeOnSignatures)
            .realm("api")
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let discovery: Discovery = json_of(http.get(format!(
            "{}/.well-known/openid-configuration",
            settings.issuer
        )))
        .await?;
        Ok(Api {
            settings,
            verifier,
            http,
            token_endpoint: discovery.token_endpoint,
            service_token: Mutex::new(None),
        })
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The API's own token for the image server, reused until shortly before it expires.
    async fn service_token(&self) -> Result<String, String> {
        let mut cached = self.service_token.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let s = &self.settings;
        let response: TokenResponse = json_of(
            self.http
                .post(&self.token_endpoint)
                .basic_auth(&s.client_id, Some(&s.client_secret))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("scope", crate::images::READ),
                    ("resource", s.images_resource.as_str()),
                ]),
        )
        .await?;
        let lifetime = Duration::from_secs(response.expires_in.saturating_sub(30));
        *cached = Some((response.access_token.clone(), Instant::now() + lifetime));
        Ok(response.access_token)
    }
}

async fn me(token: AccessToken) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "sub": token.sub,
        "client_id": token.client_id,
        "scope": token.scope,
        "acr": token.acr,
    }))
}

/// The person's photo, fetched from the image server with the API's own token.
async fn photo(_person: AccessToken, id: web::Path<String>, api: web::Data<Api>) -> HttpResponse {
    let token = match api.service_token().await {
        Ok(token) => token,
        Err(_) => return bad_gateway("the API cannot get a token for the image server"),
    };
    let id: String = id.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let url = format!("{}/images/{id}", api.settings.images_url);
    let answer = api.http.get(url).bearer_auth(token).send().await;
    match answer {
        Ok(r) if r.status().is_success() => {
            let kind = r
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_owned();
            match r.bytes().await {
                Ok(body) => HttpResponse::Ok().content_type(kind).body(body),
                Err(_) => bad_gateway("the image server's answer broke off"),
            }
        }
        _ => bad_gateway("the image server refused or failed"),
    }
}

/// RFC 9470: a payment needs the `mfa` level; a lower token gets the challenge that
/// tells the client which `acr_values` to come back with.
async fn pay(req: HttpRequest, api: web::Data<Api>) -> HttpResponse {
    let need = Requirement::new().acr([api.settings.payment_acr.clone()]);
    match api.verifier.authorize_request(&req, &need).await {
        Ok(token) => HttpResponse::Ok().json(json!({ "paid": true, "by": token.sub })),
        Err(refused) => actix_web::ResponseError::error_response(&refused),
    }
}

/// Serves the API server on `listener`; spawn or await the returned server.
pub fn serve(listener: TcpListener, api: Api) -> std::io::Result<Server> {
    let api = web::Data::new(api);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(api.verifier().clone())
            .app_data(api.clone())
            .route("/me", web::get().to(me))
            .route("/photos/{id}", web::get().to(photo))
            .route("/payments", web::post().to(pay))
    })
    .listen(listener)?
    .workers(1)
    .disable_signals()
    .run())
}
