//! The `axiom` command-line tool: argument parsing and wiring only; the work
//! happens in the library crates.

use axiom_audit::Kind;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use trail::Trail;

// Pipe-safe replacements for std's `print!`, `println!` and `eprintln!`,
// for every module of this binary (defined before the modules, so that
// they are in scope there): see `console`.
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::out(format_args!($($arg)*)) };
}
macro_rules! println {
    () => { $crate::console::out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::out(format_args!("{}\n", format_args!($($arg)*))) };
}
macro_rules! eprintln {
    () => { $crate::console::err(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::err(format_args!("{}\n", format_args!($($arg)*))) };
}

mod accel;
mod audit_cmd;
mod certify;
mod check;
mod commands;
mod console;
mod export;
mod info;
mod trail;
mod vnncomp;

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
    after_help = "Examples:\n  axiom info examples/models/xor.onnx\n  axiom run examples/models/xor.onnx --input '[1, 0]'\n  axiom info property.vnnlib\n  axiom verify examples/models/xor.onnx examples/properties/xor_low.vnnlib --timeout 60\n  axiom vnncomp instances.csv --timeout-cap 60 --out results.csv"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    audit: AuditFlags,
}

/// Where audited commands (verify, check, certify, cert verify, export,
/// keygen, run with a violated ensure) record themselves.
#[derive(clap::Args, Debug)]
struct AuditFlags {
    /// Append this command's audit record to FILE [default:
    /// .axiom/audit.log in the current folder, whatever the command is
    /// about].
    #[arg(long, global = true, value_name = "FILE", env = "AXIOM_AUDIT_LOG")]
    audit_log: Option<PathBuf>,
    /// Sign audit records with this secret key (from `axiom keygen`).
    #[arg(long, global = true, value_name = "KEY", env = "AXIOM_AUDIT_KEY")]
    audit_key: Option<PathBuf>,
    /// Write no audit record. The command then leaves NO trace in any log:
    /// audited environments should forbid this (AXIOM_AUDIT_REQUIRED=1
    /// makes axiom refuse it).
    #[arg(long, global = true)]
    no_audit: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Describe a file axiom takes: a model, a VNN-LIB property, a .axiom
    /// specification, a bundle, a certificate or safetensors weights; with
    /// --backends, the backends this build can use on this machine.
    #[command(
        long_about = "Describe a file axiom takes:\n  \
.onnx, .nnet   a model: format, digest, parameters, input, output, layers, metadata\n  \
.vnnlib        a property: the input regions and the unsafe output condition\n  \
.axiom         a specification: per model its source, declarations, regions, ensures, \
obligations\n  \
a folder       a bundle from `axiom certify`: signer key id, models, digests, certificates\n  \
.cert          a certificate: obligation, model digest, verdict, evidence, signer\n  \
.safetensors   weights: every tensor's dtype, shape and size; the metadata\n\n\
info reads and decodes; it verifies nothing. Check a bundle or certificate with `axiom cert \
verify`.\n\n\
With --format json, stdout is one pretty-printed JSON object whose `kind` field says what \
the file is (model, property, spec, bundle, certificate, safetensors), with the same facts \
as the text; --backends gives an object of kind `backends`, and with a PATH too, an array \
of the two objects.\n\n\
Exit codes: 0 described; 2 a file that does not read (named, with the place) or bad usage.",
        after_help = "Examples:\n  axiom info examples/models/xor.onnx\n  axiom info examples/specs/xor.axiom\n  axiom info xor.bundle\n  axiom info xor.bundle/xor/bounded.cert\n  axiom info examples/models/classifier.safetensors --format json\n  axiom info --backends --format json"
    )]
    Info {
        /// A model (.onnx, .nnet), a property (.vnnlib), a specification
        /// (.axiom), a bundle folder, a certificate (.cert) or weights
        /// (.safetensors).
        #[arg(required_unless_present = "backends")]
        path: Option<PathBuf>,
        /// List the backends (cpu, cuda): available with the device, or
        /// unavailable with the reason.
        #[arg(long)]
        backends: bool,
        /// Output format: `human` text, or `json` (one object with a `kind`
        /// field, keys in a fixed order), e.g. `axiom info net.onnx --format
        /// json | jq .digest`.
        #[arg(long, value_enum, default_value_t = info::InfoFormat::Human, value_name = "FORMAT")]
        format: info::InfoFormat,
    },
    /// Run a model on one input or a batch and print the outputs as JSON. A
    /// .axiom specification runs its declared model with every `ensure`
    /// checked on every sample: a violation stops the run with exit code 1,
    /// naming the ensure, its line, and the sample's input and output. An
    /// output that is not finite (inf after an overflow, or NaN) is an error
    /// naming the output and the sample (exit code 2): JSON has no number
    /// for it.
    Run {
        /// The model (.onnx, .nnet) or a specification (.axiom).
        model: PathBuf,
        /// With a .axiom file declaring several models: which one to run.
        #[arg(long = "model", value_name = "NAME")]
        model_name: Option<String>,
        /// The input as JSON: a flat array of the input's elements in
        /// row-major order (5 numbers for ACAS Xu's [1,1,1,5] input), or an
        /// array of such arrays for a batch. `@FILE` reads the JSON from FILE.
        #[arg(long, value_name = "JSON")]
        input: String,
        /// The backend that runs the model: cpu, or cuda (a build with the
        /// `cuda` feature on a machine with an NVIDIA GPU; `axiom info
        /// --backends` says which are available).
        #[arg(long, default_value = "cpu", value_name = "NAME")]
        backend: String,
        /// Arithmetic precision.
        #[arg(long, value_enum, default_value_t = Precision::F32)]
        precision: Precision,
    },
    /// Decide a VNN-LIB property of a model: print `unsat`, `sat` (with a
    /// counterexample), `unknown` or `timeout`.
    #[command(
        long_about = "Decide whether any input in the property's input region drives the \
model into the property's unsafe output set (the assertions of a VNN-LIB file describe \
the unsafe set, as in VNN-COMP).\n\n\
The first line on stdout is the VNN-COMP result word:\n  \
unsat    no input reaches the unsafe set: the property holds (exit code 0)\n  \
sat      an input reaches it: the property is violated (exit code 1); the \
counterexample follows in VNN-COMP form, one (X_i value) / (Y_j value) pair per line, \
re-checked on the model before it is printed\n  \
unknown  the engine could not decide (exit code 3); the reason goes to stderr\n  \
timeout  the --timeout budget ran out (exit code 3)\n\n\
Bad input (an unreadable or malformed model or property, a property whose number of \
X_/Y_ variables does not match the model, a bad option) exits with code 2 and a message. \
A short summary (time, boxes bounded, proof leaves, the reason for unknown) goes to stderr.",
        after_help = "Examples:\n  axiom verify examples/models/xor.onnx examples/properties/xor_low.vnnlib\n  \
axiom verify net.onnx prop.vnnlib --timeout 116 --result out.txt --force"
    )]
    Verify {
        /// The model (.onnx, .nnet).
        model: PathBuf,
        /// The property (.vnnlib): input bounds and the unsafe output set.
        property: PathBuf,
        /// Wall-clock budget in seconds (a decimal number); no limit when
        /// absent.
        #[arg(long, value_name = "S", allow_negative_numbers = true)]
        timeout: Option<f64>,
        /// Also write the result (the word, and the counterexample after
        /// `sat`) to FILE, in the VNN-COMP result-file format. An existing
        /// FILE is overwritten only when it is empty or with --force;
        /// otherwise verify refuses (exit code 2) before it starts.
        #[arg(long, value_name = "FILE")]
        result: Option<PathBuf>,
        /// Overwrite a non-empty --result FILE (VNN-COMP's run_instance.sh
        /// passes this, since the harness names the file).
        #[arg(long)]
        force: bool,
        /// How the search splits: `input` splits the input box (best for
        /// few inputs), `relu` splits unstable ReLUs, `auto` splits inputs
        /// when the property lets at most 10 inputs vary, ReLUs otherwise.
        #[arg(long, value_enum, default_value_t = SplitArg::Auto, value_name = "HOW")]
        split: SplitArg,
        /// Seed of the random sampling and attacks (the same seed and
        /// options give the same verdict).
        #[arg(long, default_value_t = 0, value_name = "N")]
        seed: u64,
        /// Do not search for counterexamples by random sampling and PGD.
        #[arg(long)]
        no_attack: bool,
        /// Re-check the verdict with the independent exact checker before
        /// answering (every proof leaf re-derived in exact arithmetic, the
        /// counterexample evaluated exactly); a rejected verdict becomes
        /// `unknown`.
        #[arg(long)]
        recheck: bool,
        /// Also hand small boxes of the search (few unstable ReLUs) to the Z3
        /// SMT solver. Off by default: on ACAS Xu, further splitting is
        /// faster than Z3 4.8 on such leaves.
        #[arg(long)]
        smt: bool,
        /// Write a signed certificate of the verdict to FILE (implies
        /// --recheck; needs --key). Refuses a non-empty FILE unless --force.
        #[arg(long, value_name = "FILE", requires = "key")]
        cert: Option<PathBuf>,
        /// The secret key that signs the --cert certificate.
        #[arg(long, value_name = "KEY", requires = "cert")]
        key: Option<PathBuf>,
        /// Where branch and bound bounds its boxes: `cpu`, or `cuda` to bound
        /// each batch of input boxes first by interval propagation on the
        /// GPU (outward-rounded; boxes it refutes need no CPU bounds; the
        /// rest are bounded on the CPU). Needs a build with the `cuda`
        /// feature and a GPU, else exit code 2.
        #[arg(long, default_value = "cpu", value_name = "NAME")]
        backend: String,
        /// What goes to stdout: `text`, the VNN-COMP result above; or
        /// `json`, one object with `result` (the word), `model`,
        /// `model_digest`, `property`, `seconds`, `counterexample` (`case`,
        /// `disjunct`, `inputs`, `outputs`, or null), `proof` (`cases`,
        /// `leaves`, or null), `reason` (why unknown, or null), `rechecked`
        /// (what the exact checker accepted, or null), `certificate` (`path`,
        /// `sha256`, or null) and `stats`. Exit codes and --result are the
        /// same in both.
        #[arg(long, value_enum, default_value_t = commands::VerifyFormat::Text, value_name = "FORMAT")]
        format: commands::VerifyFormat,
    },
    /// Run a set of VNN-COMP instances (an instances.csv) and summarise the
    /// results.
    #[command(
        long_about = "Run the instances of a VNN-COMP-style instances.csv one after the \
other (the engine uses all cores for each) and print a summary.\n\n\
CSV columns, one instance per line, with or without a header row (a header's first \
field contains `onnx`):\n  \
onnx       the model, relative to the CSV's directory (or absolute)\n  \
vnnlib     the property, relative to the CSV's directory (or absolute)\n  \
timeout_s  the instance's time budget in seconds (capped by --timeout-cap)\n  \
expected   optional: unsat (or holds) / sat (or violated); anything else means \
no expectation\n\n\
An instance whose model or property cannot be loaded gets the result `error` (its \
message is printed) and the run goes on. A result is WRONG when it is sat where unsat is \
expected, or unsat where sat is expected.\n\n\
Progress goes to stderr (a bar on a terminal, otherwise one line per instance); the \
summary (counts, total/wall/median seconds, the 10 slowest instances) goes to stdout.\n\n\
Exit codes: 0 no WRONG result (even with unknown, timeout or error results); 1 some \
result is WRONG; 2 bad input (an unreadable CSV, a line with missing columns or a bad \
timeout, named by line; an existing --out file without --force).",
        after_help = "Example:\n  axiom vnncomp benchmarks/acasxu/instances.csv --timeout-cap 60 --out results.csv"
    )]
    Vnncomp {
        /// The instances file: `onnx,vnnlib,timeout_s[,expected]` per line.
        instances: PathBuf,
        /// Cap every instance's timeout at S seconds.
        #[arg(long, value_name = "S", allow_negative_numbers = true)]
        timeout_cap: Option<f64>,
        /// Write the results as CSV (columns
        /// onnx,vnnlib,result,seconds,expected,agrees,detail) to FILE, one
        /// row as each instance finishes; `agrees` is yes/no, or empty when
        /// there is no expectation or no verdict; `detail` says why an
        /// instance is an error or unknown (empty otherwise). Refuses an
        /// existing FILE unless --force.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Overwrite an existing --out FILE.
        #[arg(long)]
        force: bool,
        /// Re-check every verdict with the independent exact checker (not
        /// counted in the instance's time); a rejected verdict is an error.
        #[arg(long)]
        recheck: bool,
        /// Where branch and bound bounds its boxes: cpu, or cuda (as for
        /// `axiom verify --backend`).
        #[arg(long, default_value = "cpu", value_name = "NAME")]
        backend: String,
    },
    /// Prove every obligation of every .axiom specification under the paths:
    /// the CI gate.
    #[command(
        long_about = "Find every *.axiom file under the paths (default: the current directory; hidden directories and target/ are skipped), prove every `prove` in it, and report each obligation as:
  proved     the evidence was re-checked by the independent exact checker, or the rewriter discharged it by a rewrite chain it replayed
  disproved  a counterexample was re-executed and meets the property exactly
  unknown    timeout, unsupported construct, or evidence the checker did not accept
  error      the specification or obligation is malformed

