//! The directory's behaviour, shared by SCIM and the admin API: org unit
//! membership with the auto-membership rules it triggers, departments
//! named by a user attribute, (de)activation through the writer, and the
//! expiry of guest accounts.
//!
//! Channel memberships change only through `Command::SetMembership` on the
//! group-commit writer, so members see them live like any other join.
//!
//! Who changes a unit matters for its rules into private channels: a rule
//! is carried out only as far as `permissions::can_admit` allows the
//! [`UnitGranter`] (docs/permissions.md, "Ways into a channel"); the unit
//! itself always changes, and the channels skipped are reported.

use conclave_domain::directory::{
    AutoMembershipRule, NewOrgUnit, OrgUnit, OrgUnitId, OrgUnitKind, ScimToken,
};
use conclave_domain::permissions::{self, AdmissionPath, Granter};
use conclave_domain::{ChannelId, Command, NewUser, Role, User, UserId, text};
use futures_util::StreamExt;

use crate::audit::{Actor, Change};
use crate::error::{ApiError, ApiResult};
use crate::routes::submit;
use crate::state::AppState;

/// How many membership changes are handed to the writer at once; the
/// group committer batches them into few transactions.
const CONCURRENT_SUBMITS: usize = 64;

/// Creates an account without a password (it signs in through SSO, or an
/// admin sets one), with a unique handle derived from `email`.
pub async fn create_account(
    state: &AppState,
    email: &str,
    name: &str,
    role: Role,
) -> ApiResult<User> {
    let store = &*state.store;
    if store.user_by_email(email).await?.is_some() {
        return Err(ApiError::Conflict(format!(
            "a user with email {email} already exists"
        )));
    }
    let base = text::handle_from_email(email);
    let mut handle = base.clone();
    let mut suffix = 2;
    while !store
        .users_by_handles(std::slice::from_ref(&handle))
        .await?
        .is_empty()
    {
        handle = format!("{base}{suffix}");
        suffix += 1;
    }
    Ok(store
        .create_user(NewUser {
            email: email.to_string(),
            handle,
            name: name.to_string(),
            role,
            password_hash: None,
            created_at: crate::now_millis(),
        })
        .await?)
}

/// Refuses to deactivate or demote the last active owner, whoever asks (an
/// admin, the identity provider through SCIM, the command line): a
/// workspace without an owner cannot be administered.
pub async fn keep_an_owner(store: &dyn conclave_store::Store, user: &User) -> ApiResult<()> {
    if user.role != Role::Owner || !user.active {
        return Ok(());
    }
    let owners = store
        .list_users(conclave_domain::directory::UserListFilter {
            role: Some(Role::Owner),
            active: Some(true),
            limit: 2,
            ..Default::default()
        })
        .await?;
    if owners.iter().all(|owner| owner.id == user.id) {
        return Err(ApiError::Conflict(format!(
            "{} is the last active owner; make someone else an owner first",
            user.email
        )));
    }
    Ok(())
}

