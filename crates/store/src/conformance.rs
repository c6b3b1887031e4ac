//! The conformance suite every backend runs: one story through the whole
//! [`Store`] contract. Each backend's tests call [`run_all`] with a store on
//! an empty database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use conclave_domain::command::OutcomeValue;
use conclave_domain::{
    AuditFilter, Channel, ChannelKind, Command, EventPayload, Message, NewAttachment,
    NewAuditEntry, NewSession, NewUser, Page, Role, User,
};

use crate::{Store, StoreError};

/// Runs every check against `store`, which must start empty.
pub async fn run_all(store: Arc<dyn Store>) {
    let story = Story::new(store).await;
    story.users_and_sessions().await;
    story.channels_and_membership().await;
    story.messages_threads_edits_deletes().await;
    story.reactions_pins_and_idempotency().await;
    story.pagination().await;
    story.unread_and_mentions().await;
    story.event_visibility().await;
    story.attachments().await;
    story.failed_command_does_not_spoil_the_batch().await;
    story.deactivation().await;
    story.journal_is_intact().await;
    story.audit_log().await;
}

struct Story {
    store: Arc<dyn Store>,
    alice: User,
    bob: User,
    carol: User,
}

async fn user(store: &dyn Store, handle: &str, role: Role) -> User {
    store
        .create_user(NewUser {
            email: format!("{handle}@example.com"),
            handle: handle.to_string(),
            name: format!("{handle} Example"),
            role,
            password_hash: Some("hash".into()),
            created_at: 1_000,
        })
        .await
        .expect("create user")
}

impl Story {
    async fn new(store: Arc<dyn Store>) -> Story {
        let alice = user(&*store, "alice", Role::Owner).await;
        let bob = user(&*store, "bob", Role::Member).await;
        let carol = user(&*store, "carol", Role::Member).await;
        Story {
            store,
            alice,
            bob,
            carol,
        }
    }

    async fn one(&self, command: Command) -> crate::StoreResult<conclave_domain::Outcome> {
        self.store
            .apply(vec![command])
            .await
            .expect("batch")
            .pop()
            .expect("one outcome")
    }

    async fn channel(&self, name: &str, kind: ChannelKind, members: Vec<i64>) -> Channel {
        match self
            .one(Command::CreateChannel {
                kind,
                name: name.into(),
                topic: String::new(),
                creator_id: self.alice.id,
                member_ids: members,
                conversation_key: None,
                read_only: false,
                at: 2_000,
            })
            .await
            .expect("create channel")
            .result
        {
            OutcomeValue::Channel(channel) => channel,
            other => panic!("expected a channel, got {other:?}"),
        }
    }

    async fn post(
        &self,
        channel: &Channel,
        author: &User,
        text: &str,
        thread_id: Option<i64>,
    ) -> Message {
        self.post_with(channel, author, text, thread_id, vec![], None)
            .await
            .expect("post")
    }

    async fn post_with(
        &self,
        channel: &Channel,
        author: &User,
        text: &str,
        thread_id: Option<i64>,
        mentions: Vec<i64>,
        client_id: Option<&str>,
    ) -> crate::StoreResult<Message> {
        let outcome = self
            .one(Command::PostMessage {
                channel_id: channel.id,
                author_id: author.id,
                thread_id,
                text: text.into(),
                mentions,
                attachment_ids: vec![],
                client_id: client_id.map(str::to_string),
                at: 3_000,
            })
            .await?;
        match outcome.result {
            OutcomeValue::Message(message) => Ok(message),
            other => panic!("expected a message, got {other:?}"),
        }
    }

