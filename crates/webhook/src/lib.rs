//! Webhooks of Lead Routing: an organization's endpoints, and how events
//! reach them.
//!
//! - [`Webhook`]: an endpoint (`url`, the [`EventPattern`]s it wants, JSON or
//!   Slack [`WebhookFormat`], a [`WebhookSecret`]); [`WebhookChange`]
//!   validates what a client sends, [`UrlPolicy`] which addresses are
//!   allowed (https and public addresses only in production: SSRF).
//! - [`Delivery`]: one event to one endpoint, made by the storage adapter
//!   in the transaction that writes the event (the outbox); [`judge`]
//!   decides what an attempt means (delivered, retried with
//!   [`RetryPolicy`] backoff and jitter, given up, endpoint turned off).
//! - [`signature`]: `X-Lead-Routing-Signature: t=..,v1=..`, HMAC-SHA256 of
//!   `"<t>.<raw body>"`.
//! - [`slack_text`]: the sentence a Slack incoming webhook shows.
//! - [`WebhookService`]: the admins' use cases; [`ports`]: what storage
//!   implements, including the sender's [`ports::DeliveryQueue`].
//!
//! ```
//! use webhook::{EventPattern, UrlPolicy};
//!
//! let family = EventPattern::parse("proposal.*").unwrap();
//! assert!(family.matches("proposal.expired") && !family.matches("lead.routed"));
//! assert!(EventPattern::parse("lead.routd").is_err(), "a typo is refused");
//! assert!(UrlPolicy::STRICT.check("http://example.com/hook").is_err());
//! assert!(UrlPolicy::STRICT.check("https://10.0.0.5/hook").is_err());
//! assert!(UrlPolicy::STRICT.check("https://hooks.slack.com/services/T/B/X").is_ok());
//! ```

mod delivery;
mod model;
pub mod ports;
mod service;
pub mod signature;
mod slack;

pub use delivery::{
    Attempt, Delivery, DeliveryId, DeliveryStatus, Outcome, RetryPolicy, Verdict, judge,
};
pub use model::{
    EventPattern, MAX_DESCRIPTION_CHARS, MAX_EVENT_PATTERNS, MAX_URL_CHARS, UrlPolicy, Webhook,
    WebhookChange, WebhookFormat, WebhookId, WebhookInput, WebhookSecret, is_public,
};
pub use service::{WebhookError, WebhookService};
pub use slack::{Names, slack_text};

