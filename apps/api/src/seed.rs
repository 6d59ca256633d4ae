//! Demo data for `lead-routing seed --demo`, and the services the operator
//! commands of [`crate::cli`] run on.
//!
//! [`Services::connect`] opens and migrates the database and builds the same
//! use-case services over the same repositories as [`crate::startup`], so the
//! command line goes through exactly the rules the HTTP API does.
//!
//! [`seed_demo`] then fills that database with three organizations
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
//! - N leads posted through [`RoutingService::ingest`], the real engine, with
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

use std::{collections::BTreeMap, fmt::Write as _, sync::Arc};

use auth::{
    ApiKeyService, AuthError, AuthService, CreateUser, Password, SecretError, TokenKeys, User,
};
use lead::{LeadContactPatch, LeadFilter, LeadStatus, NewLead, NewLeadInput};
use migration::DbErr;
use organization::{
    DisplayName, NewOrganization, OrgName, Organization, OrganizationError, OrganizationFilter,
    OrganizationPatch, OrganizationRepository, OrganizationService, Settings as OrgSettings, Tier,
};
use routing::{
    Agent, AgentChange, AgentInput, Pool, PoolChange, ProposalStatus, RawCondition,
    RawWorkingHours, RoutingError, RoutingService, RuleChange, ports::Routed,
};
use serde_json::{Map, Value, json};
use storage::{
    Database, SeaOrmAgentRepository, SeaOrmApiKeyRepository, SeaOrmLeadRepository,
    SeaOrmOrganizationRepository, SeaOrmPoolRepository, SeaOrmRoutingStore, SeaOrmRuleRepository,
    SeaOrmSessionRepository, SeaOrmUserRepository,
};
use tenancy::{
    Actor, Email, MAX_PAGE_LIMIT, OrgId, PageRequest, Principal, Role, ValidationErrors,
};

use crate::{
    config::Settings,
    startup::{TOKEN_AUDIENCE, TOKEN_ISSUER},
};

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

/// The use-case services over one database, built as [`crate::startup`]
/// builds them for the HTTP server.
#[derive(Debug)]
pub struct Services {
    /// The database (connected and migrated).
    pub db: Database,
    /// Organization use cases.
    pub orgs: OrganizationService,
    /// Users (and sign-in).
    pub auth: AuthService,
    /// API keys.
    pub api_keys: ApiKeyService,
    /// Agents, pools, rules, leads and proposals.
    pub routing: RoutingService,
}

/// Why the services could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] DbErr),
    /// `JWT_SECRET` is unusable.
    #[error("JWT_SECRET: {0}")]
    Secret(#[from] SecretError),
}

impl Services {
    /// Connects to `settings.database`, applies pending migrations and builds
    /// the services.
    ///
    /// # Errors
    /// [`ServicesError`] when the database or the token secret is unusable.
    pub async fn connect(settings: &Settings) -> Result<Self, ServicesError> {
        let db = Database::connect(&settings.database).await?;
        db.migrate().await?;
        let keys = TokenKeys::new(settings.jwt_secret.as_bytes(), TOKEN_ISSUER, TOKEN_AUDIENCE)?;
        let orgs: Arc<dyn OrganizationRepository> =
            Arc::new(SeaOrmOrganizationRepository::new(db.clone()));
        let users = Arc::new(SeaOrmUserRepository::new(db.clone()));
        let sessions = Arc::new(SeaOrmSessionRepository::new(db.clone()));
        let api_keys = Arc::new(SeaOrmApiKeyRepository::new(db.clone()));
        Ok(Self {
            orgs: OrganizationService::new(orgs.clone()),
            auth: AuthService::new(users, sessions, orgs.clone(), keys),
            api_keys: ApiKeyService::new(api_keys),
            routing: RoutingService::new(
                Arc::new(SeaOrmAgentRepository::new(db.clone())),
                Arc::new(SeaOrmPoolRepository::new(db.clone())),
                Arc::new(SeaOrmRuleRepository::new(db.clone())),
                Arc::new(SeaOrmLeadRepository::new(db.clone())),
                Arc::new(SeaOrmRoutingStore::new(db.clone())),
                orgs,
            ),
            db,
        })
    }

