//! `GET /dashboard/leads-per-agent`: the chart of leads per agent and UTC day.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    Session, TestApp, expect_error, expect_invalid_field, expect_status, spawn_app,
};

const PATH: &str = "/dashboard/leads-per-agent";

/// An admin's view of one organization.
struct Org<'a> {
    app: &'a TestApp,
    admin: Session,
}

impl<'a> Org<'a> {
    async fn new(app: &'a TestApp, name: &str) -> Org<'a> {
        let (_, admin) = app.org_with_admin(name).await;
        Org { app, admin }
    }

    async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: StatusCode,
    ) -> Value {
        let req = self.app.as_user(&self.admin.access_token, method, path);
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        expect_status(req.send().await.unwrap(), status).await
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

    /// A round-robin pool of `members` as the default pool, auto-routing on or off.
    async fn route_to(&self, members: &[&str], auto: bool) {
        let pool = self
            .ok(
                Method::POST,
                "/routing/pools",
                Some(json!({"name": "All", "method": "round_robin", "memberIds": members})),
                StatusCode::CREATED,
            )
            .await["data"]["id"]
            .clone();
        self.settings(json!({"defaultPoolId": pool, "allowAutoRouting": auto}))
            .await;
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

    /// Posts a lead; returns the agent it was assigned to, if any.
    async fn lead(&self, name: &str) -> Option<String> {
        let routed = self
            .ok(
                Method::POST,
                "/leads",
                Some(json!({"name": name})),
                StatusCode::CREATED,
            )
            .await;
        routed["data"]["lead"]["assignedAgentId"]
            .as_str()
            .map(str::to_owned)
    }

    async fn chart(&self, query: &str) -> Value {
        let body = self
            .ok(Method::GET, &format!("{PATH}{query}"), None, StatusCode::OK)
            .await;
        assert_eq!(body["ok"], true, "{body}");
        body["data"].clone()
    }
}

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

/// `(agentId, name, counts, total)` of each line, in order.
fn lines(chart: &Value) -> Vec<(String, String, Vec<u64>, u64)> {
    chart["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["agentId"].as_str().unwrap().to_owned(),
                a["name"].as_str().unwrap().to_owned(),
                serde_json::from_value(a["counts"].clone()).unwrap(),
                a["total"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Zeros, then `last` on today's slot.
fn today_only(days: usize, last: u64) -> Vec<u64> {
    let mut counts = vec![0; days];
    counts[days - 1] = last;
    counts
}

#[tokio::test]
async fn leads_posted_today_count_on_todays_slot_per_agent_and_idle_agents_show_zeros() {
    let app = spawn_app().await;
    let acme = Org::new(&app, "acme").await;
    let ann = acme.agent("Ann", json!({})).await;
    let bob = acme.agent("Bob", json!({})).await;
    let idle = acme.agent("Idle", json!({})).await;
    acme.route_to(&[&ann, &bob], true).await;
    let before = today();
    let mut assigned = Vec::new();
    for name in ["One", "Two", "Three"] {
        assigned.push(acme.lead(name).await);
    }
    assert_eq!(
        assigned,
        [Some(ann.clone()), Some(bob.clone()), Some(ann.clone())]
    );
    // Proposed, not yet assigned: counted as unassigned.
    acme.settings(json!({"allowAutoRouting": false})).await;
    assert_eq!(acme.lead("Four").await, None);

    let chart = acme.chart("").await;
    let after = today();
    let days: Vec<String> = serde_json::from_value(chart["days"].clone()).unwrap();
    assert_eq!(days.len(), 7, "seven days by default: {chart}");
    let last = days.last().unwrap();
    assert!(*last == before || *last == after, "{last} is today");
    let first = chrono::NaiveDate::parse_from_str(&days[0], "%Y-%m-%d").unwrap();
    let last_date = chrono::NaiveDate::parse_from_str(last, "%Y-%m-%d").unwrap();
    assert_eq!(
        (last_date - first).num_days(),
        6,
        "consecutive days, oldest first"
    );
    assert_eq!(
        lines(&chart),
        [
            (ann.clone(), "Ann".into(), today_only(7, 2), 2),
            (bob.clone(), "Bob".into(), today_only(7, 1), 1),
            (idle.clone(), "Idle".into(), today_only(7, 0), 0),
        ]
    );
    assert_eq!(chart["unassigned"], json!(today_only(7, 1)));

    // Any window from 1 to 90 days ends today.
    let one = acme.chart("?days=1").await;
    assert_eq!(one["days"].as_array().unwrap().len(), 1);
    assert_eq!(one["agents"][0]["counts"], json!([2]));
    assert_eq!(one["unassigned"], json!([1]));
    let ninety = acme.chart("?days=90").await;
    assert_eq!(ninety["days"].as_array().unwrap().len(), 90);
    assert_eq!(ninety["agents"][0]["total"], 2);
}

#[tokio::test]
async fn another_organizations_leads_and_agents_never_appear() {
    let app = spawn_app().await;
    let acme = Org::new(&app, "acme").await;
    let globex = Org::new(&app, "globex").await;
    let ann = acme.agent("Ann", json!({})).await;
    acme.route_to(&[&ann], true).await;
    let zed = globex.agent("Zed", json!({})).await;
    globex.route_to(&[&zed], true).await;
    for name in ["One", "Two"] {
        acme.lead(name).await;
    }
    globex.lead("Theirs").await;
    // Unrouted in globex: no pool any more.
    globex.settings(json!({"defaultPoolId": null})).await;
    globex.lead("Nobody's").await;

    let mine = acme.chart("").await;
    assert!(!mine.to_string().contains(&zed), "{mine}");
    assert_eq!(
        lines(&mine),
        [(ann.clone(), "Ann".into(), today_only(7, 2), 2)]
    );
    assert_eq!(mine["unassigned"], json!(today_only(7, 0)));

    let theirs = globex.chart("").await;
    assert!(!theirs.to_string().contains(&ann), "{theirs}");
    assert_eq!(
        lines(&theirs),
        [(zed.clone(), "Zed".into(), today_only(7, 1), 1)]
    );
    assert_eq!(theirs["unassigned"], json!(today_only(7, 1)));

    // The development key (a super admin of the default organization) sees
    // neither, and an API key of acme sees acme's.
    let dev = expect_status(app.get(PATH).await, StatusCode::OK).await;
    assert_eq!(dev["data"]["agents"], json!([]));
    assert_eq!(dev["data"]["unassigned"], json!(today_only(7, 0)));
    let (_, key) = app.add_api_key(&acme.admin, "manager").await;
    let by_key = expect_status(
        app.with_key(&key, Method::GET, PATH).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_key["data"], mine);
}

#[tokio::test]
async fn days_outside_one_to_ninety_and_unknown_parameters_are_400s_naming_them() {
    let app = spawn_app().await;
    let acme = Org::new(&app, "acme").await;
    for days in ["0", "91", "abc", "-1", "1.5", "", "99999999999999999999"] {
        let res = app
            .as_user(
                &acme.admin.access_token,
                Method::GET,
                &format!("{PATH}?days={days}"),
            )
            .send()
            .await
            .unwrap();
        expect_invalid_field(res, "days").await;
    }
    let res = app
        .as_user(
            &acme.admin.access_token,
            Method::GET,
            &format!("{PATH}?day=7"),
        )
        .send()
        .await
        .unwrap();
    expect_invalid_field(res, "day").await;
}

#[tokio::test]
async fn an_agent_sees_only_its_own_line() {
    let app = spawn_app().await;
    let acme = Org::new(&app, "acme").await;
    let ann_user = app.add_user(&acme.admin, "ann-user", "agent").await;
    let ann = acme.agent("Ann", json!({"userId": ann_user.id()})).await;
    let bob = acme.agent("Bob", json!({})).await;
    acme.route_to(&[&ann, &bob], true).await;
    for name in ["Mine", "Theirs", "Mine too"] {
        acme.lead(name).await;
    }
    acme.settings(json!({"allowAutoRouting": false})).await;
    acme.lead("Waiting").await;

    let as_ann = expect_status(
        app.as_user(&ann_user.access_token, Method::GET, PATH)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let chart = &as_ann["data"];
    assert_eq!(
        lines(chart),
        [(ann.clone(), "Ann".into(), today_only(7, 2), 2)]
    );
    assert_eq!(chart["unassigned"], json!(today_only(7, 0)));
    assert!(!chart.to_string().contains(&bob), "{chart}");

    // An agent-role user or key without an agent record sees no line at all.
    let nobody = app.add_user(&acme.admin, "no-agent", "agent").await;
    let (_, agent_key) = app.add_api_key(&acme.admin, "agent").await;
    for req in [
        app.as_user(&nobody.access_token, Method::GET, PATH),
        app.with_key(&agent_key, Method::GET, PATH),
    ] {
        let body = expect_status(req.send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(body["data"]["agents"], json!([]), "{body}");
        assert_eq!(body["data"]["unassigned"], json!(today_only(7, 0)));
        assert_eq!(body["data"]["days"], chart["days"]);
    }

    // A manager sees everyone.
    let manager = app.add_user(&acme.admin, "mia", "manager").await;
    let as_manager = expect_status(
        app.as_user(&manager.access_token, Method::GET, PATH)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(lines(&as_manager["data"]).len(), 2);
    assert_eq!(as_manager["data"]["unassigned"], json!(today_only(7, 1)));
}

#[tokio::test]
async fn the_chart_needs_credentials() {
    let app = spawn_app().await;
    for path in [PATH.to_owned(), format!("{PATH}?days=0")] {
        let res = app.anonymous(Method::GET, &path).send().await.unwrap();
        expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    }
    let res = app
        .anonymous(Method::GET, PATH)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