Nothing heuristic or sampled is ever called proved.

Exit codes: 0 all proved; 1 something disproved; 2 bad input (an error), or nothing to check (no .axiom file, no `prove`; 0 with --allow-empty); 3 something unknown (0 with --allow-unknown).",
        after_help = "Examples:
  axiom check examples/
  axiom check --format sarif --out axiom.sarif
  axiom check specs/ --cache .axiom/cache --format junit --out junit.xml --force"
    )]
    Check {
        /// Files or directories to search for .axiom specifications.
        paths: Vec<PathBuf>,
        /// Report format on stdout.
        #[arg(long, value_enum, default_value_t = axiom_ml::check_report::Format::Human)]
        format: axiom_ml::check_report::Format,
        /// Budget per obligation, in seconds.
        #[arg(
            long,
            default_value_t = 60.0,
            value_name = "S",
            allow_negative_numbers = true
        )]
        timeout: f64,
        /// Exit 0 even when some obligation is unknown.
        #[arg(long)]
        allow_unknown: bool,
        /// Write the report to FILE (in --format) instead of stdout, with a
        /// one-line summary on stderr. An existing non-empty FILE is
        /// refused before any work unless --force.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace an existing --out FILE.
        #[arg(long)]
        force: bool,
        /// Exit 0 when there is nothing to check (no .axiom file, or specs
        /// without a `prove`); without it that is exit code 2, since a gate
        /// that checks nothing must not pass silently.
        #[arg(long)]
        allow_empty: bool,
        /// Keep decided results in DIR, keyed by the sha256 of engine
        /// version, model digest, obligation and options; an unchanged
        /// obligation is not proved again.
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
        /// Seed of the engine's random sampling and attacks.
        #[arg(long, default_value_t = 0, value_name = "N")]
        seed: u64,
    },
    /// Make an ed25519 key pair for signing certificates: KEY (secret, mode
    /// 0600) and KEY.pub.
    #[command(
        long_about = "Make an ed25519 key pair for signing certificates: KEY holds the secret \
key (created with mode 0600) and KEY.pub the public key to give to whoever checks your \
certificates. Both are short text files (format in the axiom-certs docs). Existing files \
are never replaced unless --force.",
        after_help = "Example:\n  axiom keygen --out ~/.axiom/signing.key"
    )]
    Keygen {
        /// Where to write the secret key (the public key goes to KEY.pub).
        #[arg(long, value_name = "KEY")]
        out: PathBuf,
        /// Replace an existing key pair.
        #[arg(long)]
        force: bool,
    },
    /// Prove a .axiom specification and write a bundle: the weights, one
    /// signed certificate per obligation, and a signed manifest.
    #[command(
        long_about = "Prove every obligation of a .axiom specification (as `axiom check` does: \
rewriter, engine, exact re-check) and write the bundle DIR:\n  \
manifest.json, manifest.sig   every file with its sha256, signed\n  \
signer.pub                    the signer's public key\n  \
spec.axiom                    the specification\n  \
MODEL/model.onnx              the network\n  \
MODEL/weights.safetensors     its weights; the metadata names every certificate's digest\n  \
MODEL/OBLIGATION.cert         one signed certificate per obligation (CBOR), with a .json view\n\n\
Every obligation gets a certificate, whatever its verdict (an unknown one says why). \
DIR must not exist or be empty.\n\n\
Exit codes: 0 all proved; 1 something disproved; 2 bad input; 3 something unknown.",
        after_help = "Example:\n  axiom keygen --out signing.key\n  axiom certify examples/specs/xor.axiom --key signing.key --out xor.bundle\n  axiom cert verify xor.bundle --pubkey signing.key.pub --recheck"
    )]
    Certify {
        /// The specification.
        spec: PathBuf,
        /// The secret key that signs (from `axiom keygen`).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// The bundle folder to write.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Budget per obligation, in seconds.
        #[arg(
            long,
            default_value_t = 60.0,
            value_name = "S",
            allow_negative_numbers = true
        )]
        timeout: f64,
        /// Seed of the engine's random sampling and attacks.
        #[arg(long, default_value_t = 0, value_name = "N")]
        seed: u64,
    },
    /// Check certificates and bundles.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Export obligations to other tools (Lean 4).
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Review the audit log: verify its chain, list records, write an HTML
    /// report, repair crash damage.
    #[command(
        long_about = "Review the audit log that audited commands append to: one JSON line per \
event (verify, check, certify, cert verify, export, keygen, run with a violated ensure, \
audit repair), each with its sequence number, UTC time, user, host, tool version, input \
digests, verdicts and exit code, chained to the previous line by its sha256 and signed \
with ed25519 when --audit-key (or AXIOM_AUDIT_KEY) is set.\n\n\
The log is --log FILE, else --audit-log / AXIOM_AUDIT_LOG, else .axiom/audit.log in the \
current folder. Commands run with --no-audit leave no trace; set AXIOM_AUDIT_REQUIRED=1 \
in audited environments to make axiom refuse --no-audit. See docs/audit.md.",
        after_help = "Examples:\n  axiom audit verify --log .axiom/audit.log --pubkey signing.key.pub\n  axiom audit show --kind certify --since 2026-11-01\n  axiom audit report --out audit.html\n  axiom audit repair --log .axiom/audit.log"
    )]
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check the chain, the hashes and the signatures; name the first broken
    /// record.
    #[command(
        long_about = "Check every record of the log: its hash, its link to the previous record, \
its signature. With --pubkey (repeatable), every signed record must be signed by one of those \
keys; without, by the key that signed the first signed record.\n\n\
An unsigned record (written while no --audit-key / AXIOM_AUDIT_KEY was set) is not \
tampering: it is chained and checked like the others, but nobody vouches for who wrote it. \
Unsigned records are listed (with a warning for those after signed records, which anyone \
who can write the file could have appended); --require-signed makes any unsigned record a \
failure.\n\n\
Records deleted from the END of the log leave a shorter valid chain: keep the printed head \
hash elsewhere and compare.\n\n\
Exit codes: 0 the whole log verifies; 1 a record is broken, the last line is torn (named by \
line, with what to do), or a record is unsigned under --require-signed; 2 bad input (no log, \
a bad key file)."
    )]
    Verify {
        /// The log [default: --audit-log, AXIOM_AUDIT_LOG, .axiom/audit.log].
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
        /// A public key (KEY.pub) that may sign records; repeat it for
        /// several.
        #[arg(long, value_name = "PUB")]
        pubkey: Vec<PathBuf>,
        /// Fail (exit code 1) when any record is unsigned.
        #[arg(long)]
        require_signed: bool,
    },
    /// List records, oldest first.
    Show {
        /// The log [default: --audit-log, AXIOM_AUDIT_LOG, .axiom/audit.log].
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
        /// Only records about this model digest (a prefix will do).
        #[arg(long, value_name = "DIGEST")]
        model: Option<String>,
        /// Only records of this kind: verify, check, certify, cert-verify,
        /// export, keygen, run, audit-repair.
        #[arg(long, value_name = "K")]
        kind: Option<String>,
        /// Only records from this time on: 2026-11-23 (midnight UTC) or an
        /// RFC 3339 time such as 2026-11-23T18:40:01Z.
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = audit_cmd::ShowFormat::Human)]
        format: audit_cmd::ShowFormat,
    },
    /// Write one self-contained HTML page: a timeline, each model's
    /// obligations with their latest verdicts, certificates and signers,
    /// chain breaks highlighted.
    Report {
        /// The log [default: --audit-log, AXIOM_AUDIT_LOG, .axiom/audit.log].
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
        /// The page to write.
        #[arg(long, value_name = "FILE.html")]
        out: PathBuf,
        /// Replace an existing --out file.
        #[arg(long)]
        force: bool,
    },
    /// Cut a line torn by a crash off the end of the log, keeping a backup
    /// (LOG.bak); the repair is recorded in the log.
    #[command(
        long_about = "Repair crash damage: when the last line of the log is incomplete or not a \
record (a write interrupted by a crash), copy the log to LOG.bak (LOG.bak.1, ... if that \
exists), then truncate the log to its last good record, and append an audit-repair record \
saying what was cut. A break anywhere before the last line is not crash damage: repair \
refuses (exit 1) and changes nothing, since it must be investigated.\n\n\
Exit codes: 0 repaired, or nothing to repair; 1 damage that is not a torn last line; 2 bad \
input."
    )]
    Repair {
        /// The log [default: --audit-log, AXIOM_AUDIT_LOG, .axiom/audit.log].
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ExportCommand {
    /// Write Lean 4 sources stating each obligation about the real network,
    /// with proofs where a concrete route exists.
    #[command(
        long_about = "Write Lean 4 sources (Lean core only, no Mathlib) for the obligations of a \
.axiom specification, or of a bundle written by `axiom certify` (or one certificate in it):\n  \
AxiomExport/Prelude.lean               exact rationals Q, relu, dense layers\n  \
AxiomExport/MODEL/Weights.lean         every weight, exactly its float32 value\n  \
AxiomExport/MODEL/Network.lean         def net : List Q → List Q\n  \
AxiomExport/MODEL/Obligations.lean     one theorem per obligation\n  \
obligations.json                       each obligation's verdict in Axiom and Lean status\n  \
check.sh, lakefile.lean                check with plain `lean`, or `lake build`\n\n\
A disproved obligation becomes the theorem of its negation, proved by evaluating the \
network on the counterexample (`decide`); a bound a ReLU output meets for every input \
is proved from the prelude; every other theorem ends in `sorry` and is `open` in the \
manifest. From a specification, every obligation is decided first (as `axiom check` \
does); from a bundle, the bundle is checked first (signatures and digests) and the \
certificates are the source. Models with Sigmoid, Tanh or Softmax (no exact definition \
over the rationals in Lean core), Conv2d, BatchNorm or pooling are not exported; their \
obligations are listed as `not-exported` with the reason. See docs/lean-export.md.\n\n\
Exit codes: 0 written; 1 the bundle does not check; 2 bad input (nothing written).",
        after_help = "Examples:\n  axiom export lean examples/specs/xor.axiom --out xor-lean\n  axiom export lean xor.bundle --pubkey signing.key.pub --out xor-lean\n  sh xor-lean/check.sh"
    )]
    Lean {
        /// A .axiom specification, a bundle folder, or a .cert in a bundle.
        input: PathBuf,
        /// The folder to write (must not exist or be empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// From a specification: budget per obligation, in seconds.
        #[arg(
            long,
            default_value_t = 60.0,
            value_name = "S",
            allow_negative_numbers = true
        )]
        timeout: f64,
        /// From a specification: seed of the engine's sampling and attacks.
        #[arg(long, default_value_t = 0, value_name = "N")]
        seed: u64,
        /// From a bundle: the public key expected to have signed it.
        #[arg(long, value_name = "PUB")]
        pubkey: Option<PathBuf>,
        /// The most numbers (weights and constants) one exported network may
        /// have; Lean elaborates every one of them.
        #[arg(long, default_value_t = axiom_lean_export::DEFAULT_MAX_NUMBERS, value_name = "N")]
        max_numbers: usize,
    },
}

