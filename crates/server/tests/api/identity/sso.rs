//! Single sign-on end to end against a real OpenID provider: the npm package
//! `oidc-provider`, run from tests/oidc/provider.mjs as a child process on a
//! free port. A cookie-keeping HTTP client plays the browser: Conclave's
//! start endpoint → the provider's authorization endpoint → its (automated)
//! login interaction → back to Conclave's callback → the web client's URL
//! with the session token in the fragment.
//!
//! Without tests/oidc/node_modules these tests print SKIPPED and pass,
//! unless CI is set, where they fail: run `npm --prefix tests/oidc ci`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use super::super::*;
use super::audit_actions;

const CLIENT_SECRET: &str = "conclave-test-secret";

fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc")
}

fn provider_installed() -> bool {
    if provider_dir()
        .join("node_modules/oidc-provider/package.json")
        .is_file()
    {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tests/oidc/node_modules is missing: run `npm --prefix tests/oidc ci --no-audit --no-fund`"
    );
    println!(
        "SKIPPED: tests/oidc/node_modules is missing (npm --prefix tests/oidc ci); single sign-on end-to-end tests not run"
    );
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The provider process; killed when dropped.
struct Provider {
    _child: tokio::process::Child,
}

async fn start_provider(port: u16, redirect_uri: &str) -> Provider {
    let child = tokio::process::Command::new("node")
        .arg("provider.mjs")
        .current_dir(provider_dir())
        .env("PORT", port.to_string())
        .env("REDIRECT_URI", redirect_uri)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs tests/oidc/provider.mjs");
    let discovery = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
    let started = Instant::now();
    loop {
        if let Ok(response) = reqwest::get(&discovery).await
            && response.status().is_success()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the OpenID provider did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Provider { _child: child }
}

/// A browser: follows nothing by itself, keeps cookies by name (paths and
/// domains do not matter between these two local servers).
struct Browser {
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    /// GETs `url`; answers the status and the absolute redirect target.
    async fn get(&self, url: &str) -> (StatusCode, Option<String>) {
        let cookie_header = {
            let cookies = self.cookies.lock().unwrap();
            cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut request = self.http.get(url);
        if !cookie_header.is_empty() {
            request = request.header("cookie", cookie_header);
        }
        let response = request.send().await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let mut cookies = self.cookies.lock().unwrap();
            if value.is_empty() {
                cookies.remove(name);
            } else {
                cookies.insert(name.to_string(), value.to_string());
            }
        }
        let location = response.headers().get("location").map(|value| {
            url::Url::parse(url)
                .unwrap()
                .join(value.to_str().unwrap())
                .unwrap()
                .to_string()
        });
        (response.status(), location)
    }

    /// GETs `url`, expecting a redirect; answers where to.
    async fn follow(&self, url: &str) -> String {
        let (status, location) = self.get(url).await;
        assert!(status.is_redirection(), "GET {url}: {status}");
        location.unwrap_or_else(|| panic!("GET {url}: no Location"))
    }
}

struct Sso {
    server: Server,
    _provider: Provider,
}

async fn sso_server(backend: Backend, jit: bool) -> Sso {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let server = start(backend, |config| {
        config.sso.enabled = true;
        config.sso.issuer = issuer.clone();
        config.sso.client_id = "conclave".into();
        config.sso.client_secret = CLIENT_SECRET.into();
        config.sso.jit_provisioning = jit;
        config.sso.button_label = "Sign in with Example ID".into();
        config
            .sso
            .group_departments
            .insert("engineering".into(), "Engineering".into());
        config
            .sso
            .group_departments
            .insert("sales".into(), "Sales".into());
        config.sso.group_teams.insert("emea".into(), "EMEA".into());
    })
    .await;
    let provider = start_provider(port, &server.url("/api/v1/auth/sso/callback")).await;
    Sso {
        server,
        _provider: provider,
    }
}

/// Starts at Conclave and signs in at the provider as `account`; answers the
/// provider's redirect back to Conclave's callback. `tamper` may change the
/// authorization URL on its way to the provider.
async fn through_provider(
    browser: &Browser,
    server: &Server,
    account: &str,
    tamper: impl FnOnce(url::Url) -> url::Url,
) -> String {
    let authorization = browser.follow(&server.url("/api/v1/auth/sso/start")).await;
    let authorization = url::Url::parse(&authorization).unwrap();
    let query: BTreeMap<String, String> = authorization.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["client_id"], "conclave");
    assert_eq!(
        query["redirect_uri"],
        server.url("/api/v1/auth/sso/callback")
    );
    assert!(query["scope"].split(' ').any(|scope| scope == "openid"));
    assert!(
        query["state"].len() >= 43
            && query["nonce"].len() >= 43
            && query["code_challenge"].len() == 43
    );
    let interaction = browser.follow(tamper(authorization).as_str()).await;
    let callback_prefix = server.url("/api/v1/auth/sso/callback?");
    if interaction.starts_with(&callback_prefix) {
        // Already signed in at the provider: it answers at once.
        return interaction;
    }
    let resume = browser
        .follow(&format!("{interaction}?account={account}"))
        .await;
    let callback = browser.follow(&resume).await;
    assert!(
        callback.starts_with(&server.url("/api/v1/auth/sso/callback?")),
        "{callback}"
    );
    callback
}

/// Delivers the callback; answers the fragment of Conclave's redirect.
async fn finish(browser: &Browser, callback: &str) -> String {
    let (status, location) = browser.get(callback).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    location
        .split_once('#')
        .map(|(_, fragment)| fragment.to_string())
        .unwrap_or_else(|| panic!("no fragment in {location}"))
}

fn unchanged(url: url::Url) -> url::Url {
    url
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    parsed.query_pairs_mut().clear();
    for (key, old) in pairs {
        parsed
            .query_pairs_mut()
            .append_pair(&key, if key == name { value } else { &old });
    }
    parsed.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_through_a_real_openid_provider() {
    if !provider_installed() {
        return;
    }
    for backend in backends() {
        let Sso { server, _provider } = sso_server(backend, false).await;
        let ann = server.person("ann", Role::Member).await;
        let (_, config) = server
            .call("GET", "/api/v1/auth/sso/config", None, None)
            .await;
        assert_eq!(
            config,
            json!({"enabled": true, "button_label": "Sign in with Example ID", "start_url": "/api/v1/auth/sso/start"})
        );

        let browser = Browser::new();
        let callback = through_provider(&browser, &server, "ann", unchanged).await;
        let fragment = finish(&browser, &callback).await;
        let token = fragment
            .strip_prefix("sso_token=")
            .unwrap_or_else(|| panic!("{backend:?}: {fragment}"));
        let (status, me) = server.call("GET", "/api/v1/me", Some(token), None).await;
        assert_eq!((status, me["id"].as_i64()), (StatusCode::OK, Some(ann.id)));
        let sessions = server.ok("GET", "/api/v1/me/sessions", &ann, None).await;
        assert_eq!(
            sessions.as_array().unwrap().len(),
            2,
            "a session like any other, listed and revocable"
        );

        // Without just-in-time provisioning, strangers are turned away.
        let browser = Browser::new();
        let callback = through_provider(&browser, &server, "newcomer", unchanged).await;
        assert_eq!(finish(&browser, &callback).await, "sso_error=unknown_user");
        assert!(
            server
                .state
                .store
                .user_by_email("newcomer@example.com")
                .await
                .unwrap()
                .is_none()
        );

        let actions = audit_actions(&server).await;
        assert!(
            actions.contains(&("auth.sso_sign_in".into(), Some(ann.id.to_string()))),
            "{actions:?}"
        );
        assert!(actions.contains(&("auth.sso_failed".into(), Some("unknown_user".into()))));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn just_in_time_provisioning_creates_accounts_from_the_claims() {
    if !provider_installed() {
        return;
    }
    let Sso { server, _provider } = sso_server(Backend::Sqlite, true).await;
    let browser = Browser::new();
    let callback = through_provider(&browser, &server, "newcomer", unchanged).await;
    let fragment = finish(&browser, &callback).await;
    let token = fragment
        .strip_prefix("sso_token=")
        .unwrap_or_else(|| panic!("{fragment}"));
    let (status, me) = server.call("GET", "/api/v1/me", Some(token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            me["email"].as_str(),
            me["name"].as_str(),
            me["role"].as_str()
        ),
        (
            Some("newcomer@example.com"),
            Some("New Comer"),
            Some("member")
        )
    );
    // Provider groups became departments and teams, as configured.
    let user_id = me["id"].as_i64().unwrap();
    let mut units = Vec::new();
    for unit_id in server.state.store.user_org_unit_ids(user_id).await.unwrap() {
        let unit = server.state.store.org_unit(unit_id).await.unwrap().unwrap();
        units.push(format!("{}:{}", unit.kind.as_str(), unit.name));
    }
    units.sort();
    assert_eq!(units, vec!["department:Engineering", "team:EMEA"]);
    // The account has no password: only single sign-on opens it.
    let (status, _) = server
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "newcomer@example.com", "password": "long enough password"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A second sign-in finds the same account.
    let browser = Browser::new();
    let callback = through_provider(&browser, &server, "newcomer", unchanged).await;
    assert!(finish(&browser, &callback).await.starts_with("sso_token="));
    assert_eq!(server.state.store.count_users().await.unwrap(), 1);
    let entries = server
        .state
        .store
        .audit_entries(conclave_domain::AuditFilter {
            action: Some("user.create".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor_label, "sso");
    // Unverified addresses are refused even with provisioning on.
    let browser = Browser::new();
    let callback = through_provider(&browser, &server, "unverified", unchanged).await;
    assert_eq!(finish(&browser, &callback).await, "sso_error=no_email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_refused_sign_ins_fail() {
    if !provider_installed() {
        return;
    }
    let Sso { server, _provider } = sso_server(Backend::Sqlite, false).await;
    server.person("ann", Role::Member).await;

    // A state Conclave never issued.
    let browser = Browser::new();
    let callback = through_provider(&browser, &server, "ann", unchanged).await;
    assert_eq!(
        finish(&browser, &with_param(&callback, "state", "forged-state")).await,
        "sso_error=invalid_state"
    );

    // The genuine callback, delivered by another browser (no binding cookie).
    let browser = Browser::new();
    let callback = through_provider(&browser, &server, "ann", unchanged).await;
    assert_eq!(
        finish(&Browser::new(), &callback).await,
        "sso_error=invalid_state"
    );

    // A callback works once; its code cannot be replayed with a new state.
    let browser = Browser::new();
    let callback = through_provider(&browser, &server, "ann", unchanged).await;
    assert!(finish(&browser, &callback).await.starts_with("sso_token="));
    assert_eq!(finish(&browser, &callback).await, "sso_error=invalid_state");
    let used_code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == "code")
        .unwrap()
        .1
        .into_owned();
    let fresh = through_provider(&browser, &server, "ann", unchanged).await;
    assert_eq!(
        finish(&browser, &with_param(&fresh, "code", &used_code)).await,
        "sso_error=code_refused"
    );

    // An ID token whose nonce is not this sign-in's.
    let browser = Browser::new();
    let callback = through_provider(&browser, &server, "ann", |url| {
        url::Url::parse(&with_param(url.as_str(), "nonce", "someone-elses-nonce")).unwrap()
    })
    .await;
    assert_eq!(finish(&browser, &callback).await, "sso_error=invalid_nonce");

    // Deactivated people cannot come back through single sign-on.
    let leaver = server.person("leaver", Role::Member).await;
    server
        .state
        .store
        .apply(vec![Command::DeactivateUser {
            user_id: leaver.id,
            at: conclave_server::now_millis(),
        }])
        .await
        .unwrap();
    let browser = Browser::new();
    let callback = through_provider(&browser, &server, "leaver", unchanged).await;
    assert_eq!(
        finish(&browser, &callback).await,
        "sso_error=account_deactivated"
    );

    let failures: Vec<String> = audit_actions(&server)
        .await
        .into_iter()
        .filter(|(action, _)| action == "auth.sso_failed")
        .filter_map(|(_, target)| target)
        .collect();
    for code in [
        "invalid_state",
        "code_refused",
        "invalid_nonce",
        "account_deactivated",
    ] {
        assert!(
            failures.iter().any(|failure| failure == code),
            "{code} audited: {failures:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_provider_sends_the_browser_back_with_an_error() {
    // Nothing listens on this port: no provider process is needed.
    let issuer = format!("http://127.0.0.1:{}", free_port());
    let server = start(Backend::Sqlite, |config| {
        config.sso.enabled = true;
        config.sso.issuer = issuer.clone();
        config.sso.client_id = "conclave".into();
    })
    .await;
    let browser = Browser::new();
    let (status, location) = browser.get(&server.url("/api/v1/auth/sso/start")).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        location
            .unwrap()
            .ends_with("/#sso_error=provider_unavailable")
    );
    // A callback nobody started is refused the same way.
    let (_, location) = browser
        .get(&server.url("/api/v1/auth/sso/callback?code=x&state=y"))
        .await;
    assert!(location.unwrap().ends_with("/#sso_error=invalid_state"));
}
