//! The one HTTP client Portcullis calls upstream providers with (GUIDE 11): async (it
//! never holds a database connection or a blocking thread while it waits), bounded by
//! `federation.connect_timeout` and `federation.timeout`, TLS verified, no redirect
//! followed (a redirect is an answer, not an instruction), and — unless
//! `federation.allow_private_addresses` — no loopback, private or link-local address
//! reached, whether the URL names it or DNS resolves to it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use openidconnect::reqwest;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

use crate::config::FederationConfig;

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The URL's host is, or resolves only to, an address we do not call.
    #[error("refused to call {0}: not a public address")]
    Internal(String),
    #[error("{0}")]
    Http(#[from] openidconnect::HttpClientError<reqwest::Error>),
}

#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
}

impl Outbound {
    pub fn new(config: &FederationConfig) -> Outbound {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout.0)
            .timeout(config.timeout.0)
            .user_agent(concat!("Portcullis/", env!("CARGO_PKG_VERSION")));
        if !config.allow_private_addresses {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Outbound {
            client: builder.build().expect("the outbound HTTP client builds"),
            allow_private: config.allow_private_addresses,
        }
    }

    /// One request, as `openidconnect` hands it over.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, OutboundError> {
        // A literal address never reaches the resolver: judge it here.
        if !self.allow_private {
            let host = request.uri().host().unwrap_or_default();
            let literal = host.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = literal.parse::<IpAddr>() {
                if is_internal(ip) {
                    return Err(OutboundError::Internal(host.to_owned()));
                }
            }
        }
        Ok(self.client.call(request).await?)
    }

    /// A GET of `url` that answers JSON (with `bearer` as the access token): its status
    /// and body, parsed.
    pub async fn get_json(
        &self,
        url: &url::Url,
        bearer: Option<&str>,
    ) -> Result<(u16, serde_json::Value), OutboundError> {
        let mut request =
            openidconnect::http::Request::get(url.as_str()).header("accept", "application/json");
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(Vec::new())
            .map_err(|e| OutboundError::Internal(e.to_string()))?;
        let response = self.send(request).await?;
        let body = serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null);
        Ok((response.status().as_u16(), body))
    }
}

/// Resolves names with the system resolver and keeps only public addresses.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_internal(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(OutboundError::Internal(host)) as _);
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Loopback, private (RFC 1918, RFC 4193), link-local, shared (RFC 6598), unspecified,
/// broadcast and documentation addresses, and IPv4 inside IPv6.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_named_as_such() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in ["8.8.8.8", "142.250.1.1", "2a00:1450:4001::1"] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }
}
