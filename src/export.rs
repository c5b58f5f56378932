//! `axiom export lean SPEC_OR_BUNDLE --out DIR`.
//!
//! From a `.axiom` specification, every obligation is decided first (as
//! `axiom check` does: rewriter, engine, exact re-check) so that the export
//! knows its verdict and counterexample; from a bundle written by
//! `axiom certify` (or one of its certificates), the bundle is checked
//! (signatures, manifest, weight digests) and the certificates give the
//! statements, verdicts and counterexamples. Either way
//! `axiom_lean_export` writes the Lean files and `obligations.json`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use axiom_certs::bundle::{Bundle, MANIFEST};
use axiom_certs::cert::{CertEvidence, VerdictKind};
use axiom_certs::verify::{self, Recheck};
use axiom_certs::{PublicKey, SignedCertificate};
use axiom_core::lang;
use axiom_core::spec::Rational;
use axiom_core::Graph;
use axiom_lean_export::{
    export, AxiomVerdict, ExportOptions, LeanProject, ModelInput, ObligationInput, Statement,
};
use axiom_ml::check_report::Status;

use crate::check::{blank_result, decide, Prepared};
use crate::commands::{seconds_to_duration, CliError};
use crate::exit;
use crate::trail::Trail;

/// Options of `axiom export lean`.
#[derive(Debug, Clone)]
pub struct ExportLeanArgs {
    pub input: PathBuf,
    pub out: PathBuf,
    pub timeout: f64,
    pub seed: u64,
    pub pubkey: Option<PathBuf>,
    pub max_numbers: usize,
}

fn exact_input(input: &[f64]) -> Option<Vec<Rational>> {
    input.iter().map(|&v| Rational::from_float(v)).collect()
}

/// `axiom export lean`.
pub fn export_lean(args: &ExportLeanArgs, trail: &mut Trail) -> Result<u8, CliError> {
    crate::commands::refuse_used_out(&args.out)?;
    let meta = std::fs::metadata(&args.input)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.input.display())))?;
    if meta.is_dir() {
        trail.file(&args.input.join(MANIFEST));
    } else if args.input.extension().is_some_and(|e| e == "axiom") {
        trail.spec(&args.input);
    } else {
        trail.file(&args.input);
    }
    let options = ExportOptions {
        max_numbers: args.max_numbers,
    };
    let is_cert = args.input.extension().is_some_and(|e| e == "cert");
    let project = if meta.is_dir() || is_cert {
        from_bundle(args, is_cert, &options)?
    } else if args.input.extension().is_some_and(|e| e == "axiom") {
        from_spec(args, &options)?
    } else {
        return Err(CliError::Usage(format!(
            "{}: expected a .axiom specification, a bundle folder (from `axiom certify`) or a .cert file in one",
            args.input.display()
        )));
    };
    let project = match project {
        Ok(p) => p,
        Err((code, why)) => {
            trail.detail(why);
            return Ok(code);
        }
    };
    let problems = axiom_lean_export::structure::check(&project);
    if !problems.is_empty() {
        return Err(CliError::Usage(format!(
            "internal error: the export fails its own structural check, so nothing was written:\n  {}\n  hint: please report this with the input that caused it",
            problems.join("\n  ")
        )));
    }
    project
        .write(&args.out)
        .map_err(|e| CliError::Usage(format!("--out: {e}")))?;
    let mut complete = 0;
    let mut open = 0;
    for e in &project.manifest.obligations {
        trail.verdict(
            e.model.clone(),
            Some(e.model_digest.clone()),
            e.obligation.clone(),
            e.verdict.clone(),
            e.certificate.clone(),
        );
        let theorem = e.lean_theorem.as_deref().unwrap_or("-");
        println!(
            "{:<10} {:<13} {}::{}  {theorem}",
            e.verdict, e.lean_proof, e.model, e.obligation
        );
        if e.lean_proof == "not-exported" {
            println!("           {}", e.note);
        }
        match e.lean_proof.as_str() {
            "complete" => complete += 1,
            "open" => open += 1,
            _ => {}
        }
    }
    let skipped = project.manifest.obligations.len() - complete - open;
    let line = format!(
        "wrote {}: {} Lean files, obligations.json; {complete} complete, {open} open{}",
        args.out.display(),
        project
            .files
            .keys()
            .filter(|f| f.ends_with(".lean"))
            .count(),
        if skipped > 0 {
            format!(", {skipped} not exported")
        } else {
            String::new()
        }
    );
    println!("{line}");
    trail.detail(format!("Lean 4: {line}"));
    println!(
        "check it with Lean {}+ (core only): sh {}/check.sh, or lake build there",
        axiom_lean_export::MINIMUM_LEAN,
        args.out.display()
    );
    Ok(exit::OK)
}

