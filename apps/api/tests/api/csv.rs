//! `POST /leads/import` and `GET /leads/export`: leads as CSV files.

use chrono::{DateTime, FixedOffset};
use lead_routing_api::routes::leads_csv::EXPORT_PAGE;
use reqwest::{Method, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{
    Session, TestApp, ann_and_bob_get_every_lead, expect_error, expect_status, ok, spawn_app,
};

/// Sends `body` as a CSV import, with `token`'s credentials.
async fn import(app: &TestApp, token: &str, body: impl Into<reqwest::Body>) -> Response {
    app.as_user(token, Method::POST, "/leads/import")
        .header(header::CONTENT_TYPE, "text/csv")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// An import that must answer 200: its `data`.
async fn imported(app: &TestApp, who: &Session, body: &str) -> Value {
    let res = import(app, &who.access_token, body.to_owned()).await;
    expect_status(res, StatusCode::OK).await["data"].clone()
}

/// Every lead `who` can list (up to 1000), newest first.
async fn leads(app: &TestApp, who: &Session) -> Vec<Value> {
    ok(app, who, Method::GET, "/leads?limit=1000", None).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

/// The lead named `name` among `leads`.
fn named<'a>(leads: &'a [Value], name: &str) -> &'a Value {
    leads
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("no lead named {name}: {leads:?}"))
}

/// An export as `token` with `query`: (status, headers, parsed rows with the
/// header first).
async fn export(
    app: &TestApp,
    token: &str,
    query: &str,
) -> (StatusCode, header::HeaderMap, Vec<Vec<String>>) {
    let res = app
        .as_user(token, Method::GET, &format!("/leads/export{query}"))
        .send()
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let text = res.text().await.unwrap();
    let rows = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (status, headers, rows)
}

#[tokio::test]
async fn a_csv_file_is_imported_routed_and_its_other_columns_become_fields() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let (agents, _, _) = ann_and_bob_get_every_lead(&app, &admin, "All", "all").await;
    // A byte order mark, names in any case, `external_id` for `externalId`,
    // quoted cells with commas, quotes and a line break, and CRLF lines.
    let file = "\u{feff}Name,EMAIL,external_id,Company,plan,Notes\r\n\
        Jane Doe,jane@globex.com,crm-1,\"Globex, Inc.\",pro,\"first line\nsecond line\"\r\n\
        \"John \"\"Jack\"\" Smith\",john@initech.com,crm-2,Initech,,\r\n\
        Ann Lee,,,,free,plain\r\n";
    let data = imported(&app, &admin, file).await;
    assert_eq!(
        data,
        json!({"rows": 3, "created": 3, "replayed": 0, "failed": 0, "errors": [],
               "errorsTruncated": false, "ignoredColumns": []})
    );
    let stored = leads(&app, &admin).await;
    assert_eq!(stored.len(), 3);
    let jane = named(&stored, "Jane Doe");
    assert_eq!(jane["email"], "jane@globex.com");
    assert_eq!(jane["externalId"], "crm-1");
    assert_eq!(jane["company"], "Globex, Inc.");
    assert_eq!(
        jane["fields"],
        json!({"plan": "pro", "Notes": "first line\nsecond line"})
    );
    // Blank cells are absent values: no empty custom fields.
    let john = named(&stored, "John \"Jack\" Smith");
    assert_eq!(john["fields"], json!({}));
    assert_eq!(named(&stored, "Ann Lee")["email"], Value::Null);
    // Routed in file order through the rotation, like a batch.
    let routed: Vec<Value> = ["Jane Doe", "John \"Jack\" Smith", "Ann Lee"]
        .iter()
        .map(|n| {
            let lead = named(&stored, n);
            assert_eq!(lead["status"], "proposed", "{lead}");
            lead["id"].clone()
        })
        .collect();
    let mut owners = Vec::new();
    for id in routed {
        let lead = ok(
            &app,
            &admin,
            Method::GET,
            &format!("/leads/{}", id.as_str().unwrap()),
            None,
        )
        .await;
        owners.push(
            lead["data"]["proposal"]["agentId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        owners,
        [agents[0].clone(), agents[1].clone(), agents[0].clone()]
    );
    app.assert_counters_match_rows().await;
}

#[tokio::test]
async fn bad_rows_are_reported_by_number_while_good_rows_are_stored() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let file = "name,email,score,externalId\n\
        Good One,one@example.com,10,g-1\n\
        Bad Email,not-an-email,,b-1\n\
        ,nobody@example.com,,b-2\n\
        \n\
        Bad Score,,abc,b-3\n\
        Too Many,,,b-4,extra\n\
        ,,,\n\
        Good Two,,100,g-2\n\
        Two Problems,also bad,101,\n";
    let data = imported(&app, &admin, file).await;
    assert_eq!(data["rows"], 7, "{data}");
    assert_eq!(data["created"], 2, "{data}");
    assert_eq!(data["failed"], 5, "{data}");
    let errors: Vec<(u64, &str)> = data["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
            (e["row"].as_u64().unwrap(), e["field"].as_str().unwrap())
        })
        .collect();
    // Rows are counted from the first data line; a blank line is not a row,
    // a row of blank cells is skipped but keeps its number.
    assert_eq!(
        errors,
        [
            (2, "email"),
            (3, "name"),
            (4, "score"),
            (5, "row"),
            (8, "email"),
            (8, "score"),
        ],
        "{data}"
    );
    let names: Vec<String> = leads(&app, &admin)
        .await
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"Good One".into()) && names.contains(&"Good Two".into()));
}

