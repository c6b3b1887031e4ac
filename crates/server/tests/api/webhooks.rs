//! Slack-compatible incoming webhooks: who manages them, what `/hooks/{token}`
//! accepts and refuses, and that a hook's message is an ordinary message
//! (journalled, delivered live) authored by the hook's bot user.

use conclave_domain::external::NewWhatsAppConversation;
use conclave_domain::{EventPayload, Role};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Person, Server, backends, next_event, start};

/// A public channel made by `owner` with `members` added.
async fn channel_with(server: &Server, owner: &Person, name: &str, members: &[&Person]) -> i64 {
    let ids: Vec<i64> = members.iter().map(|member| member.id).collect();
    let created = server
        .ok(
            "POST",
            "/api/v1/channels",
            owner,
            Some(json!({"name": name, "kind": "private", "member_ids": ids})),
        )
        .await;
    created["channel"]["id"].as_i64().unwrap()
}

/// Posts `body` to a hook URL with a content type; answers status, the
/// Retry-After header and the body text.
async fn hook_post(
    server: &Server,
    url: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Option<String>, String) {
    let response = server
        .http
        .post(server.url(url))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_string());
    (status, retry_after, response.text().await.unwrap())
}

async fn hook_json(server: &Server, url: &str, body: Value) -> (StatusCode, String) {
    let (status, _, text) = hook_post(server, url, "application/json", body.to_string()).await;
    (status, text)
}

fn code(text: &str) -> Value {
    serde_json::from_str::<Value>(text).unwrap_or(Value::Null)["code"].clone()
}

