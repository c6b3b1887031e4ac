//! The SCIM User resource over Conclave accounts.
//!
//! Mapping: `userName` is the sign-in name and must be an email address
//! (400 `invalidValue` otherwise); it is stored lowercased as the
//! account's email (so it is unique case-insensitively; its spelling as
//! sent is kept for display). SCIM never assigns roles: accounts it makes
//! are members, and `roles`, `entitlements` and other attributes outside
//! the schema are ignored. It never changes an owner's or admin's account
//! ([`ensure_manageable`]). The account's display name comes from
//! `displayName`, else `name.formatted`, else given and family names.
//! `active: false` deactivates through the writer (sessions and sockets
//! cut off); an absent `active` means active. The enterprise `department`
//! puts the user in that department. Everything else the provider sent is
//! kept as a document beside the account. DELETE deactivates the account
//! and hides it from SCIM; its messages stay, as company records.

use std::collections::HashMap;

use axum::http::HeaderMap;
use conclave_domain::directory::{OrgUnit, OrgUnitKind, ScimUserRecord, UserListFilter};
use conclave_domain::{Role, User, UserId, validate};
use serde_json::{Map, Value, json};

use super::document::{entity_tag, format_time, normalize_document};
use super::error::{ScimError, ScimResult};
use super::filter::{Filter, Op, Scope};
use super::schema::{self, ResourceKind};
use super::{ScimClient, check_if_match, directory, patch};
use crate::audit::Change;
use crate::state::AppState;

/// Every account, fetched at once for listing.
const LIST_LIMIT: i64 = 1_000_000;

/// One account as SCIM sees it.
#[derive(Debug, Clone)]
pub struct ScimUser {
    pub user: User,
    pub record: Option<ScimUserRecord>,
}

impl ScimUser {
    fn document(&self) -> Map<String, Value> {
        self.record
            .as_ref()
            .and_then(|record| serde_json::from_str::<Value>(&record.document).ok())
            .and_then(|value| value.as_object().cloned())
            .unwrap_or_default()
    }

    fn deleted(&self) -> bool {
        self.record
            .as_ref()
            .is_some_and(|record| record.deleted_at.is_some())
    }
}

pub fn location(base: &str, id: UserId) -> String {
    format!("{base}/Users/{id}")
}

