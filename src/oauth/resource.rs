//! Resource indicators (RFC 8707): which resource server an access token is for. A
//! client is registered with the resources it may ask for (`resources`) and, optionally,
//! the one its tokens are for when a request names none (`default_resource`); without
//! either, tokens carry `tokens.audience` as before.
//!
//! `/authorize` may name several resources (the grant is authorized for them); each
//! token names one — a JWT access token with one `aud` is what a resource server can
//! check on its own, and RFC 8707 §2.2 lets a token request pick it. Whatever is not
//! allowed, malformed, or more than one at the token endpoint is `invalid_target`.

use super::client::Client;
use super::params::Params;
use super::OAuthError;

/// RFC 8707 §2: "an absolute URI … MUST NOT include a fragment component".
pub fn is_resource_uri(value: &str) -> bool {
    url::Url::parse(value).is_ok() && !value.contains('#')
}

/// The resources a request names, without duplicates; each must be a resource URI.
/// The error is the `invalid_target` description.
pub fn named(params: &Params) -> Result<Vec<String>, String> {
    let mut named: Vec<String> = Vec::new();
    for value in params.get_all("resource") {
        if !is_resource_uri(value) {
            return Err("a resource must be an absolute URI without a fragment".into());
        }
        if !named.iter().any(|n| n == value) {
            named.push(value.to_owned());
        }
    }
    Ok(named)
}

const NOT_ALLOWED: &str = "the resource is not one this client may ask for";

/// What `/authorize` names ([`named`]), each one `client` may ask for.
pub fn requested(params: &Params, client: &Client) -> Result<Vec<String>, String> {
    let named = named(params)?;
    if named.iter().any(|r| !client.may_ask_for(r)) {
        return Err(NOT_ALLOWED.into());
    }
    Ok(named)
}

/// [`audience`] for a token request's parameters, as an `invalid_target` refusal.
pub fn audience_for(
    params: &Params,
    authorized: &[String],
    client: &Client,
    server_audience: &str,
) -> Result<String, OAuthError> {
    named(params)
        .and_then(|named| audience(&named, authorized, client, server_audience))
        .map_err(|d| OAuthError::invalid_target(&d))
}

/// The `aud` of one access token: the resource the token request names (one, among
/// those the grant was authorized for, or any the client may ask for when the
/// authorization named none); else the grant's one resource; else the client's default;
/// else the server's audience.
pub fn audience(
    named: &[String],
    authorized: &[String],
    client: &Client,
    server_audience: &str,
) -> Result<String, String> {
    match named {
        [] => {}
        [one] if authorized.contains(one) => return Ok(one.clone()),
        [one] if authorized.is_empty() && client.may_ask_for(one) => return Ok(one.clone()),
        [_] if authorized.is_empty() => return Err(NOT_ALLOWED.into()),
        [_] => return Err("the resource was not authorized for this grant".into()),
        _ => return Err("an access token is for one resource: name one".into()),
    }
    match authorized {
        [] => Ok(client
            .default_resource
            .clone()
            .unwrap_or_else(|| server_audience.to_owned())),
        [one] => Ok(one.clone()),
        several => client
            .default_resource
            .clone()
            .filter(|d| several.contains(d))
            .ok_or_else(|| "the grant is for several resources: name one".into()),
    }
}

/// A stored JSON list of resources.
pub fn list(stored: &str) -> Vec<String> {
    serde_json::from_str(stored).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_is_an_absolute_uri_without_a_fragment() {
        assert!(is_resource_uri("https://api.example.com"));
        assert!(is_resource_uri("https://api.example.com/v1?x=1"));
        assert!(is_resource_uri("urn:example:images"));
        for bad in [
            "api",
            "/relative",
            "https://api.example.com/#f",
            "https://a.example/#",
        ] {
            assert!(!is_resource_uri(bad), "{bad}");
        }
    }
}
