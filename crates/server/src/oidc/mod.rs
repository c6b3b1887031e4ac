//! OpenID Connect single sign-on as a relying party: discovery, the
//! authorization code flow with PKCE (S256), the token exchange and ID-token
//! validation ([`id_token`]). The HTTP endpoints are in
//! [`crate::routes::identity`]; this module speaks to the provider and never
//! creates sessions itself.

pub mod id_token;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use self::id_token::{Expected, IdTokenError, Jwks};

/// `[sso]` in conclave.toml.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SsoConfig {
    /// Offer "Sign in with SSO".
    pub enabled: bool,
    /// The provider's issuer URL; discovery reads
    /// ISSUER/.well-known/openid-configuration.
    pub issuer: String,
    pub client_id: String,
    /// Empty for a public client (PKCE alone); otherwise sent with HTTP
    /// Basic authentication to the token endpoint.
    pub client_secret: String,
    /// The callback URL registered at the provider. Empty means
    /// PUBLIC_URL/api/v1/auth/sso/callback, or the request's host when
    /// public_url is unset too.
    pub redirect_url: String,
    pub scopes: Vec<String>,
    /// The sign-in button's text in the web client.
    pub button_label: String,
    /// Create an account on first sign-in for a person the provider vouches
    /// for; otherwise only existing accounts may sign in.
    pub jit_provisioning: bool,
    /// The role of accounts created on first sign-in.
    pub jit_role: String,
    /// Refuse sign-in when the provider says the email is not verified.
    pub require_verified_email: bool,
    pub email_claim: String,
    pub name_claim: String,
    pub groups_claim: String,
    /// Provider group → Conclave department.
    pub group_departments: BTreeMap<String, String>,
    /// Provider group → Conclave team.
    pub group_teams: BTreeMap<String, String>,
    /// Allowed clock difference with the provider, seconds.
    pub clock_leeway_secs: i64,
}

impl Default for SsoConfig {
    fn default() -> Self {
        SsoConfig {
            enabled: false,
            issuer: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            redirect_url: String::new(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            button_label: "Sign in with SSO".into(),
            jit_provisioning: false,
            jit_role: "member".into(),
            require_verified_email: true,
            email_claim: "email".into(),
            name_claim: "name".into(),
            groups_claim: "groups".into(),
            group_departments: BTreeMap::new(),
            group_teams: BTreeMap::new(),
            clock_leeway_secs: 60,
        }
    }
}

impl fmt::Debug for SsoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoConfig")
            .field("enabled", &self.enabled)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &if self.client_secret.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("redirect_url", &self.redirect_url)
            .field("scopes", &self.scopes)
            .field("jit_provisioning", &self.jit_provisioning)
            .field("jit_role", &self.jit_role)
            .finish_non_exhaustive()
    }
}

/// How long a started sign-in may take before its callback is refused.
pub const ATTEMPT_LIFETIME_MS: i64 = 10 * 60 * 1000;
const DISCOVERY_LIFETIME: Duration = Duration::from_secs(3600);
/// Keys are fetched again for an unknown `kid` at most this often.
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// A failure of the flow, with a stable code for the web client
/// (`/#sso_error=CODE`) and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsoError {
    #[error("single sign-on is not configured")]
    NotConfigured,
    #[error("the identity provider could not be reached or answered nonsense: {0}")]
    Provider(String),
    #[error("the identity provider refused: {0}")]
    ProviderRefused(String),
    #[error("this sign-in was not started here, has expired or was completed already")]
    InvalidState,
    #[error("the authorization code was refused: {0}")]
    CodeRefused(String),
    #[error(transparent)]
    IdToken(#[from] IdTokenError),
    #[error("the identity provider did not give a (verified) email address")]
    NoEmail,
    #[error("no Conclave account has this email address")]
    UnknownUser,
    #[error("this account is deactivated")]
    AccountDeactivated,
}

