//! After the first proposal: SLA timers that route a lead again (never back
//! to someone who had it), agents accepting and declining, managers
//! assigning and re-routing by hand, and a leaving agent's leads moving on.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, expect_error, expect_invalid_field, spawn_app};

struct Org {
    app: TestApp,
    admin: Session,
    org_id: String,
}

impl Org {
    async fn new() -> Self {
        let app = spawn_app().await;
        let (org, admin) = app.org_with_admin("acme").await;
        let org_id = org["id"].as_str().unwrap().to_owned();
        Self { app, admin, org_id }
    }

    async fn call(
        &self,
        who: &Session,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        crate::helpers::call(&self.app, who, method, path, body).await
    }

    async fn ok(&self, who: &Session, method: Method, path: &str, body: Option<Value>) -> Value {
        crate::helpers::ok(&self.app, who, method, path, body).await
    }

    async fn settings(&self, settings: Value) {
        let path = format!("/organizations/{}", self.org_id);
        self.ok(
            &self.admin,
            Method::PUT,
            &path,
            Some(json!({"settings": settings})),
        )
        .await;
    }

    /// An agent record, linked to a new agent-role user when `user` is set.
    async fn agent(&self, name: &str, user: bool) -> (String, Option<Session>) {
        let mut body = json!({"name": name, "email": format!("{name}@acme.test")});
        let session = if user {
            let s = self.app.add_user(&self.admin, name, "agent").await;
            body["userId"] = s.user["id"].clone();
            Some(s)
        } else {
            None
        };
        let agent = self
            .ok(&self.admin, Method::POST, "/agents", Some(body))
            .await;
        (agent["data"]["id"].as_str().unwrap().to_owned(), session)
    }

    /// A round-robin pool of `members` that every lead goes to.
    async fn pool(&self, members: &[&str]) {
        let pool = self
            .ok(
                &self.admin,
                Method::POST,
                "/routing/pools",
                Some(json!({"name": "all", "method": "round_robin", "memberIds": members})),
            )
            .await;
        self.settings(json!({"defaultPoolId": pool["data"]["id"]}))
            .await;
    }

    async fn lead(&self, name: &str) -> Value {
        self.ok(
            &self.admin,
            Method::POST,
            "/leads",
            Some(json!({"name": name})),
        )
        .await["data"]
            .clone()
    }

    async fn get_lead(&self, id: &str) -> Value {
        self.ok(&self.admin, Method::GET, &format!("/leads/{id}"), None)
            .await["data"]
            .clone()
    }

