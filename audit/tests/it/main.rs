//! Integration tests of axiom-audit: concurrent appends, tampering, torn
//! tails and the HTML report.
//!
//! One test binary per crate: each module is one suite (formerly a test
//! binary of its own); one link, and the suites' tests run in parallel.

mod common;

mod concurrency;
mod html_report;
mod tamper;
mod torn;
