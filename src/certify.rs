//! `axiom keygen`, `axiom certify`, `axiom cert verify|show`, and the
//! certificate `axiom verify --cert` writes.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axiom_certs::bundle::{self, Bundle, BundleModel, MANIFEST};
use axiom_certs::cert::{
    CertEvidence, Certificate, DigestKind, FileDigest, ModelInfo, NameVersion, ObligationInfo,
    Timings, VerdictKind, Version,
};
use axiom_certs::verify::{self, CertReport, Recheck, Rechecked};
use axiom_certs::wire::PropertyData;
use axiom_certs::{PublicKey, SecretKey, SignedCertificate};
use axiom_core::lang::{self, ModelSpec};
use axiom_core::spec::Property;
use axiom_core::Graph;
use axiom_ml::check_report::{CheckSummary, Format, Status};
use sha2::{Digest, Sha256};

use crate::check::{blank_result, decide, Prepared};
use crate::commands::{seconds_to_duration, CliError};
use crate::exit;
use crate::trail::Trail;

/// `axiom keygen --out KEY [--force]`.
pub fn keygen(out: &Path, force: bool, trail: &mut Trail) -> Result<u8, CliError> {
    let key = SecretKey::generate().map_err(|e| CliError::Usage(e.to_string()))?;
    let public = axiom_certs::keys::write_keypair(&key, out, force)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    // The public half only: the secret key's digest would be a hint to it.
    trail.file(&public);
    trail.detail(format!(
        "key pair written: key id {}, public key {}",
        key.public().id(),
        public.display()
    ));
    println!("key id {}", key.public().id());
    println!("secret key: {} (mode 0600; keep it private)", out.display());
    println!(
        "public key: {} (give it to whoever checks your certificates)",
        public.display()
    );
    Ok(exit::OK)
}

