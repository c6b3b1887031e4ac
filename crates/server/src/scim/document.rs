//! SCIM resources as JSON documents: reading what a client sent into a
//! canonical, type-checked document (attribute names as the schema spells
//! them, read-only attributes dropped), and shaping what is returned
//! (`attributes` / `excludedAttributes`, entity tags, timestamps).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::{ScimError, ScimResult};
use super::filter::{self, parse_attr_path};
use super::schema::{self, Attribute, Kind, Mutability, ResourceKind, Returned};

/// The longest string value accepted, in bytes.
pub const MAX_STRING_BYTES: usize = 4096;
/// The most values one multi-valued attribute may hold in one request.
pub const MAX_VALUES: usize = 10_000;

/// Reads one value of `attribute` (never an array): checks its type and
/// canonicalises sub-attribute names. `None` for null or an empty complex
/// value, which mean "unassigned".
pub fn normalize_single(attribute: &'static Attribute, value: &Value) -> ScimResult<Option<Value>> {
    let name = attribute.name;
    match (attribute.kind, value) {
        (_, Value::Null) => Ok(None),
        (Kind::String | Kind::Reference | Kind::DateTime, Value::String(text)) => {
            if text.len() > MAX_STRING_BYTES {
                return Err(ScimError::invalid_value(format!(
                    "{name} is longer than {MAX_STRING_BYTES} bytes"
                )));
            }
            Ok(Some(Value::String(text.clone())))
        }
        (Kind::Boolean, Value::Bool(flag)) => Ok(Some(Value::Bool(*flag))),
        // Some identity providers (Azure AD) send booleans as strings.
        (Kind::Boolean, Value::String(text)) if text.eq_ignore_ascii_case("true") => {
            Ok(Some(Value::Bool(true)))
        }
        (Kind::Boolean, Value::String(text)) if text.eq_ignore_ascii_case("false") => {
            Ok(Some(Value::Bool(false)))
        }
        (Kind::Complex, Value::Object(fields)) => {
            let mut out = Map::new();
            for (key, value) in fields {
                let Some(sub) = schema::find(attribute.sub_attributes, key) else {
                    // Sub-attributes Conclave does not define are ignored.
                    continue;
                };
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(value) = normalize_single(sub, value)? {
                    out.insert(sub.name.to_string(), value);
                }
            }
            Ok(if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            })
        }
        (kind, other) => Err(ScimError::invalid_value(format!(
            "{name} must be {}, not {other}",
            kind_name(kind)
        ))),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::String | Kind::Reference | Kind::DateTime => "a string",
        Kind::Boolean => "a boolean",
        Kind::Complex => "an object",
    }
}