    /// The organization named `name`, if any (read as a platform super admin).
    ///
    /// # Errors
    /// [`OrganizationError::Storage`].
    pub async fn find_org_by_name(
        &self,
        name: &str,
    ) -> Result<Option<Organization>, OrganizationError> {
        let platform = Actor::operator("seed");
        let mut offset = 0;
        loop {
            let page = PageRequest::new(Some(MAX_PAGE_LIMIT as i64), Some(offset))
                .map_err(OrganizationError::Invalid)?;
            let found = self
                .orgs
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
}

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
        "the demo data already exists (organization `{name}` is {id}); delete the demo \
         organizations first (DELETE /organizations/{{id}}?hard=true) or use another DATABASE_URL"
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

/// One demo user, for the sign-in instructions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoUser {
    /// Its role.
    pub role: Role,
    /// Its sign-in e-mail.
    pub email: String,
}

/// What was created in one demo organization.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoOrg {
    /// Its name (`acme-demo`).
    pub name: String,
    /// Its id.
    pub id: OrgId,
    /// Whether proposals are approved without review.
    pub auto_routing: bool,
    /// The admin, manager and agent users.
    pub users: Vec<DemoUser>,
    /// Routing agents created.
    pub agents: usize,
    /// Leads posted.
    pub leads: u32,
    /// Leads by status, as stored at the end.
    pub leads_by_status: BTreeMap<&'static str, u64>,
    /// Proposals by status, as stored at the end.
    pub proposals_by_status: BTreeMap<&'static str, u64>,
}

/// What [`seed_demo`] created.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoReport {
    /// The organizations, in creation order.
    pub orgs: Vec<DemoOrg>,
}

/// The lead statuses shown in the summary, in the order of the lead's life.
const SUMMARY_LEAD_STATUSES: [LeadStatus; 6] = [
    LeadStatus::Proposed,
    LeadStatus::Assigned,
    LeadStatus::Contacted,
    LeadStatus::Won,
    LeadStatus::Lost,
    LeadStatus::Unrouted,
];

/// The proposal statuses shown in the summary.
const SUMMARY_PROPOSAL_STATUSES: [ProposalStatus; 3] = [
    ProposalStatus::Pending,
    ProposalStatus::Approved,
    ProposalStatus::Rejected,
];

impl DemoReport {
    /// The summary table and the sign-in instructions, for a server at
    /// `base_url` (`http://127.0.0.1:3000`).
    pub fn render(&self, base_url: &str, password: &Password) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\nLeads by status:");
        let _ = write!(out, "  {:<14} {:>6}", "organization", "total");
        for s in SUMMARY_LEAD_STATUSES {
            let _ = write!(out, " {:>9}", s.as_str());
        }
        let _ = writeln!(out, "   review queue");
        for org in &self.orgs {
            let _ = write!(out, "  {:<14} {:>6}", org.name, org.leads);
            for s in SUMMARY_LEAD_STATUSES {
                let n = org.leads_by_status.get(s.as_str()).copied().unwrap_or(0);
                let _ = write!(out, " {n:>9}");
            }
            let queue: Vec<String> = SUMMARY_PROPOSAL_STATUSES
                .iter()
                .map(|s| {
                    let n = org
                        .proposals_by_status
                        .get(s.as_str())
                        .copied()
                        .unwrap_or(0);
                    format!("{n} {}", s.as_str())
                })
                .collect();
            let _ = writeln!(out, "   {}", queue.join(", "));
        }

        let _ = writeln!(
            out,
            "\nSign in to the admin console at {base_url}/admin/ (start the server with `lead-routing serve`)."
        );
        let _ = writeln!(
            out,
            "Every demo user's password is `{}` (demo only: do not expose this server).",
            password.expose()
        );
        for org in &self.orgs {
            let routing = if org.auto_routing {
                "auto-routing on"
            } else {
                "manager review"
            };
            let _ = writeln!(
                out,
                "\n  {} ({}, {} agents, {routing})",
                org.name, org.id, org.agents
            );
            for user in &org.users {
                let _ = writeln!(out, "    {:<8} {}", user.role.as_str(), user.email);
            }
        }
        if let Some(user) = self.orgs.first().and_then(|o| o.users.first()) {
            let body = json!({"email": user.email, "password": password.expose()}).to_string();
            let _ = writeln!(out, "\nSign in from a shell (POST /auth/login):");
            let _ = writeln!(
                out,
                "  curl -s -X POST {base_url}/auth/login -H 'Content-Type: application/json' -d {}",
                shell_quote(&body)
            );
            let _ = writeln!(
                out,
                "then call the API with `Authorization: Bearer <data.tokens.accessToken>`."
            );
        }
        out
    }
}