/// Deactivates `user` through the writer: sessions revoked in the same
/// transaction, sockets closed by the hub when the event is published.
pub async fn deactivate(state: &AppState, user: &User, actor: &Actor) -> ApiResult<User> {
    keep_an_owner(&*state.store, user).await?;
    submit(
        state,
        Command::DeactivateUser {
            user_id: user.id,
            at: crate::now_millis(),
        },
    )
    .await?;
    let after = state
        .store
        .user_by_id(user.id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    crate::audit::record(
        &*state.store,
        actor,
        Change::new("user.deactivate", "user", user.id)
            .before(&serde_json::json!({"active": user.active}))
            .after(&serde_json::json!({"active": false})),
    )
    .await?;
    Ok(after)
}

/// Lets a deactivated user sign in again.
pub async fn reactivate(state: &AppState, user: &User, actor: &Actor) -> ApiResult<User> {
    if conclave_domain::account::is_erased(user) {
        return Err(ApiError::AccountErased);
    }
    let after = state.store.reactivate_user(user.id).await?;
    crate::audit::record(
        &*state.store,
        actor,
        Change::new("user.reactivate", "user", user.id)
            .before(&serde_json::json!({"active": user.active}))
            .after(&serde_json::json!({"active": true})),
    )
    .await?;
    Ok(after)
}

/// Who changes a department's or team's members: the person acting (an
/// admin in the console, or the maker of the SCIM token in use), or the
/// identity provider as the operator set it up (single sign-on group
/// mapping, SCIM tokens minted on the command line).
#[derive(Debug, Clone)]
pub enum UnitGranter {
    Person(User),
    IdentityProvider,
}

/// The granter a SCIM token acts as: its maker when an owner or admin
/// minted it through the API (SCIM carries their rights), else the
/// identity provider. A token whose maker's account is gone is refused
/// (the SCIM extractor already refuses makers who lost their rights).
pub async fn scim_granter(state: &AppState, token: &ScimToken) -> ApiResult<UnitGranter> {
    let Some(maker_id) = token.created_by else {
        return Ok(UnitGranter::IdentityProvider);
    };
    match state.store.user_by_id(maker_id).await? {
        Some(maker) => Ok(UnitGranter::Person(maker)),
        None => Err(ApiError::forbidden(
            "the maker of this SCIM token no longer exists",
        )),
    }
}

/// What one unit membership change did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitChange {
    /// Whether the unit's members changed.
    pub changed: bool,
    /// Private channels (and archives) the unit's rules name that the
    /// person was not added to, because the granter may not admit anyone
    /// there (`permissions::can_admit`).
    pub channels_skipped: Vec<ChannelId>,
}

/// Puts `user_id` into or out of `unit`, then applies the unit's
/// auto-membership rules to them as far as `granter` may.
pub async fn set_unit_member(
    state: &AppState,
    unit_id: OrgUnitId,
    user_id: UserId,
    member: bool,
    granter: &UnitGranter,
) -> ApiResult<UnitChange> {
    let changed = state
        .store
        .set_org_unit_member(unit_id, user_id, member, crate::now_millis())
        .await?;
    let channels_skipped = if changed {
        follow_rules(state, user_id, unit_id, member, granter).await?
    } else {
        Vec::new()
    };
    Ok(UnitChange {
        changed,
        channels_skipped,
    })
}

/// Makes `unit`'s members exactly `wanted`.
pub async fn set_unit_members(
    state: &AppState,
    unit_id: OrgUnitId,
    wanted: &[UserId],
    granter: &UnitGranter,
) -> ApiResult<()> {
    let current = state.store.org_unit_member_ids(unit_id).await?;
    for user_id in current.iter().filter(|id| !wanted.contains(id)) {
        set_unit_member(state, unit_id, *user_id, false, granter).await?;
    }
    for user_id in wanted.iter().filter(|id| !current.contains(id)) {
        let change = set_unit_member(state, unit_id, *user_id, true, granter).await?;
        if !change.channels_skipped.is_empty() {
            tracing::info!(
                unit_id,
                user_id,
                skipped = ?change.channels_skipped,
                "unit rules not carried out into channels the granter may not admit to"
            );
        }
    }
    Ok(())
}