/// Reads a whole attribute: multi-valued attributes become arrays (a single
/// value is accepted as a one-element array). `None` means unassigned.
pub fn normalize_value(attribute: &'static Attribute, value: &Value) -> ScimResult<Option<Value>> {
    if !attribute.multi_valued {
        if value.is_array() {
            return Err(ScimError::invalid_value(format!(
                "{} takes one value, not an array",
                attribute.name
            )));
        }
        return normalize_single(attribute, value);
    }
    let items: Vec<&Value> = match value {
        Value::Null => return Ok(None),
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    if items.len() > MAX_VALUES {
        return Err(ScimError::invalid_value(format!(
            "{} holds at most {MAX_VALUES} values",
            attribute.name
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(item) = normalize_single(attribute, item)? {
            out.push(item);
        }
    }
    Ok(if out.is_empty() {
        None
    } else {
        Some(Value::Array(out))
    })
}

/// Reads a resource a client sent (POST, PUT) into a canonical document of
/// writable attributes. Unknown attributes are ignored; read-only ones
/// (`id`, `meta`, `groups`) are dropped; required ones must be there.
pub fn normalize_document(kind: ResourceKind, input: &Value) -> ScimResult<Map<String, Value>> {
    let fields = input
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the body must be a JSON object"))?;
    let mut out = Map::new();
    for (key, value) in fields {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some((urn, attributes)) = kind.extension(key) {
            let Some(extension) = value.as_object() else {
                if value.is_null() {
                    continue;
                }
                return Err(ScimError::invalid_value(format!("{urn} must be an object")));
            };
            let mut normalized = Map::new();
            for (key, value) in extension {
                let Some(attribute) = schema::find(attributes, key) else {
                    continue;
                };
                if attribute.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(value) = normalize_value(attribute, value)? {
                    normalized.insert(attribute.name.to_string(), value);
                }
            }
            if !normalized.is_empty() {
                out.insert(urn.to_string(), Value::Object(normalized));
            }
            continue;
        }
        let Some(attribute) = kind.attribute(key) else {
            continue;
        };
        if attribute.mutability == Mutability::ReadOnly {
            continue;
        }
        if let Some(value) = normalize_value(attribute, value)? {
            out.insert(attribute.name.to_string(), value);
        }
    }
    check_required(kind, &out)?;
    Ok(out)
}

/// Required attributes (userName, a group's displayName) must hold a
/// non-blank value.
pub fn check_required(kind: ResourceKind, document: &Map<String, Value>) -> ScimResult<()> {
    for attribute in kind
        .core_attributes()
        .iter()
        .filter(|attribute| attribute.required)
    {
        let present = match document.get(attribute.name) {
            Some(Value::String(text)) => !text.trim().is_empty(),
            Some(Value::Null) | None => false,
            Some(_) => true,
        };
        if !present {
            return Err(ScimError::invalid_value(format!(
                "{} is required",
                attribute.name
            )));
        }
    }
    Ok(())
}

/// An RFC 3339 timestamp in UTC with milliseconds.
pub fn format_time(millis: i64) -> String {
    let nanos = i128::from(millis) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// A weak entity tag over the representation (without `meta`), so it
/// changes exactly when what a client sees changes.
pub fn entity_tag(representation: &Value) -> String {
    let mut copy = representation.clone();
    if let Some(object) = copy.as_object_mut() {
        object.remove("meta");
    }
    let digest = Sha256::digest(copy.to_string().as_bytes());
    format!("W/\"{}\"", hex::encode(&digest[..8]))
}

/// One entry of `attributes`/`excludedAttributes`: where it points.
#[derive(Debug, Clone)]
struct Selector {
    /// The extension it lives in, if any.
    extension: Option<&'static str>,
    /// `None`: the whole extension.
    attribute: Option<String>,
    sub: Option<String>,
}

fn selectors(kind: ResourceKind, names: &[String]) -> Vec<Selector> {
    names
        .iter()
        .filter_map(|name| {
            let name = name.trim();
            if let Some((urn, _)) = kind.extension(name) {
                return Some(Selector {
                    extension: Some(urn),
                    attribute: None,
                    sub: None,
                });
            }
            let path = parse_attr_path(name).ok()?;
            let extension = match &path.urn {
                Some(urn) if urn.eq_ignore_ascii_case(kind.core_schema()) => None,
                Some(urn) => Some(kind.extension(urn)?.0),
                None => None,
            };
            Some(Selector {
                extension,
                attribute: Some(path.attr),
                sub: path.sub,
            })
        })
        .collect()
}

fn key_of(object: &Map<String, Value>, name: &str) -> Option<String> {
    object
        .keys()
        .find(|key| key.eq_ignore_ascii_case(name))
        .cloned()
}

/// Keeps only `sub` of a complex value, or of each value of a multi-valued
/// one.
fn only_sub(value: &Value, sub: &str) -> Option<Value> {
    match value {
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .iter()
                .filter_map(|item| only_sub(item, sub))
                .collect();
            if kept.is_empty() {
                None
            } else {
                Some(Value::Array(kept))
            }
        }
        Value::Object(object) => {
            let key = key_of(object, sub)?;
            let mut kept = Map::new();
            kept.insert(key.clone(), object.get(&key)?.clone());
            Some(Value::Object(kept))
        }
        _ => None,
    }
}

fn merge_into(target: &mut Map<String, Value>, key: String, value: Value) {
    match (target.get_mut(&key), value) {
        (Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
        (_, value) => {
            target.insert(key, value);
        }
    }
}

/// Shapes a full representation as RFC 7644 §3.4.2.5 asks: with
/// `attributes`, only those (plus `id` and `schemas`, always returned);
/// with `excludedAttributes`, all but those.
pub fn project(
    kind: ResourceKind,
    full: Value,
    attributes: &[String],
    excluded: &[String],
) -> Value {
    let Value::Object(full) = full else {
        return full;
    };
    if !attributes.is_empty() {
        let mut out = Map::new();
        for always in ["schemas", "id"] {
            if let Some(value) = full.get(always) {
                out.insert(always.to_string(), value.clone());
            }
        }
        for selector in selectors(kind, attributes) {
            let (source, target_key) = match selector.extension {
                Some(urn) => match full.get(urn).and_then(Value::as_object) {
                    Some(extension) => (extension, Some(urn)),
                    None => continue,
                },
                None => (&full, None),
            };
            let picked: Option<(String, Value)> = match &selector.attribute {
                None => None,
                Some(name) => key_of(source, name).and_then(|key| {
                    let value = source.get(&key)?;
                    match &selector.sub {
                        None => Some((key, value.clone())),
                        Some(sub) => only_sub(value, sub).map(|value| (key, value)),
                    }
                }),
            };
            match (target_key, picked, &selector.attribute) {
                (Some(urn), None, None) => {
                    if let Some(extension) = full.get(urn) {
                        out.insert(urn.to_string(), extension.clone());
                    }
                }
                (Some(urn), Some((key, value)), _) => {
                    let entry = out
                        .entry(urn.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(extension) = entry {
                        merge_into(extension, key, value);
                    }
                }
                (None, Some((key, value)), _) => merge_into(&mut out, key, value),
                _ => {}
            }
        }
        return Value::Object(out);
    }
    let mut out = full;
    for selector in selectors(kind, excluded) {
        let always = selector
            .attribute
            .as_deref()
            .and_then(|name| kind.attribute(name))
            .is_some_and(|attribute| {
                attribute.returned == Returned::Always && selector.extension.is_none()
            });
        if always
            || selector
                .attribute
                .as_deref()
                .is_some_and(|name| name.eq_ignore_ascii_case("schemas"))
        {
            continue;
        }
        let container = match selector.extension {
            Some(urn) => match (&selector.attribute, out.get_mut(urn)) {
                (None, _) => {
                    out.remove(urn);
                    continue;
                }
                (Some(_), Some(Value::Object(extension))) => extension,
                _ => continue,
            },
            None => &mut out,
        };
        let Some(name) = &selector.attribute else {
            continue;
        };
        let Some(key) = key_of(container, name) else {
            continue;
        };
        match &selector.sub {
            None => {
                container.remove(&key);
            }
            Some(sub) => {
                if let Some(value) = container.get_mut(&key) {
                    let strip = |item: &mut Value| {
                        if let Some(object) = item.as_object_mut()
                            && let Some(sub_key) = key_of(object, sub)
                        {
                            object.remove(&sub_key);
                        }
                    };
                    match value {
                        Value::Array(items) => items.iter_mut().for_each(strip),
                        other => strip(other),
                    }
                }
            }
        }
    }
    if let Some(extensions) = kind.extensions().first().map(|(urn, _)| *urn)
        && out
            .get(extensions)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
    {
        out.remove(extensions);
    }
    Value::Object(out)
}

/// Splits a comma-separated `attributes` parameter.
pub fn split_list(text: Option<&str>) -> Vec<String> {
    text.map(|text| {
        text.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// The member of a JSON object by case-insensitive name (re-exported for
/// the resource modules).
pub fn member<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    filter::member(object, name)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn documents_are_canonical_and_typed() {
        let input = json!({
            "schemas": [schema::USER],
            "id": "ignored",
            "USERNAME": "Bjensen@Example.com",
            "Name": {"GivenName": "Barbara", "unknown": "x"},
            "emails": {"value": "b@example.com"},
            "groups": [{"value": "1"}],
            "active": "true",
            "nickName": null,
            "somethingElse": 1,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "Sales"}
        });
        let document = normalize_document(ResourceKind::User, &input).unwrap();
        assert_eq!(
            Value::Object(document),
            json!({
                "userName": "Bjensen@Example.com",
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "b@example.com"}],
                "active": true,
                schema::ENTERPRISE_USER: {"department": "Sales"}
            })
        );
        for bad in [
            json!({}),
            json!({"userName": " "}),
            json!({"userName": 5}),
            json!({"userName": "a", "name": "x"}),
            json!([]),
        ] {
            assert!(
                normalize_document(ResourceKind::User, &bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn projection_keeps_or_drops_what_was_asked() {
        let full = json!({
            "schemas": [schema::USER, schema::ENTERPRISE_USER],
            "id": "1",
            "userName": "a@example.com",
            "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@example.com", "type": "work"}],
            "meta": {"resourceType": "User"},
            schema::ENTERPRISE_USER: {"department": "Sales", "division": "EU"}
        });
        let kind = ResourceKind::User;
        let only = |names: &[&str]| {
            project(
                kind,
                full.clone(),
                &names.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
                &[],
            )
        };
        let except = |names: &[&str]| {
            project(
                kind,
                full.clone(),
                &[],
                &names.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            only(&["userName"]),
            json!({"schemas": full["schemas"], "id": "1", "userName": "a@example.com"})
        );
        assert_eq!(
            only(&["name.familyName", "emails.type"])["name"],
            json!({"familyName": "B"})
        );
        assert_eq!(only(&["emails.type"])["emails"], json!([{"type": "work"}]));
        assert_eq!(
            only(&[&format!("{}:department", schema::ENTERPRISE_USER)])[schema::ENTERPRISE_USER],
            json!({"department": "Sales"})
        );
        assert_eq!(
            only(&[schema::ENTERPRISE_USER])[schema::ENTERPRISE_USER],
            full[schema::ENTERPRISE_USER]
        );
        let dropped = except(&["emails", "id", "name.givenName", "meta"]);
        assert!(dropped.get("emails").is_none() && dropped.get("meta").is_none());
        assert_eq!(dropped["id"], "1", "id is always returned");
        assert_eq!(dropped["name"], json!({"familyName": "B"}));
        let dropped = except(&[
            &format!("{}:department", schema::ENTERPRISE_USER),
            &format!("{}:division", schema::ENTERPRISE_USER),
        ]);
        assert!(dropped.get(schema::ENTERPRISE_USER).is_none());
    }

    #[test]
    fn times_and_tags() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        let a = entity_tag(&json!({"id": "1", "meta": {"x": 1}}));
        assert_eq!(a, entity_tag(&json!({"id": "1", "meta": {"x": 2}})));
        assert_ne!(a, entity_tag(&json!({"id": "2"})));
        assert!(a.starts_with("W/\""));
    }
}
