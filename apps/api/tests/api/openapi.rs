//! The OpenAPI document describes exactly the routes the app serves, with
//! a valid example of every success body.

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
    assert_eq!(doc["servers"][0]["url"], "/");
    assert_eq!(doc["info"]["license"]["identifier"], "MIT OR Apache-2.0");
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
            // Public operations declare no requirement (`[]`), or an optional
            // one (`[{}, {apiKey: []}]`, as registration); never only `[{}]`,
            // which generators read as "authenticated".
            let security = op["security"].as_array().cloned().unwrap_or_default();
            let empty = |r: &Value| r.as_object().is_some_and(serde_json::Map::is_empty);
            assert!(
                security.is_empty() || !security.iter().all(empty),
                "{method} {path}: `security: [{{}}]`; use []"
            );
            let public =
                op["security"].is_array() && (security.is_empty() || security.iter().any(empty));
            if !public {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path}: authenticated but no 401 documented"
                );
            }
        }
    }
}

/// The schema a `$ref` names (`#/components/schemas/<name>`).
fn referenced<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let name = reference
        .strip_prefix("#/components/schemas/")
        .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
    let schema = &doc["components"]["schemas"][name];
    assert!(schema.is_object(), "dangling $ref {reference}");
    schema
}

/// Whether a media type or a schema carries `example` or a non-empty `examples`.
fn has_own_example(node: &Value) -> bool {
    node.get("example").is_some()
        || node.get("examples").is_some_and(|e| match e {
            Value::Array(list) => !list.is_empty(),
            Value::Object(named) => !named.is_empty(),
            _ => false,
        })
}

/// Whether a reader is shown an example of every part of `schema`: the
/// schema has one itself, or, through `$ref`, `allOf`, the non-null variants
/// of `oneOf`/`anyOf`, all its properties or its items, every part has one.
/// A bare string, number or boolean without an example has none, so an
/// envelope is exemplified only when its payload is.
fn exemplified(doc: &Value, schema: &Value, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    if has_own_example(schema) {
        return true;
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return exemplified(doc, referenced(doc, reference), depth + 1);
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        return !parts.is_empty() && parts.iter().all(|p| exemplified(doc, p, depth + 1));
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = schema.get(key).and_then(Value::as_array) {
            let mut non_null = variants.iter().filter(|v| v["type"] != "null").peekable();
            return non_null.peek().is_some() && non_null.all(|v| exemplified(doc, v, depth + 1));
        }
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        return !properties.is_empty()
            && properties.values().all(|p| exemplified(doc, p, depth + 1));
    }
    if let Some(items) = schema.get("items") {
        return exemplified(doc, items, depth + 1);
    }
    false
}

/// Every operation shows a client a realistic success body: each 2xx
/// response with content has an example on its media type or on its schema
/// (see [`exemplified`]), and at least one 2xx response has one.
#[tokio::test]
async fn every_operation_has_an_example_of_its_success_response() {
    let doc = document().await;
    let mut lacking = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let operation = format!("{} {path}", method.to_uppercase());
            let (mut shown, mut missing) = (0, Vec::new());
            for (status, response) in op["responses"].as_object().unwrap() {
                if !status.starts_with('2') {
                    continue;
                }
                for (media_type, media) in response["content"].as_object().into_iter().flatten() {
                    if has_own_example(media) || exemplified(&doc, &media["schema"], 0) {
                        shown += 1;
                    } else {
                        missing.push(format!("{operation} ({status} {media_type})"));
                    }
                }
            }
            if shown == 0 && missing.is_empty() {
                missing.push(format!("{operation} (no 2xx response with content)"));
            }
            lacking.extend(missing);
        }
    }
    assert!(
        lacking.is_empty(),
        "{} success response(s) without an example:\n  {}",
        lacking.len(),
        lacking.join("\n  ")
    );
}

/// Whether `value` has the JSON Schema type `name`.
fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

