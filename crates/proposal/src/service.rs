//! The use cases of leads, proposals and the dashboard, each checked against
//! [`routing::policy`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use events::{Event, EventRepository};
use lead::{Lead, LeadContactPatch, LeadFilter, LeadId, LeadKey, LeadRepository, NewLead};
use organization::{Organization, OrganizationRepository};
use routing::{
    ChartDays, DayWindow, LeadsPerAgent, RoutingError,
    policy::{require_manager, sees_all_leads},
    ports::AgentRepository,
};
use tenancy::{Actor, AgentId, Page, PageRequest, Principal};

use crate::{
    GroupCommit, Proposal, ProposalId,
    ports::{ProposalFilter, ProposalRepository, QueueKey, Reporting, UnitOfWork},
    workflow::{self, Assigned, RerouteSummary, Routed},
};

/// The dashboard numbers of an organization.
#[derive(Clone, Debug, PartialEq)]
pub struct Dashboard {
    /// The organization.
    pub organization: Organization,
    /// Users.
    pub users: u64,
    /// Agents.
    pub agents: u64,
    /// Leads.
    pub leads: u64,
    /// Proposals.
    pub proposals: u64,
}

/// A page of the review queue.
#[derive(Clone, Debug, PartialEq)]
pub struct QueuePage {
    /// The proposals, in queue order.
    pub items: Vec<Proposal>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<QueueKey>,
    /// Every matching proposal, when asked for.
    pub total: Option<u64>,
}

/// The ports [`LeadService`] runs on.
#[derive(Clone)]
pub struct LeadPorts {
    /// Write transactions of the workflow.
    pub uow: Arc<dyn UnitOfWork>,
    /// Leads, read side.
    pub leads: Arc<dyn LeadRepository>,
    /// Proposals, read side.
    pub proposals: Arc<dyn ProposalRepository>,
    /// The agent record of a signed-in agent (what it may see).
    pub agents: Arc<dyn AgentRepository>,
    /// Dashboard aggregates.
    pub reporting: Arc<dyn Reporting>,
    /// The dashboard's organization.
    pub orgs: Arc<dyn OrganizationRepository>,
    /// Events, for a lead's timeline.
    pub events: Arc<dyn EventRepository>,
}

impl std::fmt::Debug for LeadPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeadPorts").finish_non_exhaustive()
    }
}

/// Leads, their proposals and their review, and the dashboard. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LeadService {
    ports: LeadPorts,
    group: GroupCommit,
}

/// Whether `actor` may be shown an ingested lead: a new one always; a
/// replay of a stored one as a read would (`me`: the actor's own agent).
fn shows(actor: &Actor, me: Option<&AgentId>, routed: &Routed) -> bool {
    routed.created
        || sees_all_leads(actor)
        || (me.is_some() && routed.lead.assigned_agent_id() == me)
}

/// What a reviewer is recorded as.
fn decided_by(actor: &Actor) -> String {
    actor.principal().to_string()
}

impl LeadService {
    /// A service over these ports, grouping concurrent ingests by
    /// [`crate::DEFAULT_MAX_LEADS`].
    pub fn new(ports: LeadPorts) -> Self {
        let group = GroupCommit::new(ports.uow.clone(), crate::DEFAULT_MAX_LEADS);
        Self { ports, group }
    }

    /// Stores a lead and routes it (any role: a form backend's key posts
    /// leads). A lead whose `externalId` the organization has already comes
    /// back as it is (`created: false`), to whoever may read it.
    ///
    /// Concurrent calls of one caller share transactions ([`GroupCommit`]);
    /// the answer comes after the commit that holds the lead.
    ///
    /// # Errors
    /// [`RoutingError::DuplicateExternalId`] when the lead exists and the
    /// actor (an agent) may not read it.
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn ingest(&self, actor: &Actor, lead: NewLead) -> Result<Routed, RoutingError> {
        let now = tenancy::now();
        let lead = lead.into_lead(actor.org_id().clone(), now);
        let routed = self.group.ingest(&actor.scope(), lead).await?;
        let me = if routed.created || sees_all_leads(actor) {
            None
        } else {
            self.own_agent(actor).await?
        };
        if !shows(actor, me.as_ref(), &routed) {
            return Err(RoutingError::DuplicateExternalId);
        }
        if routed.created {
            tracing::info!(
                lead_id = %routed.lead.id,
                status = %routed.lead.status,
                agent_id = routed.proposal.as_ref().map(|p| p.agent_id.to_string()),
                "lead routed"
            );
        }
        Ok(routed)
    }