/// Quotes `s` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
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
        if let Some(org) = services.find_org_by_name(name).await? {
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

/// One demo organization's shape.
struct OrgSpec {
    name: &'static str,
    display_name: &'static str,
    /// The e-mail domain of its users and agents.
    domain: &'static str,
    tier: Tier,
    auto_routing: bool,
    sticky_by_domain: bool,
    /// Agent names; the profiles of [`AGENT_PROFILES`] are used in order,
    /// one per name (the last name gets the fallback profile).
    agent_names: &'static [&'static str],
}

const ORG_SPECS: [OrgSpec; 3] = [
    OrgSpec {
        name: "acme-demo",
        display_name: "Acme Corp (demo)",
        domain: "acme-demo.example",
        tier: Tier::Enterprise,
        auto_routing: false,
        sticky_by_domain: true,
        agent_names: &[
            "Camille Laurent",
            "Lucas Dubois",
            "Olivia Carter",
            "Noah Bennett",
            "Sofia Ramirez",
            "Hiro Tanaka",
            "Avery Brooks",
            "Overflow desk",
        ],
    },
    OrgSpec {
        name: "globex-demo",
        display_name: "Globex (demo)",
        domain: "globex-demo.example",
        tier: Tier::Standard,
        auto_routing: true,
        sticky_by_domain: false,
        agent_names: &[
            "Élodie Martin",
            "Julien Petit",
            "Grace Miller",
            "Ethan Walker",
            "Mateo García",
            "Jordan Lee",
            "Overflow desk",
        ],
    },
    OrgSpec {
        name: "initech-demo",
        display_name: "Initech (demo)",
        domain: "initech-demo.example",
        tier: Tier::Free,
        auto_routing: false,
        sticky_by_domain: false,
        agent_names: &[
            "Manon Girard",
            "Thomas Leroy",
            "Peter Gibbons",
            "Samir Nagheenanajar",
            "Taylor Morgan",
            "Overflow desk",
        ],
    },
];

/// The pools an agent profile belongs to.
#[derive(Clone, Copy)]
struct Membership {
    emea: bool,
    enterprise: bool,
    inbound: bool,
}

/// An agent's routing profile.
struct AgentProfile {
    skills: &'static [&'static str],
    regions: &'static [&'static str],
    weight: i64,
    capacity: Option<i64>,
    daily_cap: Option<i64>,
    status: &'static str,
    /// `(time zone, days, start, end)`.
    hours: Option<(
        &'static str,
        &'static [&'static str],
        &'static str,
        &'static str,
    )>,
    pools: Membership,
}

const WEEKDAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri"];

