//! The identity feature's part of the conformance suite; each backend's
//! tests/conformance.rs runs it on an empty database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use crate::{Store, StoreError};

/// Runs the identity checks against `store`, which must start empty.
pub async fn run(store: Arc<dyn Store>) {
    run_auth(Arc::clone(&store)).await;
    run_scim(Arc::clone(&store)).await;
}

/// Authentication: sign-in lockout, TOTP enrolments and recovery codes,
/// organisation settings, single sign-on attempts and the acceptable-use
/// policy.
pub async fn run_auth(store: Arc<dyn Store>) {
    use conclave_domain::auth::{LoginThrottle, PolicyAcceptance, SsoAttempt};
    use conclave_domain::{NewUser, Role};

    let mut users = Vec::new();
    for handle in ["auth_one", "auth_two"] {
        users.push(
            store
                .create_user(NewUser {
                    email: format!("{handle}@example.com"),
                    handle: handle.to_string(),
                    name: handle.to_string(),
                    role: Role::Member,
                    password_hash: Some("hash".into()),
                    created_at: 1_000,
                })
                .await
                .expect("create user"),
        );
    }
    let (one, two) = (users[0].id, users[1].id);

    // Lockout: the third consecutive failure locks and restarts the count.
    assert_eq!(
        store.login_throttle(one).await.unwrap(),
        LoginThrottle::default()
    );
    let first = store.record_login_failure(one, 3, 9_000).await.unwrap();
    assert_eq!(
        first,
        LoginThrottle {
            failures: 1,
            locked_until: None
        }
    );
    store.record_login_failure(one, 3, 9_000).await.unwrap();
    let locked = store.record_login_failure(one, 3, 9_000).await.unwrap();
    assert_eq!(
        locked,
        LoginThrottle {
            failures: 0,
            locked_until: Some(9_000)
        }
    );
    assert_eq!(store.login_throttle(one).await.unwrap(), locked);
    assert_eq!(
        store.login_throttle(two).await.unwrap(),
        LoginThrottle::default(),
        "per account"
    );
    store.clear_login_failures(one).await.unwrap();
    assert_eq!(
        store.login_throttle(one).await.unwrap(),
        LoginThrottle::default()
    );
    let at_once = store.record_login_failure(two, 1, 5_000).await.unwrap();
    assert_eq!(
        at_once.locked_until,
        Some(5_000),
        "a threshold of one locks at the first failure"
    );

    // TOTP: pending until confirmed; steps are used once and in order.
    assert!(store.mfa_enrolment(one).await.unwrap().is_none());
    assert!(
        !store.use_totp_step(one, 5).await.unwrap(),
        "no enrolment, no step"
    );
    store
        .begin_mfa_enrolment(one, vec![1; 20], 2_000)
        .await
        .unwrap();
    store
        .begin_mfa_enrolment(one, vec![2; 20], 2_500)
        .await
        .unwrap();
    let pending = store.mfa_enrolment(one).await.unwrap().unwrap();
    assert_eq!(
        (pending.secret.clone(), pending.confirmed_at),
        (vec![2; 20], None),
        "a new start replaces a pending secret"
    );
    assert!(
        !store.use_totp_step(one, 5).await.unwrap(),
        "a pending enrolment accepts no sign-in codes"
    );
    let hashes: Vec<String> = (0..3).map(|n| format!("hash-{n}")).collect();
    assert!(
        store
            .confirm_mfa_enrolment(one, 100, hashes, 3_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .confirm_mfa_enrolment(one, 101, vec![], 3_000)
            .await
            .unwrap(),
        "confirms once"
    );
    let active = store.mfa_enrolment(one).await.unwrap().unwrap();
    assert_eq!(
        (active.confirmed_at, active.last_step),
        (Some(3_000), Some(100))
    );
    assert!(active.is_active());
    assert!(matches!(
        store.begin_mfa_enrolment(one, vec![3; 20], 4_000).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        !store.use_totp_step(one, 100).await.unwrap(),
        "the confirming code is spent"
    );
    assert!(store.use_totp_step(one, 101).await.unwrap());
    assert!(!store.use_totp_step(one, 101).await.unwrap(), "a replay");
    assert!(
        !store.use_totp_step(one, 99).await.unwrap(),
        "an older step"
    );

    // Recovery codes: each once, per user; replaced wholesale.
    assert_eq!(store.unused_recovery_codes(one).await.unwrap(), 3);
    assert!(store.use_recovery_code(one, "hash-1", 5_000).await.unwrap());
    assert!(!store.use_recovery_code(one, "hash-1", 5_001).await.unwrap());
    assert!(
        !store.use_recovery_code(two, "hash-2", 5_001).await.unwrap(),
        "another user's code"
    );
    assert!(
        !store
            .use_recovery_code(one, "unknown", 5_001)
            .await
            .unwrap()
    );
    assert_eq!(store.unused_recovery_codes(one).await.unwrap(), 2);
    store
        .replace_recovery_codes(one, vec!["new-a".into(), "new-b".into()], 6_000)
        .await
        .unwrap();
    assert!(
        !store.use_recovery_code(one, "hash-2", 6_001).await.unwrap(),
        "old codes are gone"
    );
    assert_eq!(store.unused_recovery_codes(one).await.unwrap(), 2);
    assert!(store.remove_mfa(one).await.unwrap());
    assert!(!store.remove_mfa(one).await.unwrap());
    assert!(store.mfa_enrolment(one).await.unwrap().is_none());
    assert_eq!(store.unused_recovery_codes(one).await.unwrap(), 0);
    store
        .begin_mfa_enrolment(one, vec![4; 20], 7_000)
        .await
        .unwrap();
    assert!(
        store.mfa_enrolment(one).await.unwrap().is_some(),
        "enrols again after removal"
    );

    // Settings.
    assert_eq!(store.auth_setting("mfa_required").await.unwrap(), None);
    store
        .set_auth_setting("mfa_required", "true", 1)
        .await
        .unwrap();
    store
        .set_auth_setting("mfa_required", "false", 2)
        .await
        .unwrap();
    assert_eq!(
        store.auth_setting("mfa_required").await.unwrap().as_deref(),
        Some("false")
    );

    // Single sign-on attempts: taken once, never after expiry.
    let attempt = |state: &str, expires_at| SsoAttempt {
        state_hash: state.to_string(),
        browser_hash: format!("browser-{state}"),
        nonce: format!("nonce-{state}"),
        verifier: format!("verifier-{state}"),
        created_at: 1_000,
        expires_at,
    };
    store
        .save_sso_attempt(attempt("live", 10_000))
        .await
        .unwrap();
    store
        .save_sso_attempt(attempt("stale", 2_000))
        .await
        .unwrap();
    assert!(matches!(
        store.save_sso_attempt(attempt("live", 10_000)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.take_sso_attempt("live", 5_000).await.unwrap(),
        Some(attempt("live", 10_000))
    );
    assert_eq!(
        store.take_sso_attempt("live", 5_000).await.unwrap(),
        None,
        "once"
    );
    assert_eq!(
        store.take_sso_attempt("stale", 5_000).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store.take_sso_attempt("unknown", 5_000).await.unwrap(),
        None
    );

    // The acceptable-use policy: versions in order, acceptances kept once.
    assert_eq!(store.current_policy().await.unwrap(), None);
    let accept = |user_id, version, at| PolicyAcceptance {
        user_id,
        version,
        accepted_at: at,
        address: Some("10.0.0.1".into()),
    };
    assert!(matches!(
        store.accept_policy(accept(one, 1, 1)).await,
        Err(StoreError::NotFound(_))
    ));
    let v1 = store
        .publish_policy("Be kind.".into(), Some(one), 10_000)
        .await
        .unwrap();
    assert_eq!(
        (v1.version, v1.text.as_str(), v1.published_by),
        (1, "Be kind.", Some(one))
    );
    let v2 = store
        .publish_policy("Be kind. Keep secrets.".into(), None, 20_000)
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(store.current_policy().await.unwrap(), Some(v2.clone()));
    let first = store.accept_policy(accept(one, 2, 21_000)).await.unwrap();
    assert_eq!(first, accept(one, 2, 21_000));
    assert_eq!(
        store.accept_policy(accept(one, 2, 22_000)).await.unwrap(),
        first,
        "the first acceptance stands"
    );
    store.accept_policy(accept(two, 2, 23_000)).await.unwrap();
    store.accept_policy(accept(two, 1, 15_000)).await.unwrap();
    assert_eq!(store.policy_acceptance(one, 2).await.unwrap(), Some(first));
    assert_eq!(store.policy_acceptance(one, 1).await.unwrap(), None);
    let of_v2: Vec<(i64, i64)> = store
        .policy_acceptances(Some(2), 100)
        .await
        .unwrap()
        .iter()
        .map(|a| (a.user_id, a.version))
        .collect();
    assert_eq!(of_v2, vec![(two, 2), (one, 2)], "newest first");
    assert_eq!(store.policy_acceptances(None, 100).await.unwrap().len(), 3);
    assert_eq!(store.policy_acceptances(None, 1).await.unwrap().len(), 1);
}

/// SCIM tokens and provisioning records, profile, role and activation
/// changes, listing users, departments and teams with their members,
/// auto-membership rules and account expiry.
pub async fn run_scim(store: Arc<dyn Store>) {
    use conclave_domain::directory::{NewOrgUnit, OrgUnitKind, ScimUserRecord, UserListFilter};
    use conclave_domain::{ChannelKind, Command, NewUser, Role};

    let mut users = Vec::new();
    for (handle, role) in [
        ("scim_ann", Role::Admin),
        ("scim_ben", Role::Member),
        ("scim_cat", Role::Guest),
    ] {
        users.push(
            store
                .create_user(NewUser {
                    email: format!("{handle}@example.com"),
                    handle: handle.to_string(),
                    name: handle.to_string(),
                    role,
                    password_hash: None,
                    created_at: 2_000,
                })
                .await
                .expect("create user"),
        );
    }
    let (ann, ben, cat) = (users[0].clone(), users[1].clone(), users[2].clone());

    // Tokens: found by hash until revoked; revoking twice changes nothing.
    // One minted on the command line has no maker.
    let token = store
        .create_scim_token("okta", "hash-1", None, 10)
        .await
        .unwrap();
    assert_eq!((token.name.as_str(), token.created_by), ("okta", None));
    assert_eq!(
        store
            .scim_token_by_hash("hash-1")
            .await
            .unwrap()
            .map(|t| t.id),
        Some(token.id)
    );
    assert!(store.scim_token_by_hash("hash-2").await.unwrap().is_none());
    store.touch_scim_token(token.id, 11).await.unwrap();
    assert!(store.revoke_scim_token(token.id, 12).await.unwrap());
    assert!(!store.revoke_scim_token(token.id, 13).await.unwrap());
    assert!(store.scim_token_by_hash("hash-1").await.unwrap().is_none());
    let listed = store.scim_tokens().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].last_used_at, listed[0].revoked_at),
        (Some(11), Some(12))
    );
    assert!(matches!(
        store.create_scim_token("dup", "hash-1", None, 14).await,
        Err(StoreError::Conflict(_))
    ));
    // Minted by a person: the maker is kept, and deactivating the maker
    // (below) revokes their tokens in the same transaction.
    let bens = store
        .create_scim_token("bens idp", "hash-ben", Some(ben.id), 15)
        .await
        .unwrap();
    let anns = store
        .create_scim_token("anns idp", "hash-ann", Some(ann.id), 16)
        .await
        .unwrap();
    assert_eq!(
        (bens.created_by, anns.created_by),
        (Some(ben.id), Some(ann.id))
    );
    assert_eq!(
        store
            .scim_token_by_hash("hash-ben")
            .await
            .unwrap()
            .and_then(|t| t.created_by),
        Some(ben.id)
    );

    // SCIM records: upserted whole, kept as written.
    assert!(store.scim_user(ben.id).await.unwrap().is_none());
    let record = ScimUserRecord {
        user_id: ben.id,
        document: r#"{"name":{"givenName":"Ben"}}"#.into(),
        deleted_at: None,
        created_at: 20,
        updated_at: 20,
    };
    store.put_scim_user(record.clone()).await.unwrap();
    let replaced = ScimUserRecord {
        document: "{}".into(),
        deleted_at: Some(30),
        updated_at: 30,
        ..record.clone()
    };
    store.put_scim_user(replaced.clone()).await.unwrap();
    assert_eq!(
        store.scim_user(ben.id).await.unwrap(),
        Some(replaced.clone())
    );
    assert_eq!(store.scim_users().await.unwrap(), vec![replaced]);

    // Profile, role and activation.
    let renamed = store
        .update_user_profile(ben.id, "benjamin@example.com", "Benjamin")
        .await
        .unwrap();
    assert_eq!(
        (
            renamed.email.as_str(),
            renamed.name.as_str(),
            renamed.handle.as_str()
        ),
        ("benjamin@example.com", "Benjamin", "scim_ben")
    );
    assert!(matches!(
        store
            .update_user_profile(ben.id, "scim_ann@example.com", "B")
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .update_user_profile(999_999, "x@example.com", "X")
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store
            .set_user_role(ben.id, Role::Compliance)
            .await
            .unwrap()
            .role,
        Role::Compliance
    );
    store
        .apply(vec![Command::DeactivateUser {
            user_id: ben.id,
            at: 40,
        }])
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    assert!(
        store
            .scim_token_by_hash("hash-ben")
            .await
            .unwrap()
            .is_none()
    );
    let tokens = store.scim_tokens().await.unwrap();
    let revoked_at = |id: i64| tokens.iter().find(|t| t.id == id).unwrap().revoked_at;
    assert_eq!((revoked_at(bens.id), revoked_at(anns.id)), (Some(40), None));
    assert!(
        store
            .scim_token_by_hash("hash-ann")
            .await
            .unwrap()
            .is_some()
    );
    let again = store.reactivate_user(ben.id).await.unwrap();
    assert!(again.active);
    assert_eq!(again.deactivated_at, None);
    assert!(
        store
            .scim_token_by_hash("hash-ben")
            .await
            .unwrap()
            .is_none(),
        "a maker's reactivation does not bring their tokens back"
    );
    store
        .apply(vec![Command::DeactivateUser {
            user_id: cat.id,
            at: 41,
        }])
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();

    let all = |filter: UserListFilter| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_users(filter)
                .await
                .unwrap()
                .iter()
                .map(|u| u.id)
                .filter(|id| [ann.id, ben.id, cat.id].contains(id))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        all(UserListFilter {
            limit: 1000,
            ..Default::default()
        })
        .await,
        vec![ann.id, ben.id, cat.id]
    );
    assert_eq!(
        all(UserListFilter {
            active: Some(false),
            limit: 1000,
            ..Default::default()
        })
        .await,
        vec![cat.id]
    );
    assert_eq!(
        all(UserListFilter {
            role: Some(Role::Admin),
            limit: 1000,
            ..Default::default()
        })
        .await,
        vec![ann.id]
    );
    assert_eq!(
        all(UserListFilter {
            query: Some("BENJ".into()),
            limit: 1000,
            ..Default::default()
        })
        .await,
        vec![ben.id]
    );
    assert_eq!(
        all(UserListFilter {
            query: Some("%".into()),
            limit: 1000,
            ..Default::default()
        })
        .await,
        Vec::<i64>::new()
    );
    assert_eq!(
        all(UserListFilter {
            after_id: Some(ann.id),
            limit: 1,
            ..Default::default()
        })
        .await,
        vec![ben.id]
    );

    // Org units: names unique per kind, case-insensitively.
    let unit = |kind, name: &str| NewOrgUnit {
        kind,
        name: name.into(),
        external_id: None,
        at: 50,
    };
    let sales = store
        .create_org_unit(unit(OrgUnitKind::Department, "Sales"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_org_unit(unit(OrgUnitKind::Department, "SALES"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let sales_team = store
        .create_org_unit(unit(OrgUnitKind::Team, "sales"))
        .await
        .unwrap();
    let other = store
        .create_org_unit(unit(OrgUnitKind::Team, "Other"))
        .await
        .unwrap();
    assert_eq!(
        store
            .org_unit_by_name(OrgUnitKind::Department, "sALES")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(sales.id)
    );
    assert_eq!(
        store
            .org_units(Some(OrgUnitKind::Team))
            .await
            .unwrap()
            .iter()
            .map(|u| u.id)
            .collect::<Vec<_>>(),
        vec![sales_team.id, other.id]
    );
    assert_eq!(store.org_units(None).await.unwrap().len(), 3);
    let updated = store
        .update_org_unit(other.id, "Deal Desk", Some("ext-1".into()), 60)
        .await
        .unwrap();
    assert_eq!(
        (
            updated.name.as_str(),
            updated.external_id.as_deref(),
            updated.updated_at
        ),
        ("Deal Desk", Some("ext-1"), 60)
    );
    assert!(matches!(
        store.update_org_unit(other.id, "SALES", None, 61).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.update_org_unit(999_999, "x", None, 61).await,
        Err(StoreError::NotFound(_))
    ));

    // Members.
    assert!(
        store
            .set_org_unit_member(sales.id, ann.id, true, 70)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_org_unit_member(sales.id, ann.id, true, 71)
            .await
            .unwrap()
    );
    assert!(
        store
            .set_org_unit_member(sales.id, ben.id, true, 72)
            .await
            .unwrap()
    );
    assert!(
        store
            .set_org_unit_member(other.id, ben.id, true, 73)
            .await
            .unwrap()
    );
    assert!(matches!(
        store.set_org_unit_member(999_999, ben.id, true, 74).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_org_unit_member(sales.id, 999_999, true, 74).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.org_unit_member_ids(sales.id).await.unwrap(),
        vec![ann.id, ben.id]
    );
    assert_eq!(
        store.user_org_unit_ids(ben.id).await.unwrap(),
        vec![sales.id, other.id]
    );
    assert_eq!(
        store.org_unit_memberships().await.unwrap(),
        vec![(sales.id, ann.id), (sales.id, ben.id), (other.id, ben.id)]
    );
    assert!(
        store
            .set_org_unit_member(sales.id, ann.id, false, 75)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_org_unit_member(sales.id, ann.id, false, 76)
            .await
            .unwrap()
    );

    // Rules: one per (unit, channel); deleting a unit takes its rules and members.
    let channel = match store
        .apply(vec![Command::CreateChannel {
            kind: ChannelKind::Public,
            name: "scim-sales".into(),
            topic: String::new(),
            creator_id: ann.id,
            member_ids: vec![],
            conversation_key: None,
            read_only: false,
            at: 80,
        }])
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap()
        .result
    {
        conclave_domain::command::OutcomeValue::Channel(channel) => channel,
        other => panic!("expected a channel, got {other:?}"),
    };
    let rule = store
        .create_auto_membership_rule(sales.id, channel.id, Some(ann.id), 81)
        .await
        .unwrap();
    assert_eq!(
        (rule.unit_id, rule.channel_id, rule.created_by),
        (sales.id, channel.id, Some(ann.id))
    );
    assert!(matches!(
        store
            .create_auto_membership_rule(sales.id, channel.id, None, 82)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let second = store
        .create_auto_membership_rule(other.id, channel.id, None, 83)
        .await
        .unwrap();
    assert_eq!(
        store.auto_membership_rules().await.unwrap(),
        vec![rule.clone(), second.clone()]
    );
    assert!(store.delete_auto_membership_rule(rule.id).await.unwrap());
    assert!(!store.delete_auto_membership_rule(rule.id).await.unwrap());
    assert!(store.delete_org_unit(other.id).await.unwrap());
    assert!(!store.delete_org_unit(other.id).await.unwrap());
    assert!(store.auto_membership_rules().await.unwrap().is_empty());
    assert_eq!(
        store.user_org_unit_ids(ben.id).await.unwrap(),
        vec![sales.id]
    );
    assert!(store.org_unit(other.id).await.unwrap().is_none());

    // Expiry: only active users past their date are due.
    store.set_account_expiry(ann.id, Some(100)).await.unwrap();
    store.set_account_expiry(ann.id, Some(200)).await.unwrap();
    store.set_account_expiry(ben.id, Some(150)).await.unwrap();
    store.set_account_expiry(cat.id, Some(50)).await.unwrap();
    assert_eq!(store.account_expiry(ann.id).await.unwrap(), Some(200));
    assert_eq!(
        store.accounts_expired_by(149).await.unwrap(),
        Vec::<i64>::new(),
        "cat is already deactivated"
    );
    assert_eq!(store.accounts_expired_by(150).await.unwrap(), vec![ben.id]);
    assert_eq!(
        store.accounts_expired_by(1_000).await.unwrap(),
        vec![ann.id, ben.id]
    );
    store.set_account_expiry(ann.id, None).await.unwrap();
    assert_eq!(store.account_expiry(ann.id).await.unwrap(), None);
    assert_eq!(
        store.accounts_expired_by(1_000).await.unwrap(),
        vec![ben.id]
    );
}
