//! Configuration: validation with clear messages, environment overrides, the declarative
//! bootstrap, the instance secret, and clear failures instead of panics.

use std::os::unix::fs::PermissionsExt;

use crate::common::{cli_run, stderr, stdout, TestApp, TestDb, SECRET_KEY};
use portcullis::app::StartupError;
use portcullis::config::{ClientConfig, Secret, UserConfig};

fn write(dir: &std::path::Path, toml: &str) -> std::path::PathBuf {
    let path = dir.join("portcullis.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn assert_clean_failure(output: &std::process::Output, code: i32, needle: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_invalid_config_names_the_key_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cases = [
        (
            "[[clients]]\nclient_id = \"spa\"\npublic = true\nredirect_uris = [\"http://evil.test/cb\"]\n",
            "clients[0].redirect_uris[0]",
        ),
        ("listn = \"127.0.0.1:1\"\n", "listn"),
        ("issuer = \"http://id.example.com\"\n", "issuer: must use https"),
        ("[tokens]\nauthorization_code_ttl = \"1h\"\n", "tokens.authorization_code_ttl"),
        ("[[users]]\nusername = \"al ice\"\n", "users[0].username"),
        ("secret_key = \"short\"\n", "secret_key"),
        ("database_url = \"mysql://x\"\n", "database_url"),
    ];
    for (toml, needle) in cases {
        let config = write(
            dir.path(),
            &format!("data_dir = {:?}\n{toml}", data.display().to_string()),
        );
        let output = cli_run(&config, &["serve"], "", &[]);
        assert_clean_failure(&output, 2, needle);
        assert!(!data.exists(), "nothing is written for {needle}");
    }
}

#[test]
fn environment_variables_override_nested_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "");
    let output = cli_run(
        &config,
        &["migrate"],
        "",
        &[("PORTCULLIS_TOKENS__ACCESS_TOKEN_TTL", "soon")],
    );
    assert_clean_failure(&output, 2, "tokens.access_token_ttl");
    let output = cli_run(
        &config,
        &["migrate"],
        "",
        &[("PORTCULLIS_LISTEN", "nowhere")],
    );
    assert_clean_failure(&output, 2, "listen");
}

#[test]
fn an_unreachable_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "");
    let output = cli_run(
        &config,
        &["migrate"],
        "",
        &[
            (
                "PORTCULLIS_DATABASE_URL",
                "postgres://nobody:hunter2@127.0.0.1:1/portcullis",
            ),
            ("PORTCULLIS_DATABASE__CONNECT_TIMEOUT", "1"),
        ],
    );
    assert_clean_failure(&output, 1, "cannot open the database");
    assert!(
        !stderr(&output).contains("hunter2"),
        "the password is not printed"
    );
}

#[tokio::test]
async fn keys_sealed_with_another_secret_key_are_a_clear_error() {
    let app = TestApp::spawn().await;
    let mut config = app.config.clone();
    config.secret_key = Some(Secret::new("a-different-secret-key-0123456789abcdef"));
    match portcullis::Application::build(config).await {
        Err(StartupError::Keys(e)) => {
            assert!(
                e.to_string()
                    .contains("cannot be decrypted with the configured secret_key"),
                "{e}"
            )
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("the server must not start with keys it cannot decrypt"),
    }
    let output = cli_run(
        &app.config_file(),
        &["keys", "list"],
        "",
        &[(
            "PORTCULLIS_SECRET_KEY",
            "a-different-secret-key-0123456789abcdef",
        )],
    );
    assert_clean_failure(&output, 1, "cannot be decrypted");
}

#[tokio::test]
async fn a_generated_secret_key_is_private_and_reused() {
    let app = TestApp::spawn_with(|c| c.secret_key = None).await;
    let path = app.data_dir.path().join("secret_key");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let key = std::fs::read_to_string(&path).unwrap();
    assert!(key.trim().len() >= 43);
    // The same data directory and database: the keys decrypt with the stored secret.
    let mut config = app.config.clone();
    config.secret_key = None;
    let again = portcullis::Application::build(config).await;
    assert!(again.is_ok(), "restart with the generated secret key");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), key);
}

