//! `/account/providers`: how the signed-in person can sign in — their password, and the
//! upstream providers linked to the account — with "Link" for the others and "Unlink"
//! for each linked one (#13). Linking goes through the provider
//! (`/federation/{id}/callback` finishes it); the last way to sign in cannot be removed.
//! Signed-in only; every form carries a CSRF token.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::account::signed_in;
use super::authorize::see_other;
use super::{csrf, page, AppState};
use crate::error::AppError;
use crate::people::federated::{self, LinkRefusal};

struct Linked {
    id: String,
    provider: String,
    email: String,
}

struct Linkable {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "providers.html")]
struct ProvidersPage<'a> {
    csrf: &'a str,
    error: Option<&'a str>,
    has_password: bool,
    linked: Vec<Linked>,
    linkable: Vec<Linkable>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LinkForm {
    csrf: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UnlinkForm {
    csrf: String,
    identity: String,
}

pub const PAGE: &str = "/account/providers";

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    page_for(&req, &state, StatusCode::OK, None).await
}

/// The page for the signed-in person, with `error` above it.
pub(super) async fn page_for(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let Some((_, user)) = signed_in(req, state).await? else {
        return Ok(see_other("/login"));
    };
    let user_id = user.id.clone();
    let (has_password, identities) = state
        .db
        .run(move |conn| federated::methods(conn, &user_id))
        .await?;
    let name_of = |id: &str| {
        state
            .federation
            .get(id)
            .map_or_else(|| id.to_owned(), |u| u.config.display_name().to_owned())
    };
    let linked: Vec<Linked> = identities
        .iter()
        .map(|i| Linked {
            id: i.id.clone(),
            provider: name_of(&i.provider),
            email: i.email.clone().unwrap_or_default(),
        })
        .collect();
    let linkable = state
        .federation
        .upstreams()
        .iter()
        .filter(|u| !identities.iter().any(|i| i.provider == u.config.id))
        .map(|u| Linkable {
            id: u.config.id.clone(),
            name: u.config.display_name().to_owned(),
        })
        .collect();
    // "Link" ends, through our redirect, at the provider.
    let csp = page::Csp::own_forms().also(&state.federation.form_action_origins().await);
    Ok(csrf::form_page(req, state, |csrf| {
        page::render_with(
            status,
            &ProvidersPage {
                csrf,
                error,
                has_password,
                linked,
                linkable,
            },
            &csp,
        )
    }))
}

pub async fn link(
    req: HttpRequest,
    state: web::Data<AppState>,
    upstream: web::Path<String>,
    form: web::Form<LinkForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&req, &state, &form.csrf)?;
    let Some((_, user)) = signed_in(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    let (binding, _) = csrf::binding(&req, &state);
    let begun = state
        .federation
        .begin(
            &state.db,
            &state.master,
            &upstream,
            &binding,
            crate::federation::Purpose::Link { user_id: user.id },
            state.clock.now(),
        )
        .await;
    match begun {
        Ok(url) => Ok(see_other(url.as_str())),
        Err(crate::federation::FederationError::Unknown) => Err(AppError::NotFound),
        Err(e) => {
            tracing::warn!(error = %e, "linking a provider could not start");
            page_for(
                &req,
                &state,
                StatusCode::BAD_GATEWAY,
                Some("That provider cannot be reached right now."),
            )
            .await
        }
    }
}

pub async fn unlink(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<UnlinkForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&req, &state, &form.csrf)?;
    let Some((_, user)) = signed_in(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    let identity = form.into_inner().identity;
    let done = state
        .db
        .run(move |conn| federated::unlink(conn, &user.id, &identity))
        .await?;
    match done {
        Ok(()) => Ok(see_other(PAGE)),
        Err(refusal) => page_for(&req, &state, StatusCode::CONFLICT, Some(message(refusal))).await,
    }
}

pub(super) fn message(refusal: LinkRefusal) -> &'static str {
    match refusal {
        LinkRefusal::LinkedElsewhere => {
            "That account at the provider is already linked to another account here."
        }
        LinkRefusal::LastWay => "This is your only way to sign in, so it cannot be removed.",
        LinkRefusal::NotFound => "That sign-in method is not linked to your account.",
    }
}