/// Profiles for all but the last agent of an organization, used in order.
const AGENT_PROFILES: [AgentProfile; 7] = [
    AgentProfile {
        skills: &["french", "english"],
        regions: &["EMEA"],
        weight: 3,
        capacity: Some(40),
        daily_cap: None,
        status: "available",
        hours: None,
        pools: Membership {
            emea: true,
            enterprise: false,
            inbound: true,
        },
    },
    AgentProfile {
        skills: &["french", "enterprise"],
        regions: &["EMEA"],
        weight: 2,
        capacity: Some(25),
        daily_cap: Some(60),
        status: "available",
        hours: Some(("Europe/Paris", WEEKDAYS, "08:00", "19:00")),
        pools: Membership {
            emea: true,
            enterprise: true,
            inbound: false,
        },
    },
    AgentProfile {
        skills: &["enterprise", "english"],
        regions: &["NA"],
        weight: 5,
        capacity: None,
        daily_cap: Some(80),
        status: "available",
        hours: None,
        pools: Membership {
            emea: false,
            enterprise: true,
            inbound: false,
        },
    },
    AgentProfile {
        skills: &["english"],
        regions: &["NA", "APAC"],
        weight: 1,
        capacity: Some(30),
        daily_cap: None,
        status: "available",
        hours: Some(("America/New_York", WEEKDAYS, "09:00", "17:30")),
        pools: Membership {
            emea: false,
            enterprise: false,
            inbound: true,
        },
    },
    AgentProfile {
        skills: &["spanish", "english"],
        regions: &["LATAM"],
        weight: 2,
        capacity: Some(20),
        daily_cap: None,
        status: "away",
        hours: None,
        pools: Membership {
            emea: false,
            enterprise: false,
            inbound: true,
        },
    },
    AgentProfile {
        skills: &["english", "japanese"],
        regions: &["APAC"],
        weight: 1,
        capacity: Some(15),
        daily_cap: None,
        status: "paused",
        hours: Some(("Asia/Tokyo", WEEKDAYS, "22:00", "06:00")),
        pools: Membership {
            emea: false,
            enterprise: true,
            inbound: true,
        },
    },
    AgentProfile {
        skills: &["english", "french", "enterprise"],
        regions: &["EMEA", "NA"],
        weight: 2,
        capacity: Some(50),
        daily_cap: None,
        status: "available",
        hours: None,
        pools: Membership {
            emea: true,
            enterprise: true,
            inbound: true,
        },
    },
];

/// The last agent of every organization: in no pool, unlimited, always on.
const FALLBACK_PROFILE: AgentProfile = AgentProfile {
    skills: &["english", "french", "spanish"],
    regions: &["EMEA", "NA", "LATAM", "APAC"],
    weight: 1,
    capacity: None,
    daily_cap: None,
    status: "available",
    hours: None,
    pools: Membership {
        emea: false,
        enterprise: false,
        inbound: false,
    },
};

