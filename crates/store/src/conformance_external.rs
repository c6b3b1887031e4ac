//! The external feature's part of the conformance suite; each backend's
//! tests/conformance.rs runs it on an empty database.
//!
//! The story: a compliance officer imports a WhatsApp export into a
//! read-only archive channel (twice, without duplicates), and a customer
//! conversation of the Cloud API connector records its messages and their
//! delivery statuses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use conclave_domain::compliance::{ErasureOutcome, RetentionScope};
use conclave_domain::external::{
    DeliveryStatus, DeliveryUpdate, Direction, ExternalKind, ImportKey, ImportRun, ImportedKind,
    ImportedMessage, NewExternalParticipant, NewWhatsAppConversation, WhatsAppImportChannel,
    WhatsAppMessageRecord,
};
use conclave_domain::{ChannelId, ChannelKind, Command, NewAttachment, NewUser, Page, Role};

use crate::{Store, StoreError};

/// Runs the external checks against `store`, which must start empty.
pub async fn run(store: Arc<dyn Store>) {
    let officer = store
        .create_user(NewUser {
            email: "officer@example.com".into(),
            handle: "officer".into(),
            name: "Officer".into(),
            role: Role::Compliance,
            password_hash: None,
            created_at: 1,
        })
        .await
        .unwrap();
    let alice = store
        .create_user(NewUser {
            email: "alice@example.com".into(),
            handle: "alice".into(),
            name: "Alice".into(),
            role: Role::Member,
            password_hash: None,
            created_at: 1,
        })
        .await
        .unwrap();

    // External participants: found again by identity, never able to sign in.
    let phone = |name: &str| NewExternalParticipant {
        kind: ExternalKind::Phone,
        phone: Some("+491701234567".into()),
        display_name: name.into(),
        channel_id: None,
        source: "whatsapp_export".into(),
        at: 5,
    };
    let carla = store.external_participant(phone("Carla")).await.unwrap();
    assert_eq!(carla.kind, ExternalKind::Phone);
    assert_eq!(carla.key, "phone:+491701234567");
    let again = store.external_participant(phone("Carla R.")).await.unwrap();
    assert_eq!(
        again.user_id, carla.user_id,
        "the same number is the same person"
    );
    let carla_user = store.user_by_id(carla.user_id).await.unwrap().unwrap();
    assert!(!carla_user.active, "external participants cannot sign in");
    assert_eq!(carla_user.role, Role::Guest);
    assert_eq!(carla_user.email, "wa-491701234567@whatsapp.invalid");
    assert_eq!(carla_user.name, "Carla");
    assert!(store.password_hash(carla.user_id).await.unwrap().is_none());
    assert_eq!(
        store
            .external_participant_by_user(carla.user_id)
            .await
            .unwrap(),
        Some(carla.clone())
    );
    assert_eq!(
        store.external_participant_by_user(alice.id).await.unwrap(),
        None
    );
    assert!(
        store.search_users("carla", 10).await.unwrap().is_empty(),
        "outsiders are not offered for mentions"
    );

    // A read-only archive channel with its custodian as member.
    let (channel, created) = store
        .open_whatsapp_import(WhatsAppImportChannel {
            name: "wa-family".into(),
            topic: "WhatsApp export".into(),
            custodian_id: Some(alice.id),
            creator_id: alice.id,
            member_ids: vec![alice.id],
            at: 10,
        })
        .await
        .unwrap();
    assert!(created);
    let archive_id = channel.id;
    assert!(channel.read_only);
    assert_eq!(channel.kind, ChannelKind::Private);
    assert_eq!(
        store.channel_member_ids(channel.id).await.unwrap(),
        vec![alice.id]
    );
    let external = store.external_channel(channel.id).await.unwrap().unwrap();
    assert_eq!(
        (external.source.as_str(), external.custodian_id),
        ("whatsapp_export", Some(alice.id))
    );

    let anna = store
        .external_participant(NewExternalParticipant {
            kind: ExternalKind::Name,
            phone: None,
            display_name: "Anna".into(),
            channel_id: Some(channel.id),
            source: "whatsapp_export".into(),
            at: 11,
        })
        .await
        .unwrap();
    let system = store
        .external_participant(NewExternalParticipant {
            kind: ExternalKind::System,
            phone: None,
            display_name: "WhatsApp".into(),
            channel_id: None,
            source: "whatsapp_export".into(),
            at: 11,
        })
        .await
        .unwrap();
    assert_ne!(anna.user_id, system.user_id);

    let photo = NewAttachment {
        uploader_id: anna.user_id,
        channel_id: channel.id,
        name: "IMG-1.jpg".into(),
        content_type: "image/jpeg".into(),
        size: 3,
        sha256: "ab".repeat(32),
        storage_key: format!("sha256/{}", "ab".repeat(32)),
        thumbnail_key: None,
        width: None,
        height: None,
        created_at: 12,
    };
    let batch = |keys: &[&str]| -> Vec<ImportedMessage> {
        let all = vec![
            ImportedMessage {
                dedupe_key: import_key("k-system"),
                line: 1,
                author_id: system.user_id,
                kind: ImportedKind::System,
                text: "Anna created group \"Family\"".into(),
                created_at: 1_700_000_000_000,
                edited: false,
                attachments: vec![],
            },
            ImportedMessage {
                dedupe_key: import_key("k-hello"),
                line: 2,
                author_id: anna.user_id,
                kind: ImportedKind::Text,
                text: "Hello\nsecond line".into(),
                created_at: 1_700_000_060_000,
                edited: true,
                attachments: vec![],
            },
            ImportedMessage {
                dedupe_key: import_key("k-photo"),
                line: 4,
                author_id: anna.user_id,
                kind: ImportedKind::Media,
                text: "at the beach".into(),
                created_at: 1_700_000_120_000,
                edited: false,
                attachments: vec![photo.clone()],
            },
            ImportedMessage {
                dedupe_key: import_key("k-deleted"),
                line: 5,
                author_id: carla.user_id,
                kind: ImportedKind::Deleted,
                text: "This message was deleted".into(),
                created_at: 1_700_000_180_000,
                edited: false,
                attachments: vec![],
            },
        ];
        all.into_iter()
            .filter(|m| keys.iter().any(|key| import_key(key) == m.dedupe_key))
            .collect()
    };
    let head_before = store.head_position().await.unwrap();
    let first = store
        .import_whatsapp_messages(channel.id, batch(&["k-system", "k-hello", "k-photo"]), 20)
        .await
        .unwrap();
    assert_eq!(
        (
            first.inserted,
            first.system,
            first.attachments,
            first.duplicates
        ),
        (3, 1, 1, 0)
    );
    assert_eq!(
        store.head_position().await.unwrap(),
        head_before + 1,
        "one journal entry per batch"
    );
    assert_eq!(
        store
            .known_import_keys(
                channel.id,
                vec![
                    import_key("k-hello"),
                    import_key("k-deleted"),
                    // The same digest at another time is another message.
                    ImportKey {
                        local_time: 1_700_000_001,
                        ..import_key("k-hello")
                    },
                ]
            )
            .await
            .unwrap(),
        vec![import_key("k-hello")]
    );
    let second = store
        .import_whatsapp_messages(
            channel.id,
            batch(&["k-system", "k-hello", "k-photo", "k-deleted"]),
            30,
        )
        .await
        .unwrap();
    assert_eq!(
        (second.inserted, second.duplicates, second.system),
        (1, 3, 0),
        "only the new line is stored"
    );

    let (messages, _, _) = store
        .messages(channel.id, None, Page::Latest, 50)
        .await
        .unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[0].author_id, system.user_id);
    assert_eq!(messages[1].text, "Hello\nsecond line");
    assert_eq!(
        messages[1].created_at, 1_700_000_060_000,
        "the original time"
    );
    assert_eq!(messages[1].edited_at, Some(1_700_000_060_000));
    assert_eq!(messages[2].attachments.len(), 1);
    assert_eq!(messages[2].attachments[0].name, "IMG-1.jpg");
    assert_eq!(messages[2].attachments[0].message_id, Some(messages[2].id));
    assert!(
        store
            .attachment_by_id(messages[2].attachments[0].id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        messages[3].deleted_at,
        Some(1_700_000_180_000),
        "kept as a deleted message"
    );
    assert_eq!(
        messages[3].text, "This message was deleted",
        "the record keeps the marker"
    );
    assert_eq!(
        store.message_versions(messages[1].id).await.unwrap().len(),
        1
    );
    assert!(
        messages.windows(2).all(|pair| pair[0].id < pair[1].id),
        "file order is id order"
    );

    assert_eq!(
        store.head_position().await.unwrap(),
        head_before + 2,
        "a batch of only duplicates journals nothing"
    );
    let third = store
        .import_whatsapp_messages(channel.id, batch(&["k-hello"]), 31)
        .await
        .unwrap();
    assert_eq!((third.inserted, third.duplicates), (0, 1));
    assert_eq!(store.head_position().await.unwrap(), head_before + 2);
    // Members read imported history over the API; the bulk entries are
    // journal records sent to no client.
    for user in [&alice, &officer] {
        assert!(
            store
                .events_for_user(user.id, head_before, 100)
                .await
                .unwrap()
                .is_empty(),
            "no import entry reaches a client"
        );
    }
    assert!(store.verify_journal().await.unwrap().is_ok());

    // Extending adds members; another channel of that name is refused.
    let (extended, created) = store
        .open_whatsapp_import(WhatsAppImportChannel {
            name: "wa-family".into(),
            topic: String::new(),
            custodian_id: Some(officer.id),
            creator_id: officer.id,
            member_ids: vec![alice.id, officer.id],
            at: 40,
        })
        .await
        .unwrap();
    assert_eq!((extended.id, created), (channel.id, false));
    let mut members = store.channel_member_ids(channel.id).await.unwrap();
    members.sort_unstable();
    assert_eq!(members, vec![officer.id, alice.id]);
    let ordinary = store
        .apply(vec![Command::CreateChannel {
            kind: ChannelKind::Public,
            name: "general".into(),
            topic: String::new(),
            creator_id: alice.id,
            member_ids: vec![],
            conversation_key: None,
            read_only: false,
            at: 41,
        }])
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    let refused = store
        .open_whatsapp_import(WhatsAppImportChannel {
            name: "general".into(),
            topic: String::new(),
            custodian_id: None,
            creator_id: alice.id,
            member_ids: vec![],
            at: 42,
        })
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let general = match ordinary.result {
        conclave_domain::command::OutcomeValue::Channel(channel) => channel,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        store
            .import_whatsapp_messages(general.id, batch(&["k-hello"]), 43)
            .await,
        Err(StoreError::Invalid(_))
    ));
    store
        .record_import_run(ImportRun {
            channel_id: channel.id,
            custodian_id: Some(alice.id),
            source_name: "chat.zip".into(),
            summary: "{}".into(),
            at: 44,
        })
        .await
        .unwrap();

    // A Cloud API customer conversation.
    let customer = store
        .external_participant(NewExternalParticipant {
            kind: ExternalKind::Phone,
            phone: Some("+14155550100".into()),
            display_name: "Dana Customer".into(),
            channel_id: None,
            source: "whatsapp_cloud".into(),
            at: 50,
        })
        .await
        .unwrap();
    let conversation_channel = store
        .apply(vec![Command::CreateChannel {
            kind: ChannelKind::Private,
            name: "wa-14155550100".into(),
            topic: String::new(),
            creator_id: customer.user_id,
            member_ids: vec![alice.id],
            conversation_key: Some("whatsapp:555:14155550100".into()),
            read_only: false,
            at: 51,
        }])
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    let conversation_channel = match conversation_channel.result {
        conclave_domain::command::OutcomeValue::Channel(channel) => channel,
        other => panic!("{other:?}"),
    };
    let new_conversation = NewWhatsAppConversation {
        channel_id: conversation_channel.id,
        phone_number_id: "555".into(),
        customer_wa_id: "14155550100".into(),
        customer_user_id: customer.user_id,
        at: 52,
    };
    let conversation = store
        .create_whatsapp_conversation(new_conversation.clone())
        .await
        .unwrap();
    assert_eq!(conversation.customer_name, "Dana Customer");
    assert_eq!(
        (conversation.assignee_id, conversation.last_inbound_at),
        (None, None)
    );
    assert_eq!(
        store
            .create_whatsapp_conversation(new_conversation)
            .await
            .unwrap(),
        conversation
    );
    assert_eq!(
        store
            .whatsapp_conversation("555", "14155550100")
            .await
            .unwrap(),
        Some(conversation.clone())
    );
    assert_eq!(
        store
            .whatsapp_conversation("556", "14155550100")
            .await
            .unwrap(),
        None
    );
    store
        .note_whatsapp_inbound(conversation.channel_id, 2_000)
        .await
        .unwrap();
    store
        .note_whatsapp_inbound(conversation.channel_id, 1_000)
        .await
        .unwrap();
    let assigned = store
        .set_whatsapp_assignee(conversation.channel_id, Some(alice.id))
        .await
        .unwrap();
    assert_eq!(
        (assigned.assignee_id, assigned.last_inbound_at),
        (Some(alice.id), Some(2_000))
    );
    assert_eq!(
        store
            .whatsapp_conversation_by_channel(conversation.channel_id)
            .await
            .unwrap(),
        Some(assigned.clone())
    );
    assert_eq!(
        store
            .whatsapp_conversations(vec!["555".into()])
            .await
            .unwrap(),
        vec![assigned]
    );
    assert!(
        store
            .whatsapp_conversations(vec!["999".into()])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.set_whatsapp_assignee(channel.id, None).await,
        Err(StoreError::NotFound(_))
    ));

    let post = |author_id: i64, text: &str, client_id: Option<String>| Command::PostMessage {
        channel_id: conversation.channel_id,
        author_id,
        thread_id: None,
        text: text.into(),
        mentions: vec![],
        attachment_ids: vec![],
        client_id,
        at: 60,
    };
    let mut outcomes = store
        .apply(vec![
            post(
                customer.user_id,
                "Where is my order?",
                Some("wa:wamid.IN1".into()),
            ),
            post(alice.id, "On its way!", None),
        ])
        .await
        .unwrap()
        .into_iter()
        .map(|outcome| match outcome.unwrap().result {
            conclave_domain::command::OutcomeValue::Message(message) => message,
            other => panic!("{other:?}"),
        });
    let (inbound, outbound) = (outcomes.next().unwrap(), outcomes.next().unwrap());
    let record = |message_id, wamid: Option<&str>, direction, status| WhatsAppMessageRecord {
        message_id,
        channel_id: conversation.channel_id,
        wamid: wamid.map(str::to_string),
        direction,
        kind: "text".into(),
        status,
        error: None,
        request: None,
        attempts: 0,
        created_at: 61,
        updated_at: 61,
    };
    assert!(
        store
            .record_whatsapp_message(record(
                inbound.id,
                Some("wamid.IN1"),
                Direction::Inbound,
                DeliveryStatus::Received
            ))
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_whatsapp_message(record(
                inbound.id,
                Some("wamid.IN1"),
                Direction::Inbound,
                DeliveryStatus::Received
            ))
            .await
            .unwrap(),
        "a redelivery records nothing new"
    );
    assert!(
        store
            .record_whatsapp_message(record(
                outbound.id,
                None,
                Direction::Outbound,
                DeliveryStatus::Queued
            ))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .whatsapp_message_by_wamid("wamid.IN1")
            .await
            .unwrap()
            .map(|r| r.message_id),
        Some(inbound.id)
    );
    let update = |status, wamid: Option<&str>, error: Option<&str>, at| DeliveryUpdate {
        message_id: outbound.id,
        status,
        wamid: wamid.map(str::to_string),
        error: error.map(str::to_string),
        attempts: 1,
        at,
    };
    let retrying = store
        .update_whatsapp_delivery(update(
            DeliveryStatus::Queued,
            None,
            Some("graph unreachable"),
            65,
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (retrying.status, retrying.error.as_deref()),
        (DeliveryStatus::Queued, Some("graph unreachable"))
    );
    let sent = store
        .update_whatsapp_delivery(update(DeliveryStatus::Sent, Some("wamid.OUT1"), None, 70))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (sent.status, sent.wamid.as_deref(), sent.attempts),
        (DeliveryStatus::Sent, Some("wamid.OUT1"), 2)
    );
    assert_eq!(
        sent.error, None,
        "a send that went through forgets the failed attempt's error"
    );
    let read = store
        .update_whatsapp_delivery(update(DeliveryStatus::Read, None, None, 80))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.status, DeliveryStatus::Read);
    let late = store
        .update_whatsapp_delivery(update(DeliveryStatus::Delivered, None, None, 90))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        late.status,
        DeliveryStatus::Read,
        "a late 'delivered' does not undo 'read'"
    );
    assert_eq!(late.updated_at, 90);
    assert_eq!(
        store
            .whatsapp_message_by_wamid("wamid.OUT1")
            .await
            .unwrap()
            .map(|r| r.message_id),
        Some(outbound.id)
    );
    assert_eq!(
        store
            .update_whatsapp_delivery(DeliveryUpdate {
                message_id: 999_999,
                ..update(DeliveryStatus::Sent, None, None, 1)
            })
            .await
            .unwrap(),
        None
    );
    let records = store
        .whatsapp_messages(conversation.channel_id)
        .await
        .unwrap();
    assert_eq!(
        records
            .iter()
            .map(|r| (r.message_id, r.direction, r.status))
            .collect::<Vec<_>>(),
        vec![
            (inbound.id, Direction::Inbound, DeliveryStatus::Received),
            (outbound.id, Direction::Outbound, DeliveryStatus::Read)
        ]
    );
    assert_eq!(
        store
            .whatsapp_message(outbound.id)
            .await
            .unwrap()
            .unwrap()
            .wamid
            .as_deref(),
        Some("wamid.OUT1")
    );

    assert!(
        store.verify_journal().await.unwrap().is_ok(),
        "imports extend the hash chain"
    );

    // Erasing the customer removes their number and name wherever they
    // were kept, not only what they wrote; the journal stays verifiable.
    let erased = store.erase_user(customer.user_id, 70).await.unwrap();
    assert!(
        matches!(
            erased,
            conclave_domain::compliance::ErasureOutcome::Erased(_)
        ),
        "{erased:?}"
    );
    let participant = store
        .external_participant_by_user(customer.user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(participant.phone, None);
    assert!(
        !participant.display_name.contains("Dana"),
        "{participant:?}"
    );
    assert_eq!(
        store
            .whatsapp_conversation("555", "14155550100")
            .await
            .unwrap(),
        None
    );
    let channel = store
        .channel_by_id(conversation.channel_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !channel.name.contains("14155550100") && !channel.topic.contains("14155550100"),
        "{channel:?}"
    );
    assert_eq!(
        store.message_by_id(inbound.id).await.unwrap().unwrap().text,
        ""
    );
    assert_eq!(
        store
            .message_by_id(outbound.id)
            .await
            .unwrap()
            .unwrap()
            .text,
        "On its way!",
        "the staff's answer stays"
    );
    let alice_events = store.events_for_user(alice.id, 0, 10_000).await.unwrap();
    let journal = serde_json::to_string(&alice_events).unwrap();
    assert!(
        !journal.contains("14155550100"),
        "the number lingers in the journal"
    );
    assert!(store.verify_journal().await.unwrap().is_ok());

    // Erasing an imported participant blanks their records inside the bulk
    // entries; the others stay covered by the chain.
    let erased = store.erase_user(anna.user_id, 80).await.unwrap();
    let ErasureOutcome::Erased(report) = erased else {
        panic!("{erased:?}")
    };
    assert_eq!(report.messages, 2);
    assert_eq!(report.events_redacted, 1, "one bulk entry held both");
    let (after_erasure, _, _) = store
        .messages(archive_id, None, Page::Latest, 50)
        .await
        .unwrap();
    assert_eq!(
        after_erasure
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>(),
        vec![
            "Anna created group \"Family\"",
            "",
            "",
            "This message was deleted"
        ]
    );
    assert!(
        store
            .message_versions(messages[1].id)
            .await
            .unwrap()
            .iter()
            .all(|version| version.text.is_empty())
    );
    assert!(
        store.verify_journal().await.unwrap().is_ok(),
        "erasure inside a bulk entry keeps the journal verifiable"
    );

    // Retention removes the imported history whole.
    store
        .set_retention(RetentionScope::Channel(archive_id), Some(1), 90)
        .await
        .unwrap();
    let purged = store.purge_expired(1_800_000_000_000).await.unwrap();
    assert_eq!(purged.messages, 4);
    assert_eq!(purged.events_redacted, 2, "both bulk entries");
    assert!(
        store
            .messages(archive_id, None, Page::Latest, 50)
            .await
            .unwrap()
            .0
            .is_empty()
    );
    assert!(
        store.verify_journal().await.unwrap().is_ok(),
        "retention over bulk entries keeps the journal verifiable"
    );
}

