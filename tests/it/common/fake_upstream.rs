//! A fake upstream provider on loopback, for what a real Portcullis upstream will not do:
//! Google's `hd` claim, and every way an answer can be wrong — another `aud`, another
//! `nonce`, a key it never published, a key it publishes late (a rotation), an expired
//! token, a slow token endpoint, an ID token without email (UserInfo has it). It approves
//! every authorization request at once and signs ID tokens with `openidconnect`'s own
//! provider-side types (RSA keys made for these tests only).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use openidconnect::core::{
    CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, AuthenticationMethodReference, EndUserEmail, EndUserName, IdToken, IdTokenClaims,
    IssuerUrl, JsonWebKeyId, JsonWebKeySet, LocalizedClaim, Nonce, PrivateSigningKey,
    StandardClaims, SubjectIdentifier,
};
use portcullis::crypto::token;
use portcullis::federation::oidc::ExtraClaims;

/// Published from the start.
const KEY_1: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEogIBAAKCAQEAwsBcM96PviZSmtPtmFLsDdkdm/R94q6GokTCoMUwE/d+141O
x0urX0Ym9qU2/eFzz03uXcXk7SI2vLRdG8a+YzyGLkrK1bGHRrmJaNzmPHw1EZW1
l8Ci55Jalbf9AeaTmpQS6GORgN8jV8PulowtXafVf4fOsW93+WIRABIPV4GMp1DT
l8uFZA+o/T6JZo9edBAO6y5J7vBg+FovRIat+ElG18Qbx9dXl1L2yAl5+dr6r21N
T7G5FwNT5LM20u2ZgEr+5DcxB239JZoxD+VEpuVM7TMeh3Cq/T/7qqAJgubpGRl5
OW/bx1kFAWZCrG4hTRvb/eUhLZDieDIR1kWAKwIDAQABAoIBAGAi9AD4401S/qEG
b/mrKXK2lFq5qPDfBYAR4F/bp12b5aYDT/mqnWi1KSPFL+3IvtH9Xuc0essighHK
GVJOXAqBxJ0Sd6lgbu5XRYEZ1p/SEqJhHFjSk7grs4LH5eHr0D5UzTahfCC5Remb
w2nWvchHQumnAT3u0DMvmUPHJoKjiOXftKODCEPp9/0iNS/7E7AOu7+/gJeyDMHu
H0v0t/2EhYZU1gdvWYAUtc6mduRmRKJrOlea4H6EZ74IB1DRgVUSXXAM7Oc18jG4
M0krSRoftC9bKSmMCc2clpmliAa+im3+amUV7lL203bMqCbKyWCNUgn800oNfJh5
F49bcDECgYEA5Q+wgLcfzIGPmljfgGlY+aX7PlApIPqWxxdigarJTVu2Iia+jQmc
NLjpprvWiFPcU+/Izd8BsUTdpJaO4hkbQYNsRy82GiNrsn2aeSwqWDCpMYWDhMr3
tENiYHZ4CFrcgNyzVan33dhOVnllr2QFkjn4eYqVVR5D52ZVIEh5SBECgYEA2ae1
cpZqw/ereRuYlp6wSx46xHyfwExp3eZXZ6Hp8bxSbAJgjyH04GEzeBG0UIX7KVMm
wMGNuPzX0Gb2jhTBmC+cbf5Q6bjC3nmoIuUtfbYLH2WN+UfzaXXmrEhCJuRGxlF2
/qFMWyB+StxvEOhH5HE9Lzf+DIE+L6H6ga7h4HsCgYBDoKc2yVodEd9o7XZHPlMj
mcqcsiQCdZmQfCn8KIU4TqxuVswJbd3tfu6U6H5FT6UMLw41IfMo+DEMB9t1i34N
kJSmS50IiI6iawzxW4XA9dTuJwIWcapCUWa5HiEALntNnFtiHkVs/RDb3QmVh81R
R8ZBdBX0xHO93OujFWKhUQKBgCQezOHjTHyREYfbqIr2ctNEhQQummRTSg5lN4Qf
Pq+7TQJXsqaOQBEskFoQthfW5EOLZRcACAD3FOmk7K3PjAExhYhLeCoRW2WIUvrX
haEjIN1pARKpeh+6TTmyFChYIdavlkvTgNRupAbQZi4sHiIvGLRJWoPAvw0wmF4F
I78ZAoGAXg1PtBhSbHwnXVr4cNim5/WacWDlCK7E6rSsFHi6eVFzy/kcZJ3bgdM5
GClBxz1FO4waDY6HuV2dk5zCyHaLXBQ/vzj9AFyqFbG6CwgiSVl8ci0m6QcxRMsg
1TabsZdybdj0ftK5oUbIeMvL8kthUlzkBxqZVHiFsukQqcjC7Rc=
-----END RSA PRIVATE KEY-----";
/// Never published, unless the test rotates to it.
const KEY_2: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEArjjm2UwMF3UdH2D/AbPbHMoMfulwDdbBjojeLb/zFZo8gcJ1
qUhRUolCqe3xOG1kg8XoDE2ylaa24YCpz57FO/Bi3gc8FqYjd25qy9gOsR5WMpU0
cBoSPCK4uRZUU5Pc+HUjWM62kb2Hx40HMjIqnSW6ZPaZqmyLwqQtgSkXPQ/ZOFrB
stu2Ys1vbpMmeaPF1rUWQE5F1Lj5dhxQz9AKl/npsmxTMv7QpaFYgb+1syRC0M3A
jluWIJkJqfNBMFNWMoYalA5Y0N5yRvZ47Rb6e06xo+6ii4C7t65JphEBL1PpxMTh
+T5N6r3j+5kpNl6QCIHtiTIp4go6vfuP4zwglQIDAQABAoIBADpI9Qn7RAxQ9NY7
l/RU3FfsTHPk2sT2dLifl1zM26D9gYKTsNNaS0KGgxPgc5PCHR9shS4gjD8+j+4v
IiBAaJGd4SWQXAzjtffNq9LYTEn68TFo8ysRvcn6f7wD+WAglotUfOfH+BIXyyX6
S08Cs3jxV0NRsKTwPW13iXWtboXRiwJLZfbm3Hr0e7lml8dh8iQaN35MdcY+MaOB
aVorerxeG8o8MPNGCIUcuQK1uvbR6O6bIGNQb1XEMQV9kQU4EllFfjPHiM1APE/e
zTbEIqS7HtxCROfcQooJQdkaIiAcq11mGmd2dfKTKS4FKXOMh6ca1U3hpVvh2ouJ
PnBmWF0CgYEA3t/X0Gd+WTUau4dQyQIsGQsIYTK7JrArum5xh74YX4sVYhuQ342E
N1PElFeWVK2GaoAtpN0UQVXaPNxS9wHcGwAaiMb+T+Z1fR4eDG7zrtn2OyiOz3m4
/d4IZbZurpcmyuRo9qWGNdW/ZzzApEdKGDC8qDCfEQtres24k6UPN6sCgYEAyB3k
cnzZr/b16h3+UHWvKms/qBMlD6ziEDNJ6PA4chuDWNh3QaHHGoPPaESoa2VH6Uk7
1VOmRjTCPzjCgbRGCGzKjLUASd9pHVMHsxqDQc/psh6PFnN8B1YnQ4BWSOZ9n0pE
o6bvztZEuOkiA+dor5zM3gbjggvQc0GumtgsyL8CgYEAyA1QoGZlSRmbtzxMzUC/
6HK4wNZSmvWDKsK78UY2hnxHY1qu/Zr/VNJCH41HCRcBElOfpN40sjinvf1eEw1+
TlYXezJzT7DjQL1p52soHIjUtmE/Xwg5ftZv3yyTyO8wCOphNRN6lpQYTEiB+nNr
FK+ah7Ws8hW4EfDaftyn/iUCgYBYVaGey+/HlertYjn9SEV/IwJhbboBVl4fqpQo
h8lSzURIdp0F0qSx1pc6Pnxdk8KPfq0zuI4AFY/dGm/5kxsK4wLx43/yG/UpZZpT
fBOOfHl7D7Q3w9hu4J/KUx9DZML1CnKMDsdydPC28un58S8rvbpNE5tfr1lfVxH8
9gmmvwKBgEICIdBjZwhgAIwhw7+v2jEX/3g/RHC4x716O12cXFN7Ao6owxHOIx/X
BAgoKXJsw6P+KIKYQrc19GHjAlGAGDW06gf/NRz32spf2PXgKS6nFE+sOPhFEnaW
LfXHGg/0+GIW/RTNT2u4KtSRQZXSRgaLNLluT/olZf1laaMb2k07
-----END RSA PRIVATE KEY-----";

