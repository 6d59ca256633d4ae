//! What every mode sends: the same varied leads, the same request mix, the
//! same clock.

use std::time::{Duration, Instant};

use lead::NewLeadInput;
use serde_json::{Map, Value, json};

/// Every `LIST_EVERY`-th request of a worker lists proposals; the others
/// post a lead.
pub const LIST_EVERY: u64 = 10;

/// Page size of the proposal listings.
pub const LIST_LIMIT: i64 = 50;

const COUNTRIES: [&str; 8] = ["FR", "DE", "US", "GB", "ES", "IT", "BR", "JP"];
const SOURCES: [&str; 4] = ["web", "event", "partner", "referral"];
const PLANS: [&str; 3] = ["free", "pro", "team"];

/// The `n`-th lead of a run: unique name and `externalId`, fields varied so
/// that no two consecutive leads look alike.
pub fn lead_input(run: &str, worker: usize, n: u64) -> NewLeadInput {
    let mut fields = Map::new();
    fields.insert("plan".into(), json!(PLANS[(n % 3) as usize]));
    fields.insert("seats".into(), json!(1 + n % 250));
    NewLeadInput {
        external_id: Some(format!("{run}-{worker}-{n}")),
        name: format!("Prospect {worker}-{n}"),
        email: Some(format!("p{worker}x{n}@company{}.test", n % 97)),
        phone: n
            .is_multiple_of(2)
            .then(|| format!("+33 1 {:02} {:02} {:02}", n % 100, worker % 100, n % 61)),
        company: Some(format!("Company {}", n % 97)),
        source: Some(SOURCES[(n % 4) as usize].into()),
        region: Some(if n.is_multiple_of(3) { "EMEA" } else { "AMER" }.into()),
        country: Some(COUNTRIES[(n % 8) as usize].into()),
        score: Some(i64::try_from(n % 101).unwrap_or(0)),
        fields: Some(fields),
    }
}

/// The JSON body of `POST /leads` for `input` (camelCase, nulls left out).
pub fn lead_json(input: &NewLeadInput) -> Value {
    let mut body = Map::new();
    let mut put = |key: &str, value: &Option<String>| {
        if let Some(v) = value {
            body.insert(key.into(), json!(v));
        }
    };
    put("externalId", &input.external_id);
    put("email", &input.email);
    put("phone", &input.phone);
    put("company", &input.company);
    put("source", &input.source);
    put("region", &input.region);
    put("country", &input.country);
    body.insert("name".into(), json!(input.name));
    if let Some(score) = input.score {
        body.insert("score".into(), json!(score));
    }
    if let Some(fields) = &input.fields {
        body.insert("fields".into(), Value::Object(fields.clone()));
    }
    Value::Object(body)
}

/// A short random tag naming one run (org names, `externalId`s).
pub fn run_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// Parses `20s`, `500ms`, `2m` or a bare number of seconds.
///
/// # Errors
/// A message for anything else.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (number, unit) = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((raw, "s"), |i| raw.split_at(i));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{raw}` is not a duration like 20s, 500ms or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        _ => return Err(format!("`{raw}`: unknown unit `{unit}` (ms, s, m)")),
    };
    if !(seconds.is_finite() && seconds >= 0.0) {
        return Err(format!("`{raw}` is not a duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The measurement window of a run: requests started before `start` are a
/// warm-up, none starts after `end`.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Recording starts here.
    pub start: Instant,
    /// No request starts after this.
    pub end: Instant,
}

impl Window {
    /// A window opening after `warmup` and lasting `duration`.
    pub fn after(warmup: Duration, duration: Duration) -> Self {
        let start = Instant::now() + warmup;
        Self {
            start,
            end: start + duration,
        }
    }

    /// Whether a worker may start another request.
    pub fn open(&self) -> bool {
        Instant::now() < self.end
    }

    /// Whether a request that started at `began` counts.
    pub fn counts(&self, began: Instant) -> bool {
        began >= self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3h").is_err());
    }

    #[test]
    fn leads_are_valid_and_unique() {
        let a = lead_input("run", 1, 7);
        let b = lead_input("run", 1, 8);
        assert_ne!(a.external_id, b.external_id);
        assert!(lead::NewLead::parse(a.clone()).is_ok());
        let body = lead_json(&a);
        assert_eq!(body["externalId"], json!("run-1-7"));
        assert_eq!(body["fields"]["plan"], json!("pro"));
    }
}
