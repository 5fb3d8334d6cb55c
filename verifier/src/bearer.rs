//! The `Authorization: Bearer` header (RFC 6750 §2.1). Tokens in the query or the body
//! are not read: RFC 9700 §2.4.1 forbids the query, and a form body is the handler's.

use crate::Rejection;

/// The token of an `Authorization` header; a request without one is asked to
/// authenticate (RFC 6750 §3: no error code), a malformed one is `invalid_request`.
pub(crate) fn token(authorization: Option<&str>) -> Result<&str, Rejection> {
    let Some(value) = authorization else {
        return Err(Rejection::Missing);
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err(if value.eq_ignore_ascii_case("bearer") {
            Rejection::invalid_request("the bearer token is missing")
        } else {
            Rejection::Missing
        });
    };
    // Another scheme (Basic, DPoP) is not ours to judge: ask for a bearer token.
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::Missing);
    }
    // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let body = token.trim_end_matches('=');
    let well_formed = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if !well_formed {
        return Err(Rejection::invalid_request(
            "the bearer token is not a b64token (RFC 6750 §2.1)",
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_token_of_a_bearer_header() {
        assert_eq!(
            token(Some("Bearer abc.def-_~+/=")).unwrap(),
            "abc.def-_~+/="
        );
        assert_eq!(token(Some("bearer abc")).unwrap(), "abc");
    }

    #[test]
    fn no_header_or_another_scheme_asks_to_authenticate() {
        assert!(matches!(token(None), Err(Rejection::Missing)));
        assert!(matches!(token(Some("Basic YTpi")), Err(Rejection::Missing)));
    }

    #[test]
    fn a_malformed_bearer_header_is_invalid_request() {
        for value in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a\"b",
            "Bearer ===",
        ] {
            let e = token(Some(value)).unwrap_err();
            assert_eq!(e.error(), Some("invalid_request"), "{value:?}");
            assert_eq!(e.status(), 400);
        }
    }
}
