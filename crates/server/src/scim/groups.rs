//! The SCIM Group resource over Conclave teams. A group's members are
//! users (no nested groups); changing them applies the team's
//! auto-membership rules. SCIM may not add or remove an owner or admin
//! (403), nor delete a team that holds one; a team grants no role. Group ids are `team-N` so that they never equal a
//! user id in a search across both resource types.

use std::collections::HashMap;

use axum::http::HeaderMap;
use conclave_domain::UserId;
use conclave_domain::directory::{NewOrgUnit, OrgUnit, OrgUnitId, OrgUnitKind, org_unit_name};
use serde_json::{Map, Value, json};

use super::document::{entity_tag, format_time, normalize_document};
use super::error::{ScimError, ScimResult};
use super::filter::{Filter, Scope};
use super::schema::{self, ResourceKind};
use super::{ScimClient, check_if_match, directory, patch, users};
use crate::audit::Change;
use crate::state::AppState;

const ID_PREFIX: &str = "team-";

pub fn scim_id(id: OrgUnitId) -> String {
    format!("{ID_PREFIX}{id}")
}

pub fn location(base: &str, id: OrgUnitId) -> String {
    format!("{base}/Groups/{}", scim_id(id))
}

/// The full representation of a team with its members.
pub fn render(base: &str, team: &OrgUnit, members: &[UserId]) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([schema::GROUP]));
    out.insert("id".into(), json!(scim_id(team.id)));
    if let Some(external_id) = &team.external_id {
        out.insert("externalId".into(), json!(external_id));
    }
    out.insert("displayName".into(), json!(team.name));
    if !members.is_empty() {
        let members: Vec<Value> = members
            .iter()
            .map(|id| json!({"value": id.to_string(), "$ref": users::location(base, *id), "type": "User"}))
            .collect();
        out.insert("members".into(), Value::Array(members));
    }
    let mut value = Value::Object(out);
    let version = entity_tag(&value);
    if let Some(object) = value.as_object_mut() {
        object.insert(
            "meta".into(),
            json!({
                "resourceType": "Group",
                "created": format_time(team.created_at),
                "lastModified": format_time(team.updated_at),
                "location": location(base, team.id),
                "version": version,
            }),
        );
    }
    value
}

/// The team with SCIM id `id`.
pub async fn load(state: &AppState, id: &str) -> ScimResult<OrgUnit> {
    let not_found = || ScimError::not_found(format!("no Group with id {id:?}"));
    let number: OrgUnitId = id
        .trim()
        .strip_prefix(ID_PREFIX)
        .and_then(|n| n.parse().ok())
        .ok_or_else(not_found)?;
    state
        .store
        .org_unit(number)
        .await?
        .filter(|unit| unit.kind == OrgUnitKind::Team)
        .ok_or_else(not_found)
}

pub async fn render_one(state: &AppState, base: &str, team: &OrgUnit) -> ScimResult<Value> {
    let members = state.store.org_unit_member_ids(team.id).await?;
    Ok(render(base, team, &members))
}

/// Every team matching `filter`, rendered, by id.
pub async fn search(
    state: &AppState,
    base: &str,
    filter: Option<&Filter>,
) -> ScimResult<Vec<Value>> {
    let teams = state.store.org_units(Some(OrgUnitKind::Team)).await?;
    let mut members: HashMap<OrgUnitId, Vec<UserId>> = HashMap::new();
    for (unit_id, user_id) in state.store.org_unit_memberships().await? {
        members.entry(unit_id).or_default().push(user_id);
    }
    Ok(teams
        .iter()
        .map(|team| {
            render(
                base,
                team,
                members.get(&team.id).map(Vec::as_slice).unwrap_or(&[]),
            )
        })
        .filter(|rendered| {
            filter.is_none_or(|filter| {
                super::filter::matches(filter, rendered, Scope::Resource(ResourceKind::Group))
            })
        })
        .collect())
}

/// What a canonical group document asks for: a name, an external id and
/// member ids, each an existing, visible user.
async fn read_document(
    state: &AppState,
    document: &Map<String, Value>,
) -> ScimResult<(String, Option<String>, Vec<UserId>)> {
    let name = document
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_string();
    org_unit_name(&name)
        .map_err(|error| ScimError::invalid_value(format!("displayName {}", error.problem)))?;
    let external_id = document
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut member_ids = Vec::new();
    for member in document
        .get("members")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let value = member
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if member
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|kind| !kind.eq_ignore_ascii_case("User"))
        {
            return Err(ScimError::invalid_value("teams hold users, not groups"));
        }
        let account = users::load(state, value)
            .await
            .map_err(|_| ScimError::invalid_value(format!("member {value:?} is not a User")))?;
        if !member_ids.contains(&account.user.id) {
            member_ids.push(account.user.id);
        }
    }
    Ok((name, external_id, member_ids))
}

fn name_taken(name: &str) -> ScimError {
    ScimError::uniqueness(format!("a Group named {name:?} exists"))
}

