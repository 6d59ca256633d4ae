//! Rules: which pool a lead goes to, by its fields.

use chrono::{DateTime, Utc};
use lead::{FIELD_NAMES, FieldValue, Lead};
use serde_json::Value;
use tenancy::{FieldError, OrgId, ValidationErrors, prefixed_id};

use crate::PoolId;

prefixed_id!(
    /// The id of a routing rule (`rule_...`).
    RuleId,
    "rule"
);

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Equal (strings case-insensitively).
    Eq,
    /// Not equal (true when the field is absent).
    Neq,
    /// Equal to one of a list.
    In,
    /// Equal to none of a list (true when the field is absent).
    NotIn,
    /// The text contains the value (case-insensitively).
    Contains,
    /// At least (numbers).
    Gte,
    /// At most (numbers).
    Lte,
    /// Present (`value: true`) or absent (`value: false`).
    Exists,
}

impl Op {
    /// Every operator's wire name.
    pub const NAMES: [&'static str; 8] = [
        "eq", "neq", "in", "notIn", "contains", "gte", "lte", "exists",
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Neq => "neq",
            Op::In => "in",
            Op::NotIn => "notIn",
            Op::Contains => "contains",
            Op::Gte => "gte",
            Op::Lte => "lte",
            Op::Exists => "exists",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Op::Eq,
            Op::Neq,
            Op::In,
            Op::NotIn,
            Op::Contains,
            Op::Gte,
            Op::Lte,
            Op::Exists,
        ]
        .into_iter()
        .find(|op| op.as_str() == s)
    }
}

/// What a field holds, for type-checking conditions at write time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    /// Custom fields: any scalar.
    Any,
}

fn kind_of(field: &str) -> Option<Kind> {
    match field {
        "score" => Some(Kind::Number),
        f if FIELD_NAMES.contains(&f) => Some(Kind::Text),
        f => {
            let key = f.strip_prefix("fields.")?;
            let ok = (1..=64).contains(&key.len())
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            ok.then_some(Kind::Any)
        }
    }
}

/// One test on a lead field.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// A built-in field or `fields.<key>`.
    pub field: String,
    /// The comparison.
    pub op: Op,
    /// The operand (a scalar, a list for `in`/`notIn`, a boolean for `exists`).
    pub value: Value,
}

