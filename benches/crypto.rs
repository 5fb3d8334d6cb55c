//! Micro-benchmarks for the cryptography on the hot paths (`cargo bench --bench crypto`):
//! JWS signing with `ring` against `rsa`/`p256` doing the same, JWT encoding as the
//! token endpoint will, and client-secret checks (HMAC) against argon2id.
//! Results are recorded in docs/PERFORMANCE.md.

use criterion::{criterion_group, criterion_main, Criterion};
use getrandom::SysRng;
use p256::elliptic_curve::Generate;
use rsa::pkcs8::EncodePrivateKey;
use serde_json::json;

use portcullis::crypto::jws::{self, Signer};
use portcullis::crypto::{password, Alg, MasterKey};

const MESSAGE: &[u8] = b"eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.\
eyJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUuY29tIiwic3ViIjoidXNlci0xIiwiYXVkIjoiYXBpIiwiZXhwIjoxNzAwMDAwNjAwfQ";

fn keys() -> (rsa::PrivateKey, p256::SecretKey) {
    (
        rsa::PrivateKey::new(&mut SysRng, 2048).expect("RSA key"),
        p256::SecretKey::try_generate().expect("P-256 key"),
    )
}

fn signing(c: &mut Criterion) {
    let (rsa_key, ec_key) = keys();
    let ring_rsa =
        Signer::from_pkcs8(Alg::RS256, rsa_key.to_pkcs8_der().unwrap().as_bytes()).unwrap();
    let ring_ec =
        Signer::from_pkcs8(Alg::ES256, ec_key.to_pkcs8_der().unwrap().as_bytes()).unwrap();

    let mut group = c.benchmark_group("sign");
    group.bench_function("RS256/ring", |b| b.iter(|| ring_rsa.sign(MESSAGE)));
    group.bench_function("ES256/ring", |b| b.iter(|| ring_ec.sign(MESSAGE)));
    let rsa_signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(rsa_key.clone());
    group.bench_function("RS256/rsa", |b| {
        b.iter(|| -> rsa::pkcs1v15::Signature {
            rsa::signature::Signer::sign(&rsa_signer, MESSAGE)
        })
    });
    let p256_signer = p256::ecdsa::SigningKey::from(&ec_key);
    group.bench_function("ES256/p256", |b| {
        b.iter(|| -> p256::ecdsa::Signature {
            p256::ecdsa::signature::Signer::sign(&p256_signer, MESSAGE)
        })
    });
    group.finish();

    let claims = json!({
        "iss": "https://id.example.com", "sub": "7f3kQ2vP9sLm1xYcB4nT0w", "aud": "api",
        "client_id": "spa", "scope": "openid profile email", "iat": 1_700_000_000, "exp": 1_700_000_600,
        "jti": "n3X9qL2mVb7cR1tY5wZ8kA", "acr": "1", "auth_time": 1_699_999_000,
    });
    let mut group = c.benchmark_group("jwt_encode");
    group.bench_function("ES256", |b| {
        b.iter(|| jws::encode(&ring_ec, "kid", "at+jwt", &claims))
    });
    group.bench_function("RS256", |b| {
        b.iter(|| jws::encode(&ring_rsa, "kid", "JWT", &claims))
    });
    group.finish();
}

fn verifying(c: &mut Criterion) {
    use ring::rand::SystemRandom;
    use ring::signature::{
        EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
        ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_2048_8192_SHA256,
    };
    let (rsa_key, ec_key) = keys();
    let rsa_der = rsa_key.to_pkcs8_der().unwrap();
    let ec_der = ec_key.to_pkcs8_der().unwrap();
    let rsa_public = RsaKeyPair::from_pkcs8(rsa_der.as_bytes())
        .unwrap()
        .public_key()
        .as_ref()
        .to_vec();
    let ec_public = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        ec_der.as_bytes(),
        &SystemRandom::new(),
    )
    .unwrap()
    .public_key()
    .as_ref()
    .to_vec();
    let rsa_sig = Signer::from_pkcs8(Alg::RS256, rsa_der.as_bytes())
        .unwrap()
        .sign(MESSAGE);
    let ec_sig = Signer::from_pkcs8(Alg::ES256, ec_der.as_bytes())
        .unwrap()
        .sign(MESSAGE);
    let rsa_verifier = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa_public);
    let ec_verifier = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, ec_public);

    let mut group = c.benchmark_group("verify");
    group.bench_function("RS256/ring", |b| {
        b.iter(|| rsa_verifier.verify(MESSAGE, &rsa_sig).unwrap())
    });
    group.bench_function("ES256/ring", |b| {
        b.iter(|| ec_verifier.verify(MESSAGE, &ec_sig).unwrap())
    });
    let p256_verifier = p256::ecdsa::VerifyingKey::from(&p256::ecdsa::SigningKey::from(&ec_key));
    let p256_sig = p256::ecdsa::Signature::from_slice(&ec_sig).unwrap();
    group.bench_function("ES256/p256", |b| {
        b.iter(|| {
            p256::ecdsa::signature::Verifier::verify(&p256_verifier, MESSAGE, &p256_sig).unwrap()
        })
    });
    group.finish();
}

fn client_secrets(c: &mut Criterion) {
    let master = MasterKey::from_secret(&[7u8; 32]);
    let stored = master.hash_client_secret("3q2V7fTt0yJm9pQ1xC5rN8bL2wZ4kH6gA0sD9eU1iO");
    let phc = password::hash_blocking("correct horse battery staple").unwrap();
    let mut group = c.benchmark_group("secret_check");
    group.bench_function("client_secret_hmac", |b| {
        b.iter(|| {
            master.verify_client_secret("3q2V7fTt0yJm9pQ1xC5rN8bL2wZ4kH6gA0sD9eU1iO", &stored)
        })
    });
    group.sample_size(10);
    group.bench_function("password_argon2id", |b| {
        b.iter(|| password::verify_blocking("correct horse battery staple", Some(&phc)))
    });
    group.finish();
}

criterion_group!(benches, signing, verifying, client_secrets);
criterion_main!(benches);
