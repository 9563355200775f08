//! How pyelf speaks to its user on stderr: notes said once, and errors rendered as uv and cargo
//! render them, the error first, then each cause on a line of its own, then the hints, each once.
//!
//! Messages carry their advice as lines starting with `hint: `, at any layer of the cause chain;
//! [`render_error`] takes them out of the text and prints them last, so that eleven sources that
//! could not be fetched for the same reason end in one hint, not eleven.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// How much pyelf says on stderr besides errors and warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: errors and warnings only (no progress, no notes, no summaries).
    Quiet = 0,
    Normal = 1,
    /// `-v`: also each command a toolchain step runs.
    Verbose = 2,
}

static VERBOSITY: AtomicU8 = AtomicU8::new(Verbosity::Normal as u8);

/// Set once, from the command line, before any work starts.
pub fn set_verbosity(v: Verbosity) {
    VERBOSITY.store(v as u8, Ordering::Relaxed);
}

pub fn verbosity() -> Verbosity {
    match VERBOSITY.load(Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        1 => Verbosity::Normal,
        _ => Verbosity::Verbose,
    }
}

/// Whether progress and status lines are shown.
pub fn shows_status() -> bool {
    verbosity() >= Verbosity::Normal
}

/// Whether the details of `-v` are shown.
pub fn shows_details() -> bool {
    verbosity() >= Verbosity::Verbose
}

/// A status line on stderr (progress, a step's time, a summary), left out with `-q`.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        if $crate::report::shows_status() {
            eprintln!($($arg)*);
        }
    };
}

/// A warning on stderr, shown whatever the verbosity.
pub fn warn(text: &str) {
    eprintln!("warning: {text}");
}

/// Prints `note: <text>` on stderr, the first time this text is noted in this process.
pub fn note_once(text: &str) {
    static SAID: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if said.insert(text.to_string()) && shows_status() {
        eprintln!("note: {text}");
    }
}

/// The text of an error for the user: `error: …`, the causes (`  caused by: …`, one per line),
/// then every distinct hint (`hint: …`) in the order first given.
pub fn render_error(e: &anyhow::Error) -> String {
    let mut body: Vec<String> = Vec::new();
    let mut hints: Vec<String> = Vec::new();
    for (i, layer) in e.chain().enumerate() {
        let text = layer.to_string();
        let mut lines = Vec::new();
        // A hint goes on over the indented lines after it (a command to run, say).
        let mut hint: Option<String> = None;
        for line in text.lines().chain(std::iter::once("")) {
            if let Some(h) = hint.as_mut() {
                if line.starts_with(' ') {
                    h.push('\n');
                    h.push_str(line);
                    continue;
                }
                let h = hint.take().expect("a hint");
                if !hints.contains(&h) {
                    hints.push(h);
                }
            }
            match line.strip_prefix("hint: ") {
                Some(h) => hint = Some(h.to_string()),
                None => lines.push(line),
            }
        }
        lines.pop();
        let Some((first, rest)) = lines.split_first() else { continue };
        let lead = if i == 0 { "error: " } else { "  caused by: " };
        // A cause that only repeats the layer above it (an error wrapped with its own text) is
        // said once.
        if i > 0 && body.iter().any(|b| b.ends_with(first)) {
            continue;
        }
        body.push(format!("{lead}{first}"));
        let indent = if i == 0 { "" } else { "    " };
        body.extend(rest.iter().map(|l| if l.is_empty() { String::new() } else { format!("{indent}{l}") }));
    }
    body.extend(hints.into_iter().map(|h| format!("hint: {h}")));
    body.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn causes_go_on_lines_of_their_own_and_hints_come_last_once() {
        let inner =
            anyhow::anyhow!("could not get a 1 (a.tar.gz); tried:\n  - cache: not there\nhint: set PYELF_MIRROR");
        let e = Err::<(), _>(inner).context("building toolchain t failed").unwrap_err();
        assert_eq!(
            render_error(&e),
            "error: building toolchain t failed\n  caused by: could not get a 1 (a.tar.gz); tried:\n      - cache: not there\nhint: set PYELF_MIRROR"
        );
        let many = anyhow::anyhow!(
            "2 of 2 sources could not be fetched:\ncould not get a\nhint: set PYELF_MIRROR\ncould not get b\nhint: set PYELF_MIRROR"
        );
        let indented = anyhow::anyhow!("no match\nhint: pin this:\n  a==1 --hash=x\nafter");
        assert_eq!(render_error(&indented), "error: no match\nafter\nhint: pin this:\n  a==1 --hash=x");
        assert_eq!(
            render_error(&many),
            "error: 2 of 2 sources could not be fetched:\ncould not get a\ncould not get b\nhint: set PYELF_MIRROR"
        );
    }
}