/// Whether `granter` may carry out `rule` (adding someone to its channel).
async fn may_follow(
    state: &AppState,
    rule: &AutoMembershipRule,
    granter: &UnitGranter,
) -> ApiResult<bool> {
    let Some(channel) = state.store.channel_by_id(rule.channel_id).await? else {
        return Ok(false);
    };
    let external_archive = crate::routes::channels::is_external_archive(state, channel.id).await?;
    let maker_still_member = match rule.created_by {
        Some(maker_id) => {
            state
                .store
                .user_by_id(maker_id)
                .await?
                .is_some_and(|maker| maker.active)
                && state
                    .store
                    .membership(channel.id, maker_id)
                    .await?
                    .is_some()
        }
        None => false,
    };
    let path = AdmissionPath::FollowRule { maker_still_member };
    let verdict = match granter {
        UnitGranter::Person(user) => {
            let membership = state.store.membership(channel.id, user.id).await?;
            permissions::can_admit(
                Granter::Person {
                    user,
                    membership: membership.as_ref(),
                },
                &channel,
                external_archive,
                path,
            )
        }
        UnitGranter::IdentityProvider => {
            permissions::can_admit(Granter::IdentityProvider, &channel, external_archive, path)
        }
    };
    Ok(verdict.is_ok())
}

/// Applies the rules of `unit_id` to one user who just joined or left it.
/// Joining adds the channels `granter` may admit to and answers the ones it
/// skipped. Leaving removes the channel only when no other unit of theirs
/// feeds it (leaving is never refused: it only narrows what one reads).
/// Deactivated users keep their channels: they are records, not readers.
async fn follow_rules(
    state: &AppState,
    user_id: UserId,
    unit_id: OrgUnitId,
    joined: bool,
    granter: &UnitGranter,
) -> ApiResult<Vec<ChannelId>> {
    let rules = state.store.auto_membership_rules().await?;
    let relevant: Vec<&AutoMembershipRule> = rules
        .iter()
        .filter(|rule| rule.unit_id == unit_id)
        .collect();
    if relevant.is_empty() {
        return Ok(Vec::new());
    }
    let Some(user) = state.store.user_by_id(user_id).await? else {
        return Ok(Vec::new());
    };
    if !user.active {
        return Ok(Vec::new());
    }
    let units = state.store.user_org_unit_ids(user_id).await?;
    let mut changes = Vec::new();
    let mut skipped = Vec::new();
    for rule in relevant {
        let still_fed = rules
            .iter()
            .any(|other| other.channel_id == rule.channel_id && units.contains(&other.unit_id));
        if joined && !may_follow(state, rule, granter).await? {
            skipped.push(rule.channel_id);
            continue;
        }
        if joined || !still_fed {
            changes.push((
                rule.channel_id,
                user_id,
                rule.created_by.unwrap_or(user_id),
                joined,
            ));
        }
    }
    apply_memberships(state, changes).await;
    Ok(skipped)
}

/// Adds every active member of the rule's unit to its channel (when the
/// rule is made). Answers how many were handed to the writer.
pub async fn apply_rule(state: &AppState, rule: &AutoMembershipRule) -> ApiResult<usize> {
    let members = state.store.org_unit_member_ids(rule.unit_id).await?;
    let users = state.store.users_by_ids(&members).await?;
    let changes: Vec<_> = users
        .iter()
        .filter(|user| user.active)
        .map(|user| {
            (
                rule.channel_id,
                user.id,
                rule.created_by.unwrap_or(user.id),
                true,
            )
        })
        .collect();
    let count = changes.len();
    apply_memberships(state, changes).await;
    Ok(count)
}

/// Submits membership changes concurrently. A change that fails (the
/// channel was archived or deleted meanwhile) is logged, not fatal: the
/// rest still apply.
async fn apply_memberships(state: &AppState, changes: Vec<(i64, UserId, UserId, bool)>) {
    let at = crate::now_millis();
    let results: Vec<_> = futures_util::stream::iter(changes.into_iter().map(
        |(channel_id, user_id, actor_id, member)| async move {
            let result = submit(
                state,
                Command::SetMembership {
                    channel_id,
                    user_id,
                    actor_id,
                    member,
                    at,
                },
            )
            .await;
            (channel_id, user_id, result)
        },
    ))
    .buffer_unordered(CONCURRENT_SUBMITS)
    .collect()
    .await;
    for (channel_id, user_id, result) in results {
        if let Err(error) = result {
            tracing::warn!(channel_id, user_id, %error, "an auto-membership change failed");
        }
    }
}

