//! The sentence a `format: "slack"` endpoint receives as `{"text": ...}`:
//! a Slack incoming webhook shows it as a message, with no code on the
//! customer's side.

use events::Event;

/// The names an event's ids stand for, looked up by the sender when it
/// renders a sentence (an id stays an id when its object is gone).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    /// The lead's name.
    pub lead: Option<String>,
    /// The lead's company.
    pub company: Option<String>,
    /// The agent of `data.agentId`.
    pub agent: Option<String>,
    /// The agent of `data.fromAgentId`.
    pub from_agent: Option<String>,
    /// The rule of `data.ruleId`.
    pub rule: Option<String>,
    /// The pool of `data.poolId`.
    pub pool: Option<String>,
}

fn data<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    event.data.get(key).and_then(|v| v.as_str())
}

/// The readable sentence of `event`: "Lead Jane Doe (Acme) proposed to
/// Olivia Carter by rule EMEA → pool Inbound".
pub fn slack_text(event: &Event, names: &Names) -> String {
    let id_or = |name: &Option<String>, key: &str| {
        name.clone()
            .or_else(|| data(event, key).map(str::to_owned))
            .unwrap_or_else(|| "someone".to_owned())
    };
    let lead = {
        let name = names
            .lead
            .clone()
            .or_else(|| event.lead_id.clone())
            .unwrap_or_else(|| event.subject.id.clone());
        match &names.company {
            Some(c) => format!("Lead {name} ({c})"),
            None => format!("Lead {name}"),
        }
    };
    let agent = id_or(&names.agent, "agentId");
    let route = match (&names.rule, &names.pool) {
        (Some(rule), Some(pool)) => format!(" by rule {rule} → pool {pool}"),
        (None, Some(pool)) => format!(" from pool {pool}"),
        (Some(rule), None) => format!(" by rule {rule}"),
        (None, None) => String::new(),
    };
    let note = data(event, "note")
        .map(|n| format!(": \"{n}\""))
        .unwrap_or_default();
    match event.kind.as_str() {
        "lead.created" => format!("{lead} arrived"),
        "lead.routed" => format!("{lead} proposed to {agent}{route}"),
        "lead.assigned" => format!("{lead} assigned to {agent}{route}"),
        "lead.unrouted" => format!(
            "{lead} could not be routed: {}",
            data(event, "reason").unwrap_or("no agent could take it")
        ),
        "lead.reassigned" => format!("{lead} reassigned to {agent} by hand{note}"),
        "lead.accepted" => format!("{lead} accepted by {agent}"),
        "lead.declined" => format!("{lead} declined by {agent}{note}"),
        "lead.rerouted" => format!(
            "{lead} routed again ({}), away from {}",
            data(event, "cause").unwrap_or("manager").replace('_', " "),
            id_or(&names.from_agent, "fromAgentId")
        ),
        "lead.sla_breached" => format!(
            "{lead} breached its SLA and is unrouted: {}",
            data(event, "reason").unwrap_or("nobody was left")
        ),
        "lead.status_changed" => format!(
            "{lead} moved from {} to {}",
            data(event, "from").unwrap_or("?"),
            data(event, "to").unwrap_or("?")
        ),
        "proposal.approved" => format!("Proposal of {agent} approved{note}"),
        "proposal.rejected" => format!("Proposal of {agent} rejected{note}"),
        "proposal.expired" => format!("Proposal of {agent} expired: nobody reviewed it in time"),
        crate::TEST_EVENT => "Lead Routing test delivery: this endpoint works.".to_owned(),
        other => format!("{other}: {} {}", event.subject.kind, event.subject.id),
    }
}
