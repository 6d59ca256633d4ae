//! The OpenAPI document describes exactly the routes the app serves.

use std::collections::BTreeSet;

use lead_routing_api::routes::route_table;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{expect_status, spawn_app};

async fn document() -> Value {
    let app = spawn_app().await;
    let res = app
        .anonymous(Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap();
    expect_status(res, StatusCode::OK).await
}

fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

#[tokio::test]
async fn every_served_route_is_documented_and_nothing_else() {
    let doc = document().await;
    assert_eq!(doc["openapi"], "3.1.0");
    let served: BTreeSet<(String, String)> = route_table()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let documented = documented_operations(&doc);
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in /openapi.json: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );
}

#[tokio::test]
async fn the_document_declares_security_schemes_and_the_error_envelope() {
    let doc = document().await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["apiKey"]["in"], "header");
    assert_eq!(schemes["apiKey"]["name"], "x-api-key");
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert!(doc["components"]["schemas"]["ErrorEnvelope"].is_object());
}

#[tokio::test]
async fn every_operation_documents_its_responses_and_authenticated_ones_their_401() {
    let doc = document().await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path}: no responses"));
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path}: no success response"
            );
            let public = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            if !public {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path}: authenticated but no 401 documented"
                );
            }
        }
    }
}
