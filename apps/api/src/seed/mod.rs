//! Demo data for `lead-routing seed --demo`.
//!
//! [`seed_demo`] runs on the [`Services`] of the composition root (the same
//! rules as the HTTP API) and fills the database with three organizations
//! (`acme-demo`, `globex-demo`, `initech-demo`), each with:
//!
//! - an `admin`, a `manager` and an `agent`-role user (one shared demo
//!   password);
//! - 6 to 8 routing agents of varied skills, regions, weights, capacities,
//!   daily caps and statuses, some with working hours, one linked to the
//!   agent-role user, one (`Overflow desk`) outside every pool as the
//!   fallback agent;
//! - three pools: `EMEA` (round robin), `Enterprise` (weighted) and
//!   `Inbound` (least loaded);
//! - three rules: `country in [FR, BE]` → EMEA with skill `french`,
//!   `score gte 80` → Enterprise with skill `enterprise`, and
//!   `source eq partner` → Enterprise;
//! - settings: `defaultPoolId` (Inbound), `fallbackAgentId` (Overflow desk),
//!   and `allowAutoRouting` on for `globex-demo` only (`stickyByDomain` on
//!   for `acme-demo`);
//! - N leads posted through `RoutingService::ingest`, the real engine, with
//!   varied countries, scores, sources and e-mail domains. As they arrive the
//!   manager approves about half of the pending proposals, rejects a few
//!   (the engine re-routes those leads, or leaves them unrouted) and moves
//!   some assigned leads on to contacted, won or lost, so every status of the
//!   queue is represented.
//!
//! Everything random comes from a small linear congruential generator with a
//! fixed seed, so two runs make the same leads. Routing itself still depends
//! on the clock (working hours, daily caps), so the counts may differ a
//! little between runs.
//!
//! The module is split by concern: this file orchestrates, `data` holds
//! the demo tables, `routing` makes every call into the routing and lead
//! services, [`report`] renders what was created, and `random` draws the
//! leads.

mod data;
mod random;
pub mod report;
mod routing;

use ::routing::{Agent, AgentInput, RawWorkingHours, RoutingError};
use auth::{AuthError, CreateUser, Password, User};
use organization::{
    DisplayName, NewOrganization, OrgName, Organization, OrganizationError, OrganizationFilter,
    OrganizationPatch, OrganizationService, Settings as OrgSettings,
};
use serde_json::{Map, json};
use tenancy::{
    Actor, Email, MAX_PAGE_LIMIT, OrgId, PageRequest, Principal, Role, ValidationErrors,
};

pub use self::report::{DemoOrg, DemoReport, DemoUser};
use self::{
    data::{
        AGENT_PROFILES, FALLBACK_PROFILE, LINKED_PROFILE, Membership, ORG_SPECS, OrgSpec,
        condition, demo_lead, slug, strings,
    },
    random::Lcg,
};
use crate::services::Services;

/// The demo password when neither `--password` nor
/// `LEAD_ROUTING_DEMO_PASSWORD` is given. For demos only: anyone who reads
/// this source knows it.
pub const DEFAULT_DEMO_PASSWORD: &str = "demo-password-123";

/// The leads posted per organization when `--leads` is not given.
pub const DEFAULT_DEMO_LEADS: u32 = 300;

/// The most leads `--leads` accepts per organization.
pub const MAX_DEMO_LEADS: u32 = 100_000;

/// The names of the demo organizations, in the order they are created. The
/// first one existing means the demo was seeded already.
pub const DEMO_ORG_NAMES: [&str; 3] = ["acme-demo", "globex-demo", "initech-demo"];

/// What `seed --demo` was asked for.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Leads posted per organization.
    pub leads: u32,
    /// The password of every demo user.
    pub password: Password,
}