/// Who the fake says signed in.
#[derive(Debug, Clone)]
pub struct Person {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// Google's hosted domain.
    pub hd: Option<String>,
    /// Only in UserInfo, not in the ID token.
    pub email_only_in_userinfo: bool,
}

impl Default for Person {
    fn default() -> Self {
        Person {
            sub: "fake-subject-1".into(),
            email: Some("faye@fake.test".into()),
            email_verified: true,
            name: Some("Faye Fake".into()),
            hd: None,
            email_only_in_userinfo: false,
        }
    }
}

/// How the fake misbehaves; the default is a correct provider.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    pub person: Person,
    pub aud: Option<String>,
    pub nonce: Option<String>,
    /// Sign with KEY_2 (published only once `rotated`).
    pub sign_with_second_key: bool,
    /// KEY_2 is in the JWKS.
    pub rotated: bool,
    /// Seconds before now that the ID token expired.
    pub expired_by: Option<i64>,
    pub token_delay: Option<Duration>,
    /// The ID token's `amr`.
    pub amr: Option<Vec<String>>,
    /// Name the issuer in `iss` without its scheme, as Google may.
    pub iss_without_scheme: bool,
    /// Another `iss` in the ID token.
    pub iss: Option<String>,
}

struct Pending {
    nonce: String,
    challenge: String,
    client_id: String,
}

