//! Files in replies to WhatsApp customers: the agent uploads them like chat
//! attachments (`POST /api/v1/files`), names them in the reply, and the
//! archive keeps them on the reply while the connector uploads each to
//! Meta (`POST /{phone-number-id}/media`, multipart) and sends it as an
//! image or document message, the text as the first file's caption.
//! Files over Meta's limit for their type are refused before anything is
//! archived or queued.

use serde_json::{Value, json};

use super::connectors::{
    configure, deliver_text, first_conversation, graph_stand_in, graph_stand_in_on, now_seconds,
    reply_in, wait_for_delivery,
};
use super::{Person, Role, Server, StatusCode, backends, png_bytes, start};

const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

/// Uploads `bytes` as `name` for the channel; answers the status and body.
async fn upload(
    server: &Server,
    who: &Person,
    channel_id: i64,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let response = server
        .http
        .post(server.url(&format!(
            "/api/v1/files?channel_id={channel_id}&name={name}"
        )))
        .bearer_auth(&who.token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn uploaded(
    server: &Server,
    who: &Person,
    channel_id: i64,
    name: &str,
    bytes: Vec<u8>,
) -> i64 {
    let (status, file) = upload(server, who, channel_id, name, bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    file["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_and_pdf_replies_reach_meta_as_uploads_and_media_messages() {
    for backend in backends() {
        let graph = graph_stand_in(0).await;
        let server = start(backend, |config| configure(config, &graph.base)).await;
        let agent = server.person("agent", Role::Member).await;
        deliver_text(
            &server,
            "wamid.FILES1",
            "Can you send the invoice?",
            now_seconds(),
        )
        .await;
        let channel_id = first_conversation(&server, &agent).await;

        // An image with text: one upload, one image message captioned in
        // WhatsApp's formatting.
        let png = png_bytes();
        let image_id = uploaded(&server, &agent, channel_id, "photo.png", png.clone()).await;
        let (status, reply) = reply_in(
            &server,
            &agent,
            channel_id,
            json!({"text": "Here is **the** photo", "attachment_ids": [image_id]}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        assert_eq!(reply["delivery"]["kind"], "image", "{reply}");
        assert_eq!(reply["delivery"]["status"], "queued");
        let image_reply = reply["message"]["id"].as_i64().unwrap();
        wait_for_delivery(&server, image_reply, "sent").await;

        let uploads = graph.uploads();
        assert_eq!(uploads.len(), 1);
        let upload = &uploads[0];
        assert_eq!(upload.phone_number_id, "106540352242922");
        assert_eq!(
            upload.authorization.as_deref(),
            Some("Bearer graph-access-token")
        );
        assert_eq!(upload.messaging_product.as_deref(), Some("whatsapp"));
        assert_eq!(upload.mime_type.as_deref(), Some("image/png"));
        assert_eq!(upload.filename.as_deref(), Some("photo.png"));
        assert_eq!(upload.file_content_type.as_deref(), Some("image/png"));
        assert!(
            upload.bytes == png,
            "the file reaches Meta unsealed and whole"
        );
        let sent = graph.sent_bodies();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0]["type"], "image");
        assert_eq!(sent[0]["to"], "4917012345678");
        assert_eq!(
            sent[0]["image"],
            json!({"id": upload.media_id, "caption": "Here is *the* photo"})
        );

        // The archive keeps the file on the reply like a chat attachment.
        let archived = server
            .ok(
                "GET",
                &format!("/api/v1/messages/{image_reply}"),
                &agent,
                None,
            )
            .await;
        assert_eq!(archived["text"], "Here is **the** photo");
        let attachments = archived["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1, "{archived}");
        assert_eq!(attachments[0]["id"].as_i64(), Some(image_id));
        assert_eq!(attachments[0]["content_type"], "image/png");
        let download = server
            .http
            .get(server.url(&format!("/api/v1/files/{image_id}")))
            .bearer_auth(&agent.token)
            .send()
            .await
            .unwrap();
        assert_eq!(download.status(), StatusCode::OK);
        assert!(download.bytes().await.unwrap().as_ref() == png.as_slice());

        // A PDF alone: a document message with its file name, no caption.
        let pdf_id = uploaded(&server, &agent, channel_id, "invoice.pdf", PDF.to_vec()).await;
        let (status, reply) = reply_in(
            &server,
            &agent,
            channel_id,
            json!({"attachment_ids": [pdf_id]}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        assert_eq!(reply["delivery"]["kind"], "document");
        let pdf_reply = reply["message"]["id"].as_i64().unwrap();
        wait_for_delivery(&server, pdf_reply, "sent").await;
        let upload = graph.uploads()[1].clone();
        assert_eq!(upload.mime_type.as_deref(), Some("application/pdf"));
        assert_eq!(upload.filename.as_deref(), Some("invoice.pdf"));
        assert!(upload.bytes == PDF);
        let sent = graph.sent_bodies();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[1]["type"], "document");
        assert_eq!(
            sent[1]["document"],
            json!({"id": upload.media_id, "filename": "invoice.pdf"})
        );
        let archived = server
            .ok(
                "GET",
                &format!("/api/v1/messages/{pdf_reply}"),
                &agent,
                None,
            )
            .await;
        assert_eq!(archived["attachments"][0]["name"], "invoice.pdf");
        assert_eq!(
            archived["attachments"][0]["content_type"],
            "application/pdf"
        );

        // Two files go in the order attached, the text with the first only.
        let pdf_id = uploaded(&server, &agent, channel_id, "terms.pdf", PDF.to_vec()).await;
        let image_id = uploaded(&server, &agent, channel_id, "map.png", png.clone()).await;
        let (status, reply) = reply_in(
            &server,
            &agent,
            channel_id,
            json!({"text": "Terms and map", "attachment_ids": [pdf_id, image_id]}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        let both = reply["message"]["id"].as_i64().unwrap();
        wait_for_delivery(&server, both, "sent").await;
        let sent = graph.sent_bodies();
        assert_eq!(sent.len(), 4, "{sent:?}");
        assert_eq!(sent[2]["type"], "document");
        assert_eq!(sent[2]["document"]["caption"], "Terms and map");
        assert_eq!(sent[2]["document"]["filename"], "terms.pdf");
        assert_eq!(sent[3]["type"], "image");
        assert_eq!(sent[3]["image"].get("caption"), None, "{}", sent[3]);
        assert_eq!(graph.uploads().len(), 4);
        // Delivery statuses follow the first message's wamid.
        let record = server
            .state
            .store
            .whatsapp_message(both)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.wamid.as_deref(), Some("wamid.OUT3"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_meta_would_refuse_are_refused_before_anything_is_queued() {
    for backend in backends() {
        let graph = graph_stand_in(0).await;
        let server = start(backend, |config| {
            configure(config, &graph.base);
            config.whatsapp.numbers[0]
                .staff
                .push("colleague@example.com".into());
            config.limits.max_upload_bytes = 8 * 1024 * 1024;
        })
        .await;
        let agent = server.person("agent", Role::Member).await;
        let colleague = server.person("colleague", Role::Member).await;
        deliver_text(&server, "wamid.FILES2", "Send me a picture", now_seconds()).await;
        let channel_id = first_conversation(&server, &agent).await;

        // An image over Meta's 5 MB for images (the bytes say PNG).
        let mut large = png_bytes();
        large.resize(5 * 1024 * 1024 + 1, 0);
        let large_id = uploaded(&server, &agent, channel_id, "large.png", large).await;
        let (status, answer) = reply_in(
            &server,
            &agent,
            channel_id,
            json!({"text": "big", "attachment_ids": [large_id]}),
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
        assert_eq!(answer["code"], "payload_too_large");
        assert!(
            answer["message"].as_str().unwrap().contains("5 MB"),
            "{answer}"
        );

        // A template cannot carry files; another person's upload is not found.
        let small_id = uploaded(&server, &agent, channel_id, "small.png", png_bytes()).await;
        let (status, answer) = reply_in(
            &server,
            &agent,
            channel_id,
            json!({"template": {"name": "hello", "language": "en"}, "attachment_ids": [small_id]}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["code"], "invalid_request");
        let (status, answer) = reply_in(
            &server,
            &colleague,
            channel_id,
            json!({"text": "mine now", "attachment_ids": [small_id]}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains("file"),
            "{answer}"
        );

        // Nothing was archived or sent: only the customer's message is there.
        let page = server
            .ok(
                "GET",
                &format!("/api/v1/channels/{channel_id}/messages"),
                &agent,
                None,
            )
            .await;
        assert_eq!(page["messages"].as_array().map(Vec::len), Some(1), "{page}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(graph.uploads().is_empty());
        assert!(graph.sent_bodies().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_send_retries_without_uploading_again() {
    for backend in backends() {
        // Meta answers the first send-message with a 500.
        let graph = graph_stand_in(1).await;
        let server = start(backend, |config| configure(config, &graph.base)).await;
        let agent = server.person("agent", Role::Member).await;
        deliver_text(
            &server,
            "wamid.FILES3",
            "Both documents, please",
            now_seconds(),
        )
        .await;
        let channel_id = first_conversation(&server, &agent).await;
        let first = uploaded(&server, &agent, channel_id, "a.pdf", PDF.to_vec()).await;
        let second = uploaded(&server, &agent, channel_id, "b.png", png_bytes()).await;
        let (status, reply) = reply_in(
            &server,
            &agent,
            channel_id,
            json!({"text": "Here", "attachment_ids": [first, second]}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        let message_id = reply["message"]["id"].as_i64().unwrap();
        wait_for_delivery(&server, message_id, "sent").await;
        let uploads = graph.uploads();
        let names: Vec<_> = uploads.iter().map(|u| u.filename.clone()).collect();
        assert_eq!(
            names,
            vec![Some("a.pdf".to_string()), Some("b.png".to_string())],
            "the retry reuses the media id it already has"
        );
        let sent = graph.sent_bodies();
        assert_eq!(sent.len(), 3, "one refused and two accepted: {sent:?}");
        assert_eq!(
            sent[0], sent[1],
            "the refused message is sent again as it was"
        );
        assert_eq!(
            sent[1]["document"]["id"].as_str(),
            Some(uploads[0].media_id.as_str())
        );
        assert_eq!(
            sent[2]["image"]["id"].as_str(),
            Some(uploads[1].media_id.as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_reply_queued_while_meta_is_unreachable_is_uploaded_after_a_restart() {
    for backend in backends() {
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let base = format!("http://{address}/v21.0");
        let tweak = |config: &mut conclave_server::config::ServerConfig| {
            configure(config, &base);
            config.whatsapp.send_attempts = 10_000;
            config.whatsapp.retry_base_ms = 20;
        };
        let server = start(backend, tweak).await;
        let agent = server.person("agent", Role::Member).await;
        deliver_text(&server, "wamid.FILES4", "The receipt?", now_seconds()).await;
        let channel_id = first_conversation(&server, &agent).await;
        let file = uploaded(&server, &agent, channel_id, "receipt.pdf", PDF.to_vec()).await;
        let (status, reply) = reply_in(
            &server,
            &agent,
            channel_id,
            json!({"text": "Attached", "attachment_ids": [file]}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        let message_id = reply["message"]["id"].as_i64().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;

        // The new run reads the plan from the outbox and the sealed file
        // from the blob store once Meta is back.
        let server = server.restart(backend, tweak).await;
        let graph = graph_stand_in_on(tokio::net::TcpListener::bind(address).await.unwrap(), 0);
        wait_for_delivery(&server, message_id, "sent").await;
        let uploads = graph.uploads();
        assert_eq!(uploads.len(), 1);
        assert!(uploads[0].bytes == PDF);
        let sent = graph.sent_bodies();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(
            sent[0]["document"],
            json!({"id": uploads[0].media_id, "caption": "Attached", "filename": "receipt.pdf"})
        );
    }
}
