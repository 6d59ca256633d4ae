//! Webhook endpoints: what an organization subscribes to, where, and how
//! the address is checked.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use tenancy::{FieldError, OrgId, ValidationErrors, prefixed_id};
use url::{Host, Url};

prefixed_id!(
    /// The id of a webhook endpoint (`whk_...`).
    WebhookId,
    "whk"
);

/// The longest endpoint URL.
pub const MAX_URL_CHARS: usize = 2048;
/// The most event patterns one endpoint may list.
pub const MAX_EVENT_PATTERNS: usize = 50;
/// The longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// What a delivery's body looks like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WebhookFormat {
    /// The event itself: `{id, type, createdAt, orgId, actor, subject, data}`.
    #[default]
    Json,
    /// `{"text": "..."}`: a readable sentence, for a Slack incoming webhook.
    Slack,
}

impl WebhookFormat {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Slack => "slack",
        }
    }

    /// Parses a wire name.
    ///
    /// # Errors
    /// When the name is unknown.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        match s {
            "json" => Ok(WebhookFormat::Json),
            "slack" => Ok(WebhookFormat::Slack),
            _ => Err("must be json or slack"),
        }
    }
}

/// Which events an endpoint receives: `*`, a type (`lead.routed`) or a
/// family (`proposal.*`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EventPattern(String);

impl EventPattern {
    /// Parses a pattern; it must name at least one type of the catalogue
    /// ([`events::types::ALL`]), so that a typo is refused, not silent.
    ///
    /// # Errors
    /// A message saying what is accepted.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        let known = |p: &str| {
            events::types::ALL
                .iter()
                .any(|t| match p.strip_suffix('*') {
                    Some(prefix) => prefix.ends_with('.') && t.starts_with(prefix),
                    None => *t == p,
                })
        };
        if raw == "*" || known(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be *, an event type (lead.routed) or a family (proposal.*) of the catalogue")
        }
    }

    /// Whether events of type `kind` match.
    pub fn matches(&self, kind: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => kind.starts_with(prefix),
            None => self.0 == kind,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A signing secret (`whsec_` and 64 hex digits): shown once when made or
/// rotated, then used only to sign deliveries. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// A fresh secret of 256 random bits.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        // The thread-local generator is a ChaCha CSPRNG seeded from the OS.
        rand::fill(&mut bytes);
        Self(format!("whsec_{}", hex::encode(bytes)))
    }

    /// A stored secret.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    /// The secret itself: to sign, to store, or to show once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// An organization's webhook endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Webhook {
    /// Primary key.
    pub id: WebhookId,
    /// Owner organization.
    pub org_id: OrgId,
    /// Where deliveries are posted.
    pub url: String,
    /// Which events it receives.
    pub events: Vec<EventPattern>,
    /// What it is for.
    pub description: Option<String>,
    /// The body's shape.
    pub format: WebhookFormat,
    /// Whether deliveries are made (an endpoint answering 410, or failing
    /// for a day, is turned off).
    pub is_active: bool,
    /// Signs deliveries.
    pub secret: WebhookSecret,
    /// Why it was turned off by the sender, when it was.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed (`None` after a success).
    pub failing_since: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    /// Whether an event of type `kind` is delivered to this endpoint.
    pub fn wants(&self, kind: &str) -> bool {
        self.is_active && kind != crate::TEST_EVENT && self.events.iter().any(|p| p.matches(kind))
    }
}

/// Which endpoint addresses are accepted. The same rules are applied again
/// to the addresses a host name resolves to, at every delivery, so a name
/// that later points inside the network is refused then (SSRF).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UrlPolicy {
    /// `http://` as well as `https://` (development only).
    pub allow_http: bool,
    /// Loopback, private, link-local and other non-public addresses.
    pub allow_private: bool,
}

impl UrlPolicy {
    /// Production: https only, public addresses only.
    pub const STRICT: UrlPolicy = UrlPolicy {
        allow_http: false,
        allow_private: false,
    };

    /// Whether a delivery may connect to `ip`.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }

