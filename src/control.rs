//! The operator's side of the D-Bus API: find the running daemons on the system bus
//! (`DBUS_SYSTEM_BUS_ADDRESS` when set), read their status, drain and resume instances.
//! `vrrp-ha status`, `drain` and `resume` are built on it.

use std::time::Duration;

use zbus::Connection;

use crate::daemon::dbus::{instance_path, DAEMON_INTERFACE, INSTANCE_INTERFACE, NAME_PREFIX, PATH};
use crate::daemon::status::{DaemonStatus, StatusReport, JSON_VERSION};

/// How long one call to the bus or to a daemon may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong talking to the daemons.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No system bus to talk on.
    #[error("cannot reach the system bus: {0}")]
    NoBus(String),
    /// The bus or the daemon did not answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// A call failed on the bus (access denied, no such object, ...).
    #[error("{0}")]
    Call(String),
    /// The daemon refused, with its reason.
    #[error("{0}")]
    Refused(String),
    /// The daemon answered something this program cannot read.
    #[error("unexpected answer from {name}: {why}")]
    Answer {
        /// The daemon's bus name.
        name: String,
        /// What is wrong.
        why: String,
    },
}

async fn bounded<T>(
    f: impl std::future::Future<Output = zbus::Result<T>>,
) -> Result<T, ControlError> {
    match tokio::time::timeout(CALL_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(zbus::Error::MethodError(name, text, _))) => {
            let text = text.unwrap_or_default();
            if name.as_str() == "io.vrrpha.Error.Refused" {
                Err(ControlError::Refused(text))
            } else if name.as_str() == "org.freedesktop.DBus.Error.AccessDenied" {
                Err(ControlError::Call(format!(
                    "access denied by the D-Bus policy (only root may drain and resume): {text}"
                )))
            } else {
                Err(ControlError::Call(format!("{name}: {text}")))
            }
        }
        Ok(Err(zbus::Error::FDO(e))) if matches!(*e, zbus::fdo::Error::AccessDenied(_)) => {
            Err(ControlError::Call(format!(
                "access denied by the D-Bus policy (only root may drain and resume): {e}"
            )))
        }
        Ok(Err(e)) => Err(ControlError::Call(e.to_string())),
        Err(_) => Err(ControlError::Timeout(CALL_TIMEOUT)),
    }
}

/// A connection to the system bus.
pub async fn connect() -> Result<Connection, ControlError> {
    match tokio::time::timeout(CALL_TIMEOUT, Connection::system()).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(ControlError::NoBus(e.to_string())),
        Err(_) => Err(ControlError::Timeout(CALL_TIMEOUT)),
    }
}

/// The bus names of the running daemons, sorted.
pub async fn daemons(conn: &Connection) -> Result<Vec<String>, ControlError> {
    let proxy = bounded(zbus::fdo::DBusProxy::new(conn)).await?;
    let names = bounded(async { proxy.list_names().await.map_err(zbus::Error::from) }).await?;
    let prefix = format!("{NAME_PREFIX}.");
    let mut found: Vec<String> = names
        .into_iter()
        .map(|n| n.to_string())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    found.sort();
    Ok(found)
}

/// One daemon's status, live (its `Status()` method).
pub async fn status(conn: &Connection, name: &str) -> Result<DaemonStatus, ControlError> {
    let reply =
        bounded(conn.call_method(Some(name), PATH, Some(DAEMON_INTERFACE), "Status", &())).await?;
    let answer = |why: String| ControlError::Answer {
        name: name.to_string(),
        why,
    };
    let text: String = reply
        .body()
        .deserialize()
        .map_err(|e| answer(e.to_string()))?;
    let report: StatusReport = serde_json::from_str(&text).map_err(|e| answer(e.to_string()))?;
    if report.version != JSON_VERSION {
        return Err(answer(format!(
            "JSON version {}, this program reads {JSON_VERSION}",
            report.version
        )));
    }
    report
        .daemons
        .into_iter()
        .next()
        .ok_or_else(|| answer("no daemon in its status".into()))
}

/// Drain `instance` of the daemon owning `name`.
pub async fn drain(
    conn: &Connection,
    name: &str,
    instance: &str,
    force: bool,
) -> Result<(), ControlError> {
    let path = instance_path(instance);
    bounded(conn.call_method(
        Some(name),
        path.as_str(),
        Some(INSTANCE_INTERFACE),
        "Drain",
        &(force,),
    ))
    .await
    .map(drop)
}

/// Resume `instance` of the daemon owning `name`.
pub async fn resume(conn: &Connection, name: &str, instance: &str) -> Result<(), ControlError> {
    let path = instance_path(instance);
    bounded(conn.call_method(
        Some(name),
        path.as_str(),
        Some(INSTANCE_INTERFACE),
        "Resume",
        &(),
    ))
    .await
    .map(drop)
}