/// Refuses a membership change that would add or remove an owner or admin:
/// SCIM does not change their accounts, team memberships included, since
/// teams feed channel memberships through auto-membership rules. Owners
/// and admins who stay in a team as they are do not stop the change.
async fn ensure_members_manageable(
    state: &AppState,
    current: &[UserId],
    wanted: &[UserId],
) -> ScimResult<()> {
    let changing: Vec<UserId> = current
        .iter()
        .filter(|id| !wanted.contains(id))
        .chain(wanted.iter().filter(|id| !current.contains(id)))
        .copied()
        .collect();
    if changing.is_empty() {
        return Ok(());
    }
    for user in state.store.users_by_ids(&changing).await? {
        users::ensure_manageable(&user)?;
    }
    Ok(())
}

async fn store_team(
    state: &AppState,
    client: &ScimClient,
    existing: Option<&OrgUnit>,
    document: &Map<String, Value>,
) -> ScimResult<OrgUnit> {
    let (name, external_id, member_ids) = read_document(state, document).await?;
    let current = match existing {
        Some(team) => state.store.org_unit_member_ids(team.id).await?,
        None => Vec::new(),
    };
    ensure_members_manageable(state, &current, &member_ids).await?;
    let now = crate::now_millis();
    let team = match existing {
        None => state
            .store
            .create_org_unit(NewOrgUnit {
                kind: OrgUnitKind::Team,
                name: name.clone(),
                external_id,
                at: now,
            })
            .await
            .map_err(|error| match error {
                conclave_store::StoreError::Conflict(_) => name_taken(&name),
                other => other.into(),
            })?,
        Some(team) => team.clone(),
    };
    let granter = directory::scim_granter(state, &client.token).await?;
    directory::set_unit_members(state, team.id, &member_ids, &granter).await?;
    if existing.is_none() {
        return Ok(team);
    }
    // Bumps lastModified for membership changes too.
    let external_id = document
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_string);
    state
        .store
        .update_org_unit(team.id, &name, external_id, now)
        .await
        .map_err(|error| match error {
            conclave_store::StoreError::Conflict(_) => name_taken(&name),
            other => other.into(),
        })
}

async fn audit(
    state: &AppState,
    client: &ScimClient,
    action: &str,
    team: &OrgUnit,
    before: Option<&Value>,
    after: Option<&Value>,
) -> ScimResult<()> {
    let mut change = Change::new(action, "team", team.id);
    change.before = before.cloned();
    change.after = after.cloned();
    crate::audit::record(&*state.store, &client.actor(), change).await?;
    Ok(())
}

pub async fn create(state: &AppState, client: &ScimClient, body: &Value) -> ScimResult<Value> {
    let document = normalize_document(ResourceKind::Group, body)?;
    let team = store_team(state, client, None, &document).await?;
    let rendered = render_one(state, &client.base, &team).await?;
    audit(
        state,
        client,
        "scim.group.create",
        &team,
        None,
        Some(&rendered),
    )
    .await?;
    Ok(rendered)
}

pub async fn replace(
    state: &AppState,
    client: &ScimClient,
    id: &str,
    headers: &HeaderMap,
    body: &Value,
) -> ScimResult<Value> {
    let team = load(state, id).await?;
    let before = render_one(state, &client.base, &team).await?;
    check_if_match(headers, &before)?;
    let document = normalize_document(ResourceKind::Group, body)?;
    let team = store_team(state, client, Some(&team), &document).await?;
    let after = render_one(state, &client.base, &team).await?;
    audit(
        state,
        client,
        "scim.group.replace",
        &team,
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(after)
}

pub async fn modify(
    state: &AppState,
    client: &ScimClient,
    id: &str,
    headers: &HeaderMap,
    body: &Value,
) -> ScimResult<Value> {
    let operations = patch::parse_request(body)?;
    let team = load(state, id).await?;
    let before = render_one(state, &client.base, &team).await?;
    check_if_match(headers, &before)?;
    let mut document = normalize_document(ResourceKind::Group, &before)?;
    patch::apply(&mut document, ResourceKind::Group, &operations)?;
    let document = normalize_document(ResourceKind::Group, &Value::Object(document))?;
    let team = store_team(state, client, Some(&team), &document).await?;
    let after = render_one(state, &client.base, &team).await?;
    audit(
        state,
        client,
        "scim.group.patch",
        &team,
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(after)
}

/// DELETE /Groups/{id}: members leave (and the channels its rules gave
/// them), then the team and its rules go.
pub async fn delete(
    state: &AppState,
    client: &ScimClient,
    id: &str,
    headers: &HeaderMap,
) -> ScimResult<()> {
    let team = load(state, id).await?;
    let before = render_one(state, &client.base, &team).await?;
    check_if_match(headers, &before)?;
    let current = state.store.org_unit_member_ids(team.id).await?;
    ensure_members_manageable(state, &current, &[]).await?;
    directory::set_unit_members(
        state,
        team.id,
        &[],
        &directory::UnitGranter::IdentityProvider,
    )
    .await?;
    state.store.delete_org_unit(team.id).await?;
    audit(
        state,
        client,
        "scim.group.delete",
        &team,
        Some(&before),
        None,
    )
    .await?;
    Ok(())
}
