//! The webhook sender: a task beside the HTTP server that drains the
//! deliveries the outbox made, signs each body and posts it.
//!
//! At least once: a delivery is leased (its next attempt moved past this
//! attempt's timeout) before it is sent and recorded after, so a sender
//! that dies mid-way leaves it due again when the lease ends, and the
//! receiver deduplicates on `X-Lead-Routing-Delivery`. Several instances
//! lease disjoint deliveries (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
//! Addresses are checked again at every attempt, after DNS (a name that
//! now resolves inside the network is refused), and redirects are not
//! followed.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use events::Event;
use lead::{LeadId, LeadRepository};
use routing::{
    PoolId, RuleId,
    ports::{AgentRepository, PoolRepository, RuleRepository},
};
use tenancy::{AgentId, TenantScope};
use webhook::{
    Attempt, Names, Outcome, RetryPolicy, UrlPolicy, WebhookFormat, judge,
    ports::{Claimed, DeliveryQueue},
    signature,
};

use crate::{config::WebhookSettings, routes::audit::EventDto};

/// How often the sender looks for due deliveries when the last pass found
/// none to spare.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// The most deliveries one pass leases (and sends concurrently).
pub const BATCH: u64 = 32;

/// What the sender reads names from, for Slack sentences.
#[derive(Clone)]
pub struct NameSources {
    /// Leads.
    pub leads: Arc<dyn LeadRepository>,
    /// Agents.
    pub agents: Arc<dyn AgentRepository>,
    /// Pools.
    pub pools: Arc<dyn PoolRepository>,
    /// Rules.
    pub rules: Arc<dyn RuleRepository>,
}

impl std::fmt::Debug for NameSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameSources").finish_non_exhaustive()
    }
}

