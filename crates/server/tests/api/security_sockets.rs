//! Sessions, sockets and connections under attack (issue 11, items 4–6 and
//! the smaller edge fixes): access changes close open sockets, a `since`
//! from the future resets instead of dropping events, socket caps,
//! slowloris, 405 bodies, oversized frames, response headers and the SSO
//! cookie behind an HTTPS proxy.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// The close frame a socket ends with, within `within`; panics on anything
/// else (a reset, silence).
async fn close_of(socket: &mut Socket, within: Duration) -> (u16, String) {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Ok(Some(Ok(WsMessage::Close(Some(frame))))) => {
                return (u16::from(frame.code), frame.reason.to_string());
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame within {within:?}, got {other:?}"),
        }
    }
}

/// Tries to open a socket; answers the refusal's status and JSON body.
async fn refused_socket(server: &Server, who: &Person) -> Option<(u16, Value)> {
    let url = format!("ws://{}/api/v1/ws?token={}", server.address, who.token);
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => None,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_deref()
                .and_then(|body| serde_json::from_slice(body).ok())
                .unwrap_or(Value::Null);
            Some((response.status().as_u16(), body))
        }
        Err(other) => panic!("unexpected socket error {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_a_policy_closes_open_sockets_at_once_wherever_it_is_published() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let admin = server.person("admin", Role::Admin).await;
        let member = server.person("member", Role::Member).await;
        let (mut socket, _) = server.socket(&member, None).await;
        assert_eq!(next_frame(&mut socket).await.unwrap()["type"], "caught_up");

        let started = Instant::now();
        let (status, body) = server
            .call(
                "POST",
                "/api/v1/policy",
                Some(&admin.token),
                Some(json!({"text": "Be kind."})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (code, reason) = close_of(&mut socket, Duration::from_secs(2)).await;
        assert_eq!(
            (code, reason.as_str()),
            (4031, "policy_acceptance_required"),
            "{backend:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "closed after {:?}",
            started.elapsed()
        );
        let (status, body) = refused_socket(&server, &member).await.expect("refused");
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("policy_acceptance_required"))
        );

        // Published by another process (the command line, another node):
        // straight into the store, so this server must notice by itself.
        server
            .ok(
                "POST",
                "/api/v1/policy/accept",
                &member,
                Some(json!({"version": 1})),
            )
            .await;
        let (mut socket, _) = server.socket(&member, None).await;
        next_frame(&mut socket).await;
        server
            .state
            .store
            .publish_policy("Be kinder.".into(), None, conclave_server::now_millis())
            .await
            .unwrap();
        let (code, _) = close_of(&mut socket, Duration::from_secs(3)).await;
        assert_eq!(code, 4031, "{backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requiring_mfa_closes_the_sockets_of_people_without_it() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let admin = server.person("admin", Role::Admin).await;
        let member = server.person("member", Role::Member).await;
        let (mut socket, _) = server.socket(&member, None).await;
        assert_eq!(next_frame(&mut socket).await.unwrap()["type"], "caught_up");
        let started = Instant::now();
        server
            .ok(
                "PUT",
                "/api/v1/auth/mfa-policy",
                &admin,
                Some(json!({"required": true})),
            )
            .await;
        let (code, reason) = close_of(&mut socket, Duration::from_secs(2)).await;
        assert_eq!(
            (code, reason.as_str()),
            (4032, "mfa_enrolment_required"),
            "{backend:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        let (status, body) = refused_socket(&server, &member).await.expect("refused");
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("mfa_enrolment_required"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_since_beyond_the_newest_position_resets_to_it_and_no_live_event_is_lost() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let alice = server.person("alice", Role::Member).await;
        let bob = server.person("bob", Role::Member).await;
        let channel = server
            .ok(
                "POST",
                "/api/v1/channels",
                &alice,
                Some(json!({"name": "general", "kind": "public", "member_ids": [bob.id]})),
            )
            .await;
        let channel_id = channel["channel"]["id"].as_i64().unwrap();
        let (mut socket, hello) = server.socket(&bob, Some(999_999)).await;
        let head = hello["position"].as_i64().unwrap();
        assert!(head < 999_999);
        let reset = next_frame(&mut socket).await.unwrap();
        assert_eq!(
            reset,
            json!({"type": "reset", "position": head, "requested_since": 999_999}),
            "{backend:?}"
        );
        let caught_up = next_frame(&mut socket).await.unwrap();
        assert_eq!(caught_up, json!({"type": "caught_up", "position": head}));

        for text in ["one", "two"] {
            server
                .ok(
                    "POST",
                    &format!("/api/v1/channels/{channel_id}/messages"),
                    &alice,
                    Some(json!({"text": text})),
                )
                .await;
        }
        let first = next_event(&mut socket, "message_created").await;
        let second = next_event(&mut socket, "message_created").await;
        assert_eq!(first["event"]["message"]["text"], "one");
        assert_eq!(second["event"]["message"]["text"], "two");
        assert!(first["position"].as_i64().unwrap() > head);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_over_the_per_user_cap_are_refused_with_429_until_one_closes() {
    let server = start(Backend::Sqlite, |config| {
        config.websocket.max_per_user = 3;
        config.websocket.max_per_address = 0;
    })
    .await;
    let alice = server.person("alice", Role::Member).await;
    let bob = server.person("bob", Role::Member).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(server.socket(&alice, None).await.0);
    }
    let (status, body) = refused_socket(&server, &alice).await.expect("over the cap");
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too_many_sockets"))
    );
    assert!(body["message"].as_str().unwrap().contains('3'), "{body}");
    // Another person is not affected.
    server.socket(&bob, None).await;

    let mut closing = open.pop().unwrap();
    closing.close(None).await.unwrap();
    let mut reopened = false;
    for _ in 0..50 {
        if refused_socket(&server, &alice).await.is_none() {
            reopened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reopened, "a closed socket gives its place back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_over_the_per_address_cap_are_refused_with_429() {
    let server = start(Backend::Sqlite, |config| {
        config.websocket.max_per_user = 0;
        config.websocket.max_per_address = 4;
    })
    .await;
    let alice = server.person("alice", Role::Member).await;
    let bob = server.person("bob", Role::Member).await;
    let carol = server.person("carol", Role::Member).await;
    let mut open = Vec::new();
    for who in [&alice, &alice, &bob, &bob] {
        open.push(server.socket(who, None).await.0);
    }
    let (status, body) = refused_socket(&server, &carol).await.expect("over the cap");
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too_many_sockets"))
    );
    // REST still answers from that address.
    server.ok("GET", "/api/v1/me", &carol, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_half_open_connections_are_closed_and_health_and_sign_in_keep_answering() {
    const STALLED: usize = 300;
    let server = start(Backend::Sqlite, |config| {
        config.connections.header_timeout_ms = 1_000;
        config.connections.max_open = 100;
    })
    .await;
    server.person("alice", Role::Member).await;
    let mut stalled = Vec::new();
    for _ in 0..STALLED {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        // A request head that never ends.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: conclave\r\nX-Slow: ")
            .await
            .unwrap();
        stalled.push(stream);
    }
    let started = Instant::now();
    // While they hang, fresh clients are served at once.
    let fresh = reqwest::Client::new();
    let health = tokio::time::timeout(
        Duration::from_millis(800),
        fresh.get(server.url("/healthz")).send(),
    )
    .await
    .expect("healthz answers while half-open connections are held")
    .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let login = tokio::time::timeout(
        Duration::from_millis(800),
        fresh
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"email": "alice@example.com", "password": "long enough password"}))
            .send(),
    )
    .await
    .expect("sign-in answers while half-open connections are held")
    .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(1));

    // Every stalled connection is closed by the server: shed to make room,
    // or at the header timeout.
    let mut buffer = [0u8; 1024];
    for (index, stream) in stalled.iter_mut().enumerate() {
        let ended = tokio::time::timeout(Duration::from_secs(3), async {
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    // hyper may answer 408 before closing.
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(ended.is_ok(), "stalled connection {index} is still open");
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    let health = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_make_room_for_new_ones_at_the_limit() {
    const KEPT_ALIVE: usize = 80;
    const MAX_OPEN: usize = 50;
    let server = start(Backend::Sqlite, |config| {
        // Long enough that only shedding, not the timeout, closes them.
        config.connections.header_timeout_ms = 30_000;
        config.connections.max_open = MAX_OPEN;
    })
    .await;
    let mut kept = Vec::new();
    let mut buffer = [0u8; 4096];
    for index in 0..KEPT_ALIVE {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: conclave\r\n\r\n")
            .await
            .unwrap();
        let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("connection {index} got no answer"))
            .unwrap();
        assert!(
            buffer[..read].starts_with(b"HTTP/1.1 200"),
            "connection {index}: {}",
            String::from_utf8_lossy(&buffer[..read])
        );
        kept.push(stream);
    }
    // The oldest idle ones were closed to admit the newer ones.
    let mut closed = 0;
    for stream in &mut kept {
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(20), stream.read(&mut buffer)).await
        {
            closed += 1;
        }
    }
    assert!(
        closed >= KEPT_ALIVE - MAX_OPEN - 1,
        "only {closed} idle connections were closed"
    );
    let fresh = reqwest::Client::new();
    let health = tokio::time::timeout(
        Duration::from_millis(800),
        fresh.get(server.url("/healthz")).send(),
    )
    .await
    .expect("healthz answers while idle connections fill the limit")
    .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_the_header_timeout() {
    let server = start(Backend::Sqlite, |config| {
        config.connections.header_timeout_ms = 500;
    })
    .await;
    let mut idle = TcpStream::connect(server.address).await.unwrap();
    let mut buffer = [0u8; 64];
    let started = Instant::now();
    let read = tokio::time::timeout(Duration::from_secs(3), idle.read(&mut buffer))
        .await
        .expect("the server closes a connection that never speaks");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_a_path_does_not_accept_answers_405_json() {
    let server = start(Backend::Sqlite, |_| {}).await;
    let alice = server.person("alice", Role::Member).await;
    for (method, path) in [
        ("GET", "/api/v1/auth/login"),
        ("DELETE", "/api/v1/channels"),
        ("POST", "/healthz"),
    ] {
        let response = server
            .http
            .request(method.parse().unwrap(), server.url(path))
            .bearer_auth(&alice.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert!(response.headers().contains_key("allow"), "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "method_not_allowed", "{path}");
        assert!(body["message"].as_str().unwrap().contains(method), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_64_kib_closes_the_socket_with_1009() {
    let server = start(Backend::Sqlite, |_| {}).await;
    let alice = server.person("alice", Role::Member).await;
    let (mut socket, _) = server.socket(&alice, None).await;
    next_frame(&mut socket).await;
    let big = json!({"type": "typing", "channel_id": 1, "padding": "x".repeat(100 * 1024)});
    socket
        .send(WsMessage::Text(big.to_string().into()))
        .await
        .unwrap();
    let (code, reason) = close_of(&mut socket, Duration::from_secs(2)).await;
    assert_eq!((code, reason.as_str()), (1009, "frame too large"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_answers_are_neither_sniffed_nor_cached() {
    let server = start(Backend::Sqlite, |_| {}).await;
    server.person("alice", Role::Member).await;
    let login = server
        .http
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": "alice@example.com", "password": "long enough password"}))
        .send()
        .await
        .unwrap();
    let login_headers = login.headers().clone();
    assert_eq!(login.status(), StatusCode::OK);
    let me = server
        .http
        .get(server.url("/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let scim = server
        .http
        .get(server.url("/scim/v2/Users"))
        .send()
        .await
        .unwrap();
    for headers in [&login_headers, me.headers(), scim.headers()] {
        assert_eq!(headers["x-content-type-options"], "nosniff", "{headers:?}");
        assert_eq!(headers["cache-control"], "no-store", "{headers:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sso_cookie_is_secure_when_the_request_came_over_https() {
    let server = start(Backend::Sqlite, |_| {}).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = server.url("/api/v1/auth/sso/callback?code=c&state=s");
    let cookie_of = |response: &reqwest::Response| {
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_string()
    };
    let plain = no_redirects.get(&url).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::FOUND);
    assert!(
        !cookie_of(&plain).contains("Secure"),
        "{}",
        cookie_of(&plain)
    );
    for (name, value) in [
        ("x-forwarded-proto", "https"),
        ("forwarded", "for=192.0.2.1;proto=https"),
    ] {
        let proxied = no_redirects
            .get(&url)
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(proxied.status(), StatusCode::FOUND);
        let cookie = cookie_of(&proxied);
        assert!(cookie.starts_with("conclave_sso="), "{cookie}");
        assert!(cookie.contains("; Secure"), "{name}: {cookie}");
    }
}
