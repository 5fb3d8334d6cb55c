//! Cookie names and attributes (checklist §3.6): `HttpOnly`, `SameSite=Lax` (Strict would
//! break the cross-site top-level GET to /authorize), `Path=/`, no `Domain`; `Secure`
//! and the `__Host-` prefix whenever the issuer is https.

use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::HttpRequest;

#[derive(Debug, Clone, Copy)]
pub struct Cookies {
    secure: bool,
}

impl Cookies {
    pub fn for_issuer(issuer: &str) -> Self {
        Cookies {
            secure: issuer.starts_with("https://"),
        }
    }

    pub fn session_name(self) -> &'static str {
        if self.secure {
            "__Host-portcullis_session"
        } else {
            "portcullis_session"
        }
    }

    pub fn csrf_name(self) -> &'static str {
        if self.secure {
            "__Host-portcullis_csrf"
        } else {
            "portcullis_csrf"
        }
    }

    pub fn build(self, name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build(name, value)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .finish()
    }

    /// A cookie that removes `name` from the browser.
    pub fn removal(self, name: &'static str) -> Cookie<'static> {
        let mut cookie = self.build(name, String::new());
        cookie.set_max_age(Duration::ZERO);
        cookie
    }

    pub fn read(req: &HttpRequest, name: &str) -> Option<String> {
        req.cookie(name)
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty())
    }
}
