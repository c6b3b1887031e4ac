//! Server tests for the identity feature; the harness (start, person, call, socket) is in main.rs.
//!
//! Authentication: password policy, lockout, TOTP MFA, the "MFA required"
//! policy, the acceptable-use policy, sessions, and OpenID Connect single
//! sign-on against a real `oidc-provider` process (see `sso` below).

use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::*;

mod sso;

/// RFC 6238 TOTP, computed independently of the server: HMAC-SHA-1 over the
/// big-endian step, dynamic truncation, six digits.
fn totp(secret_base32: &str, step: i64) -> String {
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_base32.as_bytes())
        .unwrap();
    format!("{:06}", hotp(&secret, step as u64) % 1_000_000)
}

fn hotp(secret: &[u8], counter: u64) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).unwrap();
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ])
}

#[test]
fn the_tests_own_totp_matches_rfc_6238() {
    let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
    for (time, eight_digits) in [
        (59, 94287082),
        (1111111109, 7081804),
        (1111111111, 14050471),
        (1234567890, 89005924),
        (2000000000, 69279037),
        (20000000000, 65353130),
    ] {
        assert_eq!(
            totp(&secret, time / 30),
            format!("{:06}", eight_digits % 1_000_000),
            "T = {time}"
        );
    }
}

fn current_step() -> i64 {
    conclave_server::now_millis() / 30_000
}

/// The current step, after waiting out the end of a step so that the steps
/// just before and after it stay acceptable for at least six seconds.
async fn fresh_step() -> i64 {
    let into_step = conclave_server::now_millis() % 30_000;
    if into_step > 24_000 {
        tokio::time::sleep(Duration::from_millis((30_000 - into_step + 50) as u64)).await;
    }
    current_step()
}

async fn login(
    server: &Server,
    email: &str,
    password: &str,
    totp: Option<&str>,
) -> (StatusCode, Value) {
    let mut body = json!({"email": email, "password": password});
    if let Some(code) = totp {
        body["totp"] = json!(code);
    }
    server
        .call("POST", "/api/v1/auth/login", None, Some(body))
        .await
}