impl Condition {
    /// Validates a condition: known field, known operator, and a value of the
    /// right type for both. `at` prefixes error fields (`conditions[0]`).
    ///
    /// # Errors
    /// One error per bad part.
    pub fn parse(at: &str, field: &str, op: &str, value: Value) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let kind = kind_of(field);
        if kind.is_none() {
            errors.push(FieldError::new(
                format!("{at}.field"),
                format!("must be one of {} or fields.<key>", FIELD_NAMES.join(", ")),
            ));
        }
        let Some(op) = Op::parse(op) else {
            errors.push(FieldError::new(
                format!("{at}.op"),
                format!("must be one of {}", Op::NAMES.join(", ")),
            ));
            return Err(errors);
        };
        let scalar_ok = |v: &Value| match kind {
            Some(Kind::Text) => v.is_string(),
            Some(Kind::Number) => v.is_number(),
            Some(Kind::Any) => v.is_string() || v.is_number() || v.is_boolean(),
            None => true,
        };
        let value_error = match op {
            Op::Exists => (!value.is_boolean()).then_some("must be true or false for exists"),
            Op::In | Op::NotIn => match &value {
                Value::Array(items)
                    if !items.is_empty() && items.len() <= 1000 && items.iter().all(scalar_ok) =>
                {
                    None
                }
                _ => Some("must be a non-empty list (at most 1000) of values of the field's type"),
            },
            Op::Gte | Op::Lte => match kind {
                Some(Kind::Text) => {
                    errors.push(FieldError::new(
                        format!("{at}.op"),
                        format!("{} applies to numbers; {field} is text", op.as_str()),
                    ));
                    None
                }
                _ => (!value.is_number()).then_some("must be a number"),
            },
            Op::Contains => match kind {
                Some(Kind::Number) => {
                    errors.push(FieldError::new(
                        format!("{at}.op"),
                        "contains applies to text; score is a number",
                    ));
                    None
                }
                _ => (!value.is_string()).then_some("must be a string"),
            },
            Op::Eq | Op::Neq => (!scalar_ok(&value)).then_some(match kind {
                Some(Kind::Number) => "must be a number",
                Some(Kind::Text) => "must be a string",
                _ => "must be a string, a number or a boolean",
            }),
        };
        if let Some(message) = value_error {
            errors.push(FieldError::new(format!("{at}.value"), message));
        }
        errors.into_result(Self {
            field: field.to_owned(),
            op,
            value,
        })
    }

    /// Whether the lead satisfies this condition.
    pub fn matches(&self, lead: &Lead) -> bool {
        let actual = lead.field(&self.field);
        match self.op {
            Op::Exists => actual.is_some() == self.value.as_bool().unwrap_or(true),
            Op::Eq => actual.is_some_and(|a| equals(&a, &self.value)),
            Op::Neq => !actual.is_some_and(|a| equals(&a, &self.value)),
            Op::In => actual.is_some_and(|a| list(&self.value).any(|v| equals(&a, v))),
            Op::NotIn => !actual.is_some_and(|a| list(&self.value).any(|v| equals(&a, v))),
            Op::Contains => match (actual, self.value.as_str()) {
                (Some(FieldValue::Text(a)), Some(needle)) => {
                    a.to_lowercase().contains(&needle.to_lowercase())
                }
                _ => false,
            },
            Op::Gte => number(actual)
                .zip(self.value.as_f64())
                .is_some_and(|(a, b)| a >= b),
            Op::Lte => number(actual)
                .zip(self.value.as_f64())
                .is_some_and(|(a, b)| a <= b),
        }
    }
}

fn list(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn number(v: Option<FieldValue<'_>>) -> Option<f64> {
    match v {
        Some(FieldValue::Number(n)) => Some(n),
        _ => None,
    }
}

fn equals(actual: &FieldValue<'_>, expected: &Value) -> bool {
    match (actual, expected) {
        (FieldValue::Text(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (FieldValue::Number(a), Value::Number(b)) => {
            b.as_f64().is_some_and(|b| (a - b).abs() < f64::EPSILON)
        }
        (FieldValue::Bool(a), Value::Bool(b)) => a == b,
        _ => false,
    }
}

/// A routing rule: when every condition holds, the lead goes to the pool.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Primary key.
    pub id: RuleId,
    /// Owner organization.
    pub org_id: OrgId,
    /// Name.
    pub name: String,
    /// Lower runs first.
    pub priority: i32,
    /// All must hold (none: matches every lead).
    pub conditions: Vec<Condition>,
    /// Where matching leads go.
    pub pool_id: PoolId,
    /// Skills the chosen agent must hold.
    pub required_skills: Vec<String>,
    /// Creation time (ties of priority: older first).
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Rule {
    /// Whether every condition holds for the lead.
    pub fn matches(&self, lead: &Lead) -> bool {
        self.conditions.iter().all(|c| c.matches(lead))
    }
}

/// The first rule, by priority then age then id, whose conditions hold.
pub fn first_match<'a>(rules: &'a [Rule], lead: &Lead) -> Option<&'a Rule> {
    rules
        .iter()
        .filter(|r| r.matches(lead))
        .min_by(|a, b| (a.priority, a.created_at, &a.id).cmp(&(b.priority, b.created_at, &b.id)))
}

/// Validated rule fields (create: all set; update: the given ones).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleChange {
    /// New name.
    pub name: Option<String>,
    /// New priority.
    pub priority: Option<i32>,
    /// New conditions.
    pub conditions: Option<Vec<Condition>>,
    /// New pool (its existence is checked by the repository).
    pub pool_id: Option<PoolId>,
    /// New required skills.
    pub required_skills: Option<Vec<String>>,
}