#[tokio::test]
async fn importing_the_same_file_again_creates_nothing() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    ann_and_bob_get_every_lead(&app, &admin, "All", "all").await;
    // More rows than one transaction takes, a few of them repeated within
    // the file itself.
    let mut file = String::from("externalId,name\n");
    for i in 0..1200 {
        file.push_str(&format!("ext-{},Lead {i}\n", i % 1100));
    }
    let first = imported(&app, &admin, &file).await;
    assert_eq!(
        (&first["created"], &first["replayed"], &first["failed"]),
        (&json!(1100), &json!(100), &json!(0)),
        "{first}"
    );
    let again = imported(&app, &admin, &file).await;
    assert_eq!(
        (&again["created"], &again["replayed"], &again["failed"]),
        (&json!(0), &json!(1200), &json!(0)),
        "{again}"
    );
    let listed = ok(&app, &admin, Method::GET, "/leads?limit=1", None).await;
    assert_eq!(listed["pagination"]["total"], 1100);
    app.assert_counters_match_rows().await;
}

#[tokio::test]
async fn header_problems_refuse_the_file_before_anything_is_written() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    for (file, reason) in [
        ("", "missing"),
        ("\n\n", "missing"),
        ("\u{feff},\nJane,\n", "missing"),
        ("email,phone\njane@example.com,1\n", "no `name`"),
        ("Name,email,name\nJane,,Jane\n", "twice"),
        ("name,externalId,external_id\nJane,a,b\n", "twice"),
        ("name,plan,PLAN\nJane,a,b\n", "twice"),
        ("name,Lead score\nJane,3\n", "custom column"),
    ] {
        let res = import(&app, &admin.access_token, file.to_owned()).await;
        let body = expect_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
        let detail = &body["error"]["details"][0];
        assert_eq!(detail["field"], "header", "{file:?}: {body}");
        assert!(
            detail["message"].as_str().unwrap().contains(reason),
            "{file:?}: {body}"
        );
    }
    for content_type in [
        Some("application/json"),
        Some("text/plain"),
        Some("text/csv; charset=iso-8859-1"),
        None,
    ] {
        let mut req = app.as_user(&admin.access_token, Method::POST, "/leads/import");
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let res = req.body("name\nJane\n").send().await.unwrap();
        expect_error(
            res,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_CONTENT_TYPE",
        )
        .await;
    }
    // A charset, if named, is UTF-8.
    let res = app
        .as_user(&admin.access_token, Method::POST, "/leads/import")
        .header(header::CONTENT_TYPE, "text/csv; charset=UTF-8")
        .body("name,Lead score\nJane,1\n")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM leads").await, 0);
}

