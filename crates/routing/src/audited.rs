//! How agents, pools and rules appear in the audit trail
//! ([`events::Audited`]): every configuration field, as the API names it.

use events::Audited;
use serde_json::{Map, Value, json};

use crate::{Agent, Pool, Rule};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Audited for Agent {
    const SUBJECT: &'static str = "agent";

    fn audit_id(&self) -> String {
        self.id.to_string()
    }

    fn audit_fields(&self) -> Map<String, Value> {
        object(json!({
            "name": self.name,
            "email": self.email.to_string(),
            "userId": self.user_id,
            "skills": self.skills,
            "regions": self.regions,
            "weight": self.weight,
            "capacity": self.capacity,
            "dailyCap": self.daily_cap,
            "status": self.status.as_str(),
            "workingHours": self.working_hours.as_ref().map(ToString::to_string),
            "isActive": self.is_active,
        }))
    }
}

impl Audited for Pool {
    const SUBJECT: &'static str = "pool";

    fn audit_id(&self) -> String {
        self.id.to_string()
    }

    fn audit_fields(&self) -> Map<String, Value> {
        object(json!({
            "name": self.name,
            "method": self.method.as_str(),
            "memberIds": self.member_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }))
    }
}

impl Audited for Rule {
    const SUBJECT: &'static str = "rule";

    fn audit_id(&self) -> String {
        self.id.to_string()
    }

    fn audit_fields(&self) -> Map<String, Value> {
        let conditions: Vec<Value> = self
            .conditions
            .iter()
            .map(|c| json!({"field": c.field, "op": c.op.as_str(), "value": c.value}))
            .collect();
        object(json!({
            "name": self.name,
            "priority": self.priority,
            "conditions": conditions,
            "poolId": self.pool_id.to_string(),
            "requiredSkills": self.required_skills,
        }))
    }
}