/// A condition as the client sends it.
#[derive(Clone, Debug, PartialEq)]
pub struct RawCondition {
    /// Field name.
    pub field: String,
    /// Operator name.
    pub op: String,
    /// Operand.
    pub value: Value,
}

impl RuleChange {
    /// Validates raw fields; with `creating`, `name`, `priority` and `poolId`
    /// are required.
    ///
    /// # Errors
    /// One error per bad field, conditions named `conditions[i].field|op|value`.
    pub fn parse(
        name: Option<String>,
        priority: Option<i64>,
        conditions: Option<Vec<RawCondition>>,
        pool_id: Option<String>,
        required_skills: Option<Vec<String>>,
        creating: bool,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let required = |errors: &mut ValidationErrors, field: &str| {
            if creating {
                errors.push(FieldError::new(field, "is required"));
            }
        };
        let name = match name.map(|n| n.trim().to_owned()) {
            Some(n) if n.is_empty() || n.chars().count() > 100 => {
                errors.push(FieldError::new("name", "must be 1-100 characters"));
                None
            }
            None => {
                required(&mut errors, "name");
                None
            }
            some => some,
        };
        let priority = match priority {
            Some(p) if (-1_000_000..=1_000_000).contains(&p) => Some(p as i32),
            Some(_) => {
                errors.push(FieldError::new(
                    "priority",
                    "must be an integer between -1000000 and 1000000",
                ));
                None
            }
            None => {
                required(&mut errors, "priority");
                None
            }
        };
        let conditions = conditions.and_then(|raw| {
            if raw.len() > 50 {
                errors.push(FieldError::new(
                    "conditions",
                    "must have at most 50 conditions",
                ));
                return None;
            }
            let mut out = Vec::with_capacity(raw.len());
            for (i, c) in raw.into_iter().enumerate() {
                match Condition::parse(&format!("conditions[{i}]"), &c.field, &c.op, c.value) {
                    Ok(c) => out.push(c),
                    Err(e) => errors.extend(e),
                }
            }
            Some(out)
        });
        let pool_id = match pool_id {
            Some(raw) => {
                let id = PoolId::parse(&raw);
                if id.is_none() {
                    errors.push(FieldError::new("poolId", "is not a pool id"));
                }
                id
            }
            None => {
                required(&mut errors, "poolId");
                None
            }
        };
        let required_skills = required_skills.and_then(|skills| {
            let mut out: Vec<String> = Vec::new();
            for s in skills {
                let s = s.trim().to_lowercase();
                if s.is_empty() || s.chars().count() > 64 {
                    errors.push(FieldError::new(
                        "requiredSkills",
                        "entries must be 1-64 characters",
                    ));
                    return None;
                }
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            Some(out)
        });
        errors.into_result(Self {
            name,
            priority,
            conditions,
            pool_id,
            required_skills,
        })
    }
}

#[cfg(test)]
mod tests {
    use lead::{NewLead, NewLeadInput};
    use serde_json::json;

    use super::*;

    fn lead(input: NewLeadInput) -> Lead {
        NewLead::parse(NewLeadInput {
            name: "Ann".into(),
            ..input
        })
        .unwrap()
        .into_lead(OrgId::default_org(), Utc::now())
    }

    fn cond(field: &str, op: &str, value: Value) -> Condition {
        Condition::parse("c", field, op, value).unwrap()
    }

