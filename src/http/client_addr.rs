//! Where a browser is, for throttling and the devices page (checklist §1.30). The TCP
//! peer, unless the peer is a proxy the operator listed in `http.trusted_proxies`: then
//! the nearest address in `Forwarded` (RFC 7239) or `X-Forwarded-For` that is not a
//! trusted proxy itself — each proxy appends the address it saw, so the addresses are
//! read from the right, and whatever lies left of the first untrusted one could have been
//! written by the client. Nothing is trusted by default.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header;
use actix_web::HttpRequest;
use ipnet::IpNet;

use crate::people::sessions::Client;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `http.trusted_proxies`: CIDRs (`10.0.0.0/8`) or single addresses.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("http.trusted_proxies[{i}]: {entry:?} is not an address or CIDR")
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for `req`.
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusts(peer) {
            return Some(peer);
        }
        let hops = forwarded_for(req);
        hops.iter()
            .rev()
            .find(|ip| !self.trusts(**ip))
            .or(hops.first())
            .copied()
            .or(Some(peer))
    }

    /// The browser behind `req`: its address and user agent.
    pub fn client_of(&self, req: &HttpRequest) -> Client {
        Client {
            ip: self.client_ip(req).map(|ip| ip.to_string()),
            user_agent: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }
}

/// The addresses the proxies recorded, left to right: `Forwarded`'s `for=` when present,
/// else `X-Forwarded-For`. Entries that are not addresses (`unknown`, obfuscated names)
/// are left out.
fn forwarded_for(req: &HttpRequest) -> Vec<IpAddr> {
    let values = |name: header::HeaderName| {
        req.headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>()
    };
    let forwarded = values(header::FORWARDED);
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.trim().split_once('=')?;
                    key.eq_ignore_ascii_case("for")
                        .then(|| parse_node(value.trim_matches('"')))?
                })
            })
            .collect();
    }
    values(header::X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| parse_node(v))
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]` or `[2001:db8::1]:4711` (RFC 7239 §6).
fn parse_node(node: &str) -> Option<IpAddr> {
    node.parse::<IpAddr>()
        .or_else(|_| node.parse::<SocketAddr>().map(|s| s.ip()))
        .or_else(|_| {
            node.strip_prefix('[')
                .and_then(|n| n.strip_suffix(']'))
                .unwrap_or(node)
                .parse::<IpAddr>()
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn from(peer: &str, headers: &[(&str, &str)], trusted: &[&str]) -> Option<IpAddr> {
        let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
        for h in headers {
            req = req.insert_header(*h);
        }
        let trusted: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
        TrustedProxies::parse(&trusted)
            .unwrap()
            .client_ip(&req.to_http_request())
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let xff = [("x-forwarded-for", "198.51.100.9, 203.0.113.7")];
        assert_eq!(
            from("10.0.0.2:1", &xff, &[]),
            ip("10.0.0.2"),
            "none by default"
        );
        assert_eq!(from("10.0.0.2:1", &xff, &["10.0.0.0/8"]), ip("203.0.113.7"));
        // The client wrote the left part: only the nearest untrusted hop counts.
        let chain = [("x-forwarded-for", "1.2.3.4, 203.0.113.7, 10.0.0.3")];
        assert_eq!(
            from("10.0.0.2:1", &chain, &["10.0.0.0/8"]),
            ip("203.0.113.7")
        );
        let forwarded = [(
            "forwarded",
            r#"for=192.0.2.60;proto=https, for="[2001:db8::7]:4711""#,
        )];
        assert_eq!(
            from("10.0.0.2:1", &forwarded, &["10.0.0.2"]),
            ip("2001:db8::7")
        );
        assert_eq!(from("10.0.0.2:1", &[], &["10.0.0.2"]), ip("10.0.0.2"));
        assert_eq!(from("192.0.2.1:1", &xff, &["10.0.0.0/8"]), ip("192.0.2.1"));
        assert!(TrustedProxies::parse(&["not a cidr".into()]).is_err());
    }
}