pub(crate) fn load_secret(path: &Path) -> Result<SecretKey, CliError> {
    SecretKey::load(path).map_err(|e| CliError::Usage(format!("--key: {e}")))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The engine's solvers, named in every certificate.
fn solvers() -> Vec<NameVersion> {
    vec![
        NameVersion {
            name: "axiom-prover".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        NameVersion {
            name: "egg".into(),
            version: "0.11".into(),
        },
        NameVersion {
            name: "z3".into(),
            version: axiom_prover::smt::z3_version(),
        },
    ]
}

/// What a certificate states, before it is signed.
pub(crate) struct Statement<'a> {
    pub model_name: &'a str,
    pub graph: &'a Graph,
    pub files: Vec<FileDigest>,
    pub sources: Vec<FileDigest>,
    pub name: &'a str,
    pub text: &'a str,
    pub source: Option<String>,
    pub line: Option<u32>,
    pub property: Option<&'a Property>,
    pub goal: Option<String>,
    pub verdict: VerdictKind,
    pub evidence: CertEvidence,
    pub options: BTreeMap<String, String>,
    pub solve: Duration,
    pub check: Duration,
}

pub(crate) fn certificate(s: Statement) -> Result<Certificate, CliError> {
    // A certificate states the one parsed form its evidence is about.
    let (property, goal) = match s.evidence {
        CertEvidence::Rewrite { .. } => (None, s.goal),
        CertEvidence::Proof { .. } | CertEvidence::Counterexample(_) => {
            (s.property.map(PropertyData::from_property), None)
        }
        CertEvidence::None { .. } => (s.property.map(PropertyData::from_property), s.goal),
    };
    let digest = ObligationInfo::parsed_digest(property.as_ref(), goal.as_deref())
        .map_err(|e| CliError::Usage(format!("cannot write the certificate: {e}")))?;
    Ok(Certificate {
        format: Version::CURRENT,
        tool: NameVersion {
            name: "axiom".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        model: ModelInfo {
            name: s.model_name.into(),
            digest: s.graph.digest().to_string(),
            files: s.files,
            sources: s.sources,
        },
        obligation: ObligationInfo {
            name: s.name.into(),
            text: s.text.into(),
            source: s.source,
            line: s.line,
            property,
            goal,
            digest,
        },
        verdict: s.verdict,
        evidence: s.evidence,
        solvers: solvers(),
        options: s.options,
        timings: Timings {
            solve_us: micros(s.solve),
            check_us: micros(s.check),
        },
        created: axiom_certs::cert::now_utc(),
        signer: String::new(),
    })
}

/// Options of `axiom certify`.
#[derive(Debug, Clone)]
pub struct CertifyArgs {
    pub spec: PathBuf,
    pub key: PathBuf,
    pub out: PathBuf,
    pub timeout: f64,
    pub seed: u64,
}

/// `axiom certify SPEC.axiom --key KEY --out DIR`.
pub fn certify(args: &CertifyArgs, trail: &mut Trail) -> Result<u8, CliError> {
    trail.spec(&args.spec);
    let timeout = seconds_to_duration(args.timeout, "--timeout")?;
    let key = load_secret(&args.key)?;
    crate::commands::refuse_used_out(&args.out)?;
    let spec = match lang::load_spec(&args.spec) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", e.render(std::io::stderr().is_terminal()));
            trail.detail(format!(
                "error: {}:{}:{}: {}",
                args.spec.display(),
                e.line,
                e.col,
                e.message
            ));
            return Ok(exit::BAD_INPUT);
        }
    };
    let start = Instant::now();
    let spec_dir = args.spec.parent().unwrap_or(Path::new("."));
    let mut summary = CheckSummary {
        results: Vec::new(),
        errors: Vec::new(),
        seconds: 0.0,
    };
    let mut models = Vec::new();
    let options = BTreeMap::from([
        (
            "timeout_s".to_string(),
            format!("{}", timeout.as_secs_f64()),
        ),
        ("seed".to_string(), args.seed.to_string()),
        ("split".to_string(), "auto".to_string()),
        ("attack".to_string(), "true".to_string()),
        ("smt_leaves".to_string(), "false".to_string()),
    ]);
    for model in &spec.models {
        let onnx = onnx_of(model)?;
        let files = bundle::bundle_file_digests(&model.name, &onnx, &model.graph);
        let sources = model
            .files
            .iter()
            .map(|p| {
                let bytes = axiom_core::read_raw_file(p)
                    .map_err(|e| CliError::Usage(format!("{}: {e}", p.display())))?;
                trail.file_bytes(p, &bytes);
                Ok(FileDigest {
                    path: p.strip_prefix(spec_dir).unwrap_or(p).display().to_string(),
                    kind: DigestKind::Bytes,
                    sha256: sha256_hex(&bytes),
                })
            })
            .collect::<Result<Vec<_>, CliError>>()?;
        let prepared = Prepared::new(model);
        let digest = model.graph.digest().to_string();
        let mut certificates = Vec::new();
        for ob in &model.proves {
            let t = Instant::now();
            let mut result = blank_result(&args.spec, &model.name, ob);
            let found = decide(&prepared, ob, timeout, args.seed, &mut result);
            result.seconds = t.elapsed().as_secs_f64();
            eprintln!(
                "{}::{}: {} ({:.2} s)",
                model.name, ob.name, result.status, result.seconds
            );
            let verdict = match result.status {
                Status::Proved => VerdictKind::Proved,
                Status::Disproved => VerdictKind::Disproved,
                Status::Unknown | Status::Error => VerdictKind::Unknown,
            };
            let cert = certificate(Statement {
                model_name: &model.name,
                graph: &model.graph,
                files: files.clone(),
                sources: sources.clone(),
                name: &ob.name,
                text: &ob.text,
                source: args
                    .spec
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned()),
                line: u32::try_from(ob.span.line).ok(),
                property: ob.property.as_ref().ok(),
                goal: found.goal,
                verdict,
                evidence: found.evidence,
                options: options.clone(),
                solve: found.solve,
                check: found.check,
            })?;
            let signed = cert
                .sign(&key)
                .map_err(|e| CliError::Usage(format!("cannot sign: {e}")))?;
            trail.verdict(
                model.name.clone(),
                Some(digest.clone()),
                ob.name.clone(),
                result.status.as_str(),
                Some(signed.digest()),
            );
            certificates.push(signed);
            summary.results.push(result);
        }
        models.push(BundleModel {
            name: model.name.clone(),
            graph: model.graph.clone(),
            onnx,
            certificates,
        });
    }
    let bundle = Bundle::write(&args.out, Some(&spec.source), &models, &key)
        .map_err(|e| CliError::Usage(format!("--out: {e}")))?;
    summary.seconds = start.elapsed().as_secs_f64();
    let color = std::io::stdout().is_terminal();
    let text = summary
        .render(Format::Human, color)
        .map_err(|e| CliError::Usage(format!("cannot render the report: {e}")))?;
    print!("{text}");
    let n: usize = bundle
        .manifest
        .models
        .iter()
        .map(|m| m.certificates.len())
        .sum();
    let line = format!(
        "bundle {}: {n} certificates signed by key {}, {} files listed in {MANIFEST}",
        args.out.display(),
        key.public().id(),
        bundle.manifest.files.len()
    );
    println!("{line}");
    trail.detail(line);
    Ok(u8::try_from(summary.exit_code(false)).unwrap_or(exit::BAD_INPUT))
}

