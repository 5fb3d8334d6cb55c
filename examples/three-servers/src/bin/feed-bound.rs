//! Measures the verifier's revocation bound (`scripts/feed-latency` runs it): for each of
//! `n` tokens, from `/revoke`'s answer until `Verifier::verify` refuses the token
//! because the revocation feed said so, checking every millisecond.
//!
//!   feed-bound <issuer> <resource-server client_id> <secret> <n>
//!
//! The client is a resource server (`introspection = "any"`, `client_credentials`): it
//! revokes its own tokens, and follows the feed. Prints `p50 p99 max` in milliseconds.

use std::time::{Duration, Instant};

use portcullis_verifier::{FeedOutage, Rejection, Verifier};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, issuer, client, secret, n] = args.as_slice() else {
        return Err("usage: feed-bound <issuer> <client_id> <secret> <n>".into());
    };
    let n: usize = n.parse()?;
    let verifier = Verifier::builder(issuer)
        .audience(issuer)
        .client_credentials(client, secret)
        .follow_revocations(FeedOutage::ServeOnSignatures)
        .build()
        .await?;
    while !verifier.feed_status().is_some_and(|s| s.connected) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let http = reqwest::Client::new();
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let body: serde_json::Value = http
            .post(format!("{issuer}/token"))
            .basic_auth(client, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = body["access_token"].as_str().ok_or("no access token")?;
        verifier.verify(token).await?;
        http.post(format!("{issuer}/revoke"))
            .basic_auth(client, Some(secret))
            .form(&[("token", token)])
            .send()
            .await?
            .error_for_status()?;
        let revoked = Instant::now();
        loop {
            match verifier.verify(token).await {
                Err(Rejection::InvalidToken(_)) => break,
                Err(other) => return Err(other.into()),
                Ok(_) if revoked.elapsed() > Duration::from_secs(10) => {
                    return Err("a revoked token was still accepted after 10 s".into())
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
        times.push(revoked.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_millis();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "{} {} {}",
        ms(at(0.50)),
        ms(at(0.99)),
        ms(*times.last().unwrap())
    );
    Ok(())
}
