//! What local verification of an ES256 access token costs, next to the one `ring` ES256
//! verification inside it (#14: within 1.2× of it plus the claim checks).

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis_verifier::Verifier;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

#[path = "../tests/support/issuer.rs"]
mod issuer;

fn verification(c: &mut Criterion) {
    let key = issuer::Key::es256();
    let issuer = issuer::Issuer::start(&[&key]);
    let token = key.sign("at+jwt", &issuer.claims(issuer::now()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let verifier = runtime
        .block_on(Verifier::builder(&issuer.url).audience("api").build())
        .unwrap();
    assert!(runtime.block_on(verifier.verify(&token)).is_ok());

    // The ring verification alone, over the same signing input.
    let (signed, signature) = token.rsplit_once('.').unwrap();
    use base64::Engine;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .unwrap();
    let public = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &key.pkcs8,
        &ring::rand::SystemRandom::new(),
    )
    .map(|k| ring::signature::KeyPair::public_key(&k).as_ref().to_vec())
    .unwrap();
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public);

    let mut group = c.benchmark_group("es256");
    group.bench_function("ring_verify_only", |b| {
        b.iter(|| public.verify(signed.as_bytes(), &signature).unwrap())
    });
    group.bench_function("verifier_verify", |b| {
        b.iter(|| runtime.block_on(verifier.verify(&token)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, verification);
criterion_main!(benches);
