//! The SCIM schemas Conclave serves (RFC 7643 §4, §8.7): what `/Schemas`
//! publishes, and the table every other part of the SCIM layer consults for
//! attribute names (case-insensitive), types, multiplicity, mutability,
//! returnability and case-exactness.

use serde_json::{Map, Value, json};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SERVICE_PROVIDER_CONFIG: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Boolean,
    Complex,
    Reference,
    DateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Default,
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: Kind,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    /// Unique across the server (userName; a group's displayName).
    pub unique: bool,
    pub description: &'static str,
    pub sub_attributes: &'static [Attribute],
    pub reference_types: &'static [&'static str],
    pub canonical_values: &'static [&'static str],
}

const fn text(name: &'static str, description: &'static str) -> Attribute {
    Attribute {
        name,
        kind: Kind::String,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        unique: false,
        description,
        sub_attributes: &[],
        reference_types: &[],
        canonical_values: &[],
    }
}

const fn boolean(name: &'static str, description: &'static str) -> Attribute {
    Attribute {
        kind: Kind::Boolean,
        ..text(name, description)
    }
}

const fn complex(
    name: &'static str,
    description: &'static str,
    sub_attributes: &'static [Attribute],
) -> Attribute {
    Attribute {
        kind: Kind::Complex,
        sub_attributes,
        ..text(name, description)
    }
}

const fn reference(
    name: &'static str,
    description: &'static str,
    reference_types: &'static [&'static str],
) -> Attribute {
    Attribute {
        kind: Kind::Reference,
        case_exact: true,
        reference_types,
        ..text(name, description)
    }
}

const fn multi(attribute: Attribute) -> Attribute {
    Attribute {
        multi_valued: true,
        ..attribute
    }
}

const fn read_only(attribute: Attribute) -> Attribute {
    Attribute {
        mutability: Mutability::ReadOnly,
        ..attribute
    }
}

const fn immutable(attribute: Attribute) -> Attribute {
    Attribute {
        mutability: Mutability::Immutable,
        ..attribute
    }
}

/// The attributes every resource has (RFC 7643 §3.1). Not published under
/// `/Schemas` (they belong to no schema) but known to filters.
pub static COMMON: &[Attribute] = &[
    Attribute {
        case_exact: true,
        returned: Returned::Always,
        unique: true,
        ..read_only(text(
            "id",
            "The service provider's unique, stable identifier for the resource.",
        ))
    },
    Attribute {
        case_exact: true,
        ..text(
            "externalId",
            "The provisioning client's identifier for the resource.",
        )
    },
    read_only(complex(
        "meta",
        "Resource metadata.",
        &[
            Attribute {
                case_exact: true,
                ..read_only(text("resourceType", "The name of the resource type."))
            },
            Attribute {
                kind: Kind::DateTime,
                ..read_only(text("created", "When the resource was added."))
            },
            Attribute {
                kind: Kind::DateTime,
                ..read_only(text("lastModified", "When the resource last changed."))
            },
            read_only(reference("location", "The URI of the resource.", &["uri"])),
            Attribute {
                case_exact: true,
                ..read_only(text("version", "The entity tag of the resource."))
            },
        ],
    )),
];

pub static USER_ATTRIBUTES: &[Attribute] = &[
    Attribute {
        required: true,
        unique: true,
        ..text(
            "userName",
            "The name the user signs in with: in Conclave, their email address. Unique, compared case-insensitively.",
        )
    },
    complex(
        "name",
        "The components of the user's real name.",
        &[
            text("formatted", "The full name, formatted for display."),
            text("familyName", "The family name."),
            text("givenName", "The given name."),
            text("middleName", "The middle name(s)."),
            text(
                "honorificPrefix",
                "The honorific prefix(es), such as 'Ms.'.",
            ),
            text(
                "honorificSuffix",
                "The honorific suffix(es), such as 'III'.",
            ),
        ],
    ),
    text("displayName", "The name shown to other people in Conclave."),
    text("nickName", "The casual name of the user."),
    text("title", "The user's job title."),
    boolean(
        "active",
        "Whether the user may sign in. False deactivates: every session and socket is closed at once.",
    ),
    multi(complex(
        "emails",
        "Email addresses of the user.",
        &[
            text("value", "An email address."),
            text("display", "A label for display."),
            Attribute {
                canonical_values: &["work", "home", "other"],
                ..text("type", "The kind of address.")
            },
            boolean("primary", "Whether this is the primary address."),
        ],
    )),
    read_only(multi(complex(
        "groups",
        "The teams the user belongs to.",
        &[
            read_only(text("value", "The id of the group.")),
            read_only(reference("$ref", "The URI of the group.", &["Group"])),
            read_only(text("display", "The name of the group.")),
            Attribute {
                canonical_values: &["direct"],
                ..read_only(text("type", "How the user belongs to the group."))
            },
        ],
    ))),
];

