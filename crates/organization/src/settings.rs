//! Per-organization settings: a JSON object whose known keys are typed.

use serde_json::{Map, Value};
use tenancy::{FieldError, ValidationErrors};

/// An organization's settings.
///
/// A JSON object, so tenants and later features can keep their own keys; the
/// keys this crate knows are type-checked on every write:
///
/// | key | type |
/// |---|---|
/// | `allowAutoRouting` | boolean: routing proposals are approved at once |
/// | `maxAgents` | positive integer: the most active agents the organization may have |
/// | `defaultPoolId` | string: the pool of leads no rule matches |
/// | `fallbackAgentId` | string: who gets a lead no pool member can take |
/// | `stickyByDomain` | boolean: a lead goes first to the owner of earlier leads of its e-mail domain |
/// | `reviewSlaSeconds` | integer 1 to 2,592,000 (30 days) or null: a pending proposal not reviewed in time expires and the lead is routed again |
/// | `acceptSlaSeconds` | integer 1 to 2,592,000 or null: an assigned lead its agent has not accepted in time is routed again |
/// | `maxReroutes` | integer 0 to 100 (default 3): how many times one lead is routed again by SLAs and declines |
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings(Map<String, Value>);

/// The largest settings document a client may store, in bytes of JSON.
pub const MAX_SETTINGS_BYTES: usize = 16 * 1024;
/// The most top-level settings keys a client may store.
pub const MAX_SETTINGS_KEYS: usize = 100;
/// The longest settings key, in characters.
pub const MAX_SETTINGS_KEY_CHARS: usize = 64;

/// The largest `maxAgents` accepted.
const MAX_AGENTS_LIMIT: u64 = 1_000_000;

/// The longest SLA: 30 days, in seconds.
pub const MAX_SLA_SECONDS: u64 = 30 * 24 * 3600;
/// The most re-routes `maxReroutes` may allow.
pub const MAX_REROUTES_LIMIT: u64 = 100;
/// Re-routes of one lead when `maxReroutes` is not set.
pub const DEFAULT_MAX_REROUTES: u32 = 3;

impl Settings {
    /// Validates a JSON value as settings.
    ///
    /// # Errors
    /// `settings` when the value is not an object, or `settings.<key>` for each
    /// known key of the wrong type.
    pub fn parse(value: Value) -> Result<Self, ValidationErrors> {
        match value {
            Value::Object(map) => Self::from_map(map),
            _ => Err(ValidationErrors::single(
                "settings",
                "must be a JSON object",
            )),
        }
    }

    fn from_map(map: Map<String, Value>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if map.get("allowAutoRouting").is_some_and(|v| !v.is_boolean()) {
            errors.push(FieldError::new(
                "settings.allowAutoRouting",
                "must be a boolean",
            ));
        }
        if map.get("stickyByDomain").is_some_and(|v| !v.is_boolean()) {
            errors.push(FieldError::new(
                "settings.stickyByDomain",
                "must be a boolean",
            ));
        }
        for key in ["defaultPoolId", "fallbackAgentId"] {
            let valid_id = |v: &Value| {
                v.as_str()
                    .is_some_and(|s| tenancy::OrgId::parse(s).is_some())
            };
            if map.get(key).is_some_and(|v| !valid_id(v)) {
                errors.push(FieldError::new(
                    format!("settings.{key}"),
                    "must be an id string",
                ));
            }
        }
        let valid_max_agents = |v: &Value| {
            v.as_u64()
                .is_some_and(|n| (1..=MAX_AGENTS_LIMIT).contains(&n))
        };
        if map.get("maxAgents").is_some_and(|v| !valid_max_agents(v)) {
            errors.push(FieldError::new(
                "settings.maxAgents",
                format!("must be an integer between 1 and {MAX_AGENTS_LIMIT}"),
            ));
        }
        for key in ["reviewSlaSeconds", "acceptSlaSeconds"] {
            let valid = |v: &Value| {
                v.is_null()
                    || v.as_u64()
                        .is_some_and(|n| (1..=MAX_SLA_SECONDS).contains(&n))
            };
            if map.get(key).is_some_and(|v| !valid(v)) {
                errors.push(FieldError::new(
                    format!("settings.{key}"),
                    format!("must be null (off) or a whole number of seconds between 1 and {MAX_SLA_SECONDS}"),
                ));
            }
        }
        if map
            .get("maxReroutes")
            .is_some_and(|v| v.as_u64().is_none_or(|n| n > MAX_REROUTES_LIMIT))
        {
            errors.push(FieldError::new(
                "settings.maxReroutes",
                format!("must be an integer between 0 and {MAX_REROUTES_LIMIT}"),
            ));
        }
        errors.into_result(Self(map))
    }

