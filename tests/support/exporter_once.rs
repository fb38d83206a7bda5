//! The exporter binary run to completion (`--config.check`, `--help`): the
//! same builder as a started one, [`Exporter::run`] instead of `start`.

use std::process::ExitStatus;

use crate::support::exporter::Exporter;

/// What one run printed and how it ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    /// Its stdout, then its stderr.
    pub text: String,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

impl Exporter {
    /// Runs the binary with the arguments and environment given so far and
    /// waits for it to exit.
    pub fn run(&self) -> Finished {
        let out = self.command().output().expect("run the exporter binary");
        Finished {
            status: out.status,
            text: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}
