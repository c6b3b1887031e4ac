//! The incoming-webhook feature's part of the conformance suite; each
//! backend's tests/conformance.rs runs it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use conclave_domain::command::OutcomeValue;
use conclave_domain::webhook::{NewIncomingWebhook, WEBHOOK_EMAIL_DOMAIN};
use conclave_domain::{ChannelKind, Command, NewUser, Role};

use crate::{Store, StoreError};

/// Hooks are created with a bot user that cannot sign in, found by token
/// hash until revoked, listed per channel, and revoked once.
pub async fn run(store: Arc<dyn Store>) {
    let creator = store
        .create_user(NewUser {
            email: "hooks_creator@example.com".into(),
            handle: "hooks_creator".into(),
            name: "Hook Creator".into(),
            role: Role::Member,
            password_hash: Some("hash".into()),
            created_at: 1_000,
        })
        .await
        .expect("create user");
    let outcome = store
        .apply(vec![Command::CreateChannel {
            kind: ChannelKind::Public,
            name: "hooks-conformance".into(),
            topic: String::new(),
            creator_id: creator.id,
            member_ids: vec![],
            conversation_key: None,
            read_only: false,
            at: 1_000,
        }])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    let OutcomeValue::Channel(channel) = outcome.result else {
        panic!("expected a channel");
    };

    let new = |name: &str, hash: &str| NewIncomingWebhook {
        channel_id: channel.id,
        creator_id: creator.id,
        name: name.into(),
        token_hash: hash.into(),
        at: 2_000,
    };
    let first = store
        .create_incoming_webhook(new("CI Builds", "hash-one"))
        .await
        .unwrap();
    assert_eq!(first.channel_id, channel.id);
    assert_eq!(first.creator_id, creator.id);
    assert_eq!(first.name, "CI Builds");
    assert_eq!(first.created_at, 2_000);
    assert_eq!(first.revoked_at, None);

    // The bot user is named after the hook and can never sign in.
    let bot = store.user_by_id(first.author_id).await.unwrap().unwrap();
    assert_eq!(bot.name, "CI Builds");
    assert_eq!(bot.handle, "hook-ci-builds");
    assert_eq!(bot.email, format!("hook-ci-builds@{WEBHOOK_EMAIL_DOMAIN}"));
    assert!(!bot.active);
    assert_eq!(bot.role, Role::Guest);
    assert_eq!(store.password_hash(bot.id).await.unwrap(), None);

    // A second hook of the same name gets its own bot user.
    let second = store
        .create_incoming_webhook(new("CI Builds", "hash-two"))
        .await
        .unwrap();
    assert_ne!(second.author_id, first.author_id);
    let second_bot = store.user_by_id(second.author_id).await.unwrap().unwrap();
    assert_eq!(second_bot.handle, "hook-ci-builds-2");

    // A token hash is unique.
    assert!(matches!(
        store
            .create_incoming_webhook(new("Copy", "hash-one"))
            .await
            .unwrap_err(),
        StoreError::Conflict(_)
    ));

    assert_eq!(
        store
            .incoming_webhook_by_token_hash("hash-one")
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.incoming_webhook_by_token_hash("nope").await.unwrap(),
        None
    );
    assert_eq!(
        store.channel_incoming_webhooks(channel.id).await.unwrap(),
        vec![first.clone(), second.clone()]
    );

    // Revoking hides the hook from token lookups and the channel's list,
    // keeps the row, and happens once.
    assert!(
        store
            .revoke_incoming_webhook(first.id, 3_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_incoming_webhook(first.id, 4_000)
            .await
            .unwrap()
    );
    assert!(!store.revoke_incoming_webhook(999_999, 4_000).await.unwrap());
    assert_eq!(
        store
            .incoming_webhook_by_token_hash("hash-one")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.channel_incoming_webhooks(channel.id).await.unwrap(),
        vec![second.clone()]
    );
    let revoked = store.incoming_webhook(first.id).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(3_000));
    assert_eq!(store.incoming_webhook(999_999).await.unwrap(), None);
}
