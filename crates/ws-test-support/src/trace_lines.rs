//! A process-wide `tracing` subscriber that keeps every event as one line
//! (`LEVEL message field=value ...`), for the tests of the `tracing`
//! features (the `tracing` feature of this crate). Each such test is its
//! own binary, since the subscriber is the process's.

use std::fmt::Debug;
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

/// Installs the subscriber for events whose target starts with
/// `target_prefix` (once per process; later calls do nothing).
pub fn install(target_prefix: &'static str) {
    if LINES.set(Mutex::new(Vec::new())).is_ok() {
        let _ = tracing::subscriber::set_global_default(Lines(target_prefix));
    }
}

/// The lines so far that carry `field=value` (for example `conn=3`).
pub fn with_field(field: &str, value: impl std::fmt::Display) -> Vec<String> {
    let tag = format!("{field}={value}");
    all()
        .into_iter()
        .filter(|l| l.split(' ').any(|w| w == tag))
        .collect()
}

/// Every line so far.
pub fn all() -> Vec<String> {
    LINES
        .get()
        .expect("trace_lines::install first")
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

struct Lines(&'static str);

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}{}", self.0);
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl Subscriber for Lines {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with(self.0)
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line(String::new());
        event.record(&mut line);
        let line = format!("{} {}", event.metadata().level(), line.0);
        if let Some(lines) = LINES.get() {
            lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