#[tokio::test]
async fn a_body_over_50_mib_is_a_413() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let limit = 50 * 1024 * 1024;
    // Declared too large: refused before the body is read.
    let mut declared = b"name\n".to_vec();
    declared.resize(limit + 1, b'x');
    let res = import(&app, &admin.access_token, declared).await;
    expect_error(res, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
    // Sent without a length (chunked): refused once the count passes the
    // limit. Its rows have no name, so nothing could be stored either way.
    let row = format!(",{}\n", "x".repeat(1023));
    let chunk = row.repeat(1024); // 1 MiB
    let chunks = std::iter::once(Ok::<_, std::io::Error>("name,note\n".to_owned()))
        .chain(std::iter::repeat_n(chunk, 51).map(Ok));
    let res = import(
        &app,
        &admin.access_token,
        reqwest::Body::wrap_stream(futures::stream::iter(chunks)),
    )
    .await;
    expect_error(res, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM leads").await, 0);
}

#[tokio::test]
async fn an_export_is_the_leads_as_csv_and_imports_back_as_replays() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    ann_and_bob_get_every_lead(&app, &admin, "All", "all").await;
    let file = "externalId,name,phone,company,country,score,plan\n\
        x-1,Jane Doe,+33 1 23 45 67 89,\"Globex, \"\"the\"\" company\",FR,72,\"pro\nyearly\"\n\
        x-2,=HYPERLINK(\"http://evil.test\"),,@corp,,,-5\n";
    let data = imported(&app, &admin, file).await;
    assert_eq!(data["created"], 2, "{data}");

    let (status, headers, rows) = export(&app, &admin.access_token, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv"),
        "{headers:?}"
    );
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"leads.csv\""
    );
    assert_eq!(
        rows[0],
        [
            "id",
            "externalId",
            "name",
            "email",
            "phone",
            "company",
            "source",
            "region",
            "country",
            "score",
            "status",
            "assignedAgentId",
            "unroutedReason",
            "createdAt",
            "updatedAt",
            "fields"
        ]
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    let by_ext = |ext: &str| rows.iter().find(|r| r[1] == ext).unwrap().clone();
    let jane = by_ext("x-1");
    assert!(jane[0].starts_with("lead_"));
    assert_eq!(jane[2], "Jane Doe");
    // Formula characters get a leading quote; quoting survives the trip.
    assert_eq!(jane[4], "'+33 1 23 45 67 89");
    assert_eq!(jane[5], "Globex, \"the\" company");
    assert_eq!(jane[8], "FR");
    assert_eq!(jane[9], "72");
    assert_eq!(jane[10], "proposed");
    assert_eq!(
        serde_json::from_str::<Value>(&jane[15]).unwrap(),
        json!({"plan": "pro\nyearly"})
    );
    let evil = by_ext("x-2");
    assert_eq!(evil[2], "'=HYPERLINK(\"http://evil.test\")");
    assert_eq!(evil[5], "'@corp");
    assert_eq!(evil[9], "");
    assert_eq!(
        serde_json::from_str::<Value>(&evil[15]).unwrap(),
        json!({"plan": "-5"})
    );

    // The export imports back as it is: every row a replay, the read-only
    // columns ignored, the quotes before formula characters dropped.
    let mut out = ::csv::Writer::from_writer(Vec::new());
    for row in &rows {
        out.write_record(row).unwrap();
    }
    let again = imported(
        &app,
        &admin,
        &String::from_utf8(out.into_inner().unwrap()).unwrap(),
    )
    .await;
    assert_eq!(again["replayed"], 2, "{again}");
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(
        again["ignoredColumns"],
        json!([
            "id",
            "status",
            "assignedAgentId",
            "unroutedReason",
            "createdAt",
            "updatedAt"
        ])
    );
    // And without an `externalId` it would be the same leads again.
    let copy = imported(
        &app,
        &admin,
        &format!(
            "name,phone,fields\n{},{},\"{}\"\n",
            evil[2],
            jane[4],
            jane[15].replace('"', "\"\"")
        ),
    )
    .await;
    assert_eq!(copy["created"], 1, "{copy}");
    let stored = leads(&app, &admin).await;
    let copied = stored.iter().find(|l| l["externalId"].is_null()).unwrap();
    assert_eq!(copied["name"], "=HYPERLINK(\"http://evil.test\")");
    assert_eq!(copied["phone"], "+33 1 23 45 67 89");
    assert_eq!(copied["fields"], json!({"plan": "pro\nyearly"}));
}