#[derive(Subcommand, Debug)]
enum CertCommand {
    /// Check a bundle (or one certificate): signatures, manifest, weight
    /// digests, and with --recheck the evidence itself.
    #[command(
        long_about = "Check a bundle written by `axiom certify`, or one certificate:\n  \
- the manifest is signed by the key, every file has its listed sha256, nothing else is there;\n  \
- every model file loads and has the certified digest, the safetensors hold exactly its weights and name its certificates;\n  \
- every certificate decodes (format version, canonical CBOR), is signed by the key, and is about these weights.\n\n\
With --recheck, every verdict is re-validated independently of the prover, in exact \
rational arithmetic: every proof leaf's bound data implies the output condition on its \
region and the leaves cover the input region; counterexamples are evaluated exactly; \
rewrite chains are replayed against the checker's own rules. SMT leaves are re-solved by \
Z3 and reported as `trusted: smt`.\n\n\
Pin the signer with --pubkey: without it the bundle's own signer.pub is used, which shows \
integrity but not who signed. A certificate outside a bundle (from `axiom verify --cert`) \
needs --model to be checked against its model.\n\n\
Exit codes: 0 every check passed; 1 a check failed (the first is named); 2 bad usage.",
        after_help = "Examples:\n  axiom cert verify xor.bundle --pubkey signing.key.pub --recheck\n  axiom cert verify prop.cert --model net.onnx --pubkey signing.key.pub --recheck"
    )]
    Verify {
        /// A bundle folder, or a certificate file.
        path: PathBuf,
        /// The public key expected to have signed.
        #[arg(long, value_name = "PUB")]
        pubkey: Option<PathBuf>,
        /// Re-validate the evidence of every verdict.
        #[arg(long)]
        recheck: bool,
        /// For a certificate outside a bundle: the model file it is about.
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
    },
    /// Print a certificate as JSON, for reviewers.
    Show {
        /// The certificate file (.cert).
        path: PathBuf,
    },
}