impl SsoError {
    pub fn code(&self) -> &'static str {
        match self {
            SsoError::NotConfigured => "sso_not_configured",
            SsoError::Provider(_) => "provider_unavailable",
            SsoError::ProviderRefused(_) => "provider_refused",
            SsoError::InvalidState => "invalid_state",
            SsoError::CodeRefused(_) => "code_refused",
            SsoError::IdToken(IdTokenError::WrongNonce) => "invalid_nonce",
            SsoError::IdToken(_) => "invalid_id_token",
            SsoError::NoEmail => "no_email",
            SsoError::UnknownUser => "unknown_user",
            SsoError::AccountDeactivated => "account_deactivated",
        }
    }
}

/// The provider's metadata (OpenID Connect Discovery 1.0), the members used.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
}

struct Provider {
    discovery: Discovery,
    fetched: Instant,
    keys: Jwks,
    keys_fetched: Instant,
}

/// The freshly made secrets of one sign-in attempt.
pub struct Started {
    /// Where to send the browser.
    pub authorization_url: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// What the provider vouched for, after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub email: String,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

/// Talks to the configured provider; caches its metadata and keys.
pub struct SsoClient {
    http: reqwest::Client,
    provider: tokio::sync::Mutex<Option<Provider>>,
}

impl Default for SsoClient {
    fn default() -> Self {
        SsoClient::new()
    }
}

impl SsoClient {
    pub fn new() -> SsoClient {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Conclave/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        SsoClient {
            http,
            provider: tokio::sync::Mutex::new(None),
        }
    }

    /// Makes the state, nonce and PKCE verifier of a new attempt and the
    /// provider URL that carries them.
    pub async fn start(&self, config: &SsoConfig, redirect_url: &str) -> Result<Started, SsoError> {
        let discovery = self.discovery(config).await?;
        if let Some(methods) = &discovery.code_challenge_methods_supported
            && !methods.iter().any(|method| method == "S256")
        {
            return Err(SsoError::Provider(
                "the provider does not support PKCE with S256".into(),
            ));
        }
        let (state, nonce, verifier) = (random_token(), random_token(), random_token());
        let mut url = url::Url::parse(&discovery.authorization_endpoint)
            .map_err(|_| SsoError::Provider("invalid authorization_endpoint".into()))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &config.client_id)
            .append_pair("redirect_uri", redirect_url)
            .append_pair("scope", &scopes(config))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &pkce_challenge(&verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(Started {
            authorization_url: url.into(),
            state,
            nonce,
            verifier,
        })
    }

