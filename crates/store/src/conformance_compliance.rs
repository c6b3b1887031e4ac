//! The compliance feature's part of the conformance suite; each backend's
//! tests/conformance.rs runs it on an empty database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use conclave_domain::command::OutcomeValue;
use conclave_domain::compliance::{
    DAY_MILLIS, ErasureOutcome, ExportFilter, NewLegalHold, RetentionScope,
};
use conclave_domain::{
    Channel, ChannelKind, Command, EventPayload, Message, NewAttachment, NewUser, Role, User,
};

use crate::{Store, StoreError};

/// When the story's old messages were written.
const LONG_AGO: i64 = 1_000_000;
/// A time more than 30 days after [`LONG_AGO`].
const NOW: i64 = LONG_AGO + 40 * DAY_MILLIS;

/// Runs the compliance checks against `store`, which must start empty.
pub async fn run(store: Arc<dyn Store>) {
    let story = Story::new(store).await;
    story.holds_are_named_listed_and_released().await;
    story.retention_purges_expired_unheld_messages().await;
    story
        .erasure_is_refused_under_hold_then_scrubs_everything()
        .await;
    story.export_selects_by_custodian_channel_and_range().await;
    story.journal_checkpoints().await;
}

struct Story {
    store: Arc<dyn Store>,
    owner: User,
    dana: User,
    erin: User,
}

async fn user(store: &dyn Store, handle: &str) -> User {
    store
        .create_user(NewUser {
            email: format!("{handle}@example.com"),
            handle: handle.to_string(),
            name: format!("{handle} Example"),
            role: Role::Member,
            password_hash: None,
            created_at: 1,
        })
        .await
        .unwrap()
}

impl Story {
    async fn new(store: Arc<dyn Store>) -> Story {
        let owner = user(&*store, "owner").await;
        let dana = user(&*store, "dana").await;
        let erin = user(&*store, "erin").await;
        Story {
            store,
            owner,
            dana,
            erin,
        }
    }

    async fn one(&self, command: Command) -> conclave_domain::Outcome {
        self.store
            .apply(vec![command])
            .await
            .unwrap()
            .pop()
            .unwrap()
            .unwrap()
    }

    async fn channel(&self, name: &str, members: Vec<i64>) -> Channel {
        let outcome = self
            .one(Command::CreateChannel {
                kind: ChannelKind::Public,
                name: name.into(),
                topic: String::new(),
                creator_id: self.owner.id,
                member_ids: members,
                conversation_key: None,
                read_only: false,
                at: LONG_AGO - 10,
            })
            .await;
        let OutcomeValue::Channel(channel) = outcome.result else {
            panic!("no channel")
        };
        channel
    }

    async fn post(
        &self,
        channel: &Channel,
        author: &User,
        text: &str,
        thread_id: Option<i64>,
        at: i64,
    ) -> Message {
        self.post_with(channel, author, text, thread_id, at, vec![])
            .await
    }

    async fn post_with(
        &self,
        channel: &Channel,
        author: &User,
        text: &str,
        thread_id: Option<i64>,
        at: i64,
        attachment_ids: Vec<i64>,
    ) -> Message {
        let outcome = self
            .one(Command::PostMessage {
                channel_id: channel.id,
                author_id: author.id,
                thread_id,
                text: text.into(),
                mentions: vec![],
                attachment_ids,
                client_id: None,
                at,
            })
            .await;
        let OutcomeValue::Message(message) = outcome.result else {
            panic!("no message")
        };
        message
    }

    async fn edit(&self, message: &Message, text: &str, at: i64) {
        self.one(Command::EditMessage {
            message_id: message.id,
            editor_id: message.author_id,
            text: text.into(),
            mentions: vec![],
            at,
        })
        .await;
    }

    async fn attachment(&self, channel: &Channel, uploader: &User, digest: &str) -> i64 {
        self.store
            .create_attachment(NewAttachment {
                uploader_id: uploader.id,
                channel_id: channel.id,
                name: "notes.txt".into(),
                content_type: "text/plain".into(),
                size: 5,
                sha256: digest.into(),
                storage_key: format!("sha256/{digest}"),
                thumbnail_key: None,
                width: None,
                height: None,
                created_at: LONG_AGO,
            })
            .await
            .unwrap()
            .id
    }