/// Which profile index links to the agent-role user: the first available,
/// always-on generalist in [`AGENT_PROFILES`] (index 0).
const LINKED_PROFILE: usize = 0;

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
        let agent = services
            .routing
            .create_agent(&operator, AgentChange::parse(input, true)?)
            .await?;
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
    let emea = create_pool(
        services,
        &operator,
        "EMEA",
        "round_robin",
        members(|m| m.emea),
    )
    .await?;
    let enterprise = create_pool(
        services,
        &operator,
        "Enterprise",
        "weighted",
        members(|m| m.enterprise),
    )
    .await?;
    let inbound = create_pool(
        services,
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
        let change = RuleChange::parse(
            Some(name.to_owned()),
            Some(priority),
            Some(vec![cond]),
            Some(pool.id.to_string()),
            Some(skills),
            true,
        )?;
        services.routing.create_rule(&operator, change).await?;
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
        let routed = services.routing.ingest(&operator, lead).await?;
        work_the_queue(services, &manager, &mut rng, routed).await?;
    }

    let leads_by_status = count_leads(services, &manager).await?;
    let proposals_by_status = count_proposals(services, &manager).await?;
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

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// `Élodie Martin` → `elodie.martin` (ASCII letters and dots only).
fn slug(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'é' | 'è' | 'ê' | 'É' => Some('e'),
            'í' => Some('i'),
            'á' => Some('a'),
            ' ' => Some('.'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

fn condition(field: &str, op: &str, value: Value) -> RawCondition {
    RawCondition {
        field: field.to_owned(),
        op: op.to_owned(),
        value,
    }
}

async fn create_pool(
    services: &Services,
    actor: &Actor,
    name: &str,
    method: &str,
    members: Vec<String>,
) -> Result<Pool, SeedError> {
    let change = PoolChange::parse(
        Some(name.to_owned()),
        Some(method.to_owned()),
        Some(members),
        true,
    )?;
    Ok(services.routing.create_pool(actor, change).await?)
}

/// What a manager does with a lead that was just routed: approve about half
/// of the pending proposals, reject about one in eight (the engine proposes
/// the next candidate or leaves the lead unrouted), leave the rest pending;
/// then move some assigned leads on to contacted, won or lost.
async fn work_the_queue(
    services: &Services,
    manager: &Actor,
    rng: &mut Lcg,
    routed: Routed,
) -> Result<(), SeedError> {
    let lead_id = routed.lead.id.clone();
    let mut status = routed.lead.status;
    if let Some(proposal) = routed
        .proposal
        .filter(|p| p.status == ProposalStatus::Pending)
    {
        match rng.below(100) {
            0..50 => {
                let done = services
                    .routing
                    .approve(manager, &proposal.id, Some("Good fit.".into()))
                    .await?;
                status = done.lead.status;
            }
            50..62 => {
                let (_, next) = services
                    .routing
                    .reject(
                        manager,
                        &proposal.id,
                        Some("Not the right owner for this account.".into()),
                        None,
                    )
                    .await?;
                status = next.lead.status;
            }
            _ => {}
        }
    }
    if status == LeadStatus::Assigned {
        let next = match rng.below(100) {
            0..25 => Some(LeadStatus::Contacted),
            25..37 => Some(LeadStatus::Won),
            37..47 => Some(LeadStatus::Lost),
            _ => None,
        };
        if let Some(next) = next {
            services
                .routing
                .update_lead(
                    manager,
                    &lead_id,
                    LeadContactPatch {
                        status: Some(next),
                        ..LeadContactPatch::default()
                    },
                )
                .await?;
        }
    }
    Ok(())
}

async fn count_leads(
    services: &Services,
    manager: &Actor,
) -> Result<BTreeMap<&'static str, u64>, SeedError> {
    let mut counts = BTreeMap::new();
    for status in LeadStatus::ALL {
        let filter = LeadFilter {
            status: Some(status),
            ..LeadFilter::default()
        };
        let page = services
            .routing
            .list_leads(manager, filter, PageRequest::new(Some(1), None)?)
            .await?;
        counts.insert(status.as_str(), page.total);
    }
    Ok(counts)
}

async fn count_proposals(
    services: &Services,
    manager: &Actor,
) -> Result<BTreeMap<&'static str, u64>, SeedError> {
    let mut counts = BTreeMap::new();
    for status in SUMMARY_PROPOSAL_STATUSES {
        let filter = routing::ports::ProposalFilter {
            status: Some(status),
            ..Default::default()
        };
        let page = services
            .routing
            .list_proposals(manager, &filter, PageRequest::new(Some(1), None)?)
            .await?;
        counts.insert(status.as_str(), page.total);
    }
    Ok(counts)
}

const FIRST_NAMES: [&str; 16] = [
    "Ann", "Bruno", "Chloé", "Dmitri", "Emma", "Farid", "Gabriela", "Hugo", "Ines", "Jonas",
    "Keiko", "Liam", "Maya", "Nadia", "Omar", "Priya",
];
const LAST_NAMES: [&str; 12] = [
    "Lee", "Moreau", "Schmidt", "Rossi", "Nguyen", "Silva", "Kowalski", "Haddad", "Dupont",
    "Okafor", "Sato", "Johnson",
];
/// `((country, region), relative weight)`: France and Belgium are common, so
/// the EMEA rule fires often.
const COUNTRIES: [((&str, &str), u32); 12] = [
    (("FR", "EMEA"), 18),
    (("BE", "EMEA"), 8),
    (("DE", "EMEA"), 8),
    (("GB", "EMEA"), 8),
    (("ES", "EMEA"), 5),
    (("US", "NA"), 20),
    (("CA", "NA"), 7),
    (("MX", "LATAM"), 6),
    (("BR", "LATAM"), 6),
    (("JP", "APAC"), 5),
    (("AU", "APAC"), 5),
    (("IN", "APAC"), 4),
];
/// `(source, relative weight)`.
const SOURCES: [(&str, u32); 6] = [
    ("web", 35),
    ("ads", 20),
    ("event", 12),
    ("partner", 13),
    ("referral", 10),
    ("webinar", 10),
];
/// `(company, e-mail domain)`: few enough that domains repeat (sticky routing).
const COMPANIES: [(&str, &str); 20] = [
    ("Northwind Traders", "northwind.example"),
    ("Contoso", "contoso.example"),
    ("Fabrikam", "fabrikam.example"),
    ("Tailspin Toys", "tailspin.example"),
    ("Wide World Importers", "wideworld.example"),
    ("Adventure Works", "adventure-works.example"),
    ("Litware", "litware.example"),
    ("Proseware", "proseware.example"),
    ("Lucerne Publishing", "lucerne.example"),
    ("Margie's Travel", "margiestravel.example"),
    ("Blue Yonder Airlines", "blueyonder.example"),
    ("Coho Winery", "cohowinery.example"),
    ("Alpine Ski House", "alpineskihouse.example"),
    ("Trey Research", "treyresearch.example"),
    ("Woodgrove Bank", "woodgrove.example"),
    ("Humongous Insurance", "humongous.example"),
    ("Graphic Design Institute", "graphicdesign.example"),
    ("School of Fine Art", "fineartschool.example"),
    ("Southridge Video", "southridge.example"),
    ("Datum Corporation", "adatum.example"),
];
const PRODUCTS: [&str; 4] = ["starter", "pro", "business", "enterprise"];

