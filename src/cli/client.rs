//! `portcullis client add|list|show|remove`.

use clap::Subcommand;

use crate::app::Core;
use crate::config::{ClientConfig, Config, Secret};
use crate::crypto::token;
use crate::oauth::client::{self, Introspection, MANAGED_BY_CLI, MANAGED_BY_CONFIG};
use crate::store::clients::{self as store, ClientRow};
use crate::{clock, store::StoreError};

use super::{audited, Failure};

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client. A confidential client gets a generated secret, shown once.
    Add {
        client_id: String,
        #[arg(long)]
        name: Option<String>,
        /// A public client (SPA, native app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        #[arg(long = "allowed-origin", value_name = "ORIGIN")]
        allowed_origins: Vec<String>,
        /// authorization_code, refresh_token or client_credentials (repeatable).
        #[arg(long = "grant-type", value_name = "GRANT")]
        grant_types: Vec<String>,
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        #[arg(long)]
        skip_consent: bool,
        /// client_secret_basic (default) or client_secret_post.
        #[arg(long)]
        auth_method: Option<String>,
        /// Which tokens it may introspect: own (default) or any (a resource server).
        #[arg(long, value_enum, default_value_t)]
        introspection: Introspection,
    },
    /// List clients.
    List,
    /// Show one client.
    Show { client_id: String },
    /// Remove a client and everything issued to it.
    Remove { client_id: String },
}

pub fn run(config: Config, command: ClientCommand) -> Result<(), Failure> {
    let core = Core::open(config)?;
    match command {
        ClientCommand::Add {
            client_id,
            name,
            public,
            redirect_uris,
            post_logout_redirect_uris,
            allowed_origins,
            grant_types,
            scopes,
            skip_consent,
            auth_method,
            introspection,
        } => {
            let secret = (!public).then(token::random_secret);
            let spec = ClientConfig {
                client_id,
                client_name: name,
                public,
                client_secret: secret.clone().map(Secret::new),
                redirect_uris,
                post_logout_redirect_uris,
                allowed_origins,
                grant_types: (!grant_types.is_empty()).then_some(grant_types),
                scopes: (!scopes.is_empty()).then_some(scopes),
                skip_consent,
                token_endpoint_auth_method: auth_method,
                introspection,
                ..Default::default()
            };
            let row = client::to_row(&spec, &core.master, MANAGED_BY_CLI, clock::now())
                .map_err(Failure)?;
            audited(&core, "client.added", None, Some(&row.id), |conn| {
                store::insert(conn, &row)
            })
            .map_err(|e: StoreError| {
                if e.is_unique_violation() {
                    Failure(format!("a client with the id {:?} already exists", row.id))
                } else {
                    Failure(e.to_string())
                }
            })?;
            println!("client_id:     {}", row.id);
            if let Some(secret) = secret {
                println!("client_secret: {secret}");
                println!(
                    "Store the secret now: it is kept only as a hash and cannot be shown again."
                );
            }
            Ok(())
        }
        ClientCommand::List => {
            let rows = core.db.run_blocking(store::list)?;
            println!("{:<32} {:<12} {:<8} NAME", "CLIENT_ID", "TYPE", "SOURCE");
            for row in rows {
                let kind = if row.public { "public" } else { "confidential" };
                println!(
                    "{:<32} {:<12} {:<8} {}",
                    row.id, kind, row.managed_by, row.client_name
                );
            }
            Ok(())
        }
        ClientCommand::Show { client_id } => {
            let row = find(&core, &client_id)?;
            print_client(&row);
            Ok(())
        }
        ClientCommand::Remove { client_id } => {
            let row = find(&core, &client_id)?;
            audited(&core, "client.removed", None, Some(&row.id), |conn| {
                store::delete(conn, &row.id).map(|_| ())
            })?;
            println!("removed client {}", row.id);
            if row.managed_by == MANAGED_BY_CONFIG {
                println!("note: this client comes from the configuration file and returns at the next start unless removed there");
            }
            Ok(())
        }
    }
}

fn find(core: &Core, client_id: &str) -> Result<ClientRow, Failure> {
    core.db
        .run_blocking(|conn| store::get(conn, client_id))?
        .ok_or_else(|| Failure(format!("no client with the id {client_id:?}")))
}

fn print_client(row: &ClientRow) {
    let list = |json: &str| -> String {
        serde_json::from_str::<Vec<String>>(json)
            .map(|v| v.join(" "))
            .unwrap_or_default()
    };
    println!("client_id:                  {}", row.id);
    println!("client_name:                {}", row.client_name);
    println!(
        "type:                       {}",
        if row.public { "public" } else { "confidential" }
    );
    println!(
        "token_endpoint_auth_method: {}",
        row.token_endpoint_auth_method
    );
    println!("grant_types:                {}", list(&row.grant_types));
    println!("scopes:                     {}", list(&row.scopes));
    println!("redirect_uris:              {}", list(&row.redirect_uris));
    println!(
        "post_logout_redirect_uris:  {}",
        list(&row.post_logout_redirect_uris)
    );
    println!("allowed_origins:            {}", list(&row.allowed_origins));
    println!("skip_consent:               {}", row.skip_consent);
    println!("introspection:              {}", row.introspection);
    println!(
        "id_token alg:               {}",
        row.id_token_signed_response_alg
    );
    println!(
        "access_token alg:           {}",
        row.access_token_signed_response_alg
    );
    println!("source:                     {}", row.managed_by);
    println!(
        "created:                    {}",
        clock::format(row.created_at)
    );
}
