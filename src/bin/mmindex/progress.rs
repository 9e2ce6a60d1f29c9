//! Progress bars on stderr, only when stderr is a terminal.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};

/// Shows each phase of a long operation as a bar with rate and ETA.
pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// A sink that draws on a terminal and stays silent otherwise.
    pub fn new() -> Option<Arc<Bars>> {
        std::io::stderr().is_terminal().then(|| {
            Arc::new(Bars {
                bar: Mutex::new(None),
            })
        })
    }
}

impl mmindex::Progress for Bars {
    fn start(&self, phase: &str, total: u64) {
        let bar = ProgressBar::new(total);
        let style =
            ProgressStyle::with_template("{msg:>8} [{bar:40}] {pos}/{len} {per_sec} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(phase.to_string());
        if let Ok(mut b) = self.bar.lock() {
            *b = Some(bar);
        }
    }

    fn advance(&self, n: u64) {
        if let Ok(b) = self.bar.lock() {
            if let Some(bar) = b.as_ref() {
                bar.inc(n);
            }
        }
    }

    fn finish(&self) {
        if let Ok(mut b) = self.bar.lock() {
            if let Some(bar) = b.take() {
                bar.finish_and_clear();
            }
        }
    }
}