/// The `n`-th demo lead of an organization.
fn demo_lead(rng: &mut Lcg, org_name: &str, n: u32) -> Result<NewLead, ValidationErrors> {
    let first = rng.pick(&FIRST_NAMES);
    let last = rng.pick(&LAST_NAMES);
    let &(country, region) = rng.weighted(&COUNTRIES);
    let source = rng.weighted(&SOURCES);
    let (company, domain) = rng.pick(&COMPANIES);
    // Scores lean low, with a tail of hot leads above 80.
    let score = (rng.below(70) + rng.below(41)).min(100);
    let mut fields = Map::new();
    fields.insert("product".into(), json!(rng.pick(&PRODUCTS)));
    fields.insert("seats".into(), json!(5 + rng.below(200)));
    NewLead::parse(NewLeadInput {
        external_id: Some(format!("{org_name}-{n:05}")),
        name: format!("{first} {last}"),
        email: Some(format!("{}.{}@{domain}", slug(first), slug(last))),
        phone: Some(format!("+1 555 {:04}", rng.below(10_000))),
        company: Some((*company).to_owned()),
        source: Some((*source).to_owned()),
        region: Some(region.to_owned()),
        country: Some(country.to_owned()),
        score: Some(i64::from(score)),
        fields: Some(fields),
    })
}

/// A linear congruential generator (Knuth's MMIX constants): deterministic,
/// tiny, and plenty for demo data. Not for anything secret.
#[derive(Clone, Debug)]
struct Lcg(u64);

impl Lcg {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        // The high bits of an LCG are the random ones.
        (self.0 >> 33) as u32
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u32) -> u32 {
        self.next_u32() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u32) as usize]
    }

    /// An item with probability proportional to its weight.
    fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut roll = self.below(total);
        for (item, w) in items {
            if roll < *w {
                return item;
            }
            roll -= w;
        }
        &items[items.len() - 1].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic_and_spreads() {
        let mut a = Lcg::new(7);
        let mut b = Lcg::new(7);
        let xs: Vec<u32> = (0..100).map(|_| a.below(10)).collect();
        let ys: Vec<u32> = (0..100).map(|_| b.below(10)).collect();
        assert_eq!(xs, ys);
        for digit in 0..10 {
            assert!(xs.contains(&digit), "{digit} never drawn");
        }
    }

    #[test]
    fn every_demo_lead_is_valid() {
        let mut rng = Lcg::new(1);
        for n in 0..500 {
            assert!(demo_lead(&mut rng, "acme-demo", n).is_ok());
        }
    }

    #[test]
    fn agent_emails_are_ascii() {
        for spec in &ORG_SPECS {
            for name in spec.agent_names {
                let address = format!("{}@{}", slug(name), spec.domain);
                assert!(Email::parse(&address).is_ok(), "{address}");
                assert!(address.is_ascii(), "{address}");
            }
        }
    }

    #[test]
    fn the_login_line_quotes_the_password_for_the_shell() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
