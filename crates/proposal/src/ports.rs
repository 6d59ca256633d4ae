//! The storage ports of the routing workflow.
//!
//! - [`UnitOfWork`] begins a [`RoutingTx`]: one write transaction of one
//!   organization, in which the workflow ([`crate::workflow`]) reads, decides
//!   and writes. The adapter implements it with queries only; every rule
//!   (status transitions, which counters move, the re-check of capacity) is
//!   the workflow's. One transaction may route many leads in order, and a
//!   later port method can append event rows in it.
//! - [`ProposalRepository`] and [`Reporting`] are the read side.
//!
//! Every method is scoped to one organization: another organization's rows
//! are simply not found.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use events::NewEvent;
use lead::{Lead, LeadId};
use routing::{DayWindow, DecisionReads, LeadActivity, PoolId};
use tenancy::{AgentId, Page, PageRequest, StorageError, TenantScope};

use crate::{Proposal, ProposalId, ProposalStatus, Timer, TimerId};

/// Which proposals a list returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProposalFilter {
    /// Only this status.
    pub status: Option<ProposalStatus>,
    /// Only for this agent.
    pub agent_id: Option<AgentId>,
    /// Only for this lead.
    pub lead_id: Option<LeadId>,
}

/// A position in the review queue (pending first, then the rest; newest
/// first within each, ties by id): a page starts after it. Clients see it
/// as an opaque cursor ([`QueueKey::to_cursor`]). Keys compare in queue
/// order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueKey {
    /// Whether the proposal at this position was pending.
    pub pending: bool,
    /// Its creation time.
    pub created_at: DateTime<Utc>,
    /// Its id.
    pub id: ProposalId,
}

impl Ord for QueueKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Pending first; then newest first, ties by id, descending.
        (!self.pending).cmp(&!other.pending).then_with(|| {
            (other.created_at, other.id.as_str()).cmp(&(self.created_at, self.id.as_str()))
        })
    }
}

impl PartialOrd for QueueKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl QueueKey {
    /// The position of `proposal` in the queue.
    pub fn of(proposal: &Proposal) -> Self {
        Self {
            pending: proposal.status == ProposalStatus::Pending,
            created_at: proposal.created_at,
            id: proposal.id.clone(),
        }
    }

    /// The opaque cursor a client passes back: URL-safe base64 of the
    /// rank, the time in microseconds and the id.
    pub fn to_cursor(&self) -> String {
        use base64::Engine as _;
        let raw = format!(
            "{}.{}.{}",
            u8::from(!self.pending),
            self.created_at.timestamp_micros(),
            self.id.as_str()
        );
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// A cursor made by [`QueueKey::to_cursor`]; `None` for anything else.
    pub fn from_cursor(cursor: &str) -> Option<Self> {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let mut parts = raw.splitn(3, '.');
        let pending = match parts.next()? {
            "0" => true,
            "1" => false,
            _ => return None,
        };
        let created_at = DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?;
        let id = ProposalId::parse(parts.next()?)?;
        Some(Self {
            pending,
            created_at,
            id,
        })
    }
}

/// Proposals, read side.
#[async_trait]
pub trait ProposalRepository: Send + Sync {
    /// One proposal.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(
        &self,
        scope: &TenantScope,
        id: &ProposalId,
    ) -> Result<Option<Proposal>, StorageError>;

    /// Proposals: pending first, then newest first (ties by id).
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &ProposalFilter,
        page: PageRequest,
    ) -> Result<Page<Proposal>, StorageError>;

    /// Up to `limit` proposals of the review queue (the order of
    /// [`ProposalRepository::list`]) after `after` (from the start without
    /// one), read in index order: the cost of a page does not grow with the
    /// organization.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn queue(
        &self,
        scope: &TenantScope,
        filter: &ProposalFilter,
        after: Option<&QueueKey>,
        limit: u64,
    ) -> Result<Vec<Proposal>, StorageError>;

    /// How many proposals match `filter`.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn count(
        &self,
        scope: &TenantScope,
        filter: &ProposalFilter,
    ) -> Result<u64, StorageError>;

    /// The latest proposal of a lead (newest first, ties by id).
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn latest_for_lead(
        &self,
        scope: &TenantScope,
        lead: &LeadId,
    ) -> Result<Option<Proposal>, StorageError>;
}