/// The event a test ping carries; delivered only to the endpoint tested.
pub const TEST_EVENT: &str = events::types::WEBHOOK_TEST;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::{net::IpAddr, time::Duration};

    use chrono::{TimeDelta, TimeZone, Utc};
    use tenancy::OrgId;

    use super::*;

    fn input(url: &str, events: &[&str]) -> WebhookInput {
        WebhookInput {
            url: Some(url.into()),
            events: Some(events.iter().map(|e| (*e).to_owned()).collect()),
            ..Default::default()
        }
    }

    fn fields(e: &tenancy::ValidationErrors) -> Vec<String> {
        e.fields().iter().map(|f| f.field.clone()).collect()
    }

    #[test]
    fn production_takes_public_https_only_and_development_anything() {
        for bad in [
            "http://example.com/h",
            "https://127.0.0.1/h",
            "https://localhost:8080/h",
            "https://[::1]/h",
            "https://169.254.169.254/latest/meta-data",
            "https://192.168.1.10/h",
            "https://[fd00::1]/h",
            "https://[::ffff:10.0.0.1]/h",
            "https://user:pw@example.com/h",
            "ftp://example.com/h",
            "not a url",
        ] {
            assert!(UrlPolicy::STRICT.check(bad).is_err(), "{bad}");
        }
        let dev = UrlPolicy {
            allow_http: true,
            allow_private: true,
        };
        assert!(dev.check("http://127.0.0.1:9000/h").is_ok());
        assert!(UrlPolicy::STRICT.check("https://93.184.216.34/h").is_ok());
        for ip in ["10.1.2.3", "100.64.0.1", "0.0.0.0", "fe80::1", "::1"] {
            assert!(!is_public(ip.parse::<IpAddr>().unwrap()), "{ip}");
        }
    }

    #[test]
    fn every_field_error_is_reported_at_once() {
        let e = WebhookChange::parse(
            WebhookInput {
                url: Some("http://x".into()),
                events: Some(vec!["lead.routed".into(), "nope".into()]),
                description: Some(Some("d".repeat(501))),
                format: Some("xml".into()),
                is_active: None,
            },
            true,
            &UrlPolicy::STRICT,
        )
        .unwrap_err();
        assert_eq!(fields(&e), ["url", "events[1]", "description", "format"]);
        let e =
            WebhookChange::parse(WebhookInput::default(), true, &UrlPolicy::STRICT).unwrap_err();
        assert_eq!(fields(&e), ["url", "events"]);
        let e = WebhookChange::parse(input("https://example.com", &[]), true, &UrlPolicy::STRICT)
            .unwrap_err();
        assert_eq!(fields(&e), ["events"]);
    }

    fn webhook(patterns: &[&str]) -> Webhook {
        WebhookChange::parse(
            input("https://example.com/h", patterns),
            true,
            &UrlPolicy::STRICT,
        )
        .unwrap()
        .into_webhook(OrgId::default_org(), Utc::now())
        .unwrap()
    }

    #[test]
    fn an_endpoint_wants_what_its_patterns_match_while_active() {
        let mut w = webhook(&["lead.routed", "proposal.*"]);
        assert!(w.wants("lead.routed") && w.wants("proposal.expired"));
        assert!(!w.wants("lead.created"));
        assert!(!w.wants(TEST_EVENT), "test pings go to one endpoint only");
        assert!(webhook(&["*"]).wants("lead.created"));
        w.is_active = false;
        assert!(!w.wants("lead.routed"));
        assert!(w.secret.expose().starts_with("whsec_") && w.secret.expose().len() == 70);
        assert_eq!(format!("{:?}", w.secret), "WebhookSecret(..)");
    }

    #[test]
    fn retries_back_off_with_jitter_and_give_up_after_a_day() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1, 0.5), Duration::from_secs(15));
        assert!(
            policy.delay(1, 0.999) < Duration::from_secs(30),
            "first retry within 30 s"
        );
        assert_eq!(policy.delay(2, 0.5), Duration::from_secs(30));
        assert_eq!(policy.delay(30, 0.5), Duration::from_secs(3600));
        let w = webhook(&["*"]);
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let event = events::NewEvent::new("lead.routed", events::Subject::lead("lead_1"), t0)
            .of_lead("lead_1")
            .stamp(&tenancy::TenantScope::system(OrgId::default_org()));
        let d = Delivery::of(&event, &w.id);
        assert_eq!(d.ordering_key, "lead_1");
        let ok = judge(&d, &w, &Outcome::Status(204), t0, &policy, 0.5);
        assert_eq!(
            (ok.status, ok.failing_since),
            (DeliveryStatus::Delivered, None)
        );
        let retry = judge(&d, &w, &Outcome::Status(500), t0, &policy, 0.5);
        assert_eq!(retry.status, DeliveryStatus::Pending);
        assert_eq!(retry.next_attempt_at, Some(t0 + TimeDelta::seconds(15)));
        assert_eq!(retry.failing_since, Some(t0));
        let gone = judge(&d, &w, &Outcome::Status(410), t0, &policy, 0.5);
        assert_eq!(gone.status, DeliveryStatus::Failed);
        assert!(gone.disable.is_some());
        let day = t0 + TimeDelta::hours(24);
        let late = judge(
            &d,
            &w,
            &Outcome::Transport("refused".into()),
            day,
            &policy,
            0.5,
        );
        assert_eq!(late.status, DeliveryStatus::Failed);
        let mut failing = w.clone();
        failing.failing_since = Some(t0);
        let off = judge(&d, &failing, &Outcome::Status(503), day, &policy, 0.5);
        assert_eq!(
            off.disable.as_deref(),
            Some("every delivery failed for 24 hours")
        );
    }
}
