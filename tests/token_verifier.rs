//! The bearer-token verifier on its own (SPEC §6), against a loopback JWKS and the fixture keys:
//! each algorithm through its own kind of key, the audience, `token_use`, machines, the HS256
//! key's port and what its failures mean. No emulator: the whole handler's view of the same
//! checks is `tests/bearer_tokens.rs`.

mod support;

use change_password::auth::jwks::JwksCache;
use change_password::auth::principal::{Callers, PrincipalError, PrincipalKind};
use change_password::auth::token_verifier::{
    KeyFuture, KeyProblem, SharedKeySource, TokenFailure, TokenVerifier,
};
use jsonwebtoken::jwk::PublicKeyUse;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use support::issuer::{JwksServer, ec, jwk, rsa, sign};
use support::now;

const ISSUER: &str = "https://issuer.example";
const CLIENT: &str = "client-abc";
const HS_KEY: &[u8] = b"a-test-only-hs256-key-of-32-bytes-or-more";

/// An HS256 key source that answers what the test says.
struct FixedKey(Result<Arc<Vec<u8>>, KeyProblem>);

impl SharedKeySource for FixedKey {
    fn key(&self) -> KeyFuture<'_> {
        let answer = self.0.clone();
        Box::pin(async move { answer })
    }
}

fn hs256(answer: Result<&[u8], KeyProblem>) -> Option<Box<dyn SharedKeySource>> {
    Some(Box::new(FixedKey(answer.map(|k| Arc::new(k.to_vec())))))
}

async fn jwks() -> JwksServer {
    JwksServer::start(vec![
        jwk(&rsa(1), Algorithm::RS256, "rsa-1"),
        jwk(&ec(), Algorithm::ES256, "ec-1"),
    ])
    .await
}

fn verifier(server: &JwksServer, hs: Option<Box<dyn SharedKeySource>>) -> TokenVerifier {
    TokenVerifier::new(
        ISSUER.into(),
        vec![CLIENT.into()],
        JwksCache::new(server.url.parse().unwrap()).unwrap(),
        hs,
    )
}

fn claims() -> Value {
    json!({"sub": "u-1", "username": "demo", "client_id": CLIENT, "token_use": "access",
           "iss": ISSUER, "iat": now(), "exp": now() + 600})
}

fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut c = claims();
    change(c.as_object_mut().unwrap());
    c
}

fn rs(claims: &Value) -> String {
    sign(claims, Algorithm::RS256, &rsa(1), Some("rsa-1"))
}

fn refused(answer: Result<impl std::fmt::Debug, TokenFailure>) -> bool {
    matches!(
        answer,
        Err(TokenFailure::Refused(PrincipalError::InvalidToken))
    )
}

#[tokio::test]
async fn each_algorithm_verifies_only_with_a_published_key_of_its_own_type() {
    let server = jwks().await;
    let v = verifier(&server, None);
    let user = v.verify(&rs(&claims())).await.unwrap();
    assert_eq!(
        (user.user_id.as_str(), user.kind),
        ("u-1", PrincipalKind::User)
    );
    let es = sign(&claims(), Algorithm::ES256, &ec(), Some("ec-1"));
    assert_eq!(v.verify(&es).await.unwrap().user_id, "u-1");
    // A header naming a key of the other type: refused before any signature is checked.
    let es_on_rsa = sign(&claims(), Algorithm::ES256, &ec(), Some("rsa-1"));
    assert!(refused(v.verify(&es_on_rsa).await));
    let rs_on_ec = sign(&claims(), Algorithm::RS256, &rsa(1), Some("ec-1"));
    assert!(refused(v.verify(&rs_on_ec).await));
    // HS256 without a configured key, and algorithms outside the list.
    let hs = sign(
        &claims(),
        Algorithm::HS256,
        &EncodingKey::from_secret(HS_KEY),
        None,
    );
    assert!(refused(v.verify(&hs).await));
    let rs384 = sign(&claims(), Algorithm::RS384, &rsa(1), Some("rsa-1"));
    assert!(refused(v.verify(&rs384).await));
}