/// The dashboard's numbers of an organization.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Users.
    pub users: u64,
    /// Agents.
    pub agents: u64,
    /// Leads.
    pub leads: u64,
    /// Proposals.
    pub proposals: u64,
}

/// Aggregates for the dashboard, computed where the data is.
#[async_trait]
pub trait Reporting: Send + Sync {
    /// How many users, agents, leads and proposals the organization has.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn counts(&self, scope: &TenantScope) -> Result<Counts, StorageError>;

    /// Leads of the organization created in each day of `window` (UTC,
    /// `created_at` at or after the day's start and before the next day's),
    /// counted per owning agent: one [`routing::DayCount`] per day and agent
    /// that has leads, `agent_id: None` for leads no agent owns (a lead
    /// merely proposed is not owned, as [`Lead::assigned_agent_id`]).
    ///
    /// With `only`, just the leads that agent owns are counted and `agents`
    /// holds just that agent (when it is one of the organization's);
    /// otherwise `agents` holds every active agent of the organization and
    /// every agent that has a count.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn leads_per_agent(
        &self,
        scope: &TenantScope,
        window: &DayWindow,
        only: Option<&AgentId>,
    ) -> Result<LeadActivity, StorageError>;
}

/// Whether a lead was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Stored.
    Yes,
    /// The organization already has a lead with this `externalId` (perhaps
    /// committed by a concurrent request meanwhile): nothing was stored.
    DuplicateExternalId,
}

/// One write transaction of one organization (the scope given to
/// [`UnitOfWork::begin`]). Dropping it without [`RoutingTx::commit`] rolls
/// it back.
///
/// Locks are taken in one order in every transaction, so that two of them
/// never wait on each other in a cycle: proposal → lead → pool → agents.
/// On an engine that serializes writers (SQLite's `BEGIN IMMEDIATE`) the
/// lock methods are plain reads.
#[async_trait]
pub trait RoutingTx: DecisionReads {
    /// The organization's lead with this `externalId`.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn lead_by_external_id(
        &mut self,
        external_id: &str,
    ) -> Result<Option<Lead>, StorageError>;

    /// Which of `external_ids` the organization's leads use already: one
    /// read for a transaction about to ingest many leads, rather than each
    /// replay found out by its own insert.
    ///
    /// After it, the adapter may hold back the writes of the leads that
    /// follow (the leads, their proposals and timers, the counters) and make
    /// them together, a statement per table rather than per lead, before its
    /// next read that could see them and at the commit. A lead whose
    /// `externalId` another transaction stored meanwhile then fails the
    /// commit with [`StorageError::Contended`]; run again, the transaction
    /// finds it here.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn known_external_ids(
        &mut self,
        external_ids: &[&str],
    ) -> Result<HashSet<String>, StorageError>;

    /// Stores a new lead, and its first proposal with it when it has one
    /// (one write, so a routed lead costs one round trip). On a duplicate
    /// `externalId` neither is stored and the transaction stays usable.
    ///
    /// # Errors
    /// [`StorageError`] only (a duplicate `externalId` is
    /// [`Inserted::DuplicateExternalId`]).
    async fn insert_lead(
        &mut self,
        lead: &Lead,
        first: Option<&Proposal>,
    ) -> Result<Inserted, StorageError>;

    /// The lead, its row locked to the end of the transaction.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn lock_lead(&mut self, id: &LeadId) -> Result<Option<Lead>, StorageError>;

    /// Writes back a lead's changing fields (everything but `externalId`
    /// and `createdAt`).
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn update_lead(&mut self, lead: &Lead) -> Result<(), StorageError>;

    /// The proposal, its row locked to the end of the transaction: of two
    /// concurrent reviews, the second waits and finds it decided.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn lock_proposal(&mut self, id: &ProposalId) -> Result<Option<Proposal>, StorageError>;

    /// The latest proposal of a lead.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn latest_proposal(&mut self, lead: &LeadId) -> Result<Option<Proposal>, StorageError>;

    /// Stores a new proposal.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn insert_proposal(&mut self, proposal: &Proposal) -> Result<(), StorageError>;

    /// Writes a proposal's review (status, decided by and at, note).
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn update_review(&mut self, proposal: &Proposal) -> Result<(), StorageError>;

    /// Every agent with a proposal for the lead (in `status`, or in any
    /// status with `None`): who has had it.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn agents_proposed(
        &mut self,
        lead: &LeadId,
        status: Option<ProposalStatus>,
    ) -> Result<HashSet<AgentId>, StorageError>;

    /// The organization's leads `agent` holds in one of `statuses`, oldest
    /// first, at most `limit`.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn leads_held_by(
        &mut self,
        agent: &AgentId,
        statuses: &[lead::LeadStatus],
        limit: u64,
    ) -> Result<Vec<LeadId>, StorageError>;

    /// Stores a timer.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn arm_timer(&mut self, timer: &Timer) -> Result<(), StorageError>;

    /// Removes every timer of the lead (its wait ended).
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn disarm_timers(&mut self, lead: &LeadId) -> Result<(), StorageError>;

    /// The timer, unlocked (the lead's lock orders concurrent firings).
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn timer(&mut self, id: &TimerId) -> Result<Option<Timer>, StorageError>;

    /// Removes the timer: `true` when this transaction removed it, `false`
    /// when it was gone (fired or disarmed by another transaction).
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn take_timer(&mut self, id: &TimerId) -> Result<bool, StorageError>;

    /// Counts one lead for the agent on its local `day` (the count starts
    /// over on a new day) and records `now` as its last assignment, by
    /// increments, so that concurrent writers never lose one. With `turn`,
    /// the agent was served by that pool too: the pool's round-robin cursor
    /// moves to it and the member's weighted count goes up by one.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn count_assignment(
        &mut self,
        agent: &AgentId,
        day: NaiveDate,
        now: DateTime<Utc>,
        turn: Option<&PoolId>,
    ) -> Result<(), StorageError>;

    /// Takes one lead off the agent's count while that count is still of
    /// local `day` and above zero.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn uncount_assignment(
        &mut self,
        agent: &AgentId,
        day: NaiveDate,
    ) -> Result<(), StorageError>;

    /// Gives back one weighted count of the member (never below zero); the
    /// cursor stays.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn release_pool_turn(
        &mut self,
        pool: &PoolId,
        agent: &AgentId,
    ) -> Result<(), StorageError>;

    /// Appends an event to the outbox, in this transaction: stamped with the
    /// scope's organization and principal, it is written if and only if the
    /// change it records is.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn append_event(&mut self, event: NewEvent) -> Result<(), StorageError>;

    /// Makes every write of the transaction durable and lets its locks go.
    ///
    /// # Errors
    /// [`StorageError`]; nothing is written then.
    async fn commit(self: Box<Self>) -> Result<(), StorageError>;

    /// Drops every write of the transaction and lets its locks go.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn rollback(self: Box<Self>) -> Result<(), StorageError>;
}