/// Decides every obligation of the spec, then exports.
fn from_spec(
    args: &ExportLeanArgs,
    options: &ExportOptions,
) -> Result<Result<LeanProject, (u8, String)>, CliError> {
    let timeout = seconds_to_duration(args.timeout, "--timeout")?;
    let spec = match lang::load_spec(&args.input) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", e.render(std::io::stderr().is_terminal()));
            return Ok(Err((
                exit::BAD_INPUT,
                format!(
                    "error: {}:{}:{}: {}",
                    args.input.display(),
                    e.line,
                    e.col,
                    e.message
                ),
            )));
        }
    };
    let mut inputs = Vec::new();
    for model in &spec.models {
        let prepared = Prepared::new(model);
        let mut obligations = Vec::new();
        for ob in &model.proves {
            let t = Instant::now();
            let mut r = blank_result(&args.input, &model.name, ob);
            let _ = decide(&prepared, ob, timeout, args.seed, &mut r);
            eprintln!(
                "{}::{}: {} ({:.2} s)",
                model.name,
                ob.name,
                r.status,
                t.elapsed().as_secs_f64()
            );
            let verdict = match r.status {
                Status::Proved => AxiomVerdict::Proved,
                Status::Disproved => AxiomVerdict::Disproved,
                Status::Unknown | Status::Error => AxiomVerdict::Unknown,
            };
            let statement = match (&ob.pred, &ob.property) {
                (Some(pred), _) => Ok(Statement::Forall {
                    region: ob.region.clone(),
                    assumes: model.assumes.iter().map(|a| a.pred.clone()).collect(),
                    pred: pred.clone(),
                }),
                (None, Ok(p)) => Ok(Statement::Safe(p.clone())),
                (None, Err(why)) => Err(why.clone()),
            };
            obligations.push(ObligationInput {
                name: ob.name.clone(),
                text: ob.text.clone(),
                statement,
                verdict,
                witness: r.counterexample.as_ref().and_then(|(x, _)| exact_input(x)),
                certificate: None,
            });
        }
        inputs.push((model.name.clone(), &model.graph, obligations));
    }
    let models: Vec<ModelInput> = inputs
        .into_iter()
        .map(|(name, graph, obligations)| ModelInput {
            name,
            graph,
            obligations,
        })
        .collect();
    let source = format!("specification {}", args.input.display());
    export(&models, &source, options)
        .map(Ok)
        .map_err(|e| CliError::Usage(e.to_string()))
}

/// Checks the bundle, then exports what its certificates state.
fn from_bundle(
    args: &ExportLeanArgs,
    is_cert: bool,
    options: &ExportOptions,
) -> Result<Result<LeanProject, (u8, String)>, CliError> {
    let (root, only) = if is_cert {
        let root = args
            .input
            .parent()
            .and_then(Path::parent)
            .filter(|r| r.join(MANIFEST).is_file())
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "{}: a certificate alone does not hold the network it is about\n  hint: pass the bundle folder it came from (written by `axiom certify`)",
                    args.input.display()
                ))
            })?;
        (root.to_path_buf(), Some(args.input.clone()))
    } else {
        (args.input.clone(), None)
    };
    let bundle = Bundle::open(&root).map_err(|e| CliError::Usage(e.to_string()))?;
    let key = match &args.pubkey {
        Some(p) => PublicKey::load(p).map_err(|e| CliError::Usage(format!("--pubkey: {e}")))?,
        None => {
            eprintln!(
                "note: checking the bundle against its own signer.pub; pass --pubkey to check it against a key you trust"
            );
            bundle
                .bundled_signer()
                .map_err(|e| CliError::Usage(e.to_string()))?
        }
    };
    if let Err(f) = verify::check(&bundle, &key, Recheck::None) {
        let why = format!(
            "the bundle does not check, so nothing is exported: {}: {}",
            f.check, f.reason
        );
        eprintln!("error: {why}");
        return Ok(Err((exit::VIOLATED, why)));
    }
    let read = |rel: &str| {
        let p = root.join(rel);
        axiom_core::read_file(&p).map_err(|e| CliError::Usage(format!("{}: {e}", p.display())))
    };
    let mut graphs: Vec<(String, Graph, Vec<ObligationInput>)> = Vec::new();
    let mut matched = only.is_none();
    for m in &bundle.manifest.models {
        let graph = axiom_core::onnx::parse(&read(&m.onnx)?, &m.onnx)?;
        let mut obligations = Vec::new();
        for path in &m.certificates {
            if let Some(only) = &only {
                let same =
                    std::fs::canonicalize(only).ok() == std::fs::canonicalize(root.join(path)).ok();
                if !same {
                    continue;
                }
                matched = true;
            }
            let cert = SignedCertificate::from_bytes(&read(path)?)
                .map_err(|e| CliError::Usage(format!("{path}: {e}")))?;
            let digest = cert.digest();
            let c = &cert.certificate;
            let ob = &c.obligation;
            let statement = match (&ob.property, &ob.goal) {
                (Some(p), _) => p
                    .to_property()
                    .map(Statement::Safe)
                    .map_err(|e| e.to_string()),
                (None, Some(goal)) => axiom_lean_export::sexpr::parse_pred(goal)
                    .map(Statement::Goal)
                    .map_err(|e| format!("the certificate's goal does not read back: {e}")),
                (None, None) => Err("the certificate states neither a property nor a goal".into()),
            };
            let verdict = match c.verdict {
                VerdictKind::Proved => AxiomVerdict::Proved,
                VerdictKind::Disproved => AxiomVerdict::Disproved,
                VerdictKind::Unknown => AxiomVerdict::Unknown,
            };
            let witness = match &c.evidence {
                CertEvidence::Counterexample(cx) => cx
                    .input
                    .iter()
                    .map(|e| e.to_f64().ok().and_then(Rational::from_float))
                    .collect(),
                _ => None,
            };
            obligations.push(ObligationInput {
                name: ob.name.clone(),
                text: ob.text.clone(),
                statement,
                verdict,
                witness,
                certificate: Some(digest),
            });
        }
        graphs.push((m.name.clone(), graph, obligations));
    }
    if !matched {
        return Err(CliError::Usage(format!(
            "{}: the bundle's manifest does not list this certificate",
            args.input.display()
        )));
    }
    let models: Vec<ModelInput> = graphs
        .iter()
        .filter(|(_, _, obs)| !obs.is_empty() || only.is_none())
        .map(|(name, graph, obligations)| ModelInput {
            name: name.clone(),
            graph,
            obligations: obligations.clone(),
        })
        .collect();
    let source = format!("bundle {} (signer {})", root.display(), key.id());
    export(&models, &source, options)
        .map(Ok)
        .map_err(|e| CliError::Usage(e.to_string()))
}
