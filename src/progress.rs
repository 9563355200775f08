//! Progress for long work: a bar on a terminal, plain lines otherwise (CI logs, pipes).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Progress of one transfer of bytes.
pub struct Transfer {
    bar: Option<ProgressBar>,
    label: String,
    start: Instant,
    bytes: u64,
}

impl Transfer {
    /// Starts showing a transfer of `total` bytes (if known) labelled `label`.
    pub fn start(label: &str, total: Option<u64>) -> Transfer {
        let bar = if !crate::report::shows_status() {
            None
        } else if std::io::stderr().is_terminal() {
            let bar = match total {
                Some(n) => ProgressBar::new(n),
                None => ProgressBar::new_spinner(),
            };
            let template = if total.is_some() {
                "  {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
            } else {
                "  {msg} {bytes} {bytes_per_sec}"
            };
            bar.set_style(ProgressStyle::with_template(template).unwrap().progress_chars("=> "));
            bar.set_message(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            Some(bar)
        } else {
            crate::say!("  {label} ...");
            None
        };
        Transfer { bar, label: label.to_string(), start: Instant::now(), bytes: 0 }
    }

    pub fn advance(&mut self, n: u64) {
        self.bytes += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Ends the display with a summary line (size and rate).
    pub fn finish(self, outcome: &str) {
        let secs = self.start.elapsed().as_secs_f64();
        let line = format!(
            "  {} {outcome}: {} in {:.1}s ({}/s)",
            self.label,
            human_bytes(self.bytes),
            secs,
            human_bytes((self.bytes as f64 / secs.max(0.001)) as u64)
        );
        match self.bar {
            Some(bar) => {
                bar.finish_and_clear();
                crate::say!("{line}");
            }
            None => crate::say!("{line}"),
        }
    }
}

/// A long step: a spinner with the elapsed time on a terminal, nothing extra otherwise.
pub struct Activity {
    bar: Option<ProgressBar>,
}

impl Activity {
    pub fn start(label: &str) -> Activity {
        let bar = (std::io::stderr().is_terminal() && crate::report::shows_status()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap());
            bar.set_message(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Activity { bar }
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `12.3 MiB` and the like.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_bytes() {
        assert_eq!(super::human_bytes(5), "5 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(23 * 1024 * 1024), "23.0 MiB");
    }
}