/// The data directory, the SQLite files and the generated secret key are the running
/// user's alone; an existing key that others can read is warned about (#11 item 9).
#[tokio::test]
async fn data_files_are_private_to_the_running_user() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state/data");
    let config = write(dir.path(), &format!("data_dir = \"{}\"\n", data.display()));
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let first = cli_run(&config, &["migrate"], "", &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&dir.path().join("state")), 0o700);
    // SQLite's -wal and -shm files (when still there) take the database file's mode.
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    assert!(data.join("portcullis.db").exists() && data.join("secret_key").exists());
    assert!(
        !stderr(&first).contains("other local users"),
        "{}",
        stderr(&first)
    );

    let key = data.join("secret_key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let shared = cli_run(&config, &["migrate"], "", &[]);
    assert!(shared.status.success(), "{}", stderr(&shared));
    let warning = stderr(&shared);
    assert!(
        warning.contains("other local users") && warning.contains("secret_key"),
        "{warning}"
    );

    // A secret_key_file the operator wrote themselves is checked too.
    let file = dir.path().join("instance.key");
    std::fs::write(&file, "an-operator-supplied-secret-key-0123456789\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let config = write(
        dir.path(),
        &format!(
            "data_dir = \"{}\"\nsecret_key_file = \"{}\"\n",
            dir.path().join("other").display(),
            file.display()
        ),
    );
    let readable = cli_run(&config, &["migrate"], "", &[]);
    assert!(readable.status.success(), "{}", stderr(&readable));
    let warning = stderr(&readable);
    assert!(
        warning.contains("other local users") && warning.contains("secret_key_file"),
        "{warning}"
    );
}

#[tokio::test]
async fn clients_and_users_from_the_config_are_upserted_at_every_start() {
    let bootstrap = |c: &mut portcullis::Config| {
        c.clients = vec![
            ClientConfig {
                client_id: "spa".into(),
                client_name: Some("Photo app".into()),
                public: true,
                redirect_uris: vec!["http://127.0.0.1:5173/callback".into()],
                allowed_origins: vec!["http://127.0.0.1:5173".into()],
                ..Default::default()
            },
            ClientConfig {
                client_id: "api-server".into(),
                client_secret: Some(Secret::new("change-me")),
                grant_types: Some(vec!["client_credentials".into()]),
                scopes: Some(vec!["images:read".into()]),
                ..Default::default()
            },
        ];
        c.users = vec![UserConfig {
            username: "Alice".into(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            name: Some("Alice Liddell".into()),
            password: Some(Secret::new("correct horse battery staple")),
            totp_secret: Some(Secret::new("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")),
            ..Default::default()
        }];
    };
    let app = TestApp::spawn_with(bootstrap).await;
    let clients = stdout(&app.cli(&["client", "list"]));
    assert!(
        clients.contains("spa") && clients.contains("public"),
        "{clients}"
    );
    assert!(
        clients.contains("api-server") && clients.contains("confidential"),
        "{clients}"
    );
    let users = stdout(&app.cli(&["user", "list"]));
    assert!(
        users.contains("alice "),
        "usernames are normalised: {users}"
    );

    // The stored secret is a keyed hash, never the secret.
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let row = core
        .db
        .run_blocking(|conn| portcullis::store::clients::get(conn, "api-server"))
        .unwrap()
        .unwrap();
    let stored = row.secret_hash.unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains("change-me"));
    assert!(core.master.verify_client_secret("change-me", &stored));
    let alice = core
        .db
        .run_blocking(|conn| portcullis::store::users::by_username(conn, "alice"))
        .unwrap()
        .unwrap();
    assert!(alice.password_hash.unwrap().starts_with("$argon2id$"));

    // A second start on the same database updates rather than duplicates.
    let again = app.spawn_sharing(bootstrap).await;
    let users_again = stdout(&again.cli(&["user", "list"]));
    assert_eq!(
        users_again
            .lines()
            .filter(|l| l.starts_with("alice "))
            .count(),
        1,
        "{users_again}"
    );
    assert!(
        users_again.contains(&alice.id),
        "the sub is stable across starts"
    );
}