/// The full representation of `account`; `teams` are the teams it is in.
pub fn render(base: &str, account: &ScimUser, teams: &[&OrgUnit]) -> Value {
    let user = &account.user;
    let mut out = Map::new();
    let mut schemas = vec![json!(schema::USER)];
    out.insert("id".into(), json!(user.id.to_string()));
    match &account.record {
        Some(_) => {
            let mut document = account.document();
            let user_name = match document.remove("userName") {
                Some(Value::String(sent)) if sent.trim().to_lowercase() == user.email => sent,
                _ => user.email.clone(),
            };
            let active = document.remove("active");
            out.insert("userName".into(), json!(user_name));
            if active.is_some() || !user.active {
                out.insert("active".into(), json!(user.active));
            }
            if document.contains_key(schema::ENTERPRISE_USER) {
                schemas.push(json!(schema::ENTERPRISE_USER));
            }
            out.extend(document);
        }
        None => {
            // An account made in Conclave, never touched by SCIM.
            out.insert("userName".into(), json!(user.email));
            out.insert("displayName".into(), json!(user.name));
            out.insert("active".into(), json!(user.active));
            if validate::email(&user.email).is_ok() {
                out.insert(
                    "emails".into(),
                    json!([{"value": user.email, "type": "work", "primary": true}]),
                );
            }
        }
    }
    if !teams.is_empty() {
        let groups: Vec<Value> = teams
            .iter()
            .map(|team| {
                json!({
                    "value": super::groups::scim_id(team.id),
                    "$ref": super::groups::location(base, team.id),
                    "display": team.name,
                    "type": "direct",
                })
            })
            .collect();
        out.insert("groups".into(), Value::Array(groups));
    }
    out.insert("schemas".into(), Value::Array(schemas));
    let modified = [
        Some(user.created_at),
        account.record.as_ref().map(|r| r.updated_at),
        user.deactivated_at,
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(user.created_at);
    let mut value = Value::Object(out);
    let version = entity_tag(&value);
    if let Some(object) = value.as_object_mut() {
        object.insert(
            "meta".into(),
            json!({
                "resourceType": "User",
                "created": format_time(user.created_at),
                "lastModified": format_time(modified),
                "location": location(base, user.id),
                "version": version,
            }),
        );
    }
    value
}

/// The account with SCIM id `id`, unless it does not exist or SCIM deleted
/// it.
pub async fn load(state: &AppState, id: &str) -> ScimResult<ScimUser> {
    let not_found = || ScimError::not_found(format!("no User with id {id:?}"));
    let user_id: UserId = id.trim().parse().map_err(|_| not_found())?;
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .ok_or_else(not_found)?;
    let account = ScimUser {
        record: state.store.scim_user(user_id).await?,
        user,
    };
    if account.deleted() {
        return Err(not_found());
    }
    Ok(account)
}

/// `account` rendered with its teams.
pub async fn render_one(state: &AppState, base: &str, account: &ScimUser) -> ScimResult<Value> {
    let unit_ids = state.store.user_org_unit_ids(account.user.id).await?;
    let mut teams = Vec::new();
    for unit_id in unit_ids {
        if let Some(unit) = state.store.org_unit(unit_id).await?
            && unit.kind == OrgUnitKind::Team
        {
            teams.push(unit);
        }
    }
    Ok(render(base, account, &teams.iter().collect::<Vec<_>>()))
}

/// Every visible account matching `filter`, rendered, by id.
pub async fn search(
    state: &AppState,
    base: &str,
    filter: Option<&Filter>,
) -> ScimResult<Vec<Value>> {
    // The question identity providers ask most ("does this person exist?")
    // is answered from the index instead of a scan.
    if let Some(Filter::Compare(path, Op::Eq, Value::String(name))) = filter
        && path.sub.is_none()
        && path.attr.eq_ignore_ascii_case("userName")
        && path
            .urn
            .as_deref()
            .is_none_or(|urn| urn.eq_ignore_ascii_case(schema::USER))
    {
        let Some(user) = state
            .store
            .user_by_email(&name.trim().to_lowercase())
            .await?
        else {
            return Ok(Vec::new());
        };
        let account = ScimUser {
            record: state.store.scim_user(user.id).await?,
            user,
        };
        if account.deleted() {
            return Ok(Vec::new());
        }
        return Ok(vec![render_one(state, base, &account).await?]);
    }
    let users = state
        .store
        .list_users(UserListFilter {
            limit: LIST_LIMIT,
            ..UserListFilter::default()
        })
        .await?;
    let mut records: HashMap<UserId, ScimUserRecord> = state
        .store
        .scim_users()
        .await?
        .into_iter()
        .map(|record| (record.user_id, record))
        .collect();
    let teams: HashMap<i64, OrgUnit> = state
        .store
        .org_units(Some(OrgUnitKind::Team))
        .await?
        .into_iter()
        .map(|unit| (unit.id, unit))
        .collect();
    let mut teams_of: HashMap<UserId, Vec<&OrgUnit>> = HashMap::new();
    for (unit_id, user_id) in state.store.org_unit_memberships().await? {
        if let Some(team) = teams.get(&unit_id) {
            teams_of.entry(user_id).or_default().push(team);
        }
    }
    let mut out = Vec::new();
    for user in users {
        let account = ScimUser {
            record: records.remove(&user.id),
            user,
        };
        if account.deleted() {
            continue;
        }
        let rendered = render(
            base,
            &account,
            teams_of
                .get(&account.user.id)
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        );
        if filter.is_none_or(|filter| {
            super::filter::matches(filter, &rendered, Scope::Resource(ResourceKind::User))
        }) {
            out.push(rendered);
        }
    }
    Ok(out)
}

fn enterprise_text(document: &Map<String, Value>, name: &str) -> Option<String> {
    document
        .get(schema::ENTERPRISE_USER)?
        .get(name)?
        .as_str()
        .map(str::to_string)
}

/// The display name an account gets from a document.
fn display_name(document: &Map<String, Value>, fallback: &str) -> String {
    let text = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(str::to_string)
    };
    let name = document.get("name");
    let joined = [
        name.and_then(|n| n.get("givenName")),
        name.and_then(|n| n.get("familyName")),
    ]
    .into_iter()
    .filter_map(text)
    .collect::<Vec<_>>()
    .join(" ");
    let chosen = text(document.get("displayName"))
        .or_else(|| text(name.and_then(|n| n.get("formatted"))))
        .or_else(|| Some(joined).filter(|joined| !joined.is_empty()))
        .unwrap_or_else(|| fallback.to_string());
    let clean: String = chosen
        .chars()
        .filter(|c| !c.is_control())
        .take(validate::MAX_DISPLAY_NAME_CHARS)
        .collect();
    if clean.trim().is_empty() {
        fallback
            .chars()
            .take(validate::MAX_DISPLAY_NAME_CHARS)
            .collect()
    } else {
        clean.trim().to_string()
    }
}

