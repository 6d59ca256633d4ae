//! The lead aggregate and its validated input.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tenancy::{AgentId, Email, FieldError, OrgId, ValidationErrors, prefixed_id};

use crate::{LeadStatus, TransitionError};

/// The longest unrouted reason a lead keeps.
pub const MAX_UNROUTED_REASON: usize = 500;

/// A reason cut to [`MAX_UNROUTED_REASON`] characters.
fn truncate_reason(reason: &str) -> String {
    match reason.char_indices().nth(MAX_UNROUTED_REASON) {
        Some((cut, _)) => reason[..cut].to_owned(),
        None => reason.to_owned(),
    }
}

prefixed_id!(
    /// The id of a lead (`lead_...`).
    LeadId,
    "lead"
);

/// The most custom fields a lead may carry.
pub const MAX_CUSTOM_FIELDS: usize = 50;

/// The built-in fields routing rules can test, besides `fields.<key>`.
pub const FIELD_NAMES: [&str; 6] = [
    "source",
    "region",
    "country",
    "company",
    "emailDomain",
    "score",
];

/// A prospect, and where it stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Lead {
    /// Primary key.
    pub id: LeadId,
    /// Owner organization.
    pub org_id: OrgId,
    /// The sender's own id; unique per organization, makes `POST /leads` idempotent.
    pub external_id: Option<String>,
    /// Who the prospect is.
    pub name: String,
    /// Contact address.
    pub email: Option<Email>,
    /// Contact number.
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Where it came from (web, event, partner...).
    pub source: Option<String>,
    /// Sales region.
    pub region: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Quality score, 0-100.
    pub score: Option<u8>,
    /// Custom scalar fields.
    pub fields: Map<String, Value>,
    /// Where it stands.
    pub status: LeadStatus,
    /// The agent holding it: proposed to (pending review) or assigned to.
    pub agent_id: Option<AgentId>,
    /// Why no agent could take it, when `unrouted`.
    pub unrouted_reason: Option<String>,
    /// When it arrived.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A value a rule condition reads from a lead.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue<'a> {
    /// A string.
    Text(&'a str),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

impl Lead {
    /// The agent the lead is assigned to, once assigned (not while proposed).
    pub fn assigned_agent_id(&self) -> Option<&AgentId> {
        if self.status.is_owned() {
            self.agent_id.as_ref()
        } else {
            None
        }
    }

    /// Routing proposed the lead to `agent`; a manager reviews it.
    ///
    /// # Errors
    /// [`TransitionError`] unless the lead is routable
    /// ([`LeadStatus::is_routable`]).
    pub fn propose_to(
        &mut self,
        agent: AgentId,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.route(LeadStatus::Proposed, Some(agent), None, now)
    }

    /// The lead is `agent`'s: routed with auto-approval, a proposal
    /// approved, or a manager's reassignment.
    ///
    /// # Errors
    /// [`TransitionError`] unless the lead is routable.
    pub fn assign_to(&mut self, agent: AgentId, now: DateTime<Utc>) -> Result<(), TransitionError> {
        self.route(LeadStatus::Assigned, Some(agent), None, now)
    }

    /// No agent could take the lead, for `reason`.
    ///
    /// # Errors
    /// [`TransitionError`] unless the lead is routable.
    pub fn mark_unrouted(
        &mut self,
        reason: String,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.route(LeadStatus::Unrouted, None, Some(reason), now)
    }

    /// Takes the lead back from its agent (or its pending proposal) to be
    /// routed again: it is `new` again inside the routing transaction, and
    /// the agent it had comes back.
    ///
    /// With `worked`, a contacted lead is taken back too (its agent is
    /// leaving); a closed one never is.
    ///
    /// # Errors
    /// [`TransitionError`] unless the lead is re-routable
    /// ([`LeadStatus::is_reroutable`], or contacted with `worked`).
    pub fn reopen(
        &mut self,
        now: DateTime<Utc>,
        worked: bool,
    ) -> Result<Option<AgentId>, TransitionError> {
        let contacted = worked && self.status == LeadStatus::Contacted;
        if !self.status.is_reroutable() && !contacted {
            return Err(TransitionError {
                from: self.status,
                to: LeadStatus::New,
            });
        }
        self.status = LeadStatus::New;
        self.unrouted_reason = None;
        self.updated_at = now;
        Ok(self.agent_id.take())
    }

    /// Its agent accepted the lead.
    ///
    /// # Errors
    /// [`TransitionError`] unless the lead is `assigned` (accepting twice is
    /// not an error: an `accepted` lead stays so).
    pub fn accept(&mut self, now: DateTime<Utc>) -> Result<(), TransitionError> {
        match self.status {
            LeadStatus::Accepted => Ok(()),
            LeadStatus::Assigned => {
                self.status = LeadStatus::Accepted;
                self.updated_at = now;
                Ok(())
            }
            from => Err(TransitionError {
                from,
                to: LeadStatus::Accepted,
            }),
        }
    }

    fn route(
        &mut self,
        to: LeadStatus,
        agent: Option<AgentId>,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        if !self.status.is_routable() {
            return Err(TransitionError {
                from: self.status,
                to,
            });
        }
        self.status = to;
        self.agent_id = agent;
        self.unrouted_reason = reason.map(|r| truncate_reason(&r));
        self.updated_at = now;
        Ok(())
    }

    /// The value of a routable field: one of [`FIELD_NAMES`] or
    /// `fields.<key>`. `None` when absent.
    pub fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        fn text(v: &Option<String>) -> Option<FieldValue<'_>> {
            v.as_deref().map(FieldValue::Text)
        }
        match name {
            "source" => text(&self.source),
            "region" => text(&self.region),
            "country" => text(&self.country),
            "company" => text(&self.company),
            "emailDomain" => self.email.as_ref().map(|e| FieldValue::Text(e.domain())),
            "score" => self.score.map(|s| FieldValue::Number(f64::from(s))),
            other => {
                let key = other.strip_prefix("fields.")?;
                match self.fields.get(key)? {
                    Value::String(s) => Some(FieldValue::Text(s)),
                    Value::Number(n) => n.as_f64().map(FieldValue::Number),
                    Value::Bool(b) => Some(FieldValue::Bool(*b)),
                    _ => None,
                }
            }
        }
    }
}

