//! SCIM PATCH (RFC 7644 §3.5.2): add, remove and replace, with and without
//! a path, applied to a resource's writable JSON document. The caller then
//! validates and stores the result exactly as it would a PUT, so PATCH and
//! PUT cannot disagree about what a valid resource is.

use serde_json::{Map, Value};

use super::document::{normalize_single, normalize_value};
use super::error::{ScimError, ScimResult};
use super::filter::{self, PatchPath, Scope, parse_patch_path};
use super::schema::{self, Attribute, Kind, Mutability, ResourceKind};

/// The most operations one PATCH request may carry.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub op: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Reads a PatchOp request body.
pub fn parse_request(body: &Value) -> ScimResult<Vec<Operation>> {
    if let Some(schemas) = filter::member(body, "schemas") {
        let names = schemas
            .as_array()
            .ok_or_else(|| ScimError::invalid_syntax("schemas must be an array"))?;
        if !names.iter().any(|name| {
            name.as_str()
                .is_some_and(|name| name.eq_ignore_ascii_case(schema::PATCH_OP))
        }) {
            return Err(ScimError::invalid_syntax(format!(
                "a PATCH body carries the schema {}",
                schema::PATCH_OP
            )));
        }
    }
    let operations = filter::member(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("a PATCH body needs an Operations array"))?;
    if operations.is_empty() || operations.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!(
            "send 1 to {MAX_OPERATIONS} operations"
        )));
    }
    operations
        .iter()
        .map(|operation| {
            let op = match filter::member(operation, "op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("add") => OpKind::Add,
                Some("remove") => OpKind::Remove,
                Some("replace") => OpKind::Replace,
                _ => {
                    return Err(ScimError::invalid_syntax(
                        "op must be add, remove or replace",
                    ));
                }
            };
            let path = match filter::member(operation, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(path)) => Some(path.clone()),
                Some(_) => return Err(ScimError::invalid_syntax("path must be a string")),
            };
            let value = filter::member(operation, "value").cloned();
            if op != OpKind::Remove && value.is_none() {
                return Err(ScimError::invalid_syntax("add and replace need a value"));
            }
            Ok(Operation { op, path, value })
        })
        .collect()
}

/// Applies `operations` in order to `document` (the resource's writable
/// attributes, canonical names). Fails on the first operation that cannot
/// apply; the caller then stores nothing.
pub fn apply(
    document: &mut Map<String, Value>,
    kind: ResourceKind,
    operations: &[Operation],
) -> ScimResult<()> {
    for operation in operations {
        match (&operation.path, operation.op) {
            (None, OpKind::Remove) => return Err(ScimError::no_target("remove needs a path")),
            (None, op) => {
                let Some(Value::Object(values)) = &operation.value else {
                    return Err(ScimError::invalid_value(
                        "without a path, the value must be an object of attributes",
                    ));
                };
                for (key, value) in values {
                    if ["schemas", "id", "meta"]
                        .iter()
                        .any(|skip| key.eq_ignore_ascii_case(skip))
                    {
                        continue;
                    }
                    let path = parse_patch_path(key, kind)?;
                    apply_at(document, kind, &path, op, Some(value))?;
                }
            }
            (Some(path), op) => {
                let path = parse_patch_path(path, kind)?;
                apply_at(document, kind, &path, op, operation.value.as_ref())?;
            }
        }
    }
    Ok(())
}