async fn audit_actions(server: &Server) -> Vec<(String, Option<String>)> {
    server
        .state
        .store
        .audit_entries(conclave_domain::AuditFilter {
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|entry| (entry.action, entry.target_id))
        .collect()
}

/// Enrols `who` in TOTP using the step before `step`; answers the secret and
/// the recovery codes.
async fn enrol(server: &Server, who: &Person, step: i64) -> (String, Vec<String>) {
    let started = server.ok("POST", "/api/v1/me/mfa/totp", who, None).await;
    let secret = started["secret"].as_str().unwrap().to_string();
    let confirmed = server
        .ok(
            "POST",
            "/api/v1/me/mfa/totp/confirm",
            who,
            Some(json!({"code": totp(&secret, step - 1)})),
        )
        .await;
    let codes = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (secret, codes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_passwords_are_refused() {
    let server = start(Backend::Sqlite, |_| {}).await;
    let admin = server.person("admin", Role::Admin).await;
    for (email, password) in [
        ("a@example.com", "short"),
        ("b@example.com", "Password123"),
        ("c@example.com", "qwertyuiop"),
        ("dave.jones@example.com", "dave.jones@example.com"),
        ("eeeeeeeeee@example.com", "eeeeeeeeee"),
        ("f@example.com", "ffffffffffff"),
    ] {
        let (status, body) = server
            .call(
                "POST",
                "/api/v1/users",
                Some(&admin.token),
                Some(json!({"email": email, "name": "X", "password": password})),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("validation_failed")),
            "{password}: {body}"
        );
    }
    let (status, _) = server
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin.token),
            Some(json!({"email": "g@example.com", "name": "G", "password": "a decent passphrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_lock_the_account_for_a_while() {
    for backend in backends() {
        let server = start(backend, |config| {
            config.auth.max_failed_logins = 3;
            config.auth.lockout_secs = 1;
        })
        .await;
        let alice = server.person("alice", Role::Member).await;
        let email = "alice@example.com";
        // Failures below the threshold, then a success, restart the count.
        for _ in 0..2 {
            let (status, body) = login(&server, email, "wrong password!", None).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
            );
        }
        assert_eq!(
            login(&server, email, "long enough password", None).await.0,
            StatusCode::OK
        );
        for _ in 0..2 {
            assert_eq!(
                login(&server, email, "wrong password!", None).await.0,
                StatusCode::UNAUTHORIZED
            );
        }
        // The third consecutive failure locks.
        let response = server
            .http
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": "wrong password!"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::LOCKED, "{backend:?}");
        assert_eq!(response.headers()["retry-after"], "1");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "account_locked");
        // While locked even the right password is refused; other accounts and
        // existing sessions are unaffected.
        let (status, body) = login(&server, email, "long enough password", None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::LOCKED, Some("account_locked"))
        );
        server.ok("GET", "/api/v1/me", &alice, None).await;
        server.person("bob", Role::Member).await;

        let actions = audit_actions(&server).await;
        assert!(
            actions.contains(&("auth.lockout".into(), Some(alice.id.to_string()))),
            "{actions:?}"
        );
        assert!(
            actions
                .iter()
                .any(|(action, _)| action == "auth.sign_in_refused")
        );

        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert_eq!(
            login(&server, email, "long enough password", None).await.0,
            StatusCode::OK,
            "the lock ends by itself"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_unlock_a_locked_account_and_members_may_not() {
    for backend in backends() {
        let server = start(backend, |config| {
            config.auth.max_failed_logins = 3;
            config.auth.lockout_secs = 600;
        })
        .await;
        let alice = server.person("alice", Role::Member).await;
        let email = "alice@example.com";
        // An admin lifts a lock before it ends; a member may not.
        let admin = server.person("admin", Role::Admin).await;
        for _ in 0..3 {
            login(&server, email, "wrong password!", None).await;
        }
        let listed = server
            .ok("GET", "/api/v1/admin/users?q=alice", &admin, None)
            .await;
        assert!(listed[0]["locked_until"].is_i64(), "{listed}");
        let bob = server.person("carl", Role::Member).await;
        let (status, body) = server
            .call(
                "POST",
                &format!("/api/v1/admin/users/{}/unlock", alice.id),
                Some(&bob.token),
                None,
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden"))
        );
        let unlocked = server
            .ok(
                "POST",
                &format!("/api/v1/admin/users/{}/unlock", alice.id),
                &admin,
                None,
            )
            .await;
        assert!(unlocked["locked_until"].is_null(), "{unlocked}");
        assert_eq!(
            login(&server, email, "long enough password", None).await.0,
            StatusCode::OK,
            "unlocked at once"
        );
        let (status, _) = server
            .call(
                "POST",
                "/api/v1/admin/users/999999/unlock",
                Some(&admin.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            audit_actions(&server)
                .await
                .contains(&("user.unlock".into(), Some(alice.id.to_string())))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_enrolment_sign_in_recovery_codes_and_disabling() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let alice = server.person("alice", Role::Member).await;
        let email = "alice@example.com";
        let password = "long enough password";
        let step = fresh_step().await;

        let status = server.ok("GET", "/api/v1/me/security", &alice, None).await;
        assert_eq!(
            (
                status["mfa_enabled"].as_bool(),
                status["mfa_pending"].as_bool()
            ),
            (Some(false), Some(false))
        );
        let started = server.ok("POST", "/api/v1/me/mfa/totp", &alice, None).await;
        let secret = started["secret"].as_str().unwrap().to_string();
        let uri = started["otpauth_uri"].as_str().unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Conclave%3Aalice%40example.com?secret="),
            "{uri}"
        );
        assert!(uri.contains(&secret) && uri.contains("period=30") && uri.contains("digits=6"));
        assert_eq!(
            server.ok("GET", "/api/v1/me/security", &alice, None).await["mfa_pending"],
            true
        );
        // Until confirmed, sign-in needs no code.
        assert_eq!(
            login(&server, email, password, None).await.0,
            StatusCode::OK
        );

        let (status, body) = server
            .call(
                "POST",
                "/api/v1/me/mfa/totp/confirm",
                Some(&alice.token),
                Some(json!({"code": totp(&secret, step - 5)})),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_totp")),
            "an old code"
        );
        let confirmed = server
            .ok(
                "POST",
                "/api/v1/me/mfa/totp/confirm",
                &alice,
                Some(json!({"code": totp(&secret, step - 1)})),
            )
            .await;
        let codes: Vec<String> = confirmed["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        assert_eq!(codes.len(), 10);
        let (status, _) = server
            .call("POST", "/api/v1/me/mfa/totp", Some(&alice.token), None)
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "already enabled");

        // Sign-in now needs the code: missing, wrong, right, replayed.
        let (status, body) = login(&server, email, password, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("mfa_required")),
            "{body}"
        );
        assert!(body.get("token").is_none());
        let (status, body) = login(&server, email, password, Some("000000")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_totp"))
        );
        let (status, body) = login(
            &server,
            "alice@example.com",
            "wrong password!",
            Some(&totp(&secret, step)),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_credentials")),
            "the password still counts"
        );
        let (status, body) = login(&server, email, password, Some(&totp(&secret, step - 1))).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "the confirming code is spent: {body}"
        );
        let (status, body) = login(&server, email, password, Some(&totp(&secret, step))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let token = body["token"].as_str().unwrap().to_string();
        let (status, body) = server.call("GET", "/api/v1/me", Some(&token), None).await;
        assert_eq!(
            (status, body["email"].as_str()),
            (StatusCode::OK, Some(email))
        );
        let (status, body) = login(&server, email, password, Some(&totp(&secret, step))).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_totp")),
            "a code works once"
        );

        // Recovery codes work once each, in any case and spacing.
        let typed = codes[3].to_uppercase().replace('-', " ");
        assert_eq!(
            login(&server, email, password, Some(&typed)).await.0,
            StatusCode::OK
        );
        assert_eq!(
            login(&server, email, password, Some(&codes[3])).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            server.ok("GET", "/api/v1/me/security", &alice, None).await["recovery_codes_left"],
            9
        );

        // New recovery codes replace the old ones.
        let replaced = server
            .ok(
                "POST",
                "/api/v1/me/mfa/recovery-codes",
                &alice,
                Some(json!({"code": codes[0]})),
            )
            .await;
        let new_codes = replaced["recovery_codes"].as_array().unwrap();
        assert_eq!(new_codes.len(), 10);
        assert_eq!(
            login(&server, email, password, Some(&codes[1])).await.0,
            StatusCode::UNAUTHORIZED
        );

        // Disabling needs a current code.
        let (status, _) = server
            .call(
                "POST",
                "/api/v1/me/mfa/totp/disable",
                Some(&alice.token),
                Some(json!({"code": "123456"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = server
            .call(
                "POST",
                "/api/v1/me/mfa/totp/disable",
                Some(&alice.token),
                Some(json!({"code": totp(&secret, step + 1)})),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            login(&server, email, password, None).await.0,
            StatusCode::OK
        );

        let actions: Vec<String> = audit_actions(&server)
            .await
            .into_iter()
            .map(|(action, _)| action)
            .collect();
        for expected in [
            "mfa.enrol",
            "mfa.recovery_code_used",
            "mfa.recovery_codes_replaced",
            "mfa.disable",
        ] {
            assert!(
                actions.iter().any(|action| action == expected),
                "{expected} in {actions:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_count_towards_the_lockout() {
    let server = start(Backend::Sqlite, |config| {
        config.auth.max_failed_logins = 2;
        config.auth.lockout_secs = 60;
    })
    .await;
    let alice = server.person("alice", Role::Member).await;
    let step = fresh_step().await;
    enrol(&server, &alice, step).await;
    let (status, _) = login(
        &server,
        "alice@example.com",
        "long enough password",
        Some("111111"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = login(
        &server,
        "alice@example.com",
        "long enough password",
        Some("222222"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::LOCKED, Some("account_locked"))
    );
    // A signed-in session cannot keep guessing to turn MFA off either.
    let (status, body) = server
        .call(
            "POST",
            "/api/v1/me/mfa/totp/disable",
            Some(&alice.token),
            Some(json!({"code": "333333"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::LOCKED, Some("account_locked"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_required_restricts_sessions_until_enrolment_and_admins_reset_mfa() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let admin = server.person("admin", Role::Admin).await;
        let member = server.person("member", Role::Member).await;
        let carol = server.person("carol", Role::Member).await;
        let (status, _) = server
            .call(
                "PUT",
                "/api/v1/auth/mfa-policy",
                Some(&member.token),
                Some(json!({"required": true})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let policy = server
            .ok(
                "PUT",
                "/api/v1/auth/mfa-policy",
                &admin,
                Some(json!({"required": true})),
            )
            .await;
        assert_eq!(
            policy,
            json!({"required": true, "required_by_config": false, "required_by_admin": true})
        );

        // Existing and new sessions of people without MFA are restricted.
        let (status, body) = server
            .call("GET", "/api/v1/channels", Some(&carol.token), None)
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("mfa_enrolment_required")),
            "{backend:?} {body}"
        );
        let (status, body) =
            login(&server, "member@example.com", "long enough password", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["mfa_enrolment_required"], true);
        assert_eq!(body["policy_acceptance_required"], false);
        let member = Person {
            id: member.id,
            token: body["token"].as_str().unwrap().to_string(),
        };
        for path in ["/api/v1/channels", "/api/v1/users", "/api/v1/me/sessions"] {
            let (status, body) = server.call("GET", path, Some(&member.token), None).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (StatusCode::FORBIDDEN, Some("mfa_enrolment_required")),
                "{path}"
            );
        }
        let refused = tokio_tungstenite::connect_async(format!(
            "ws://{}/api/v1/ws?token={}",
            server.address, member.token
        ))
        .await;
        assert!(refused.is_err(), "no socket for a restricted session");
        server.ok("GET", "/api/v1/me", &member, None).await;
        let security = server.ok("GET", "/api/v1/me/security", &member, None).await;
        assert_eq!(
            (
                security["mfa_required"].as_bool(),
                security["mfa_enrolment_required"].as_bool()
            ),
            (Some(true), Some(true))
        );

        // Enrolling lifts the restriction; disabling is then refused.
        let step = fresh_step().await;
        let (secret, _) = enrol(&server, &member, step).await;
        server.ok("GET", "/api/v1/channels", &member, None).await;
        let (status, body) = server
            .call(
                "POST",
                "/api/v1/me/mfa/totp/disable",
                Some(&member.token),
                Some(json!({"code": totp(&secret, step)})),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden"))
        );

        // An admin resets a lost device: MFA is gone and every session with it.
        let admin_step = fresh_step().await;
        enrol(&server, &admin, admin_step).await;
        let (mut socket, _) = server.socket(&member, None).await;
        next_frame(&mut socket).await;
        let (status, _) = server
            .call(
                "DELETE",
                &format!("/api/v1/users/{}/mfa", admin.id),
                Some(&member.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "members cannot reset MFA");
        let (status, _) = server
            .call(
                "DELETE",
                &format!("/api/v1/users/{}/mfa", member.id),
                Some(&admin.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(next_frame(&mut socket).await.is_none(), "the socket closes");
        let (status, _) = server
            .call("GET", "/api/v1/me", Some(&member.token), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, body) =
            login(&server, "member@example.com", "long enough password", None).await;
        assert_eq!(
            (status, body["mfa_enrolment_required"].as_bool()),
            (StatusCode::OK, Some(true)),
            "enrol again: {body}"
        );
        let (status, _) = server
            .call(
                "DELETE",
                &format!("/api/v1/users/{}/mfa", member.id),
                Some(&admin.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "nothing left to reset");

        // Switching the policy off lifts the restriction for those without MFA.
        server
            .ok(
                "PUT",
                "/api/v1/auth/mfa-policy",
                &admin,
                Some(json!({"required": false})),
            )
            .await;
        server.ok("GET", "/api/v1/channels", &carol, None).await;

        let actions = audit_actions(&server).await;
        assert!(
            actions.contains(&("mfa.reset".into(), Some(member.id.to_string()))),
            "{actions:?}"
        );
        assert!(
            actions
                .iter()
                .filter(|(action, _)| action == "auth.mfa_policy")
                .count()
                == 2
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_required_by_configuration_cannot_be_switched_off() {
    let server = start(Backend::Sqlite, |config| config.auth.mfa_required = true).await;
    let admin = server.person("admin", Role::Admin).await;
    let (status, body) = server
        .call("GET", "/api/v1/auth/mfa-policy", Some(&admin.token), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("mfa_enrolment_required"))
    );
    enrol(&server, &admin, fresh_step().await).await;
    let policy = server
        .ok(
            "PUT",
            "/api/v1/auth/mfa-policy",
            &admin,
            Some(json!({"required": false})),
        )
        .await;
    assert_eq!(policy["required"], true);
    assert_eq!(policy["required_by_config"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acceptable_use_policy_is_accepted_before_use_and_again_after_changes() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let admin = server.person("admin", Role::Admin).await;
        let officer = server.person("officer", Role::Compliance).await;
        let member = server.person("member", Role::Member).await;
        let (status, body) = server
            .call("GET", "/api/v1/policy", Some(&member.token), None)
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "none published yet"
        );
        let (status, _) = server
            .call(
                "POST",
                "/api/v1/policy",
                Some(&member.token),
                Some(json!({"text": "mine"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = server
            .call(
                "POST",
                "/api/v1/policy",
                Some(&admin.token),
                Some(json!({"text": "   "})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let (status, v1) = server
            .call(
                "POST",
                "/api/v1/policy",
                Some(&admin.token),
                Some(json!({"text": "Be kind. Keep secrets."})),
            )
            .await;
        assert_eq!(
            (status, v1["version"].as_i64()),
            (StatusCode::CREATED, Some(1)),
            "{v1}"
        );
        let (status, body) = server
            .call("GET", "/api/v1/channels", Some(&member.token), None)
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("policy_acceptance_required")),
            "{backend:?}"
        );
        let (status, body) =
            login(&server, "member@example.com", "long enough password", None).await;
        assert_eq!(
            (status, body["policy_acceptance_required"].as_bool()),
            (StatusCode::OK, Some(true))
        );
        let current = server.ok("GET", "/api/v1/policy", &member, None).await;
        assert_eq!(
            (current["version"].as_i64(), current["text"].as_str()),
            (Some(1), Some("Be kind. Keep secrets."))
        );
        assert!(current["accepted_at"].is_null());
        let accepted = server
            .ok(
                "POST",
                "/api/v1/policy/accept",
                &member,
                Some(json!({"version": 1})),
            )
            .await;
        assert_eq!(
            (accepted["version"].as_i64(), accepted["address"].as_str()),
            (Some(1), Some("127.0.0.1"))
        );
        server.ok("GET", "/api/v1/channels", &member, None).await;
        assert!(server.ok("GET", "/api/v1/policy", &member, None).await["accepted_at"].is_i64());

        // A new version must be accepted again, and only the current one counts.
        server
            .ok(
                "POST",
                "/api/v1/policy/accept",
                &admin,
                Some(json!({"version": 1})),
            )
            .await;
        server
            .ok(
                "POST",
                "/api/v1/policy",
                &admin,
                Some(json!({"text": "Be kind. Keep secrets. Report leaks."})),
            )
            .await;
        let (status, body) = server
            .call("GET", "/api/v1/channels", Some(&member.token), None)
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("policy_acceptance_required"))
        );
        let (status, _) = server
            .call(
                "POST",
                "/api/v1/policy/accept",
                Some(&member.token),
                Some(json!({"version": 1})),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        server
            .ok(
                "POST",
                "/api/v1/policy/accept",
                &member,
                Some(json!({"version": 2})),
            )
            .await;
        server.ok("GET", "/api/v1/channels", &member, None).await;

        // Admins and compliance officers see who accepted what, when and from where.
        server
            .ok(
                "POST",
                "/api/v1/policy/accept",
                &officer,
                Some(json!({"version": 2})),
            )
            .await;
        let of_v2 = server
            .ok(
                "GET",
                "/api/v1/policy/acceptances?version=2",
                &officer,
                None,
            )
            .await;
        let users: Vec<i64> = of_v2
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["user_id"].as_i64().unwrap())
            .collect();
        assert_eq!(users, vec![officer.id, member.id]);
        assert_eq!(of_v2[0]["address"], "127.0.0.1");
        server
            .ok(
                "POST",
                "/api/v1/policy/accept",
                &admin,
                Some(json!({"version": 2})),
            )
            .await;
        assert_eq!(
            server
                .ok("GET", "/api/v1/policy/acceptances", &admin, None)
                .await
                .as_array()
                .unwrap()
                .len(),
            5
        );
        let (status, _) = server
            .call(
                "GET",
                "/api/v1/policy/acceptances",
                Some(&member.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let actions = audit_actions(&server).await;
        assert_eq!(
            actions
                .iter()
                .filter(|(action, _)| action == "policy.publish")
                .count(),
            2
        );
        assert_eq!(
            actions
                .iter()
                .filter(|(action, _)| action == "policy.accept")
                .count(),
            5
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_revoked_by_their_owner_and_by_admins() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let admin = server.person("admin", Role::Admin).await;
        let first = server.person("alice", Role::Member).await;
        let (_, body) = login(&server, "alice@example.com", "long enough password", None).await;
        let second = Person {
            id: first.id,
            token: body["token"].as_str().unwrap().to_string(),
        };
        let (_, body) = login(&server, "alice@example.com", "long enough password", None).await;
        let third = Person {
            id: first.id,
            token: body["token"].as_str().unwrap().to_string(),
        };
        let (mut socket, _) = server.socket(&second, None).await;
        next_frame(&mut socket).await;

        // "Sign out everywhere else" keeps the current session.
        let (status, _) = server
            .call("DELETE", "/api/v1/me/sessions", Some(&first.token), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(
            next_frame(&mut socket).await.is_none(),
            "{backend:?}: the other session's socket closes"
        );
        assert_eq!(
            server
                .call("GET", "/api/v1/me", Some(&second.token), None)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            server
                .call("GET", "/api/v1/me", Some(&third.token), None)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
        server.ok("GET", "/api/v1/me", &first, None).await;

        // Admins list and revoke anyone's sessions; members cannot.
        let (status, _) = server
            .call(
                "GET",
                &format!("/api/v1/users/{}/sessions", admin.id),
                Some(&first.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let listed = server
            .ok(
                "GET",
                &format!("/api/v1/users/{}/sessions", first.id),
                &admin,
                None,
            )
            .await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        let session_id = listed[0]["id"].as_i64().unwrap();
        let (status, _) = server
            .call(
                "DELETE",
                &format!("/api/v1/users/{}/sessions/999999", first.id),
                Some(&admin.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = server
            .call(
                "DELETE",
                &format!("/api/v1/users/{}/sessions/{session_id}", first.id),
                Some(&admin.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            server
                .call("GET", "/api/v1/me", Some(&first.token), None)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );

        // Revoke all, and "everywhere including here" for oneself.
        let (_, body) = login(&server, "alice@example.com", "long enough password", None).await;
        let fourth = Person {
            id: first.id,
            token: body["token"].as_str().unwrap().to_string(),
        };
        let (status, _) = server
            .call(
                "DELETE",
                &format!("/api/v1/users/{}/sessions", first.id),
                Some(&admin.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            server
                .call("GET", "/api/v1/me", Some(&fourth.token), None)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
        let (status, _) = server
            .call(
                "DELETE",
                "/api/v1/me/sessions?include_current=true",
                Some(&admin.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            server
                .call("GET", "/api/v1/me", Some(&admin.token), None)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );

        let actions = audit_actions(&server).await;
        assert!(actions.contains(&("session.revoke".into(), Some(session_id.to_string()))));
        assert_eq!(
            actions
                .iter()
                .filter(|(action, _)| action == "session.revoke_all")
                .count(),
            3
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_endpoints_are_in_the_openapi_document() {
    let server = start(Backend::Sqlite, |_| {}).await;
    let (_, doc) = server.call("GET", "/api/v1/openapi.json", None, None).await;
    for path in [
        "/api/v1/me/mfa/totp",
        "/api/v1/policy",
        "/api/v1/policy/accept",
        "/api/v1/users/{id}/sessions",
        "/api/v1/auth/sso/start",
        "/api/v1/auth/sso/callback",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    let (status, config) = server
        .call("GET", "/api/v1/auth/sso/config", None, None)
        .await;
    assert_eq!(
        (status, config["enabled"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let (status, body) = server
        .call("GET", "/api/v1/auth/sso/start", None, None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "no SSO configured"
    );
}
