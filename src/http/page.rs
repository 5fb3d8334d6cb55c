//! HTML responses. Every page carries the headers of checklist §1.19, §1.22 and §1.23:
//! no framing, no referrer, no caching, no MIME sniffing.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use askama::Template;

/// The security headers of every HTML page.
pub const PAGE_HEADERS: [(&str, &str); 6] = [
    (
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("pragma", "no-cache"),
    ("x-content-type-options", "nosniff"),
];

pub fn render(status: StatusCode, template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(body) => {
            let mut response = HttpResponse::build(status);
            response.content_type(header::ContentType::html());
            for (name, value) in PAGE_HEADERS {
                response.insert_header((name, value));
            }
            response.body(body)
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