/// Hardening #11 item 4: what the CLI changes about a user from `[[users]]` survives a
/// restart; the file's password is applied again only when the file's value changes, and
/// `disabled` only when the file sets it.
#[tokio::test]
async fn cli_changes_to_users_from_the_file_survive_a_restart() {
    let file = |password: &'static str, disabled: Option<bool>| {
        move |c: &mut portcullis::Config| {
            c.users = vec![UserConfig {
                username: "alice".into(),
                password: Some(Secret::new(password)),
                disabled,
                ..Default::default()
            }];
        }
    };
    let alice = |app: &TestApp| {
        let core = portcullis::Core::open(app.config.clone()).unwrap();
        core.db
            .run_blocking(|conn| portcullis::store::users::by_username(conn, "alice"))
            .unwrap()
            .unwrap()
    };
    let verifies = |hash: &Option<String>, password: &str| {
        portcullis::crypto::password::verify_blocking(password, hash.as_deref())
    };
    let app = TestApp::spawn_with(file("the file's first password", None)).await;
    assert!(verifies(
        &alice(&app).password_hash,
        "the file's first password"
    ));
    assert!(app.cli(&["user", "disable", "alice"]).status.success());
    let changed = app.cli_with_stdin(
        &["user", "set-password", "alice", "--password-stdin"],
        "the password the CLI set\n",
    );
    assert!(changed.status.success(), "{}", stderr(&changed));

    // A restart with the same file undoes neither.
    let again = app
        .spawn_sharing(file("the file's first password", None))
        .await;
    let row = alice(&again);
    assert!(row.disabled, "the ban holds");
    assert!(verifies(&row.password_hash, "the password the CLI set"));
    assert!(!verifies(&row.password_hash, "the file's first password"));

    // The file's own changes still apply: a new password, and `disabled` once it sets it.
    let third = app
        .spawn_sharing(file("the file's second password", Some(false)))
        .await;
    let row = alice(&third);
    assert!(!row.disabled);
    assert!(verifies(&row.password_hash, "the file's second password"));
}

#[test]
fn the_test_database_helper_is_isolated() {
    // Two databases made by the helper never share rows.
    let a = TestDb::create();
    let b = TestDb::create();
    assert_ne!(a.url, b.url);
    let _ = SECRET_KEY;
}

/// Instances behind a load balancer start together: migrations, keys and the bootstrap
/// of the same clients and users must not make either of them fail.
#[tokio::test]
async fn two_instances_can_start_at_the_same_moment_on_a_fresh_database() {
    let bootstrap = |c: &mut portcullis::Config| {
        c.clients = vec![ClientConfig {
            client_id: "spa".into(),
            public: true,
            redirect_uris: vec!["https://spa.test/cb".into()],
            ..Default::default()
        }];
        c.users = vec![UserConfig {
            username: "alice".into(),
            password: Some(Secret::new("correct horse battery staple")),
            disabled: Some(true),
            ..Default::default()
        }];
    };
    let (a, b) = TestApp::spawn_two_at_once(bootstrap).await;
    assert_eq!(a.get_json("/jwks").await, b.get_json("/jwks").await);
    let users = stdout(&a.cli(&["user", "list"]));
    assert_eq!(
        users.lines().filter(|l| l.starts_with("alice ")).count(),
        1,
        "{users}"
    );
    assert!(
        users.contains("disabled"),
        "a new user takes `disabled` from the file: {users}"
    );
}