struct Shared {
    issuer: String,
    behaviour: Arc<Mutex<Behaviour>>,
    codes: Mutex<BTreeMap<String, Pending>>,
    authorize_queries: Arc<Mutex<Vec<BTreeMap<String, String>>>>,
    jwks_fetches: Arc<AtomicUsize>,
}

pub struct FakeUpstream {
    pub issuer: String,
    pub behaviour: Arc<Mutex<Behaviour>>,
    /// The query of every authorization request it got.
    pub authorize_queries: Arc<Mutex<Vec<BTreeMap<String, String>>>>,
    pub jwks_fetches: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn key(pem: &str, kid: &str) -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(kid.into()))).unwrap()
}

impl FakeUpstream {
    pub async fn start() -> FakeUpstream {
        Self::start_at("127.0.0.2", "127.0.0.2").await
    }

    /// Listening on `ip`, naming itself `http://{host}:{port}` (a DNS name, say).
    pub async fn start_at(ip: &str, host: &str) -> FakeUpstream {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let issuer = format!("http://{host}:{port}");
        let shared = web::Data::new(Shared {
            issuer: issuer.clone(),
            behaviour: Default::default(),
            codes: Default::default(),
            authorize_queries: Default::default(),
            jwks_fetches: Default::default(),
        });
        let (behaviour, authorize_queries, jwks_fetches) = (
            shared.behaviour.clone(),
            shared.authorize_queries.clone(),
            shared.jwks_fetches.clone(),
        );
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/jwks", web::get().to(jwks))
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token_endpoint))
                .route("/userinfo", web::get().to(userinfo))
        })
        .listen(listener)
        .unwrap()
        .workers(1)
        .disable_signals()
        .run();
        FakeUpstream {
            issuer,
            behaviour,
            authorize_queries,
            jwks_fetches,
            server: tokio::spawn(server),
        }
    }

    pub fn behave(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.behaviour.lock().unwrap());
    }
}