/// A lead as a client sends it, before validation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewLeadInput {
    /// See [`Lead::external_id`].
    pub external_id: Option<String>,
    /// See [`Lead::name`].
    pub name: String,
    /// See [`Lead::email`].
    pub email: Option<String>,
    /// See [`Lead::phone`].
    pub phone: Option<String>,
    /// See [`Lead::company`].
    pub company: Option<String>,
    /// See [`Lead::source`].
    pub source: Option<String>,
    /// See [`Lead::region`].
    pub region: Option<String>,
    /// See [`Lead::country`].
    pub country: Option<String>,
    /// See [`Lead::score`]; must be 0-100.
    pub score: Option<i64>,
    /// See [`Lead::fields`].
    pub fields: Option<Map<String, Value>>,
}

/// A validated new lead.
#[derive(Clone, Debug, PartialEq)]
pub struct NewLead {
    /// See [`Lead::external_id`].
    pub external_id: Option<String>,
    /// See [`Lead::name`].
    pub name: String,
    /// See [`Lead::email`].
    pub email: Option<Email>,
    /// See [`Lead::phone`].
    pub phone: Option<String>,
    /// See [`Lead::company`].
    pub company: Option<String>,
    /// See [`Lead::source`].
    pub source: Option<String>,
    /// See [`Lead::region`].
    pub region: Option<String>,
    /// See [`Lead::country`].
    pub country: Option<String>,
    /// See [`Lead::score`].
    pub score: Option<u8>,
    /// See [`Lead::fields`].
    pub fields: Map<String, Value>,
}