/// For the backends' tamper tests: imports three messages into a new
/// archive channel (one bulk journal entry) — the first from day 0, the
/// others from day 100, the last by an outside participant who is then
/// erased — so that a later 30-day retention purge at day 100 blanks the
/// first record and the second stays the only one with text.
pub async fn import_then_erase_for_tampering(store: &dyn Store, owner_id: conclave_domain::UserId) {
    let day = conclave_domain::compliance::DAY_MILLIS;
    let (archive, _) = store
        .open_whatsapp_import(WhatsAppImportChannel {
            name: "wa-archive".into(),
            topic: String::new(),
            custodian_id: Some(owner_id),
            creator_id: owner_id,
            member_ids: vec![owner_id],
            at: 2,
        })
        .await
        .unwrap();
    let outsider = store
        .external_participant(NewExternalParticipant {
            kind: ExternalKind::Name,
            phone: None,
            display_name: "Zed".into(),
            channel_id: Some(archive.id),
            source: "whatsapp_export".into(),
            at: 2,
        })
        .await
        .unwrap();
    let imported = |key: &str, author_id, text: &str, created_at| ImportedMessage {
        dedupe_key: import_key(key),
        line: 1,
        author_id,
        kind: ImportedKind::Text,
        text: text.into(),
        created_at,
        edited: false,
        attachments: vec![],
    };
    let outcome = store
        .import_whatsapp_messages(
            archive.id,
            vec![
                imported("old", owner_id, "imported, expired", 2),
                imported("new", owner_id, "imported, retained", 100 * day),
                imported("zed", outsider.user_id, "imported, erased", 100 * day),
            ],
            3,
        )
        .await
        .unwrap();
    assert_eq!(outcome.inserted, 3);
    let erased = store.erase_user(outsider.user_id, 4).await.unwrap();
    assert!(matches!(erased, ErasureOutcome::Erased(_)), "{erased:?}");
}