async fn discovery(shared: web::Data<Shared>) -> HttpResponse {
    let i = &shared.issuer;
    HttpResponse::Ok().json(serde_json::json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(shared: web::Data<Shared>) -> HttpResponse {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let mut keys = vec![key(KEY_1, "k1").as_verification_key()];
    if shared.behaviour.lock().unwrap().rotated {
        keys.push(key(KEY_2, "k2").as_verification_key());
    }
    HttpResponse::Ok().json(JsonWebKeySet::new(keys))
}

async fn authorize(
    shared: web::Data<Shared>,
    query: web::Query<BTreeMap<String, String>>,
) -> HttpResponse {
    let q = query.into_inner();
    shared.authorize_queries.lock().unwrap().push(q.clone());
    let code = token::random_secret();
    shared.codes.lock().unwrap().insert(
        code.clone(),
        Pending {
            nonce: q.get("nonce").cloned().unwrap_or_default(),
            challenge: q.get("code_challenge").cloned().unwrap_or_default(),
            client_id: q.get("client_id").cloned().unwrap_or_default(),
        },
    );
    let to = format!(
        "{}?code={code}&state={}",
        q.get("redirect_uri").cloned().unwrap_or_default(),
        q.get("state").cloned().unwrap_or_default()
    );
    HttpResponse::SeeOther()
        .insert_header(("location", to))
        .finish()
}

async fn token_endpoint(
    shared: web::Data<Shared>,
    form: web::Form<BTreeMap<String, String>>,
) -> HttpResponse {
    let b = shared.behaviour.lock().unwrap().clone();
    if let Some(delay) = b.token_delay {
        tokio::time::sleep(delay).await;
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let Some(pending) = shared.codes.lock().unwrap().remove(&code) else {
        return HttpResponse::BadRequest().json(serde_json::json!({"error": "invalid_grant"}));
    };
    // RFC 7636 §4.6.
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if token::b64url(&token::sha256(verifier.as_bytes())) != pending.challenge {
        return HttpResponse::BadRequest().json(serde_json::json!({"error": "invalid_grant"}));
    }
    let now = chrono::Utc::now();
    let exp = match b.expired_by {
        Some(s) => now - chrono::Duration::seconds(s),
        None => now + chrono::Duration::seconds(300),
    };
    let p = &b.person;
    let mut standard = StandardClaims::new(SubjectIdentifier::new(p.sub.clone()));
    if !p.email_only_in_userinfo {
        standard = standard
            .set_email(p.email.clone().map(EndUserEmail::new))
            .set_email_verified(Some(p.email_verified));
    }
    standard = standard.set_name(p.name.clone().map(|n| {
        let mut claim = LocalizedClaim::new();
        claim.insert(None, EndUserName::new(n));
        claim
    }));
    let claims = IdTokenClaims::new(
        IssuerUrl::new(b.iss.clone().unwrap_or(shared.issuer.clone())).unwrap(),
        vec![Audience::new(
            b.aud.clone().unwrap_or(pending.client_id.clone()),
        )],
        exp,
        now,
        standard,
        ExtraClaims { hd: p.hd.clone() },
    )
    .set_nonce(Some(Nonce::new(
        b.nonce.clone().unwrap_or(pending.nonce.clone()),
    )))
    .set_auth_method_refs(b.amr.clone().map(|amr| {
        amr.into_iter()
            .map(AuthenticationMethodReference::new)
            .collect()
    }));
    let (signer, kid) = if b.sign_with_second_key {
        (key(KEY_2, "k2"), "k2")
    } else {
        (key(KEY_1, "k1"), "k1")
    };
    if b.iss_without_scheme {
        // `openidconnect` cannot build this (its `iss` is a URL): put it together by hand.
        let part = |v: serde_json::Value| token::b64url(v.to_string().as_bytes());
        let head = part(serde_json::json!({"alg": "RS256", "kid": kid, "typ": "JWT"}));
        let body = part(serde_json::json!({
            "iss": shared.issuer.trim_start_matches("http://"),
            "aud": b.aud.clone().unwrap_or(pending.client_id),
            "azp": "portcullis",
            "exp": exp.timestamp(),
            "iat": now.timestamp(),
            "sub": p.sub,
            "email": p.email,
            "email_verified": p.email_verified,
            "hd": p.hd,
            "nonce": b.nonce.clone().unwrap_or(pending.nonce),
        }));
        let signature = signer
            .sign(
                &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                format!("{head}.{body}").as_bytes(),
            )
            .unwrap();
        return HttpResponse::Ok().json(serde_json::json!({
            "access_token": format!("at-{}", p.sub),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": format!("{head}.{body}.{}", token::b64url(&signature)),
        }));
    }
    let id_token = IdToken::<
        ExtraClaims,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >::new(
        claims,
        &signer,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        None,
        None,
    )
    .unwrap();
    HttpResponse::Ok().json(serde_json::json!({
        "access_token": format!("at-{}", p.sub),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token.to_string(),
    }))
}

async fn userinfo(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let p = shared.behaviour.lock().unwrap().person.clone();
    let expected = format!("Bearer at-{}", p.sub);
    let sent = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if sent != expected {
        return HttpResponse::Unauthorized().finish();
    }
    HttpResponse::Ok().json(serde_json::json!({
        "sub": p.sub,
        "email": p.email,
        "email_verified": p.email_verified,
        "name": p.name,
        // The same, as a provider with its own shape would say it (`kind = "oauth2"`).
        "account": { "id": p.sub, "emails": [{ "address": p.email, "verified": p.email_verified }] },
    }))
}