/// The model as ONNX bytes: the file it came from when that is an ONNX file
/// of the same network, else written by axiom-core (and read back to check
/// that it is the same network).
fn onnx_of(model: &ModelSpec) -> Result<Vec<u8>, CliError> {
    let digest = model.graph.digest();
    if let Some(first) = model.files.first() {
        if first
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
        {
            let bytes = axiom_core::read_file(first)
                .map_err(|e| CliError::Usage(format!("{}: {e}", first.display())))?;
            if axiom_core::onnx::parse(&bytes, &first.display().to_string())
                .is_ok_and(|g| g.digest() == digest)
            {
                return Ok(bytes);
            }
        }
    }
    let bytes = axiom_core::onnx::to_bytes(&model.graph)?;
    let back = axiom_core::onnx::parse(&bytes, &model.name)?;
    if back.digest() != digest {
        return Err(CliError::Usage(format!(
            "model {}: cannot be written as ONNX faithfully (the network read back differs), so it cannot be bundled",
            model.name
        )));
    }
    Ok(bytes)
}

/// Options of `axiom cert verify`.
#[derive(Debug, Clone)]
pub struct CertVerifyArgs {
    pub path: PathBuf,
    pub pubkey: Option<PathBuf>,
    pub model: Option<PathBuf>,
    pub recheck: bool,
}