    /// Every journal entry's payload, as a member of every channel reads it
    /// plus the compliance entries nobody may read (through verify's view).
    async fn journal_text(&self, reader: &User) -> String {
        let events = self
            .store
            .events_for_user(reader.id, 0, 100_000)
            .await
            .unwrap();
        events
            .iter()
            .map(|event| serde_json::to_string(&event.payload).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn holds_are_named_listed_and_released(&self) {
        let store = &*self.store;
        let room = self.channel("hold-room", vec![self.dana.id]).await;
        let new = |name: &str| NewLegalHold {
            name: name.into(),
            custodian_ids: vec![self.dana.id],
            channel_ids: vec![room.id],
            from: Some(10),
            to: Some(20),
            created_at: 5,
        };
        let hold = store.create_hold(new("Case 7")).await.unwrap();
        assert_eq!(hold.name, "Case 7");
        assert_eq!(hold.custodian_ids, vec![self.dana.id]);
        assert_eq!(hold.channel_ids, vec![room.id]);
        assert_eq!(
            (hold.from, hold.to, hold.released_at),
            (Some(10), Some(20), None)
        );
        assert!(matches!(
            store.create_hold(new("Case 7")).await,
            Err(StoreError::Conflict(_))
        ));
        let unknown = NewLegalHold {
            custodian_ids: vec![999_999],
            ..new("Case 8")
        };
        assert!(matches!(
            store.create_hold(unknown).await,
            Err(StoreError::NotFound(_))
        ));
        let empty = NewLegalHold {
            custodian_ids: vec![],
            channel_ids: vec![],
            ..new("Case 9")
        };
        assert!(matches!(
            store.create_hold(empty).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(
            store
                .holds(false)
                .await
                .unwrap()
                .iter()
                .any(|listed| listed == &hold)
        );
        assert_eq!(
            store.hold_by_name("Case 7").await.unwrap(),
            Some(hold.clone())
        );
        assert_eq!(store.hold_by_name("nope").await.unwrap(), None);

        let released = store.release_hold(hold.id, 30).await.unwrap();
        assert_eq!(released.released_at, Some(30));
        assert!(matches!(
            store.release_hold(hold.id, 31).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.release_hold(999_999, 31).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(
            store
                .holds(false)
                .await
                .unwrap()
                .iter()
                .all(|listed| listed.id != hold.id)
        );
        assert!(
            store
                .holds(true)
                .await
                .unwrap()
                .iter()
                .any(|listed| listed.id == hold.id)
        );
        assert_eq!(store.verify_journal().await.unwrap().map(|_| ()), Ok(()));
    }

    async fn retention_purges_expired_unheld_messages(&self) {
        let store = &*self.store;
        let kept_room = self
            .channel("legal", vec![self.dana.id, self.erin.id])
            .await;
        let doomed_room = self
            .channel("chatter", vec![self.dana.id, self.erin.id])
            .await;
        let forever_room = self.channel("records", vec![self.dana.id]).await;

        let held = self
            .post(&kept_room, &self.dana, "held PURGEMARK-A", None, LONG_AGO)
            .await;
        let attachment_id = self
            .attachment(&doomed_room, &self.erin, "abcdef0123")
            .await;
        let root = self
            .post_with(
                &doomed_room,
                &self.erin,
                "root PURGEMARK-B",
                None,
                LONG_AGO,
                vec![attachment_id],
            )
            .await;
        self.edit(&root, "root edited PURGEMARK-C", LONG_AGO + 1)
            .await;
        let reply = self
            .post(
                &doomed_room,
                &self.dana,
                "reply PURGEMARK-D",
                Some(root.id),
                LONG_AGO + 2,
            )
            .await;
        self.one(Command::SetReaction {
            message_id: reply.id,
            user_id: self.erin.id,
            emoji: "👍".into(),
            present: true,
            at: LONG_AGO + 3,
        })
        .await;
        // An old root with a recent reply stays until the reply expires too.
        let old_root = self
            .post(&doomed_room, &self.erin, "old root", None, LONG_AGO)
            .await;
        let recent_reply = self
            .post(
                &doomed_room,
                &self.dana,
                "recent reply",
                Some(old_root.id),
                NOW - DAY_MILLIS,
            )
            .await;
        let recent = self
            .post(
                &doomed_room,
                &self.dana,
                "recent PURGEMARK-E",
                None,
                NOW - DAY_MILLIS,
            )
            .await;
        let forever = self
            .post(&forever_room, &self.dana, "forever", None, LONG_AGO)
            .await;

        // Nothing is configured: everything is kept forever.
        let nothing = store.purge_expired(NOW).await.unwrap();
        assert_eq!(nothing.messages, 0);

        assert!(matches!(
            store
                .set_retention(RetentionScope::Global, Some(0), 1)
                .await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store
                .set_retention(RetentionScope::Channel(999_999), Some(5), 1)
                .await,
            Err(StoreError::NotFound(_))
        ));
        store
            .set_retention(RetentionScope::Global, Some(30), 1)
            .await
            .unwrap();
        store
            .set_retention(RetentionScope::Channel(forever_room.id), None, 1)
            .await
            .unwrap();
        store
            .set_retention(RetentionScope::Team("sales".into()), Some(7), 1)
            .await
            .unwrap();
        let policies = store.retention_policies().await.unwrap();
        assert_eq!(policies.len(), 3, "{policies:?}");
        assert!(
            policies
                .iter()
                .any(|p| p.scope == RetentionScope::Global && p.days == Some(30))
        );
        assert!(
            policies
                .iter()
                .any(|p| p.scope == RetentionScope::Channel(forever_room.id) && p.days.is_none())
        );
        store
            .set_retention(RetentionScope::Global, Some(31), 2)
            .await
            .unwrap();
        store
            .set_retention(RetentionScope::Global, Some(30), 3)
            .await
            .unwrap();
        assert_eq!(
            store.retention_policies().await.unwrap().len(),
            3,
            "setting again replaces"
        );

        store
            .create_hold(NewLegalHold {
                name: "Legal channel".into(),
                custodian_ids: vec![],
                channel_ids: vec![kept_room.id],
                from: None,
                to: None,
                created_at: 1,
            })
            .await
            .unwrap();

        let report = store.purge_expired(NOW).await.unwrap();
        assert_eq!(report.messages, 2, "{report:?}");
        assert_eq!(report.versions, 3, "{report:?}");
        assert_eq!(report.reactions, 1, "{report:?}");
        assert_eq!(report.attachments, 1, "{report:?}");
        assert_eq!(
            report.held, 2,
            "the held message and the old root: {report:?}"
        );
        assert_eq!(report.orphaned_blobs, vec!["sha256/abcdef0123".to_string()]);
        assert_eq!(
            (report.oldest, report.newest),
            (Some(LONG_AGO), Some(LONG_AGO + 2))
        );
        assert!(report.events_redacted >= 3, "{report:?}");

        for gone in [&root, &reply] {
            assert_eq!(store.message_by_id(gone.id).await.unwrap(), None);
            assert!(store.message_versions(gone.id).await.unwrap().is_empty());
        }
        for kept in [&held, &old_root, &recent_reply, &recent, &forever] {
            assert!(
                store.message_by_id(kept.id).await.unwrap().is_some(),
                "{} was purged",
                kept.text
            );
        }
        assert_eq!(
            store
                .message_by_id(old_root.id)
                .await
                .unwrap()
                .unwrap()
                .reply_count,
            1
        );
        assert_eq!(store.attachment_by_id(attachment_id).await.unwrap(), None);
        let journal = self.journal_text(&self.dana).await;
        for mark in ["PURGEMARK-B", "PURGEMARK-C", "PURGEMARK-D"] {
            assert!(!journal.contains(mark), "{mark} survived in the journal");
        }
        assert!(journal.contains("PURGEMARK-A") && journal.contains("PURGEMARK-E"));
        assert_eq!(
            store.verify_journal().await.unwrap().map(|_| ()),
            Ok(()),
            "the chain verifies after redaction"
        );

        // Running again purges nothing more.
        assert_eq!(store.purge_expired(NOW).await.unwrap().messages, 0);
        store
            .set_retention(RetentionScope::Global, None, 4)
            .await
            .unwrap();
    }

    async fn erasure_is_refused_under_hold_then_scrubs_everything(&self) {
        let store = &*self.store;
        let leaver = user(store, "leaver").await;
        let room = self
            .channel("erasure-room", vec![leaver.id, self.dana.id])
            .await;
        let attachment_id = self.attachment(&room, &leaver, "feedbeef01").await;
        let first = self
            .post_with(
                &room,
                &leaver,
                "ERASEMARK one",
                None,
                LONG_AGO,
                vec![attachment_id],
            )
            .await;
        self.edit(&first, "ERASEMARK one, edited", LONG_AGO + 1)
            .await;
        let other = self
            .post(
                &room,
                &self.dana,
                "dana stays",
                Some(first.id),
                LONG_AGO + 2,
            )
            .await;
        self.one(Command::DeactivateUser {
            user_id: leaver.id,
            at: LONG_AGO + 3,
        })
        .await;

        let hold = store
            .create_hold(NewLegalHold {
                name: "Leaver hold".into(),
                custodian_ids: vec![leaver.id],
                channel_ids: vec![],
                from: None,
                to: None,
                created_at: 1,
            })
            .await
            .unwrap();
        assert_eq!(
            store.erase_user(leaver.id, NOW).await.unwrap(),
            ErasureOutcome::RefusedByHold {
                hold: "Leaver hold".into()
            }
        );
        assert_eq!(
            store.message_by_id(first.id).await.unwrap().unwrap().text,
            "ERASEMARK one, edited"
        );
        store.release_hold(hold.id, 2).await.unwrap();

        // A channel hold over what they wrote also refuses.
        let channel_hold = store
            .create_hold(NewLegalHold {
                name: "Room hold".into(),
                custodian_ids: vec![],
                channel_ids: vec![room.id],
                from: Some(LONG_AGO),
                to: Some(LONG_AGO + 1),
                created_at: 1,
            })
            .await
            .unwrap();
        assert_eq!(
            store.erase_user(leaver.id, NOW).await.unwrap(),
            ErasureOutcome::RefusedByHold {
                hold: "Room hold".into()
            }
        );
        store.release_hold(channel_hold.id, 3).await.unwrap();

        // A sealed copy of their words taken before the erasure, as a
        // backup would hold it; and one of someone who stays.
        let keyring = store.keyring();
        let copy = keyring
            .seal_text(leaver.id, "ERASEMARK in a backup")
            .unwrap();
        let stays = keyring
            .seal_text(other.author_id, "dana in a backup")
            .unwrap();
        assert!(keyring.has_key(leaver.id).unwrap());

        let ErasureOutcome::Erased(report) = store.erase_user(leaver.id, NOW).await.unwrap() else {
            panic!("erasure refused without a hold");
        };
        // Crypto-shredding: the key is gone, so no copy can be opened.
        assert_eq!(report.keys_destroyed, 1, "{report:?}");
        assert!(!keyring.has_key(leaver.id).unwrap());
        assert!(matches!(
            keyring.open_text(&copy),
            Err(crate::KeyError::Shredded(_))
        ));
        assert_eq!(keyring.open_text(&stays).unwrap(), "dana in a backup");
        assert_eq!(
            (report.messages, report.versions, report.attachments),
            (1, 2, 1),
            "{report:?}"
        );
        assert_eq!(report.orphaned_blobs, vec!["sha256/feedbeef01".to_string()]);
        let erased = store.message_by_id(first.id).await.unwrap().unwrap();
        assert_eq!(erased.text, "");
        assert!(erased.deleted_at.is_some());
        assert!(erased.attachments.is_empty());
        assert!(
            store
                .message_versions(first.id)
                .await
                .unwrap()
                .iter()
                .all(|version| version.text.is_empty())
        );
        assert_eq!(
            store.message_by_id(other.id).await.unwrap().unwrap().text,
            "dana stays"
        );
        let profile = store.user_by_id(leaver.id).await.unwrap().unwrap();
        assert!(!profile.active);
        assert!(
            !profile.email.contains("leaver") && !profile.name.contains("leaver"),
            "{profile:?}"
        );
        assert_eq!(
            store.user_by_email("leaver@example.com").await.unwrap(),
            None
        );
        let journal = self.journal_text(&self.dana).await;
        assert!(
            !journal.contains("ERASEMARK"),
            "erased text survived in the journal"
        );
        let own_events = store.events_for_user(leaver.id, 0, 100_000).await.unwrap();
        for event in own_events {
            if let EventPayload::UserDeactivated { user } = &event.payload {
                assert!(
                    !user.email.contains("leaver"),
                    "the deactivation entry still names them"
                );
            }
        }
        assert_eq!(store.verify_journal().await.unwrap().map(|_| ()), Ok(()));
        assert!(matches!(
            store.erase_user(999_999, NOW).await,
            Err(StoreError::NotFound(_))
        ));
    }

    async fn export_selects_by_custodian_channel_and_range(&self) {
        let store = &*self.store;
        let frank = user(store, "frank").await;
        let gwen = user(store, "gwen").await;
        let shared = self.channel("export-shared", vec![frank.id, gwen.id]).await;
        let gwen_only = self.channel("export-gwen", vec![gwen.id]).await;
        let base = NOW + 1_000;
        let first = self.post(&shared, &frank, "first", None, base).await;
        self.edit(&first, "first, edited", base + 1).await;
        self.one(Command::DeleteMessage {
            message_id: first.id,
            actor_id: frank.id,
            at: base + 2,
        })
        .await;
        let second = self
            .post(&shared, &gwen, "second", Some(first.id), base + 3)
            .await;
        let third = self.post(&gwen_only, &gwen, "third", None, base + 4).await;
        self.one(Command::SetMembership {
            channel_id: shared.id,
            user_id: self.erin.id,
            actor_id: self.owner.id,
            member: true,
            at: base + 5,
        })
        .await;

        let by_frank = ExportFilter {
            custodian_ids: vec![frank.id],
            from: Some(base),
            ..ExportFilter::default()
        };
        let channels = store.export_channels(&by_frank).await.unwrap();
        assert_eq!(
            channels.iter().map(|c| c.channel.id).collect::<Vec<_>>(),
            vec![shared.id]
        );
        assert!(
            channels[0].member_ids.contains(&frank.id) && channels[0].member_ids.contains(&gwen.id)
        );
        let page = store
            .export_messages(&by_frank, shared.id, 0, 1)
            .await
            .unwrap();
        assert_eq!(page.len(), 1);
        let archived = &page[0];
        assert_eq!(archived.message.id, first.id);
        assert_eq!(
            archived.message.text, "first, edited",
            "the archive keeps a deleted message's text"
        );
        assert_eq!(archived.message.deleted_at, Some(base + 2));
        assert_eq!(archived.deleted_by, Some(frank.id));
        assert_eq!(
            archived
                .versions
                .iter()
                .map(|v| (v.version, v.text.as_str(), v.created_at))
                .collect::<Vec<_>>(),
            vec![(1, "first", base), (2, "first, edited", base + 1)]
        );
        let next = store
            .export_messages(&by_frank, shared.id, first.id, 100)
            .await
            .unwrap();
        assert_eq!(
            next.iter().map(|m| m.message.id).collect::<Vec<_>>(),
            vec![second.id],
            "received messages count"
        );
        assert_eq!(next[0].message.thread_id, Some(first.id));

        let by_gwen = ExportFilter {
            custodian_ids: vec![gwen.id],
            from: Some(base),
            ..ExportFilter::default()
        };
        let ids: Vec<i64> = store
            .export_channels(&by_gwen)
            .await
            .unwrap()
            .iter()
            .map(|c| c.channel.id)
            .collect();
        assert_eq!(ids, vec![shared.id, gwen_only.id]);
        let narrowed = ExportFilter {
            channel_ids: vec![gwen_only.id],
            ..by_gwen.clone()
        };
        assert_eq!(store.export_channels(&narrowed).await.unwrap().len(), 1);
        let ranged = ExportFilter {
            from: Some(base + 3),
            to: Some(base + 4),
            ..by_gwen
        };
        let in_range = store
            .export_messages(&ranged, shared.id, 0, 100)
            .await
            .unwrap();
        assert_eq!(
            in_range.iter().map(|m| m.message.id).collect::<Vec<_>>(),
            vec![second.id]
        );
        assert!(
            store
                .export_messages(&ranged, gwen_only.id, 0, 100)
                .await
                .unwrap()
                .is_empty()
        );
        let _ = third;

        let changes = store
            .membership_changes(shared.id, None, None)
            .await
            .unwrap();
        assert!(changes.iter().any(|c| c.user_id == frank.id && c.joined));
        assert!(
            changes
                .iter()
                .any(|c| c.user_id == self.erin.id && c.joined && c.at == base + 5)
        );
        let later = store
            .membership_changes(shared.id, Some(base), None)
            .await
            .unwrap();
        assert_eq!(later.len(), 1, "{later:?}");
    }

    async fn journal_checkpoints(&self) {
        let store = &*self.store;
        let (position, hash) = store.journal_head().await.unwrap();
        assert_eq!(position, store.head_position().await.unwrap());
        assert_eq!(
            store.journal_hash_at(position).await.unwrap(),
            Some(hash.clone())
        );
        assert_eq!(store.journal_hash_at(position + 1).await.unwrap(), None);
        assert_eq!(hash.len(), 64);
        assert_eq!(
            store.verify_journal().await.unwrap(),
            Ok(u64::try_from(position).unwrap())
        );
    }
}
