//! Recording latencies and printing the report every mode shares.

use std::{collections::BTreeMap, path::Path, time::Duration};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::{Error, cpu::CpuUse};

/// Latencies in microseconds, from 1 µs to 10 minutes, 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// What one worker saw; merged at the end.
#[derive(Debug)]
pub struct Recorder {
    ingest: Histogram<u64>,
    list: Histogram<u64>,
    /// Leads created (201, or a fresh row in the raw mode).
    created: u64,
    /// Leads answered as known (`externalId` replay: 200).
    replayed: u64,
    errors: BTreeMap<String, u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            ingest: histogram(),
            list: histogram(),
            created: 0,
            replayed: 0,
            errors: BTreeMap::new(),
        }
    }
}

/// The two kinds of request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `POST /leads` / `RoutingStore::ingest`.
    Ingest,
    /// `GET /manager/proposals` / `LeadRepository::list_proposals`.
    List,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Ingest => "ingest",
            Kind::List => "list",
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

impl Recorder {
    /// A successful ingestion that created a lead (`created`) or replayed one.
    pub fn ingested(&mut self, latency: Duration, created: bool) {
        self.ingest.saturating_record(micros(latency));
        if created {
            self.created += 1;
        } else {
            self.replayed += 1;
        }
    }

    /// A successful listing.
    pub fn listed(&mut self, latency: Duration) {
        self.list.saturating_record(micros(latency));
    }

    /// A failed request of `kind`, by cause (an HTTP status, `timeout`, ...).
    pub fn failed(&mut self, kind: Kind, cause: impl std::fmt::Display) {
        *self
            .errors
            .entry(format!("{} {cause}", kind.name()))
            .or_insert(0) += 1;
    }

    /// Adds another worker's recording to this one.
    pub fn merge(&mut self, other: &Recorder) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.ingest.add(&other.ingest);
        let _ = self.list.add(&other.list);
        self.created += other.created;
        self.replayed += other.replayed;
        for (cause, n) in &other.errors {
            *self.errors.entry(cause.clone()).or_insert(0) += n;
        }
    }

    /// The report of a run that measured for `elapsed`.
    pub fn report(&self, meta: RunMeta, elapsed: Duration, cpu: Option<CpuUse>) -> Report {
        let secs = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
        Report {
            mode: meta.mode,
            label: meta.label,
            auth: meta.auth,
            concurrency: meta.concurrency,
            duration_s: round3(secs),
            leads: self.created,
            replays: self.replayed,
            leads_per_s: round3(self.created as f64 / secs),
            lists: self.list.len(),
            requests_per_s: round3((self.ingest.len() + self.list.len()) as f64 / secs),
            ingest: Latency::of(&self.ingest),
            list: Latency::of(&self.list),
            errors: self.errors.clone(),
            error_total: self.errors.values().sum(),
            cpu,
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Who ran, how.
#[derive(Debug, Clone)]
pub struct RunMeta {
    /// `http` or `raw`.
    pub mode: String,
    /// Free text: the engine, the build, anything worth keeping.
    pub label: String,
    /// The credential used (HTTP only).
    pub auth: Option<String>,
    /// Requests in flight.
    pub concurrency: usize,
}

/// Percentiles of one kind of request, in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    /// Successful requests.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

impl Latency {
    /// Percentiles of a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| round3(us as f64 / 1000.0);
        if h.is_empty() {
            return Self {
                count: 0,
                p50_ms: 0.0,
                p90_ms: 0.0,
                p99_ms: 0.0,
                max_ms: 0.0,
                mean_ms: 0.0,
            };
        }
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
            mean_ms: round3(h.mean() / 1000.0),
        }
    }
}

/// The result of a load run (`http` or `raw`), as printed and as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// `http` or `raw`.
    pub mode: String,
    /// Free text given with `--label`.
    pub label: String,
    /// The credential the HTTP workers sent (`api-key` or `jwt`).
    pub auth: Option<String>,
    /// Requests in flight.
    pub concurrency: usize,
    /// Measured seconds (after the warm-up).
    pub duration_s: f64,
    /// Leads created and routed.
    pub leads: u64,
    /// Ingestions that found their `externalId` already stored.
    pub replays: u64,
    /// Leads created and routed per second.
    pub leads_per_s: f64,
    /// Proposal listings done.
    pub lists: u64,
    /// Successful requests of both kinds per second.
    pub requests_per_s: f64,
    /// Latency of ingestions.
    pub ingest: Latency,
    /// Latency of listings.
    pub list: Latency,
    /// Failures by kind and cause.
    pub errors: BTreeMap<String, u64>,
    /// All failures.
    pub error_total: u64,
    /// CPU use during the measured window.
    #[serde(default)]
    pub cpu: Option<CpuUse>,
}

