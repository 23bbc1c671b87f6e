//! How the D-Bus server and the metrics endpoint reach the loop: [`Request`]s with a
//! oneshot reply, handled between two inputs (the engine is synchronous, so a request
//! never waits inside it), and the clock that maps the core's instants to Unix time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant as TokioInstant;

use super::status::{DaemonStatus, Identity, Snapshot};
use crate::core::time::Instant as CoreInstant;

/// How many requests may wait for the loop; callers beyond that wait their turn.
pub(crate) const QUEUE: usize = 32;

/// How long a fresh snapshot serves further reads (one `GetAll` reads many properties).
const FRESH_FOR: Duration = Duration::from_millis(100);

/// A request to the loop.
#[derive(Debug)]
pub(crate) enum Request {
    /// The current snapshot, live counters included.
    Snapshot(oneshot::Sender<Snapshot>),
    /// `vrrp-ha drain`: `Err` says why it was refused.
    Drain {
        /// The instance.
        instance: String,
        /// Drain even though no other router was heard.
        force: bool,
        /// The outcome.
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// `vrrp-ha resume`.
    Resume {
        /// The instance.
        instance: String,
        /// The outcome.
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// Maps the core's clock (time since an origin) to tokio's.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Clock {
    pub(crate) origin: TokioInstant,
}

impl Clock {
    /// The core's now.
    pub(crate) fn now(self) -> CoreInstant {
        CoreInstant::from_origin(TokioInstant::now().duration_since(self.origin))
    }
}

/// What the loop says when it is gone (the daemon is stopping).
pub(crate) const STOPPING: &str = "the daemon is shutting down";

/// The last status asked of the loop, and when.
type Cached = Arc<Mutex<Option<(TokioInstant, Arc<DaemonStatus>)>>>;

/// A handle on the loop for the tasks that serve operators.
#[derive(Clone)]
pub(crate) struct Loop {
    tx: mpsc::Sender<Request>,
    clock: Clock,
    who: Arc<Identity>,
    fresh: Cached,
}

impl Loop {
    /// A handle sending on `tx`.
    pub(crate) fn new(tx: mpsc::Sender<Request>, clock: Clock, who: Identity) -> Loop {
        Loop {
            tx,
            clock,
            who: Arc::new(who),
            fresh: Arc::new(Mutex::new(None)),
        }
    }

    /// Who is running.
    pub(crate) fn identity(&self) -> &Identity {
        &self.who
    }

    /// A snapshot in its JSON form, with Unix times; `source` says where it is shown.
    pub(crate) fn to_json(&self, snapshot: &Snapshot, source: &str) -> DaemonStatus {
        snapshot.to_json(
            &self.who,
            source,
            self.clock.now(),
            super::status::unix_now(),
        )
    }

    /// The current snapshot from the loop.
    pub(crate) async fn snapshot(&self) -> Result<Snapshot, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Snapshot(reply))
            .await
            .map_err(|_| STOPPING.to_string())?;
        rx.await.map_err(|_| STOPPING.to_string())
    }

    /// The current status, asked of the loop at most every [`FRESH_FOR`].
    pub(crate) async fn fresh(&self) -> Result<Arc<DaemonStatus>, String> {
        let cached = self
            .fresh
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, s)| s.clone());
        if let Some(s) = cached {
            return Ok(s);
        }
        let snapshot = self.snapshot().await?;
        let status = Arc::new(self.to_json(&snapshot, "dbus"));
        *self.fresh.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((TokioInstant::now(), status.clone()));
        Ok(status)
    }

    /// Drain `instance`.
    pub(crate) async fn drain(&self, instance: &str, force: bool) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        let req = Request::Drain {
            instance: instance.to_string(),
            force,
            reply,
        };
        self.tx.send(req).await.map_err(|_| STOPPING.to_string())?;
        self.forget();
        rx.await.map_err(|_| STOPPING.to_string())?
    }

    /// Resume `instance`.
    pub(crate) async fn resume(&self, instance: &str) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        let req = Request::Resume {
            instance: instance.to_string(),
            reply,
        };
        self.tx.send(req).await.map_err(|_| STOPPING.to_string())?;
        self.forget();
        rx.await.map_err(|_| STOPPING.to_string())?
    }

    /// Drop the cached status (a command changed it).
    fn forget(&self) {
        *self.fresh.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
