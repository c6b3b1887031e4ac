//! Validating an OpenID Connect ID token (a signed JWT, RFC 7519/7515):
//! the signature against the provider's published keys (JWKS, RFC 7517),
//! then issuer, audience, nonce and the time claims (OpenID Connect Core
//! §3.1.3.7).
//!
//! Signatures are checked with `ring`, which rustls already brings in;
//! RS256/384/512, PS256/384/512, ES256 and ES384 are accepted. `none` and
//! the HMAC algorithms never are: a client secret must not be able to sign
//! an identity.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A provider's signing keys (`jwks_uri`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// One public key; only the members this module uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub kid: Option<String>,
    #[serde(rename = "use")]
    pub usage: Option<String>,
    pub alg: Option<String>,
    /// RSA modulus and exponent.
    pub n: Option<String>,
    pub e: Option<String>,
    /// Elliptic-curve name and point.
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
}

/// What the token must say.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now_secs: i64,
    /// Allowed clock difference, seconds.
    pub leeway_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("the ID token is malformed: {0}")]
    Malformed(&'static str),
    #[error("the ID token's algorithm {0:?} is not accepted")]
    UnsupportedAlgorithm(String),
    #[error("no published key matches the ID token")]
    UnknownKey,
    #[error("the ID token's signature is invalid")]
    BadSignature,
    #[error("the ID token was issued by someone else")]
    WrongIssuer,
    #[error("the ID token is for another client")]
    WrongAudience,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token is not valid yet")]
    NotYetValid,
    #[error("the ID token's nonce does not match this sign-in")]
    WrongNonce,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// Checks `token` and answers its claims.
pub fn validate(
    token: &str,
    keys: &Jwks,
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, IdTokenError> {
    let mut parts = token.split('.');
    let (Some(header_part), Some(payload_part), Some(signature_part), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdTokenError::Malformed("not three dot-separated parts"));
    };
    let header: Header = serde_json::from_slice(&decode(header_part)?)
        .map_err(|_| IdTokenError::Malformed("header"))?;
    let signature = decode(signature_part)?;
    let key = find_key(keys, &header)?;
    let signed = &token.as_bytes()[..header_part.len() + 1 + payload_part.len()];
    verify_signature(&header.alg, key, signed, &signature)?;

    let claims: Map<String, Value> = serde_json::from_slice(&decode(payload_part)?)
        .map_err(|_| IdTokenError::Malformed("payload"))?;
    if claims.get("iss").and_then(Value::as_str) != Some(expected.issuer) {
        return Err(IdTokenError::WrongIssuer);
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Err(IdTokenError::WrongAudience),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(IdTokenError::WrongAudience);
    }
    if let Some(party) = claims.get("azp")
        && party.as_str() != Some(expected.client_id)
    {
        return Err(IdTokenError::WrongAudience);
    }
    let time = |name: &'static str| claims.get(name).and_then(Value::as_i64);
    let expires = time("exp").ok_or(IdTokenError::Malformed("exp"))?;
    if expected.now_secs >= expires + expected.leeway_secs {
        return Err(IdTokenError::Expired);
    }
    let issued = time("iat").ok_or(IdTokenError::Malformed("iat"))?;
    if issued > expected.now_secs + expected.leeway_secs {
        return Err(IdTokenError::NotYetValid);
    }
    if let Some(not_before) = time("nbf")
        && not_before > expected.now_secs + expected.leeway_secs
    {
        return Err(IdTokenError::NotYetValid);
    }
    let nonce = claims
        .get("nonce")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if nonce.is_empty() || !constant_time_eq(nonce.as_bytes(), expected.nonce.as_bytes()) {
        return Err(IdTokenError::WrongNonce);
    }
    Ok(claims)
}

/// Whether the token's `kid` names no published key, so that fetching the
/// keys again (the provider rotated them) may help.
pub fn names_unknown_key(token: &str, keys: &Jwks) -> bool {
    let Some(header) = token.split('.').next().and_then(|part| decode(part).ok()) else {
        return false;
    };
    match serde_json::from_slice::<Header>(&header) {
        Ok(header) => matches!(find_key(keys, &header), Err(IdTokenError::UnknownKey)),
        Err(_) => false,
    }
}

fn decode(part: &str) -> Result<Vec<u8>, IdTokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| IdTokenError::Malformed("base64url"))
}

