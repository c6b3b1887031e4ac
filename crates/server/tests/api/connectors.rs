//! Server tests for the connectors feature; the harness (start, person, call, socket) is in main.rs.
//!
//! The WhatsApp Cloud API connector over real HTTP: Meta's webhook handshake,
//! signed and unsigned deliveries of every message type, idempotent
//! redelivery, and a stand-in for Meta's Graph API (an axum server speaking
//! its JSON for media download, multipart media upload and send-message,
//! recording what it got) for
//! the end-to-end story: a customer writes, an agent answers, the reply
//! reaches "Meta", and delivery statuses come back.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use conclave_server::config::ServerConfig;
use conclave_server::whatsapp::{WhatsAppNumber, signature};
use serde_json::{Value, json};

use super::{Backend, Role, Server, StatusCode, backends, next_frame, start};

const SECRET: &str = "app-secret-for-tests";
const VERIFY: &str = "verify-token-for-tests";
const PHONE_NUMBER_ID: &str = "106540352242922";
const ACCESS_TOKEN: &str = "graph-access-token";
const CUSTOMER: &str = "4917012345678";
const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\n";

/// What the stand-in for the Graph API received.
#[derive(Default)]
struct Recorded {
    sends: Vec<(String, Option<String>, Value)>,
    media_requests: Vec<(String, Option<String>)>,
    /// Media uploads (`POST /{phone-number-id}/media`), as parsed.
    uploads: Vec<MediaUpload>,
    /// Send requests to answer with a 500 before succeeding.
    failures_left: usize,
}

pub(super) struct GraphStandIn {
    pub(super) base: String,
    recorded: Arc<Mutex<Recorded>>,
}

/// One media upload as the stand-in parsed its `multipart/form-data`.
#[derive(Debug, Clone)]
pub(super) struct MediaUpload {
    pub(super) phone_number_id: String,
    pub(super) authorization: Option<String>,
    /// The `messaging_product` field.
    pub(super) messaging_product: Option<String>,
    /// The `type` field (the MIME type).
    pub(super) mime_type: Option<String>,
    /// The `file` part's filename and Content-Type.
    pub(super) filename: Option<String>,
    pub(super) file_content_type: Option<String>,
    pub(super) bytes: Vec<u8>,
    /// The media id the stand-in answered.
    pub(super) media_id: String,
}

impl GraphStandIn {
    /// The send-message bodies received so far, in order.
    pub(super) fn sent_bodies(&self) -> Vec<Value> {
        let recorded = self.recorded.lock().unwrap();
        recorded
            .sends
            .iter()
            .map(|(_, _, body)| body.clone())
            .collect()
    }

    /// The media uploads received so far, in order.
    pub(super) fn uploads(&self) -> Vec<MediaUpload> {
        self.recorded.lock().unwrap().uploads.clone()
    }
}

/// The parts of a `multipart/form-data` body (RFC 7578): name, filename,
/// Content-Type and bytes of each.
type FormPart = (String, Option<String>, Option<String>, Vec<u8>);

fn parse_form_data(content_type: &str, body: &[u8]) -> Option<Vec<FormPart>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|parameter| parameter.strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let find = |haystack: &[u8], needle: &[u8]| {
        haystack
            .windows(needle.len())
            .position(|window| window == needle)
    };
    let mut rest = &body[find(body, &delimiter)? + delimiter.len()..];
    let mut parts = Vec::new();
    while !rest.starts_with(b"--") {
        rest = rest.strip_prefix(b"\r\n")?;
        let header_end = find(rest, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&rest[..header_end]).ok()?;
        let content = &rest[header_end + 4..];
        let end = find(content, &[b"\r\n".as_slice(), &delimiter].concat())?;
        let (mut name, mut filename, mut part_type) = (None, None, None);
        for line in headers.split("\r\n") {
            let (header, value) = line.split_once(':')?;
            if header.eq_ignore_ascii_case("content-disposition") {
                for parameter in value.split(';').map(str::trim) {
                    if let Some(value) = parameter.strip_prefix("name=") {
                        name = Some(value.trim_matches('"').to_string());
                    } else if let Some(value) = parameter.strip_prefix("filename=") {
                        filename = Some(value.trim_matches('"').to_string());
                    }
                }
            } else if header.eq_ignore_ascii_case("content-type") {
                part_type = Some(value.trim().to_string());
            }
        }
        parts.push((name?, filename, part_type, content[..end].to_vec()));
        rest = &content[end + 2 + delimiter.len()..];
    }
    Some(parts)
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

/// Meta's Graph API as far as the connector uses it, on 127.0.0.1:0.
pub(super) async fn graph_stand_in(failures: usize) -> GraphStandIn {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    graph_stand_in_on(listener, failures)
}

