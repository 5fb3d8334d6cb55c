//! The actix-web side: [`AccessToken`] and [`Authorized<P>`] as handler arguments, and
//! [`Rejection`] as the response. The [`Verifier`] is found in the app data (as itself
//! or as `web::Data<Verifier>`).
//!
//! ```ignore
//! struct Payments;
//! impl Policy for Payments {
//!     fn requirement() -> Requirement {
//!         Requirement::new().scope("payments").acr(["urn:portcullis:acr:mfa"])
//!     }
//! }
//! async fn pay(token: Authorized<Payments>) -> HttpResponse { … token.sub … }
//! ```

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};

use crate::{AccessToken, Rejection, Requirement, Verifier};

/// A handler's needs, as a type: `Authorized<P>` checks `P::requirement()`.
pub trait Policy {
    fn requirement() -> Requirement;
}

/// A token that passed the verifier and `P`'s requirement.
pub struct Authorized<P: Policy> {
    token: AccessToken,
    policy: PhantomData<P>,
}

impl<P: Policy> Authorized<P> {
    pub fn into_inner(self) -> AccessToken {
        self.token
    }
}

impl<P: Policy> Deref for Authorized<P> {
    type Target = AccessToken;
    fn deref(&self) -> &AccessToken {
        &self.token
    }
}

/// A refusal with the verifier's realm, as actix-web sends it.
#[derive(Debug)]
pub struct Refused {
    rejection: Rejection,
    realm: Option<String>,
}

impl Refused {
    pub fn rejection(&self) -> &Rejection {
        &self.rejection
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.rejection.fmt(f)
    }
}

impl ResponseError for Refused {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.rejection.status()).unwrap_or(StatusCode::UNAUTHORIZED)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(challenge) = self.rejection.www_authenticate(self.realm.as_deref()) {
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if self.rejection.status() == 503 {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response.json(self.rejection.body())
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::UNAUTHORIZED)
    }

    fn error_response(&self) -> HttpResponse {
        Refused {
            rejection: self.clone(),
            realm: None,
        }
        .error_response()
    }
}

impl Verifier {
    /// [`Verifier::authorize`] for an actix-web request; the error carries the realm.
    pub async fn authorize_request(
        &self,
        req: &HttpRequest,
        need: &Requirement,
    ) -> Result<AccessToken, Refused> {
        let refused = |rejection| Refused {
            rejection,
            realm: self.realm().map(str::to_owned),
        };
        let authorization = match req.headers().get(header::AUTHORIZATION) {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| {
                refused(Rejection::invalid_request(
                    "the Authorization header is not visible ASCII",
                ))
            })?),
        };
        self.authorize(authorization, need).await.map_err(refused)
    }
}

fn verifier_of(req: &HttpRequest) -> Verifier {
    req.app_data::<Verifier>()
        .cloned()
        .or_else(|| {
            req.app_data::<web::Data<Verifier>>()
                .map(|d| d.get_ref().clone())
        })
        .expect("register the Verifier with App::app_data before using its extractors")
}

impl FromRequest for AccessToken {
    type Error = Refused;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Refused>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (req, verifier) = (req.clone(), verifier_of(req));
        Box::pin(async move {
            verifier
                .authorize_request(&req, &Requirement::default())
                .await
        })
    }
}

impl<P: Policy + 'static> FromRequest for Authorized<P> {
    type Error = Refused;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Refused>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (req, verifier) = (req.clone(), verifier_of(req));
        Box::pin(async move {
            let token = verifier.authorize_request(&req, &P::requirement()).await?;
            Ok(Authorized {
                token,
                policy: PhantomData,
            })
        })
    }
}
