//! A started exporter ([`Running`]) stopped with SIGTERM, as Kubernetes stops
//! a pod.

use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::support::exporter::Running;

/// How the child ended after SIGTERM.
#[derive(Debug)]
pub struct Stopped {
    pub status: ExitStatus,
    /// From SIGTERM to exit.
    pub took: Duration,
    /// Everything it wrote to stdout and stderr.
    pub logs: String,
}

impl Running {
    /// Sends SIGTERM and waits up to `within` for it to exit.
    pub async fn stop(mut self, within: Duration) -> Stopped {
        let term = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .expect("run kill");
        assert!(term.success(), "kill -TERM {}", self.pid);
        let signalled = Instant::now();
        let mut status = None;
        crate::support::wait_for("the exporter to exit after SIGTERM", within, || {
            status = status.or_else(|| self.try_wait());
            std::future::ready(status.is_some())
        })
        .await;
        Stopped {
            status: status.expect("exited"),
            took: signalled.elapsed(),
            logs: self.logs(),
        }
    }
}