    /// Exchanges `code` (with the attempt's verifier) and validates the ID
    /// token against the attempt's nonce.
    pub async fn finish(
        &self,
        config: &SsoConfig,
        redirect_url: &str,
        code: &str,
        verifier: &str,
        nonce: &str,
        now_secs: i64,
    ) -> Result<Identity, SsoError> {
        let discovery = self.discovery(config).await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_url),
            ("code_verifier", verifier),
        ];
        let mut request = self.http.post(&discovery.token_endpoint);
        if config.client_secret.is_empty() {
            form.push(("client_id", &config.client_id));
        } else {
            // RFC 6749 §2.3.1: both parts form-encoded before Basic.
            let user = url::form_urlencoded::byte_serialize(config.client_id.as_bytes())
                .collect::<String>();
            let password = url::form_urlencoded::byte_serialize(config.client_secret.as_bytes())
                .collect::<String>();
            request = request.basic_auth(user, Some(password));
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = request
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|error| SsoError::Provider(format!("token endpoint: {error}")))?;
        let status = response.status();
        let answer: Value = response.json().await.map_err(|error| {
            SsoError::Provider(format!("token endpoint answered no JSON: {error}"))
        })?;
        if !status.is_success() {
            let reason = answer
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown error");
            return Err(SsoError::CodeRefused(reason.to_string()));
        }
        let token = answer
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| SsoError::Provider("the token response has no id_token".into()))?;
        let claims = self
            .validate(config, &discovery, token, nonce, now_secs)
            .await?;
        identity(config, &claims)
    }

    async fn validate(
        &self,
        config: &SsoConfig,
        discovery: &Discovery,
        token: &str,
        nonce: &str,
        now_secs: i64,
    ) -> Result<Map<String, Value>, SsoError> {
        let expected = Expected {
            issuer: &discovery.issuer,
            client_id: &config.client_id,
            nonce,
            now_secs,
            leeway_secs: config.clock_leeway_secs.max(0),
        };
        let mut provider = self.provider.lock().await;
        let Some(cached) = provider.as_mut() else {
            return Err(SsoError::Provider(
                "the provider's metadata was forgotten".into(),
            ));
        };
        // The provider may have rotated its keys since they were fetched.
        if id_token::names_unknown_key(token, &cached.keys)
            && cached.keys_fetched.elapsed() >= KEY_REFRESH_INTERVAL
        {
            cached.keys = self.fetch_json(&discovery.jwks_uri).await?;
            cached.keys_fetched = Instant::now();
        }
        Ok(id_token::validate(token, &cached.keys, &expected)?)
    }

    /// The provider's metadata and keys, fetched at first use and again
    /// after an hour.
    async fn discovery(&self, config: &SsoConfig) -> Result<Discovery, SsoError> {
        if !config.enabled || config.issuer.is_empty() || config.client_id.is_empty() {
            return Err(SsoError::NotConfigured);
        }
        let mut provider = self.provider.lock().await;
        if let Some(cached) = provider.as_ref()
            && cached.fetched.elapsed() < DISCOVERY_LIFETIME
        {
            return Ok(cached.discovery.clone());
        }
        let issuer = config.issuer.trim_end_matches('/');
        let discovery: Discovery = self
            .fetch_json(&format!("{issuer}/.well-known/openid-configuration"))
            .await?;
        if discovery.issuer.trim_end_matches('/') != issuer {
            return Err(SsoError::Provider(format!(
                "the discovery document names issuer {:?}, not the configured one",
                discovery.issuer
            )));
        }
        let keys: Jwks = self.fetch_json(&discovery.jwks_uri).await?;
        *provider = Some(Provider {
            discovery: discovery.clone(),
            fetched: Instant::now(),
            keys,
            keys_fetched: Instant::now(),
        });
        Ok(discovery)
    }

    async fn fetch_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, SsoError> {
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| SsoError::Provider(format!("{url}: {error}")))?;
        if !response.status().is_success() {
            return Err(SsoError::Provider(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|error| SsoError::Provider(format!("{url}: {error}")))
    }
}

/// Reads the mapped claims of a validated ID token.
pub fn identity(config: &SsoConfig, claims: &Map<String, Value>) -> Result<Identity, SsoError> {
    let email = claims
        .get(&config.email_claim)
        .and_then(Value::as_str)
        .map(conclave_domain::validate::normalize_email)
        .filter(|email| conclave_domain::validate::email(email).is_ok())
        .ok_or(SsoError::NoEmail)?;
    if config.require_verified_email
        && claims.get("email_verified").and_then(Value::as_bool) == Some(false)
    {
        return Err(SsoError::NoEmail);
    }
    let name = claims
        .get(&config.name_claim)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string);
    let groups = match claims.get(&config.groups_claim) {
        Some(Value::Array(groups)) => groups
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(group)) => vec![group.clone()],
        _ => Vec::new(),
    };
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(Identity {
        subject,
        email,
        name,
        groups,
    })
}

fn scopes(config: &SsoConfig) -> String {
    let mut scopes: Vec<&str> = config.scopes.iter().map(String::as_str).collect();
    if !scopes.contains(&"openid") {
        scopes.insert(0, "openid");
    }
    scopes.join(" ")
}