#[tokio::test]
async fn a_published_key_for_another_algorithm_or_for_encryption_never_verifies() {
    let server = jwks().await;
    let mut declared_es = jwk(&rsa(1), Algorithm::RS256, "rsa-as-es");
    declared_es.common.key_algorithm = Some(jsonwebtoken::jwk::KeyAlgorithm::ES256);
    let mut for_encryption = jwk(&rsa(1), Algorithm::RS256, "rsa-enc");
    for_encryption.common.public_key_use = Some(PublicKeyUse::Encryption);
    let mut undeclared = jwk(&rsa(1), Algorithm::RS256, "rsa-bare");
    undeclared.common.key_algorithm = None;
    undeclared.common.public_key_use = None;
    server.publish(vec![declared_es, for_encryption, undeclared]);
    let v = verifier(&server, None);
    for kid in ["rsa-as-es", "rsa-enc"] {
        let token = sign(&claims(), Algorithm::RS256, &rsa(1), Some(kid));
        assert!(refused(v.verify(&token).await), "{kid}");
    }
    let token = sign(&claims(), Algorithm::RS256, &rsa(1), Some("rsa-bare"));
    assert!(
        v.verify(&token).await.is_ok(),
        "no alg and no use: by its type"
    );
}

#[tokio::test]
async fn hs256_verifies_with_the_configured_key_and_an_unreachable_key_is_503() {
    let server = jwks().await;
    let token = sign(
        &claims(),
        Algorithm::HS256,
        &EncodingKey::from_secret(HS_KEY),
        None,
    );
    let v = verifier(&server, hs256(Ok(HS_KEY)));
    assert_eq!(v.verify(&token).await.unwrap().user_id, "u-1");
    let other = verifier(
        &server,
        hs256(Ok(b"another-key-of-thirty-two-bytes-or-more")),
    );
    assert!(refused(other.verify(&token).await));
    let down = verifier(
        &server,
        hs256(Err(KeyProblem::Unavailable("unreachable".into()))),
    );
    assert!(matches!(
        down.verify(&token).await,
        Err(TokenFailure::Unavailable(_))
    ));
}

#[tokio::test]
async fn the_audience_and_token_use_decide() {
    let server = jwks().await;
    let v = verifier(&server, None);
    let wrong_client = with(|c| drop(c.insert("client_id".into(), json!("another"))));
    assert!(refused(v.verify(&rs(&wrong_client)).await));
    let id_token = with(|c| drop(c.insert("token_use".into(), json!("id"))));
    assert!(refused(v.verify(&rs(&id_token)).await));
    let no_token_use = with(|c| drop(c.remove("token_use")));
    assert!(v.verify(&rs(&no_token_use)).await.is_ok());
    let no_sub = with(|c| drop(c.remove("sub")));
    assert!(refused(v.verify(&rs(&no_sub)).await));
    let other_issuer = with(|c| drop(c.insert("iss".into(), json!("https://evil.example"))));
    assert!(refused(v.verify(&rs(&other_issuer)).await));
}

#[tokio::test]
async fn machines_are_refused_here_and_let_through_for_token_authorizer() {
    let server = jwks().await;
    let v = verifier(&server, None);
    let machine = rs(&with(|c| {
        c.remove("username");
        c.insert("sub".into(), json!(CLIENT));
    }));
    assert_eq!(
        v.verify(&machine).await.unwrap_err(),
        TokenFailure::Refused(PrincipalError::MachineToken)
    );
    let through = v.verify_for(&machine, Callers::UsersAndMachines).await;
    assert_eq!(through.unwrap().kind, PrincipalKind::Machine);
}

#[tokio::test]
async fn an_unreachable_jwks_is_503_not_a_refusal() {
    let server = jwks().await;
    server.down.store(true, Ordering::SeqCst);
    let v = verifier(&server, None);
    assert!(matches!(
        v.verify(&rs(&claims())).await,
        Err(TokenFailure::Unavailable(_))
    ));
}

#[tokio::test]
async fn preloading_fails_only_on_an_unusable_key() {
    let server = jwks().await;
    let unusable = verifier(&server, hs256(Err(KeyProblem::Invalid("short".into()))));
    assert_eq!(
        unusable.preload().await,
        Err(KeyProblem::Invalid("short".into()))
    );
    let unreachable = verifier(&server, hs256(Err(KeyProblem::Unavailable("x".into()))));
    assert_eq!(unreachable.preload().await, Ok(()));
    assert_eq!(verifier(&server, hs256(Ok(HS_KEY))).preload().await, Ok(()));
    assert_eq!(verifier(&server, None).preload().await, Ok(()));
}