fn apply_at(
    document: &mut Map<String, Value>,
    kind: ResourceKind,
    path: &PatchPath,
    op: OpKind,
    value: Option<&Value>,
) -> ScimResult<()> {
    let Some(attribute) = path.attribute else {
        // The extension as a whole.
        let urn = path
            .extension
            .ok_or_else(|| ScimError::invalid_path("a path must name an attribute"))?;
        return match op {
            OpKind::Remove => {
                document.remove(urn);
                Ok(())
            }
            _ => {
                let Some(Value::Object(values)) = value else {
                    return Err(ScimError::invalid_value(
                        "an extension's value is an object of attributes",
                    ));
                };
                let attributes = kind
                    .extension(urn)
                    .map(|(_, attributes)| attributes)
                    .unwrap_or(&[]);
                for (key, value) in values {
                    if key.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    let attribute = schema::find(attributes, key).ok_or_else(|| {
                        ScimError::invalid_path(format!("{key:?} is not an attribute of {urn}"))
                    })?;
                    let inner = PatchPath {
                        extension: Some(urn),
                        attribute: Some(attribute),
                        filter: None,
                        sub: None,
                    };
                    apply_at(document, kind, &inner, op, Some(value))?;
                }
                Ok(())
            }
        };
    };
    if attribute.mutability == Mutability::ReadOnly
        || path
            .sub
            .is_some_and(|sub| sub.mutability == Mutability::ReadOnly)
    {
        return Err(ScimError::mutability(format!(
            "{} is read-only",
            attribute.name
        )));
    }
    let container = match path.extension {
        Some(urn) => {
            let entry = document
                .entry(urn)
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            match entry.as_object_mut() {
                Some(object) => object,
                None => return Err(ScimError::internal()),
            }
        }
        None => &mut *document,
    };
    let result = match (&path.filter, path.sub) {
        (None, None) => whole_attribute(container, attribute, op, value),
        (None, Some(sub)) => sub_attribute(container, attribute, sub, op, value),
        (Some(filter), sub) => filtered(container, attribute, filter, sub, op, value),
    };
    if let Some(urn) = path.extension
        && document
            .get(urn)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
    {
        document.remove(urn);
    }
    result
}

fn whole_attribute(
    container: &mut Map<String, Value>,
    attribute: &'static Attribute,
    op: OpKind,
    value: Option<&Value>,
) -> ScimResult<()> {
    let name = attribute.name;
    if op == OpKind::Remove {
        // `{"op": "remove", "path": "members", "value": [{"value": "id"}]}`
        // removes just those values, as Azure AD sends it.
        if let (true, Some(Value::Array(selected))) = (attribute.multi_valued, value) {
            let selected: Vec<Value> = selected
                .iter()
                .filter_map(|item| filter::member(item, "value").cloned())
                .collect();
            if let Some(Value::Array(items)) = container.get_mut(name) {
                items.retain(|item| {
                    !filter::member(item, "value").is_some_and(|value| selected.contains(value))
                });
                if items.is_empty() {
                    container.remove(name);
                }
            }
            return Ok(());
        }
        container.remove(name);
        return Ok(());
    }
    let Some(new) = normalize_value(attribute, value.unwrap_or(&Value::Null))? else {
        // Adding or replacing with nothing leaves the attribute unassigned.
        if op == OpKind::Replace {
            container.remove(name);
        }
        return Ok(());
    };
    match (op, attribute.multi_valued, attribute.kind) {
        (OpKind::Add, true, _) => {
            let Value::Array(new_items) = new else {
                return Err(ScimError::internal());
            };
            let makes_primary = new_items
                .iter()
                .any(|item| item.get("primary") == Some(&Value::Bool(true)));
            let entry = container
                .entry(name)
                .or_insert_with(|| Value::Array(Vec::new()));
            if !entry.is_array() {
                *entry = Value::Array(Vec::new());
            }
            if let Value::Array(items) = entry {
                if makes_primary {
                    for item in items.iter_mut() {
                        if let Some(object) = item
                            .as_object_mut()
                            .filter(|object| object.contains_key("primary"))
                        {
                            object.insert("primary".into(), Value::Bool(false));
                        }
                    }
                }
                for item in new_items {
                    if !items.contains(&item) {
                        items.push(item);
                    }
                }
            }
        }
        (_, false, Kind::Complex) => {
            // Sub-attributes not given are left as they are (RFC 7644 §3.5.2.3).
            let Value::Object(new_fields) = new else {
                return Err(ScimError::internal());
            };
            let entry = container
                .entry(name)
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(fields) = entry {
                fields.extend(new_fields);
            }
        }
        _ => {
            container.insert(name.to_string(), new);
        }
    }
    Ok(())
}

fn sub_attribute(
    container: &mut Map<String, Value>,
    attribute: &'static Attribute,
    sub: &'static Attribute,
    op: OpKind,
    value: Option<&Value>,
) -> ScimResult<()> {
    let name = attribute.name;
    let new = match op {
        OpKind::Remove => None,
        _ => normalize_single(sub, value.unwrap_or(&Value::Null))?,
    };
    let set = |object: &mut Map<String, Value>| match &new {
        Some(new) => {
            object.insert(sub.name.to_string(), new.clone());
        }
        None => {
            object.remove(sub.name);
        }
    };
    if attribute.multi_valued {
        // Without a filter, a sub-attribute of a multi-valued attribute
        // means that sub-attribute of every value.
        if let Some(Value::Array(items)) = container.get_mut(name) {
            items
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .for_each(set);
        }
        return Ok(());
    }
    if new.is_none() && !container.contains_key(name) {
        return Ok(());
    }
    let entry = container
        .entry(name)
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(object) = entry {
        set(object);
        if object.is_empty() {
            container.remove(name);
        }
    }
    Ok(())
}

