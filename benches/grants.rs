//! Micro-benchmarks for the grant paths (`cargo bench --bench grants`), on a real SQLite
//! file (durable WAL, as served): token issuance, the refresh-rotation transaction (each
//! iteration rotates the token the previous one returned), and introspection of a JWT
//! access token. Results are recorded in docs/PERFORMANCE.md.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};

use portcullis::config::{ClientConfig, Config, Secret, UserConfig};
use portcullis::oauth::client_auth::Presented;
use portcullis::oauth::grants::mint::{self, Authorized};
use portcullis::oauth::grants::refresh_token;
use portcullis::oauth::grants::{TokenContext, TokenResponse};
use portcullis::oauth::introspect;
use portcullis::oauth::issuer::TokenSettings;
use portcullis::oauth::params::Params;
use portcullis::people::sessions::Client;
use portcullis::store::grants::{self, GrantRow};
use portcullis::store::{refresh_tokens, users};
use portcullis::Core;

const SECRET: &str = "bench-client-secret-0123456789abcdef";

struct Bench {
    core: Core,
    ctx: TokenContext,
    client: Arc<portcullis::oauth::client::Client>,
    user_id: String,
    _dir: tempfile::TempDir,
}

fn setup() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        secret_key: Some(Secret::new("bench-secret-key-0123456789abcdef0123")),
        ..Config::default()
    };
    config.log.level = "warn".into();
    config.clients = vec![ClientConfig {
        client_id: "web".into(),
        client_secret: Some(Secret::new(SECRET)),
        redirect_uris: vec!["https://web.test/cb".into()],
        ..Default::default()
    }];
    config.users = vec![UserConfig {
        username: "alice".into(),
        ..Default::default()
    }];
    let core = Core::open(config.clone()).unwrap();
    core.bootstrap().unwrap();
    let ring = core.load_keys().unwrap();
    let issuer = "https://id.example.test";
    let ctx = TokenContext {
        settings: Arc::new(TokenSettings::new(&config, issuer)),
        keys: ring.current(),
        master: core.master.clone(),
        registry: Default::default(),
        origin: Client::default(),
    };
    let (client, user_id) = core
        .db
        .run_blocking(|conn| {
            let client = portcullis::oauth::client::get(conn, "web")?.unwrap();
            let user = users::by_username(conn, "alice")?.unwrap();
            Ok::<_, portcullis::store::StoreError>((client, user.id))
        })
        .unwrap();
    Bench {
        core,
        ctx,
        client,
        user_id,
        _dir: dir,
    }
}

fn who<'a>(b: &'a Bench, grant_id: &'a str) -> Authorized<'a> {
    Authorized {
        user_id: &b.user_id,
        session_id: None,
        grant_id,
        auth_time: portcullis::clock::now(),
        acr: Some("urn:portcullis:acr:pwd"),
        amr: vec!["pwd".into()],
        nonce: None,
        resources: Vec::new(),
    }
}

/// A new sign-in (grant + first refresh token); returns the refresh token.
fn sign_in(b: &Bench, scope: &[&str]) -> (String, String) {
    let now = portcullis::clock::now();
    let grant_id = portcullis::crypto::token::random_id();
    let scope_json = serde_json::to_string(scope).unwrap();
    let (secret, row) = mint::refresh_token(
        &b.ctx,
        &b.client,
        &who(b, &grant_id),
        &scope_json,
        mint::Origin::SignIn(&Client::default()),
        now,
    );
    b.core
        .db
        .run_blocking(|conn| {
            grants::insert(
                conn,
                &GrantRow {
                    id: grant_id.clone(),
                    client_id: b.client.id.clone(),
                    user_id: b.user_id.clone(),
                    session_id: None,
                    created_at: now,
                    expires_at: row.absolute_expires_at,
                    revoked_at: None,
                },
            )?;
            refresh_tokens::insert(conn, &row)
        })
        .unwrap();
    (grant_id, secret)
}

fn issuance(c: &mut Criterion) {
    let b = setup();
    let mut group = c.benchmark_group("issue");
    let scope = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let plain = scope(&["api:read"]);
    let oidc = scope(&["openid", "profile"]);
    let now = portcullis::clock::now();
    group.bench_function("access token (ES256)", |bench| {
        bench.iter(|| {
            mint::tokens(
                &b.ctx,
                &b.client,
                &who(&b, "g"),
                &plain,
                mint::Issue::new(b.ctx.settings.audience.clone(), now),
                None,
            )
            .unwrap()
        })
    });
    group.bench_function("access token + RS256 ID token", |bench| {
        bench.iter(|| {
            mint::tokens(
                &b.ctx,
                &b.client,
                &who(&b, "g"),
                &oidc,
                mint::Issue::new(b.ctx.settings.audience.clone(), now),
                None,
            )
            .unwrap()
        })
    });
    group.finish();
}

fn rotation(c: &mut Criterion) {
    let b = setup();
    let presented = Presented::Basic {
        client_id: "web".into(),
        secret: SECRET.into(),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("refresh");
    group.sample_size(20);
    for (name, scope) in [
        ("rotation, no ID token", &["offline_access"][..]),
        (
            "rotation + RS256 ID token",
            &["openid", "offline_access"][..],
        ),
    ] {
        let mut current = sign_in(&b, scope).1;
        group.bench_function(name, |bench| {
            bench.iter(|| {
                current = runtime
                    .block_on(refresh(&b, &presented, &current))
                    .refresh_token
                    .unwrap();
            })
        });
    }
    // 16 sign-ins refreshing at once: on SQLite their rotations share commits
    // (`store::writer`). One iteration is 16 rotations.
    let mut currents: Vec<String> = (0..16)
        .map(|_| sign_in(&b, &["offline_access"]).1)
        .collect();
    group.bench_function("16 concurrent rotations, no ID token", |bench| {
        bench.iter(|| {
            let b = &b;
            let presented = &presented;
            currents = runtime.block_on(futures_util::future::join_all(currents.iter().map(
                |token| async move { refresh(b, presented, token).await.refresh_token.unwrap() },
            )));
        })
    });
    group.finish();
}

/// One refresh as `/token` runs it.
async fn refresh(b: &Bench, presented: &Presented, token: &str) -> TokenResponse {
    let body = format!("grant_type=refresh_token&refresh_token={token}");
    let params = Params::parse(body.as_bytes()).unwrap();
    let now = portcullis::clock::now();
    refresh_token::run(&b.core.db, b.ctx.clone(), params, presented.clone(), now)
        .await
        .unwrap()
}

fn introspection(c: &mut Criterion) {
    let b = setup();
    let (grant_id, _) = sign_in(&b, &["openid"]);
    let now = portcullis::clock::now();
    let scope = vec!["openid".to_owned()];
    let token = mint::tokens(
        &b.ctx,
        &b.client,
        &who(&b, &grant_id),
        &scope,
        mint::Issue::new(b.ctx.settings.audience.clone(), now),
        None,
    )
    .unwrap()
    .access_token;
    let verified = portcullis::oauth::issuer::VerifiedTokens::default();
    let verifier = introspect::Verifier {
        keys: &b.ctx.keys,
        settings: &b.ctx.settings,
        verified: &verified,
    };
    c.bench_function("introspect JWT access token (signature cached)", |bench| {
        bench.iter(|| {
            let answer = b
                .core
                .db
                .run_blocking(|conn| {
                    introspect::introspect(conn, &verifier, &b.client, &token, now)
                })
                .unwrap();
            assert!(answer.active);
        })
    });
}

criterion_group!(benches, issuance, rotation, introspection);
criterion_main!(benches);
