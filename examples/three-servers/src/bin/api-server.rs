//! `cargo run -p three-servers --bin api-server`; configured from the environment (see
//! the crate README).

use three_servers::api::{self, Api, Settings};
use three_servers::env_or;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings {
        issuer: env_or("ISSUER", "http://127.0.0.1:8080"),
        resource: env_or("API_RESOURCE", "https://api.example.test"),
        client_id: env_or("API_CLIENT_ID", "api-server"),
        client_secret: std::env::var("API_CLIENT_SECRET")
            .map_err(|_| "set API_CLIENT_SECRET to the api-server client's secret")?,
        images_url: env_or("IMAGES_URL", "http://127.0.0.1:8082"),
        images_resource: env_or("IMAGES_RESOURCE", "https://images.example.test"),
        payment_acr: env_or("PAYMENT_ACR", "urn:portcullis:acr:mfa"),
    };
    let listen = env_or("LISTEN", "127.0.0.1:8081");
    let api = Api::new(settings).await?;
    println!("API server on http://{listen}");
    api::serve(std::net::TcpListener::bind(&listen)?, api)?.await?;
    Ok(())
}
