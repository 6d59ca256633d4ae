//! A webhook receiver for the tests: a real HTTP server on a random port
//! that records every request and answers with the statuses it is told
//! (200 once they run out).

use std::{
    collections::{HashMap, VecDeque},
    net::TcpListener,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::Value;

/// One request received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Scripted answers per path.
    answers: HashMap<String, VecDeque<u16>>,
}

/// The receiver; it stops with the test's runtime.
#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        let server = HttpServer::new(move || {
            let state = shared.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let state = state.clone();
                async move {
                    let mut s = state.lock().unwrap();
                    let path = req.path().to_owned();
                    s.received.push(Received {
                        path: path.clone(),
                        headers: req
                            .headers()
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                            })
                            .collect(),
                        body: body.to_vec(),
                    });
                    let status = s
                        .answers
                        .get_mut(&path)
                        .and_then(VecDeque::pop_front)
                        .unwrap_or(200);
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                        .finish()
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self { base, state }
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The next answers to requests on `path`.
    pub fn answer(&self, path: &str, statuses: &[u16]) {
        self.state
            .lock()
            .unwrap()
            .answers
            .entry(path.to_owned())
            .or_default()
            .extend(statuses);
    }

    /// Everything received on `path` so far.
    pub fn received(&self, path: &str) -> Vec<Received> {
        self.state
            .lock()
            .unwrap()
            .received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// What `path` received once `done` holds of it; fails after 20 s.
    pub async fn wait_for(&self, path: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.received(path);
            if done(&got) {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{path} never got there; received {} requests: {:?}",
                got.len(),
                got.iter()
                    .map(|r| r.header("x-lead-routing-event").to_owned())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