    #[test]
    fn every_operator_matches_as_documented() {
        let Value::Object(fields) = json!({"plan": "Pro", "seats": 40, "trial": false}) else {
            unreachable!()
        };
        let l = lead(NewLeadInput {
            country: Some("FR".into()),
            email: Some("ann@acme.com".into()),
            score: Some(70),
            company: Some("ACME Industries".into()),
            fields: Some(fields),
            ..Default::default()
        });
        let yes = [
            cond("country", "eq", json!("fr")),
            cond("country", "neq", json!("DE")),
            cond("region", "neq", json!("EMEA")),
            cond("country", "in", json!(["DE", "FR"])),
            cond("country", "notIn", json!(["DE", "US"])),
            cond("region", "notIn", json!(["EMEA"])),
            cond("company", "contains", json!("industries")),
            cond("emailDomain", "eq", json!("acme.com")),
            cond("score", "gte", json!(70)),
            cond("score", "lte", json!(70.5)),
            cond("score", "in", json!([10, 70])),
            cond("region", "exists", json!(false)),
            cond("country", "exists", json!(true)),
            cond("fields.plan", "eq", json!("pro")),
            cond("fields.seats", "gte", json!(25)),
            cond("fields.trial", "eq", json!(false)),
            cond("fields.missing", "exists", json!(false)),
        ];
        for c in &yes {
            assert!(c.matches(&l), "{c:?}");
        }
        let no = [
            cond("country", "eq", json!("DE")),
            cond("country", "in", json!(["DE"])),
            cond("region", "eq", json!("EMEA")),
            cond("score", "gte", json!(71)),
            cond("score", "lte", json!(69)),
            cond("fields.seats", "lte", json!(10)),
            cond("fields.plan", "gte", json!(1)),
            cond("company", "contains", json!("globex")),
            cond("source", "exists", json!(true)),
        ];
        for c in &no {
            assert!(!c.matches(&l), "{c:?}");
        }
    }

    #[test]
    fn wrongly_typed_conditions_are_refused_at_write_time() {
        for (field, op, value, bad) in [
            ("planet", "eq", json!("x"), "c.field"),
            ("country", "like", json!("x"), "c.op"),
            ("country", "gte", json!(3), "c.op"),
            ("score", "contains", json!("x"), "c.op"),
            ("score", "eq", json!("high"), "c.value"),
            ("country", "eq", json!(3), "c.value"),
            ("country", "in", json!("FR"), "c.value"),
            ("country", "in", json!([]), "c.value"),
            ("score", "in", json!(["a"]), "c.value"),
            ("country", "exists", json!("yes"), "c.value"),
            ("fields.x", "eq", json!({"a": 1}), "c.value"),
            ("fields.", "eq", json!(1), "c.field"),
        ] {
            let e = Condition::parse("c", field, op, value).unwrap_err();
            assert!(
                e.fields().iter().any(|f| f.field == bad),
                "{field} {op}: {e}"
            );
        }
    }

    #[test]
    fn the_first_rule_by_priority_wins() {
        let mk = |name: &str, priority: i32, conditions: Vec<Condition>| Rule {
            id: RuleId::generate(),
            org_id: OrgId::default_org(),
            name: name.into(),
            priority,
            conditions,
            pool_id: PoolId::generate(),
            required_skills: vec![],
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let rules = vec![
            mk("catch-all", 100, vec![]),
            mk("france", 10, vec![cond("country", "eq", json!("FR"))]),
            mk("big", 5, vec![cond("score", "gte", json!(90))]),
        ];
        assert_eq!(
            first_match(
                &rules,
                &lead(NewLeadInput {
                    country: Some("FR".into()),
                    ..Default::default()
                })
            )
            .unwrap()
            .name,
            "france"
        );
        assert_eq!(
            first_match(
                &rules,
                &lead(NewLeadInput {
                    country: Some("FR".into()),
                    score: Some(95),
                    ..Default::default()
                })
            )
            .unwrap()
            .name,
            "big"
        );
        assert_eq!(
            first_match(&rules, &lead(NewLeadInput::default()))
                .unwrap()
                .name,
            "catch-all"
        );
        assert!(first_match(&rules[1..], &lead(NewLeadInput::default())).is_none());
    }
}
