//! When a search must stop: the instant its `timeout` ends and its cancel
//! flag ([`VerifyOptions`](crate::VerifyOptions)).
//!
//! The search loop checks it between batches, but one batch's work (the
//! attack rounds, CROWN's back-substitution through every layer, the alpha
//! iterations) can take seconds on a large network, so the long inner loops
//! check it too and stop early in a sound way: the attack returns what it
//! found so far, the bounds fall back to interval bounds for the layers left
//! (looser, still sound), a back-substitution under way gives up with the
//! trivial bound `-∞` (checked before each layer), the alpha optimisation
//! keeps its best bound so far. The search then sees the deadline and
//! answers `timeout`. (`axiom vnncomp` also pays an instance's loading out
//! of its timeout.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A point in time and a cancel flag; [`Deadline::passed`] when either is
/// reached. [`Default`] never passes.
#[derive(Clone, Debug, Default)]
pub struct Deadline {
    at: Option<Instant>,
    cancel: Option<Arc<AtomicBool>>,
}

impl Deadline {
    /// A deadline that never passes.
    pub fn never() -> Deadline {
        Deadline::default()
    }

    /// `timeout` after `start` (none: no time limit), or when `cancel` is
    /// set.
    pub fn new(
        start: Instant,
        timeout: Option<Duration>,
        cancel: Option<Arc<AtomicBool>>,
    ) -> Deadline {
        Deadline {
            at: timeout.and_then(|t| start.checked_add(t)),
            cancel,
        }
    }

    /// Whether the search must stop now.
    pub fn passed(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
            || self.at.is_some_and(|at| Instant::now() >= at)
    }
}

impl PartialEq for Deadline {
    fn eq(&self, other: &Deadline) -> bool {
        self.at == other.at
            && match (&self.cancel, &other.cancel) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Eq for Deadline {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_at_its_time_or_when_cancelled() {
        assert!(!Deadline::never().passed());
        let start = Instant::now();
        assert!(Deadline::new(start, Some(Duration::ZERO), None).passed());
        assert!(!Deadline::new(start, Some(Duration::from_secs(3600)), None).passed());
        let flag = Arc::new(AtomicBool::new(false));
        let d = Deadline::new(start, None, Some(flag.clone()));
        assert!(!d.passed());
        flag.store(true, Ordering::Relaxed);
        assert!(d.passed());
        // An unrepresentable instant is no limit.
        assert!(!Deadline::new(start, Some(Duration::MAX), None).passed());
    }
}
