//! The one limiter of ingest's repeated warnings: a warning that could repeat per
//! message (a late event, a value that does not decode, a consumer error retried)
//! is logged at once, then at most once per interval with the count since.

use std::time::{Duration, Instant};

use log::warn;

/// How often a repeated warning is logged at most, unless a caller says otherwise.
const REPEATED_WARNING_EVERY: Duration = Duration::from_secs(30);

/// A warning logged for the first occurrence at once, then at most once per
/// interval with the count since (the latest occurrence as the example).
pub(super) struct Sampled {
    every: Duration,
    last: Option<Instant>,
    since: u64,
}

impl Default for Sampled {
    fn default() -> Self {
        Sampled::every(REPEATED_WARNING_EVERY)
    }
}

impl Sampled {
    /// At most one warning per `every`.
    pub(super) fn every(every: Duration) -> Self {
        Sampled {
            every,
            last: None,
            since: 0,
        }
    }

    /// Counts one occurrence; the number to report when a warning is due now.
    pub(super) fn due(&mut self) -> Option<u64> {
        self.since += 1;
        let now = Instant::now();
        if self.last.is_some_and(|last| now - last < self.every) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.since))
    }

    /// Counts one occurrence and logs `message()` when due, with the count of
    /// the ones held back since the last warning; the message is only built then.
    pub(super) fn warn(&mut self, message: impl FnOnce() -> String) {
        match self.due() {
            Some(1) => warn!("{}", message()),
            Some(count) => warn!(
                "{} ({} like it since the last warning)",
                message(),
                count - 1
            ),
            None => {}
        }
    }
}