/// Whether `key` may name a custom field: 1-64 ASCII letters, digits, `_`
/// or `-` (so that rules can address it as `fields.<key>`).
pub fn is_field_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Trims a text field and checks its length; blank counts as absent.
fn text(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<String>,
    max: usize,
) -> Option<String> {
    let value = value?.trim().to_owned();
    if value.is_empty() {
        return None;
    }
    if value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
        return None;
    }
    if value.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
        return None;
    }
    Some(value)
}

impl NewLead {
    /// Validates a lead, reporting every bad field.
    ///
    /// # Errors
    /// One [`FieldError`] per invalid field.
    pub fn parse(input: NewLeadInput) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = text(&mut errors, "name", Some(input.name), 200);
        if name.is_none() && !errors.fields().iter().any(|e| e.field == "name") {
            errors.push(FieldError::new("name", "must not be blank"));
        }
        let external_id = text(&mut errors, "externalId", input.external_id, 128);
        // A blank e-mail is refused rather than dropped: the API documents the
        // field as an e-mail address, so a client sending "" has a bug to see.
        let email = input
            .email
            .and_then(|e| errors.check("email", Email::parse(&e)));
        let phone = text(&mut errors, "phone", input.phone, 32);
        let company = text(&mut errors, "company", input.company, 200);
        let source = text(&mut errors, "source", input.source, 100);
        let region = text(&mut errors, "region", input.region, 100);
        let country = text(&mut errors, "country", input.country, 100);
        let score = match input.score {
            None => None,
            Some(s) => match u8::try_from(s) {
                Ok(s) if s <= 100 => Some(s),
                _ => {
                    errors.push(FieldError::new(
                        "score",
                        "must be an integer between 0 and 100",
                    ));
                    None
                }
            },
        };
        let fields = input.fields.unwrap_or_default();
        if fields.len() > MAX_CUSTOM_FIELDS {
            errors.push(FieldError::new(
                "fields",
                format!("must have at most {MAX_CUSTOM_FIELDS} keys"),
            ));
        }
        for (key, value) in &fields {
            if !is_field_key(key) {
                errors.push(FieldError::new(
                    format!("fields.{key}"),
                    "keys must be 1-64 letters, digits, `_` or `-`",
                ));
            }
            let value_ok = match value {
                Value::String(s) => s.chars().count() <= 1000,
                Value::Number(_) | Value::Bool(_) | Value::Null => true,
                Value::Array(_) | Value::Object(_) => false,
            };
            if !value_ok {
                errors.push(FieldError::new(
                    format!("fields.{key}"),
                    "must be a string (at most 1000 characters), a number, a boolean or null",
                ));
            }
        }
        let fields = fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
        match name {
            Some(name) if errors.is_empty() => Ok(Self {
                external_id,
                name,
                email,
                phone,
                company,
                source,
                region,
                country,
                score,
                fields,
            }),
            _ => Err(errors),
        }
    }

    /// The lead this input creates, in status `new`.
    pub fn into_lead(self, org_id: OrgId, now: DateTime<Utc>) -> Lead {
        Lead {
            id: LeadId::generate(),
            org_id,
            external_id: self.external_id,
            name: self.name,
            email: self.email,
            phone: self.phone,
            company: self.company,
            source: self.source,
            region: self.region,
            country: self.country,
            score: self.score,
            fields: self.fields,
            status: LeadStatus::New,
            agent_id: None,
            unrouted_reason: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A change of contact data or status (`PUT /leads/{id}`). `None` leaves a
/// field as it is; for optional fields `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeadContactPatch {
    /// New name.
    pub name: Option<String>,
    /// New or cleared e-mail.
    pub email: Option<Option<Email>>,
    /// New or cleared phone.
    pub phone: Option<Option<String>>,
    /// New or cleared company.
    pub company: Option<Option<String>>,
    /// New status (forward only).
    pub status: Option<LeadStatus>,
}

impl Lead {
    /// Applies a contact patch.
    ///
    /// # Errors
    /// [`crate::TransitionError`] when the status would move backwards; `self`
    /// is unchanged then.
    pub fn apply(
        &mut self,
        patch: LeadContactPatch,
        now: DateTime<Utc>,
    ) -> Result<(), crate::TransitionError> {
        if let Some(to) = patch.status {
            self.status.manual_transition(to)?;
            self.status = to;
        }
        if let Some(v) = patch.name {
            self.name = v;
        }
        if let Some(v) = patch.email {
            self.email = v;
        }
        if let Some(v) = patch.phone {
            self.phone = v;
        }
        if let Some(v) = patch.company {
            self.company = v;
        }
        self.updated_at = now;
        Ok(())
    }
}

/// Which leads a list returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadFilter {
    /// Only this status.
    pub status: Option<LeadStatus>,
    /// Only leads assigned to this agent.
    pub assigned_agent_id: Option<AgentId>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input() -> NewLeadInput {
        NewLeadInput {
            name: "Ann Lee".into(),
            ..Default::default()
        }
    }

    fn fields_of(e: &ValidationErrors) -> Vec<&str> {
        e.fields().iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn a_minimal_lead_needs_only_a_name() {
        let lead = NewLead::parse(input()).unwrap();
        assert_eq!(lead.name, "Ann Lee");
        assert!(
            NewLead::parse(NewLeadInput {
                name: "  ".into(),
                ..input()
            })
            .is_err()
        );
    }

    #[test]
    fn every_bad_field_is_reported() {
        let Value::Object(fields) = json!({"ok": 1, "bad key": 1, "nested": {"a": 1}}) else {
            unreachable!()
        };
        let e = NewLead::parse(NewLeadInput {
            name: "x".repeat(201),
            email: Some("nope".into()),
            score: Some(101),
            phone: Some("1".repeat(33)),
            fields: Some(fields),
            ..input()
        })
        .unwrap_err();
        assert_eq!(
            fields_of(&e),
            [
                "name",
                "email",
                "phone",
                "score",
                "fields.bad key",
                "fields.nested"
            ]
        );
        assert!(
            NewLead::parse(NewLeadInput {
                score: Some(-1),
                ..input()
            })
            .is_err()
        );
    }

    #[test]
    fn a_blank_email_is_refused_not_dropped() {
        let e = NewLead::parse(NewLeadInput {
            email: Some(String::new()),
            ..input()
        })
        .unwrap_err();
        assert_eq!(fields_of(&e), ["email"]);
    }

    #[test]
    fn fields_are_readable_by_rules() {
        let Value::Object(fields) = json!({"plan": "pro", "seats": 40, "trial": true}) else {
            unreachable!()
        };
        let lead = NewLead::parse(NewLeadInput {
            email: Some("ann@Acme.COM".into()),
            score: Some(80),
            country: Some("FR".into()),
            fields: Some(fields),
            ..input()
        })
        .unwrap()
        .into_lead(OrgId::default_org(), Utc::now());
        assert_eq!(
            lead.field("emailDomain"),
            Some(FieldValue::Text("acme.com"))
        );
        assert_eq!(lead.field("score"), Some(FieldValue::Number(80.0)));
        assert_eq!(lead.field("country"), Some(FieldValue::Text("FR")));
        assert_eq!(lead.field("fields.plan"), Some(FieldValue::Text("pro")));
        assert_eq!(lead.field("fields.seats"), Some(FieldValue::Number(40.0)));
        assert_eq!(lead.field("fields.trial"), Some(FieldValue::Bool(true)));
        assert_eq!(lead.field("fields.missing"), None);
        assert_eq!(lead.field("region"), None);
    }
}