#[tokio::test]
async fn an_export_pages_through_every_lead() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let mut file = String::from("name\n");
    for i in 0..2100 {
        file.push_str(&format!("Lead {i}\n"));
    }
    assert_eq!(imported(&app, &admin, &file).await["created"], 2100);
    let (status, _, rows) = export(&app, &admin.access_token, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows.len(), 2101);
    let mut ids: Vec<&String> = rows[1..].iter().map(|r| &r[0]).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2100, "each lead once");
    // Nothing to export is a header alone.
    let (other, other_admin) = app.org_with_admin("empty").await;
    assert!(other["id"].is_string());
    let (_, _, rows) = export(&app, &other_admin.access_token, "").await;
    assert_eq!(rows.len(), 1);
}

#[tokio::test]
async fn an_export_reads_its_pages_in_list_order_through_leads_of_the_same_instant() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let page = usize::try_from(EXPORT_PAGE).unwrap();
    // Two batches, each one transaction whose leads share one `createdAt`:
    // newest first, the first page ends inside the older batch, so the
    // second page starts among leads of the same instant.
    for (batch, n) in [("old", page), ("new", 10)] {
        let leads: Vec<Value> = (0..n)
            .map(|i| json!({"name": format!("Lead {batch} {i}")}))
            .collect();
        let body = ok(
            &app,
            &admin,
            Method::POST,
            "/leads/batch",
            Some(json!({"leads": leads})),
        )
        .await;
        assert_eq!(body["data"]["created"], n, "{body}");
    }
    let (status, _, rows) = export(&app, &admin.access_token, "").await;
    assert_eq!(status, StatusCode::OK);
    let exported: Vec<(&str, DateTime<FixedOffset>)> = rows[1..]
        .iter()
        .map(|r| (r[0].as_str(), DateTime::parse_from_rfc3339(&r[13]).unwrap()))
        .collect();
    assert_eq!(exported.len(), page + 10);
    assert_eq!(
        exported[page - 1].1,
        exported[page].1,
        "the pages meet between two leads of the same instant"
    );
    // Each lead once, newest first, ties by id (descending)...
    for pair in exported.windows(2) {
        let ((a, a_at), (b, b_at)) = (pair[0], pair[1]);
        assert!((a_at, a) > (b_at, b), "{a} {a_at} before {b} {b_at}");
    }
    // ... which is the order of `GET /leads`, page after page.
    let mut listed = Vec::new();
    for offset in [0, page] {
        let body = ok(
            &app,
            &admin,
            Method::GET,
            &format!("/leads?limit={page}&offset={offset}"),
            None,
        )
        .await;
        listed.extend(
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["id"].as_str().unwrap().to_owned()),
        );
    }
    let ids: Vec<&str> = exported.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, listed);
}