    async fn users_and_sessions(&self) {
        let store = &*self.store;
        assert_eq!(store.count_users().await.unwrap(), 3);
        let again = store
            .create_user(NewUser {
                email: "alice@example.com".into(),
                handle: "alice2".into(),
                name: "Dup".into(),
                role: Role::Member,
                password_hash: None,
                created_at: 1,
            })
            .await;
        assert!(
            matches!(again, Err(StoreError::Conflict(_))),
            "duplicate email: {again:?}"
        );
        assert_eq!(
            store
                .user_by_email("bob@example.com")
                .await
                .unwrap()
                .unwrap()
                .id,
            self.bob.id
        );
        assert_eq!(
            store.password_hash(self.bob.id).await.unwrap().as_deref(),
            Some("hash")
        );
        let found = store
            .users_by_handles(&["bob".into(), "carol".into(), "nobody".into()])
            .await
            .unwrap();
        assert_eq!(
            found.iter().map(|u| u.id).collect::<Vec<_>>(),
            vec![self.bob.id, self.carol.id]
        );
        let search = store.search_users("CAR", 10).await.unwrap();
        assert_eq!(search.len(), 1);
        assert_eq!(search[0].id, self.carol.id);
        // A LIKE wildcard in the query matches literally.
        assert!(store.search_users("%", 10).await.unwrap().is_empty());

        let session = store
            .create_session(NewSession {
                token_hash: "t1".into(),
                user_id: self.bob.id,
                created_at: 10,
                expires_at: 1_000_000,
                user_agent: Some("test".into()),
                address: Some("127.0.0.1".into()),
            })
            .await
            .unwrap();
        let (found, user) = store
            .session_by_token_hash("t1", 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((found.id, user.id), (session.id, self.bob.id));
        assert!(
            store
                .session_by_token_hash("t1", 2_000_000)
                .await
                .unwrap()
                .is_none(),
            "expired"
        );
        assert_eq!(
            store.list_sessions(self.bob.id, 100).await.unwrap().len(),
            1
        );
        store.revoke_session(session.id, 200).await.unwrap();
        assert!(
            store
                .session_by_token_hash("t1", 300)
                .await
                .unwrap()
                .is_none(),
            "revoked"
        );
    }

    async fn channels_and_membership(&self) {
        let general = self
            .channel("general", ChannelKind::Public, vec![self.bob.id])
            .await;
        let duplicate = self
            .one(Command::CreateChannel {
                kind: ChannelKind::Private,
                name: "general".into(),
                topic: String::new(),
                creator_id: self.bob.id,
                member_ids: vec![],
                conversation_key: None,
                read_only: false,
                at: 1,
            })
            .await;
        assert!(
            matches!(duplicate, Err(StoreError::Conflict(_))),
            "{duplicate:?}"
        );
        let store = &*self.store;
        assert_eq!(
            store.channel_member_ids(general.id).await.unwrap(),
            vec![self.alice.id, self.bob.id]
        );
        assert!(
            store
                .membership(general.id, self.carol.id)
                .await
                .unwrap()
                .is_none()
        );

        let joined = self
            .one(Command::SetMembership {
                channel_id: general.id,
                user_id: self.carol.id,
                actor_id: self.carol.id,
                member: true,
                at: 5,
            })
            .await
            .unwrap();
        assert_eq!(joined.events.len(), 1);
        let again = self
            .one(Command::SetMembership {
                channel_id: general.id,
                user_id: self.carol.id,
                actor_id: self.carol.id,
                member: true,
                at: 6,
            })
            .await
            .unwrap();
        assert!(again.events.is_empty(), "joining twice changes nothing");
        assert!(
            store
                .user_channel_ids(self.carol.id)
                .await
                .unwrap()
                .contains(&general.id)
        );

        let renamed = self
            .one(Command::UpdateChannel {
                channel_id: general.id,
                actor_id: self.alice.id,
                name: None,
                topic: Some("Company-wide".into()),
                archived: None,
                at: 7,
            })
            .await
            .unwrap();
        match renamed.result {
            OutcomeValue::Channel(channel) => {
                assert_eq!(channel.topic, "Company-wide");
                assert_eq!(channel.name, "general");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            store.channel_by_name("general").await.unwrap().unwrap().id,
            general.id
        );
        let public = store.public_channels().await.unwrap();
        assert!(
            public
                .iter()
                .any(|p| p.channel.id == general.id && p.member_count == 3)
        );

        let direct = self
            .one(Command::CreateChannel {
                kind: ChannelKind::Direct,
                name: String::new(),
                topic: String::new(),
                creator_id: self.alice.id,
                member_ids: vec![self.alice.id, self.bob.id],
                conversation_key: Some("1:2".into()),
                read_only: false,
                at: 8,
            })
            .await
            .unwrap();
        let OutcomeValue::Channel(direct) = direct.result else {
            panic!()
        };
        assert_eq!(
            store.conversation_by_key("1:2").await.unwrap().unwrap().id,
            direct.id
        );
        assert_eq!(
            store.conversation_partner_ids(self.alice.id).await.unwrap(),
            vec![self.bob.id]
        );
        assert_eq!(
            store.conversation_partner_ids(self.bob.id).await.unwrap(),
            vec![self.alice.id]
        );
        assert!(
            store
                .conversation_partner_ids(self.carol.id)
                .await
                .unwrap()
                .is_empty(),
            "channels are not conversations"
        );
        let again = self
            .one(Command::CreateChannel {
                kind: ChannelKind::Direct,
                name: String::new(),
                topic: String::new(),
                creator_id: self.bob.id,
                member_ids: vec![self.alice.id, self.bob.id],
                conversation_key: Some("1:2".into()),
                read_only: false,
                at: 9,
            })
            .await;
        assert!(matches!(again, Err(StoreError::Conflict(_))));

        // Officers name every public and private channel, never a direct
        // conversation.
        let secret = self
            .channel("board-room", ChannelKind::Private, vec![self.bob.id])
            .await;
        let named = store.named_channels().await.unwrap();
        let ids: Vec<_> = named.iter().map(|entry| entry.channel.id).collect();
        assert!(
            ids.contains(&general.id) && ids.contains(&secret.id),
            "{ids:?}"
        );
        assert!(!ids.contains(&direct.id));
        let names: Vec<&str> = named
            .iter()
            .map(|entry| entry.channel.name.as_str())
            .collect();
        assert!(names.is_sorted(), "{names:?}");
        assert!(
            !store
                .public_channels()
                .await
                .unwrap()
                .iter()
                .any(|entry| entry.channel.id == secret.id)
        );
    }

    async fn messages_threads_edits_deletes(&self) {
        let room = self
            .channel("threads", ChannelKind::Private, vec![self.bob.id])
            .await;
        let root = self.post(&room, &self.alice, "root", None).await;
        let reply = self.post(&room, &self.bob, "reply", Some(root.id)).await;
        assert_eq!(reply.thread_id, Some(root.id));
        // A reply to a reply joins the root's thread.
        let nested = self
            .post(&room, &self.alice, "nested", Some(reply.id))
            .await;
        assert_eq!(nested.thread_id, Some(root.id));
        let store = &*self.store;
        let root_now = store.message_by_id(root.id).await.unwrap().unwrap();
        assert_eq!(root_now.reply_count, 2);
        assert!(root_now.last_reply_at.is_some());

        let (thread, _, _) = store
            .messages(room.id, Some(root.id), Page::Latest, 50)
            .await
            .unwrap();
        assert_eq!(
            thread.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![root.id, reply.id, nested.id]
        );
        let (top, _, _) = store
            .messages(room.id, None, Page::Latest, 50)
            .await
            .unwrap();
        assert_eq!(
            top.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![root.id],
            "replies stay in the thread"
        );

        let other = self.channel("elsewhere", ChannelKind::Public, vec![]).await;
        let cross = self
            .post_with(&other, &self.alice, "x", Some(root.id), vec![], None)
            .await;
        assert!(
            matches!(cross, Err(StoreError::NotFound(_))),
            "a thread in another channel: {cross:?}"
        );

        let edited = self
            .one(Command::EditMessage {
                message_id: root.id,
                editor_id: self.alice.id,
                text: "root, edited".into(),
                mentions: vec![self.bob.id],
                at: 4_000,
            })
            .await
            .unwrap();
        let OutcomeValue::Message(edited_message) = &edited.result else {
            panic!()
        };
        assert_eq!(edited_message.text, "root, edited");
        assert_eq!(edited_message.edited_at, Some(4_000));
        assert_eq!(edited_message.mentions, vec![self.bob.id]);
        match &edited.events[0].payload {
            EventPayload::MessageEdited { previous_text, .. } => assert_eq!(previous_text, "root"),
            other => panic!("{other:?}"),
        }
        let versions = store.message_versions(root.id).await.unwrap();
        assert_eq!(
            versions.iter().map(|v| v.text.as_str()).collect::<Vec<_>>(),
            vec!["root", "root, edited"]
        );

        self.one(Command::DeleteMessage {
            message_id: reply.id,
            actor_id: self.bob.id,
            at: 5_000,
        })
        .await
        .unwrap();
        let deleted = store.message_by_id(reply.id).await.unwrap().unwrap();
        assert_eq!(deleted.deleted_at, Some(5_000));
        assert_eq!(
            deleted.text, "reply",
            "the store keeps deleted text for compliance"
        );
        assert_eq!(deleted.clone().redacted_for_members().text, "");
        assert_eq!(
            store
                .message_by_id(root.id)
                .await
                .unwrap()
                .unwrap()
                .reply_count,
            1
        );
        let edit_deleted = self
            .one(Command::EditMessage {
                message_id: reply.id,
                editor_id: self.bob.id,
                text: "sneaky".into(),
                mentions: vec![],
                at: 6_000,
            })
            .await;
        assert!(matches!(edit_deleted, Err(StoreError::Invalid(_))));
    }

    async fn reactions_pins_and_idempotency(&self) {
        let room = self
            .channel("reactions", ChannelKind::Public, vec![self.bob.id])
            .await;
        let message = self.post(&room, &self.alice, "react to me", None).await;
        let clock = std::sync::atomic::AtomicI64::new(10);
        let react = |user: i64, emoji: &str, present: bool| Command::SetReaction {
            message_id: message.id,
            user_id: user,
            emoji: emoji.into(),
            present,
            at: clock.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        };
        assert_eq!(
            self.one(react(self.bob.id, "👍", true))
                .await
                .unwrap()
                .events
                .len(),
            1
        );
        assert!(
            self.one(react(self.bob.id, "👍", true))
                .await
                .unwrap()
                .events
                .is_empty(),
            "idempotent"
        );
        self.one(react(self.alice.id, "👍", true)).await.unwrap();
        self.one(react(self.alice.id, ":tada:", true))
            .await
            .unwrap();
        let now = self.store.message_by_id(message.id).await.unwrap().unwrap();
        assert_eq!(now.reactions.len(), 2);
        assert_eq!(now.reactions[0].emoji, "👍");
        assert_eq!(now.reactions[0].user_ids.len(), 2);
        self.one(react(self.alice.id, ":tada:", false))
            .await
            .unwrap();
        assert_eq!(
            self.store
                .message_by_id(message.id)
                .await
                .unwrap()
                .unwrap()
                .reactions
                .len(),
            1
        );

        let pin = self
            .one(Command::SetPinned {
                message_id: message.id,
                actor_id: self.bob.id,
                pinned: true,
                at: 11,
            })
            .await
            .unwrap();
        assert_eq!(pin.events.len(), 1);
        let pins = self.store.pinned_messages(room.id).await.unwrap();
        assert_eq!(
            pins.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![message.id]
        );

        let first = self
            .post_with(&room, &self.bob, "once", None, vec![], Some("c-1"))
            .await
            .unwrap();
        let second = self
            .post_with(&room, &self.bob, "once", None, vec![], Some("c-1"))
            .await
            .unwrap();
        assert_eq!(first.id, second.id, "a retried send is not posted twice");
        assert_eq!(
            self.store
                .message_by_client_id(self.bob.id, "c-1")
                .await
                .unwrap()
                .unwrap()
                .id,
            first.id
        );
        // The same client id from another author is another message.
        let other = self
            .post_with(&room, &self.alice, "mine", None, vec![], Some("c-1"))
            .await
            .unwrap();
        assert_ne!(other.id, first.id);
    }

    async fn pagination(&self) {
        let room = self.channel("history", ChannelKind::Public, vec![]).await;
        let mut ids = Vec::new();
        for n in 0..120 {
            ids.push(
                self.post(&room, &self.alice, &format!("m{n}"), None)
                    .await
                    .id,
            );
        }
        let store = &*self.store;
        let (latest, before, after) = store
            .messages(room.id, None, Page::Latest, 50)
            .await
            .unwrap();
        assert_eq!(
            latest.iter().map(|m| m.id).collect::<Vec<_>>(),
            ids[70..].to_vec()
        );
        assert!(before && !after);
        let (older, before, after) = store
            .messages(room.id, None, Page::Before(ids[70]), 50)
            .await
            .unwrap();
        assert_eq!(
            older.iter().map(|m| m.id).collect::<Vec<_>>(),
            ids[20..70].to_vec()
        );
        assert!(before && after);
        let (oldest, before, _) = store
            .messages(room.id, None, Page::Before(ids[20]), 50)
            .await
            .unwrap();
        assert_eq!(oldest.len(), 20);
        assert!(!before);
        let (newer, _, after) = store
            .messages(room.id, None, Page::After(ids[100]), 50)
            .await
            .unwrap();
        assert_eq!(
            newer.iter().map(|m| m.id).collect::<Vec<_>>(),
            ids[101..].to_vec()
        );
        assert!(!after);
        let (around, before, after) = store
            .messages(room.id, None, Page::Around(ids[60]), 10)
            .await
            .unwrap();
        assert_eq!(
            around.iter().map(|m| m.id).collect::<Vec<_>>(),
            ids[55..65].to_vec()
        );
        assert!(around.iter().any(|m| m.id == ids[60]));
        assert!(before && after);
    }

    async fn unread_and_mentions(&self) {
        let room = self
            .channel("unread", ChannelKind::Private, vec![self.bob.id])
            .await;
        let first = self.post(&room, &self.alice, "one", None).await;
        self.post_with(
            &room,
            &self.alice,
            "@bob two",
            None,
            vec![self.bob.id],
            None,
        )
        .await
        .unwrap();
        let third = self.post(&room, &self.alice, "three", None).await;
        self.post(&room, &self.bob, "my own", None).await;
        let summary = self
            .store
            .channel_summary(self.bob.id, room.id)
            .await
            .unwrap()
            .unwrap();
        // Bob's own post moved his marker past everything before it.
        assert_eq!(summary.unread_count, 0);
        self.one(Command::MarkRead {
            channel_id: room.id,
            user_id: self.bob.id,
            message_id: first.id,
            at: 1,
        })
        .await
        .unwrap();
        let summary = self
            .store
            .channel_summary(self.bob.id, room.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(summary.unread_count, 2, "two of alice's after the marker");
        assert_eq!(summary.mention_count, 1);
        assert_eq!(summary.last_read_message_id, first.id);
        self.one(Command::DeleteMessage {
            message_id: third.id,
            actor_id: self.alice.id,
            at: 2,
        })
        .await
        .unwrap();
        let summary = self
            .store
            .channel_summary(self.bob.id, room.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(summary.unread_count, 1, "deleted messages are not unread");
        let sidebar = self.store.channel_summaries(self.bob.id).await.unwrap();
        assert!(
            sidebar
                .iter()
                .any(|s| s.channel.id == room.id && s.unread_count == 1)
        );
        assert!(sidebar.iter().all(|s| s.member_ids.contains(&self.bob.id)));
    }

    async fn event_visibility(&self) {
        let store = &*self.store;
        let start = store.head_position().await.unwrap();
        let secret = self
            .channel("secret", ChannelKind::Private, vec![self.bob.id])
            .await;
        let message = self
            .post(&secret, &self.bob, "for members only", None)
            .await;
        self.one(Command::MarkRead {
            channel_id: secret.id,
            user_id: self.bob.id,
            message_id: message.id,
            at: 1,
        })
        .await
        .unwrap();
        let carol_sees = store
            .events_for_user(self.carol.id, start, 100)
            .await
            .unwrap();
        assert!(
            carol_sees.is_empty(),
            "a non-member sees nothing: {carol_sees:?}"
        );
        let alice_sees = store
            .events_for_user(self.alice.id, start, 100)
            .await
            .unwrap();
        assert_eq!(
            alice_sees
                .iter()
                .map(|e| e.payload.kind())
                .collect::<Vec<_>>(),
            vec!["channel_created", "message_created"],
            "bob's read marker is his alone"
        );
        let bob_sees = store
            .events_for_user(self.bob.id, start, 100)
            .await
            .unwrap();
        assert_eq!(bob_sees.len(), 3);
        assert!(
            bob_sees.windows(2).all(|w| w[0].position < w[1].position),
            "in order"
        );

        self.one(Command::SetMembership {
            channel_id: secret.id,
            user_id: self.bob.id,
            actor_id: self.bob.id,
            member: false,
            at: 2,
        })
        .await
        .unwrap();
        let after_leaving = store
            .events_for_user(self.bob.id, bob_sees[2].position, 100)
            .await
            .unwrap();
        assert_eq!(after_leaving.len(), 1);
        assert_eq!(
            after_leaving[0].payload.kind(),
            "member_left",
            "the leaver learns they left"
        );
        self.post(&secret, &self.alice, "after bob left", None)
            .await;
        let later = store
            .events_for_user(self.bob.id, after_leaving[0].position, 100)
            .await
            .unwrap();
        assert!(later.is_empty(), "nothing after leaving: {later:?}");
        assert_eq!(
            store
                .events_for_user(self.alice.id, start, 2)
                .await
                .unwrap()
                .len(),
            2,
            "limit"
        );
        assert!(store.head_position().await.unwrap() > start);
    }

    async fn attachments(&self) {
        let room = self
            .channel("files", ChannelKind::Private, vec![self.bob.id])
            .await;
        let new = |uploader: i64| NewAttachment {
            uploader_id: uploader,
            channel_id: room.id,
            name: "photo.png".into(),
            content_type: "image/png".into(),
            size: 10,
            sha256: "ab".into(),
            storage_key: "k".into(),
            thumbnail_key: Some("t".into()),
            width: Some(4),
            height: Some(3),
            created_at: 1,
        };
        let mine = self
            .store
            .create_attachment(new(self.bob.id))
            .await
            .unwrap();
        let theirs = self
            .store
            .create_attachment(new(self.alice.id))
            .await
            .unwrap();
        let post = |ids: Vec<i64>| Command::PostMessage {
            channel_id: room.id,
            author_id: self.bob.id,
            thread_id: None,
            text: String::new(),
            mentions: vec![],
            attachment_ids: ids,
            client_id: None,
            at: 2,
        };
        let stolen = self.one(post(vec![theirs.id])).await;
        assert!(matches!(stolen, Err(StoreError::Invalid(_))), "{stolen:?}");
        let posted = self.one(post(vec![mine.id])).await.unwrap();
        let OutcomeValue::Message(message) = posted.result else {
            panic!()
        };
        assert_eq!(message.attachments.len(), 1);
        assert_eq!(message.attachments[0].width, Some(4));
        let stored = self.store.attachment_by_id(mine.id).await.unwrap().unwrap();
        assert_eq!(stored.message_id, Some(message.id));
        let reused = self.one(post(vec![mine.id])).await;
        assert!(
            matches!(reused, Err(StoreError::Invalid(_))),
            "an attachment belongs to one message"
        );
    }

    async fn failed_command_does_not_spoil_the_batch(&self) {
        let room = self.channel("batch", ChannelKind::Public, vec![]).await;
        let post = |channel_id: i64, text: &str| Command::PostMessage {
            channel_id,
            author_id: self.alice.id,
            thread_id: None,
            text: text.into(),
            mentions: vec![],
            attachment_ids: vec![],
            client_id: None,
            at: 1,
        };
        let before = self.store.head_position().await.unwrap();
        let outcomes = self
            .store
            .apply(vec![
                post(room.id, "a"),
                post(999_999, "lost"),
                post(room.id, "b"),
            ])
            .await
            .unwrap();
        assert!(outcomes[0].is_ok());
        assert!(matches!(outcomes[1], Err(StoreError::NotFound(_))));
        assert!(outcomes[2].is_ok());
        let positions: Vec<i64> = outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .map(|o| o.events[0].position)
            .collect();
        assert_eq!(
            positions,
            vec![before + 1, before + 2],
            "no gap where the failure was"
        );
    }

    async fn deactivation(&self) {
        let store = &*self.store;
        store
            .create_session(NewSession {
                token_hash: "carol-token".into(),
                user_id: self.carol.id,
                created_at: 1,
                expires_at: i64::MAX,
                user_agent: None,
                address: None,
            })
            .await
            .unwrap();
        assert!(
            store
                .session_by_token_hash("carol-token", 2)
                .await
                .unwrap()
                .is_some()
        );
        let outcome = self
            .one(Command::DeactivateUser {
                user_id: self.carol.id,
                at: 50_000,
            })
            .await
            .unwrap();
        assert_eq!(outcome.events.len(), 1);
        assert!(
            store
                .session_by_token_hash("carol-token", 2)
                .await
                .unwrap()
                .is_none()
        );
        let carol = store.user_by_id(self.carol.id).await.unwrap().unwrap();
        assert!(!carol.active);
        assert_eq!(carol.deactivated_at, Some(50_000));
        assert_eq!(
            store.deactivated_since(40_000).await.unwrap(),
            vec![(self.carol.id, 50_000)]
        );
        assert!(store.deactivated_since(60_000).await.unwrap().is_empty());
        let again = self
            .one(Command::DeactivateUser {
                user_id: self.carol.id,
                at: 60_000,
            })
            .await
            .unwrap();
        assert!(again.events.is_empty());
        assert!(
            store.search_users("carol", 10).await.unwrap().is_empty(),
            "inactive users are not offered"
        );
    }

    async fn journal_is_intact(&self) {
        let checked = self
            .store
            .verify_journal()
            .await
            .unwrap()
            .expect("intact chain");
        assert_eq!(
            checked,
            u64::try_from(self.store.head_position().await.unwrap()).unwrap()
        );
        self.store.ping().await.unwrap();
    }

    async fn audit_log(&self) {
        let store = &*self.store;
        let entry = |at: i64, action: &str, actor: Option<i64>, target: &str| NewAuditEntry {
            at,
            actor_id: actor,
            actor_label: if actor.is_some() {
                "user".into()
            } else {
                "cli".into()
            },
            action: action.into(),
            target_kind: "user".into(),
            target_id: Some(target.into()),
            address: Some("127.0.0.1".into()),
            before: Some(r#"{"active":true}"#.into()),
            after: Some(r#"{"active":false}"#.into()),
        };
        let first = store
            .append_audit(entry(100, "user.create", None, "7"))
            .await
            .unwrap();
        assert!(first.id > 0);
        assert_eq!(first.before.as_deref(), Some(r#"{"active":true}"#));
        store
            .append_audit(entry(200, "user.deactivate", Some(self.alice.id), "7"))
            .await
            .unwrap();
        store
            .append_audit(entry(300, "hold.create", Some(self.alice.id), "1"))
            .await
            .unwrap();
        let all = store
            .audit_entries(AuditFilter {
                limit: 100,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(
            all.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            vec!["hold.create", "user.deactivate", "user.create"],
            "newest first"
        );
        let users = store
            .audit_entries(AuditFilter {
                action: Some("user.".into()),
                limit: 100,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(users.len(), 2, "a prefix ending in a dot");
        let exact = store
            .audit_entries(AuditFilter {
                action: Some("user".into()),
                limit: 100,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert!(
            exact.is_empty(),
            "without the dot the action must match exactly"
        );
        let by_actor = store
            .audit_entries(AuditFilter {
                actor_id: Some(self.alice.id),
                from: Some(250),
                limit: 100,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(by_actor.len(), 1);
        assert_eq!(by_actor[0].action, "hold.create");
        let page = store
            .audit_entries(AuditFilter {
                before_id: Some(all[0].id),
                limit: 1,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].action, "user.deactivate");
        let target = store
            .audit_entries(AuditFilter {
                target_kind: Some("user".into()),
                target_id: Some("7".into()),
                to: Some(150),
                limit: 100,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(target.len(), 1);
    }
}
