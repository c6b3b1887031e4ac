//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): parsing into
//! a small tree, and evaluating that tree against a resource's JSON
//! representation. Attribute names compare case-insensitively; string
//! values compare case-insensitively unless the schema says `caseExact`;
//! dateTime attributes compare as instants.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::{ScimError, ScimResult};
use super::schema::{self, Attribute, Kind, ResourceKind};

/// The longest filter accepted, in bytes: enough for any real query, small
/// enough that parsing cannot be made expensive.
pub const MAX_FILTER_BYTES: usize = 4096;
/// How deeply filters may nest (parentheses, `not`, value paths).
const MAX_DEPTH: usize = 32;

/// `[urn:]attr[.sub]`, with names as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN, when the path was qualified with one.
    pub urn: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Present(AttrPath),
    Compare(AttrPath, Op, Value),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr[filter]`: some value of a multi-valued attribute matches.
    ValuePath(AttrPath, Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Text(String),
}

fn tokenize(text: &str) -> ScimResult<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '[' => {
                chars.next();
                tokens.push(Token::OpenBracket);
            }
            ']' => {
                chars.next();
                tokens.push(Token::CloseBracket);
            }
            '"' => {
                // A JSON string: find its closing quote, honouring escapes,
                // then let the JSON parser decode it.
                chars.next();
                let mut escaped = false;
                let mut end = None;
                for (index, c) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = Some(index);
                        break;
                    }
                }
                let end = end.ok_or_else(|| ScimError::invalid_filter("a string is not closed"))?;
                let literal = &text[start..=end];
                let value: String = serde_json::from_str(literal)
                    .map_err(|_| ScimError::invalid_filter(format!("bad string {literal}")))?;
                tokens.push(Token::Text(value));
            }
            _ => {
                let mut end = text.len();
                while let Some(&(index, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        end = index;
                        break;
                    }
                    chars.next();
                }
                tokens.push(Token::Word(text[start..end].to_string()));
            }
        }
    }
    Ok(tokens)
}

/// Parses a filter expression.
pub fn parse(text: &str) -> ScimResult<Filter> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(ScimError::invalid_filter(format!(
            "filters are limited to {MAX_FILTER_BYTES} bytes"
        )));
    }
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        depth: 0,
    };
    let filter = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(ScimError::invalid_filter(format!(
            "unexpected {:?} in the filter",
            parser.tokens[parser.at]
        )));
    }
    Ok(filter)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn enter(&mut self) -> ScimResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ScimError::invalid_filter("the filter nests too deeply"));
        }
        Ok(())
    }

    fn or(&mut self) -> ScimResult<Filter> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> ScimResult<Filter> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.at += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn expect(&mut self, token: Token, what: &str) -> ScimResult<()> {
        match self.next() {
            Some(found) if found == token => Ok(()),
            other => Err(ScimError::invalid_filter(format!(
                "expected {what}, found {other:?}"
            ))),
        }
    }

    fn unary(&mut self) -> ScimResult<Filter> {
        self.enter()?;
        let result = if self.keyword("not") {
            self.at += 1;
            self.expect(Token::Open, "'(' after not")?;
            let inner = self.or()?;
            self.expect(Token::Close, "')'")?;
            Filter::Not(Box::new(inner))
        } else if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            self.expect(Token::Close, "')'")?;
            inner
        } else {
            self.attribute_expression()?
        };
        self.depth -= 1;
        Ok(result)
    }

    fn attribute_expression(&mut self) -> ScimResult<Filter> {
        let path = match self.next() {
            Some(Token::Word(word)) => {
                parse_attr_path(&word).map_err(|e| ScimError::invalid_filter(e.detail))?
            }
            other => {
                return Err(ScimError::invalid_filter(format!(
                    "expected an attribute, found {other:?}"
                )));
            }
        };
        if self.peek() == Some(&Token::OpenBracket) {
            self.at += 1;
            let inner = self.or()?;
            self.expect(Token::CloseBracket, "']'")?;
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        let operator = match self.next() {
            Some(Token::Word(word)) => word.to_ascii_lowercase(),
            other => {
                return Err(ScimError::invalid_filter(format!(
                    "expected an operator, found {other:?}"
                )));
            }
        };
        let op = match operator.as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => {
                return Err(ScimError::invalid_filter(format!(
                    "unknown operator {other:?}"
                )));
            }
        };
        let value = match self.next() {
            Some(Token::Text(text)) => Value::String(text),
            Some(Token::Word(word)) => match word.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&word)
                    .map(Value::Number)
                    .map_err(|_| {
                        ScimError::invalid_filter(format!("{word:?} is not a value; quote strings"))
                    })?,
            },
            other => {
                return Err(ScimError::invalid_filter(format!(
                    "expected a value, found {other:?}"
                )));
            }
        };
        if value.is_null() && !matches!(op, Op::Eq | Op::Ne) {
            return Err(ScimError::invalid_filter(
                "null compares only with eq and ne",
            ));
        }
        Ok(Filter::Compare(path, op, value))
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'))
}

/// Splits a known schema URN off the front of `text`: `(urn, rest)`, where
/// rest is empty when `text` is the URN alone.
fn split_urn(text: &str) -> Option<(&'static str, &str)> {
    [schema::ENTERPRISE_USER, schema::USER, schema::GROUP]
        .into_iter()
        .find_map(|urn| {
            let head = text.get(..urn.len())?;
            if !head.eq_ignore_ascii_case(urn) {
                return None;
            }
            let rest = &text[urn.len()..];
            if rest.is_empty() {
                Some((urn, rest))
            } else {
                rest.strip_prefix(':').map(|rest| (urn, rest))
            }
        })
}

/// Parses `[urn:]attr[.sub]`.
pub fn parse_attr_path(text: &str) -> ScimResult<AttrPath> {
    let (urn, rest) = match split_urn(text) {
        Some((urn, rest)) => (Some(urn.to_string()), rest),
        None if text.len() > 4
            && text
                .get(..4)
                .is_some_and(|head| head.eq_ignore_ascii_case("urn:")) =>
        {
            let (urn, rest) = text.rsplit_once(':').unwrap_or((text, ""));
            (Some(urn.to_string()), rest)
        }
        None => (None, text),
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((attr, sub)) => (attr, Some(sub)),
        None => (rest, None),
    };
    if !valid_name(attr) || sub.is_some_and(|sub| !valid_name(sub)) {
        return Err(ScimError::invalid_path(format!(
            "{text:?} is not an attribute path"
        )));
    }
    Ok(AttrPath {
        urn,
        attr: attr.to_string(),
        sub: sub.map(str::to_string),
    })
}

/// The attributes a path is resolved among: a resource's, or one complex
/// attribute's sub-attributes (inside a value path).
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Resource(ResourceKind),
    Within(&'static [Attribute]),
}

impl Scope {
    /// The definition of `path`'s attribute and, when it has one, of its
    /// sub-attribute.
    pub fn definition(
        self,
        path: &AttrPath,
    ) -> (Option<&'static Attribute>, Option<&'static Attribute>) {
        let attribute = match self {
            Scope::Within(attributes) => schema::find(attributes, &path.attr),
            Scope::Resource(kind) => {
                match path.urn.as_deref().and_then(|urn| kind.extension(urn)) {
                    Some((_, attributes)) => schema::find(attributes, &path.attr),
                    None => kind.attribute(&path.attr),
                }
            }
        };
        let sub = match (&path.sub, attribute) {
            (Some(sub), Some(attribute)) => schema::find(attribute.sub_attributes, sub),
            _ => None,
        };
        (attribute, sub)
    }
}

/// The member of a JSON object called `name`, in any case.
pub fn member<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// The values `path` designates in `node`, flattened over multi-valued
/// attributes. A multi-valued complex attribute without a sub-attribute
/// stands for its `value` sub-attributes (RFC 7644 §3.4.2.2).
fn values_at<'a>(node: &'a Value, path: &AttrPath, scope: Scope) -> Vec<&'a Value> {
    let base = match (scope, path.urn.as_deref()) {
        (Scope::Resource(kind), Some(urn)) if kind.extension(urn).is_some() => {
            match member(node, urn) {
                Some(extension) => extension,
                None => return Vec::new(),
            }
        }
        _ => node,
    };
    let Some(value) = member(base, &path.attr) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    match &path.sub {
        Some(sub) => items
            .into_iter()
            .filter_map(|item| member(item, sub))
            .collect(),
        None => items
            .into_iter()
            .filter_map(|item| {
                if item.is_object() && value.is_array() {
                    member(item, "value")
                } else {
                    Some(item)
                }
            })
            .collect(),
    }
}

fn is_assigned(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(object) => !object.is_empty(),
        _ => true,
    }
}

fn instant(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

fn compare_one(actual: &Value, op: Op, expected: &Value, case_exact: bool, date: bool) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (actual, expected) {
        (Value::String(a), Value::String(b)) => {
            if date && let (Some(a), Some(b)) = (instant(a), instant(b)) {
                Some(a.cmp(&b))
            } else {
                let (a, b) = if case_exact {
                    (a.clone(), b.clone())
                } else {
                    (a.to_lowercase(), b.to_lowercase())
                };
                match op {
                    Op::Co => return a.contains(&b),
                    Op::Sw => return a.starts_with(&b),
                    Op::Ew => return a.ends_with(&b),
                    _ => Some(a.cmp(&b)),
                }
            }
        }
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b),
            _ => None,
        },
        (Value::Bool(a), Value::Bool(b)) if matches!(op, Op::Eq | Op::Ne) => Some(a.cmp(b)),
        _ => None,
    };
    match (op, ordering) {
        (Op::Eq, Some(order)) => order == Ordering::Equal,
        (Op::Gt, Some(order)) => order == Ordering::Greater,
        (Op::Ge, Some(order)) => order != Ordering::Less,
        (Op::Lt, Some(order)) => order == Ordering::Less,
        (Op::Le, Some(order)) => order != Ordering::Greater,
        _ => false,
    }
}

/// Whether `node` (a resource, or one value of a multi-valued attribute
/// inside a value path) matches `filter`.
pub fn matches(filter: &Filter, node: &Value, scope: Scope) -> bool {
    match filter {
        Filter::And(left, right) => matches(left, node, scope) && matches(right, node, scope),
        Filter::Or(left, right) => matches(left, node, scope) || matches(right, node, scope),
        Filter::Not(inner) => !matches(inner, node, scope),
        Filter::Present(path) => values_at(node, path, scope).into_iter().any(is_assigned),
        Filter::Compare(path, op, expected) => {
            let values = values_at(node, path, scope);
            if expected.is_null() {
                let present = values.into_iter().any(is_assigned);
                return if *op == Op::Eq { !present } else { present };
            }
            let (attribute, sub) = scope.definition(path);
            let definition = sub.or(attribute);
            // A complex multi-valued attribute compared as a whole compares its `value`.
            let definition = match (definition, &path.sub) {
                (Some(attribute), None) if attribute.kind == Kind::Complex => {
                    schema::find(attribute.sub_attributes, "value")
                }
                (definition, _) => definition,
            };
            let case_exact = definition.is_some_and(|d| d.case_exact);
            let date = definition.is_some_and(|d| d.kind == Kind::DateTime);
            if *op == Op::Ne {
                return !values
                    .into_iter()
                    .any(|value| compare_one(value, Op::Eq, expected, case_exact, date));
            }
            values
                .into_iter()
                .any(|value| compare_one(value, *op, expected, case_exact, date))
        }
        Filter::ValuePath(path, inner) => {
            let (attribute, _) = scope.definition(path);
            let inner_scope = Scope::Within(attribute.map(|a| a.sub_attributes).unwrap_or(&[]));
            let whole = AttrPath {
                sub: None,
                ..path.clone()
            };
            let base = match (scope, whole.urn.as_deref()) {
                (Scope::Resource(kind), Some(urn)) if kind.extension(urn).is_some() => {
                    member(node, urn)
                }
                _ => Some(node),
            };
            match base.and_then(|base| member(base, &whole.attr)) {
                Some(Value::Array(items)) => {
                    items.iter().any(|item| matches(inner, item, inner_scope))
                }
                Some(item @ Value::Object(_)) => matches(inner, item, inner_scope),
                _ => false,
            }
        }
    }
}

/// A PATCH operation's target (RFC 7644 §3.5.2):
/// `[urn:]attr[\[filter\]][.sub]`, or an extension URN alone.
#[derive(Debug, Clone)]
pub struct PatchPath {
    /// The extension the path lives in; `None` for the core schema.
    pub extension: Option<&'static str>,
    /// The canonical attribute name; `None` when the path is the extension
    /// itself.
    pub attribute: Option<&'static Attribute>,
    pub filter: Option<Filter>,
    pub sub: Option<&'static Attribute>,
}

/// Parses and resolves a PATCH path against `kind`'s schemas. Unknown or
/// read-only attributes are `invalidPath`/`mutability` errors.
pub fn parse_patch_path(text: &str, kind: ResourceKind) -> ScimResult<PatchPath> {
    let text = text.trim();
    if text.is_empty() || text.len() > MAX_FILTER_BYTES {
        return Err(ScimError::invalid_path("the path is empty or too long"));
    }
    let (urn, rest) = match split_urn(text) {
        Some((urn, rest)) => (Some(urn), rest),
        None => (None, text),
    };
    let extension = match urn {
        Some(urn) if urn != kind.core_schema() => {
            Some(kind.extension(urn).map(|(urn, _)| urn).ok_or_else(|| {
                ScimError::invalid_path(format!("{urn} is not a schema of this resource"))
            })?)
        }
        _ => None,
    };
    if rest.is_empty() {
        return match extension {
            Some(extension) => Ok(PatchPath {
                extension: Some(extension),
                attribute: None,
                filter: None,
                sub: None,
            }),
            None => Err(ScimError::invalid_path("a path must name an attribute")),
        };
    }
    let (head, filter, tail) = match rest.find('[') {
        Some(open) => {
            let close = rest
                .rfind(']')
                .ok_or_else(|| ScimError::invalid_path("a '[' is not closed"))?;
            if close < open {
                return Err(ScimError::invalid_path("a '[' is not closed"));
            }
            let filter = parse(&rest[open + 1..close])
                .map_err(|error| ScimError::invalid_path(error.detail))?;
            let tail = &rest[close + 1..];
            let tail = if tail.is_empty() {
                None
            } else {
                Some(
                    tail.strip_prefix('.')
                        .ok_or_else(|| ScimError::invalid_path("expected '.' after ']'"))?,
                )
            };
            (&rest[..open], Some(filter), tail)
        }
        None => match rest.split_once('.') {
            Some((head, tail)) => (head, None, Some(tail)),
            None => (rest, None, None),
        },
    };
    let attributes = match extension {
        Some(urn) => kind
            .extension(urn)
            .map(|(_, attributes)| attributes)
            .unwrap_or(&[]),
        None => kind.core_attributes(),
    };
    let attribute = schema::find(attributes, head)
        .or_else(|| {
            if extension.is_none() {
                schema::find(schema::COMMON, head)
            } else {
                None
            }
        })
        .ok_or_else(|| {
            ScimError::invalid_path(format!("{head:?} is not an attribute of {}", kind.name()))
        })?;
    let sub = match tail {
        Some(tail) => Some(schema::find(attribute.sub_attributes, tail).ok_or_else(|| {
            ScimError::invalid_path(format!(
                "{tail:?} is not a sub-attribute of {}",
                attribute.name
            ))
        })?),
        None => None,
    };
    if filter.is_some() && !attribute.multi_valued {
        return Err(ScimError::invalid_path(format!(
            "{} is not multi-valued",
            attribute.name
        )));
    }
    Ok(PatchPath {
        extension,
        attribute: Some(attribute),
        filter,
        sub,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user() -> Value {
        json!({
            "id": "42",
            "externalId": "Ext-1",
            "userName": "Bjensen@Example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@home.example", "type": "home"}
            ],
            "meta": {"created": "2024-01-02T03:04:05.000Z", "lastModified": "2024-06-01T00:00:00Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales", "manager": {"value": "7"}}
        })
    }

    #[test]
    fn the_filter_table() {
        let table = [
            (r#"userName eq "bjensen@example.com""#, true),
            (r#"USERNAME Eq "BJENSEN@EXAMPLE.COM""#, true),
            (r#"userName ne "bjensen@example.com""#, false),
            (r#"userName co "jensen""#, true),
            (r#"userName sw "bj""#, true),
            (r#"userName ew ".com""#, true),
            (r#"userName ew ".org""#, false),
            (r#"externalId eq "ext-1""#, false),
            (r#"externalId eq "Ext-1""#, true),
            ("title pr", false),
            ("name pr", true),
            ("name.givenName pr", true),
            ("active eq true", true),
            ("active eq false", false),
            ("title eq null", true),
            (r#"name.familyName eq "jensen" and active eq true"#, true),
            (r#"name.familyName eq "x" or userName sw "b""#, true),
            (r#"not (userName sw "b")"#, false),
            (
                r#"(userName sw "x" or userName sw "b") and not (active eq false)"#,
                true,
            ),
            (r#"emails eq "babs@home.example""#, true),
            (r#"emails.type eq "home""#, true),
            (
                r#"emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (r#"emails[type eq "work" and value co "@home"]"#, false),
            (r#"emails[primary eq true]"#, true),
            (r#"meta.created gt "2024-01-01T00:00:00Z""#, true),
            (r#"meta.created lt "2024-01-02T03:04:05Z""#, false),
            (r#"meta.created ge "2024-01-02T03:04:05Z""#, true),
            (r#"meta.lastModified le "2024-06-01T00:00:00.000Z""#, true),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales""#,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "7""#,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B""#,
                true,
            ),
            (r#"nickName eq "x" or title pr"#, false),
        ];
        for (text, expected) in table {
            let filter = parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(
                matches(&filter, &user(), Scope::Resource(ResourceKind::User)),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let filter = parse(r#"a eq "1" or b eq "2" and c eq "3""#).unwrap();
        assert!(matches!(filter, Filter::Or(_, ref right) if matches!(**right, Filter::And(_, _))));
    }

    #[test]
    fn bad_filters_are_invalid_filter_errors() {
        for text in [
            "",
            "userName",
            "userName eq",
            r#"userName xx "a""#,
            r#"userName eq "unterminated"#,
            "userName eq bareword",
            r#"(userName eq "a""#,
            r#"userName eq "a" and"#,
            "userName gt null",
            r#"emails[type eq "work""#,
        ] {
            let error = parse(text).expect_err(text);
            assert_eq!(error.scim_type, Some("invalidFilter"), "{text}");
        }
        let deep = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn patch_paths_resolve_against_the_schema() {
        let path =
            parse_patch_path(r#"members[value eq "2819c223"]"#, ResourceKind::Group).unwrap();
        assert_eq!(path.attribute.map(|a| a.name), Some("members"));
        assert!(path.filter.is_some() && path.sub.is_none());
        let path = parse_patch_path(r#"emails[type eq "work"].VALUE"#, ResourceKind::User).unwrap();
        assert_eq!(path.sub.map(|a| a.name), Some("value"));
        let path = parse_patch_path("name.familyname", ResourceKind::User).unwrap();
        assert_eq!(
            (path.attribute.map(|a| a.name), path.sub.map(|a| a.name)),
            (Some("name"), Some("familyName"))
        );
        let path = parse_patch_path(schema::ENTERPRISE_USER, ResourceKind::User).unwrap();
        assert!(path.extension.is_some() && path.attribute.is_none());
        let path = parse_patch_path(
            &format!("{}:manager.value", schema::ENTERPRISE_USER),
            ResourceKind::User,
        )
        .unwrap();
        assert_eq!(path.sub.map(|a| a.name), Some("value"));
        let path = parse_patch_path(
            &format!("{}:displayName", schema::GROUP),
            ResourceKind::Group,
        )
        .unwrap();
        assert_eq!(path.attribute.map(|a| a.name), Some("displayName"));
        for bad in [
            "",
            "nope",
            "name.nope",
            "name[x eq 1]",
            "emails[type eq]",
            "urn:x:y:z",
        ] {
            assert!(parse_patch_path(bad, ResourceKind::User).is_err(), "{bad}");
        }
    }
}