pub static ENTERPRISE_USER_ATTRIBUTES: &[Attribute] = &[
    text(
        "employeeNumber",
        "The organisation's identifier for the person.",
    ),
    text("costCenter", "The cost center."),
    text("organization", "The organisation."),
    text("division", "The division."),
    text(
        "department",
        "The department. Conclave puts the user in the department of this name, creating it if needed.",
    ),
    complex(
        "manager",
        "The user's manager.",
        &[
            text("value", "The id of the manager's User resource."),
            reference("$ref", "The URI of the manager's User resource.", &["User"]),
        ],
    ),
];

pub static GROUP_ATTRIBUTES: &[Attribute] = &[
    Attribute {
        required: true,
        unique: true,
        ..text("displayName", "The team's name, unique among teams.")
    },
    multi(complex(
        "members",
        "The users in the team.",
        &[
            Attribute {
                case_exact: true,
                ..immutable(text("value", "The id of a member's User resource."))
            },
            immutable(reference(
                "$ref",
                "The URI of a member's User resource.",
                &["User"],
            )),
            Attribute {
                canonical_values: &["User"],
                ..immutable(text("type", "The kind of member: always User."))
            },
        ],
    )),
];

static USER_EXTENSIONS: &[(&str, &[Attribute])] = &[(ENTERPRISE_USER, ENTERPRISE_USER_ATTRIBUTES)];

/// A resource type and its schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }

    pub fn core_schema(self) -> &'static str {
        match self {
            ResourceKind::User => USER,
            ResourceKind::Group => GROUP,
        }
    }

    pub fn core_attributes(self) -> &'static [Attribute] {
        match self {
            ResourceKind::User => USER_ATTRIBUTES,
            ResourceKind::Group => GROUP_ATTRIBUTES,
        }
    }

    /// The extension schemas this resource type may carry.
    pub fn extensions(self) -> &'static [(&'static str, &'static [Attribute])] {
        match self {
            ResourceKind::User => USER_EXTENSIONS,
            ResourceKind::Group => &[],
        }
    }

    /// The extension URN `name` stands for, when it names one (any case).
    pub fn extension(self, name: &str) -> Option<(&'static str, &'static [Attribute])> {
        self.extensions()
            .iter()
            .copied()
            .find(|(urn, _)| urn.eq_ignore_ascii_case(name))
    }

    /// The top-level attribute called `name` (any case), core or common.
    pub fn attribute(self, name: &str) -> Option<&'static Attribute> {
        find(self.core_attributes(), name).or_else(|| find(COMMON, name))
    }
}