/// Posts due deliveries. Cheap to clone.
#[derive(Clone)]
pub struct Sender {
    queue: Arc<dyn DeliveryQueue>,
    names: NameSources,
    client: reqwest::Client,
    policy: UrlPolicy,
    retry: RetryPolicy,
    lease: Duration,
    enabled: bool,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("policy", &self.policy)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Resolves endpoint host names and keeps only the addresses the policy
/// allows, so a delivery never connects inside the network unless allowed.
struct GuardedResolver {
    policy: UrlPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| policy.allows_ip(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

impl Sender {
    /// A sender over `queue`, posting with `settings`.
    ///
    /// # Panics
    /// When the HTTP client cannot be built (no TLS backend): a build
    /// defect, not a runtime condition.
    pub fn new(
        queue: Arc<dyn DeliveryQueue>,
        names: NameSources,
        settings: &WebhookSettings,
    ) -> Self {
        let policy = UrlPolicy {
            allow_http: settings.allow_http,
            allow_private: settings.allow_private,
        };
        #[allow(clippy::expect_used)]
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("LeadRouting-Webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver { policy }))
            .build()
            .expect("the webhook HTTP client builds");
        Self {
            queue,
            names,
            client,
            policy,
            retry: RetryPolicy {
                base: settings.retry_base,
                ..RetryPolicy::default()
            },
            lease: settings.timeout + Duration::from_secs(5),
            enabled: settings.sender,
        }
    }

    /// One pass: leases what is due and sends it; the number sent.
    ///
    /// # Errors
    /// When the due deliveries cannot be leased.
    pub async fn pass(&self) -> Result<usize, tenancy::StorageError> {
        let now = tenancy::now();
        let lease = chrono::TimeDelta::from_std(self.lease).unwrap_or(chrono::TimeDelta::MAX);
        let claimed = self.queue.claim(now, now + lease, BATCH).await?;
        let sent = claimed.len();
        futures::future::join_all(claimed.iter().map(|c| self.deliver(c))).await;
        Ok(sent)
    }

    /// Passes until the task is aborted (with the server).
    pub async fn run(self) {
        if !self.enabled {
            return;
        }
        loop {
            match self.pass().await {
                // A full batch: more may be due at once.
                Ok(n) if n as u64 == BATCH => continue,
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "the webhook sender could not lease deliveries")
                }
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn deliver(&self, c: &Claimed) {
        let started = Instant::now();
        let at = tenancy::now();
        let outcome = match self.body(c).await {
            Ok(body) => self.post(c, body).await,
            Err(err) => Outcome::Transport(err),
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let attempt = Attempt {
            delivery_id: c.delivery.id.clone(),
            number: c.delivery.attempts.saturating_add(1),
            at,
            status_code: match &outcome {
                Outcome::Status(code) => Some(*code),
                Outcome::Transport(_) => None,
            },
            latency_ms,
            error: match &outcome {
                Outcome::Status(code) if (200..300).contains(code) => None,
                Outcome::Status(code) => Some(format!("the endpoint answered {code}")),
                Outcome::Transport(why) => Some(why.chars().take(500).collect()),
            },
        };
        let verdict = judge(
            &c.delivery,
            &c.webhook,
            &outcome,
            tenancy::now(),
            &self.retry,
            rand::random(),
        );
        tracing::info!(
            org_id = %c.delivery.org_id,
            webhook_id = %c.webhook.id,
            event_id = %c.event.id,
            attempt = attempt.number,
            status = attempt.status_code,
            result = verdict.status.as_str(),
            "webhook delivery"
        );
        if let Err(err) = self.queue.record(c, &attempt, &verdict).await {
            // The lease ends and the delivery is sent again: at least once.
            tracing::warn!(error = %err, delivery_id = %c.delivery.id, "a webhook attempt was not recorded");
        }
    }

    async fn post(&self, c: &Claimed, body: Vec<u8>) -> Outcome {
        // Names are checked by the resolver; an address written as an IP
        // never reaches it.
        let literal = reqwest::Url::parse(&c.webhook.url)
            .ok()
            .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_owned()))
            .and_then(|h| h.parse::<IpAddr>().ok());
        if let Some(ip) = literal
            && !self.policy.allows_ip(ip)
        {
            return Outcome::Transport(format!("{ip} is not a public address"));
        }
        let timestamp = c
            .event
            .created_at
            .timestamp()
            .max(tenancy::now().timestamp());
        let result = self
            .client
            .post(&c.webhook.url)
            .header("Content-Type", "application/json")
            .header(signature::EVENT_HEADER, &c.event.kind)
            .header(signature::DELIVERY_HEADER, c.event.id.as_str())
            .header(
                signature::SIGNATURE_HEADER,
                signature::sign(c.webhook.secret.expose(), timestamp, &body),
            )
            .body(body)
            .send()
            .await;
        match result {
            Ok(res) => Outcome::Status(res.status().as_u16()),
            Err(err) if err.is_timeout() => Outcome::Transport("timed out".into()),
            Err(err) => Outcome::Transport(error_chain(&err)),
        }
    }

    async fn body(&self, c: &Claimed) -> Result<Vec<u8>, String> {
        let value = match c.webhook.format {
            WebhookFormat::Json => serde_json::to_value(EventDto::from(c.event.clone())),
            WebhookFormat::Slack => {
                let names = self.names_of(&c.event).await;
                Ok(serde_json::json!({"text": webhook::slack_text(&c.event, &names)}))
            }
        };
        value
            .and_then(|v| serde_json::to_vec(&v))
            .map_err(|e| format!("the body could not be written: {e}"))
    }

    /// The names of what the event names, read in its organization (a
    /// missing one stays an id).
    async fn names_of(&self, event: &Event) -> Names {
        let scope = TenantScope::system(event.org_id.clone());
        let now = tenancy::now();
        let text = |key: &str| {
            event
                .data
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let agent = |key: &'static str| {
            let id = text(key).and_then(|id| AgentId::parse(&id));
            let scope = scope.clone();
            async move {
                match id {
                    Some(id) => self
                        .names
                        .agents
                        .find(&scope, &id, now)
                        .await
                        .ok()
                        .flatten()
                        .map(|a| a.agent.name),
                    None => None,
                }
            }
        };
        let lead = match event.lead_id.as_deref().and_then(LeadId::parse) {
            Some(id) => self.names.leads.find(&scope, &id).await.ok().flatten(),
            None => None,
        };
        let pool = match text("poolId").and_then(|id| PoolId::parse(&id)) {
            Some(id) => self
                .names
                .pools
                .find(&scope, &id)
                .await
                .ok()
                .flatten()
                .map(|p| p.name),
            None => None,
        };
        let rule = match text("ruleId").and_then(|id| RuleId::parse(&id)) {
            Some(id) => self
                .names
                .rules
                .find(&scope, &id)
                .await
                .ok()
                .flatten()
                .map(|r| r.name),
            None => None,
        };
        Names {
            lead: lead.as_ref().map(|l| l.name.clone()),
            company: lead.and_then(|l| l.company),
            agent: agent("agentId").await,
            from_agent: agent("fromAgentId").await,
            rule,
            pool,
        }
    }
}

/// An error with its causes: reqwest's own message alone says little.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