/// Why seeding stopped.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// A demo organization exists already: seeding again would duplicate.
    #[error(
        "the demo data already exists (organization `{name}` is {id}); to start over, delete the \
         database (the default SQLite one is ./data/lead-routing.db and its -wal and -shm files), \
         use another DATABASE_URL, or delete the demo organizations \
         (DELETE /organizations/{{id}}?hard=true)"
    )]
    AlreadySeeded {
        /// The organization's name.
        name: String,
        /// Its id.
        id: OrgId,
    },
    /// An organization use case failed.
    #[error("{0}")]
    Organization(#[from] OrganizationError),
    /// A user use case failed.
    #[error("{0}")]
    Auth(#[from] AuthError),
    /// A routing use case failed.
    #[error("{0}")]
    Routing(#[from] RoutingError),
    /// The demo data itself is invalid (a bug of this module).
    #[error("invalid demo data: {0}")]
    Invalid(#[from] ValidationErrors),
}

/// Seeds the demo organizations; `progress` receives one line per step.
///
/// # Errors
/// [`SeedError::AlreadySeeded`] when a demo organization exists (nothing is
/// written then); any use-case error otherwise (what was written so far
/// stays).
pub async fn seed_demo(
    services: &Services,
    options: &DemoOptions,
    mut progress: impl FnMut(&str),
) -> Result<DemoReport, SeedError> {
    for name in DEMO_ORG_NAMES {
        if let Some(org) = find_org_by_name(&services.orgs, name).await? {
            return Err(SeedError::AlreadySeeded {
                name: name.to_owned(),
                id: org.id,
            });
        }
    }
    let mut orgs = Vec::new();
    for (index, spec) in ORG_SPECS.iter().enumerate() {
        progress(&format!(
            "Seeding {}: users, agents, pools, rules, {} leads...",
            spec.name, options.leads
        ));
        orgs.push(seed_org(services, spec, index as u64, options).await?);
    }
    Ok(DemoReport { orgs })
}

/// The organization named `name`, if any (read as a platform super admin).
async fn find_org_by_name(
    orgs: &OrganizationService,
    name: &str,
) -> Result<Option<Organization>, OrganizationError> {
    let platform = Actor::operator("seed");
    let mut offset = 0;
    loop {
        let page = PageRequest::new(Some(MAX_PAGE_LIMIT as i64), Some(offset))
            .map_err(OrganizationError::Invalid)?;
        let found = orgs
            .list(&platform, OrganizationFilter::default(), page)
            .await?;
        let count = found.items.len() as i64;
        if let Some(org) = found.items.into_iter().find(|o| o.name.as_str() == name) {
            return Ok(Some(org));
        }
        offset += count;
        if count == 0 || offset as u64 >= found.total {
            return Ok(None);
        }
    }
}

async fn seed_org(
    services: &Services,
    spec: &OrgSpec,
    index: u64,
    options: &DemoOptions,
) -> Result<DemoOrg, SeedError> {
    let platform = Actor::operator("seed");
    let org = services
        .orgs
        .create(
            &platform,
            NewOrganization {
                name: OrgName::parse(spec.name).map_err(|e| invalid("name", e))?,
                display_name: Some(
                    DisplayName::parse(spec.display_name).map_err(|e| invalid("displayName", e))?,
                ),
                email: Some(email(&format!("admin@{}", spec.domain))?),
                phone: None,
                tier: spec.tier,
                monday_workspace_id: None,
                settings: OrgSettings::default(),
            },
        )
        .await?;
    // A platform super admin acting in the new organization.
    let operator = Actor::operator("seed")
        .acting_in(org.id.clone())
        .ok_or(AuthError::Forbidden("the seed's operator is a super admin"))?;

    let mut users = Vec::new();
    let mut created: Vec<User> = Vec::new();
    for role in [Role::Admin, Role::Manager, Role::Agent] {
        let address = format!("{}@{}", role.as_str(), spec.domain);
        let cmd = CreateUser::parse(
            role.as_str(),
            &address,
            options.password.expose(),
            Some(role.as_str()),
        )?;
        let user = services.auth.create_user(&operator, cmd).await?;
        users.push(DemoUser {
            role,
            email: user.email.as_str().to_owned(),
        });
        created.push(user);
    }
    let manager = created
        .iter()
        .find(|u| u.role == Role::Manager)
        .map(|u| {
            Actor::new(
                org.id.clone(),
                Principal::User(u.id.as_str().to_owned()),
                Role::Manager,
            )
        })
        .unwrap_or_else(|| operator.clone());
    let agent_user = created.iter().find(|u| u.role == Role::Agent);

    // Agents.
    let mut agents: Vec<(Agent, Membership)> = Vec::new();
    let last = spec.agent_names.len().saturating_sub(1);
    for (i, name) in spec.agent_names.iter().enumerate() {
        let profile = if i == last {
            &FALLBACK_PROFILE
        } else {
            &AGENT_PROFILES[i % AGENT_PROFILES.len()]
        };
        let user_id = (i == LINKED_PROFILE)
            .then(|| agent_user.map(|u| u.id.as_str().to_owned()))
            .flatten();
        let input = AgentInput {
            name: Some((*name).to_owned()),
            email: Some(format!("{}@{}", slug(name), spec.domain)),
            user_id: Some(user_id),
            skills: Some(strings(profile.skills)),
            regions: Some(strings(profile.regions)),
            weight: Some(profile.weight),
            capacity: Some(profile.capacity),
            daily_cap: Some(profile.daily_cap),
            status: Some(profile.status.to_owned()),
            working_hours: Some(profile.hours.map(|(tz, days, start, end)| RawWorkingHours {
                timezone: tz.to_owned(),
                days: strings(days),
                start: start.to_owned(),
                end: end.to_owned(),
            })),
        };
        let agent = routing::create_agent(&services.routing, &operator, input).await?;
        agents.push((agent, profile.pools));
    }
    let fallback_agent = agents.last().map(|(a, _)| a.id.clone());

    // Pools.
    let members = |pick: fn(&Membership) -> bool| -> Vec<String> {
        agents
            .iter()
            .filter(|(_, m)| pick(m))
            .map(|(a, _)| a.id.to_string())
            .collect()
    };
    let emea = routing::create_pool(
        &services.routing,
        &operator,
        "EMEA",
        "round_robin",
        members(|m| m.emea),
    )
    .await?;
    let enterprise = routing::create_pool(
        &services.routing,
        &operator,
        "Enterprise",
        "weighted",
        members(|m| m.enterprise),
    )
    .await?;
    let inbound = routing::create_pool(
        &services.routing,
        &operator,
        "Inbound",
        "least_loaded",
        members(|m| m.inbound),
    )
    .await?;

    // Rules.
    let rules = [
        (
            "French-speaking Europe",
            10,
            condition("country", "in", json!(["FR", "BE"])),
            &emea,
            vec!["french".to_owned()],
        ),
        (
            "High-score leads",
            20,
            condition("score", "gte", json!(80)),
            &enterprise,
            vec!["enterprise".to_owned()],
        ),
        (
            "Partner referrals",
            30,
            condition("source", "eq", json!("partner")),
            &enterprise,
            Vec::new(),
        ),
    ];
    for (name, priority, cond, pool, skills) in rules {
        routing::create_rule(
            &services.routing,
            &operator,
            name,
            priority,
            cond,
            pool,
            skills,
        )
        .await?;
    }

    // Settings.
    let mut settings = Map::new();
    settings.insert("defaultPoolId".into(), json!(inbound.id.to_string()));
    if let Some(fallback) = &fallback_agent {
        settings.insert("fallbackAgentId".into(), json!(fallback.to_string()));
    }
    settings.insert("allowAutoRouting".into(), json!(spec.auto_routing));
    settings.insert("stickyByDomain".into(), json!(spec.sticky_by_domain));
    services
        .orgs
        .update(
            &platform,
            &org.id,
            OrganizationPatch {
                settings: Some(settings),
                ..OrganizationPatch::default()
            },
        )
        .await?;

    // Leads, and the manager working the queue as they arrive.
    let mut rng = Lcg::new(0x5eed_0000 + index);
    for n in 0..options.leads {
        let lead = demo_lead(&mut rng, spec.name, n)?;
        let routed = routing::ingest(&services.leads, &operator, lead).await?;
        routing::work_the_queue(&services.leads, &manager, &mut rng, routed).await?;
    }

    let leads_by_status = routing::count_leads(&services.leads, &manager).await?;
    let proposals_by_status = routing::count_proposals(&services.leads, &manager).await?;
    Ok(DemoOrg {
        name: spec.name.to_owned(),
        id: org.id,
        auto_routing: spec.auto_routing,
        users,
        agents: agents.len(),
        leads: options.leads,
        leads_by_status,
        proposals_by_status,
    })
}

fn invalid(field: &str, message: &str) -> ValidationErrors {
    ValidationErrors::single(field, message)
}

fn email(raw: &str) -> Result<Email, ValidationErrors> {
    Email::parse(raw).map_err(|e| ValidationErrors::single("email", e.to_string()))
}