async fn latest_text(server: &Server, channel_id: i64, who: &Person) -> Value {
    let page = server
        .ok(
            "GET",
            &format!("/api/v1/channels/{channel_id}/messages?limit=1"),
            who,
            None,
        )
        .await;
    page["messages"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_manage_hooks_and_others_are_refused() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let admin = server.person("hook_admin", Role::Admin).await;
        let alice = server.person("hook_alice", Role::Member).await;
        let bob = server.person("hook_bob", Role::Member).await;
        let guest = server.person("hook_guest", Role::Guest).await;
        let stranger = server.person("hook_stranger", Role::Member).await;
        let channel_id = channel_with(&server, &alice, "deploys", &[&bob, &guest, &admin]).await;
        let hooks = format!("/api/v1/channels/{channel_id}/webhooks");

        let created = server
            .ok("POST", &hooks, &alice, Some(json!({"name": "CI Builds"})))
            .await;
        let token = created["token"].as_str().unwrap();
        assert_eq!(token.len(), 64, "{backend:?}");
        assert_eq!(created["url"], format!("/hooks/{token}"));
        assert_eq!(created["name"], "CI Builds");
        assert_eq!(created["channel_id"], channel_id);
        let hook_id = created["id"].as_i64().unwrap();

        // The list never shows the token.
        let listed = server.ok("GET", &hooks, &bob, None).await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert_eq!(listed[0]["id"], hook_id);
        assert_eq!(listed[0]["token"], Value::Null);
        assert_eq!(listed[0]["url"], Value::Null);
        assert!(!listed.to_string().contains(token));

        // Guests and non-members neither list nor create.
        for who in [&guest, &stranger] {
            for (method, body) in [("GET", None), ("POST", Some(json!({"name": "x"})))] {
                let (status, body) = server.call(method, &hooks, Some(&who.token), body).await;
                assert!(
                    status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
                    "{backend:?} {method}: {status} {body}"
                );
            }
        }
        let (status, body) = server
            .call(
                "POST",
                &hooks,
                Some(&alice.token),
                Some(json!({"name": "  "})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

        // Another member cannot revoke it; an admin can.
        let revoke = format!("/api/v1/webhooks/{hook_id}");
        let (status, body) = server.call("DELETE", &revoke, Some(&bob.token), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["code"], "forbidden");
        let (status, _) = server
            .call("DELETE", &revoke, Some(&admin.token), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = server
            .call("DELETE", &revoke, Some(&admin.token), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(server.ok("GET", &hooks, &alice, None).await, json!([]));

        // Its creator can revoke their own.
        let own = server
            .ok("POST", &hooks, &bob, Some(json!({"name": "Bob's"})))
            .await;
        let (status, _) = server
            .call(
                "DELETE",
                &format!("/api/v1/webhooks/{}", own["id"]),
                Some(&bob.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        // Both actions are audited.
        let audit = server
            .ok("GET", "/api/v1/audit?action=webhook.", &admin, None)
            .await;
        let actions: Vec<(&str, i64)> = audit
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .map(|entry| {
                (
                    entry["action"].as_str().unwrap(),
                    entry["actor_id"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            actions,
            vec![
                ("webhook.create", alice.id),
                ("webhook.revoke", admin.id),
                ("webhook.create", bob.id),
                ("webhook.revoke", bob.id),
            ],
            "{backend:?}"
        );
        assert!(!audit.to_string().contains(token));

        // Archived channels take no new hooks.
        server
            .ok(
                "PATCH",
                &format!("/api/v1/channels/{channel_id}"),
                &alice,
                Some(json!({"archived": true})),
            )
            .await;
        let (status, body) = server
            .call(
                "POST",
                &hooks,
                Some(&alice.token),
                Some(json!({"name": "late"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend:?} {body}");

        // Customer conversations take no hooks either.
        let customer_channel = channel_with(&server, &alice, "customer-chat", &[]).await;
        server
            .state
            .store
            .create_whatsapp_conversation(NewWhatsAppConversation {
                channel_id: customer_channel,
                phone_number_id: "100".into(),
                customer_wa_id: "4915100000000".into(),
                customer_user_id: guest.id,
                at: 1,
            })
            .await
            .unwrap();
        let (status, body) = server
            .call(
                "POST",
                &format!("/api/v1/channels/{customer_channel}/webhooks"),
                Some(&alice.token),
                Some(json!({"name": "nope"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend:?} {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_post_slack_payloads_as_their_bot_user() {
    for backend in backends() {
        // Many posts through one hook here; the limit has its own test.
        let server = start(backend, |config| config.limits.webhook_burst = 1000.0).await;
        let alice = server.person("poster_alice", Role::Member).await;
        let bob = server.person("poster_bob", Role::Member).await;
        let channel_id = channel_with(&server, &alice, "alerts", &[&bob]).await;
        let created = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{channel_id}/webhooks"),
                &alice,
                Some(json!({"name": "Grafana"})),
            )
            .await;
        let url = created["url"].as_str().unwrap().to_string();
        let bot_id = created["author_id"].as_i64().unwrap();
        let (mut bob_socket, _) = server.socket(&bob, None).await;
        next_event_or_caught_up(&mut bob_socket).await;

        // JSON, with Slack mrkdwn kept as written; delivered live.
        let (status, _, text) = hook_post(
            &server,
            &url,
            "application/json",
            json!({"text": "*CPU* high on <https://grafana/d/1|db-1> @poster_bob", "username": "ignored"}).to_string(),
        )
        .await;
        assert_eq!(
            (status, text.as_str()),
            (StatusCode::OK, "ok"),
            "{backend:?}"
        );
        let live = next_event(&mut bob_socket, "message_created").await;
        let message = &live["event"]["message"];
        assert_eq!(
            message["text"],
            "*CPU* high on <https://grafana/d/1|db-1> @poster_bob"
        );
        assert_eq!(message["author_id"], bot_id);
        assert_eq!(message["mentions"], json!([bob.id]));
        let bot = server
            .ok("GET", &format!("/api/v1/users/{bot_id}"), &bob, None)
            .await;
        assert_eq!(bot["name"], "Grafana", "{bot}");

        // The message is in the journal, authored by the bot, and the chain
        // holds.
        let events = server
            .state
            .store
            .events_for_user(bob.id, 0, 10_000)
            .await
            .unwrap();
        assert!(events.iter().any(|event| matches!(
            &event.payload,
            EventPayload::MessageCreated { message } if message.author_id == bot_id
                && message.channel_id == channel_id
        )));
        assert!(server.state.store.verify_journal().await.unwrap().is_ok());

        // Slack's form encoding: payload=<json>.
        let form = format!(
            "payload={}",
            url::form_urlencoded::byte_serialize(br#"{"text":"from a form & more"}"#)
                .collect::<String>()
        );
        let (status, _, text) =
            hook_post(&server, &url, "application/x-www-form-urlencoded", form).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "ok"), "{text}");
        assert_eq!(
            latest_text(&server, channel_id, &bob).await["text"],
            "from a form & more"
        );

        // Without text: attachments, then blocks.
        let (status, _) = hook_json(
            &server,
            &url,
            json!({"attachments": [{"fallback": "Build #12 failed", "color": "danger"}]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            latest_text(&server, channel_id, &bob).await["text"],
            "Build #12 failed"
        );
        let (status, _) = hook_json(
            &server,
            &url,
            json!({"blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "Deploy"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": "*v1.2* is live"}}
            ]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            latest_text(&server, channel_id, &bob).await["text"],
            "**Deploy**\n*v1.2* is live"
        );

        // Refusals, each with its code.
        let (status, text) = hook_json(&server, &url, json!({"username": "x"})).await;
        assert_eq!(
            (status, code(&text)),
            (StatusCode::BAD_REQUEST, json!("no_text"))
        );
        let (status, _, text) = hook_post(&server, &url, "application/json", "{nope").await;
        assert_eq!(
            (status, code(&text)),
            (StatusCode::BAD_REQUEST, json!("invalid_payload"))
        );
        let (status, _, text) = hook_post(
            &server,
            &url,
            "application/x-www-form-urlencoded",
            "text=hi",
        )
        .await;
        assert_eq!(
            (status, code(&text)),
            (StatusCode::BAD_REQUEST, json!("invalid_payload"))
        );
        let long = "x".repeat(conclave_domain::validate::MAX_MESSAGE_BYTES + 1);
        let (status, text) = hook_json(&server, &url, json!({"text": long})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        let huge = json!({"text": "y".repeat(70 * 1024)}).to_string();
        let (status, _, text) = hook_post(&server, &url, "application/json", huge).await;
        assert_eq!(
            (status, code(&text)),
            (StatusCode::PAYLOAD_TOO_LARGE, json!("payload_too_large"))
        );

        // A hook whose channel was archived since posts nothing.
        let channel_path = format!("/api/v1/channels/{channel_id}");
        server
            .ok(
                "PATCH",
                &channel_path,
                &alice,
                Some(json!({"archived": true})),
            )
            .await;
        let (status, text) = hook_json(&server, &url, json!({"text": "archived"})).await;
        assert_eq!(
            (status, code(&text)),
            (StatusCode::BAD_REQUEST, json!("invalid_request")),
            "{backend:?}"
        );
        server
            .ok(
                "PATCH",
                &channel_path,
                &alice,
                Some(json!({"archived": false})),
            )
            .await;

        // Unknown and revoked tokens look the same.
        let (status, text) = hook_json(&server, "/hooks/not-a-token", json!({"text": "x"})).await;
        assert_eq!(
            (status, code(&text)),
            (StatusCode::NOT_FOUND, json!("invalid_token"))
        );
        server
            .ok(
                "DELETE",
                &format!("/api/v1/webhooks/{}", created["id"]),
                &alice,
                None,
            )
            .await;
        let (status, revoked) = hook_json(&server, &url, json!({"text": "x"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(revoked, text, "no hint whether the token was revoked");
    }
}

/// What Slack's own clients show of a payload is what is archived: text
/// beside attachments (Alertmanager, Grafana), fields, and blocks that
/// have no `text` at all; `text` is only the fallback once blocks show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_keep_everything_slack_shows() {
    for backend in backends() {
        let server = start(backend, |config| config.limits.webhook_burst = 1000.0).await;
        let alice = server.person("fidelity_alice", Role::Member).await;
        let channel_id = channel_with(&server, &alice, "alerts", &[]).await;
        let created = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{channel_id}/webhooks"),
                &alice,
                Some(json!({"name": "Alertmanager"})),
            )
            .await;
        let url = created["url"].as_str().unwrap().to_string();

        let cases = [
            (
                json!({"text": "1 alert firing", "attachments": [{
                    "color": "danger", "fallback": "[FIRING:1] HighCPU",
                    "title": "HighCPU", "title_link": "https://am.example/#/alerts",
                    "text": "CPU over 90%",
                    "fields": [{"title": "severity", "value": "critical", "short": true}],
                    "footer": "alertmanager"}]}),
                "1 alert firing\n[HighCPU](https://am.example/#/alerts)\nCPU over 90%\n\
                 severity: critical\nalertmanager",
            ),
            (
                json!({"text": "notification only", "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": "Deploy"}},
                    {"type": "context", "elements": [{"type": "mrkdwn", "text": "by ci"}]}]}),
                "**Deploy**\nby ci",
            ),
            (
                json!({"blocks": [{"type": "rich_text", "elements": [
                    {"type": "rich_text_section", "elements": [
                        {"type": "text", "text": "Steps:"}]},
                    {"type": "rich_text_list", "style": "bullet", "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "drain"}]}]}]}]}),
                "Steps:\n- drain",
            ),
            (
                json!({"blocks": [{"type": "image", "image_url": "https://x/p99.png", "alt_text": "p99"}]}),
                "[p99](https://x/p99.png)",
            ),
            (
                json!({"attachments": [{"blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "in an attachment"}}]}]}),
                "in an attachment",
            ),
        ];
        for (payload, expected) in cases {
            let (status, text) = hook_json(&server, &url, payload.clone()).await;
            assert_eq!(status, StatusCode::OK, "{backend:?} {payload}: {text}");
            assert_eq!(
                latest_text(&server, channel_id, &alice).await["text"],
                expected,
                "{backend:?} {payload}"
            );
        }

        // Blocks that show nothing, with no text, are still refused; and a
        // rendering over the message limit is refused, never cut.
        let (status, text) = hook_json(
            &server,
            &url,
            json!({"blocks": [{"type": "divider"}], "attachments": [{"color": "good"}]}),
        )
        .await;
        assert_eq!(
            (status, code(&text)),
            (StatusCode::BAD_REQUEST, json!("no_text"))
        );
        let half = "z".repeat(conclave_domain::validate::MAX_MESSAGE_BYTES / 2);
        let (status, text) = hook_json(
            &server,
            &url,
            json!({"text": half, "attachments": [{"text": half}]}),
        )
        .await;
        assert_eq!(
            (status, code(&text)),
            (StatusCode::BAD_REQUEST, json!("validation_failed"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hook_is_rate_limited_with_retry_after() {
    for backend in backends() {
        let server = start(backend, |config| {
            config.limits.webhook_burst = 3.0;
            config.limits.webhook_posts_per_second = 0.1;
        })
        .await;
        let alice = server.person("limit_alice", Role::Member).await;
        let channel_id = channel_with(&server, &alice, "busy", &[]).await;
        let hooks = format!("/api/v1/channels/{channel_id}/webhooks");
        let first = server
            .ok("POST", &hooks, &alice, Some(json!({"name": "one"})))
            .await;
        let second = server
            .ok("POST", &hooks, &alice, Some(json!({"name": "two"})))
            .await;
        let url = first["url"].as_str().unwrap();
        for n in 0..3 {
            let (status, text) = hook_json(&server, url, json!({"text": format!("n{n}")})).await;
            assert_eq!(status, StatusCode::OK, "{backend:?} {text}");
        }
        let (status, retry_after, text) = hook_post(
            &server,
            url,
            "application/json",
            json!({"text": "too many"}).to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{text}");
        assert_eq!(code(&text), "rate_limited");
        let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
        assert!((1..=10).contains(&seconds), "{seconds}");
        // Another hook has its own bucket.
        let (status, _) = hook_json(
            &server,
            second["url"].as_str().unwrap(),
            json!({"text": "other"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
}

/// Skips the frames a fresh socket sends before live events.
async fn next_event_or_caught_up(socket: &mut super::Socket) {
    let frame = super::next_frame(socket).await.expect("caught_up");
    assert_eq!(frame["type"], "caught_up");
}