/// Moves a user from the department named `old` to the one named `new`
/// (created when missing), as a SCIM `department` attribute or an SSO
/// claim says.
pub async fn move_department(
    state: &AppState,
    user_id: UserId,
    old: Option<&str>,
    new: Option<&str>,
    granter: &UnitGranter,
) -> ApiResult<()> {
    let same = match (old, new) {
        (Some(old), Some(new)) => old.trim().to_lowercase() == new.trim().to_lowercase(),
        (None, None) => true,
        _ => false,
    };
    if same {
        return Ok(());
    }
    if let Some(old) = old.map(str::trim).filter(|name| !name.is_empty())
        && let Some(unit) = state
            .store
            .org_unit_by_name(OrgUnitKind::Department, old)
            .await?
    {
        set_unit_member(state, unit.id, user_id, false, granter).await?;
    }
    if let Some(new) = new.map(str::trim).filter(|name| !name.is_empty()) {
        let unit = find_or_create_unit(state, OrgUnitKind::Department, new).await?;
        set_unit_member(state, unit.id, user_id, true, granter).await?;
    }
    Ok(())
}

/// The unit of `kind` named `name`, created when missing.
pub async fn find_or_create_unit(
    state: &AppState,
    kind: OrgUnitKind,
    name: &str,
) -> ApiResult<OrgUnit> {
    conclave_domain::directory::org_unit_name(name)?;
    if let Some(unit) = state.store.org_unit_by_name(kind, name).await? {
        return Ok(unit);
    }
    match state
        .store
        .create_org_unit(NewOrgUnit {
            kind,
            name: name.trim().to_string(),
            external_id: None,
            at: crate::now_millis(),
        })
        .await
    {
        Ok(unit) => Ok(unit),
        // Made by a concurrent request a moment ago.
        Err(conclave_store::StoreError::Conflict(_)) => state
            .store
            .org_unit_by_name(kind, name)
            .await?
            .ok_or(ApiError::NotFound("department")),
        Err(error) => Err(error.into()),
    }
}

/// Takes a user out of every org unit (SCIM deleted them).
pub async fn leave_all_units(state: &AppState, user_id: UserId) -> ApiResult<()> {
    for unit_id in state.store.user_org_unit_ids(user_id).await? {
        // Leaving grants nothing, so who asks does not matter.
        set_unit_member(
            state,
            unit_id,
            user_id,
            false,
            &UnitGranter::IdentityProvider,
        )
        .await?;
    }
    Ok(())
}

/// Deactivates every active account whose expiry is at or before `now`
/// (guests and contractors). Answers who was deactivated. The server runs
/// this on a schedule; tests call it with a chosen `now`.
pub async fn expire_accounts(state: &AppState, now: i64) -> ApiResult<Vec<UserId>> {
    let due = state.store.accounts_expired_by(now).await?;
    let mut expired = Vec::new();
    for user_id in due {
        let Some(user) = state.store.user_by_id(user_id).await? else {
            continue;
        };
        if !user.active {
            continue;
        }
        deactivate(state, &user, &Actor::label("system", None)).await?;
        crate::audit::record(
            &*state.store,
            &Actor::label("system", None),
            Change::new("user.expire", "user", user.id)
                .after(&serde_json::json!({"expired_at": now})),
        )
        .await?;
        expired.push(user_id);
    }
    Ok(expired)
}

/// Runs [`expire_accounts`] every few seconds for as long as the server
/// runs.
pub async fn sweep_expired_accounts(state: AppState) {
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        ticker.tick().await;
        if state
            .shutting_down
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return;
        }
        match expire_accounts(&state, crate::now_millis()).await {
            Ok(expired) if !expired.is_empty() => {
                tracing::info!(?expired, "expired accounts deactivated")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "expiring accounts failed"),
        }
    }
}
