//! `axiom audit verify|show|report|repair`: reviewing the audit log.

use std::path::{Path, PathBuf};

use axiom_audit::{AuditError, Filter, VerifyReport};
use axiom_certs::PublicKey;

use crate::commands::CliError;
use crate::exit;
use crate::trail::{AuditOptions, Trail};

/// The log an `axiom audit` command reads: `--log`, else `--audit-log` /
/// `$AXIOM_AUDIT_LOG`, else `.axiom/audit.log` in the current folder.
pub fn log_path(log: Option<&Path>, options: &AuditOptions) -> PathBuf {
    log.map(Path::to_path_buf).unwrap_or_else(|| options.log())
}

fn missing(log: &Path) -> CliError {
    CliError::Usage(format!(
        "{}: no audit log there\n  hint: pass --log FILE (or set AXIOM_AUDIT_LOG); audited commands write .axiom/audit.log in the folder they run in",
        log.display()
    ))
}

fn audit_error(e: AuditError) -> CliError {
    CliError::Usage(e.to_string())
}

/// `axiom audit verify`: exit 0 when the whole log verifies, 1 at a
/// break, a torn last line (named, with what to do) or an unsigned record
/// under `require_signed`, 2 for bad input.
pub fn verify(log: &Path, pubkeys: &[PathBuf], require_signed: bool) -> Result<u8, CliError> {
    if !log.is_file() {
        return Err(missing(log));
    }
    let keys = pubkeys
        .iter()
        .map(|p| {
            PublicKey::load(p)
                .map_err(|e| CliError::Usage(format!("--pubkey {}: {e}", p.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let policy = axiom_audit::Policy {
        trusted_keys: keys,
        require_signed,
    };
    let report = axiom_audit::verify_with(log, &policy).map_err(audit_error)?;
    print_out(&report.render_human());
    Ok(if report.is_ok() {
        exit::OK
    } else {
        exit::VIOLATED
    })
}

/// The output formats of `axiom audit show`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowFormat {
    /// One line per record.
    Human,
    /// A JSON array of the records, as in the log.
    Json,
}

/// `axiom audit show`: the records that pass the filter. A log that does
/// not verify is still listed, with a warning on stderr.
pub fn show(
    log: &Path,
    model: Option<String>,
    kind: Option<String>,
    since: Option<&str>,
    format: ShowFormat,
) -> Result<u8, CliError> {
    if let Some(k) = &kind {
        k.parse::<axiom_audit::Kind>()
            .map_err(|e| CliError::Usage(format!("--kind: {e}")))?;
    }
    let since = since
        .map(axiom_audit::parse_since)
        .transpose()
        .map_err(|e| CliError::Usage(format!("--since: {e}")))?;
    if !log.is_file() {
        return Err(missing(log));
    }
    let (records, report) = axiom_audit::read_records(log).map_err(audit_error)?;
    warn_if_broken(&report);
    let filter = Filter { model, kind, since };
    let picked: Vec<_> = filter.apply(&records).into_iter().cloned().collect();
    print_out(&match format {
        ShowFormat::Human => axiom_audit::format_human(&picked),
        ShowFormat::Json => axiom_audit::format_json(&picked),
    });
    if format == ShowFormat::Human {
        eprintln!("{} of {} records shown", picked.len(), records.len());
    }
    Ok(exit::OK)
}

/// `axiom audit report --out FILE.html`: one self-contained page. Refuses
/// an existing FILE unless `force`.
pub fn report(log: &Path, out: &Path, force: bool) -> Result<u8, CliError> {
    if out.exists() && !force {
        return Err(CliError::Usage(format!(
            "--out {}: the file exists\n  hint: pass --force to replace it, or choose another name",
            out.display()
        )));
    }
    if !log.is_file() {
        return Err(missing(log));
    }
    let (records, report) = axiom_audit::read_records(log).map_err(audit_error)?;
    warn_if_broken(&report);
    let page = axiom_audit::report_html(&records, &report);
    std::fs::write(out, page)
        .map_err(|e| CliError::Usage(format!("--out {}: cannot write: {e}", out.display())))?;
    println!(
        "wrote {}: {} records{}",
        out.display(),
        records.len(),
        if report.is_ok() {
            ", chain OK".to_string()
        } else {
            format!(
                ", chain NOT OK from line {}",
                report.first_bad_line().unwrap_or(0)
            )
        }
    );
    Ok(exit::OK)
}

/// `axiom audit repair`: cuts a torn last line off after a backup; exit 1
/// (nothing changed) when the damage is not at the end. A repair that
/// changed the log is itself recorded in it.
pub fn repair(log: &Path, trail: &mut Trail) -> Result<u8, CliError> {
    if !log.is_file() {
        return Err(missing(log));
    }
    match axiom_audit::repair(log) {
        Ok(report) => {
            print_out(&report.render_human());
            if report.repaired() {
                trail.want();
                let event = report.event(Vec::<String>::new());
                for f in event.inputs.files {
                    trail.file_digest(f);
                }
                if let Some(d) = event.outcome.detail {
                    trail.detail(d);
                }
            }
            Ok(exit::OK)
        }
        Err(e @ AuditError::NotCrashDamage { .. }) => {
            eprintln!("error: {e}");
            Ok(exit::VIOLATED)
        }
        Err(e) => Err(audit_error(e)),
    }
}

fn warn_if_broken(report: &VerifyReport) {
    if let Some(line) = report.first_bad_line() {
        eprintln!(
            "warning: the log does not verify from line {line}; run `axiom audit verify --log {}` for details",
            report.path.display()
        );
    }
}

fn print_out(text: &str) {
    print!("{text}");
}