impl Report {
    /// Prints the human-readable report.
    pub fn print(&self) {
        let auth = self
            .auth
            .as_deref()
            .map(|a| format!(", auth {a}"))
            .unwrap_or_default();
        println!(
            "== {} [{}] concurrency {}{auth}, measured {:.1} s",
            self.mode, self.label, self.concurrency, self.duration_s
        );
        println!(
            "leads routed: {} ({:.1}/s); listings: {}; requests: {:.1}/s; replays: {}",
            self.leads, self.leads_per_s, self.lists, self.requests_per_s, self.replays
        );
        println!(
            "{:<8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "request", "count", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms"
        );
        for (name, l) in [("ingest", &self.ingest), ("list", &self.list)] {
            println!(
                "{name:<8} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms
            );
        }
        if self.errors.is_empty() {
            println!("errors: none");
        } else {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(cause, n)| format!("{cause}: {n}"))
                .collect();
            println!("errors: {} ({})", self.error_total, list.join(", "));
        }
        if let Some(cpu) = &self.cpu {
            let show = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
            let own = if self.mode == "raw" {
                "this process (all of it)"
            } else {
                "loadgen"
            };
            println!(
                "cpu, in cores of {}: {own} {}, server {}, whole machine {}",
                cpu.cores,
                show(cpu.own_cores),
                show(cpu.server_cores),
                show(cpu.machine_cores)
            );
        }
    }

    /// The report as one line of JSON.
    pub fn json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Prints and, as asked, writes the JSON form.
    ///
    /// # Errors
    /// When `json_out` cannot be written.
    pub fn emit(&self, json: bool, json_out: Option<&Path>) -> Result<(), Error> {
        self.print();
        if json {
            println!("{}", self.json_line());
        }
        if let Some(path) = json_out {
            std::fs::write(path, self.json_line() + "\n")
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        Ok(())
    }

    /// Reads a report written with `--json-out`.
    ///
    /// # Errors
    /// An unreadable file or one that is not a report.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let line = text
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .ok_or_else(|| format!("{}: no JSON report in it", path.display()))?;
        Ok(serde_json::from_str(line)
            .map_err(|e| format!("{}: not a report: {e}", path.display()))?)
    }
}

/// Prints the API / raw comparison; returns the ratio of leads per second.
pub fn compare(api: &Report, raw: &Report) -> f64 {
    let ratio = if raw.leads_per_s > 0.0 {
        api.leads_per_s / raw.leads_per_s
    } else {
        0.0
    };
    println!(
        "{:<5} {:<28} {:>11} {:>11} {:>11} {:>11} {:>11} {:>7}",
        "", "label", "leads/s", "ingest p50", "ingest p99", "list p50", "list p99", "errors"
    );
    for (name, r) in [("API", api), ("raw", raw)] {
        println!(
            "{name:<5} {:<28} {:>11.1} {:>11.2} {:>11.2} {:>11.2} {:>11.2} {:>7}",
            r.label,
            r.leads_per_s,
            r.ingest.p50_ms,
            r.ingest.p99_ms,
            r.list.p50_ms,
            r.list.p99_ms,
            r.error_total
        );
    }
    let verdict = if ratio >= 0.7 {
        "meets the 70% target"
    } else {
        "below the 70% target"
    };
    println!("API/raw = {:.1}% ({verdict})", ratio * 100.0);
    ratio
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorders_merge_and_report() {
        let mut a = Recorder::default();
        a.ingested(Duration::from_millis(2), true);
        a.listed(Duration::from_millis(5));
        a.failed(Kind::Ingest, 500);
        let mut b = Recorder::default();
        b.ingested(Duration::from_millis(4), true);
        b.ingested(Duration::from_millis(4), false);
        b.failed(Kind::Ingest, 500);
        a.merge(&b);
        let meta = RunMeta {
            mode: "raw".into(),
            label: "t".into(),
            auth: None,
            concurrency: 2,
        };
        let r = a.report(meta, Duration::from_secs(2), None);
        assert_eq!((r.leads, r.replays, r.lists), (2, 1, 1));
        assert!((r.leads_per_s - 1.0).abs() < 1e-9);
        assert_eq!(r.errors.get("ingest 500"), Some(&2));
        assert_eq!(r.error_total, 2);
        assert!((r.ingest.max_ms - 4.0).abs() < 0.01);
        let back: Report = serde_json::from_str(&r.json_line()).unwrap();
        assert_eq!(back.leads, 2);
    }
}
