//! Configuration changes as events: what changed, field by field.
//!
//! A configuration object (an agent, a pool, a rule, a user, an API key, an
//! organization) says what it looks like in the audit trail ([`Audited`]:
//! its fields, never a secret); [`record`] turns the object before and after
//! a write into the event that write appends, in the same transaction,
//! with `data.changes` as `{field: {from, to}}`. A write that changes
//! nothing records nothing.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::{NewEvent, Subject, types};

/// What a write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Made.
    Created,
    /// Changed (including deactivated or reactivated).
    Updated,
    /// Removed.
    Deleted,
}

/// A configuration object as the audit trail shows it.
pub trait Audited {
    /// The subject type (`agent`, `pool`, `rule`, `user`, `api_key`,
    /// `organization`).
    const SUBJECT: &'static str;

    /// Its id.
    fn audit_id(&self) -> String;

    /// Its fields as the trail shows them: never a secret or a hash.
    fn audit_fields(&self) -> Map<String, Value>;
}

/// The event type of `action` on `subject`, from the catalogue.
fn event_type(subject: &str, action: Action) -> Option<&'static str> {
    use Action::{Created, Deleted, Updated};
    Some(match (subject, action) {
        ("agent", Created) => types::AGENT_CREATED,
        ("agent", Updated) => types::AGENT_UPDATED,
        ("agent", Deleted) => types::AGENT_DELETED,
        ("pool", Created) => types::POOL_CREATED,
        ("pool", Updated) => types::POOL_UPDATED,
        ("pool", Deleted) => types::POOL_DELETED,
        ("rule", Created) => types::RULE_CREATED,
        ("rule", Updated) => types::RULE_UPDATED,
        ("rule", Deleted) => types::RULE_DELETED,
        ("user", Created) => types::USER_CREATED,
        ("user", Updated) => types::USER_UPDATED,
        ("user", Deleted) => types::USER_DELETED,
        ("api_key", Created) => types::API_KEY_CREATED,
        ("api_key", Updated) => types::API_KEY_UPDATED,
        ("api_key", Deleted) => types::API_KEY_DELETED,
        ("organization", Created) => types::ORGANIZATION_CREATED,
        ("organization", Updated) => types::ORGANIZATION_UPDATED,
        ("organization", Deleted) => types::ORGANIZATION_DELETED,
        _ => return None,
    })
}

/// `{field: {from, to}}` for every field that differs (absent is `null`).
pub fn changes(before: &Map<String, Value>, after: &Map<String, Value>) -> Map<String, Value> {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let from = before.get(k).cloned().unwrap_or(Value::Null);
            let to = after.get(k).cloned().unwrap_or(Value::Null);
            (from != to).then(|| (k.clone(), json!({"from": from, "to": to})))
        })
        .collect()
}

/// The event of a write: `<subject>.created` with every field as a change
/// from `null`, `<subject>.updated` with the fields that changed (`None`
/// when none did), `<subject>.deleted` with every field as a change to
/// `null`.
pub fn record<T: Audited>(
    action: Action,
    before: Option<&T>,
    after: Option<&T>,
    at: DateTime<Utc>,
) -> Option<NewEvent> {
    let kind = event_type(T::SUBJECT, action)?;
    let id = after.or(before)?.audit_id();
    let fields = |t: Option<&T>| t.map(Audited::audit_fields).unwrap_or_default();
    let changes = changes(&fields(before), &fields(after));
    if action == Action::Updated && changes.is_empty() {
        return None;
    }
    Some(NewEvent::new(kind, Subject::of(T::SUBJECT, id), at).with("changes", changes))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing(&'static str, u32);

    impl Audited for Thing {
        const SUBJECT: &'static str = "pool";
        fn audit_id(&self) -> String {
            "pool_1".into()
        }
        fn audit_fields(&self) -> Map<String, Value> {
            let mut m = Map::new();
            m.insert("name".into(), json!(self.0));
            m.insert("size".into(), json!(self.1));
            m
        }
    }

    #[test]
    fn a_change_records_only_what_changed() {
        let t = Utc::now();
        let e = record(
            Action::Updated,
            Some(&Thing("a", 1)),
            Some(&Thing("b", 1)),
            t,
        )
        .unwrap();
        assert_eq!(e.kind, "pool.updated");
        assert_eq!(e.data["changes"], json!({"name": {"from": "a", "to": "b"}}));
        assert!(
            record(
                Action::Updated,
                Some(&Thing("a", 1)),
                Some(&Thing("a", 1)),
                t
            )
            .is_none()
        );
        let made = record::<Thing>(Action::Created, None, Some(&Thing("a", 2)), t).unwrap();
        assert_eq!(made.data["changes"]["size"], json!({"from": null, "to": 2}));
        let gone = record::<Thing>(Action::Deleted, Some(&Thing("a", 2)), None, t).unwrap();
        assert_eq!(
            (gone.kind, gone.subject.id.as_str()),
            ("pool.deleted", "pool_1")
        );
    }
}
