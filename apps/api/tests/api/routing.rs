//! Agents, pools, rules, leads and the review of proposals, end to end.

use std::collections::HashMap;

use futures::{StreamExt, stream};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    Session, TestApp, expect_error, expect_invalid_field, expect_status, spawn_app,
};

/// A manager's view of one organization, with typed helpers.
struct Org<'a> {
    app: &'a TestApp,
    admin: Session,
}

impl<'a> Org<'a> {
    async fn new(app: &'a TestApp, name: &str) -> (Org<'a>, Value) {
        let (org, admin) = app.org_with_admin(name).await;
        (Org { app, admin }, org)
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app.as_user(&self.admin.access_token, method, path)
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let req = self.req(method, path);
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        req.send().await.unwrap()
    }

    async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: StatusCode,
    ) -> Value {
        expect_status(self.send(method, path, body).await, status).await
    }

    async fn agent(&self, name: &str, extra: Value) -> String {
        let mut body =
            json!({"name": name, "email": format!("{}@agents.test", name.to_lowercase())});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.ok(Method::POST, "/agents", Some(body), StatusCode::CREATED)
            .await["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn pool(&self, name: &str, method: &str, members: &[String]) -> String {
        let body = json!({"name": name, "method": method, "memberIds": members});
        self.ok(
            Method::POST,
            "/routing/pools",
            Some(body),
            StatusCode::CREATED,
        )
        .await["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn rule(&self, name: &str, priority: i64, conditions: Value, pool: &str) -> String {
        let body =
            json!({"name": name, "priority": priority, "conditions": conditions, "poolId": pool});
        self.ok(
            Method::POST,
            "/routing/rules",
            Some(body),
            StatusCode::CREATED,
        )
        .await["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn settings(&self, settings: Value) {
        let org_id = self.admin.user["orgId"].as_str().unwrap().to_owned();
        self.ok(
            Method::PUT,
            &format!("/organizations/{org_id}"),
            Some(json!({"settings": settings})),
            StatusCode::OK,
        )
        .await;
    }

    async fn lead(&self, body: Value) -> Value {
        self.ok(Method::POST, "/leads", Some(body), StatusCode::CREATED)
            .await["data"]
            .clone()
    }
}

#[tokio::test]
async fn a_lead_is_proposed_by_rule_and_pool_and_approved_with_its_trace() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    let ann = org.agent("Ann", json!({"skills": ["French"]})).await;
    let bob = org.agent("Bob", json!({"status": "away"})).await;
    let cat = org.agent("Cat", json!({})).await;
    let pool = org
        .pool(
            "EMEA",
            "round_robin",
            &[ann.clone(), bob.clone(), cat.clone()],
        )
        .await;
    let rule = org
        .rule(
            "France",
            10,
            json!([{"field": "country", "op": "eq", "value": "FR"}]),
            &pool,
        )
        .await;

    let routed = org
        .lead(json!({"name": "Jane Doe", "email": "jane@globex.com", "country": "FR", "score": 80}))
        .await;
    let lead = &routed["lead"];
    let proposal = &routed["proposal"];
    assert_eq!(lead["status"], "proposed");
    assert_eq!(
        lead["assignedAgentId"],
        Value::Null,
        "not assigned before approval"
    );
    assert_eq!(proposal["status"], "pending");
    assert_eq!(proposal["agentId"], ann);
    assert_eq!(proposal["method"], "round_robin");
    assert_eq!(proposal["poolId"], pool);
    assert_eq!(proposal["ruleId"], rule);
    let trace = proposal["trace"].as_array().unwrap();
    assert_eq!(trace.len(), 3);
    assert_eq!(trace[0]["agentId"], ann);
    assert!(trace[0]["reason"].as_str().unwrap().starts_with("selected"));
    assert_eq!(
        trace[1],
        json!({"agentId": bob, "eligible": false, "reason": "away"})
    );
    assert_eq!(trace[2]["eligible"], true);

    // The review queue shows it, pending first.
    let queue = org
        .ok(
            Method::GET,
            "/manager/proposals?status=pending",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(queue["data"][0]["id"], proposal["id"]);
    let pid = proposal["id"].as_str().unwrap();
    let approved = org
        .ok(
            Method::POST,
            &format!("/manager/proposals/{pid}/approve"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(approved["data"]["lead"]["status"], "assigned");
    assert_eq!(approved["data"]["lead"]["assignedAgentId"], ann);
    assert_eq!(approved["data"]["proposal"]["status"], "approved");
    assert!(
        approved["data"]["proposal"]["decidedBy"]
            .as_str()
            .unwrap()
            .starts_with("user:")
    );
    let again = org
        .send(
            Method::POST,
            &format!("/manager/proposals/{pid}/approve"),
            None,
        )
        .await;
    expect_error(again, StatusCode::CONFLICT, "ALREADY_DECIDED").await;

    // The next lead goes to the next eligible member: Cat (Bob is away).
    let next = org.lead(json!({"name": "Joe", "country": "FR"})).await;
    assert_eq!(next["proposal"]["agentId"], cat);
}

#[tokio::test]
async fn rejection_proposes_the_next_candidate_never_a_rejected_one_then_unrouted() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    let a = org.agent("Ann", json!({})).await;
    let b = org.agent("Bob", json!({})).await;
    let pool = org
        .pool("All", "round_robin", &[a.clone(), b.clone()])
        .await;
    org.settings(json!({"defaultPoolId": pool})).await;

    let routed = org.lead(json!({"name": "Jane"})).await;
    let first = routed["proposal"]["id"].as_str().unwrap().to_owned();
    assert_eq!(routed["proposal"]["agentId"], a);
    let r1 = org
        .ok(
            Method::POST,
            &format!("/manager/proposals/{first}/reject"),
            Some(json!({"note": "wrong fit"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(r1["data"]["rejected"]["status"], "rejected");
    assert_eq!(r1["data"]["rejected"]["note"], "wrong fit");
    assert_eq!(r1["data"]["proposal"]["agentId"], b);
    let second = r1["data"]["proposal"]["id"].as_str().unwrap().to_owned();
    let r2 = org
        .ok(
            Method::POST,
            &format!("/manager/proposals/{second}/reject"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(r2["data"]["proposal"], Value::Null);
    assert_eq!(r2["data"]["lead"]["status"], "unrouted");
    assert!(
        r2["data"]["lead"]["unroutedReason"]
            .as_str()
            .unwrap()
            .contains("eligible"),
        "{}",
        r2
    );
}

#[tokio::test]
async fn rejection_can_reassign_to_a_chosen_agent() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    let a = org.agent("Ann", json!({})).await;
    let c = org.agent("Cat", json!({})).await;
    let pool = org
        .pool("All", "round_robin", std::slice::from_ref(&a))
        .await;
    org.settings(json!({"defaultPoolId": pool})).await;
    let routed = org.lead(json!({"name": "Jane"})).await;
    let pid = routed["proposal"]["id"].as_str().unwrap();
    let bad = org
        .send(
            Method::POST,
            &format!("/manager/proposals/{pid}/reject"),
            Some(json!({"reassignTo": "agt_nobody"})),
        )
        .await;
    expect_invalid_field(bad, "reassignTo").await;
    let r = org
        .ok(
            Method::POST,
            &format!("/manager/proposals/{pid}/reject"),
            Some(json!({"reassignTo": c})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(r["data"]["proposal"]["agentId"], c);
    assert_eq!(r["data"]["proposal"]["status"], "approved");
    assert_eq!(r["data"]["proposal"]["method"], "manual");
    assert_eq!(r["data"]["lead"]["status"], "assigned");
    assert_eq!(r["data"]["lead"]["assignedAgentId"], c);
}

#[tokio::test]
async fn auto_routing_approves_at_once_and_unmatched_leads_are_unrouted_with_a_reason() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    let a = org.agent("Ann", json!({})).await;
    let pool = org
        .pool("FR", "least_loaded", std::slice::from_ref(&a))
        .await;
    org.rule(
        "France",
        1,
        json!([{"field": "country", "op": "eq", "value": "FR"}]),
        &pool,
    )
    .await;
    org.settings(json!({"allowAutoRouting": true})).await;

    let fr = org.lead(json!({"name": "Jean", "country": "FR"})).await;
    assert_eq!(fr["lead"]["status"], "assigned");
    assert_eq!(fr["lead"]["assignedAgentId"], a);
    assert_eq!(fr["proposal"]["status"], "approved");
    assert_eq!(fr["proposal"]["decidedBy"], "system");

    let us = org.lead(json!({"name": "John", "country": "US"})).await;
    assert_eq!(us["lead"]["status"], "unrouted");
    assert_eq!(us["proposal"], Value::Null);
    assert_eq!(
        us["lead"]["unroutedReason"],
        "no rule matched and no default pool is set"
    );
}

#[tokio::test]
async fn the_fallback_agent_takes_what_nobody_else_can() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    let a = org.agent("Ann", json!({"capacity": 0})).await;
    let fb = org.agent("Queue", json!({"status": "paused"})).await;
    let pool = org
        .pool("All", "round_robin", std::slice::from_ref(&a))
        .await;
    org.settings(json!({"defaultPoolId": pool, "fallbackAgentId": fb}))
        .await;
    let routed = org.lead(json!({"name": "Jane"})).await;
    assert_eq!(routed["proposal"]["agentId"], fb);
    assert_eq!(routed["proposal"]["method"], "fallback");
    let trace = routed["proposal"]["trace"].as_array().unwrap();
    assert_eq!(trace[0]["reason"], "at capacity (0/0 open leads)");
}

#[tokio::test]
async fn an_external_id_replay_returns_the_same_lead_and_creates_nothing() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    let a = org.agent("Ann", json!({})).await;
    let pool = org.pool("All", "round_robin", &[a]).await;
    org.settings(json!({"defaultPoolId": pool})).await;
    let body = json!({"externalId": "form-1", "name": "Jane"});
    let first = org
        .ok(
            Method::POST,
            "/leads",
            Some(body.clone()),
            StatusCode::CREATED,
        )
        .await;
    let replay = org
        .ok(Method::POST, "/leads", Some(body), StatusCode::OK)
        .await;
    assert_eq!(first["data"], replay["data"]);
    let leads = org.ok(Method::GET, "/leads", None, StatusCode::OK).await;
    assert_eq!(leads["pagination"]["total"], 1);
    let proposals = org
        .ok(
            Method::GET,
            "/manager/proposals?includeTotal=true",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(proposals["pagination"]["total"], 1);
}

#[tokio::test]
async fn configuration_errors_are_400s_at_write_time() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    let a = org.agent("Ann", json!({})).await;
    let pool = org
        .pool("All", "round_robin", std::slice::from_ref(&a))
        .await;
    let rule = |conditions: Value| json!({"name": "r", "priority": 1, "conditions": conditions, "poolId": pool});
    for (body, field) in [
        (
            rule(json!([{"field": "planet", "op": "eq", "value": "x"}])),
            "conditions[0].field",
        ),
        (
            rule(json!([{"field": "country", "op": "like", "value": "x"}])),
            "conditions[0].op",
        ),
        (
            rule(json!([{"field": "score", "op": "gte", "value": "high"}])),
            "conditions[0].value",
        ),
        (
            rule(json!([{"field": "country", "op": "gte", "value": 3}])),
            "conditions[0].op",
        ),
        (
            json!({"name": "r", "priority": 1, "poolId": "pool_missing"}),
            "poolId",
        ),
        (json!({"name": "r", "poolId": pool}), "priority"),
    ] {
        expect_invalid_field(
            org.send(Method::POST, "/routing/rules", Some(body)).await,
            field,
        )
        .await;
    }
    for (body, field) in [
        (
            json!({"name": "p", "method": "random", "memberIds": []}),
            "method",
        ),
        (
            json!({"name": "p", "method": "weighted", "memberIds": ["agt_ghost"]}),
            "memberIds",
        ),
        (
            json!({"name": "p", "method": "weighted", "memberIds": [a, a]}),
            "memberIds",
        ),
    ] {
        expect_invalid_field(
            org.send(Method::POST, "/routing/pools", Some(body)).await,
            field,
        )
        .await;
    }
    for (body, field) in [
        (
            json!({"name": "X", "email": "x@agents.test", "weight": 0}),
            "weight",
        ),
        (
            json!({"name": "X", "email": "x@agents.test", "status": "asleep"}),
            "status",
        ),
        (
            json!({"name": "X", "email": "x@agents.test", "workingHours": {"timezone": "Mars/Base", "days": ["mon"], "start": "09:00", "end": "17:00"}}),
            "workingHours.timezone",
        ),
        (json!({"email": "x@agents.test"}), "name"),
    ] {
        expect_invalid_field(org.send(Method::POST, "/agents", Some(body)).await, field).await;
    }
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "J", "score": 101}), "score"),
        (json!({"name": "J", "fields": {"a": {"b": 1}}}), "fields.a"),
    ] {
        expect_invalid_field(org.send(Method::POST, "/leads", Some(body)).await, field).await;
    }
    let dup = org
        .send(
            Method::POST,
            "/routing/pools",
            Some(json!({"name": "All", "method": "weighted", "memberIds": []})),
        )
        .await;
    expect_error(dup, StatusCode::CONFLICT, "NAME_TAKEN").await;
    let rule_id = org.rule("ok", 1, json!([]), &pool).await;
    let in_use = org
        .send(Method::DELETE, &format!("/routing/pools/{pool}"), None)
        .await;
    expect_error(in_use, StatusCode::CONFLICT, "POOL_IN_USE").await;
    org.ok(
        Method::DELETE,
        &format!("/routing/rules/{rule_id}"),
        None,
        StatusCode::OK,
    )
    .await;
    org.ok(
        Method::DELETE,
        &format!("/routing/pools/{pool}"),
        None,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn max_agents_is_a_409_with_a_clear_code() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    org.settings(json!({"maxAgents": 2})).await;
    org.agent("Ann", json!({})).await;
    let bob = org.agent("Bob", json!({})).await;
    let res = org
        .send(
            Method::POST,
            "/agents",
            Some(json!({"name": "Cat", "email": "cat@agents.test"})),
        )
        .await;
    expect_error(res, StatusCode::CONFLICT, "MAX_AGENTS_REACHED").await;
    // Deactivating one frees a seat.
    org.ok(
        Method::DELETE,
        &format!("/agents/{bob}"),
        None,
        StatusCode::OK,
    )
    .await;
    org.agent("Cat", json!({})).await;
}

#[tokio::test]
async fn simulation_writes_nothing() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    let a = org.agent("Ann", json!({})).await;
    let pool = org
        .pool("All", "round_robin", std::slice::from_ref(&a))
        .await;
    org.settings(json!({"defaultPoolId": pool})).await;
    let sim = org
        .ok(
            Method::POST,
            "/routing/simulate",
            Some(json!({"name": "Test"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(sim["data"]["outcome"], "proposed");
    assert_eq!(sim["data"]["agentId"], a);
    assert_eq!(sim["data"]["trace"].as_array().unwrap().len(), 1);
    let leads = org.ok(Method::GET, "/leads", None, StatusCode::OK).await;
    assert_eq!(leads["pagination"]["total"], 0);
    let proposals = org
        .ok(
            Method::GET,
            "/manager/proposals?includeTotal=true",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(proposals["pagination"]["total"], 0);
}

#[tokio::test]
async fn agents_see_and_work_only_their_own_leads_and_status_moves_forward() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    let agent_user = app.add_user(&org.admin, "ann-user", "agent").await;
    let ann = org.agent("Ann", json!({"userId": agent_user.id()})).await;
    let bob = org.agent("Bob", json!({})).await;
    let pool = org
        .pool("All", "round_robin", &[ann.clone(), bob.clone()])
        .await;
    org.settings(json!({"defaultPoolId": pool, "allowAutoRouting": true}))
        .await;
    let mine = org.lead(json!({"name": "Mine"})).await;
    let theirs = org.lead(json!({"name": "Theirs"})).await;
    assert_eq!(mine["lead"]["assignedAgentId"], ann);
    assert_eq!(theirs["lead"]["assignedAgentId"], bob);

    let as_agent =
        |method: Method, path: String| app.as_user(&agent_user.access_token, method, &path);
    let list = expect_status(
        as_agent(Method::GET, "/leads".into()).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["pagination"]["total"], 1);
    assert_eq!(list["data"][0]["name"], "Mine");
    let mine_id = mine["lead"]["id"].as_str().unwrap();
    let theirs_id = theirs["lead"]["id"].as_str().unwrap();
    expect_error(
        as_agent(Method::GET, format!("/leads/{theirs_id}"))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    expect_error(
        as_agent(Method::GET, "/manager/proposals".into())
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    expect_error(
        as_agent(Method::GET, "/agents".into())
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;

    let put = |status: &str| {
        as_agent(Method::PUT, format!("/leads/{mine_id}"))
            .json(&json!({"status": status}))
            .send()
    };
    assert_eq!(
        expect_status(put("contacted").await.unwrap(), StatusCode::OK).await["data"]["status"],
        "contacted"
    );
    expect_error(
        put("assigned").await.unwrap(),
        StatusCode::CONFLICT,
        "INVALID_STATUS_TRANSITION",
    )
    .await;
    assert_eq!(
        expect_status(put("won").await.unwrap(), StatusCode::OK).await["data"]["status"],
        "won"
    );
    expect_error(
        put("lost").await.unwrap(),
        StatusCode::CONFLICT,
        "INVALID_STATUS_TRANSITION",
    )
    .await;
}

#[tokio::test]
async fn the_dashboard_counts_real_rows_and_avoids_division_by_zero() {
    let app = spawn_app().await;
    let (org, record) = Org::new(&app, "acme").await;
    let empty = org
        .ok(Method::GET, "/dashboard", None, StatusCode::OK)
        .await;
    assert_eq!(empty["organization"]["id"], record["id"]);
    assert_eq!(
        empty["stats"],
        json!({"totalUsers": 1, "totalProposals": 0, "totalLeads": 0, "totalAgents": 0})
    );
    assert_eq!(
        empty["health"],
        json!({"usersPerAgent": null, "proposalsPerLead": null})
    );
    let a = org.agent("Ann", json!({})).await;
    let pool = org.pool("All", "round_robin", &[a]).await;
    org.settings(json!({"defaultPoolId": pool})).await;
    org.lead(json!({"name": "One"})).await;
    org.lead(json!({"name": "Two"})).await;
    let d = org
        .ok(Method::GET, "/dashboard", None, StatusCode::OK)
        .await;
    assert_eq!(
        d["stats"],
        json!({"totalUsers": 1, "totalProposals": 2, "totalLeads": 2, "totalAgents": 1})
    );
    assert_eq!(
        d["health"],
        json!({"usersPerAgent": 1.0, "proposalsPerLead": 1.0})
    );
}

/// Posts `n` leads with at most `in_flight` requests at once; returns proposals per agent.
async fn post_concurrently(org: &Org<'_>, n: usize, in_flight: usize) -> HashMap<String, usize> {
    let results: Vec<Value> = stream::iter(0..n)
        .map(|i| async move { org.lead(json!({"name": format!("Lead {i}")})).await })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let mut counts = HashMap::new();
    for r in results {
        if let Some(agent) = r["proposal"]["agentId"].as_str() {
            *counts.entry(agent.to_owned()).or_default() += 1;
        }
    }
    counts
}

#[tokio::test]
async fn two_hundred_concurrent_leads_rotate_exactly_evenly() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    let mut agents = Vec::new();
    for name in ["Ann", "Bob", "Cat", "Dan", "Eve"] {
        agents.push(org.agent(name, json!({})).await);
    }
    let pool = org.pool("All", "round_robin", &agents).await;
    org.settings(json!({"defaultPoolId": pool})).await;
    let counts = post_concurrently(&org, 200, 16).await;
    for a in &agents {
        assert_eq!(counts.get(a), Some(&40), "{counts:?}");
    }
    app.assert_counters_match_rows().await;
}

#[tokio::test]
async fn sixteen_clients_racing_one_pool_of_capacity_one_agents_fill_each_once() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    let mut agents = Vec::new();
    for name in ["Ann", "Bob", "Cat", "Dan", "Eve"] {
        agents.push(org.agent(name, json!({"capacity": 1})).await);
    }
    let pool = org.pool("All", "round_robin", &agents).await;
    org.settings(json!({"defaultPoolId": pool})).await;
    let counts = post_concurrently(&org, 48, 16).await;
    for a in &agents {
        assert_eq!(counts.get(a), Some(&1), "{counts:?}");
    }
    assert_eq!(counts.values().sum::<usize>(), 5);
    for a in &agents {
        let agent = org
            .ok(Method::GET, &format!("/agents/{a}"), None, StatusCode::OK)
            .await;
        assert_eq!(agent["data"]["load"]["openLeads"], 1, "{a}");
    }
    app.assert_counters_match_rows().await;
}

#[tokio::test]
async fn a_configuration_change_made_by_another_instance_is_seen_by_the_next_lead() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    let ann = org.agent("Ann", json!({})).await;
    let bob = org.agent("Bob", json!({})).await;
    let first = org
        .pool("First", "round_robin", std::slice::from_ref(&ann))
        .await;
    let second = org
        .pool("Second", "round_robin", std::slice::from_ref(&bob))
        .await;
    let rule = org.rule("all", 1, json!([]), &first).await;
    let lead = org.lead(json!({"name": "One"})).await;
    assert_eq!(lead["proposal"]["agentId"], ann.as_str());
    // Written straight to the database: this server's cached rules are now
    // stale, and only the configuration version says so.
    app.execute(&format!(
        "UPDATE routing_rules SET pool_id = '{second}' WHERE id = '{rule}'"
    ))
    .await;
    let lead = org.lead(json!({"name": "Two"})).await;
    assert_eq!(lead["proposal"]["agentId"], bob.as_str());
    app.execute(&format!("DELETE FROM routing_rules WHERE id = '{rule}'"))
        .await;
    let lead = org.lead(json!({"name": "Three"})).await;
    assert_eq!(lead["lead"]["status"], "unrouted", "{lead}");
}

#[tokio::test]
async fn weighted_pools_follow_their_weights_under_concurrency() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    let one = org.agent("One", json!({"weight": 1})).await;
    let two = org.agent("Two", json!({"weight": 2})).await;
    let three = org.agent("Three", json!({"weight": 3})).await;
    let pool = org
        .pool("W", "weighted", &[one.clone(), two.clone(), three.clone()])
        .await;
    org.settings(json!({"defaultPoolId": pool})).await;
    let counts = post_concurrently(&org, 120, 16).await;
    for (agent, expected) in [(one, 20i64), (two, 40), (three, 60)] {
        let got = counts.get(&agent).copied().unwrap_or(0) as i64;
        assert!(
            (got - expected).abs() <= 1,
            "{agent}: {got} vs {expected} ({counts:?})"
        );
    }
    app.assert_counters_match_rows().await;
}

#[tokio::test]
async fn no_agent_exceeds_its_capacity_however_many_requests_race() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "acme").await;
    let a = org.agent("Ann", json!({"capacity": 3})).await;
    let b = org.agent("Bob", json!({"capacity": 5})).await;
    let pool_a = org
        .pool("P1", "least_loaded", &[a.clone(), b.clone()])
        .await;
    let pool_b = org.pool("P2", "round_robin", &[b.clone(), a.clone()]).await;
    // Two pools share both agents, so the race crosses pool locks.
    org.rule(
        "even",
        1,
        json!([{"field": "source", "op": "eq", "value": "even"}]),
        &pool_a,
    )
    .await;
    org.rule(
        "odd",
        2,
        json!([{"field": "source", "op": "eq", "value": "odd"}]),
        &pool_b,
    )
    .await;
    let results: Vec<Value> = stream::iter(0..30)
        .map(|i| {
            let org = &org;
            async move { org.lead(json!({"name": format!("L{i}"), "source": if i % 2 == 0 { "even" } else { "odd" }})).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut unrouted = 0;
    for r in &results {
        match r["proposal"]["agentId"].as_str() {
            Some(agent) => *counts.entry(agent.to_owned()).or_default() += 1,
            None => unrouted += 1,
        }
    }
    assert_eq!(counts.get(&a), Some(&3), "{counts:?}");
    assert_eq!(counts.get(&b), Some(&5), "{counts:?}");
    assert_eq!(unrouted, 22);
    let agent = org
        .ok(Method::GET, &format!("/agents/{a}"), None, StatusCode::OK)
        .await;
    assert_eq!(agent["data"]["load"]["openLeads"], 3);
    app.assert_counters_match_rows().await;
}

#[tokio::test]
async fn hard_deleting_an_organization_removes_all_its_routing_data() {
    let app = spawn_app().await;
    let (org, record) = Org::new(&app, "doomed").await;
    let a = org.agent("Ann", json!({})).await;
    let pool = org.pool("All", "round_robin", &[a]).await;
    org.rule("all", 1, json!([]), &pool).await;
    org.lead(json!({"name": "Jane"})).await;
    let id = record["id"].as_str().unwrap();
    expect_status(
        app.delete(&format!("/organizations/{id}?hard=true")).await,
        StatusCode::OK,
    )
    .await;
    for table in [
        "agents",
        "routing_pools",
        "pool_members",
        "routing_rules",
        "leads",
        "proposals",
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM {table} WHERE org_id = '{id}'"
            ))
            .await,
            0,
            "{table}"
        );
    }
}

#[tokio::test]
async fn the_review_queue_pages_by_cursor_in_the_same_order_as_by_offset() {
    let app = spawn_app().await;
    let (org, _) = Org::new(&app, "queue-paging").await;
    let ann = org.agent("Ann", json!({})).await;
    let pool = org.pool("Everyone", "round_robin", &[ann]).await;
    org.rule("All", 1, json!([]), &pool).await;
    let mut proposals = Vec::new();
    for i in 0..7 {
        let routed = org.lead(json!({"name": format!("Lead {i}")})).await;
        proposals.push(routed["proposal"]["id"].as_str().unwrap().to_owned());
    }
    // Three decided: the queue is the four pending, then those three.
    for pid in &proposals[1..4] {
        org.ok(
            Method::POST,
            &format!("/manager/proposals/{pid}/approve"),
            None,
            StatusCode::OK,
        )
        .await;
    }
    let ids = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_offset = org
        .ok(
            Method::GET,
            "/manager/proposals?offset=0&limit=100",
            None,
            StatusCode::OK,
        )
        .await;
    let expected = ids(&by_offset);
    let mut pending: Vec<&String> =
        vec![&proposals[6], &proposals[5], &proposals[4], &proposals[0]];
    pending.extend([&proposals[3], &proposals[2], &proposals[1]]);
    assert_eq!(expected.iter().collect::<Vec<_>>(), pending);
    assert_eq!(by_offset["pagination"]["total"], 7);
    assert_eq!(by_offset["pagination"]["nextCursor"], Value::Null);

    // By cursor, two at a time, across the pending/decided boundary.
    let mut walked = Vec::new();
    let mut path = "/manager/proposals?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = org.ok(Method::GET, &path, None, StatusCode::OK).await;
        pages += 1;
        assert!(page["pagination"].get("total").is_none(), "{page}");
        assert_eq!(page["pagination"]["limit"], 2);
        walked.extend(ids(&page));
        match page["pagination"]["nextCursor"].as_str() {
            Some(cursor) => path = format!("/manager/proposals?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(walked, expected);
    assert_eq!(pages, 4);

    // The total when asked; a filter pages alike; offset pages carry a cursor.
    let counted = org
        .ok(
            Method::GET,
            "/manager/proposals?limit=2&includeTotal=true&status=approved",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(counted["pagination"]["total"], 3);
    assert_eq!(ids(&counted), expected[4..6]);
    let cursor = counted["pagination"]["nextCursor"].as_str().unwrap();
    let rest = org
        .ok(
            Method::GET,
            &format!("/manager/proposals?status=approved&cursor={cursor}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(ids(&rest), expected[6..]);
    let middle = org
        .ok(
            Method::GET,
            "/manager/proposals?offset=2&limit=2",
            None,
            StatusCode::OK,
        )
        .await;
    let cursor = middle["pagination"]["nextCursor"].as_str().unwrap();
    let after = org
        .ok(
            Method::GET,
            &format!("/manager/proposals?limit=3&cursor={cursor}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(ids(&after), expected[4..7]);

    // Bad cursors are 400s naming the field.
    for path in [
        "/manager/proposals?cursor=not-a-cursor",
        "/manager/proposals?cursor=MQ",
        &format!("/manager/proposals?offset=0&cursor={cursor}"),
    ] {
        let res = org.send(Method::GET, path, None).await;
        expect_invalid_field(res, "cursor").await;
    }
}