/// `axiom cert verify BUNDLE_OR_CERT [--pubkey PUB] [--recheck] [--model M]`.
/// Exit 0 when every check passes, 1 at the first that fails (named), 2
/// for bad usage.
pub fn cert_verify(args: &CertVerifyArgs, trail: &mut Trail) -> Result<u8, CliError> {
    let pinned = args
        .pubkey
        .as_ref()
        .map(|p| PublicKey::load(p).map_err(|e| CliError::Usage(format!("--pubkey: {e}"))))
        .transpose()?;
    let recheck = if args.recheck {
        Recheck::Full
    } else {
        Recheck::None
    };
    let meta = std::fs::metadata(&args.path)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.path.display())))?;
    let bundle_root = if meta.is_dir() {
        Some(args.path.clone())
    } else {
        // A certificate inside a bundle is checked with its bundle.
        args.path
            .parent()
            .and_then(Path::parent)
            .filter(|root| root.join(MANIFEST).is_file())
            .map(Path::to_path_buf)
    };
    let start = Instant::now();
    if let Some(root) = bundle_root {
        if args.model.is_some() {
            return Err(CliError::Usage(
                "--model is for a certificate outside a bundle; a bundle carries its model".into(),
            ));
        }
        let bundle = match Bundle::open(&root) {
            Ok(b) => b,
            Err(e) => return Ok(failed(trail, &format!("check 'manifest' failed: {e}"))),
        };
        let key = match pinned {
            Some(k) => k,
            None => {
                let k = match bundle.bundled_signer() {
                    Ok(k) => k,
                    Err(e) => return Ok(failed(trail, &format!("check 'signer' failed: {e}"))),
                };
                unpinned(&k);
                k
            }
        };
        trail.file(&root.join(MANIFEST));
        let digests: BTreeMap<&str, &str> = bundle
            .manifest
            .models
            .iter()
            .map(|m| (m.name.as_str(), m.digest.as_str()))
            .collect();
        return Ok(match verify::check(&bundle, &key, recheck) {
            Ok(report) => {
                for c in &report.certificates {
                    trail.verdict(
                        c.model.clone(),
                        digests.get(c.model.as_str()).map(|d| d.to_string()),
                        c.obligation.clone(),
                        c.verdict.as_str(),
                        Some(c.digest.clone()),
                    );
                }
                trail.detail(format!(
                    "bundle {}: verified, signed by key {}{}",
                    root.display(),
                    report.signer,
                    if args.recheck {
                        ", evidence re-checked"
                    } else {
                        ""
                    }
                ));
                println!(
                    "bundle {}: {} files intact, signed by key {}",
                    root.display(),
                    report.files,
                    report.signer
                );
                for c in &report.certificates {
                    print_cert(c);
                }
                println!(
                    "verified: {} certificates{} in {:.2} s",
                    report.certificates.len(),
                    if args.recheck {
                        ", evidence re-checked"
                    } else {
                        ""
                    },
                    start.elapsed().as_secs_f64()
                );
                exit::OK
            }
            Err(f) => failed(trail, &f.to_string()),
        });
    }
    // A certificate on its own.
    let bytes = axiom_core::read_file(&args.path)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.path.display())))?;
    trail.file_bytes(&args.path, &bytes);
    trail.certificate(axiom_audit::sha256_hex(&bytes));
    let cert = match SignedCertificate::from_bytes(&bytes) {
        Ok(c) => c,
        Err(e) => return Ok(failed(trail, &format!("check 'certificate' failed: {e}"))),
    };
    let key = match pinned {
        Some(k) => k,
        None => {
            unpinned(&cert.signer);
            cert.signer.clone()
        }
    };
    let Some(model) = &args.model else {
        if args.recheck {
            return Err(CliError::Usage(
                "--recheck needs the model the certificate is about: pass --model FILE".into(),
            ));
        }
        if let Err(e) = cert.check_signer(&key) {
            return Ok(failed(trail, &format!("check 'signature' failed: {e}")));
        }
        println!(
            "certificate {}: signature valid (key {}); model not checked (pass --model FILE to check it is about your model)",
            args.path.display(),
            key.id()
        );
        trail.detail(format!(
            "signature valid (key {}); model not checked",
            key.id()
        ));
        return Ok(exit::OK);
    };
    trail.file(model);
    Ok(
        match verify::check_certificate_file(&cert, &key, model, recheck) {
            Ok(report) => {
                print_cert(&report);
                println!("verified in {:.2} s", start.elapsed().as_secs_f64());
                trail.verdict(
                    report.model.clone(),
                    Some(cert.certificate.model.digest.clone()),
                    report.obligation.clone(),
                    report.verdict.as_str(),
                    Some(report.digest.clone()),
                );
                trail.detail(format!(
                    "certificate verified, signed by key {}{}",
                    report.signer,
                    if args.recheck {
                        ", evidence re-checked"
                    } else {
                        ""
                    }
                ));
                exit::OK
            }
            Err(f) => failed(trail, &f.to_string()),
        },
    )
}

