//! Pipe-safe output for the CLI.
//!
//! `println!`, `print!` and `eprintln!` in this binary are the
//! macros defined at the top of `main.rs`, which call [`out`] and [`err`]
//! here instead of std's, whose versions panic when a write fails (`axiom
//! info MODEL | head -1` used to end in a panic and exit code 101).
//!
//! - A closed stdout (the reader went away: `| head`, `| grep -q`) is the
//!   reader's choice, not an error: later output is dropped and the command
//!   finishes its work (an audited command still writes its record) and
//!   exits with its own code.
//! - Any other failure to write stdout (a full disk, `> /dev/full`) loses
//!   output the user asked for: it is reported once on stderr and the exit
//!   code becomes 2 ([`exit_code`]).
//! - stderr is best effort: a failed write there is dropped.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU8, Ordering};

const OPEN: u8 = 0;
const CLOSED: u8 = 1;
const FAILED: u8 = 2;

static STDOUT: AtomicU8 = AtomicU8::new(OPEN);

/// Writes to stdout and flushes (see the [module documentation](self)).
pub fn out(args: fmt::Arguments<'_>) {
    if STDOUT.load(Ordering::Relaxed) != OPEN {
        return;
    }
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            STDOUT.store(CLOSED, Ordering::Relaxed);
        } else {
            STDOUT.store(FAILED, Ordering::Relaxed);
            err(format_args!(
                "error: cannot write to standard output: {e}; the output is incomplete\n"
            ));
        }
    }
}

/// Writes to stderr, best effort.
pub fn err(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// The exit code to end with: the command's own, or 2 when stdout failed
/// for another reason than a closed pipe.
pub fn exit_code(code: u8) -> u8 {
    if STDOUT.load(Ordering::Relaxed) == FAILED {
        crate::exit::BAD_INPUT
    } else {
        code
    }
}
