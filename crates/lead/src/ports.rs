//! The read port of leads. Writes go through the routing workflow's unit of
//! work (the `proposal` crate), so that a lead and its proposal change
//! together.

use std::cmp::Ordering;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenancy::{Page, PageRequest, StorageError, TenantScope};

use crate::{Lead, LeadFilter, LeadId};

/// A position in the list of leads (newest first, ties by id, descending):
/// a keyset page starts after it ([`LeadRepository::list_after`]). Keys
/// compare in list order: the smaller comes first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadKey {
    created_at: DateTime<Utc>,
    id: LeadId,
}

impl LeadKey {
    /// The position of `lead` in the list.
    pub fn of(lead: &Lead) -> Self {
        Self {
            created_at: lead.created_at,
            id: lead.id.clone(),
        }
    }

    /// The creation time of the lead at this position.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// The id of the lead at this position.
    pub fn id(&self) -> &LeadId {
        &self.id
    }
}

impl Ord for LeadKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Newest first; ties by id, descending.
        (other.created_at, other.id.as_str()).cmp(&(self.created_at, self.id.as_str()))
    }
}

impl PartialOrd for LeadKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Leads, read side. Every method filters on the scope's organization:
/// another organization's leads are simply not found.
#[async_trait]
pub trait LeadRepository: Send + Sync {
    /// One lead.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(&self, scope: &TenantScope, id: &LeadId) -> Result<Option<Lead>, StorageError>;

    /// Leads, newest first (ties by id). [`LeadFilter::assigned_agent_id`]
    /// keeps the leads that agent owns ([`crate::LeadStatus::OWNED`]), not
    /// those merely proposed to it.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &LeadFilter,
        page: PageRequest,
    ) -> Result<Page<Lead>, StorageError>;

    /// Up to `limit` leads of [`LeadRepository::list`] (same filter, same
    /// order) that come after `after` ([`LeadKey`] order; from the first
    /// without one), and no count: read from an index from the key on, a
    /// page costs the same wherever it starts. A lead created while the
    /// pages are read is newer than the first key, so it never shifts them.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list_after(
        &self,
        scope: &TenantScope,
        filter: &LeadFilter,
        after: Option<&LeadKey>,
        limit: u64,
    ) -> Result<Vec<Lead>, StorageError>;
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use tenancy::OrgId;

    use super::*;
    use crate::{NewLead, NewLeadInput};

    fn lead_at(micros: i64) -> Lead {
        let at = Utc.timestamp_micros(micros).single().expect("a valid time");
        NewLead::parse(NewLeadInput {
            name: "Ann Lee".into(),
            ..NewLeadInput::default()
        })
        .expect("a name is enough")
        .into_lead(OrgId::default_org(), at)
    }

    fn key(micros: i64, id: &str) -> LeadKey {
        LeadKey {
            created_at: Utc.timestamp_micros(micros).single().expect("a valid time"),
            id: LeadId::parse(id).expect("a lead id"),
        }
    }

    #[test]
    fn keys_order_newest_first_then_id_descending() {
        let mut keys = [
            key(1, "lead_b"),
            key(2, "lead_a"),
            key(1, "lead_c"),
            key(1, "lead_a"),
            key(3, "lead_a"),
        ];
        keys.sort();
        let order: Vec<(i64, &str)> = keys
            .iter()
            .map(|k| (k.created_at().timestamp_micros(), k.id().as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (3, "lead_a"),
                (2, "lead_a"),
                (1, "lead_c"),
                (1, "lead_b"),
                (1, "lead_a"),
            ]
        );
    }

    #[test]
    fn a_key_is_the_leads_position_and_only_itself_is_not_after_it() {
        let lead = lead_at(1_765_100_000_123_456);
        let k = LeadKey::of(&lead);
        assert_eq!(k.created_at(), lead.created_at);
        assert_eq!(k.id(), &lead.id);
        assert_eq!(k.cmp(&LeadKey::of(&lead)), Ordering::Equal);
        // An older lead, or one of the same microsecond with a smaller id,
        // comes after it; a newer one before.
        assert!(k < key(1_765_100_000_123_455, "lead_zzz"));
        assert!(k > key(1_765_100_000_123_457, "lead_0"));
        assert!(k < key(1_765_100_000_123_456, "lead_0"));
    }
}
