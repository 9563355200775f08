//! One build step: its commands run with their full output in a log file, and a failure reports
//! the log's last lines and its path.

use crate::error::Error;
use anyhow::{Context, Result};
use fs_err as fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How many lines of the log a failure shows.
pub const TAIL_LINES: usize = 40;

/// A running build step and its log file.
pub struct Step {
    name: String,
    log: PathBuf,
    /// Environment every command of the step gets.
    env: Vec<(String, String)>,
}

impl Step {
    /// Starts a step whose output goes to `log` (created afresh).
    pub fn start(name: &str, log: PathBuf) -> Result<Step> {
        if let Some(dir) = log.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::File::create(&log)?;
        Ok(Step { name: name.to_string(), log, env: Vec::new() })
    }

    /// The step with `key=value` in the environment of each command it runs (not in pyelf's own,
    /// which other threads read).
    pub fn with_env(mut self, key: &str, value: &str) -> Step {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Appends a line to the log.
    pub fn note(&self, line: &str) -> Result<()> {
        let mut f = fs::OpenOptions::new().append(true).open(&self.log)?;
        writeln!(f, "{line}")?;
        Ok(())
    }

    /// Runs a command with stdout and stderr going to the log; a non-zero exit is an error that
    /// shows the log's last lines.
    pub fn run(&self, cmd: xshell::Cmd<'_>) -> Result<()> {
        let shown = cmd.to_string();
        let mut command: Command = cmd.into();
        self.run_command(&shown, &mut command)
    }

    /// Like [`Step::run`], for a `std::process::Command`.
    pub fn run_command(&self, shown: &str, command: &mut Command) -> Result<()> {
        self.note(&format!("$ {shown}"))?;
        if crate::report::shows_details() {
            eprintln!("  $ {shown}");
        }
        let out = fs::OpenOptions::new().append(true).open(&self.log)?;
        let err = out.try_clone()?;
        let status = command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.into_parts().0))
            .stderr(Stdio::from(err.into_parts().0))
            .status()
            .with_context(|| format!("cannot start `{shown}`"))?;
        if status.success() {
            Ok(())
        } else {
            Err(self.failure(&format!("`{}` exited with {status}", short(shown))))
        }
    }

    /// An error for this step that carries the tail of its log.
    pub fn failure(&self, what: &str) -> anyhow::Error {
        Error::StepFailed {
            step: self.name.clone(),
            what: what.to_string(),
            log: self.log.clone(),
            tail: tail(&self.log, TAIL_LINES),
        }
        .into()
    }
}

/// The last `n` lines of a file (or a note that it cannot be read).
pub fn tail(path: &Path, n: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(cannot read the log: {e})"),
    }
}

/// A command line cut to a readable length for a one-line message.
fn short(s: &str) -> String {
    const MAX: usize = 160;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_command_reports_the_tail_of_its_log() {
        let tmp = tempfile::tempdir().unwrap();
        let step = Step::start("demo", tmp.path().join("logs/demo.log")).unwrap();
        let sh = xshell::Shell::new().unwrap();
        step.run(xshell::cmd!(sh, "sh -c 'echo first; echo to-stderr >&2'")).unwrap();
        let script = "for i in $(seq 1 100); do echo line$i; done; exit 3";
        let err = step.run(xshell::cmd!(sh, "sh -c {script}")).unwrap_err().to_string();
        assert!(err.contains("step 'demo' failed"), "{err}");
        assert!(err.contains("line100") && err.contains("line61") && !err.contains("line60\n"), "{err}");
        assert!(err.contains(&tmp.path().join("logs/demo.log").display().to_string()), "{err}");
        let log = std::fs::read_to_string(step.log_path()).unwrap();
        assert!(log.contains("first") && log.contains("to-stderr"), "{log}");
    }
}