#[tokio::test]
async fn an_export_has_the_filters_and_the_visibility_of_the_list() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with_admin("acme").await;
    let org_id = org["id"].as_str().unwrap();
    // Unrouted first (no pool yet), then Ann and Bob get leads assigned at once.
    imported(&app, &admin, "name\nNobody's 1\nNobody's 2\n").await;
    let ann = app.add_user(&admin, "ann", "agent").await;
    let mut agent_ids = Vec::new();
    for (name, user) in [("Ann", Some(&ann)), ("Bob", None)] {
        let mut body = json!({"name": name, "email": format!("{name}@acme.test")});
        if let Some(u) = user {
            body["userId"] = json!(u.id());
        }
        let agent = ok(&app, &admin, Method::POST, "/agents", Some(body)).await;
        agent_ids.push(agent["data"]["id"].as_str().unwrap().to_owned());
    }
    let pool = ok(
        &app,
        &admin,
        Method::POST,
        "/routing/pools",
        Some(json!({"name": "all", "method": "round_robin", "memberIds": agent_ids})),
    )
    .await;
    ok(
        &app,
        &admin,
        Method::PUT,
        &format!("/organizations/{org_id}"),
        Some(json!({"settings": {"defaultPoolId": pool["data"]["id"], "allowAutoRouting": true}})),
    )
    .await;
    imported(
        &app,
        &admin,
        "name\nFor Ann 1\nFor Bob 1\nFor Ann 2\nFor Bob 2\n",
    )
    .await;
    // Another organization's leads never show.
    let (_, admin_b) = app.org_with_admin("other").await;
    imported(&app, &admin_b, "name\nSecret B\n").await;

    let names = |rows: &[Vec<String>]| {
        let mut names: Vec<String> = rows[1..].iter().map(|r| r[2].clone()).collect();
        names.sort();
        names
    };
    let (_, _, all) = export(&app, &admin.access_token, "").await;
    assert_eq!(
        names(&all),
        [
            "For Ann 1",
            "For Ann 2",
            "For Bob 1",
            "For Bob 2",
            "Nobody's 1",
            "Nobody's 2"
        ]
    );
    let (_, _, unrouted) = export(&app, &admin.access_token, "?status=unrouted").await;
    assert_eq!(names(&unrouted), ["Nobody's 1", "Nobody's 2"]);
    let (_, _, bobs) = export(
        &app,
        &admin.access_token,
        &format!("?status=assigned&assignedAgentId={}", agent_ids[1]),
    )
    .await;
    assert_eq!(names(&bobs), ["For Bob 1", "For Bob 2"]);
    // An agent exports its own leads, whatever it asks for.
    let (status, _, own) = export(&app, &ann.access_token, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&own), ["For Ann 1", "For Ann 2"]);
    assert!(own[1..].iter().all(|r| r[11] == agent_ids[0]));
    let (_, _, own) = export(
        &app,
        &ann.access_token,
        &format!("?assignedAgentId={}", agent_ids[1]),
    )
    .await;
    assert_eq!(names(&own), ["For Ann 1", "For Ann 2"]);
    let (_, _, b_rows) = export(&app, &admin_b.access_token, "").await;
    assert_eq!(names(&b_rows), ["Secret B"]);
    // Bad filters are 400s naming them, as on the list.
    for (query, field) in [("?status=bogus", "status"), ("?limit=5", "limit")] {
        let res = app
            .as_user(
                &admin.access_token,
                Method::GET,
                &format!("/leads/export{query}"),
            )
            .send()
            .await
            .unwrap();
        let body = expect_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
        assert_eq!(body["error"]["details"][0]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn import_and_export_take_the_roles_of_the_batch() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    // Anyone signed in may send leads (a form backend's agent key does),
    // nobody anonymous.
    let (_, agent_key) = app.add_api_key(&admin, "agent").await;
    let res = app
        .with_key(&agent_key, Method::POST, "/leads/import")
        .header(header::CONTENT_TYPE, "text/csv")
        .body("name,externalId\nFrom a form,form-1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_status(res, StatusCode::OK).await["data"]["created"],
        1
    );
    let manager = app.add_user(&admin, "manager", "manager").await;
    assert_eq!(
        imported(&app, &manager, "name\nFrom a manager\n").await["created"],
        1
    );
    // An agent re-sending an `externalId` it may not read learns nothing.
    let agent = app.add_user(&admin, "agent", "agent").await;
    let data = imported(&app, &agent, "name,externalId\nAgain,form-1\n").await;
    assert_eq!(data["failed"], 1, "{data}");
    assert_eq!(data["errors"][0]["row"], 1);
    assert_eq!(data["errors"][0]["field"], "externalId");
    for (method, path) in [
        (Method::POST, "/leads/import"),
        (Method::GET, "/leads/export"),
    ] {
        let res = app
            .anonymous(method, path)
            .header(header::CONTENT_TYPE, "text/csv")
            .body("name\nJane\n")
            .send()
            .await
            .unwrap();
        expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    }
    // An agent without leads exports a header alone.
    let (status, _, rows) = export(&app, &agent.access_token, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows.len(), 1);
}