fn key_type(alg: &str) -> Option<&'static str> {
    match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => Some("RSA"),
        "ES256" | "ES384" => Some("EC"),
        _ => None,
    }
}

fn find_key<'k>(keys: &'k Jwks, header: &Header) -> Result<&'k Jwk, IdTokenError> {
    let kty = key_type(&header.alg)
        .ok_or_else(|| IdTokenError::UnsupportedAlgorithm(header.alg.clone()))?;
    let mut candidates = keys.keys.iter().filter(|key| {
        key.kty == kty
            && key.usage.as_deref().is_none_or(|usage| usage == "sig")
            && key.alg.as_deref().is_none_or(|alg| alg == header.alg)
    });
    match &header.kid {
        Some(kid) => candidates.find(|key| key.kid.as_deref() == Some(kid.as_str())),
        // Without a kid, only an unambiguous key will do.
        None => match (candidates.next(), candidates.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        },
    }
    .ok_or(IdTokenError::UnknownKey)
}

fn verify_signature(
    alg: &str,
    key: &Jwk,
    signed: &[u8],
    signature: &[u8],
) -> Result<(), IdTokenError> {
    let member = |value: &Option<String>| -> Result<Vec<u8>, IdTokenError> {
        decode(value.as_deref().ok_or(IdTokenError::UnknownKey)?)
    };
    let verified = match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => {
            let parameters: &signature::RsaParameters = match alg {
                "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            let (n, e) = (member(&key.n)?, member(&key.e)?);
            RsaPublicKeyComponents { n: &n, e: &e }.verify(parameters, signed, signature)
        }
        "ES256" | "ES384" => {
            let (curve, algorithm): (&str, &'static dyn VerificationAlgorithm) = if alg == "ES256" {
                ("P-256", &signature::ECDSA_P256_SHA256_FIXED)
            } else {
                ("P-384", &signature::ECDSA_P384_SHA384_FIXED)
            };
            if key.crv.as_deref() != Some(curve) {
                return Err(IdTokenError::UnknownKey);
            }
            // An uncompressed SEC1 point: 0x04, x, y.
            let mut point = vec![4u8];
            point.extend(member(&key.x)?);
            point.extend(member(&key.y)?);
            UnparsedPublicKey::new(algorithm, point).verify(signed, signature)
        }
        other => return Err(IdTokenError::UnsupportedAlgorithm(other.to_string())),
    };
    verified.map_err(|_| IdTokenError::BadSignature)
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::json;

    use super::*;

    struct Signer {
        pair: EcdsaKeyPair,
        jwks: Jwks,
    }

    fn new_signer() -> Signer {
        let random = SystemRandom::new();
        let document =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, document.as_ref(), &random)
                .unwrap();
        let point = pair.public_key().as_ref();
        let jwks: Jwks = serde_json::from_value(json!({"keys": [
            {"kty": "RSA", "kid": "other", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "k1", "use": "sig", "crv": "P-256",
             "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])}
        ]}))
        .unwrap();
        Signer { pair, jwks }
    }

    impl Signer {
        fn sign(&self, header: Value, claims: Value) -> String {
            let body = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let signature = self
                .pair
                .sign(&SystemRandom::new(), body.as_bytes())
                .unwrap();
            format!("{body}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
        }
    }

    fn claims() -> Value {
        json!({"iss": "https://idp.example", "aud": "conclave", "sub": "u1", "nonce": "n-123",
               "iat": 1_000, "exp": 1_300, "email": "ann@example.com"})
    }

    fn expected() -> Expected<'static> {
        Expected {
            issuer: "https://idp.example",
            client_id: "conclave",
            nonce: "n-123",
            now_secs: 1_100,
            leeway_secs: 30,
        }
    }

    fn with(change: impl FnOnce(&mut Map<String, Value>)) -> Value {
        let mut value = claims();
        change(value.as_object_mut().unwrap());
        value
    }

    #[test]
    fn a_valid_token_passes_and_each_broken_claim_fails() {
        let signer = new_signer();
        let header = json!({"alg": "ES256", "kid": "k1"});
        let good = signer.sign(header.clone(), claims());
        let accepted = validate(&good, &signer.jwks, &expected()).unwrap();
        assert_eq!(accepted["email"], "ann@example.com");

        let cases: Vec<(Value, IdTokenError)> = vec![
            (
                with(|c| {
                    c.insert("iss".into(), json!("https://evil.example"));
                }),
                IdTokenError::WrongIssuer,
            ),
            (
                with(|c| {
                    c.insert("aud".into(), json!("someone-else"));
                }),
                IdTokenError::WrongAudience,
            ),
            (
                with(|c| {
                    c.insert("aud".into(), json!(["a", "b"]));
                }),
                IdTokenError::WrongAudience,
            ),
            (
                with(|c| {
                    c.insert("azp".into(), json!("a"));
                    c.insert("aud".into(), json!(["conclave", "a"]));
                }),
                IdTokenError::WrongAudience,
            ),
            (
                with(|c| {
                    c.insert("nonce".into(), json!("n-999"));
                }),
                IdTokenError::WrongNonce,
            ),
            (
                with(|c| {
                    c.remove("nonce");
                }),
                IdTokenError::WrongNonce,
            ),
            (
                with(|c| {
                    c.insert("exp".into(), json!(1_060));
                }),
                IdTokenError::Expired,
            ),
            (
                with(|c| {
                    c.insert("iat".into(), json!(1_200));
                }),
                IdTokenError::NotYetValid,
            ),
            (
                with(|c| {
                    c.insert("nbf".into(), json!(1_200));
                }),
                IdTokenError::NotYetValid,
            ),
            (
                with(|c| {
                    c.remove("exp");
                }),
                IdTokenError::Malformed("exp"),
            ),
        ];
        for (claims, error) in cases {
            let token = signer.sign(header.clone(), claims.clone());
            assert_eq!(
                validate(&token, &signer.jwks, &expected()),
                Err(error),
                "{claims}"
            );
        }
        // Within the leeway.
        let late = signer.sign(
            header.clone(),
            with(|c| {
                c.insert("exp".into(), json!(1_080));
            }),
        );
        assert!(validate(&late, &signer.jwks, &expected()).is_ok());
        let multiple = signer.sign(
            header,
            with(|c| {
                c.insert("aud".into(), json!(["conclave", "x"]));
                c.insert("azp".into(), json!("conclave"));
            }),
        );
        assert!(validate(&multiple, &signer.jwks, &expected()).is_ok());
    }

    #[test]
    fn signatures_keys_and_algorithms_are_checked() {
        let signer = new_signer();
        let good = signer.sign(json!({"alg": "ES256", "kid": "k1"}), claims());
        // A changed payload breaks the signature.
        let parts: Vec<&str> = good.split('.').collect();
        let forged_claims = URL_SAFE_NO_PAD.encode(
            with(|c| {
                c.insert("email".into(), json!("ceo@example.com"));
            })
            .to_string(),
        );
        let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert_eq!(
            validate(&forged, &signer.jwks, &expected()),
            Err(IdTokenError::BadSignature)
        );
        // Another key pair's signature.
        let stranger = new_signer();
        let foreign = stranger.sign(json!({"alg": "ES256", "kid": "k1"}), claims());
        assert_eq!(
            validate(&foreign, &signer.jwks, &expected()),
            Err(IdTokenError::BadSignature)
        );
        // Unknown kid, and no kid when it is unambiguous.
        let unknown = signer.sign(json!({"alg": "ES256", "kid": "k9"}), claims());
        assert_eq!(
            validate(&unknown, &signer.jwks, &expected()),
            Err(IdTokenError::UnknownKey)
        );
        assert!(names_unknown_key(&unknown, &signer.jwks));
        assert!(!names_unknown_key(&good, &signer.jwks));
        let no_kid = signer.sign(json!({"alg": "ES256"}), claims());
        assert!(validate(&no_kid, &signer.jwks, &expected()).is_ok());
        // `none` and HMAC are refused whatever the token says.
        for alg in ["none", "HS256"] {
            let token = format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(json!({"alg": alg}).to_string()),
                URL_SAFE_NO_PAD.encode(claims().to_string())
            );
            assert_eq!(
                validate(&token, &signer.jwks, &expected()),
                Err(IdTokenError::UnsupportedAlgorithm(alg.into()))
            );
        }
        assert_eq!(
            validate("a.b", &signer.jwks, &expected()),
            Err(IdTokenError::Malformed("not three dot-separated parts"))
        );
    }
}
