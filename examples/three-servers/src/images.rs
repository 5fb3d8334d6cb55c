//! The image server: `GET /images/{id}` for tokens whose `aud` is this server's resource
//! and whose scope has `images:read`.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use portcullis_verifier::{Authorized, Policy, Requirement, Verifier};

/// The scope the image server asks of every caller.
pub const READ: &str = "images:read";

/// A handler's needs as a type: the extractor checks them before the handler runs.
pub struct ReadImages;

impl Policy for ReadImages {
    fn requirement() -> Requirement {
        Requirement::new().scope(READ)
    }
}

async fn image(token: Authorized<ReadImages>, id: web::Path<String>) -> HttpResponse {
    let id: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(32)
        .collect();
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"64\">\
         <title>image {id} for {}</title><rect width=\"64\" height=\"64\" fill=\"#4a7\"/></svg>",
        token.client_id
    );
    HttpResponse::Ok().content_type("image/svg+xml").body(svg)
}

/// The verifier for this server: tokens of `issuer` for `resource`.
pub async fn verifier(
    issuer: &str,
    resource: &str,
) -> Result<Verifier, portcullis_verifier::SetupError> {
    Verifier::builder(issuer)
        .audience(resource)
        .realm("images")
        .build()
        .await
}

/// Serves the image server on `listener`; spawn or await the returned server.
pub fn serve(listener: TcpListener, verifier: Verifier) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .route("/images/{id}", web::get().to(image))
    })
    .listen(listener)?
    .workers(1)
    .disable_signals()
    .run())
}