fn filtered(
    container: &mut Map<String, Value>,
    attribute: &'static Attribute,
    selection: &filter::Filter,
    sub: Option<&'static Attribute>,
    op: OpKind,
    value: Option<&Value>,
) -> ScimResult<()> {
    let name = attribute.name;
    let scope = Scope::Within(attribute.sub_attributes);
    let Some(Value::Array(items)) = container.get_mut(name) else {
        return match op {
            OpKind::Remove => Ok(()),
            _ => Err(ScimError::no_target(format!(
                "no value of {name} matches the filter"
            ))),
        };
    };
    let selected: Vec<bool> = items
        .iter()
        .map(|item| filter::matches(selection, item, scope))
        .collect();
    if op != OpKind::Remove && !selected.contains(&true) {
        return Err(ScimError::no_target(format!(
            "no value of {name} matches the filter"
        )));
    }
    match (op, sub) {
        (OpKind::Remove, None) => {
            let mut index = 0;
            items.retain(|_| {
                index += 1;
                !selected[index - 1]
            });
        }
        (_, Some(sub)) => {
            let new = match op {
                OpKind::Remove => None,
                _ => normalize_single(sub, value.unwrap_or(&Value::Null))?,
            };
            for (item, chosen) in items.iter_mut().zip(&selected) {
                if let (true, Some(object)) = (*chosen, item.as_object_mut()) {
                    match &new {
                        Some(new) => object.insert(sub.name.to_string(), new.clone()),
                        None => object.remove(sub.name),
                    };
                }
            }
        }
        (op, None) => {
            let Some(Value::Object(new)) =
                normalize_single(attribute, value.unwrap_or(&Value::Null))?
            else {
                return Err(ScimError::invalid_value(format!(
                    "a value of {name} is an object"
                )));
            };
            for (item, chosen) in items.iter_mut().zip(&selected) {
                if !*chosen {
                    continue;
                }
                match (op, item.as_object_mut()) {
                    (OpKind::Add, Some(object)) => object.extend(new.clone()),
                    _ => *item = Value::Object(new.clone()),
                }
            }
        }
    }
    if items.is_empty() {
        container.remove(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(kind: ResourceKind, document: Value, operations: Value) -> ScimResult<Value> {
        let mut document = document.as_object().cloned().unwrap();
        let operations =
            parse_request(&json!({"schemas": [schema::PATCH_OP], "Operations": operations}))?;
        apply(&mut document, kind, &operations)?;
        Ok(Value::Object(document))
    }

    #[test]
    fn the_patch_table() {
        let user = json!({
            "userName": "b@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@example.com", "type": "work", "primary": true}, {"value": "h@example.com", "type": "home"}]
        });
        let enterprise = schema::ENTERPRISE_USER;
        let table: Vec<(Value, Value)> = vec![
            (
                json!([{"op": "replace", "path": "name.givenName", "value": "Babs"}]),
                json!({"name": {"givenName": "Babs", "familyName": "Jensen"}}),
            ),
            (
                json!([{"op": "Replace", "value": {"name.familyName": "J", "displayName": "BJ"}}]),
                json!({"name": {"givenName": "Barbara", "familyName": "J"}, "displayName": "BJ"}),
            ),
            (
                json!([{"op": "add", "value": {"NAME": {"MiddleName": "Q"}}}]),
                json!({"name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": "Q"}}),
            ),
            (
                json!([{"op": "remove", "path": "name.givenName"}]),
                json!({"name": {"familyName": "Jensen"}}),
            ),
            (
                json!([{"op": "remove", "path": "name"}]),
                json!({"name": null}),
            ),
            (
                json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]),
                json!({"emails": [{"value": "new@example.com", "type": "work", "primary": true}, {"value": "h@example.com", "type": "home"}]}),
            ),
            (
                json!([{"op": "remove", "path": "emails[type eq \"HOME\"]"}]),
                json!({"emails": [{"value": "b@example.com", "type": "work", "primary": true}]}),
            ),
            (
                json!([{"op": "add", "path": "emails", "value": [{"value": "o@example.com", "primary": true}]}]),
                json!({"emails": [{"value": "b@example.com", "type": "work", "primary": false}, {"value": "h@example.com", "type": "home"}, {"value": "o@example.com", "primary": true}]}),
            ),
            (
                json!([{"op": "replace", "path": "emails", "value": [{"value": "x@example.com"}]}]),
                json!({"emails": [{"value": "x@example.com"}]}),
            ),
            (
                json!([{"op": "replace", "path": "active", "value": "False"}]),
                json!({"active": false}),
            ),
            (
                json!([{"op": "add", "path": enterprise, "value": {"department": "Sales", "employeeNumber": "7"}}]),
                json!({enterprise: {"department": "Sales", "employeeNumber": "7"}}),
            ),
            (
                json!([{"op": "add", "path": format!("{enterprise}:manager"), "value": {"value": "9"}}]),
                json!({enterprise: {"manager": {"value": "9"}}}),
            ),
            (
                json!([{"op": "add", "value": {enterprise: {"division": "EU"}}}]),
                json!({enterprise: {"division": "EU"}}),
            ),
        ];
        for (operations, expected_changes) in table {
            let result = run(ResourceKind::User, user.clone(), operations.clone())
                .unwrap_or_else(|e| panic!("{operations}: {e:?}"));
            let mut expected = user.as_object().cloned().unwrap();
            for (key, value) in expected_changes.as_object().unwrap() {
                if value.is_null() {
                    expected.remove(key);
                } else {
                    expected.insert(key.clone(), value.clone());
                }
            }
            assert_eq!(result, Value::Object(expected), "{operations}");
        }
    }

    #[test]
    fn group_members_add_and_remove() {
        let group = json!({"displayName": "Ops", "members": [{"value": "1"}, {"value": "2"}, {"value": "3"}]});
        let result = run(
            ResourceKind::Group,
            group.clone(),
            json!([{"op": "remove", "path": "members[value eq \"2\"]"}]),
        )
        .unwrap();
        assert_eq!(result["members"], json!([{"value": "1"}, {"value": "3"}]));
        let result = run(
            ResourceKind::Group,
            group.clone(),
            json!([{"op": "remove", "path": "members", "value": [{"value": "1"}, {"value": "3"}]}]),
        )
        .unwrap();
        assert_eq!(result["members"], json!([{"value": "2"}]));
        let result = run(
            ResourceKind::Group,
            group.clone(),
            json!([{"op": "add", "path": "members", "value": [{"value": "4"}, {"value": "1"}]}]),
        )
        .unwrap();
        assert_eq!(
            result["members"],
            json!([{"value": "1"}, {"value": "2"}, {"value": "3"}, {"value": "4"}])
        );
        let result = run(
            ResourceKind::Group,
            group.clone(),
            json!([{"op": "remove", "path": "members"}]),
        )
        .unwrap();
        assert!(result.get("members").is_none());
        let result = run(
            ResourceKind::Group,
            group,
            json!([{"op": "replace", "path": "displayName", "value": "Ops EU"}]),
        )
        .unwrap();
        assert_eq!(result["displayName"], "Ops EU");
    }

    #[test]
    fn refusals() {
        let user = json!({"userName": "b@example.com", "emails": [{"value": "b@example.com", "type": "work"}]});
        let table = [
            (json!([{"op": "remove"}]), "noTarget"),
            (
                json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "x"}]),
                "noTarget",
            ),
            (
                json!([{"op": "replace", "path": "id", "value": "7"}]),
                "mutability",
            ),
            (
                json!([{"op": "add", "path": "groups", "value": [{"value": "1"}]}]),
                "mutability",
            ),
            (
                json!([{"op": "add", "path": "nope", "value": "x"}]),
                "invalidPath",
            ),
            (
                json!([{"op": "add", "path": "active", "value": "maybe"}]),
                "invalidValue",
            ),
            (
                json!([{"op": "add", "path": "displayName", "value": 7}]),
                "invalidValue",
            ),
            (
                json!([{"op": "move", "path": "displayName", "value": "x"}]),
                "invalidSyntax",
            ),
            (json!([]), "invalidSyntax"),
        ];
        for (operations, scim_type) in table {
            let error = run(ResourceKind::User, user.clone(), operations.clone())
                .expect_err(&operations.to_string());
            assert_eq!(error.scim_type, Some(scim_type), "{operations}");
        }
    }
}