/// 256 random bits, base64url: states, nonces, verifiers, browser bindings.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7636 S256: BASE64URL(SHA256(verifier)).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What is stored instead of a state or browser binding.
pub fn digest(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Whether the sign-in cookie must carry `Secure`: the deployment is
/// reached over HTTPS (`public_url` or the redirect URL say so), or this
/// request came through a TLS-terminating proxy (`X-Forwarded-Proto:
/// https`, or `proto=https` in `Forwarded`). The headers are believed from
/// anyone because they can only add `Secure`, which keeps the cookie off
/// plain HTTP; nothing else is decided on them.
pub fn cookie_must_be_secure(
    public_url: Option<&str>,
    redirect_url: &str,
    headers: &axum::http::HeaderMap,
) -> bool {
    let configured_https = public_url.is_some_and(|url| url.starts_with("https://"))
        || redirect_url.starts_with("https://");
    let forwarded_proto = headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|proto| proto.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get_all(axum::http::header::FORWARDED)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split([',', ';']))
        .filter_map(|pair| pair.split_once('='))
        .any(|(key, value)| {
            key.trim().eq_ignore_ascii_case("proto")
                && value.trim().trim_matches('"').eq_ignore_ascii_case("https")
        });
    configured_https || forwarded_proto || forwarded
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_cookie_is_secure_over_https_only() {
        use axum::http::{HeaderMap, HeaderValue};
        let with = |name: &'static str, value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_static(value));
            headers
        };
        let plain = HeaderMap::new();
        let table = [
            (None, "", &plain, false),
            (Some("https://chat.example.com"), "", &plain, true),
            (None, "https://chat.example.com/cb", &plain, true),
            (Some("http://localhost:8080"), "", &plain, false),
            (None, "", &with("x-forwarded-proto", "https"), true),
            (None, "", &with("x-forwarded-proto", "HTTPS, http"), true),
            (None, "", &with("x-forwarded-proto", "http"), false),
            (
                None,
                "",
                &with("forwarded", "for=10.0.0.1;proto=https"),
                true,
            ),
            (
                None,
                "",
                &with("forwarded", "for=10.0.0.1; proto=\"http\""),
                false,
            ),
        ];
        for (public_url, redirect_url, headers, secure) in table {
            assert_eq!(
                cookie_must_be_secure(public_url, redirect_url, headers),
                secure,
                "{public_url:?} {redirect_url:?} {headers:?}"
            );
        }
    }

    #[test]
    fn pkce_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(random_token().len(), 43);
        assert_ne!(random_token(), random_token());
    }

    #[test]
    fn claims_are_mapped_as_configured() {
        let config = SsoConfig {
            groups_claim: "roles".into(),
            ..SsoConfig::default()
        };
        let claims = json!({"sub": "s", "email": " Ann@Example.COM ", "email_verified": true, "name": "Ann", "roles": ["sales", "emea"]});
        let found = identity(&config, claims.as_object().unwrap()).unwrap();
        assert_eq!(
            found,
            Identity {
                subject: "s".into(),
                email: "ann@example.com".into(),
                name: Some("Ann".into()),
                groups: vec!["sales".into(), "emea".into()]
            }
        );
        let unverified = json!({"sub": "s", "email": "ann@example.com", "email_verified": false});
        assert_eq!(
            identity(&config, unverified.as_object().unwrap()),
            Err(SsoError::NoEmail)
        );
        let lenient = SsoConfig {
            require_verified_email: false,
            ..SsoConfig::default()
        };
        assert!(identity(&lenient, unverified.as_object().unwrap()).is_ok());
        assert_eq!(
            identity(&config, json!({"sub": "s"}).as_object().unwrap()),
            Err(SsoError::NoEmail)
        );
        assert_eq!(
            identity(
                &config,
                json!({"email": "not an email"}).as_object().unwrap()
            ),
            Err(SsoError::NoEmail)
        );
    }

    #[test]
    fn debug_redacts_the_client_secret() {
        let config = SsoConfig {
            client_secret: "hunter2".into(),
            ..SsoConfig::default()
        };
        let printed = format!("{config:?}");
        assert!(
            !printed.contains("hunter2") && printed.contains("<redacted>"),
            "{printed}"
        );
    }
}