    /// Applies a JSON merge patch (RFC 7396): keys in `patch` replace those of
    /// `self`, nested objects merge, `null` removes a key. The result is
    /// validated as a whole.
    ///
    /// # Errors
    /// As [`Settings::parse`], for the merged object.
    pub fn merged(&self, patch: Map<String, Value>) -> Result<Self, ValidationErrors> {
        let mut merged = Value::Object(self.0.clone());
        merge_patch(&mut merged, Value::Object(patch));
        Self::parse_input(merged)
    }

    /// As [`Settings::parse`], for settings a client sends: also within
    /// [`MAX_SETTINGS_BYTES`] of JSON and [`MAX_SETTINGS_KEYS`] top-level keys
    /// of at most [`MAX_SETTINGS_KEY_CHARS`] characters (settings are read on
    /// every request of the organization; they must not grow without bound).
    ///
    /// # Errors
    /// As [`Settings::parse`]; field `settings` when too large.
    pub fn parse_input(value: Value) -> Result<Self, ValidationErrors> {
        let settings = Self::parse(value)?;
        let bytes = settings.to_value().to_string().len();
        if bytes > MAX_SETTINGS_BYTES {
            return Err(ValidationErrors::single(
                "settings",
                format!("must be at most {MAX_SETTINGS_BYTES} bytes of JSON (it would be {bytes})"),
            ));
        }
        if settings.0.len() > MAX_SETTINGS_KEYS {
            return Err(ValidationErrors::single(
                "settings",
                format!("must have at most {MAX_SETTINGS_KEYS} keys"),
            ));
        }
        if let Some(key) = settings
            .0
            .keys()
            .find(|k| k.is_empty() || k.chars().count() > MAX_SETTINGS_KEY_CHARS)
        {
            return Err(ValidationErrors::single(
                format!("settings.{key}"),
                format!("a key must be 1 to {MAX_SETTINGS_KEY_CHARS} characters"),
            ));
        }
        Ok(settings)
    }

