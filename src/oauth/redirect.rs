//! Redirect URIs at request time: exact matching (RFC 9700 §2.1, §4.1.3; checklist §1.1)
//! and the authorization response (RFC 6749 §4.1.2, RFC 9207).

use url::Url;

/// True when `requested` is one of `registered`, compared as plain strings (RFC 3986
/// §6.2.1). The one exception is RFC 8252 §7.3: for an `http` loopback IP literal, any
/// port is accepted, everything else must match exactly.
pub fn is_registered(registered: &[String], requested: &str) -> bool {
    registered.iter().any(|r| r == requested) || loopback_match(registered, requested)
}

fn loopback_match(registered: &[String], requested: &str) -> bool {
    let Ok(mut asked) = Url::parse(requested) else {
        return false;
    };
    // The request must already be in normal form: `..`, case or escapes that the parser
    // rewrites would otherwise match a registered URI they do not equal.
    if asked.as_str() != requested || asked.scheme() != "http" || !is_loopback_ip(&asked) {
        return false;
    }
    let _ = asked.set_port(None);
    registered.iter().any(|r| {
        Url::parse(r).is_ok_and(|mut r| {
            let _ = r.set_port(None);
            is_loopback_ip(&r) && r == asked
        })
    })
}

fn is_loopback_ip(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// `redirect_uri` with `params` added to its query (RFC 6749 §4.1.2: "retaining any
/// existing query component").
pub fn with_query(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params);
            url.into()
        }
        // Registered URIs are validated absolute URIs; this cannot happen.
        Err(_) => redirect_uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_or_loopback_port() {
        let reg = vec![
            "https://app.test/cb".to_owned(),
            "http://127.0.0.1/cb".to_owned(),
        ];
        assert!(is_registered(&reg, "https://app.test/cb"));
        for bad in [
            "https://app.test/cb/",
            "https://APP.test/cb",
            "https://app.test/CB",
            "https://app.test:443/cb",
            "https://app.test/cb?x=1",
            "https://app.test/cb#f",
            "http://app.test/cb",
            "https://app.test/cb/../x",
            "https://app.test/cb%2f..%2fx",
            "https://app.test.evil.test/cb",
            "https://app.test@evil.test/cb",
            "http://127.0.0.1:51004/cb2",
            "http://127.0.0.2:51004/cb",
            "http://localhost:51004/cb",
            "https://127.0.0.1/cb",
            "http://127.0.0.1:51004/x/../cb",
        ] {
            assert!(!is_registered(&reg, bad), "{bad}");
        }
        assert!(is_registered(&reg, "http://127.0.0.1:51004/cb"));
        assert!(is_registered(&reg, "http://127.0.0.1/cb"));
    }

    #[test]
    fn keeps_the_query() {
        assert_eq!(
            with_query(
                "https://app.test/cb?x=1",
                &[("code", "a b"), ("state", "+&=")]
            ),
            "https://app.test/cb?x=1&code=a+b&state=%2B%26%3D"
        );
    }
}
