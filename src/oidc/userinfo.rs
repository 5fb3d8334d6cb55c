//! UserInfo claims (OpenID Connect Core §5.3.2, §5.4): `sub` always, the rest by scope.

use serde_json::{json, Map, Value};

use crate::store::users::UserRow;

pub fn claims(user: &UserRow, scope: &[&str]) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.id));
    if scope.contains(&"profile") {
        claims.insert("preferred_username".into(), json!(user.username));
        if let Some(name) = &user.name {
            claims.insert("name".into(), json!(name));
        }
    }
    if scope.contains(&"email") {
        if let Some(email) = &user.email {
            claims.insert("email".into(), json!(email));
            claims.insert("email_verified".into(), json!(user.email_verified));
        }
    }
    claims
}

/// What `/userinfo` answers for a presented access token.
pub enum Answer {
    Claims(Map<String, Value>),
    /// Bad signature, wrong type/issuer/audience, expired, revoked, or the user is gone.
    InvalidToken,
    /// §5.3: the token was not issued for `openid`.
    InsufficientScope,
}

/// Verifies the token (RFC 9068 §4), checks its grant is live, and reads the claims.
pub fn answer(
    conn: &mut crate::store::DbConnection,
    token: &str,
    verifier: &crate::oauth::introspect::Verifier<'_>,
    now: i64,
) -> Result<Answer, crate::store::StoreError> {
    let (keys, settings) = (verifier.keys, verifier.settings);
    let Some(claims) = verifier.verified.verify(token, keys, settings, now) else {
        return Ok(Answer::InvalidToken);
    };
    let user = match &claims.grant_id {
        Some(grant) => crate::store::grants::live_user_for_token(conn, grant, &claims.jti)?
            .filter(|u| u.id == claims.sub),
        _ => None,
    };
    let Some(user) = user else {
        return Ok(Answer::InvalidToken);
    };
    let scope: Vec<&str> = claims.scope.split(' ').collect();
    if !scope.contains(&"openid") {
        return Ok(Answer::InsufficientScope);
    }
    Ok(Answer::Claims(self::claims(&user, &scope)))
}