fn unpinned(key: &PublicKey) {
    eprintln!(
        "warning: no --pubkey given: checked against the signer key {} that the bundle itself names, which shows integrity but not who signed; pass --pubkey KEY.pub to pin the key you trust",
        key.id()
    );
}

fn failed(trail: &mut Trail, message: &str) -> u8 {
    println!("FAILED: {message}");
    trail.detail(format!("FAILED: {message}"));
    exit::VIOLATED
}

fn print_cert(c: &CertReport) {
    let recheck = match &c.recheck {
        Rechecked::No => "signature and digests checked".to_string(),
        Rechecked::Nothing => "nothing to re-check".to_string(),
        Rechecked::Checked(what) => format!("re-checked: {what}"),
        Rechecked::TrustedSmt { detail, queries } => {
            format!("re-checked: {detail}; trusted: smt ({queries} Z3 leaves re-solved unsat)")
        }
    };
    println!(
        "  {}::{}  {}  {}  [{}]",
        c.model,
        c.obligation,
        c.verdict.as_str(),
        recheck,
        &c.digest[..16]
    );
}

/// `axiom cert show CERT`: the JSON view of a certificate.
pub fn cert_show(path: &Path) -> Result<u8, CliError> {
    let bytes = axiom_core::read_file(path)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    match SignedCertificate::from_bytes(&bytes) {
        Ok(c) => {
            println!("{}", c.to_json());
            Ok(exit::OK)
        }
        Err(e) => Ok(failed(
            &mut Trail::none(),
            &format!("check 'certificate' failed: {e}"),
        )),
    }
}

/// Refuses a `--cert` path that holds something, before any work.
pub fn check_cert_path(path: &Path, force: bool) -> Result<(), CliError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(CliError::Usage(format!(
            "--cert {}: is a directory",
            path.display()
        ))),
        Ok(m) if m.len() > 0 && !force => Err(CliError::Usage(format!(
            "--cert {}: the file exists and is not empty\n  hint: pass --force to overwrite it",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// Writes the certificate of an `axiom verify` run.
#[allow(clippy::too_many_arguments)]
pub fn write_verify_certificate(
    path: &Path,
    key: &SecretKey,
    model_path: &Path,
    graph: &Graph,
    property_path: &Path,
    property: &Property,
    verdict: VerdictKind,
    evidence: CertEvidence,
    options: BTreeMap<String, String>,
    solve: Duration,
    check: Duration,
) -> Result<String, CliError> {
    let cannot = |p: &Path, e: std::io::Error| CliError::Usage(format!("{}: {e}", p.display()));
    // The model's digest is of the file as it is on disk (`cert verify
    // --model` compares it so); the property's text is the decompressed one.
    let model_bytes = axiom_core::read_raw_file(model_path).map_err(|e| cannot(model_path, e))?;
    let text = String::from_utf8_lossy(
        &axiom_core::read_file(property_path).map_err(|e| cannot(property_path, e))?,
    )
    .into_owned();
    let file_name = |p: &Path| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let stem = |p: &Path| {
        p.file_stem()
            .map_or_else(|| "model".to_string(), |n| n.to_string_lossy().into_owned())
    };
    let model_file = FileDigest {
        path: file_name(model_path),
        kind: DigestKind::Bytes,
        sha256: sha256_hex(&model_bytes),
    };
    let cert = certificate(Statement {
        model_name: &stem(model_path),
        graph,
        files: vec![model_file.clone()],
        sources: vec![model_file],
        name: &stem(property_path),
        text: &text,
        source: Some(file_name(property_path)),
        line: None,
        property: Some(property),
        goal: None,
        verdict,
        evidence,
        options,
        solve,
        check,
    })?
    .sign(key)
    .map_err(|e| CliError::Usage(format!("cannot sign: {e}")))?;
    std::fs::write(path, cert.to_bytes())
        .map_err(|e| CliError::Usage(format!("--cert {}: {e}", path.display())))?;
    Ok(cert.digest())
}