    /// Stores and routes `leads` in order, in one transaction (all or, on a
    /// storage failure, none), as [`LeadService::ingest`] would one by one:
    /// each comes back routed, replayed, or, for a replay the actor may not
    /// read, [`RoutingError::DuplicateExternalId`].
    ///
    /// # Errors
    /// [`RoutingError::Storage`]: nothing was stored.
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id(), leads = leads.len()))]
    pub async fn ingest_batch(
        &self,
        actor: &Actor,
        leads: Vec<NewLead>,
    ) -> Result<Vec<Result<Routed, RoutingError>>, RoutingError> {
        let now = tenancy::now();
        let leads = leads
            .into_iter()
            .map(|l| l.into_lead(actor.org_id().clone(), now))
            .collect();
        let routed =
            workflow::ingest_all(self.ports.uow.as_ref(), &actor.scope(), leads, now).await?;
        let me = if sees_all_leads(actor) || routed.iter().all(|r| r.created) {
            None
        } else {
            self.own_agent(actor).await?
        };
        Ok(routed
            .into_iter()
            .map(|r| {
                if shows(actor, me.as_ref(), &r) {
                    Ok(r)
                } else {
                    Err(RoutingError::DuplicateExternalId)
                }
            })
            .collect())
    }

    /// The agent record of an agent-role actor, whose leads it may see.
    async fn own_agent(&self, actor: &Actor) -> Result<Option<AgentId>, RoutingError> {
        match actor.principal() {
            Principal::User(user_id) => Ok(self
                .ports
                .agents
                .find_by_user(&actor.scope(), user_id)
                .await?
                .map(|a| a.id)),
            _ => Ok(None),
        }
    }

    /// `filter` as `actor` may apply it: managers and above see every lead,
    /// an agent its own (whatever it asked for); `None` when it sees none
    /// (an agent-role caller with no agent record).
    async fn visible(
        &self,
        actor: &Actor,
        mut filter: LeadFilter,
    ) -> Result<Option<LeadFilter>, RoutingError> {
        if !sees_all_leads(actor) {
            match self.own_agent(actor).await? {
                Some(me) => filter.assigned_agent_id = Some(me),
                None => return Ok(None),
            }
        }
        Ok(Some(filter))
    }

    /// Leads: all for managers, only its own for an agent.
    ///
    /// # Errors
    /// [`RoutingError::Storage`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn list_leads(
        &self,
        actor: &Actor,
        filter: LeadFilter,
        page: PageRequest,
    ) -> Result<Page<Lead>, RoutingError> {
        let Some(filter) = self.visible(actor, filter).await? else {
            return Ok(Page {
                items: Vec::new(),
                total: 0,
                limit: page.limit(),
                offset: page.offset(),
            });
        };
        Ok(self.ports.leads.list(&actor.scope(), &filter, page).await?)
    }

    /// Up to `limit` leads after `after` (from the first without one), in
    /// the order and with the visibility of [`LeadService::list_leads`],
    /// without a total: a page costs the same wherever it starts (the
    /// CSV export reads its pages so).
    ///
    /// # Errors
    /// [`RoutingError::Storage`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn leads_after(
        &self,
        actor: &Actor,
        filter: LeadFilter,
        after: Option<&LeadKey>,
        limit: u64,
    ) -> Result<Vec<Lead>, RoutingError> {
        let Some(filter) = self.visible(actor, filter).await? else {
            return Ok(Vec::new());
        };
        Ok(self
            .ports
            .leads
            .list_after(&actor.scope(), &filter, after, limit)
            .await?)
    }

    /// One lead and its latest proposal; an agent sees only its own.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id(), lead_id = %id))]
    pub async fn get_lead(
        &self,
        actor: &Actor,
        id: &LeadId,
    ) -> Result<(Lead, Option<Proposal>), RoutingError> {
        let lead = self.visible_lead(actor, id).await?;
        let proposal = self
            .ports
            .proposals
            .latest_for_lead(&actor.scope(), id)
            .await?;
        Ok((lead, proposal))
    }

    async fn visible_lead(&self, actor: &Actor, id: &LeadId) -> Result<Lead, RoutingError> {
        let lead = self
            .ports
            .leads
            .find(&actor.scope(), id)
            .await?
            .ok_or(RoutingError::NotFound("lead"))?;
        if !sees_all_leads(actor) {
            let me = self.own_agent(actor).await?;
            if me.is_none() || lead.assigned_agent_id() != me.as_ref() {
                return Err(RoutingError::NotFound("lead"));
            }
        }
        Ok(lead)
    }

    /// A lead's events and its proposals', oldest first; whoever may read
    /// the lead may read them.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id(), lead_id = %id))]
    pub async fn timeline(&self, actor: &Actor, id: &LeadId) -> Result<Vec<Event>, RoutingError> {
        self.visible_lead(actor, id).await?;
        Ok(self
            .ports
            .events
            .of_lead(&actor.scope(), id.as_str())
            .await?)
    }

    /// Changes contact data or moves the status forward; an agent only its own.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`], [`RoutingError::InvalidTransition`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id(), lead_id = %id))]
    pub async fn update_lead(
        &self,
        actor: &Actor,
        id: &LeadId,
        patch: LeadContactPatch,
    ) -> Result<Lead, RoutingError> {
        self.visible_lead(actor, id).await?;
        workflow::update_lead(
            self.ports.uow.as_ref(),
            &actor.scope(),
            id,
            patch,
            tenancy::now(),
        )
        .await
    }

    /// Proposals, pending first (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn list_proposals(
        &self,
        actor: &Actor,
        filter: &ProposalFilter,
        page: PageRequest,
    ) -> Result<Page<Proposal>, RoutingError> {
        require_manager(actor)?;
        Ok(self
            .ports
            .proposals
            .list(&actor.scope(), filter, page)
            .await?)
    }

    /// A page of the review queue after `after` (managers), read in index
    /// order; the total only when `with_total` (it counts every match).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn proposal_queue(
        &self,
        actor: &Actor,
        filter: &ProposalFilter,
        after: Option<&QueueKey>,
        limit: u64,
        with_total: bool,
    ) -> Result<QueuePage, RoutingError> {
        require_manager(actor)?;
        let scope = actor.scope();
        // One more than asked says whether a next page exists.
        let mut items = self
            .ports
            .proposals
            .queue(&scope, filter, after, limit.saturating_add(1))
            .await?;
        let more = items.len() as u64 > limit;
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = if more {
            items.last().map(QueueKey::of)
        } else {
            None
        };
        let total = if with_total {
            Some(self.ports.proposals.count(&scope, filter).await?)
        } else {
            None
        };
        Ok(QueuePage { items, next, total })
    }

    /// One proposal (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id(), proposal_id = %id))]
    pub async fn get_proposal(
        &self,
        actor: &Actor,
        id: &ProposalId,
    ) -> Result<Proposal, RoutingError> {
        require_manager(actor)?;
        self.ports
            .proposals
            .find(&actor.scope(), id)
            .await?
            .ok_or(RoutingError::NotFound("proposal"))
    }

    /// Approves a pending proposal (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`], [`RoutingError::AlreadyDecided`].
    pub async fn approve(
        &self,
        actor: &Actor,
        id: &ProposalId,
        note: Option<String>,
    ) -> Result<Routed, RoutingError> {
        require_manager(actor)?;
        workflow::approve(
            self.ports.uow.as_ref(),
            &actor.scope(),
            id,
            &decided_by(actor),
            note,
            tenancy::now(),
        )
        .await
    }

    /// Rejects a pending proposal, reassigning or re-routing its lead (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`],
    /// [`RoutingError::AlreadyDecided`], [`RoutingError::Invalid`] for `reassignTo`.
    pub async fn reject(
        &self,
        actor: &Actor,
        id: &ProposalId,
        note: Option<String>,
        reassign_to: Option<AgentId>,
    ) -> Result<(Proposal, Routed), RoutingError> {
        require_manager(actor)?;
        workflow::reject(
            self.ports.uow.as_ref(),
            &actor.scope(),
            id,
            &decided_by(actor),
            note,
            reassign_to.as_ref(),
            tenancy::now(),
        )
        .await
    }

    /// The agent record of the caller, for a lead it may read; whether the
    /// lead is that agent's is checked by the workflow, under the lead's lock.
    async fn own_agent_for(&self, actor: &Actor, id: &LeadId) -> Result<AgentId, RoutingError> {
        self.visible_lead(actor, id).await?;
        self.own_agent(actor).await?.ok_or(RoutingError::Forbidden(
            "only the agent the lead is assigned to may accept or decline it",
        ))
    }

    /// The assigned agent accepts its lead (the user linked to the agent
    /// record; managers assign instead).
    ///
    /// # Errors
    /// [`RoutingError::NotFound`] for a lead the caller may not read;
    /// [`RoutingError::Forbidden`] for anyone but its agent;
    /// [`RoutingError::InvalidTransition`] unless assigned or accepted.
    pub async fn accept(&self, actor: &Actor, id: &LeadId) -> Result<Lead, RoutingError> {
        let me = self.own_agent_for(actor, id).await?;
        workflow::accept(
            self.ports.uow.as_ref(),
            &actor.scope(),
            id,
            &me,
            tenancy::now(),
        )
        .await
    }

    /// The assigned agent declines its lead: it is routed again at once.
    ///
    /// # Errors
    /// As [`LeadService::accept`].
    pub async fn decline(
        &self,
        actor: &Actor,
        id: &LeadId,
        note: Option<String>,
    ) -> Result<Routed, RoutingError> {
        let me = self.own_agent_for(actor, id).await?;
        workflow::decline(
            self.ports.uow.as_ref(),
            &actor.scope(),
            id,
            &me,
            note,
            tenancy::now(),
        )
        .await
    }

    /// Gives a lead to an agent by hand (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`],
    /// [`RoutingError::Invalid`] for `agentId`,
    /// [`RoutingError::InvalidTransition`].
    pub async fn assign(
        &self,
        actor: &Actor,
        id: &LeadId,
        agent: &AgentId,
        note: Option<String>,
    ) -> Result<Assigned, RoutingError> {
        require_manager(actor)?;
        workflow::assign(
            self.ports.uow.as_ref(),
            &actor.scope(),
            id,
            agent,
            &decided_by(actor),
            note,
            tenancy::now(),
        )
        .await
    }

    /// Sends a lead back to the engine, never to an agent who had it
    /// (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`],
    /// [`RoutingError::InvalidTransition`].
    pub async fn reroute(
        &self,
        actor: &Actor,
        id: &LeadId,
        note: Option<String>,
    ) -> Result<Routed, RoutingError> {
        require_manager(actor)?;
        workflow::reroute(
            self.ports.uow.as_ref(),
            &actor.scope(),
            id,
            &decided_by(actor),
            note,
            tenancy::now(),
        )
        .await
    }

    /// Sends every open lead of an agent back to the engine, each in its
    /// own transaction (managers): the agent is leaving.
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`] for an agent
    /// of another organization.
    pub async fn reroute_agent_leads(
        &self,
        actor: &Actor,
        agent: &AgentId,
        note: Option<String>,
    ) -> Result<RerouteSummary, RoutingError> {
        require_manager(actor)?;
        self.ports
            .agents
            .find(&actor.scope(), agent, tenancy::now())
            .await?
            .ok_or(RoutingError::NotFound("agent"))?;
        workflow::reroute_agent_leads(
            self.ports.uow.as_ref(),
            &actor.scope(),
            agent,
            &decided_by(actor),
            note,
            tenancy::now(),
        )
        .await
    }

    /// The organization and its counts (any role).
    ///
    /// # Errors
    /// [`RoutingError::NotFound`] when the organization is gone.
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn dashboard(&self, actor: &Actor) -> Result<Dashboard, RoutingError> {
        let organization = self
            .ports
            .orgs
            .find(actor.org_id())
            .await?
            .ok_or(RoutingError::NotFound("organization"))?;
        let counts = self.ports.reporting.counts(&actor.scope()).await?;
        Ok(Dashboard {
            organization,
            users: counts.users,
            agents: counts.agents,
            leads: counts.leads,
            proposals: counts.proposals,
        })
    }

    /// Leads per owning agent for each of the last `days` UTC calendar days
    /// (the last one being the day of `now`), for the dashboard chart (any
    /// role). Managers and above see every agent of the organization (each
    /// active agent, even idle, and any agent with leads in the window) and
    /// the leads no agent owns; an agent sees only its own line (the agent
    /// record linked to the signed-in user) and no unowned leads, as with
    /// [`LeadService::list_leads`]; an agent-role caller with no agent
    /// record gets an empty chart.
    ///
    /// # Errors
    /// [`RoutingError::Storage`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn leads_per_agent(
        &self,
        actor: &Actor,
        days: ChartDays,
        now: DateTime<Utc>,
    ) -> Result<LeadsPerAgent, RoutingError> {
        let window = DayWindow::ending(now, days);
        let only = if sees_all_leads(actor) {
            None
        } else {
            match self.own_agent(actor).await? {
                Some(me) => Some(me),
                None => return Ok(LeadsPerAgent::empty(&window)),
            }
        };
        let activity = self
            .ports
            .reporting
            .leads_per_agent(&actor.scope(), &window, only.as_ref())
            .await?;
        Ok(LeadsPerAgent::assemble(&window, activity))
    }
}