/// The `--split` choices of `axiom verify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// Input splitting when at most 10 inputs vary, ReLU splitting
    /// otherwise.
    Auto,
    /// Split the input box.
    Input,
    /// Split unstable ReLUs.
    Relu,
}

/// Floating-point precision of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Precision {
    /// float32, as ONNX runtimes compute.
    F32,
    /// float64, for checks.
    F64,
}

/// The trail an audited command fills (with the log it mends, for
/// `audit repair`); commands outside the audited list get no trail.
fn audit_plan(command: &Command) -> Trail {
    match command {
        Command::Verify { .. } => Trail::new(Kind::Verify),
        Command::Check { .. } => Trail::new(Kind::Check),
        Command::Keygen { .. } => Trail::new(Kind::Keygen),
        Command::Certify { .. } => Trail::new(Kind::Certify),
        Command::Cert {
            command: CertCommand::Verify { .. },
        } => Trail::new(Kind::CertVerify),
        Command::Export {
            command: ExportCommand::Lean { .. },
        } => Trail::new(Kind::Export),
        Command::Run { .. } => Trail::on_demand(Kind::Run),
        Command::Audit {
            command: AuditCommand::Repair { .. },
        } => Trail::on_demand(Kind::AuditRepair),
        Command::Info { .. }
        | Command::Vnncomp { .. }
        | Command::Cert {
            command: CertCommand::Show { .. },
        }
        | Command::Audit { .. } => Trail::none(),
    }
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
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let audit = trail::AuditOptions {
        log: cli.audit.audit_log.clone(),
        key: cli.audit.audit_key.clone(),
        off: cli.audit.no_audit,
    };
    let mut trail = audit_plan(&cli.command);
    // Opened before the work: a bad key or a damaged log stops the command
    // here rather than after it. `audit repair` mends the log first.
    let sink = match &cli.command {
        _ if !trail.is_audited() => Ok(None),
        Command::Audit {
            command: AuditCommand::Repair { log },
        } => audit.open_at(audit_cmd::log_path(log.as_deref(), &audit), false),
        _ => audit.open(),
    };
    let sink = match sink {
        Ok(sink) => sink,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    let trail_ref = &mut trail;
    let result = match cli.command {
        Command::Info {
            path,
            backends,
            format,
        } => info::info(path.as_deref(), backends, format),
        Command::Run {
            model,
            model_name,
            input,
            backend,
            precision,
        } => commands::run(
            &model,
            &input,
            &backend,
            precision,
            model_name.as_deref(),
            trail_ref,
        ),
        Command::Verify {
            model,
            property,
            timeout,
            result,
            force,
            split,
            seed,
            no_attack,
            recheck,
            smt,
            cert,
            key,
            backend,
            format,
        } => commands::verify(
            &commands::VerifyArgs {
                format,
                model,
                property,
                timeout,
                result,
                force,
                split,
                seed,
                attack: !no_attack,
                smt_leaves: smt,
                recheck,
                cert,
                key,
                backend,
            },
            trail_ref,
        ),
        Command::Vnncomp {
            instances,
            timeout_cap,
            out,
            force,
            recheck,
            backend,
        } => vnncomp::run(&vnncomp::VnncompArgs {
            instances,
            timeout_cap,
            out,
            force,
            recheck,
            backend,
        }),
        Command::Check {
            paths,
            format,
            timeout,
            allow_unknown,
            allow_empty,
            out,
            force,
            cache,
            seed,
        } => check::run(
            &check::CheckArgs {
                paths,
                format,
                timeout,
                allow_unknown,
                allow_empty,
                out,
                force,
                cache,
                seed,
            },
            trail_ref,
        ),
        Command::Keygen { out, force } => certify::keygen(&out, force, trail_ref),
        Command::Certify {
            spec,
            key,
            out,
            timeout,
            seed,
        } => certify::certify(
            &certify::CertifyArgs {
                spec,
                key,
                out,
                timeout,
                seed,
            },
            trail_ref,
        ),
        Command::Cert {
            command:
                CertCommand::Verify {
                    path,
                    pubkey,
                    recheck,
                    model,
                },
        } => certify::cert_verify(
            &certify::CertVerifyArgs {
                path,
                pubkey,
                model,
                recheck,
            },
            trail_ref,
        ),
        Command::Cert {
            command: CertCommand::Show { path },
        } => certify::cert_show(&path),
        Command::Export {
            command:
                ExportCommand::Lean {
                    input,
                    out,
                    timeout,
                    seed,
                    pubkey,
                    max_numbers,
                },
        } => export::export_lean(
            &export::ExportLeanArgs {
                input,
                out,
                timeout,
                seed,
                pubkey,
                max_numbers,
            },
            trail_ref,
        ),
        Command::Audit { command } => match command {
            AuditCommand::Verify {
                log,
                pubkey,
                require_signed,
            } => audit_cmd::verify(
                &audit_cmd::log_path(log.as_deref(), &audit),
                &pubkey,
                require_signed,
            ),
            AuditCommand::Show {
                log,
                model,
                kind,
                since,
                format,
            } => audit_cmd::show(
                &audit_cmd::log_path(log.as_deref(), &audit),
                model,
                kind,
                since.as_deref(),
                format,
            ),
            AuditCommand::Report { log, out, force } => {
                audit_cmd::report(&audit_cmd::log_path(log.as_deref(), &audit), &out, force)
            }
            AuditCommand::Repair { log } => {
                audit_cmd::repair(&audit_cmd::log_path(log.as_deref(), &audit), trail_ref)
            }
        },
    };
    let (code, error) = match result {
        Ok(code) => (code, None),
        Err(e) => {
            eprintln!("error: {e}");
            (e.exit_code(), Some(e.to_string()))
        }
    };
    let code = match (sink, trail.into_event(argv, code, error)) {
        (Some(sink), Some(event)) => record(&sink, &event, code),
        _ => code,
    };
    ExitCode::from(console::exit_code(code))
}

/// Appends the command's record; a record that cannot be written turns
/// the exit code into 2, since an audited result that is not in the log
/// must not pass as one.
fn record(sink: &trail::Sink, event: &axiom_audit::Event, code: u8) -> u8 {
    match axiom_audit::append(&sink.log, event, sink.key.as_ref()) {
        Ok(record) => {
            eprintln!(
                "audit: record {} in {}{}",
                record.seq,
                sink.log.display(),
                if record.signature.is_some() {
                    " (signed)"
                } else {
                    ""
                }
            );
            code
        }
        Err(e) => {
            eprintln!(
                "error: the audit record of this command could not be written: {e}\n  the result above stands, but it is not in the audit log, so the exit code is {}",
                exit::BAD_INPUT
            );
            exit::BAD_INPUT
        }
    }
}