/// The migration from hex import keys (before 0007), part one: creates an
/// import channel with an author. The backend's test then rewinds its
/// schema to the old key table, stores [`legacy_key_hex`] and
/// `"not-a-digest"` there, reopens the store so the migration runs, and
/// calls [`legacy_keys_still_match`].
pub async fn legacy_keys_setup(store: &dyn Store) -> ChannelId {
    let owner = store
        .create_user(NewUser {
            email: "keeper@example.com".into(),
            handle: "keeper".into(),
            name: "Keeper".into(),
            role: Role::Compliance,
            password_hash: None,
            created_at: 1,
        })
        .await
        .unwrap();
    let (channel, _) = store
        .open_whatsapp_import(WhatsAppImportChannel {
            name: "wa-legacy".into(),
            topic: "WhatsApp export".into(),
            custodian_id: Some(owner.id),
            creator_id: owner.id,
            member_ids: vec![owner.id],
            at: 2,
        })
        .await
        .unwrap();
    channel.id
}

/// The digest of the message imported before the migration, in hex, the
/// way keys were stored then.
pub fn legacy_key_hex() -> String {
    import_key("k-legacy")
        .digest
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Part two: after the migration, the message imported before it is still
/// known and skipped, whatever time the new key gives it; new ones are not.
pub async fn legacy_keys_still_match(store: &dyn Store, channel_id: ChannelId) {
    let author_id = store
        .external_participant(NewExternalParticipant {
            kind: ExternalKind::System,
            phone: None,
            display_name: "WhatsApp".into(),
            channel_id: None,
            source: "whatsapp_export".into(),
            at: 3,
        })
        .await
        .unwrap()
        .user_id;
    let message = |key: ImportKey| ImportedMessage {
        dedupe_key: key,
        line: 1,
        author_id,
        kind: ImportedKind::Text,
        text: "before the migration".into(),
        created_at: 1_700_000_000_000,
        edited: false,
        attachments: vec![],
    };
    let batch = || {
        vec![
            message(import_key("k-legacy")),
            message(import_key("k-fresh")),
        ]
    };
    let first = store
        .import_whatsapp_messages(channel_id, batch(), 4)
        .await
        .unwrap();
    assert_eq!(
        (first.inserted, first.duplicates),
        (1, 1),
        "the key stored in hex still matches"
    );
    let again = store
        .import_whatsapp_messages(channel_id, batch(), 5)
        .await
        .unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 2));
    let fresh_elsewhere = ImportKey {
        local_time: 1_600_000_000,
        ..import_key("k-fresh")
    };
    assert_eq!(
        store
            .known_import_keys(
                channel_id,
                vec![
                    import_key("k-legacy"),
                    fresh_elsewhere,
                    import_key("k-other")
                ]
            )
            .await
            .unwrap(),
        vec![import_key("k-legacy")],
        "a legacy key matches its digest at any time; other keys need both"
    );
    let (messages, _, _) = store
        .messages(channel_id, None, Page::Latest, 10)
        .await
        .unwrap();
    assert_eq!(messages.len(), 1, "only the fresh message was stored");
}

