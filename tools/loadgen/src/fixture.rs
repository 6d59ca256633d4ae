//! Organizations ready to route, written through the repositories (no HTTP).

use organization::{NewOrganization, OrgName, OrganizationRepository, Settings, Tier};
use routing::{
    AgentChange, AgentInput, Pool, PoolId, PoolMethod,
    ports::{AgentRepository, PoolRepository},
};
use serde_json::json;
use storage::{
    Database, SeaOrmAgentRepository, SeaOrmOrganizationRepository, SeaOrmPoolRepository,
};
use tenancy::OrgId;

use crate::Error;

/// Creates organization `name` with `agents` available agents and a
/// round-robin pool over them that its `settings.defaultPoolId` names: what
/// `loadgen http --setup` builds through the API.
///
/// # Errors
/// Any storage or validation failure.
pub async fn routed_org(db: &Database, name: &str, agents: usize) -> Result<OrgId, Error> {
    let now = tenancy::now();
    let pool_id = PoolId::generate();
    let org = NewOrganization {
        name: OrgName::parse(name).map_err(|e| format!("organization name {name}: {e}"))?,
        display_name: None,
        email: None,
        phone: None,
        tier: Tier::default(),
        monday_workspace_id: None,
        settings: Settings::parse(json!({"defaultPoolId": pool_id.as_str()}))?,
    }
    .into_organization("loadgen".into(), now);
    let scope = crate::tenant::operator_scope(&org.id)?;
    SeaOrmOrganizationRepository::new(db.clone())
        .insert(&scope, &org)
        .await?;
    let agent_repo = SeaOrmAgentRepository::new(db.clone());
    let mut member_ids = Vec::with_capacity(agents);
    for i in 0..agents {
        let agent = AgentChange::parse(
            AgentInput {
                name: Some(format!("Agent {i}")),
                email: Some(format!("agent{i}@{name}.test")),
                ..AgentInput::default()
            },
            true,
        )?
        .into_agent(org.id.clone(), now)?;
        agent_repo.insert(&scope, &agent).await?;
        member_ids.push(agent.id);
    }
    let pool = Pool {
        id: pool_id,
        org_id: org.id.clone(),
        name: "main".into(),
        method: PoolMethod::RoundRobin,
        member_ids,
        created_at: now,
        updated_at: now,
    };
    SeaOrmPoolRepository::new(db.clone())
        .insert(&scope, &pool)
        .await?;
    Ok(org.id)
}
