//! `cargo run -p three-servers --bin image-server`; configured from the environment (see
//! the crate README).

use three_servers::{env_or, images};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = env_or("ISSUER", "http://127.0.0.1:8080");
    let resource = env_or("IMAGES_RESOURCE", "https://images.example.test");
    let listen = env_or("LISTEN", "127.0.0.1:8082");
    let verifier = images::verifier(&issuer, &resource).await?;
    println!("image server on http://{listen}");
    images::serve(std::net::TcpListener::bind(&listen)?, verifier)?.await?;
    Ok(())
}
