//! The `axiom` command-line tool: argument parsing and wiring only; the work
//! happens in the library crates.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

mod commands;

/// Exit codes of the CLI contract (ARCHITECTURE.md).
pub mod exit {
    /// Proved / all good.
    pub const OK: u8 = 0;
    /// A property is violated (a counterexample exists).
    pub const VIOLATED: u8 = 1;
    /// Bad input or usage.
    pub const BAD_INPUT: u8 = 2;
    /// Unknown or timeout.
    pub const UNKNOWN: u8 = 3;
}

#[derive(Parser, Debug)]
#[command(
    name = "axiom",
    version,
    about = "Axiom: verification-first machine learning",
    long_about = "Axiom imports neural networks (ONNX, NNet), runs them, and proves \
properties about them.\n\nExit codes: 0 success (proved); 1 a property is violated; \
2 bad input or usage; 3 unknown or timeout.",
    after_help = "Examples:\n  axiom info examples/models/xor.onnx\n  axiom run examples/models/xor.onnx --input '[1, 0]'\n  axiom info property.vnnlib"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Describe a model (inputs, outputs, layers, parameters, digest) or a
    /// VNN-LIB property (input regions and output condition).
    Info {
        /// A model (.onnx, .nnet) or a property (.vnnlib).
        path: PathBuf,
    },
    /// Run a model on one input or a batch and print the outputs as JSON.
    Run {
        /// The model (.onnx, .nnet).
        model: PathBuf,
        /// The input as JSON: a flat array of the input's elements in
        /// row-major order (5 numbers for ACAS Xu's [1,1,1,5] input), or an
        /// array of such arrays for a batch. `@FILE` reads the JSON from FILE.
        #[arg(long, value_name = "JSON")]
        input: String,
        /// The backend that runs the model.
        #[arg(long, default_value = "cpu", value_name = "NAME")]
        backend: String,
        /// Arithmetic precision.
        #[arg(long, value_enum, default_value_t = Precision::F32)]
        precision: Precision,
    },
}

/// Floating-point precision of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Precision {
    /// float32, as ONNX runtimes compute.
    F32,
    /// float64, for checks.
    F64,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::BAD_INPUT
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Info { path } => commands::info(&path),
        Command::Run {
            model,
            input,
            backend,
            precision,
        } => commands::run(&model, &input, &backend, precision),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
