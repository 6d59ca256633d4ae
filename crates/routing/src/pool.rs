//! Pools: ordered groups of agents and how a lead picks one of them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tenancy::{AgentId, FieldError, OrgId, ValidationErrors, prefixed_id};

prefixed_id!(
    /// The id of a routing pool (`pool_...`).
    PoolId,
    "pool"
);

/// How a pool picks among its eligible members.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolMethod {
    /// The next eligible member after the last one served, in member order.
    RoundRobin,
    /// The eligible member with the fewest assignments per unit of weight.
    Weighted,
    /// The eligible member with the fewest open leads (then the least recently served).
    LeastLoaded,
}

impl PoolMethod {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolMethod::RoundRobin => "round_robin",
            PoolMethod::Weighted => "weighted",
            PoolMethod::LeastLoaded => "least_loaded",
        }
    }

    /// Parses a wire name.
    ///
    /// # Errors
    /// A message listing the valid names.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        match s {
            "round_robin" => Ok(PoolMethod::RoundRobin),
            "weighted" => Ok(PoolMethod::Weighted),
            "least_loaded" => Ok(PoolMethod::LeastLoaded),
            _ => Err("must be one of round_robin, weighted, least_loaded"),
        }
    }
}

/// A pool of agents.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    /// Primary key.
    pub id: PoolId,
    /// Owner organization.
    pub org_id: OrgId,
    /// Name, unique in the organization.
    pub name: String,
    /// Selection method.
    pub method: PoolMethod,
    /// Members, in order (round-robin order, tie-break order).
    pub member_ids: Vec<AgentId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A pool's rotation state, read and written in the routing transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolState {
    /// The member served last (round robin continues after it).
    pub last_agent_id: Option<AgentId>,
    /// Assignments per member (weighted pools).
    pub assignments: HashMap<AgentId, u64>,
}

/// The largest pool accepted.
pub const MAX_POOL_MEMBERS: usize = 10_000;

/// Validated pool fields (create: all set; update: the given ones).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PoolChange {
    /// New name.
    pub name: Option<String>,
    /// New method.
    pub method: Option<PoolMethod>,
    /// New member list (replaces the old one).
    pub member_ids: Option<Vec<AgentId>>,
}

impl PoolChange {
    /// Validates raw fields; with `creating`, `name` and `method` are required.
    /// Members must be distinct; whether they exist in the organization is
    /// checked by the repository.
    ///
    /// # Errors
    /// One error per bad field.
    pub fn parse(
        name: Option<String>,
        method: Option<String>,
        member_ids: Option<Vec<String>>,
        creating: bool,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = match name.map(|n| n.trim().to_owned()) {
            Some(n) if n.is_empty() || n.chars().count() > 100 => {
                errors.push(FieldError::new("name", "must be 1-100 characters"));
                None
            }
            None if creating => {
                errors.push(FieldError::new("name", "is required"));
                None
            }
            other => other,
        };
        let method = match method {
            Some(m) => errors.check("method", PoolMethod::parse(&m)),
            None if creating => {
                errors.push(FieldError::new("method", "is required"));
                None
            }
            None => None,
        };
        let member_ids = member_ids.and_then(|ids| {
            if ids.len() > MAX_POOL_MEMBERS {
                errors.push(FieldError::new(
                    "memberIds",
                    format!("must have at most {MAX_POOL_MEMBERS} members"),
                ));
                return None;
            }
            let mut out: Vec<AgentId> = Vec::with_capacity(ids.len());
            for raw in ids {
                match AgentId::parse(&raw) {
                    Some(id) if out.contains(&id) => {
                        errors.push(FieldError::new(
                            "memberIds",
                            format!("`{raw}` is listed twice"),
                        ));
                        return None;
                    }
                    Some(id) => out.push(id),
                    None => {
                        errors.push(FieldError::new(
                            "memberIds",
                            format!("`{raw}` is not an agent id"),
                        ));
                        return None;
                    }
                }
            }
            Some(out)
        });
        errors.into_result(Self {
            name,
            method,
            member_ids,
        })
    }
}

/// The weighted count a member gets when it comes back from away or paused:
/// lifted to the pool's current minimum of assignments per weight, so it
/// competes fairly from now on instead of catching up in a burst.
pub fn lifted_assignments(
    own: u64,
    weight: u32,
    others: impl IntoIterator<Item = (u64, u32)>,
) -> u64 {
    let min_ratio = others
        .into_iter()
        .filter(|(_, w)| *w > 0)
        .map(|(count, w)| count as f64 / f64::from(w))
        .fold(None, |min: Option<f64>, r| {
            Some(min.map_or(r, |m| m.min(r)))
        });
    match min_ratio {
        Some(ratio) => own.max((ratio * f64::from(weight)).floor() as u64),
        None => own,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_fields_are_validated() {
        let ok = PoolChange::parse(
            Some("EMEA".into()),
            Some("weighted".into()),
            Some(vec!["agt_1".into(), "agt_2".into()]),
            true,
        )
        .unwrap();
        assert_eq!(ok.method, Some(PoolMethod::Weighted));
        let e = PoolChange::parse(
            None,
            Some("random".into()),
            Some(vec!["agt_1".into(), "agt_1".into()]),
            true,
        )
        .unwrap_err();
        let fields: Vec<_> = e.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "method", "memberIds"]);
    }

    #[test]
    fn a_returning_member_is_lifted_to_the_pool_minimum() {
        // Others at 10/1 and 30/2 = 15: minimum ratio 10; weight 2 -> 20.
        assert_eq!(lifted_assignments(3, 2, [(10, 1), (30, 2)]), 20);
        // Never lowered.
        assert_eq!(lifted_assignments(50, 1, [(10, 1)]), 50);
        // Alone in the pool: unchanged.
        assert_eq!(lifted_assignments(3, 1, []), 3);
    }
}