/// Begins write transactions.
#[async_trait]
pub trait UnitOfWork: Send + Sync {
    /// A write transaction of the scope's organization.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn begin(&self, scope: &TenantScope) -> Result<Box<dyn RoutingTx>, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pending: bool, micros: i64, id: &str) -> QueueKey {
        QueueKey {
            pending,
            created_at: DateTime::from_timestamp_micros(micros).unwrap_or_default(),
            id: ProposalId::parse(id).unwrap_or_else(ProposalId::generate),
        }
    }

    #[test]
    fn keys_order_pending_first_then_newest_then_id_descending() {
        let mut keys = [
            key(false, 3, "prop_a"),
            key(true, 1, "prop_a"),
            key(true, 2, "prop_a"),
            key(false, 3, "prop_b"),
        ];
        keys.sort();
        let order: Vec<(bool, i64, &str)> = keys
            .iter()
            .map(|k| (k.pending, k.created_at.timestamp_micros(), k.id.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (true, 2, "prop_a"),
                (true, 1, "prop_a"),
                (false, 3, "prop_b"),
                (false, 3, "prop_a"),
            ]
        );
    }

    #[test]
    fn a_cursor_round_trips_and_anything_else_is_refused() {
        let k = key(false, 1_765_100_000_123_456, "prop_abc");
        assert_eq!(QueueKey::from_cursor(&k.to_cursor()), Some(k));
        for bad in ["", "not-a-cursor", "MQ", "Mi4xLnByb3BfYQ"] {
            assert_eq!(QueueKey::from_cursor(bad), None, "{bad}");
        }
    }
}
