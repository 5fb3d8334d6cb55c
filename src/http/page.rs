//! HTML responses. Every page carries the headers of checklist §1.19, §1.22 and §1.23:
//! no framing, no referrer to other origins, no caching, no MIME sniffing, and a CSP that
//! names every place a form on the page may lead to.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use askama::Template;

/// The security headers of every HTML page besides its CSP.
///
/// `Referrer-Policy: same-origin`, not `no-referrer`: RFC 9700 §4.2.4 asks that no
/// `Referer` carrying our URLs reach another site, and `same-origin` sends none to any
/// other origin. `no-referrer` would also make browsers send `Origin: null` on our own
/// form POSTs (Fetch §3.1, "append a request `Origin` header"), so the CSRF check could
/// not tell our forms from a sandboxed or cross-site one (`http/csrf.rs`).
pub const PAGE_HEADERS: [(&str, &str); 5] = [
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
    ("pragma", "no-cache"),
    ("x-content-type-options", "nosniff"),
];

/// The Content-Security-Policy of a page.
///
/// `form-action` is checked by browsers against every hop of the redirect chain that
/// follows a form's submission (CSP 3 §6.3.1; Chromium enforces it), so a form whose
/// answer ends at the client (`POST /login` → 303 `/authorize/resume` → 303 to the
/// `redirect_uri`) must name the client's origin too, or the code never arrives.
pub struct Csp {
    script: bool,
    form_action: String,
}

impl Csp {
    /// Forms post to us, and whatever follows stays here.
    pub fn own_forms() -> Self {
        Csp {
            script: false,
            form_action: "'self'".into(),
        }
    }

    /// Forms post to us, and the redirect chain that follows may end at `uri` (a
    /// client's validated redirect or post-logout URI).
    pub fn own_forms_then(uri: Option<&str>) -> Self {
        let mut csp = Csp::own_forms();
        if let Some(source) = uri.and_then(source_of) {
            csp.form_action.push(' ');
            csp.form_action.push_str(&source);
        }
        csp
    }

    /// Forms whose redirect chain may also end at each of `origins` (URLs or origins).
    pub fn also(mut self, origins: &[String]) -> Self {
        for source in origins.iter().filter_map(|o| source_of(o)) {
            self.form_action.push(' ');
            self.form_action.push_str(&source);
        }
        self
    }

    /// The form_post page (OAuth 2.0 Form Post Response Mode): our one script, and one
    /// form that posts to the client.
    pub fn form_post_to(uri: &str) -> Self {
        Csp {
            script: true,
            form_action: source_of(uri).unwrap_or_else(|| "'none'".into()),
        }
    }

    fn header(&self) -> String {
        let script = if self.script {
            "script-src 'self'; "
        } else {
            ""
        };
        format!(
            "default-src 'none'; {script}style-src 'self'; img-src 'self'; form-action {}; \
             frame-ancestors 'none'; base-uri 'none'",
            self.form_action
        )
    }
}

/// The CSP source that allows `uri`: its origin, or its scheme for a private-use scheme
/// (RFC 8252 §7.1). Nothing that could end the directive (`;`, `,`, spaces, quotes) ever
/// reaches the header, whatever a registered URI contains.
fn source_of(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    let source = if url.origin().is_tuple() {
        url.origin().ascii_serialization()
    } else {
        format!("{}:", url.scheme())
    };
    source
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-.:/[]+".contains(&b))
        .then_some(source)
}

/// A page whose forms (if any) post to us and stay here.
pub fn render(status: StatusCode, template: &impl Template) -> HttpResponse {
    render_with(status, template, &Csp::own_forms())
}

pub fn render_with(status: StatusCode, template: &impl Template, csp: &Csp) -> HttpResponse {
    match template.render() {
        Ok(body) => {
            let mut response = HttpResponse::build(status);
            response.content_type(header::ContentType::html());
            response.insert_header((header::CONTENT_SECURITY_POLICY, csp.header()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_may_lead_to_the_clients_origin_only() {
        assert!(Csp::own_forms().header().contains("form-action 'self';"));
        let then = Csp::own_forms_then(Some("http://127.0.0.1:5173/callback?x=1")).header();
        assert!(
            then.contains("form-action 'self' http://127.0.0.1:5173;"),
            "{then}"
        );
        assert!(!then.contains("script-src"), "{then}");
        let app = Csp::own_forms_then(Some("com.example.app:/cb")).header();
        assert!(
            app.contains("form-action 'self' com.example.app:;"),
            "{app}"
        );
        let post = Csp::form_post_to("https://rp.test/cb").header();
        assert!(post.contains("script-src 'self'; "), "{post}");
        assert!(post.contains("form-action https://rp.test;"), "{post}");
        assert!(Csp::form_post_to("not a url")
            .header()
            .contains("form-action 'none';"));
        let odd = Csp::own_forms_then(Some("https://a;script-src*/cb")).header();
        assert!(odd.contains("form-action 'self';"), "{odd}");
    }
}
