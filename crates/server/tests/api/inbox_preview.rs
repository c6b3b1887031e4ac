//! The customer inbox's preview line: each conversation in
//! `GET /api/v1/whatsapp/conversations` (and `…/conversations/{id}`) carries
//! its newest message as members see it, so the inbox can show the last
//! words and their time without reading every channel.

use serde_json::{Value, json};

use super::connectors::{
    configure, deliver_text, first_conversation, graph_stand_in, now_seconds, reply_in,
};
use super::{Role, StatusCode, backends, start};

/// The `last_message` of the only conversation in the inbox, as `who` lists it.
async fn listed_last_message(server: &super::Server, who: &super::Person) -> Value {
    let conversations = server
        .ok("GET", "/api/v1/whatsapp/conversations", who, None)
        .await;
    assert_eq!(
        conversations.as_array().map(Vec::len),
        Some(1),
        "{conversations}"
    );
    conversations[0]["last_message"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_rows_carry_the_newest_message_as_members_see_it() {
    for backend in backends() {
        let graph = graph_stand_in(0).await;
        let server = start(backend, |config| configure(config, &graph.base)).await;
        let agent = server.person("agent", Role::Member).await;
        let sent_at = now_seconds();
        deliver_text(&server, "wamid.PREVIEW1", "Where is my order?", sent_at).await;
        let channel_id = first_conversation(&server, &agent).await;

        let first = listed_last_message(&server, &agent).await;
        assert_eq!(first["text"], "Where is my order?", "{first}");
        assert_eq!(first["channel_id"], channel_id);
        assert_eq!(
            first["created_at"].as_i64(),
            Some(sent_at * 1000),
            "the customer's own time"
        );
        let customer_id = first["author_id"].as_i64().unwrap();
        assert_ne!(customer_id, agent.id);

        let (status, reply) = reply_in(
            &server,
            &agent,
            channel_id,
            json!({"text": "It ships today"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        let reply_id = reply["message"]["id"].as_i64().unwrap();
        let newest = listed_last_message(&server, &agent).await;
        assert_eq!(newest["id"].as_i64(), Some(reply_id), "{newest}");
        assert_eq!(newest["author_id"].as_i64(), Some(agent.id));

        // One conversation read alone says the same.
        let single = server
            .ok(
                "GET",
                &format!("/api/v1/whatsapp/conversations/{channel_id}"),
                &agent,
                None,
            )
            .await;
        assert_eq!(
            single["last_message"]["id"].as_i64(),
            Some(reply_id),
            "{single}"
        );

        // A deleted reply previews as the tombstone members see, never its text.
        server
            .ok(
                "DELETE",
                &format!("/api/v1/messages/{reply_id}"),
                &agent,
                None,
            )
            .await;
        let tombstone = listed_last_message(&server, &agent).await;
        assert_eq!(tombstone["id"].as_i64(), Some(reply_id));
        assert!(tombstone["deleted_at"].is_i64(), "{tombstone}");
        assert_eq!(tombstone["text"], "", "{tombstone}");
    }
}
