//! SIGHUP: reloads the access file, the alert rules file and the listeners' TLS certificates
//! without a restart. A file that does not parse or validate leaves the previous one in force
//! and logs one line that names the problem.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::access::Access;
use crate::alerts::Alerts;
use crate::tls::ServerTls;

/// Reloads on every SIGHUP until aborted.
pub fn spawn(
    access: Arc<Access>,
    alerts: Arc<Alerts>,
    certificates: Vec<Arc<ServerTls>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut hangups = match signal(SignalKind::hangup()) {
                Ok(hangups) => hangups,
                Err(e) => {
                    warn!(error = %e, "Cannot listen for SIGHUP; restart to reload the access file");
                    return;
                }
            };
            while hangups.recv().await.is_some() {
                reload(&access, &alerts, &certificates);
            }
        }
        #[cfg(not(unix))]
        let _ = (access, alerts, certificates);
    })
}

/// One reload of everything SIGHUP reloads.
pub fn reload(access: &Access, alerts: &Alerts, certificates: &[Arc<ServerTls>]) {
    if access.enforced() {
        match access.reload() {
            Ok(loaded) => info!(
                tenants = loaded.tenants,
                keys = loaded.keys,
                tokens = loaded.tokens,
                "Access file reloaded"
            ),
            Err(e) => error!("Access file not reloaded, the previous one stays in force: {e}"),
        }
    }
    if alerts.path().is_some() {
        match alerts.reload() {
            Ok((rules, channels)) => info!(rules, channels, "Alert rules file reloaded"),
            Err(e) => {
                error!("Alert rules file not reloaded, the previous rules stay in force: {e}")
            }
        }
    }
    for tls in certificates {
        match tls.reload() {
            Ok(()) => info!(cert = %tls.cert_path().display(), "TLS certificate reloaded"),
            Err(e) => error!("TLS certificate not reloaded, the previous one stays in use: {e}"),
        }
    }
}
