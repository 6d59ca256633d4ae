//! The SLA scheduler: a task beside the HTTP server that fires due timers
//! a few times a second ([`proposal::workflow::fire_due`]).
//!
//! Several instances may run against one database: each timer is fired in
//! its organization's transaction, which takes the lead's locks and then
//! deletes the timer row, so one instance fires it and the others find it
//! gone. A timer that came due while no server ran fires on the first pass
//! after start.

use std::{sync::Arc, time::Duration};

use proposal::{TimerQueue, UnitOfWork, workflow};

/// How often the scheduler looks for due timers: a timer fires at most
/// this late (plus the pass itself) when the server is idle.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Fires due timers. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    uow: Arc<dyn UnitOfWork>,
    queue: Arc<dyn TimerQueue>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler over these ports.
    pub fn new(uow: Arc<dyn UnitOfWork>, queue: Arc<dyn TimerQueue>) -> Self {
        Self { uow, queue }
    }

    /// One pass: fires what is due now.
    ///
    /// # Errors
    /// When the due timers cannot be read.
    pub async fn pass(&self) -> Result<workflow::FiredCount, routing::RoutingError> {
        workflow::fire_due(self.uow.as_ref(), self.queue.as_ref(), tenancy::now()).await
    }

    /// Passes forever, [`POLL_INTERVAL`] apart (the caller aborts the task
    /// when the server stops).
    pub async fn run(self) {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = self.pass().await {
                tracing::warn!(error = %err, "the scheduler could not read due timers");
            }
        }
    }
}
