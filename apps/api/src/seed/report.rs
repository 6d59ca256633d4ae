//! What `seed --demo` reports: the leads and proposals by status, and how to
//! sign in to what was created.

use std::{collections::BTreeMap, fmt::Write as _};

use auth::Password;
use lead::LeadStatus;
use proposal::ProposalStatus;
use serde_json::json;
use tenancy::{OrgId, Role};

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

/// What [`crate::seed::seed_demo`] created.
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
pub(super) const SUMMARY_PROPOSAL_STATUSES: [ProposalStatus; 3] = [
    ProposalStatus::Pending,
    ProposalStatus::Approved,
    ProposalStatus::Rejected,
];

impl DemoReport {
    /// The summary table and the sign-in instructions, for a server at
    /// `base_url` (`http://127.0.0.1:3000`) started with `serve_command`
    /// (`cargo run --release`).
    pub fn render(&self, base_url: &str, serve_command: &str, password: &Password) -> String {
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
            "\nStart the server on this database with `{serve_command}`, then sign in to the \
             admin console at {base_url}/admin/."
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
                "then call the API with `Authorization: Bearer <tokens.accessToken>` \
             (the `accessToken` inside `tokens` of that answer)."
            );
        }
        out
    }
}

/// Quotes `s` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_line_quotes_the_password_for_the_shell() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