/// A test import key: the name's bytes as the digest, at one local time.
pub fn import_key(name: &str) -> ImportKey {
    let mut digest = [0u8; 32];
    digest[..name.len()].copy_from_slice(name.as_bytes());
    ImportKey {
        local_time: 1_700_000_000,
        digest,
    }
}

/// Claiming queued WhatsApp replies for sending, as several server
/// processes do at once: `first` and `second` are two stores (two
/// processes) on the same empty database. Each reply is claimed by exactly
/// one of them, a live claim is left alone, a lapsed one (its claimer died)
/// is claimed again, a claim given back at shutdown is claimable at once,
/// and one call claims the replies of every conversation of the numbers
/// asked for.
pub async fn claims_of_queued_sends(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    let agent = first
        .create_user(NewUser {
            email: "agent@example.com".into(),
            handle: "agent".into(),
            name: "Agent".into(),
            role: Role::Member,
            password_hash: None,
            created_at: 1,
        })
        .await
        .unwrap();
    // Three customer conversations: two of business number 555, one of 556.
    let mut replies = Vec::new();
    for (phone_number_id, wa_id) in [("555", "491701"), ("555", "491702"), ("556", "491703")] {
        let customer = first
            .external_participant(NewExternalParticipant {
                kind: ExternalKind::Phone,
                phone: Some(format!("+{wa_id}")),
                display_name: format!("Customer {wa_id}"),
                channel_id: None,
                source: "whatsapp_cloud".into(),
                at: 2,
            })
            .await
            .unwrap();
        let created = first
            .apply(vec![Command::CreateChannel {
                kind: ChannelKind::Private,
                name: format!("wa-{wa_id}-{phone_number_id}"),
                topic: String::new(),
                creator_id: customer.user_id,
                member_ids: vec![agent.id],
                conversation_key: Some(format!("whatsapp:{phone_number_id}:{wa_id}")),
                read_only: false,
                at: 3,
            }])
            .await
            .unwrap()
            .pop()
            .unwrap()
            .unwrap();
        let channel = match created.result {
            conclave_domain::command::OutcomeValue::Channel(channel) => channel,
            other => panic!("{other:?}"),
        };
        first
            .create_whatsapp_conversation(NewWhatsAppConversation {
                channel_id: channel.id,
                phone_number_id: phone_number_id.into(),
                customer_wa_id: wa_id.into(),
                customer_user_id: customer.user_id,
                at: 4,
            })
            .await
            .unwrap();
        let posted = first
            .apply(vec![
                Command::PostMessage {
                    channel_id: channel.id,
                    author_id: customer.user_id,
                    thread_id: None,
                    text: "Hello?".into(),
                    mentions: vec![],
                    attachment_ids: vec![],
                    client_id: None,
                    at: 5,
                },
                Command::PostMessage {
                    channel_id: channel.id,
                    author_id: agent.id,
                    thread_id: None,
                    text: format!("Hello {wa_id}"),
                    mentions: vec![],
                    attachment_ids: vec![],
                    client_id: None,
                    at: 6,
                },
            ])
            .await
            .unwrap();
        let ids: Vec<i64> = posted
            .into_iter()
            .map(|outcome| match outcome.unwrap().result {
                conclave_domain::command::OutcomeValue::Message(message) => message.id,
                other => panic!("{other:?}"),
            })
            .collect();
        let record =
            |message_id, direction, status, request: Option<String>| WhatsAppMessageRecord {
                message_id,
                channel_id: channel.id,
                wamid: None,
                direction,
                kind: "text".into(),
                status,
                error: None,
                request,
                attempts: 0,
                created_at: 7,
                updated_at: 7,
            };
        // A customer message is never claimed, whatever its status says.
        assert!(
            first
                .record_whatsapp_message(record(
                    ids[0],
                    Direction::Inbound,
                    DeliveryStatus::Received,
                    None
                ))
                .await
                .unwrap()
        );
        let request = format!(r#"{{"to":"{wa_id}","text":{{"body":"Hello {wa_id}"}}}}"#);
        assert!(
            first
                .record_whatsapp_message(record(
                    ids[1],
                    Direction::Outbound,
                    DeliveryStatus::Queued,
                    Some(request.clone())
                ))
                .await
                .unwrap()
        );
        replies.push((phone_number_id, ids[1], request));
    }
    let numbers = || vec!["555".to_string()];
    let lease = 1_000;

    // Eight claims race, four through each process: every reply of 555 is
    // claimed exactly once, the reply of 556 not at all.
    let mut racing = Vec::new();
    for round in 0..8 {
        let store = Arc::clone(if round % 2 == 0 { &first } else { &second });
        racing.push(tokio::spawn(async move {
            store
                .claim_whatsapp_sends(numbers(), 10_000, 10_000 - lease)
                .await
                .unwrap()
        }));
    }
    let mut won = Vec::new();
    for claim in racing {
        won.extend(claim.await.unwrap());
    }
    won.sort_by_key(|send| send.record.message_id);
    assert_eq!(
        won.iter()
            .map(|send| (send.phone_number_id.as_str(), send.record.message_id))
            .collect::<Vec<_>>(),
        vec![("555", replies[0].1), ("555", replies[1].1)],
        "each reply of the numbers asked for has exactly one winner"
    );
    for (send, (_, _, request)) in won.iter().zip(&replies) {
        assert_eq!(send.record.status, DeliveryStatus::Sending);
        assert_eq!(send.record.direction, Direction::Outbound);
        assert_eq!(send.record.updated_at, 10_000, "the claim's time");
        assert_eq!(
            send.record.request.as_deref(),
            Some(request.as_str()),
            "the request comes back opened"
        );
    }

    // While the claim is live nobody else takes the reply.
    assert!(
        second
            .claim_whatsapp_sends(numbers(), 10_500, 10_500 - lease)
            .await
            .unwrap()
            .is_empty()
    );

    // The claimer died: once its claim is older than the lease, one of two
    // racing processes claims the reply again.
    let (a, b) = tokio::join!(
        first.claim_whatsapp_sends(numbers(), 11_000, 11_000 - lease),
        second.claim_whatsapp_sends(numbers(), 11_000, 11_000 - lease),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.len() + b.len(),
        2,
        "the lapsed claims have one winner each: {a:?} {b:?}"
    );
    assert!(
        a.iter()
            .chain(&b)
            .all(|send| send.record.updated_at == 11_000)
    );

    // A sender renews its claim before each try. The dead claimer's claim
    // (made at 10,000) is lost; the new holder's renews once per claim time.
    let reply = replies[0].1;
    assert!(
        !first
            .renew_whatsapp_claim(reply, 10_000, 11_050)
            .await
            .unwrap()
    );
    assert!(
        second
            .renew_whatsapp_claim(reply, 11_000, 11_050)
            .await
            .unwrap()
    );
    assert!(
        !first
            .renew_whatsapp_claim(reply, 11_000, 11_060)
            .await
            .unwrap(),
        "a claim renewed by its holder cannot be renewed from its old time"
    );

    // A sender shutting down gives its claim back: queued again, and
    // claimable at once. A sent reply is never claimed again.
    let given_back = second
        .update_whatsapp_delivery(DeliveryUpdate {
            message_id: replies[0].1,
            status: DeliveryStatus::Queued,
            wamid: None,
            error: Some("graph unreachable".into()),
            attempts: 3,
            at: 11_100,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(given_back.status, DeliveryStatus::Queued);
    let sent = first
        .update_whatsapp_delivery(DeliveryUpdate {
            message_id: replies[1].1,
            status: DeliveryStatus::Sent,
            wamid: Some("wamid.CLAIMED".into()),
            error: None,
            attempts: 1,
            at: 11_100,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sent.status, DeliveryStatus::Sent);
    assert!(
        !first
            .renew_whatsapp_claim(replies[1].1, 11_000, 11_150)
            .await
            .unwrap(),
        "a sent reply has no claim to renew"
    );
    let again = second
        .claim_whatsapp_sends(numbers(), 11_200, 11_200 - lease)
        .await
        .unwrap();
    assert_eq!(
        again
            .iter()
            .map(|send| (send.record.message_id, send.record.attempts))
            .collect::<Vec<_>>(),
        vec![(replies[0].1, 3)]
    );
    assert!(
        first
            .claim_whatsapp_sends(numbers(), 1_000_000, 1_000_000 - lease)
            .await
            .unwrap()
            .iter()
            .all(|send| send.record.message_id != replies[1].1),
        "a sent reply stays sent"
    );
    assert!(
        first
            .claim_whatsapp_sends(Vec::new(), 1_000_000, 1_000_000)
            .await
            .unwrap()
            .is_empty(),
        "no numbers, nothing claimed"
    );

    // The other number's reply is claimed when its number is asked for.
    let other = first
        .claim_whatsapp_sends(vec!["556".into()], 12_000, 12_000 - lease)
        .await
        .unwrap();
    assert_eq!(
        other
            .iter()
            .map(|send| (send.phone_number_id.as_str(), send.record.message_id))
            .collect::<Vec<_>>(),
        vec![("556", replies[2].1)]
    );
}