/// The stand-in, on a listener of the caller's.
pub(super) fn graph_stand_in_on(
    listener: tokio::net::TcpListener,
    failures: usize,
) -> GraphStandIn {
    let recorded = Arc::new(Mutex::new(Recorded {
        failures_left: failures,
        ..Recorded::default()
    }));
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route(
            "/v21.0/{id}",
            get(move |State(recorded): State<Arc<Mutex<Recorded>>>, Path(id): Path<String>, headers: HeaderMap| async move {
                recorded.lock().unwrap().media_requests.push((id.clone(), bearer(&headers)));
                if bearer(&headers).as_deref() != Some(&format!("Bearer {ACCESS_TOKEN}")) {
                    return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": {"message": "Invalid OAuth access token", "code": 190}})));
                }
                if id == "media-gone" {
                    return (StatusCode::NOT_FOUND, axum::Json(json!({"error": {"message": "Unsupported get request", "code": 100}})));
                }
                let (mime, size) = if id.starts_with("doc") { ("application/pdf", PDF.len()) } else { ("image/png", PNG.len()) };
                (
                    StatusCode::OK,
                    axum::Json(json!({
                        "messaging_product": "whatsapp",
                        "url": format!("http://{address}/download/{id}"),
                        "mime_type": mime,
                        "sha256": "ignored",
                        "file_size": size,
                        "id": id,
                    })),
                )
            }),
        )
        .route(
            "/download/{id}",
            get(|Path(id): Path<String>, headers: HeaderMap| async move {
                if bearer(&headers).as_deref() != Some(&format!("Bearer {ACCESS_TOKEN}")) {
                    return (StatusCode::UNAUTHORIZED, Vec::new());
                }
                (StatusCode::OK, if id.starts_with("doc") { PDF.to_vec() } else { PNG.to_vec() })
            }),
        )
        .route(
            "/v21.0/{phone_number_id}/media",
            post(|State(recorded): State<Arc<Mutex<Recorded>>>, Path(phone_number_id): Path<String>, headers: HeaderMap, body: axum::body::Bytes| async move {
                let content_type = headers.get("content-type").and_then(|value| value.to_str().ok()).unwrap_or_default().to_string();
                let Some(parts) = parse_form_data(&content_type, &body).filter(|_| content_type.starts_with("multipart/form-data")) else {
                    return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": {"message": "(#100) Invalid parameter", "code": 100}})));
                };
                let field = |name: &str| parts.iter().find(|part| part.0 == name);
                let text = |name: &str| field(name).map(|part| String::from_utf8_lossy(&part.3).into_owned());
                let Some(file) = field("file") else {
                    return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": {"message": "(#100) The parameter file is required", "code": 100}})));
                };
                let mut recorded = recorded.lock().unwrap();
                let media_id = format!("{}", 900_000 + recorded.uploads.len());
                recorded.uploads.push(MediaUpload {
                    phone_number_id,
                    authorization: bearer(&headers),
                    messaging_product: text("messaging_product"),
                    mime_type: text("type"),
                    filename: file.1.clone(),
                    file_content_type: file.2.clone(),
                    bytes: file.3.clone(),
                    media_id: media_id.clone(),
                });
                (StatusCode::OK, axum::Json(json!({"id": media_id})))
            })
            .layer(axum::extract::DefaultBodyLimit::max(128 * 1024 * 1024)),
        )
        .route(
            "/v21.0/{phone_number_id}/messages",
            post(|State(recorded): State<Arc<Mutex<Recorded>>>, Path(phone_number_id): Path<String>, headers: HeaderMap, axum::Json(body): axum::Json<Value>| async move {
                let mut recorded = recorded.lock().unwrap();
                recorded.sends.push((phone_number_id, bearer(&headers), body.clone()));
                if recorded.failures_left > 0 {
                    recorded.failures_left -= 1;
                    return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"error": {"message": "An unknown error occurred", "code": 1}})));
                }
                let n = recorded.sends.len();
                (
                    StatusCode::OK,
                    axum::Json(json!({
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                        "messages": [{"id": format!("wamid.OUT{n}")}],
                    })),
                )
            }),
        )
        .with_state(Arc::clone(&recorded));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    GraphStandIn {
        base: format!("http://{address}/v21.0"),
        recorded,
    }
}

pub(super) fn configure(config: &mut ServerConfig, graph_base: &str) {
    config.whatsapp.verify_token = VERIFY.into();
    config.whatsapp.app_secret = SECRET.into();
    config.whatsapp.access_token = ACCESS_TOKEN.into();
    config.whatsapp.graph_api_base = graph_base.into();
    config.whatsapp.retry_base_ms = 10;
    config.whatsapp.numbers = vec![WhatsAppNumber {
        phone_number_id: PHONE_NUMBER_ID.into(),
        staff: vec!["agent@example.com".into()],
    }];
}

pub(super) fn now_seconds() -> i64 {
    conclave_server::now_millis() / 1000
}

/// Meta's notification envelope around messages and statuses.
fn notification(messages: Vec<Value>, statuses: Vec<Value>) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                    "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": CUSTOMER}],
                    "messages": messages,
                    "statuses": statuses,
                }
            }]
        }]
    })
}

fn inbound(id: &str, kind: &str, content: Value, timestamp: i64) -> Value {
    let mut message =
        json!({"from": CUSTOMER, "id": id, "timestamp": timestamp.to_string(), "type": kind});
    if kind != "unsupported" {
        message[kind] = content;
    }
    message
}

fn status_report(wamid: &str, status: &str) -> Value {
    json!({
        "id": wamid, "status": status, "timestamp": now_seconds().to_string(), "recipient_id": CUSTOMER,
        "conversation": {"id": "conv", "origin": {"type": "service"}},
        "pricing": {"billable": true, "pricing_model": "CBP", "category": "service"},
    })
}