/// The attribute called `name` in `attributes`, compared case-insensitively
/// as RFC 7643 §2.1 requires.
pub fn find(attributes: &'static [Attribute], name: &str) -> Option<&'static Attribute> {
    attributes
        .iter()
        .find(|attribute| attribute.name.eq_ignore_ascii_case(name))
}

fn attribute_json(attribute: &Attribute) -> Value {
    let kind = match attribute.kind {
        Kind::String => "string",
        Kind::Boolean => "boolean",
        Kind::Complex => "complex",
        Kind::Reference => "reference",
        Kind::DateTime => "dateTime",
    };
    let mut object = Map::new();
    object.insert("name".into(), json!(attribute.name));
    object.insert("type".into(), json!(kind));
    object.insert("multiValued".into(), json!(attribute.multi_valued));
    object.insert("description".into(), json!(attribute.description));
    object.insert("required".into(), json!(attribute.required));
    if attribute.kind != Kind::Complex && attribute.kind != Kind::Boolean {
        object.insert("caseExact".into(), json!(attribute.case_exact));
    }
    if !attribute.canonical_values.is_empty() {
        object.insert("canonicalValues".into(), json!(attribute.canonical_values));
    }
    let mutability = match attribute.mutability {
        Mutability::ReadOnly => "readOnly",
        Mutability::ReadWrite => "readWrite",
        Mutability::Immutable => "immutable",
    };
    object.insert("mutability".into(), json!(mutability));
    let returned = match attribute.returned {
        Returned::Always => "always",
        Returned::Default => "default",
    };
    object.insert("returned".into(), json!(returned));
    if attribute.kind != Kind::Complex && attribute.kind != Kind::Boolean {
        object.insert(
            "uniqueness".into(),
            json!(if attribute.unique { "server" } else { "none" }),
        );
    }
    if attribute.kind == Kind::Reference {
        object.insert("referenceTypes".into(), json!(attribute.reference_types));
    }
    if attribute.kind == Kind::Complex {
        object.insert(
            "subAttributes".into(),
            Value::Array(
                attribute
                    .sub_attributes
                    .iter()
                    .map(attribute_json)
                    .collect(),
            ),
        );
    }
    Value::Object(object)
}

fn schema_json(
    id: &str,
    name: &str,
    description: &str,
    attributes: &[Attribute],
    base: &str,
) -> Value {
    json!({
        "schemas": [SCHEMA],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes.iter().map(attribute_json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
    })
}

/// Every schema, as `/Schemas` lists them.
pub fn all_schemas(base: &str) -> Vec<Value> {
    vec![
        schema_json(
            USER,
            "User",
            "A person with a Conclave account.",
            USER_ATTRIBUTES,
            base,
        ),
        schema_json(
            ENTERPRISE_USER,
            "EnterpriseUser",
            "Enterprise attributes of a user; the department feeds Conclave's departments.",
            ENTERPRISE_USER_ATTRIBUTES,
            base,
        ),
        schema_json(GROUP, "Group", "A Conclave team.", GROUP_ATTRIBUTES, base),
    ]
}

/// Every resource type, as `/ResourceTypes` lists them.
pub fn all_resource_types(base: &str) -> Vec<Value> {
    [ResourceKind::User, ResourceKind::Group]
        .into_iter()
        .map(|kind| {
            let extensions: Vec<Value> =
                kind.extensions().iter().map(|(urn, _)| json!({"schema": urn, "required": false})).collect();
            let mut value = json!({
                "schemas": [RESOURCE_TYPE],
                "id": kind.name(),
                "name": kind.name(),
                "endpoint": kind.endpoint(),
                "description": match kind {
                    ResourceKind::User => "Conclave accounts",
                    ResourceKind::Group => "Conclave teams",
                },
                "schema": kind.core_schema(),
                "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", kind.name())},
            });
            if !extensions.is_empty()
                && let Some(object) = value.as_object_mut()
            {
                object.insert("schemaExtensions".into(), Value::Array(extensions));
            }
            value
        })
        .collect()
}

/// What this service provider supports (RFC 7643 §5).
pub fn service_provider_config(base: &str, max_results: usize, max_payload: usize) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": max_payload},
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A token made by `conclave scim token create` or the admin API, sent as Authorization: Bearer TOKEN.",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_lookup_ignores_case() {
        assert_eq!(
            ResourceKind::User.attribute("USERNAME").map(|a| a.name),
            Some("userName")
        );
        assert_eq!(
            ResourceKind::User.attribute("externalid").map(|a| a.name),
            Some("externalId")
        );
        assert!(ResourceKind::Group.attribute("userName").is_none());
        assert!(
            ResourceKind::User
                .extension(&ENTERPRISE_USER.to_uppercase())
                .is_some()
        );
    }

    #[test]
    fn schemas_publish_every_attribute_with_its_characteristics() {
        let schemas = all_schemas("http://x/scim/v2");
        let user = &schemas[0];
        let names: Vec<&str> = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"userName") && names.contains(&"emails"));
        let user_name = &user["attributes"][0];
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["caseExact"], false);
        let members = &schemas[2]["attributes"][1];
        assert_eq!(
            members["subAttributes"][1]["referenceTypes"],
            json!(["User"])
        );
    }
}
