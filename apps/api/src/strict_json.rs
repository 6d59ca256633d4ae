//! Reading a request body as JSON strictly: a key given twice
//! (`{"name": "a", "name": "b"}`, which plain parsers settle by keeping the
//! last) and a NUL character in any key or string (which PostgreSQL refuses
//! in text and SQLite stores as is) are refused, naming where they are. One
//! rule for every text input of every JSON body.

use std::{cell::RefCell, collections::HashSet, fmt};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Where a body broke the rule, and how.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The field's path (`name`, `fields.plan`, `conditions[0].value`).
    pub field: String,
    /// What is wrong.
    pub message: &'static str,
}

/// Why `bytes` could not be read.
#[derive(Debug)]
pub enum StrictError {
    /// Not JSON at all.
    Malformed(serde_json::Error),
    /// JSON that breaks the rule.
    Refused(Refusal),
}

/// Parses `bytes` as one JSON value, strictly.
///
/// # Errors
/// [`StrictError`].
pub fn parse(bytes: &[u8]) -> Result<Value, StrictError> {
    let refusal = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict {
        path: String::new(),
        refusal: &refusal,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match (value, refusal.into_inner()) {
        (_, Some(r)) => Err(StrictError::Refused(r)),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(StrictError::Malformed(e)),
    }
}

struct Strict<'a> {
    path: String,
    refusal: &'a RefCell<Option<Refusal>>,
}

impl Strict<'_> {
    fn refuse<E: de::Error>(&self, field: String, message: &'static str) -> E {
        *self.refusal.borrow_mut() = Some(Refusal { field, message });
        E::custom(message)
    }

    fn child(&self, path: String) -> Self {
        Strict {
            path,
            refusal: self.refusal,
        }
    }

    fn text<E: de::Error>(&self, s: &str) -> Result<Value, E> {
        if s.contains('\0') {
            return Err(self.refuse(self.path.clone(), "must not contain NUL characters"));
        }
        Ok(Value::String(s.to_owned()))
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.text(v)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) =
            seq.next_element_seed(self.child(format!("{}[{}]", self.path, items.len())))?
        {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if key.contains('\0') {
                return Err(self.refuse(
                    self.path.clone(),
                    "must not contain NUL characters in its keys",
                ));
            }
            if !seen.insert(key.clone()) {
                return Err(self.refuse(path, "is given more than once"));
            }
            let value = map.next_value_seed(self.child(path))?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn refused(body: &str) -> Refusal {
        match parse(body.as_bytes()) {
            Err(StrictError::Refused(r)) => r,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        assert_eq!(refused(r#"{"name": "a", "name": "b"}"#).field, "name");
        assert_eq!(
            refused(r#"{"fields": {"plan": 1, "plan": 2}}"#).field,
            "fields.plan"
        );
        assert_eq!(
            refused(r#"{"conditions": [{"op": "eq", "op": "in"}]}"#).field,
            "conditions[0].op"
        );
    }

    #[test]
    fn nul_characters_are_refused_anywhere() {
        assert_eq!(refused(r#"{"name": "a\u0000b"}"#).field, "name");
        assert_eq!(refused(r#"{"tags": ["ok", "\u0000"]}"#).field, "tags[1]");
        assert_eq!(refused(r#"{"a": {"b\u0000": 1}}"#).field, "a");
    }

    #[test]
    fn everything_else_reads_as_serde_json_does() {
        let body = r#"{"a": [1, -2, 3.5, true, null, "x"], "b": {"c": "d"}}"#;
        assert_eq!(
            parse(body.as_bytes()).unwrap(),
            json!({"a": [1, -2, 3.5, true, null, "x"], "b": {"c": "d"}})
        );
        assert!(matches!(parse(b"{"), Err(StrictError::Malformed(_))));
        assert!(matches!(parse(b"{} x"), Err(StrictError::Malformed(_))));
    }
}