/// The account email a userName maps to. Conclave's accounts are keyed by
/// email (sign-in, single sign-on), so a userName that is not an email
/// address is refused rather than stored as one.
fn account_email(document: &Map<String, Value>) -> ScimResult<String> {
    let user_name = document
        .get("userName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let email = validate::normalize_email(user_name);
    if email.chars().count() > validate::MAX_EMAIL_CHARS || validate::email(&email).is_err() {
        return Err(ScimError::invalid_value(format!(
            "userName must be an email address of at most {} characters: Conclave accounts are keyed by email",
            validate::MAX_EMAIL_CHARS
        )));
    }
    Ok(email)
}

/// Refuses any change SCIM would make to an owner's or admin's account:
/// SCIM acts as an admin at most, and admins do not manage those accounts
/// (`permissions::can_scim_manage`). Owners manage them in Conclave.
pub fn ensure_manageable(user: &User) -> ScimResult<()> {
    if conclave_domain::permissions::can_scim_manage(user) {
        return Ok(());
    }
    Err(ScimError::forbidden(format!(
        "User {} is an {}: SCIM does not change owners' or admins' accounts; an owner manages them in Conclave",
        user.id,
        user.role.as_str()
    )))
}

/// Creates (`existing` = None) or replaces an account from a canonical
/// document, then follows its `active` and `department`.
async fn store_account(
    state: &AppState,
    client: &ScimClient,
    existing: Option<ScimUser>,
    document: Map<String, Value>,
) -> ScimResult<ScimUser> {
    if let Some(account) = &existing {
        ensure_manageable(&account.user)?;
    }
    let email = account_email(&document)?;
    let name = display_name(&document, &email);
    let mut existing = existing;
    if let Some(manager) = document
        .get(schema::ENTERPRISE_USER)
        .and_then(|e| e.get("manager"))
        .and_then(|m| m.get("value"))
    {
        let manager = manager.as_str().unwrap_or_default();
        let valid = match load(state, manager).await {
            Ok(found) => existing
                .as_ref()
                .is_none_or(|me| me.user.id != found.user.id),
            Err(_) => false,
        };
        if !valid {
            return Err(ScimError::invalid_value(format!(
                "manager {manager:?} is not another User"
            )));
        }
    }
    if let Some(other) = state.store.user_by_email(&email).await?
        && existing.as_ref().is_none_or(|me| me.user.id != other.id)
    {
        let other = ScimUser {
            record: state.store.scim_user(other.id).await?,
            user: other,
        };
        if existing.is_none() && other.deleted() {
            // Provisioning someone SCIM deleted before (a returning
            // employee) brings back their account and history.
            ensure_manageable(&other.user)?;
            existing = Some(other);
        } else {
            return Err(ScimError::uniqueness(format!(
                "userName {email:?} is taken"
            )));
        }
    }
    let now = crate::now_millis();
    let previous = existing
        .as_ref()
        .map(ScimUser::document)
        .unwrap_or_default();
    let user = match &existing {
        None => directory::create_account(state, &email, &name, Role::Member).await?,
        Some(account) if account.user.email != email || account.user.name != name => {
            state
                .store
                .update_user_profile(account.user.id, &email, &name)
                .await?
        }
        Some(account) => account.user.clone(),
    };
    let record = ScimUserRecord {
        user_id: user.id,
        document: Value::Object(document.clone()).to_string(),
        deleted_at: None,
        created_at: existing
            .as_ref()
            .and_then(|a| a.record.as_ref())
            .map_or(now, |record| record.created_at),
        updated_at: now,
    };
    state.store.put_scim_user(record.clone()).await?;
    let wants_active = document
        .get("active")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let user = match (wants_active, user.active) {
        (false, true) => directory::deactivate(state, &user, &client.actor()).await?,
        (true, false) => directory::reactivate(state, &user, &client.actor()).await?,
        _ => user,
    };
    directory::move_department(
        state,
        user.id,
        enterprise_text(&previous, "department").as_deref(),
        enterprise_text(&document, "department").as_deref(),
        &directory::scim_granter(state, &client.token).await?,
    )
    .await?;
    Ok(ScimUser {
        user,
        record: Some(record),
    })
}

async fn audit(
    state: &AppState,
    client: &ScimClient,
    action: &str,
    id: UserId,
    before: Option<&Value>,
    after: Option<&Value>,
) -> ScimResult<()> {
    let mut change = Change::new(action, "user", id);
    change.before = before.cloned();
    change.after = after.cloned();
    crate::audit::record(&*state.store, &client.actor(), change).await?;
    Ok(())
}

/// POST /Users.
pub async fn create(state: &AppState, client: &ScimClient, body: &Value) -> ScimResult<Value> {
    let document = normalize_document(ResourceKind::User, body)?;
    let account = store_account(state, client, None, document).await?;
    let rendered = render_one(state, &client.base, &account).await?;
    audit(
        state,
        client,
        "scim.user.create",
        account.user.id,
        None,
        Some(&rendered),
    )
    .await?;
    Ok(rendered)
}

/// PUT /Users/{id}.
pub async fn replace(
    state: &AppState,
    client: &ScimClient,
    id: &str,
    headers: &HeaderMap,
    body: &Value,
) -> ScimResult<Value> {
    let account = load(state, id).await?;
    ensure_manageable(&account.user)?;
    let before = render_one(state, &client.base, &account).await?;
    check_if_match(headers, &before)?;
    let document = normalize_document(ResourceKind::User, body)?;
    let account = store_account(state, client, Some(account), document).await?;
    let after = render_one(state, &client.base, &account).await?;
    audit(
        state,
        client,
        "scim.user.replace",
        account.user.id,
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(after)
}

/// PATCH /Users/{id}.
pub async fn modify(
    state: &AppState,
    client: &ScimClient,
    id: &str,
    headers: &HeaderMap,
    body: &Value,
) -> ScimResult<Value> {
    let operations = patch::parse_request(body)?;
    let account = load(state, id).await?;
    ensure_manageable(&account.user)?;
    let before = render_one(state, &client.base, &account).await?;
    check_if_match(headers, &before)?;
    let mut document = normalize_document(ResourceKind::User, &before)?;
    patch::apply(&mut document, ResourceKind::User, &operations)?;
    let document = normalize_document(ResourceKind::User, &Value::Object(document))?;
    let account = store_account(state, client, Some(account), document).await?;
    let after = render_one(state, &client.base, &account).await?;
    audit(
        state,
        client,
        "scim.user.patch",
        account.user.id,
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(after)
}

/// DELETE /Users/{id}: deactivates and hides the account.
pub async fn delete(
    state: &AppState,
    client: &ScimClient,
    id: &str,
    headers: &HeaderMap,
) -> ScimResult<()> {
    let account = load(state, id).await?;
    ensure_manageable(&account.user)?;
    let before = render_one(state, &client.base, &account).await?;
    check_if_match(headers, &before)?;
    let user = &account.user;
    if user.active {
        directory::deactivate(state, user, &client.actor()).await?;
    }
    directory::leave_all_units(state, user.id).await?;
    let now = crate::now_millis();
    let document = account
        .record
        .as_ref()
        .map_or_else(|| "{}".to_string(), |record| record.document.clone());
    state
        .store
        .put_scim_user(ScimUserRecord {
            user_id: user.id,
            document,
            deleted_at: Some(now),
            created_at: account
                .record
                .as_ref()
                .map_or(now, |record| record.created_at),
            updated_at: now,
        })
        .await?;
    audit(
        state,
        client,
        "scim.user.delete",
        user.id,
        Some(&before),
        None,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_come_from_the_best_attribute() {
        let doc = |value: Value| value.as_object().cloned().unwrap();
        assert_eq!(
            display_name(&doc(json!({"displayName": " Babs "})), "x"),
            "Babs"
        );
        assert_eq!(
            display_name(
                &doc(json!({"name": {"formatted": "Ms. B J", "givenName": "B"}})),
                "x"
            ),
            "Ms. B J"
        );
        assert_eq!(
            display_name(
                &doc(json!({"name": {"givenName": "Barbara", "familyName": "Jensen"}})),
                "x"
            ),
            "Barbara Jensen"
        );
        assert_eq!(
            display_name(&doc(json!({"name": {"familyName": "Jensen"}})), "x"),
            "Jensen"
        );
        assert_eq!(
            display_name(&doc(json!({"displayName": "\u{7}"})), "fallback@x"),
            "fallback@x"
        );
        assert_eq!(
            display_name(&doc(json!({"displayName": "y".repeat(500)})), "x")
                .chars()
                .count(),
            validate::MAX_DISPLAY_NAME_CHARS
        );
    }

    #[test]
    fn user_names_become_lowercase_account_emails() {
        let doc = |value: Value| value.as_object().cloned().unwrap();
        assert_eq!(
            account_email(&doc(json!({"userName": " BJensen@Example.COM "}))).unwrap(),
            "bjensen@example.com"
        );
        for refused in [
            json!({"userName": "bjensen"}),
            json!({"userName": "b jensen@example.com"}),
            json!({"userName": "bjensen@localhost"}),
            json!({"userName": "@example.com"}),
            json!({"userName": "a@b@example.com"}),
            json!({"userName": format!("{}@example.com", "x".repeat(300))}),
            json!({"userName": ""}),
        ] {
            assert!(account_email(&doc(refused.clone())).is_err(), "{refused}");
        }
    }
}