    /// The lead once `done` holds of it (the scheduler works in the
    /// background); fails after 20 s.
    async fn wait_for(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let lead = self.get_lead(id).await;
            if done(&lead) {
                return lead;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the lead never got there: {lead}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn timeline(&self, id: &str) -> Vec<Value> {
        self.ok(
            &self.admin,
            Method::GET,
            &format!("/leads/{id}/timeline"),
            None,
        )
        .await["data"]
            .as_array()
            .unwrap()
            .clone()
    }
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

fn id(v: &Value) -> String {
    v.as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_lead_nobody_reviews_walks_through_every_agent_once_then_breaches_its_sla() {
    let org = Org::new().await;
    let mut agents = Vec::new();
    for name in ["ann", "bob", "cyd"] {
        agents.push(org.agent(name, false).await.0);
    }
    let refs: Vec<&str> = agents.iter().map(String::as_str).collect();
    org.pool(&refs).await;
    org.settings(json!({"reviewSlaSeconds": 1})).await;

    let routed = org.lead("Jane").await;
    assert_eq!(routed["lead"]["status"], "proposed");
    let lead = id(&routed["lead"]["id"]);
    let end = org
        .wait_for(&lead, |l| l["lead"]["status"] == "unrouted")
        .await;
    assert!(end["proposal"]["status"] == "expired", "{end}");

    let events = org.timeline(&lead).await;
    let proposed: Vec<String> = of_type(&events, "proposal.created")
        .iter()
        .map(|e| id(&e["data"]["agentId"]))
        .collect();
    let mut distinct = proposed.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(proposed.len(), 3, "one proposal per agent: {proposed:?}");
    assert_eq!(
        distinct.len(),
        3,
        "never the same agent twice: {proposed:?}"
    );
    let expired = of_type(&events, "proposal.expired");
    assert_eq!(expired.len(), 3);
    assert!(expired.iter().all(|e| e["actor"]["type"] == "system"));
    let rerouted = of_type(&events, "lead.rerouted");
    assert_eq!(rerouted.len(), 3);
    assert!(rerouted.iter().all(|e| e["data"]["cause"] == "review_sla"));
    let breached = of_type(&events, "lead.sla_breached");
    assert_eq!(breached.len(), 1, "{events:?}");
    assert_eq!(breached[0]["data"]["cause"], "review_sla");
    assert_eq!(
        breached[0]["data"]["triedAgentIds"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(events.last().unwrap()["type"], "lead.sla_breached");

    let proposals = org
        .ok(
            &org.admin,
            Method::GET,
            &format!("/manager/proposals?leadId={lead}"),
            None,
        )
        .await;
    let statuses: Vec<&str> = proposals["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["expired", "expired", "expired"]);
    org.app.assert_counters_match_rows().await;
}

#[tokio::test]
async fn max_reroutes_bounds_the_chain_and_a_reviewed_proposal_never_expires() {
    let org = Org::new().await;
    let mut agents = Vec::new();
    for name in ["ann", "bob", "cyd"] {
        agents.push(org.agent(name, false).await.0);
    }
    let refs: Vec<&str> = agents.iter().map(String::as_str).collect();
    org.pool(&refs).await;
    org.settings(json!({"reviewSlaSeconds": 1, "maxReroutes": 1}))
        .await;

    let chained = org.lead("Chained").await;
    let reviewed = org.lead("Reviewed").await;
    let reviewed_proposal = id(&reviewed["proposal"]["id"]);
    org.ok(
        &org.admin,
        Method::POST,
        &format!("/manager/proposals/{reviewed_proposal}/approve"),
        None,
    )
    .await;

    let lead = id(&chained["lead"]["id"]);
    let end = org
        .wait_for(&lead, |l| l["lead"]["status"] == "unrouted")
        .await;
    assert!(
        end["lead"]["unroutedReason"]
            .as_str()
            .unwrap()
            .contains("maxReroutes"),
        "{end}"
    );
    let events = org.timeline(&lead).await;
    assert_eq!(
        of_type(&events, "proposal.created").len(),
        2,
        "first + one re-route"
    );

    // Approved before its deadline: still assigned well after it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let still = org.get_lead(&id(&reviewed["lead"]["id"])).await;
    assert_eq!(still["lead"]["status"], "assigned");
    assert_eq!(still["proposal"]["status"], "approved");
    org.app.assert_counters_match_rows().await;
}

#[tokio::test]
async fn the_assigned_agent_accepts_or_declines_and_nobody_else_may() {
    let org = Org::new().await;
    let (ann, ann_user) = org.agent("ann", true).await;
    let (bob, bob_user) = org.agent("bob", true).await;
    let (ann_user, bob_user) = (ann_user.unwrap(), bob_user.unwrap());
    org.pool(&[&ann, &bob]).await;
    org.settings(json!({"allowAutoRouting": true})).await;
    let manager = org.app.add_user(&org.admin, "manny", "manager").await;

    let first = org.lead("First").await;
    let (lead, holder) = (
        id(&first["lead"]["id"]),
        id(&first["lead"]["assignedAgentId"]),
    );
    let (mine, other) = if holder == ann {
        (&ann_user, &bob_user)
    } else {
        (&bob_user, &ann_user)
    };
    let accept = format!("/leads/{lead}/accept");
    // Someone else's lead is not found; a manager does not accept for a rep.
    expect_error(
        org.call(other, Method::POST, &accept, None).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    expect_error(
        org.call(&manager, Method::POST, &accept, None).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    let accepted = org.ok(mine, Method::POST, &accept, None).await;
    assert_eq!(accepted["data"]["status"], "accepted");
    let again = org.ok(mine, Method::POST, &accept, None).await;
    assert_eq!(
        again["data"]["status"], "accepted",
        "accepting twice is harmless"
    );

    // Declining sends the lead to the other agent at once.
    let declined = org
        .ok(
            mine,
            Method::POST,
            &format!("/leads/{lead}/decline"),
            Some(json!({"note": "not my territory"})),
        )
        .await;
    let now_with = id(&declined["data"]["lead"]["assignedAgentId"]);
    assert_ne!(now_with, holder);
    assert_eq!(declined["data"]["lead"]["status"], "assigned");
    let events = org.timeline(&lead).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(
        kinds.ends_with(&[
            "lead.declined",
            "lead.rerouted",
            "proposal.created",
            "lead.assigned"
        ]),
        "{kinds:?}"
    );
    assert_eq!(
        of_type(&events, "lead.declined")[0]["data"]["note"],
        "not my territory"
    );
    assert_eq!(
        of_type(&events, "lead.rerouted")[0]["data"]["cause"],
        "declined"
    );
    // The agent who declined no longer sees it.
    expect_error(
        org.call(mine, Method::GET, &format!("/leads/{lead}"), None)
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;

    // The second agent declines too: nobody is left.
    let last = org
        .ok(other, Method::POST, &format!("/leads/{lead}/decline"), None)
        .await;
    assert_eq!(last["data"]["lead"]["status"], "unrouted");
    assert!(last["data"]["proposal"].is_null());

    // A contacted lead cannot be declined.
    let second = org.lead("Second").await;
    let lead2 = id(&second["lead"]["id"]);
    let holder2 = id(&second["lead"]["assignedAgentId"]);
    let who = if holder2 == ann { &ann_user } else { &bob_user };
    org.ok(
        who,
        Method::PUT,
        &format!("/leads/{lead2}"),
        Some(json!({"status": "contacted"})),
    )
    .await;
    expect_error(
        org.call(who, Method::POST, &format!("/leads/{lead2}/decline"), None)
            .await,
        StatusCode::CONFLICT,
        "INVALID_STATUS_TRANSITION",
    )
    .await;
    org.app.assert_counters_match_rows().await;
}

#[tokio::test]
async fn an_unaccepted_lead_moves_on_and_an_accepted_one_stays() {
    let org = Org::new().await;
    let (ann, ann_user) = org.agent("ann", true).await;
    let (bob, bob_user) = org.agent("bob", true).await;
    org.pool(&[&ann, &bob]).await;
    org.settings(json!({"allowAutoRouting": true, "acceptSlaSeconds": 1}))
        .await;

    let routed = org.lead("Slow").await;
    let lead = id(&routed["lead"]["id"]);
    let first = id(&routed["lead"]["assignedAgentId"]);
    let moved = org
        .wait_for(&lead, |l| {
            l["lead"]["assignedAgentId"]
                .as_str()
                .is_some_and(|a| a != first)
        })
        .await;
    assert_eq!(moved["lead"]["status"], "assigned");
    let second = id(&moved["lead"]["assignedAgentId"]);
    let who = if second == ann {
        ann_user.unwrap()
    } else {
        bob_user.unwrap()
    };
    org.ok(&who, Method::POST, &format!("/leads/{lead}/accept"), None)
        .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let kept = org.get_lead(&lead).await;
    assert_eq!(kept["lead"]["status"], "accepted");
    assert_eq!(id(&kept["lead"]["assignedAgentId"]), second);
    let events = org.timeline(&lead).await;
    let rerouted = of_type(&events, "lead.rerouted");
    assert_eq!(rerouted.len(), 1);
    assert_eq!(rerouted[0]["data"]["cause"], "accept_sla");
    assert_eq!(id(&rerouted[0]["data"]["fromAgentId"]), first);
    org.app.assert_counters_match_rows().await;
}

#[tokio::test]
async fn managers_assign_and_reroute_by_hand() {
    let org = Org::new().await;
    let (ann, _) = org.agent("ann", false).await;
    let (bob, _) = org.agent("bob", false).await;
    let (cyd, _) = org.agent("cyd", false).await;
    org.pool(&[&ann, &bob]).await;
    let manager = org.app.add_user(&org.admin, "manny", "manager").await;
    let rep = org.app.add_user(&org.admin, "rep", "agent").await;
    // Cyd is away: an assignment still stands, with a warning.
    org.ok(
        &org.admin,
        Method::PUT,
        &format!("/agents/{cyd}"),
        Some(json!({"status": "away"})),
    )
    .await;

    let routed = org.lead("Hand").await;
    let lead = id(&routed["lead"]["id"]);
    let pending = id(&routed["proposal"]["id"]);
    let assign = format!("/leads/{lead}/assign");
    expect_error(
        org.call(&rep, Method::POST, &assign, Some(json!({"agentId": cyd})))
            .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    let other = Org::new().await;
    let (foreign, _) = other.agent("zed", false).await;
    for bad in [json!({"agentId": foreign}), json!({"agentId": "agt_nope"})] {
        expect_invalid_field(
            org.call(&manager, Method::POST, &assign, Some(bad)).await,
            "agentId",
        )
        .await;
    }
    expect_invalid_field(
        org.call(&manager, Method::POST, &assign, Some(json!({})))
            .await,
        "agentId",
    )
    .await;
    let assigned = org
        .ok(
            &manager,
            Method::POST,
            &assign,
            Some(json!({"agentId": cyd, "note": "she knows them"})),
        )
        .await;
    assert_eq!(assigned["data"]["lead"]["status"], "assigned");
    assert_eq!(id(&assigned["data"]["lead"]["assignedAgentId"]), cyd);
    assert_eq!(assigned["data"]["proposal"]["method"], "manual");
    assert_eq!(assigned["data"]["proposal"]["note"], "she knows them");
    assert_eq!(assigned["data"]["warnings"], json!(["the agent is away"]));
    let superseded = org
        .ok(
            &manager,
            Method::GET,
            &format!("/manager/proposals/{pending}"),
            None,
        )
        .await;
    assert_eq!(superseded["data"]["status"], "superseded");
    expect_error(
        org.call(
            &manager,
            Method::POST,
            &assign,
            Some(json!({"agentId": cyd})),
        )
        .await,
        StatusCode::CONFLICT,
        "INVALID_STATUS_TRANSITION",
    )
    .await;

    // Re-routing never goes back to anyone who had the lead: the first
    // proposed agent and Cyd had it, so the other pool member gets it.
    let first = id(&routed["proposal"]["agentId"]);
    let again = org
        .ok(
            &manager,
            Method::POST,
            &format!("/leads/{lead}/reroute"),
            None,
        )
        .await;
    let to = id(&again["data"]["proposal"]["agentId"]);
    assert!(to != first && to != cyd, "{again}");
    // And once more: nobody is left.
    let none = org
        .ok(
            &manager,
            Method::POST,
            &format!("/leads/{lead}/reroute"),
            Some(json!({"note": "try again"})),
        )
        .await;
    assert_eq!(none["data"]["lead"]["status"], "unrouted");
    // An unrouted lead can be assigned by hand.
    let rescued = org
        .ok(
            &manager,
            Method::POST,
            &assign,
            Some(json!({"agentId": ann})),
        )
        .await;
    assert_eq!(rescued["data"]["lead"]["status"], "assigned");
    assert_eq!(rescued["data"]["warnings"], json!([]));

    // A worked lead stays with its agent.
    org.ok(
        &manager,
        Method::PUT,
        &format!("/leads/{lead}"),
        Some(json!({"status": "contacted"})),
    )
    .await;
    for (path, body) in [
        (format!("/leads/{lead}/reroute"), json!({})),
        (assign.clone(), json!({"agentId": bob})),
    ] {
        expect_error(
            org.call(&manager, Method::POST, &path, Some(body)).await,
            StatusCode::CONFLICT,
            "INVALID_STATUS_TRANSITION",
        )
        .await;
    }
    let events = org.timeline(&lead).await;
    assert_eq!(
        of_type(&events, "proposal.superseded").len(),
        2,
        "{events:?}"
    );
    assert_eq!(of_type(&events, "lead.reassigned").len(), 2);
    assert!(
        of_type(&events, "lead.rerouted")
            .iter()
            .all(|e| e["data"]["cause"] == "manager")
    );
    // Another organization's lead is not found.
    expect_error(
        other
            .call(
                &other.admin,
                Method::POST,
                &format!("/leads/{lead}/reroute"),
                None,
            )
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    org.app.assert_counters_match_rows().await;
}

#[tokio::test]
async fn a_leaving_agent_s_open_leads_are_routed_again() {
    let org = Org::new().await;
    let (ann, _) = org.agent("ann", false).await;
    let (bob, _) = org.agent("bob", false).await;
    org.pool(&[&ann, &bob]).await;
    org.settings(json!({"allowAutoRouting": true})).await;
    let mut anns = Vec::new();
    for n in 0..4 {
        let routed = org.lead(&format!("Lead {n}")).await;
        if routed["lead"]["assignedAgentId"] == ann.as_str() {
            anns.push(id(&routed["lead"]["id"]));
        }
    }
    assert_eq!(anns.len(), 2, "round robin");
    // One of Ann's leads is being worked: it moves too, she is leaving.
    org.ok(
        &org.admin,
        Method::PUT,
        &format!("/leads/{}", anns[0]),
        Some(json!({"status": "contacted"})),
    )
    .await;
    let gone = org
        .ok(
            &org.admin,
            Method::DELETE,
            &format!("/agents/{ann}?reroute=true"),
            None,
        )
        .await;
    assert_eq!(
        gone["message"],
        "Agent deactivated; 2 open leads routed again"
    );
    for lead in &anns {
        let now = org.get_lead(lead).await;
        assert_eq!(now["lead"]["status"], "assigned");
        assert_eq!(id(&now["lead"]["assignedAgentId"]), bob);
        let events = org.timeline(lead).await;
        let rerouted = of_type(&events, "lead.rerouted");
        assert_eq!(rerouted.len(), 1);
        assert_eq!(rerouted[0]["data"]["cause"], "agent_left");
    }
    // Bob's leads, moved by hand: nobody else is left.
    let moved = org
        .ok(
            &org.admin,
            Method::POST,
            &format!("/agents/{bob}/reroute-open-leads"),
            None,
        )
        .await;
    assert_eq!(moved["data"]["rerouted"], 4);
    assert!(
        moved["data"]["leads"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["lead"]["status"] == "unrouted")
    );
    let other = Org::new().await;
    expect_error(
        other
            .call(
                &other.admin,
                Method::POST,
                &format!("/agents/{bob}/reroute-open-leads"),
                None,
            )
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    org.app.assert_counters_match_rows().await;
}

#[tokio::test]
async fn sla_settings_are_validated() {
    let org = Org::new().await;
    let path = format!("/organizations/{}", org.org_id);
    for (key, bad) in [
        ("reviewSlaSeconds", json!(0)),
        ("reviewSlaSeconds", json!(2_592_001)),
        ("acceptSlaSeconds", json!("60")),
        ("maxReroutes", json!(-1)),
    ] {
        expect_invalid_field(
            org.call(
                &org.admin,
                Method::PUT,
                &path,
                Some(json!({"settings": {key: bad}})),
            )
            .await,
            &format!("settings.{key}"),
        )
        .await;
    }
}