    /// Whether proposals are approved without a manager (default `false`).
    pub fn allow_auto_routing(&self) -> bool {
        self.0
            .get("allowAutoRouting")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The most agents allowed, if limited.
    pub fn max_agents(&self) -> Option<u64> {
        self.0.get("maxAgents").and_then(Value::as_u64)
    }

    /// How long a pending proposal may wait for review, in seconds (`None`:
    /// no limit).
    pub fn review_sla_seconds(&self) -> Option<u32> {
        self.seconds("reviewSlaSeconds")
    }

    /// How long an assigned lead may wait for its agent to accept, in
    /// seconds (`None`: no limit).
    pub fn accept_sla_seconds(&self) -> Option<u32> {
        self.seconds("acceptSlaSeconds")
    }

    /// How many times one lead may be routed again by SLAs and declines.
    pub fn max_reroutes(&self) -> u32 {
        self.0
            .get("maxReroutes")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(DEFAULT_MAX_REROUTES)
    }

    fn seconds(&self, key: &str) -> Option<u32> {
        self.0
            .get(key)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
    }

    /// The settings as a JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The settings as a JSON value.
    pub fn to_value(&self) -> Value {
        Value::Object(self.0.clone())
    }
}

fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(&key);
        } else {
            merge_patch(target.entry(key).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(e: &ValidationErrors) -> Vec<&str> {
        e.fields().iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn client_settings_are_bounded_in_size_keys_and_key_length() {
        let big = json!({"brand": {"logo": "x".repeat(MAX_SETTINGS_BYTES)}});
        assert_eq!(
            fields(&Settings::parse_input(big.clone()).unwrap_err()),
            ["settings"]
        );
        assert!(Settings::parse(big).is_ok(), "stored settings still load");
        let many: Map<String, Value> = (0..=MAX_SETTINGS_KEYS)
            .map(|i| (format!("k{i}"), json!(1)))
            .collect();
        assert!(Settings::parse_input(Value::Object(many)).is_err());
        let long_key = json!({"k".repeat(65): 1});
        assert!(Settings::parse_input(long_key).is_err());
        // Growth through merge patches stops at the limit.
        let mut s = Settings::default();
        let chunk = "y".repeat(4000);
        let mut refused = false;
        for i in 0..10 {
            let patch = json!({format!("k{i}"): chunk})
                .as_object()
                .cloned()
                .unwrap();
            match s.merged(patch) {
                Ok(next) => s = next,
                Err(_) => {
                    refused = true;
                    break;
                }
            }
        }
        assert!(refused && s.to_value().to_string().len() <= MAX_SETTINGS_BYTES);
    }

    #[test]
    fn known_keys_are_typed_and_unknown_keys_kept() {
        let s = Settings::parse(
            json!({"allowAutoRouting": true, "maxAgents": 50, "brand": {"color": "red"}}),
        )
        .unwrap();
        assert!(s.allow_auto_routing());
        assert_eq!(s.max_agents(), Some(50));
        assert_eq!(s.as_map()["brand"], json!({"color": "red"}));
    }

    #[test]
    fn wrongly_typed_known_keys_are_each_reported() {
        let e = Settings::parse(json!({"allowAutoRouting": "yes", "maxAgents": 0})).unwrap_err();
        assert_eq!(
            fields(&e),
            ["settings.allowAutoRouting", "settings.maxAgents"]
        );
        for bad in [json!(-1), json!(2.5), json!("10"), json!(null)] {
            assert!(Settings::parse(json!({"maxAgents": bad})).is_err(), "{bad}");
        }
    }

    #[test]
    fn slas_are_seconds_within_thirty_days_or_off() {
        let s = Settings::parse(
            json!({"reviewSlaSeconds": 1, "acceptSlaSeconds": null, "maxReroutes": 0}),
        )
        .unwrap();
        assert_eq!(s.review_sla_seconds(), Some(1));
        assert_eq!(s.accept_sla_seconds(), None);
        assert_eq!(s.max_reroutes(), 0);
        assert_eq!(Settings::default().max_reroutes(), DEFAULT_MAX_REROUTES);
        for bad in [
            json!(0),
            json!(-5),
            json!(1.5),
            json!("60"),
            json!(MAX_SLA_SECONDS + 1),
        ] {
            let e = Settings::parse(json!({"reviewSlaSeconds": bad})).unwrap_err();
            assert_eq!(fields(&e), ["settings.reviewSlaSeconds"], "{bad}");
        }
        let e = Settings::parse(json!({"maxReroutes": 101})).unwrap_err();
        assert_eq!(fields(&e), ["settings.maxReroutes"]);
    }

    #[test]
    fn settings_must_be_an_object() {
        for bad in [json!([]), json!("x"), json!(1), json!(null)] {
            assert_eq!(fields(&Settings::parse(bad).unwrap_err()), ["settings"]);
        }
    }

    #[test]
    fn merge_patch_sets_merges_and_removes() {
        let s = Settings::parse(json!({"allowAutoRouting": true, "maxAgents": 5, "brand": {"color": "red", "logo": "x"}})).unwrap();
        let patch = json!({"maxAgents": null, "brand": {"logo": null, "font": "serif"}});
        let Value::Object(patch) = patch else {
            unreachable!()
        };
        let m = s.merged(patch).unwrap();
        assert_eq!(
            m.to_value(),
            json!({"allowAutoRouting": true, "brand": {"color": "red", "font": "serif"}})
        );
    }

    #[test]
    fn a_merge_that_breaks_a_known_key_is_refused() {
        let s = Settings::default();
        let Value::Object(patch) = json!({"maxAgents": "many"}) else {
            unreachable!()
        };
        assert_eq!(
            fields(&s.merged(patch).unwrap_err()),
            ["settings.maxAgents"]
        );
    }
}
