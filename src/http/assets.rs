//! `/static/…`: stylesheets and images embedded in the binary through an allow-list,
//! so no path ever reaches the file system.

use actix_web::{web, HttpResponse};

use crate::error::AppError;

const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "css/portcullis.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/css/portcullis.css"),
    ),
    (
        "js/form-post.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/form-post.js"),
    ),
];

pub async fn asset(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == path.as_str())
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header(("cache-control", "public, max-age=86400"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(*body))
}