    /// Checks an endpoint address.
    ///
    /// # Errors
    /// Why it is refused.
    pub fn check(&self, raw: &str) -> Result<Url, String> {
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(format!("must be at most {MAX_URL_CHARS} characters"));
        }
        let url = Url::parse(raw.trim()).map_err(|e| format!("is not a URL ({e})"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err("must use https".into()),
            _ => return Err("must be an https:// URL".into()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials; the signature authenticates us".into());
        }
        let private = match url.host() {
            None => return Err("must have a host".into()),
            Some(Host::Ipv4(ip)) => !is_public(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => !is_public(IpAddr::V6(ip)),
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost") || name.ends_with(".internal")
            }
        };
        if private && !self.allow_private {
            return Err("must not point at a loopback, private or link-local address".into());
        }
        Ok(url)
    }
}

/// Whether `ip` is a public unicast address (not loopback, private,
/// link-local, shared, documentation, multicast or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// An endpoint as a client sends it, before validation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebhookInput {
    /// See [`Webhook::url`].
    pub url: Option<String>,
    /// See [`Webhook::events`].
    pub events: Option<Vec<String>>,
    /// See [`Webhook::description`]; `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// See [`Webhook::format`].
    pub format: Option<String>,
    /// See [`Webhook::is_active`]; turning it on again clears the failure.
    pub is_active: Option<bool>,
}

/// A validated change to an endpoint (every field optional on update).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebhookChange {
    url: Option<String>,
    events: Option<Vec<EventPattern>>,
    description: Option<Option<String>>,
    format: Option<WebhookFormat>,
    is_active: Option<bool>,
}

impl WebhookChange {
    /// Validates `input`: every field error at once. `creating` requires
    /// `url` and `events`.
    ///
    /// # Errors
    /// One error per invalid field (`url`, `events`, `events[i]`,
    /// `description`, `format`).
    pub fn parse(
        input: WebhookInput,
        creating: bool,
        policy: &UrlPolicy,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let url = match input.url {
            Some(raw) => match policy.check(&raw) {
                Ok(url) => Some(url.to_string()),
                Err(why) => {
                    errors.push(FieldError::new("url", why));
                    None
                }
            },
            None => {
                if creating {
                    errors.push(FieldError::new("url", "is required"));
                }
                None
            }
        };
        let events = match input.events {
            Some(list) if list.is_empty() => {
                errors.push(FieldError::new(
                    "events",
                    "must list at least one event (or *)",
                ));
                None
            }
            Some(list) if list.len() > MAX_EVENT_PATTERNS => {
                errors.push(FieldError::new(
                    "events",
                    format!("must list at most {MAX_EVENT_PATTERNS} patterns"),
                ));
                None
            }
            Some(list) => {
                let mut patterns = Vec::new();
                for (i, raw) in list.iter().enumerate() {
                    match EventPattern::parse(raw) {
                        Ok(p) if !patterns.contains(&p) => patterns.push(p),
                        Ok(_) => {}
                        Err(why) => errors.push(FieldError::new(format!("events[{i}]"), why)),
                    }
                }
                Some(patterns)
            }
            None => {
                if creating {
                    errors.push(FieldError::new("events", "is required"));
                }
                None
            }
        };
        let description = input
            .description
            .map(|d| d.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()));
        if let Some(Some(d)) = &description
            && d.chars().count() > MAX_DESCRIPTION_CHARS
        {
            errors.push(FieldError::new(
                "description",
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        let format = match input.format.as_deref().map(WebhookFormat::parse) {
            Some(Ok(f)) => Some(f),
            Some(Err(why)) => {
                errors.push(FieldError::new("format", why));
                None
            }
            None => None,
        };
        errors.into_result(Self {
            url,
            events,
            description,
            format,
            is_active: input.is_active,
        })
    }

    /// A new endpoint from a creating change, with a fresh secret.
    ///
    /// # Errors
    /// `url` or `events` when the change was not parsed as creating.
    pub fn into_webhook(
        self,
        org_id: OrgId,
        now: DateTime<Utc>,
    ) -> Result<Webhook, ValidationErrors> {
        let (Some(url), Some(events)) = (self.url, self.events) else {
            return Err(ValidationErrors::single("url", "is required"));
        };
        Ok(Webhook {
            id: WebhookId::generate(),
            org_id,
            url,
            events,
            description: self.description.flatten(),
            format: self.format.unwrap_or_default(),
            is_active: self.is_active.unwrap_or(true),
            secret: WebhookSecret::generate(),
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        })
    }

    /// Applies the change; `true` when something changed.
    pub fn apply(self, w: &mut Webhook, now: DateTime<Utc>) -> bool {
        let before = w.clone();
        if let Some(url) = self.url {
            w.url = url;
        }
        if let Some(events) = self.events {
            w.events = events;
        }
        if let Some(description) = self.description {
            w.description = description;
        }
        if let Some(format) = self.format {
            w.format = format;
        }
        if let Some(active) = self.is_active {
            if active && !w.is_active {
                // Turned on again by a person: the failure streak starts over.
                w.disabled_reason = None;
                w.failing_since = None;
            }
            w.is_active = active;
        }
        let changed = *w != before;
        if changed {
            w.updated_at = now;
        }
        changed
    }
}