/// Records in `out` how `value` breaks `schema`. Checks the keywords utoipa
/// writes (`$ref`, `allOf`, `oneOf`, `anyOf`, `type`, `enum`, `required`,
/// `properties`, `additionalProperties: false`, `items`, bounds, lengths and
/// the `date-time` format), not `pattern`.
fn violations(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        violations(doc, referenced(doc, reference), value, at, out);
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        violations(doc, part, value, at, out);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = schema.get(key).and_then(Value::as_array) {
            let outcomes: Vec<Vec<String>> = variants
                .iter()
                .map(|v| {
                    let mut errors = Vec::new();
                    violations(doc, v, value, at, &mut errors);
                    errors
                })
                .collect();
            let matching = outcomes.iter().filter(|e| e.is_empty()).count();
            if key == "oneOf" && matching > 1 {
                out.push(format!("{at}: matches {matching} of the oneOf variants"));
            } else if matching == 0 {
                out.push(format!("{at}: matches no {key} variant:"));
                for (i, errors) in outcomes.iter().enumerate() {
                    out.extend(errors.iter().map(|e| format!("  variant {i}: {e}")));
                }
            }
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
        out.push(format!(
            "{at}: {value} is not of type {}",
            types.join(" or ")
        ));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(n) = value.as_f64() {
        if schema["minimum"].as_f64().is_some_and(|min| n < min) {
            out.push(format!("{at}: {n} is below the minimum"));
        }
        if schema["maximum"].as_f64().is_some_and(|max| n > max) {
            out.push(format!("{at}: {n} is above the maximum"));
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if schema["minLength"].as_u64().is_some_and(|min| len < min) {
            out.push(format!("{at}: {s:?} is shorter than minLength"));
        }
        if schema["maxLength"].as_u64().is_some_and(|max| len > max) {
            out.push(format!("{at}: {s:?} is longer than maxLength"));
        }
        if schema["format"] == "date-time" && chrono::DateTime::parse_from_rfc3339(s).is_err() {
            out.push(format!("{at}: {s:?} is not an RFC 3339 date-time"));
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap();
            if !object.contains_key(name) {
                out.push(format!("{at}: lacks required `{name}`"));
            }
        }
        let properties = schema["properties"].as_object();
        for (name, v) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(property) => violations(doc, property, v, &format!("{at}.{name}"), out),
                None if schema["additionalProperties"] == false => {
                    out.push(format!("{at}: unknown property `{name}`"));
                }
                None => {}
            }
        }
    }
    if let (Some(list), Some(items)) = (value.as_array(), schema.get("items")) {
        for (i, v) in list.iter().enumerate() {
            violations(doc, items, v, &format!("{at}[{i}]"), out);
        }
    }
}

/// Collects `(where, schema, example)` for every example under `node`: a
/// media type's or a parameter's illustrate its `schema`, a schema's itself.
fn collect_examples<'a>(node: &'a Value, at: &str, out: &mut Vec<(String, &'a Value, &'a Value)>) {
    match node {
        Value::Object(object) => {
            let schema = object.get("schema").unwrap_or(node);
            if let Some(example) = object.get("example") {
                out.push((format!("{at}/example"), schema, example));
            }
            match object.get("examples") {
                Some(Value::Array(list)) => {
                    for (i, example) in list.iter().enumerate() {
                        out.push((format!("{at}/examples/{i}"), schema, example));
                    }
                }
                Some(Value::Object(named)) => {
                    for (name, example) in named {
                        if let Some(value) = example.get("value") {
                            out.push((format!("{at}/examples/{name}"), schema, value));
                        }
                    }
                }
                _ => {}
            }
            for (key, child) in object {
                match (key.as_str(), child) {
                    ("example" | "examples", _) => {}
                    // A map of names to schemas, not a schema: a property
                    // called `example` is not an example.
                    ("properties", Value::Object(properties)) => {
                        for (name, property) in properties {
                            collect_examples(property, &format!("{at}/properties/{name}"), out);
                        }
                    }
                    _ => collect_examples(child, &format!("{at}/{key}"), out),
                }
            }
        }
        Value::Array(list) => {
            for (i, child) in list.iter().enumerate() {
                collect_examples(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A wrong example misleads clients and the CI's schemathesis run: each one
/// in the document must be valid against the schema it illustrates.
#[tokio::test]
async fn every_example_matches_its_schema() {
    let doc = document().await;
    let mut found = Vec::new();
    collect_examples(&doc, "", &mut found);
    assert!(found.len() > 50, "only {} examples found", found.len());
    let mut invalid = Vec::new();
    for (at, schema, example) in found {
        violations(&doc, schema, example, &at, &mut invalid);
    }
    assert!(
        invalid.is_empty(),
        "examples that do not match their schema:\n  {}",
        invalid.join("\n  ")
    );
}

#[tokio::test]
async fn the_webhook_payload_is_documented() {
    let doc = document().await;
    let post = &doc["webhooks"]["event"]["post"];
    let headers: Vec<&str> = post["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        headers,
        [
            "X-Lead-Routing-Event",
            "X-Lead-Routing-Delivery",
            "X-Lead-Routing-Signature"
        ]
    );
    let shapes = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
        .as_array()
        .unwrap();
    for shape in shapes {
        let name = shape["$ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{name} is in the components"
        );
    }
    let event = &doc["components"]["schemas"]["EventDto"]["properties"];
    for field in [
        "id",
        "type",
        "createdAt",
        "orgId",
        "actor",
        "subject",
        "data",
    ] {
        assert!(event[field].is_object(), "EventDto.{field}");
    }
}

#[tokio::test]
async fn every_operation_has_a_unique_method_like_operation_id() {
    let doc = document().await;
    let mut seen = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                !id.is_empty()
                    && id.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    && !id.starts_with('_')
                    && !id.ends_with('_'),
                "{method} {path}: operationId `{id}` is not a snake_case name"
            );
            assert!(
                seen.insert(id.to_owned()),
                "operationId `{id}` is used twice"
            );
        }
    }
    // Stable names, as clients call them (a change is a breaking change).
    for id in [
        "list_agents",
        "create_lead",
        "approve_proposal",
        "list_webhook_deliveries",
    ] {
        assert!(seen.contains(id), "{id}");
    }
}
