//! `loadgen batch`: concurrent clients sending `POST /leads/batch`, each
//! request `--size` new leads, against an organization whose leads route
//! (an API key, e.g. from `limit.py api-setup`). Reports leads routed per
//! second; a lead's latency is its batch request's.

use std::{sync::Arc, time::Instant};

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::{
    Error, RunArgs,
    report::{Kind, Recorder, RunMeta},
    workload::{Window, lead_input, lead_json, run_tag},
};

/// Options of `loadgen batch`.
#[derive(Debug, clap::Args)]
pub struct BatchArgs {
    /// Base URL of the running server.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// An API key (manager or admin) of an organization whose leads route
    /// somewhere.
    #[arg(long, env = "LOADGEN_API_KEY")]
    api_key: String,
    /// Leads per request (the server takes at most 1,000).
    #[arg(long, default_value_t = 1000)]
    size: usize,
    #[command(flatten)]
    run: RunArgs,
}

/// Runs `loadgen batch`.
///
/// # Errors
/// A transport failure building the client or an unwritable report.
pub async fn run(args: BatchArgs) -> Result<(), Error> {
    let base: Arc<str> = args.url.trim_end_matches('/').into();
    let client = Client::builder()
        .pool_max_idle_per_host(args.run.concurrency)
        .timeout(std::time::Duration::from_secs(120))
        .build()?;
    let tag = run_tag();
    let key: Arc<str> = args.api_key.into();
    let window = Window::after(args.run.warmup, args.run.duration);
    let workers: Vec<_> = (0..args.run.concurrency)
        .map(|id| {
            tokio::spawn(worker(
                client.clone(),
                format!("{base}/leads/batch"),
                key.clone(),
                format!("{tag}b"),
                id,
                args.size,
                window,
            ))
        })
        .collect();
    let mut total = Recorder::default();
    for w in workers {
        total.merge(&w.await?);
    }
    let elapsed = Instant::now().saturating_duration_since(window.start);
    let meta = RunMeta {
        mode: "batch".into(),
        label: if args.run.label.is_empty() {
            format!("{base}, {} leads per request", args.size)
        } else {
            args.run.label.clone()
        },
        auth: Some("api-key".into()),
        concurrency: args.run.concurrency,
    };
    total
        .report(meta, elapsed, None)
        .emit(args.run.json, args.run.json_out.as_deref())
}

/// One client: a batch at a time until the window closes.
async fn worker(
    client: Client,
    url: String,
    key: Arc<str>,
    run: String,
    id: usize,
    size: usize,
    window: Window,
) -> Recorder {
    let mut rec = Recorder::default();
    let mut n: u64 = 0;
    while window.open() {
        let leads: Vec<Value> = (0..size)
            .map(|_| {
                n += 1;
                lead_json(&lead_input(&run, id, n))
            })
            .collect();
        let began = Instant::now();
        let outcome = client
            .post(&url)
            .header("x-api-key", key.as_ref())
            .json(&json!({ "leads": leads }))
            .send()
            .await;
        let answer = match outcome {
            Ok(res) => {
                let status = res.status();
                res.json::<Value>().await.map(|body| (status, body))
            }
            Err(e) => Err(e),
        };
        if !window.counts(began) {
            continue;
        }
        let latency = began.elapsed();
        match answer {
            Ok((StatusCode::OK, body)) => {
                let results = body
                    .pointer("/data/results")
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice);
                for result in results {
                    match result.get("status").and_then(Value::as_u64) {
                        Some(201) => rec.ingested(latency, true),
                        Some(200) => rec.ingested(latency, false),
                        other => rec.failed(Kind::Ingest, format!("lead {other:?}")),
                    }
                }
            }
            Ok((status, _)) => rec.failed(Kind::Ingest, status.as_u16()),
            Err(e) if e.is_timeout() => rec.failed(Kind::Ingest, "timeout"),
            Err(_) => rec.failed(Kind::Ingest, "transport"),
        }
    }
    rec
}
