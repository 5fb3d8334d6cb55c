//! The `client`, `user` and `migrate` subcommands against the same database as a
//! running server. Passwords come from standard input, never argv.

use crate::common::{stderr, stdout, TestApp};

#[tokio::test]
async fn clients_can_be_added_listed_shown_and_removed() {
    let app = TestApp::spawn().await;
    let added = app.cli(&[
        "client",
        "add",
        "photos",
        "--name",
        "Photo backend",
        "--redirect-uri",
        "https://photos.test/callback",
        "--scope",
        "openid",
        "--scope",
        "photos:read",
    ]);
    assert!(added.status.success(), "{}", stderr(&added));
    let out = stdout(&added);
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .expect("a generated secret is shown once")
        .trim();
    assert_eq!(secret.len(), 43, "256 bits, base64url");

    let list = stdout(&app.cli(&["client", "list"]));
    assert!(
        list.contains("photos") && list.contains("confidential") && list.contains("cli"),
        "{list}"
    );
    let show = stdout(&app.cli(&["client", "show", "photos"]));
    assert!(show.contains("https://photos.test/callback"), "{show}");
    assert!(show.contains("photos:read"), "{show}");
    assert!(!show.contains(secret), "the secret is never shown again");

    let duplicate = app.cli(&[
        "client",
        "add",
        "photos",
        "--redirect-uri",
        "https://photos.test/cb",
    ]);
    assert_eq!(duplicate.status.code(), Some(1));
    assert!(stderr(&duplicate).contains("already exists"));

    let bad = app.cli(&[
        "client",
        "add",
        "bad",
        "--public",
        "--redirect-uri",
        "http://evil.test/cb",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("redirect_uris[0]"),
        "{}",
        stderr(&bad)
    );

    assert!(app.cli(&["client", "remove", "photos"]).status.success());
    let gone = app.cli(&["client", "show", "photos"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(stderr(&gone).contains("no client"));

    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let events = core
        .db
        .run_blocking(|conn| portcullis::store::audit::recent(conn, 100))
        .unwrap();
    for kind in ["client.added", "client.removed"] {
        assert!(
            events
                .iter()
                .any(|e| e.kind == kind && e.client_id.as_deref() == Some("photos")),
            "{kind}"
        );
    }
}

#[tokio::test]
async fn users_can_be_added_disabled_enabled_and_given_a_new_password() {
    let app = TestApp::spawn().await;
    let added = app.cli_with_stdin(
        &[
            "user",
            "add",
            "Bob",
            "--email",
            "bob@example.com",
            "--password-stdin",
        ],
        "a long enough password\n",
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let list = stdout(&app.cli(&["user", "list"]));
    assert!(
        list.contains("bob ") && list.contains("active") && list.contains("bob@example.com"),
        "{list}"
    );

    let same_name = app.cli_with_stdin(
        &["user", "add", " BOB ", "--password-stdin"],
        "another long password\n",
    );
    assert_eq!(
        same_name.status.code(),
        Some(1),
        "usernames are case- and space-insensitive"
    );

    let short = app.cli_with_stdin(&["user", "add", "carol", "--password-stdin"], "short\n");
    assert_eq!(short.status.code(), Some(1));
    assert!(stderr(&short).contains("password"));

    assert!(app.cli(&["user", "disable", "bob"]).status.success());
    assert!(stdout(&app.cli(&["user", "list"])).contains("disabled"));
    assert!(app.cli(&["user", "enable", "BOB"]).status.success());
    assert!(stdout(&app.cli(&["user", "list"])).contains("active"));

    let before = password_hash(&app, "bob");
    let changed = app.cli_with_stdin(
        &["user", "set-password", "bob", "--password-stdin"],
        "a brand new password\n",
    );
    assert!(changed.status.success(), "{}", stderr(&changed));
    let after = password_hash(&app, "bob");
    assert_ne!(before, after);
    assert!(after.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));

    let missing = app.cli(&["user", "disable", "nobody"]);
    assert_eq!(missing.status.code(), Some(1));

    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let kinds: Vec<String> = core
        .db
        .run_blocking(|conn| portcullis::store::audit::recent(conn, 100))
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in ["user.disabled", "user.enabled", "user.password_changed"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} is audited: {kinds:?}"
        );
    }
}

#[test]
fn a_password_cannot_be_given_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "").unwrap();
    let output = crate::common::cli_run(
        &config,
        &["user", "add", "dave", "--password", "hunter22"],
        "",
        &[],
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "clap refuses the unknown flag"
    );
}

#[tokio::test]
async fn migrate_is_idempotent_and_checks_the_schema() {
    let app = TestApp::spawn().await;
    for _ in 0..2 {
        let output = app.cli(&["migrate"]);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).contains("up to date"));
    }
}

fn password_hash(app: &TestApp, username: &str) -> String {
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    core.db
        .run_blocking(|conn| portcullis::store::users::by_username(conn, username))
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap()
}
