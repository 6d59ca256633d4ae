//! Group commit of ingested leads: concurrent single-lead ingests of one
//! caller in one organization are routed together, in arrival order, in
//! one transaction ([`workflow::ingest_all`]), and each caller is answered
//! after the commit that holds its lead.
//!
//! The first lead to arrive while nothing of its group is in flight starts
//! a drain task; leads arriving while that task's transaction runs queue
//! up and go in its next transaction, up to [`GroupCommit::max_leads`] at a
//! time. One lead alone costs one spawned task and a channel, nothing
//! waits for company: a group is what piled up during the previous commit.
//! That turns a queue of transactions that each wait for the pool's lock,
//! then take it for one lead, into one transaction that takes it for all
//! of them, and one commit (one flush to disk) for many leads.
//!
//! The drain runs in a task of its own rather than in the request that
//! started it, so that a client hanging up cannot cancel a transaction
//! that carries other clients' leads.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use lead::Lead;
use routing::RoutingError;
use tenancy::{StorageError, TenantScope};
use tokio::sync::oneshot;

use crate::{
    ports::UnitOfWork,
    workflow::{self, Routed},
};

/// The most leads one grouped transaction carries unless configured.
pub const DEFAULT_MAX_LEADS: usize = 100;

type Reply = oneshot::Sender<Result<Routed, RoutingError>>;

/// One lead waiting for its group's next transaction.
struct Job {
    lead: Lead,
    reply: Reply,
}

/// The waiting leads of every group with a drain task running: a group is
/// present exactly while its task runs.
type Queues = HashMap<TenantScope, VecDeque<Job>>;

/// Routes concurrent ingests of one scope (organization and caller) in
/// shared transactions. Cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    uow: Arc<dyn UnitOfWork>,
    max_leads: usize,
    queues: Arc<Mutex<Queues>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("max_leads", &self.max_leads)
            .finish_non_exhaustive()
    }
}

/// The lock of the queues; a panic elsewhere while it was held leaves
/// consistent data (every change under it is one push or one removal).
fn locked(queues: &Mutex<Queues>) -> MutexGuard<'_, Queues> {
    queues
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl GroupCommit {
    /// Groups of at most `max_leads` (at least 1) over `uow`.
    pub fn new(uow: Arc<dyn UnitOfWork>, max_leads: usize) -> Self {
        Self {
            uow,
            max_leads: max_leads.max(1),
            queues: Arc::default(),
        }
    }

    /// Routes `lead` as [`workflow::ingest`] would, in the next transaction
    /// of its scope's group, and answers once that transaction committed
    /// (or failed). Must be called within a Tokio runtime (it spawns the
    /// group's drain task when none runs).
    ///
    /// # Errors
    /// [`RoutingError::Storage`]: the lead was not stored.
    pub async fn ingest(&self, scope: &TenantScope, lead: Lead) -> Result<Routed, RoutingError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queues = locked(&self.queues);
            match queues.get_mut(scope) {
                Some(waiting) => {
                    waiting.push_back(Job { lead, reply });
                    false
                }
                None => {
                    queues.insert(scope.clone(), VecDeque::from([Job { lead, reply }]));
                    true
                }
            }
        };
        if start {
            tokio::spawn(self.clone().drain(scope.clone()));
        }
        answer.await.unwrap_or_else(|_| {
            Err(RoutingError::Storage(StorageError::Other(
                "the routing task ended before it answered".into(),
            )))
        })
    }

    /// Runs the group's transactions until nothing waits, then leaves.
    async fn drain(self, scope: TenantScope) {
        let mut guard = DrainGuard {
            queues: &self.queues,
            scope: &scope,
            done: false,
        };
        loop {
            let jobs: Vec<Job> = {
                let mut queues = locked(&self.queues);
                let Some(waiting) = queues.get_mut(&scope) else {
                    break;
                };
                if waiting.is_empty() {
                    queues.remove(&scope);
                    break;
                }
                let n = waiting.len().min(self.max_leads);
                waiting.drain(..n).collect()
            };
            self.commit(&scope, jobs).await;
        }
        guard.done = true;
    }

    /// One transaction for `jobs`; when it fails as a whole, each lead
    /// again in a transaction of its own, so that one lead's failure is
    /// its own and not its neighbours'.
    async fn commit(&self, scope: &TenantScope, jobs: Vec<Job>) {
        let now = tenancy::now();
        let leads = jobs.iter().map(|j| j.lead.clone()).collect();
        match workflow::ingest_all(self.uow.as_ref(), scope, leads, now).await {
            Ok(routed) => {
                for (job, routed) in jobs.into_iter().zip(routed) {
                    // A caller that hung up is not waiting for the answer.
                    let _ = job.reply.send(Ok(routed));
                }
            }
            Err(err) if jobs.len() == 1 => {
                if let Some(job) = jobs.into_iter().next() {
                    let _ = job.reply.send(Err(err));
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, leads = jobs.len(), "grouped ingest failed; one by one");
                for job in jobs {
                    let now = tenancy::now();
                    let result = workflow::ingest(self.uow.as_ref(), scope, job.lead, now).await;
                    let _ = job.reply.send(result);
                }
            }
        }
    }
}

/// Removes the group of a drain task that did not finish (it panicked):
/// the leads still waiting are answered with an error (their channels
/// close) and the next ingest of the group starts a new task.
struct DrainGuard<'a> {
    queues: &'a Mutex<Queues>,
    scope: &'a TenantScope,
    done: bool,
}

impl Drop for DrainGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            locked(self.queues).remove(self.scope);
        }
    }
}
