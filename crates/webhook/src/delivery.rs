//! Deliveries: one per event and endpoint, made in the transaction that
//! writes the event (the outbox), sent at least once, retried with
//! exponential backoff and jitter, and given up after a day.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use events::{Event, EventId};
use tenancy::{OrgId, prefixed_id};

use crate::{Webhook, WebhookId};

prefixed_id!(
    /// The id of a delivery (`dlv_...`).
    DeliveryId,
    "dlv"
);

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Not delivered yet: waiting for its (next) attempt.
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Given up: the endpoint answered 410, or a day of retries failed.
    Failed,
}

impl DeliveryStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Parses a wire name.
    ///
    /// # Errors
    /// When unknown.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "failed" => Ok(DeliveryStatus::Failed),
            _ => Err("must be pending, delivered or failed"),
        }
    }
}

/// One event to one endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// Primary key.
    pub id: DeliveryId,
    /// Owner organization.
    pub org_id: OrgId,
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// The event (its id is the `X-Lead-Routing-Delivery` header).
    pub event_id: EventId,
    /// The event's type.
    pub event_type: String,
    /// Deliveries with the same key go to the endpoint in event order: the
    /// lead the event belongs to, else the event itself.
    pub ordering_key: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (while pending).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last answer's status code.
    pub last_status_code: Option<u16>,
    /// The last failure, in words.
    pub last_error: Option<String>,
    /// How long the last attempt took.
    pub last_latency_ms: Option<u64>,
    /// When it was made (with its event).
    pub created_at: DateTime<Utc>,
    /// When the endpoint acknowledged it.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// The delivery of `event` to `webhook`, due at once.
    pub fn of(event: &Event, webhook: &WebhookId) -> Self {
        Self {
            id: DeliveryId::generate(),
            org_id: event.org_id.clone(),
            webhook_id: webhook.clone(),
            event_id: event.id.clone(),
            event_type: event.kind.clone(),
            ordering_key: event
                .lead_id
                .clone()
                .unwrap_or_else(|| event.id.to_string()),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: Some(event.created_at),
            last_status_code: None,
            last_error: None,
            last_latency_ms: None,
            created_at: event.created_at,
            delivered_at: None,
        }
    }
}

/// One attempt, as the deliveries list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// Its delivery.
    pub delivery_id: DeliveryId,
    /// 1 for the first.
    pub number: u32,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The answer's status code, if one came.
    pub status_code: Option<u16>,
    /// How long it took.
    pub latency_ms: u64,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// What an attempt got back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP answer with this status.
    Status(u16),
    /// No answer: connection refused, timeout, a refused address.
    Transport(String),
}

/// How retries are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first retry comes this long (±20 %) after the first attempt;
    /// each next one twice as long.
    pub base: Duration,
    /// The longest wait between two attempts.
    pub max_interval: Duration,
    /// A delivery still failing this long after its event is given up, and
    /// an endpoint failing this long is turned off.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(15),
            max_interval: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based), with
    /// `jitter` in `[0, 1)` spreading it over ±20 %.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        let wait = self.base.saturating_mul(doubling).min(self.max_interval);
        wait.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
    }
}

/// What to write after an attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The delivery's new status.
    pub status: DeliveryStatus,
    /// When to try again (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The endpoint's failure streak start (`None`: it just worked).
    pub failing_since: Option<DateTime<Utc>>,
    /// Turn the endpoint off, for this reason.
    pub disable: Option<String>,
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// Decides what an attempt's `outcome` means: a 2xx delivers; a 410 gives
/// up and turns the endpoint off; anything else retries with backoff until
/// the delivery is [`RetryPolicy::give_up_after`] old, and an endpoint that
/// has failed that long is turned off.
pub fn judge(
    delivery: &Delivery,
    webhook: &Webhook,
    outcome: &Outcome,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
    jitter: f64,
) -> Verdict {
    if let Outcome::Status(code) = outcome
        && (200..300).contains(code)
    {
        return Verdict {
            status: DeliveryStatus::Delivered,
            next_attempt_at: None,
            failing_since: None,
            disable: None,
        };
    }
    let failing_since = Some(webhook.failing_since.unwrap_or(now));
    if outcome == &Outcome::Status(410) {
        return Verdict {
            status: DeliveryStatus::Failed,
            next_attempt_at: None,
            failing_since,
            disable: Some("the endpoint answered 410 Gone".into()),
        };
    }
    let give_up = delta(policy.give_up_after);
    let disable = failing_since
        .filter(|since| now - *since >= give_up)
        .map(|_| "every delivery failed for 24 hours".to_owned());
    if now - delivery.created_at >= give_up || disable.is_some() {
        return Verdict {
            status: DeliveryStatus::Failed,
            next_attempt_at: None,
            failing_since,
            disable,
        };
    }
    let attempt = delivery.attempts.saturating_add(1);
    Verdict {
        status: DeliveryStatus::Pending,
        next_attempt_at: Some(now + delta(policy.delay(attempt, jitter))),
        failing_since,
        disable: None,
    }
}