async fn deliver(
    server: &Server,
    body: &Value,
    signature_header: Option<String>,
) -> (StatusCode, Value) {
    let body = body.to_string();
    let mut request = server
        .http
        .post(server.url("/connectors/whatsapp/webhook"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(header) = signature_header {
        request = request.header("x-hub-signature-256", header);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Delivers `body` signed with the app secret, whatever the answer.
async fn deliver_validly_signed(server: &Server, body: &Value) -> (StatusCode, Value) {
    let header = signature::sign(SECRET, body.to_string().as_bytes());
    deliver(server, body, Some(header)).await
}

async fn deliver_signed(server: &Server, body: &Value) -> Value {
    let (status, answer) = deliver_validly_signed(server, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// Delivers, signed, one text message from the customer.
pub(super) async fn deliver_text(
    server: &Server,
    wamid: &str,
    text: &str,
    timestamp: i64,
) -> Value {
    let message = inbound(wamid, "text", json!({"body": text}), timestamp);
    deliver_signed(server, &notification(vec![message], vec![])).await
}

/// Delivers, signed, Meta's report that the message `wamid` is now `status`.
async fn deliver_status(server: &Server, wamid: &str, status: &str) -> Value {
    deliver_signed(
        server,
        &notification(vec![], vec![status_report(wamid, status)]),
    )
    .await
}

/// The delivery record of the reply `message_id` among the conversation's
/// deliveries, as `who` sees them.
async fn delivery_of(
    server: &Server,
    who: &super::Person,
    channel_id: i64,
    message_id: i64,
) -> Value {
    let deliveries = server
        .ok(
            "GET",
            &format!("/api/v1/whatsapp/conversations/{channel_id}/deliveries"),
            who,
            None,
        )
        .await;
    deliveries
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["message_id"] == message_id)
        .unwrap_or_else(|| panic!("no delivery of message {message_id}: {deliveries}"))
        .clone()
}

/// Sends `body` (a text or a template) to the customer of the conversation
/// as `who`; answers the status and the body of the answer.
pub(super) async fn reply_in(
    server: &Server,
    who: &super::Person,
    channel_id: i64,
    body: Value,
) -> (StatusCode, Value) {
    server
        .call(
            "POST",
            &format!("/api/v1/whatsapp/conversations/{channel_id}/messages"),
            Some(&who.token),
            Some(body),
        )
        .await
}

/// The messages of the conversation's channel, as `who` reads them.
async fn channel_messages(server: &Server, who: &super::Person, channel_id: i64) -> Vec<Value> {
    let page = server
        .ok(
            "GET",
            &format!("/api/v1/channels/{channel_id}/messages"),
            who,
            None,
        )
        .await;
    page["messages"].as_array().unwrap().clone()
}

/// The texts of `messages`, in order.
fn texts_of(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect()
}

/// One message as `who` reads it through the API.
async fn message_as_read_by(
    server: &Server,
    who: &super::Person,
    message_id: impl std::fmt::Display,
) -> Value {
    server
        .ok("GET", &format!("/api/v1/messages/{message_id}"), who, None)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_handshake_answers_only_the_configured_token() {
    let server = start(Backend::Sqlite, |config| {
        configure(config, "http://127.0.0.1:9/v21.0")
    })
    .await;
    let url = |mode: &str, token: &str| {
        server.url(&format!("/connectors/whatsapp/webhook?hub.mode={mode}&hub.verify_token={token}&hub.challenge=1158201444"))
    };
    let response = server
        .http
        .get(url("subscribe", VERIFY))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(response.text().await.unwrap(), "1158201444");
    for (mode, token) in [
        ("subscribe", "wrong"),
        ("unsubscribe", VERIFY),
        ("subscribe", ""),
    ] {
        let response = server.http.get(url(mode, token)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{mode} {token}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "forbidden");
    }
    let (status, body) = server
        .call("GET", "/connectors/whatsapp/webhook", None, None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );

    // Without secrets configured the connector is off.
    let unconfigured = start(Backend::Sqlite, |_| {}).await;
    let (status, body) = unconfigured
        .call(
            "GET",
            "/connectors/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=&hub.challenge=1",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_and_wrongly_signed_deliveries_are_refused_and_store_nothing() {
    let server = start(Backend::Sqlite, |config| {
        configure(config, "http://127.0.0.1:9/v21.0")
    })
    .await;
    server.person("agent", Role::Member).await;
    let head = server.state.store.head_position().await.unwrap();
    let body = notification(
        vec![inbound(
            "wamid.UNSIGNED",
            "text",
            json!({"body": "hello"}),
            now_seconds(),
        )],
        vec![],
    );
    let text = body.to_string();
    let forged = format!("sha256={}", "0".repeat(64));
    let other_secret = signature::sign("not-the-secret", text.as_bytes());
    let tampered = signature::sign(SECRET, format!("{text} ").as_bytes());
    let bare_hex = signature::sign(SECRET, text.as_bytes())
        .trim_start_matches("sha256=")
        .to_string();
    for header in [
        None,
        Some(forged),
        Some(other_secret),
        Some(tampered),
        Some(bare_hex),
        Some("sha256=not-hex".to_string()),
    ] {
        let (status, answer) = deliver(&server, &body, header.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header:?}");
        assert_eq!(answer["code"], "invalid_signature");
    }
    assert_eq!(
        server.state.store.head_position().await.unwrap(),
        head,
        "no event was written"
    );
    assert!(
        server
            .state
            .store
            .whatsapp_conversation(PHONE_NUMBER_ID, CUSTOMER)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        server
            .state
            .store
            .whatsapp_message_by_wamid("wamid.UNSIGNED")
            .await
            .unwrap()
            .is_none()
    );

    // Bodies above 1 MiB are refused even when signed.
    let huge = json!({"object": "whatsapp_business_account", "padding": "x".repeat(1024 * 1024)});
    let (status, answer) = deliver_validly_signed(&server, &huge).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    // A signed body that is not a notification is a bad request.
    let (status, answer) = deliver_validly_signed(&server, &json!([1, 2])).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_of_every_type_are_archived_once() {
    for backend in backends() {
        let graph = graph_stand_in(0).await;
        let server = start(backend, |config| configure(config, &graph.base)).await;
        let agent = server.person("agent", Role::Member).await;
        let outsider = server.person("outsider", Role::Member).await;
        let at = now_seconds() - 60;
        let messages = vec![
            inbound(
                "wamid.TEXT",
                "text",
                json!({"body": "Hi, where is order #1234?"}),
                at,
            ),
            inbound(
                "wamid.IMAGE",
                "image",
                json!({"id": "img-1", "mime_type": "image/png", "sha256": "x", "caption": "the damaged box"}),
                at + 1,
            ),
            inbound(
                "wamid.DOC",
                "document",
                json!({"id": "doc-1", "mime_type": "application/pdf", "sha256": "x", "filename": "invoice.pdf"}),
                at + 2,
            ),
            inbound(
                "wamid.AUDIO",
                "audio",
                json!({"id": "img-audio", "mime_type": "audio/ogg; codecs=opus", "voice": true}),
                at + 3,
            ),
            inbound(
                "wamid.VIDEO",
                "video",
                json!({"id": "img-video", "mime_type": "video/mp4"}),
                at + 4,
            ),
            inbound(
                "wamid.GONE",
                "image",
                json!({"id": "media-gone", "mime_type": "image/jpeg"}),
                at + 5,
            ),
            inbound(
                "wamid.LOCATION",
                "location",
                json!({"latitude": 52.52, "longitude": 13.405, "name": "Warehouse", "address": "Hafenstr. 1"}),
                at + 6,
            ),
            inbound(
                "wamid.CONTACTS",
                "contacts",
                json!([{"name": {"formatted_name": "Ben Stone", "first_name": "Ben"}, "phones": [{"phone": "+1 415 555 0100", "type": "CELL"}]}]),
                at + 7,
            ),
            inbound(
                "wamid.BUTTON_REPLY",
                "interactive",
                json!({"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes, refund"}}),
                at + 8,
            ),
            inbound(
                "wamid.LIST_REPLY",
                "interactive",
                json!({"type": "list_reply", "list_reply": {"id": "tue", "title": "Tuesday", "description": "10:00–12:00"}}),
                at + 9,
            ),
            inbound(
                "wamid.BUTTON",
                "button",
                json!({"text": "Stop promotions", "payload": "STOP"}),
                at + 10,
            ),
            inbound("wamid.UNSUPPORTED", "unsupported", Value::Null, at + 11),
        ];
        let body = notification(messages, vec![]);
        let receipt = deliver_signed(&server, &body).await;
        assert_eq!(
            (receipt["messages"].as_u64(), receipt["duplicates"].as_u64()),
            (Some(12), Some(0)),
            "{receipt}"
        );

        let conversations = server
            .ok("GET", "/api/v1/whatsapp/conversations", &agent, None)
            .await;
        let conversations = conversations.as_array().unwrap();
        assert_eq!(
            conversations.len(),
            1,
            "one conversation per customer and business number"
        );
        let conversation = &conversations[0];
        assert_eq!(conversation["customer"]["name"], "Kerry Fisher");
        assert_eq!(conversation["customer"]["phone"], format!("+{CUSTOMER}"));
        assert_eq!(conversation["window_open"], true);
        assert_eq!(conversation["assignee_id"], Value::Null);
        let channel_id = conversation["channel_id"].as_i64().unwrap();
        let customer_id = conversation["customer"]["user_id"].as_i64().unwrap();
        assert!(
            conversation["summary"]["member_ids"]
                .as_array()
                .unwrap()
                .contains(&json!(agent.id)),
            "assigned staff are members"
        );
        let (status, _) = server
            .call(
                "GET",
                "/api/v1/whatsapp/conversations",
                Some(&outsider.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            server
                .ok("GET", "/api/v1/whatsapp/conversations", &outsider, None)
                .await
                .as_array()
                .unwrap()
                .is_empty()
        );
        let (status, _) = server
            .call(
                "GET",
                &format!("/api/v1/channels/{channel_id}/messages"),
                Some(&outsider.token),
                None,
            )
            .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "other staff do not read customer conversations"
        );

        let history = channel_messages(&server, &agent, channel_id).await;
        assert_eq!(
            texts_of(&history),
            vec![
                "Hi, where is order #1234?",
                "the damaged box",
                "",
                "",
                "",
                "[image could not be fetched: the Graph API answered 404: Unsupported get request (code 100)]",
                "📍 Warehouse — Hafenstr. 1 — 52.52, 13.405",
                "👤 Ben Stone: +1 415 555 0100",
                "Yes, refund",
                "Tuesday (10:00–12:00)",
                "Stop promotions",
                "[WhatsApp unsupported message]",
            ]
        );
        assert!(history.iter().all(|m| m["author_id"] == customer_id));
        assert_eq!(history[0]["created_at"], at * 1000, "the customer's time");
        let image = &history[1]["attachments"][0];
        assert_eq!(image["content_type"], "image/png");
        let bytes = server
            .http
            .get(server.url(&format!("/api/v1/files/{}", image["id"])))
            .bearer_auth(&agent.token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(
            &bytes[..],
            PNG,
            "media are fetched from the Graph API and archived"
        );
        assert_eq!(history[2]["attachments"][0]["name"], "invoice.pdf");
        assert_eq!(
            history[2]["attachments"][0]["content_type"],
            "application/pdf"
        );
        assert_eq!(history[3]["attachments"].as_array().unwrap().len(), 1);
        let media_requests = graph.recorded.lock().unwrap().media_requests.clone();
        assert!(
            media_requests
                .iter()
                .all(|(_, token)| token.as_deref()
                    == Some(format!("Bearer {ACCESS_TOKEN}").as_str()))
        );

        // A reaction becomes a reaction; a new one replaces it.
        let react = |id: &str, emoji: &str| {
            inbound(
                id,
                "reaction",
                json!({"message_id": "wamid.TEXT", "emoji": emoji}),
                at + 20,
            )
        };
        for (wamid, emoji, reactions) in [
            (
                "wamid.R1",
                "👍",
                json!([{"emoji": "👍", "user_ids": [customer_id]}]),
            ),
            (
                "wamid.R2",
                "❤️",
                json!([{"emoji": "❤️", "user_ids": [customer_id]}]),
            ),
            ("wamid.R3", "", json!([])),
        ] {
            deliver_signed(&server, &notification(vec![react(wamid, emoji)], vec![])).await;
            let first = message_as_read_by(&server, &agent, &history[0]["id"]).await;
            assert_eq!(first["reactions"], reactions, "after {wamid}");
        }

        // Meta redelivers: nothing new is stored.
        let head = server.state.store.head_position().await.unwrap();
        let receipt = deliver_signed(&server, &body).await;
        assert_eq!(
            (receipt["messages"].as_u64(), receipt["duplicates"].as_u64()),
            (Some(0), Some(12)),
            "{receipt}"
        );
        assert_eq!(server.state.store.head_position().await.unwrap(), head);
        let again = channel_messages(&server, &agent, channel_id).await;
        assert_eq!(again.len(), 12);
        let deliveries = server
            .ok(
                "GET",
                &format!("/api/v1/whatsapp/conversations/{channel_id}/deliveries"),
                &agent,
                None,
            )
            .await;
        assert_eq!(deliveries.as_array().unwrap().len(), 12);
        assert!(
            deliveries
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["direction"] == "inbound" && d["status"] == "received")
        );
        assert_eq!(
            server
                .state
                .store
                .verify_journal()
                .await
                .unwrap()
                .map(|_| ()),
            Ok(())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reply_reaches_meta_and_delivery_statuses_come_back() {
    for backend in backends() {
        // The first send attempt fails with a 500 and is retried.
        let graph = graph_stand_in(1).await;
        let server = start(backend, |config| configure(config, &graph.base)).await;
        let agent = server.person("agent", Role::Member).await;
        deliver_text(
            &server,
            "wamid.Q1",
            "Can I change my delivery address?",
            now_seconds(),
        )
        .await;
        let conversations = server
            .ok(
                "GET",
                "/api/v1/whatsapp/conversations?assignee=none",
                &agent,
                None,
            )
            .await;
        let channel_id = conversations[0]["channel_id"].as_i64().unwrap();
        let claimed = server
            .ok(
                "POST",
                &format!("/api/v1/whatsapp/conversations/{channel_id}/claim"),
                &agent,
                None,
            )
            .await;
        assert_eq!(claimed["assignee_id"], agent.id);
        assert_eq!(
            server
                .ok(
                    "GET",
                    "/api/v1/whatsapp/conversations?assignee=me",
                    &agent,
                    None
                )
                .await
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let (mut socket, _) = server.socket(&agent, None).await;

        let (status, reply) = reply_in(
            &server,
            &agent,
            channel_id,
            json!({"text": "Yes — send me the new address.", "client_id": "reply-1"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        assert_eq!(reply["message"]["author_id"], agent.id);
        assert_eq!(reply["delivery"]["status"], "queued");
        let message_id = reply["message"]["id"].as_i64().unwrap();

        let sent = wait_for_status(&mut socket, message_id, "sent").await;
        assert_eq!(sent["channel_id"], channel_id);
        let sends = graph.recorded.lock().unwrap().sends.clone();
        assert_eq!(sends.len(), 2, "one failure, one retry");
        for (phone_number_id, token, body) in &sends {
            assert_eq!(phone_number_id, PHONE_NUMBER_ID);
            assert_eq!(
                token.as_deref(),
                Some(format!("Bearer {ACCESS_TOKEN}").as_str())
            );
            assert_eq!(
                body,
                &json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER, "type": "text", "text": {"preview_url": false, "body": "Yes — send me the new address."}})
            );
        }
        let outbound = delivery_of(&server, &agent, channel_id, message_id).await;
        assert_eq!(
            (
                outbound["status"].as_str(),
                outbound["wamid"].as_str(),
                outbound["attempts"].as_i64()
            ),
            (Some("sent"), Some("wamid.OUT2"), Some(2))
        );

        // A retried request with the same client_id sends nothing twice.
        let (status, again) = reply_in(
            &server,
            &agent,
            channel_id,
            json!({"text": "Yes — send me the new address.", "client_id": "reply-1"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(again["message"]["id"], message_id);
        assert_eq!(again["delivery"]["status"], "sent");

        // Meta reports delivery, then reading; a late "delivered" changes nothing.
        deliver_status(&server, "wamid.OUT2", "delivered").await;
        wait_for_status(&mut socket, message_id, "delivered").await;
        deliver_status(&server, "wamid.OUT2", "read").await;
        wait_for_status(&mut socket, message_id, "read").await;
        deliver_status(&server, "wamid.OUT2", "delivered").await;
        let record = record_of(&server, message_id).await;
        assert_eq!(record.status.as_str(), "read");

        // The reply is an ordinary archive message.
        let history = channel_messages(&server, &agent, channel_id).await;
        assert_eq!(
            texts_of(&history),
            vec![
                "Can I change my delivery address?",
                "Yes — send me the new address."
            ]
        );
        drop(socket);
        drop(server);
    }
}

/// Waits for the `whatsapp_status` frame of `message_id` with `status`.
async fn wait_for_status(socket: &mut super::Socket, message_id: i64, status: &str) -> Value {
    loop {
        let frame = next_frame(socket)
            .await
            .unwrap_or_else(|| panic!("no {status} status frame for message {message_id}"));
        if frame["type"] == "whatsapp_status"
            && frame["message_id"] == message_id
            && frame["status"] == status
        {
            return frame;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_service_window_only_templates_go_out() {
    let graph = graph_stand_in(0).await;
    let server = start(Backend::Sqlite, |config| configure(config, &graph.base)).await;
    let agent = server.person("agent", Role::Member).await;
    let stranger = server.person("stranger", Role::Member).await;
    let two_days_ago = now_seconds() - 2 * 24 * 3600;
    deliver_text(&server, "wamid.OLD", "Thanks!", two_days_ago).await;
    let conversations = server
        .ok("GET", "/api/v1/whatsapp/conversations", &agent, None)
        .await;
    let channel_id = conversations[0]["channel_id"].as_i64().unwrap();
    assert_eq!(conversations[0]["window_open"], false);

    let (status, refused) = reply_in(
        &server,
        &agent,
        channel_id,
        json!({"text": "Are you still there?"}),
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("whatsapp_window_closed")),
        "{refused}"
    );
    let (status, _) = reply_in(&server, &stranger, channel_id, json!({"text": "hi"})).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "only staff of the number may answer"
    );
    for bad in [
        json!({}),
        json!({"text": "a", "template": {"name": "x", "language": "en"}}),
        json!({"template": {"name": "Bad Name", "language": "en_US"}}),
        json!({"template": {"name": "order_update", "language": "en_US", "components": [{"type": "body", "parameters": [{"type": "text", "text": "#1234"}, {"type": "text", "text": ""}]}]}}),
        json!({"template": {"name": "order_update", "language": "en_US", "components": [{"type": "body", "parameters": [{"type": "text", "text": "two\nlines"}]}]}}),
        json!({"template": {"name": "order_update", "language": "en_US", "components": [{"type": "body", "parameters": "#1234"}]}}),
    ] {
        let (status, body) = reply_in(&server, &agent, channel_id, bad.clone()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{bad}"
        );
    }

    let template = json!({"name": "order_update", "language": "pt_BR", "components": [{"type": "body", "parameters": [{"type": "text", "text": "#1234"}, {"type": "text", "text": "terça-feira"}]}]});
    let (status, reply) =
        reply_in(&server, &agent, channel_id, json!({"template": template})).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(
        reply["message"]["text"],
        "[template order_update (pt_BR)] #1234 · terça-feira"
    );
    let message_id = reply["message"]["id"].as_i64().unwrap();
    wait_for_delivery(&server, message_id, "sent").await;
    let sends = graph.recorded.lock().unwrap().sends.clone();
    assert_eq!(sends.len(), 1, "the refused text never reached Meta");
    assert_eq!(
        sends[0].2,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER, "type": "template",
               "template": {"name": "order_update", "language": {"code": "pt_BR"}, "components": [{"type": "body", "parameters": [{"type": "text", "text": "#1234"}, {"type": "text", "text": "terça-feira"}]}]}})
    );

    // Meta reports a failure with its error.
    let mut failed = status_report("wamid.OUT1", "failed");
    failed["errors"] = json!([{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable", "error_data": {"details": "Receiver is incapable of receiving this message"}}]);
    deliver_signed(&server, &notification(vec![], vec![failed])).await;
    let outbound = delivery_of(&server, &agent, channel_id, message_id).await;
    assert_eq!(outbound["status"], "failed");
    assert_eq!(
        outbound["error"],
        "131026: Message undeliverable — Receiver is incapable of receiving this message"
    );
}

/// Polls the store until the reply's delivery status is `status`.
/// The WhatsApp side of a message, as the store has it.
async fn record_of(
    server: &Server,
    message_id: i64,
) -> conclave_domain::external::WhatsAppMessageRecord {
    server
        .state
        .store
        .whatsapp_message(message_id)
        .await
        .unwrap()
        .unwrap()
}

pub(super) async fn wait_for_delivery(server: &Server, message_id: i64, status: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let record = record_of(server, message_id).await;
        if record.status.as_str() == status {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "message {message_id} stayed {} instead of becoming {status}",
            record.status.as_str()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The conversation's channel, after the customer's first message.
pub(super) async fn first_conversation(server: &Server, who: &super::Person) -> i64 {
    let conversations = server
        .ok("GET", "/api/v1/whatsapp/conversations", who, None)
        .await;
    conversations[0]["channel_id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_queued_while_meta_is_unreachable_is_sent_once_after_a_restart() {
    for backend in backends() {
        // An address where nothing listens: the Graph API cannot be reached.
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let base = format!("http://{address}/v21.0");
        let tweak = |config: &mut ServerConfig| {
            configure(config, &base);
            // The server keeps trying as long as it runs.
            config.whatsapp.send_attempts = 10_000;
            config.whatsapp.retry_base_ms = 20;
        };
        let server = start(backend, tweak).await;
        let agent = server.person("agent", Role::Member).await;
        deliver_text(
            &server,
            "wamid.WAITING",
            "Is my parcel on its way?",
            now_seconds(),
        )
        .await;
        let channel_id = first_conversation(&server, &agent).await;
        let path = format!("/api/v1/whatsapp/conversations/{channel_id}/messages");
        let (status, reply) = reply_in(
            &server,
            &agent,
            channel_id,
            json!({"text": "It left the warehouse this morning."}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        assert_eq!(reply["delivery"]["status"], "queued");
        let message_id = reply["message"]["id"].as_i64().unwrap();
        // Let a few tries fail.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;

        let server = server.restart(backend, tweak).await;
        let record = record_of(&server, message_id).await;
        // The shutdown gave the reply back as queued; the new run may have
        // claimed it for sending already.
        assert!(
            matches!(record.status.as_str(), "queued" | "sending"),
            "a shutdown leaves the reply queued, not failed: {record:?}"
        );
        assert!(
            record.attempts >= 1,
            "the failed tries are counted: {record:?}"
        );
        assert!(
            record
                .error
                .as_deref()
                .is_some_and(|error| error.contains("could not be reached")),
            "{record:?}"
        );

        // Meta comes back on the same address; the restarted server sends
        // (the agent's session survived the restart too).
        let graph = graph_stand_in_on(tokio::net::TcpListener::bind(address).await.unwrap(), 0);
        wait_for_delivery(&server, message_id, "sent").await;
        let outbound = delivery_of(&server, &agent, channel_id, message_id).await;
        assert_eq!(
            (outbound["status"].as_str(), outbound["wamid"].as_str()),
            (Some("sent"), Some("wamid.OUT1"))
        );

        // A reply queued by the new run is sent by its own task only.
        let second = server
            .ok(
                "POST",
                &path,
                &agent,
                Some(json!({"text": "Tracking number follows."})),
            )
            .await;
        let second_id = second["message"]["id"].as_i64().unwrap();
        wait_for_delivery(&server, second_id, "sent").await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let sends = graph.recorded.lock().unwrap().sends.clone();
        let texts: Vec<&str> = sends
            .iter()
            .map(|(_, _, body)| body["text"]["body"].as_str().unwrap())
            .collect();
        assert_eq!(
            texts,
            vec![
                "It left the warehouse this morning.",
                "Tracking number follows."
            ],
            "each reply reaches Meta exactly once"
        );
        assert_eq!(
            sends[0].2,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER, "type": "text", "text": {"preview_url": false, "body": "It left the warehouse this morning."}})
        );
        assert_eq!(sends[0].0, PHONE_NUMBER_ID);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_leaves_a_live_send_alone_and_takes_over_a_dead_one() {
    for backend in backends() {
        // The first process cannot reach Meta and keeps trying.
        let unreachable = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let unreachable = format!("http://{unreachable}/v21.0");
        let first = start(backend, |config| {
            configure(config, &unreachable);
            config.whatsapp.send_attempts = 10_000;
            config.whatsapp.retry_base_ms = 20;
        })
        .await;
        let agent = first.person("agent", Role::Member).await;
        deliver_text(&first, "wamid.TWO-NODES", "Anyone there?", now_seconds()).await;
        let channel_id = first_conversation(&first, &agent).await;
        let reply = first
            .ok(
                "POST",
                &format!("/api/v1/whatsapp/conversations/{channel_id}/messages"),
                &agent,
                Some(json!({"text": "Yes, one moment."})),
            )
            .await;
        assert_eq!(reply["delivery"]["status"], "queued", "{reply}");
        let message_id = reply["message"]["id"].as_i64().unwrap();

        // A second node on the same database reaches Meta. Its resume scan
        // leaves the reply alone: the first node holds a live claim.
        let graph = graph_stand_in(0).await;
        let second = first
            .beside(backend, |config| configure(config, &graph.base))
            .await;
        assert_eq!(
            conclave_server::whatsapp::resume_queued(&second.state)
                .await
                .unwrap(),
            0
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(graph.recorded.lock().unwrap().sends.is_empty());
        let record = record_of(&second, message_id).await;
        assert_eq!(record.status.as_str(), "sending", "{record:?}");

        // The first node "dies": its claim is backdated past the lease.
        // Two scans race; the reply reaches Meta once.
        let lease = conclave_server::whatsapp::CLAIM_LEASE_MILLIS;
        second
            .state
            .store
            .update_whatsapp_delivery(conclave_domain::external::DeliveryUpdate {
                message_id,
                status: conclave_domain::external::DeliveryStatus::Sending,
                wamid: None,
                error: None,
                attempts: 0,
                at: conclave_server::now_millis() - lease - 1,
            })
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            conclave_server::whatsapp::resume_queued(&second.state),
            conclave_server::whatsapp::resume_queued(&second.state),
        );
        assert_eq!(a.unwrap() + b.unwrap(), 1, "one scan claims the reply");
        wait_for_delivery(&second, message_id, "sent").await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let sends = graph.recorded.lock().unwrap().sends.clone();
        assert_eq!(sends.len(), 1, "{sends:?}");
        assert_eq!(sends[0].2["text"]["body"], "Yes, one moment.");
        // The first node, still trying, finds its claim taken over at its
        // next try and stops, leaving the reply as the second recorded it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !first.state.connector.sends.is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the first node still sends a reply it lost"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let record = record_of(&first, message_id).await;
        assert_eq!(record.status.as_str(), "sent", "{record:?}");
        drop(second);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_reply_to_a_message_is_posted_in_its_thread() {
    for backend in backends() {
        let graph = graph_stand_in(0).await;
        let server = start(backend, |config| configure(config, &graph.base)).await;
        let agent = server.person("agent", Role::Member).await;
        let at = now_seconds() - 60;
        deliver_text(
            &server,
            "wamid.ASK",
            "Do you have the blue one in size 42?",
            at,
        )
        .await;
        let channel_id = first_conversation(&server, &agent).await;
        let reply = server
            .ok(
                "POST",
                &format!("/api/v1/whatsapp/conversations/{channel_id}/messages"),
                &agent,
                Some(json!({"text": "Yes, two are left."})),
            )
            .await;
        let staff_reply_id = reply["message"]["id"].as_i64().unwrap();
        wait_for_delivery(&server, staff_reply_id, "sent").await;
        let staff_wamid = record_of(&server, staff_reply_id).await.wamid.unwrap();

        // Meta's JSON for replies: `context` names the quoted message; its
        // `from` is the business number for a staff reply, the customer for
        // their own message. A forward has a context without an id.
        let quoting = |id: &str, body: &str, context: Value, offset: i64| {
            let mut message = inbound(id, "text", json!({"body": body}), at + offset);
            message["context"] = context;
            message
        };
        let receipt = deliver_signed(
            &server,
            &notification(
                vec![
                    quoting(
                        "wamid.TAKE",
                        "Great, I'll take one.",
                        json!({"from": "15550783881", "id": staff_wamid}),
                        10,
                    ),
                    quoting(
                        "wamid.ALSO",
                        "And in red?",
                        json!({"from": CUSTOMER, "id": "wamid.ASK"}),
                        11,
                    ),
                    quoting(
                        "wamid.UNKNOWN",
                        "About that old order…",
                        json!({"from": "15550783881", "id": "wamid.NEVER-ARCHIVED"}),
                        12,
                    ),
                    quoting(
                        "wamid.FORWARD",
                        "Look at this",
                        json!({"forwarded": true}),
                        13,
                    ),
                ],
                vec![],
            ),
        )
        .await;
        assert_eq!(receipt["messages"], 4, "{receipt}");

        let message_of = |wamid: &'static str| {
            let store = server.state.store.clone();
            async move {
                store
                    .whatsapp_message_by_wamid(wamid)
                    .await
                    .unwrap()
                    .unwrap()
                    .message_id
            }
        };
        let ask_id = message_of("wamid.ASK").await;
        let history = |query: String| {
            let server = &server;
            let agent = &agent;
            async move {
                let page = server
                    .ok(
                        "GET",
                        &format!("/api/v1/channels/{channel_id}/messages{query}"),
                        agent,
                        None,
                    )
                    .await;
                page["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| {
                        (
                            m["text"].as_str().unwrap().to_string(),
                            m["thread_id"].clone(),
                        )
                    })
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            history(String::new()).await,
            vec![
                (
                    "Do you have the blue one in size 42?".to_string(),
                    Value::Null
                ),
                ("Yes, two are left.".to_string(), Value::Null),
                ("About that old order…".to_string(), Value::Null),
                ("Look at this".to_string(), Value::Null),
            ],
            "replies to unknown messages and forwards stay in the conversation"
        );
        assert_eq!(
            history(format!("?thread={staff_reply_id}")).await,
            vec![
                ("Yes, two are left.".to_string(), Value::Null),
                ("Great, I'll take one.".to_string(), json!(staff_reply_id)),
            ],
            "a reply to the staff's message is in that message's thread"
        );
        assert_eq!(
            history(format!("?thread={ask_id}")).await,
            vec![
                (
                    "Do you have the blue one in size 42?".to_string(),
                    Value::Null
                ),
                ("And in red?".to_string(), json!(ask_id)),
            ],
            "a reply to the customer's own message is in its thread"
        );
        let root = message_as_read_by(&server, &agent, ask_id).await;
        assert_eq!(root["reply_count"], 1);

        // A reply quoting a thread reply joins the same thread.
        let take_id = message_of("wamid.TAKE").await;
        deliver_signed(
            &server,
            &notification(
                vec![quoting(
                    "wamid.WHEN",
                    "When can you ship it?",
                    json!({"from": CUSTOMER, "id": "wamid.TAKE"}),
                    20,
                )],
                vec![],
            ),
        )
        .await;
        let when = server
            .state
            .store
            .message_by_id(message_of("wamid.WHEN").await)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(when.thread_id, Some(staff_reply_id), "not {take_id}'s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_reply_in_a_thread_raises_the_unread_badge_until_read() {
    for backend in backends() {
        let graph = graph_stand_in(0).await;
        let server = start(backend, |config| configure(config, &graph.base)).await;
        let agent = server.person("agent", Role::Member).await;
        let at = now_seconds() - 60;
        deliver_text(&server, "wamid.FIRST", "My order arrived broken.", at).await;
        let channel_id = first_conversation(&server, &agent).await;
        let claimed = server
            .ok(
                "POST",
                &format!("/api/v1/whatsapp/conversations/{channel_id}/claim"),
                &agent,
                None,
            )
            .await;
        assert_eq!(claimed["assignee_id"], agent.id);
        let summary_path = format!("/api/v1/channels/{channel_id}");
        let read_path = format!("/api/v1/channels/{channel_id}/read");
        let counts = |summary: &Value| {
            (
                summary["unread_count"].as_i64().unwrap(),
                summary["last_message_id"].as_i64().unwrap(),
            )
        };
        // Marks the conversation read up to a message; the counts after.
        let read_up_to = async |message_id: i64| {
            server
                .ok(
                    "POST",
                    &read_path,
                    &agent,
                    Some(json!({"message_id": message_id})),
                )
                .await;
            counts(&server.ok("GET", &summary_path, &agent, None).await)
        };
        let first = server.ok("GET", &summary_path, &agent, None).await;
        let (unread, first_id) = counts(&first);
        assert_eq!(unread, 1, "{first}");
        assert_eq!(read_up_to(first_id).await, (0, first_id));

        // The customer answers their own message by quoting it: the reply is
        // threaded under it, and still raises the badge.
        let mut quoting = inbound(
            "wamid.QUOTING",
            "text",
            json!({"body": "Here is a photo of the box."}),
            at + 5,
        );
        quoting["context"] = json!({"from": CUSTOMER, "id": "wamid.FIRST"});
        deliver_signed(&server, &notification(vec![quoting], vec![])).await;
        let reply_id = server
            .state
            .store
            .whatsapp_message_by_wamid("wamid.QUOTING")
            .await
            .unwrap()
            .unwrap()
            .message_id;
        let reply = server
            .state
            .store
            .message_by_id(reply_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply.thread_id, Some(first_id), "the reply is threaded");
        let summary = server.ok("GET", &summary_path, &agent, None).await;
        assert_eq!(
            counts(&summary),
            (1, reply_id),
            "the customer's thread reply is unread and the newest message: {summary}"
        );
        let conversation = server
            .ok(
                "GET",
                &format!("/api/v1/whatsapp/conversations/{channel_id}"),
                &agent,
                None,
            )
            .await;
        assert_eq!(conversation["summary"]["unread_count"], 1, "{conversation}");
        let sidebar = server.ok("GET", "/api/v1/channels", &agent, None).await;
        let entry = sidebar
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["channel"]["id"] == channel_id)
            .unwrap();
        assert_eq!(entry["unread_count"], 1, "{entry}");

        // Reading up to the newest counted message clears the badge.
        assert_eq!(read_up_to(reply_id).await, (0, reply_id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_reassign_and_release_conversations_and_the_audit_log_says_so() {
    let graph = graph_stand_in(0).await;
    let server = start(Backend::Sqlite, |config| {
        configure(config, &graph.base);
        config.whatsapp.numbers[0]
            .staff
            .push("colleague@example.com".into());
    })
    .await;
    let agent = server.person("agent", Role::Member).await;
    let colleague = server.person("colleague", Role::Member).await;
    let outsider = server.person("outsider", Role::Member).await;
    let admin = server.person("admin", Role::Admin).await;
    deliver_text(
        &server,
        "wamid.HELP",
        "I need help with a refund",
        now_seconds(),
    )
    .await;
    let channel_id = first_conversation(&server, &agent).await;
    let conversation =
        |action: &str| format!("/api/v1/whatsapp/conversations/{channel_id}/{action}");
    let expect_error = |who: &super::Person,
                        path: String,
                        body: Option<Value>,
                        status: StatusCode,
                        code: &'static str| {
        let server = &server;
        let token = who.token.clone();
        async move {
            let (answer, body_answer) = server.call("POST", &path, Some(&token), body).await;
            assert_eq!(
                (answer, body_answer["code"].as_str()),
                (status, Some(code)),
                "POST {path}: {body_answer}"
            );
            assert!(
                body_answer["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
    };

    let claimed = server
        .ok("POST", &conversation("claim"), &agent, None)
        .await;
    assert_eq!(claimed["assignee_id"], agent.id);
    let forbidden = (StatusCode::FORBIDDEN, "forbidden");
    let not_found = (StatusCode::NOT_FOUND, "not_found");
    let invalid = (StatusCode::BAD_REQUEST, "invalid_request");
    for (who, path, body, (status, code)) in [
        // Someone else's conversation: colleagues may neither release nor take it.
        (&colleague, conversation("release"), None, forbidden),
        (
            &colleague,
            conversation("assign"),
            Some(json!({"user_id": colleague.id})),
            forbidden,
        ),
        // Only staff of the number can be given it; unknown users are not found.
        (
            &agent,
            conversation("assign"),
            Some(json!({"user_id": outsider.id})),
            forbidden,
        ),
        (
            &agent,
            conversation("assign"),
            Some(json!({"user_id": 987_654})),
            not_found,
        ),
        (
            &agent,
            conversation("assign"),
            Some(json!({"user_id": "colleague"})),
            invalid,
        ),
        // Outsiders do not see the conversation at all.
        (&outsider, conversation("release"), None, not_found),
        (
            &agent,
            "/api/v1/whatsapp/conversations/987654/release".into(),
            None,
            not_found,
        ),
        (
            &agent,
            "/api/v1/whatsapp/conversations/abc/release".into(),
            None,
            invalid,
        ),
    ] {
        expect_error(who, path, body, status, code).await;
    }

    // The assignee hands it to a colleague, who releases it.
    let reassigned = server
        .ok(
            "POST",
            &conversation("assign"),
            &agent,
            Some(json!({"user_id": colleague.id})),
        )
        .await;
    assert_eq!(reassigned["assignee_id"], colleague.id);
    expect_error(
        &agent,
        conversation("release"),
        None,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let released = server
        .ok("POST", &conversation("release"), &colleague, None)
        .await;
    assert_eq!(released["assignee_id"], Value::Null);
    assert_eq!(
        server
            .ok(
                "GET",
                "/api/v1/whatsapp/conversations?assignee=none",
                &agent,
                None
            )
            .await[0]["channel_id"],
        channel_id
    );
    // Releasing what nobody has changes nothing.
    let again = server
        .ok("POST", &conversation("release"), &colleague, None)
        .await;
    assert_eq!(again["assignee_id"], Value::Null);
    // An admin releases anyone's conversation.
    server
        .ok("POST", &conversation("claim"), &agent, None)
        .await;
    let by_admin = server
        .ok("POST", &conversation("release"), &admin, None)
        .await;
    assert_eq!(by_admin["assignee_id"], Value::Null);

    let audit = server
        .ok("GET", "/api/v1/audit?action=whatsapp.", &admin, None)
        .await;
    let entries: Vec<(String, i64, Value, Value)> = audit
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|entry| {
            assert_eq!(entry["target_id"], channel_id.to_string());
            (
                entry["action"].as_str().unwrap().to_string(),
                entry["actor_id"].as_i64().unwrap(),
                entry["before"]["assignee_id"].clone(),
                entry["after"]["assignee_id"].clone(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        vec![
            (
                "whatsapp.assign".to_string(),
                agent.id,
                Value::Null,
                json!(agent.id)
            ),
            (
                "whatsapp.assign".to_string(),
                agent.id,
                json!(agent.id),
                json!(colleague.id)
            ),
            (
                "whatsapp.release".to_string(),
                colleague.id,
                json!(colleague.id),
                Value::Null
            ),
            (
                "whatsapp.assign".to_string(),
                agent.id,
                Value::Null,
                json!(agent.id)
            ),
            (
                "whatsapp.release".to_string(),
                admin.id,
                json!(agent.id),
                Value::Null
            ),
        ],
        "every change is audited once; the empty release is not"
    );
}
