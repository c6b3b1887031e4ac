//! The account feature's part of the conformance suite (passwords, one-time
//! resets, profiles); each backend's tests/conformance.rs runs it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use conclave_domain::account::{NewPasswordReset, UserProfile};
use conclave_domain::{NewSession, NewUser, Role};

use crate::Store;

/// Passwords change; sessions are revoked all but one; a reset works once,
/// not after expiry, not after a newer one; profiles are stored, listed and
/// forgotten.
pub async fn run(store: Arc<dyn Store>) {
    let person = store
        .create_user(NewUser {
            email: "accounts_person@example.com".into(),
            handle: "accounts_person".into(),
            name: "Account Person".into(),
            role: Role::Member,
            password_hash: Some("first-hash".into()),
            created_at: 1_000,
        })
        .await
        .unwrap();
    let admin = store
        .create_user(NewUser {
            email: "accounts_admin@example.com".into(),
            handle: "accounts_admin".into(),
            name: "Account Admin".into(),
            role: Role::Admin,
            password_hash: Some("admin-hash".into()),
            created_at: 1_000,
        })
        .await
        .unwrap();
    let session = |token: &str| NewSession {
        token_hash: token.into(),
        user_id: person.id,
        created_at: 1_000,
        expires_at: 10_000_000,
        user_agent: None,
        address: None,
    };

    // A password change, and signing out every other session.
    store
        .set_password_hash(person.id, "second-hash")
        .await
        .unwrap();
    assert_eq!(
        store.password_hash(person.id).await.unwrap().as_deref(),
        Some("second-hash")
    );
    assert!(store.set_password_hash(999_999, "x").await.is_err());
    let kept = store.create_session(session("keep")).await.unwrap();
    let other = store.create_session(session("other")).await.unwrap();
    let revoked = store
        .revoke_user_sessions(person.id, Some(kept.id), 2_000)
        .await
        .unwrap();
    assert_eq!(revoked, vec![other.id]);
    assert!(
        store
            .session_by_token_hash("keep", 3_000)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .session_by_token_hash("other", 3_000)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .revoke_user_sessions(person.id, Some(kept.id), 2_500)
            .await
            .unwrap()
            .is_empty(),
        "nothing left to revoke"
    );

    // Who a token belonged to, live or not.
    assert_eq!(
        store
            .user_by_any_session_token("other")
            .await
            .unwrap()
            .map(|user| user.id),
        Some(person.id),
        "a revoked session still names its user"
    );
    assert!(
        store
            .user_by_any_session_token("unknown")
            .await
            .unwrap()
            .is_none()
    );

    // A reset: replaced by a newer one, then redeemed once.
    let reset = |hash: &str, at: i64| NewPasswordReset {
        user_id: person.id,
        code_hash: hash.into(),
        created_by: Some(admin.id),
        created_at: at,
        expires_at: at + 10_000,
    };
    let first = store
        .create_password_reset(reset("code-one", 4_000))
        .await
        .unwrap();
    assert_eq!(first.user_id, person.id);
    assert_eq!(first.created_by, Some(admin.id));
    assert_eq!(first.expires_at, 14_000);
    assert_eq!(first.used_at, None);
    let second = store
        .create_password_reset(reset("code-two", 5_000))
        .await
        .unwrap();
    assert_ne!(first.id, second.id);
    assert_eq!(
        store
            .pending_password_reset("code-two", 6_000)
            .await
            .unwrap()
            .map(|pending| pending.id),
        Some(second.id)
    );
    assert!(
        store
            .pending_password_reset("code-one", 6_000)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .pending_password_reset("code-two", 15_000)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(
        store
            .redeem_password_reset("code-one", "third-hash", 6_000)
            .await
            .unwrap()
            .is_none(),
        "a newer reset voids the older one"
    );
    assert!(
        store
            .redeem_password_reset("code-unknown", "third-hash", 6_000)
            .await
            .unwrap()
            .is_none()
    );
    let (redeemed, revoked) = store
        .redeem_password_reset("code-two", "third-hash", 6_000)
        .await
        .unwrap()
        .expect("the current reset works");
    assert_eq!(redeemed.id, second.id);
    assert_eq!(redeemed.used_at, Some(6_000));
    assert_eq!(revoked, vec![kept.id], "every session ends");
    assert_eq!(
        store.password_hash(person.id).await.unwrap().as_deref(),
        Some("third-hash")
    );
    assert!(
        store
            .redeem_password_reset("code-two", "fourth-hash", 6_001)
            .await
            .unwrap()
            .is_none(),
        "single use"
    );
    store
        .create_password_reset(reset("code-three", 7_000))
        .await
        .unwrap();
    assert!(
        store
            .redeem_password_reset("code-three", "fourth-hash", 17_000)
            .await
            .unwrap()
            .is_none(),
        "expired at 17,000"
    );
    assert_eq!(
        store.password_hash(person.id).await.unwrap().as_deref(),
        Some("third-hash")
    );

    // Onboarding is recorded once.
    assert!(!store.is_onboarded(person.id).await.unwrap());
    assert!(store.mark_onboarded(person.id, 7_500).await.unwrap());
    assert!(!store.mark_onboarded(person.id, 7_600).await.unwrap());
    assert!(store.is_onboarded(person.id).await.unwrap());
    assert!(!store.is_onboarded(admin.id).await.unwrap());

    // Profiles.
    assert!(store.user_profile(person.id).await.unwrap().is_none());
    let profile = UserProfile {
        user_id: person.id,
        status_text: "On leave".into(),
        avatar_key: Some("avatar/abc".into()),
        updated_at: 8_000,
    };
    assert_eq!(
        store.put_user_profile(profile.clone()).await.unwrap(),
        profile
    );
    let replaced = UserProfile {
        status_text: "Back".into(),
        avatar_key: None,
        updated_at: 9_000,
        ..profile.clone()
    };
    store.put_user_profile(replaced.clone()).await.unwrap();
    let admin_profile = UserProfile {
        user_id: admin.id,
        status_text: String::new(),
        avatar_key: Some("avatar/def".into()),
        updated_at: 9_500,
    };
    store.put_user_profile(admin_profile.clone()).await.unwrap();
    assert_eq!(
        store.user_profile(person.id).await.unwrap(),
        Some(replaced.clone())
    );
    assert_eq!(
        store.user_profiles().await.unwrap(),
        vec![replaced.clone(), admin_profile.clone()]
    );
    assert_eq!(
        store.delete_user_profile(person.id).await.unwrap(),
        Some(replaced)
    );
    assert_eq!(store.delete_user_profile(person.id).await.unwrap(), None);
    assert_eq!(store.user_profiles().await.unwrap(), vec![admin_profile]);
}
