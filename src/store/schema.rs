//! Diesel table definitions, written by hand to match `migrations/{sqlite,postgres}`.
//! Only the common type set is used (see `store/mod.rs`); the test
//! `store::schema_matches_both_backends` selects every column on both backends.

diesel::table! {
    clients (id) {
        id -> Text,
        client_name -> Text,
        secret_hash -> Nullable<Binary>,
        public -> Bool,
        token_endpoint_auth_method -> Text,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        allowed_origins -> Text,
        grant_types -> Text,
        scopes -> Text,
        skip_consent -> Bool,
        require_pkce -> Bool,
        id_token_signed_response_alg -> Text,
        access_token_signed_response_alg -> Text,
        access_token_ttl -> Nullable<BigInt>,
        refresh_token_idle_ttl -> Nullable<BigInt>,
        refresh_token_absolute_ttl -> Nullable<BigInt>,
        managed_by -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        introspection -> Text,
        default_acr_values -> Text,
        require_acr -> Bool,
        enroll_on_step_up -> Nullable<Bool>,
        resources -> Text,
        default_resource -> Nullable<Text>,
        jwks -> Nullable<Text>,
        jwks_uri -> Nullable<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        email -> Nullable<Text>,
        email_verified -> Bool,
        name -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        disabled -> Bool,
        managed_by -> Text,
        password_changed_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        config_password_mac -> Nullable<Binary>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        generation -> BigInt,
        public_jwk -> Text,
        private_key -> Binary,
        created_at -> BigInt,
        activates_at -> BigInt,
        retires_at -> Nullable<BigInt>,
        expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        secret_hash -> Binary,
        user_id -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
        acr -> Nullable<Text>,
        amr -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        ended_at -> Nullable<BigInt>,
        idle_expires_at -> BigInt,
        mfa_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Binary,
        grant_id -> Text,
        client_id -> Text,
        user_id -> Text,
        session_id -> Nullable<Text>,
        redirect_uri -> Text,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        code_challenge_method -> Nullable<Text>,
        auth_time -> BigInt,
        acr -> Nullable<Text>,
        amr -> Nullable<Text>,
        claims -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed_at -> Nullable<BigInt>,
        resources -> Text,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        token_hash -> Binary,
        family_id -> Text,
        parent_id -> Nullable<Text>,
        client_id -> Text,
        user_id -> Text,
        session_id -> Nullable<Text>,
        scope -> Text,
        acr -> Nullable<Text>,
        amr -> Nullable<Text>,
        auth_time -> BigInt,
        created_at -> BigInt,
        idle_expires_at -> BigInt,
        absolute_expires_at -> BigInt,
        rotated_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        created_ip -> Nullable<Text>,
        created_user_agent -> Nullable<Text>,
        last_used_at -> Nullable<BigInt>,
        last_ip -> Nullable<Text>,
        last_user_agent -> Nullable<Text>,
        grace_response -> Nullable<Binary>,
        resources -> Text,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    revoked_access_tokens (jti) {
        jti -> Text,
        expires_at -> BigInt,
        revoked_at -> BigInt,
    }
}

diesel::table! {
    federated_identities (id) {
        id -> Text,
        user_id -> Text,
        provider -> Text,
        subject -> Text,
        email -> Nullable<Text>,
        created_at -> BigInt,
        last_login_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    totp_credentials (id) {
        id -> Text,
        user_id -> Text,
        secret -> Binary,
        label -> Text,
        last_used_step -> Nullable<BigInt>,
        confirmed_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> Text,
        user_id -> Text,
        code_hash -> Binary,
        used_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        occurred_at -> BigInt,
        kind -> Text,
        user_id -> Nullable<Text>,
        client_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        detail -> Text,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> BigInt,
        window_started_at -> BigInt,
        locked_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    grants (id) {
        id -> Text,
        client_id -> Text,
        user_id -> Text,
        session_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    authorization_requests (id) {
        id -> Text,
        binding_hash -> Binary,
        client_id -> Text,
        request -> Text,
        consented_at -> Nullable<BigInt>,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    federation_states (id) {
        id -> Text,
        upstream -> Text,
        binding_hash -> Binary,
        request_id -> Nullable<Text>,
        link_user_id -> Nullable<Text>,
        sealed -> Binary,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    client_generation (id) {
        id -> Integer,
        generation -> BigInt,
    }
}

diesel::table! {
    revocation_events (seq) {
        seq -> BigInt,
        kind -> Text,
        subject -> Text,
        occurred_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    client_assertion_jtis (client_id, jti) {
        client_id -> Text,
        jti -> Text,
        expires_at -> BigInt,
    }
}

/// Calls the macro `$m` with every table, so the lists that need them all (below, and
/// `store::verify_schema`) cannot drift.
macro_rules! with_all_tables {
    ($m:ident) => {
        $m!(
            clients,
            users,
            signing_keys,
            sessions,
            authorization_codes,
            refresh_tokens,
            consents,
            revoked_access_tokens,
            federated_identities,
            totp_credentials,
            recovery_codes,
            audit_events,
            login_throttle,
            grants,
            authorization_requests,
            federation_states,
            revocation_events,
            client_assertion_jtis,
            client_generation
        );
    };
}
pub(crate) use with_all_tables;

use diesel::allow_tables_to_appear_in_same_query;
with_all_tables!(allow_tables_to_appear_in_same_query);
