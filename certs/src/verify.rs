//! Checking certificates and bundles: the code behind `axiom cert verify`.
//!
//! [`check`] walks a bundle and stops at the first failing check, which it
//! names. Without a re-check it establishes that the bundle is intact and
//! signed by the expected key, and that every certificate is about exactly
//! the weights in the bundle:
//!
//! 1. `manifest signature`: `manifest.sig` is the key's signature of
//!    `manifest.json`;
//! 2. `files`: every listed file exists with its sha256, and no other file
//!    is in the bundle;
//! 3. `model <m>`: `model.onnx` loads, its canonical digest is the one
//!    listed, and `weights.safetensors` holds exactly its weights and names
//!    the model digest and every certificate of the model in its metadata;
//! 4. `certificate <m>/<o>`: the certificate decodes (format version,
//!    canonical encoding, signature, self-consistency), the expected key
//!    signed it, and its model digest and file digests are the bundle's.
//!
//! With [`Recheck::Full`], every verdict is re-validated from its evidence
//! in exact arithmetic by [`mod@crate::check`] (proof trees: every leaf's bound
//! data implies the output condition, and the leaves cover the region;
//! counterexamples: evaluated exactly) or by [`crate::rewrite_check`]
//! (rewrite chains, replayed against the checker's own rules). SMT leaves
//! are re-solved by Z3 and reported as `trusted: smt`: their `unsat` is
//! Z3's word, not a checked fact.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use axiom_core::Graph;
use sha2::{Digest, Sha256};

use crate::bundle::{self, Bundle, MANIFEST, MANIFEST_SIG};
use crate::cert::{CertEvidence, Certificate, DigestKind, SignedCertificate, VerdictKind};
use crate::evidence::{ProofNode, Refutation};
use crate::keys::PublicKey;
use crate::wire::evidence_from_data;

/// How much to re-check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recheck {
    /// Signatures, manifest and digests only.
    None,
    /// Also re-validate every verdict's evidence.
    Full,
}

/// The first failing check: which, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("check '{check}' failed: {reason}")]
pub struct Failure {
    pub check: String,
    pub reason: String,
}

fn fail<T>(check: impl Into<String>, reason: impl Into<String>) -> Result<T, Failure> {
    Err(Failure {
        check: check.into(),
        reason: reason.into(),
    })
}

/// What the re-check of one certificate established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rechecked {
    /// Not asked for.
    No,
    /// Re-validated in exact arithmetic; what was covered.
    Checked(String),
    /// Re-validated except for SMT leaves, which Z3 re-solved as unsat.
    TrustedSmt { detail: String, queries: usize },
    /// Nothing to re-check (verdict `unknown`).
    Nothing,
}

/// One certificate that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertReport {
    pub model: String,
    pub obligation: String,
    pub verdict: VerdictKind,
    pub digest: String,
    pub signer: String,
    pub recheck: Rechecked,
}

/// A bundle that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleReport {
    pub signer: String,
    pub files: usize,
    pub certificates: Vec<CertReport>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks a bundle against the expected signing key (see the module docs).
pub fn check(bundle: &Bundle, key: &PublicKey, recheck: Recheck) -> Result<BundleReport, Failure> {
    let m = &bundle.manifest;
    // 1. The manifest is the key's.
    if bundle.signature.key_id != key.id()
        || !key.verifies(
            &Sha256::digest(&bundle.manifest_bytes),
            &bundle.signature.value,
        )
    {
        return fail(
            "manifest signature",
            format!(
                "manifest.json is not signed by key {} (manifest.sig names key {}): the manifest was altered, or another key signed it",
                key.id(),
                bundle.signature.key_id
            ),
        );
    }
    // 2. Every file is as listed, and nothing else is there.
    let mut on_disk = BTreeSet::new();
    list_files(&bundle.root, &bundle.root, &mut on_disk).map_err(|e| Failure {
        check: "files".into(),
        reason: e,
    })?;
    let listed: BTreeSet<String> = m.files.iter().map(|f| f.path.clone()).collect();
    if let Some(extra) = on_disk
        .iter()
        .find(|p| !listed.contains(*p) && p.as_str() != MANIFEST && p.as_str() != MANIFEST_SIG)
    {
        return fail(
            "files",
            format!("{extra} is in the bundle but not in its manifest"),
        );
    }
    let mut contents = std::collections::BTreeMap::new();
    for f in &m.files {
        let p = safe_join(&bundle.root, &f.path).map_err(|e| Failure {
            check: "files".into(),
            reason: e,
        })?;
        let bytes = axiom_core::read_raw_file(&p).map_err(|e| Failure {
            check: "files".into(),
            reason: format!("{}: {e}", f.path),
        })?;
        if sha256_hex(&bytes) != f.sha256 || bytes.len() as u64 != f.bytes {
            return fail(
                "files",
                format!(
                    "{} differs from the manifest: it was altered or replaced",
                    f.path
                ),
            );
        }
        contents.insert(f.path.clone(), bytes);
    }
    let file = |path: &str, check: &str| {
        contents.get(path).ok_or_else(|| Failure {
            check: check.into(),
            reason: format!("{path} is not listed in the manifest"),
        })
    };
    // 3 and 4, model by model.
    let mut reports = Vec::new();
    for model in &m.models {
        let check_name = format!("model {}", model.name);
        let onnx = file(&model.onnx, &check_name)?;
        let graph = axiom_core::onnx::parse(onnx, &model.onnx).map_err(|e| Failure {
            check: check_name.clone(),
            reason: format!("{} does not load: {e}", model.onnx),
        })?;
        let digest = graph.digest().to_string();
        if digest != model.digest {
            return fail(
                &check_name,
                "the network's digest is not the one the manifest lists",
            );
        }
        let weights = axiom_core::safetensors_io::parse(file(&model.weights, &check_name)?)
            .map_err(|e| Failure {
                check: check_name.clone(),
                reason: format!("{} does not load: {e}", model.weights),
            })?;
        let expected = bundle::weights_of(&graph);
        let same = weights.tensors().len() == expected.len()
            && expected.iter().all(|(name, t)| {
                weights.tensors().get(name).is_some_and(|w| {
                    w.shape() == t.shape()
                        && w.iter()
                            .zip(t.iter())
                            .all(|(a, b)| a.to_bits() == b.to_bits())
                })
            });
        if !same {
            return fail(
                &check_name,
                format!(
                    "{} does not hold exactly the weights of {}",
                    model.weights, model.onnx
                ),
            );
        }
        let meta = weights.metadata();
        if meta.get(bundle::META_MODEL_DIGEST) != Some(&digest) {
            return fail(
                &check_name,
                format!("{} names another model digest", model.weights),
            );
        }
        let named: BTreeSet<&str> = meta
            .get(bundle::META_CERTIFICATES)
            .map(|s| s.split(',').filter(|d| !d.is_empty()).collect())
            .unwrap_or_default();
        let mut actual = BTreeSet::new();
        for path in &model.certificates {
            let check_name = format!("certificate {path}");
            let bytes = file(path, &check_name)?;
            let cert = SignedCertificate::from_bytes(bytes).map_err(|e| Failure {
                check: check_name.clone(),
                reason: e.to_string(),
            })?;
            actual.insert(cert.digest());
            let c = &cert.certificate;
            if c.model.name != model.name {
                return fail(&check_name, "the certificate is about another model");
            }
            for fd in &c.model.files {
                let Some(bytes) = contents.get(&fd.path) else {
                    return fail(
                        &check_name,
                        format!("names {}, which the bundle lacks", fd.path),
                    );
                };
                let found = match fd.kind {
                    DigestKind::Bytes => sha256_hex(bytes),
                    DigestKind::Tensors => bundle::tensors_digest(weights.tensors()),
                };
                if found != fd.sha256 {
                    return fail(
                        &check_name,
                        format!("{} is not the file the certificate was made for", fd.path),
                    );
                }
            }
            reports.push(
                check_certificate(&cert, key, &graph, recheck).map_err(|f| Failure {
                    check: check_name.clone(),
                    reason: f.reason,
                })?,
            );
        }
        let actual: BTreeSet<&str> = actual.iter().map(String::as_str).collect();
        if named != actual {
            return fail(
                &check_name,
                format!(
                    "the metadata of {} does not name exactly the model's certificates",
                    model.weights
                ),
            );
        }
    }
    Ok(BundleReport {
        signer: key.id(),
        files: m.files.len(),
        certificates: reports,
    })
}

/// Checks one certificate about `graph`: its signer, its model digest, and
/// (with [`Recheck::Full`]) its evidence. The caller has decoded it with
/// [`SignedCertificate::from_bytes`], which checked its signature and
/// encoding.
pub fn check_certificate(
    cert: &SignedCertificate,
    key: &PublicKey,
    graph: &Graph,
    recheck: Recheck,
) -> Result<CertReport, Failure> {
    let c = &cert.certificate;
    let place = format!("certificate {}::{}", c.model.name, c.obligation.name);
    let fail_here = |reason: String| Failure {
        check: place.clone(),
        reason,
    };
    cert.check_signer(key)
        .map_err(|e| fail_here(e.to_string()))?;
    if graph.digest().to_string() != c.model.digest {
        return Err(fail_here(
            "the certificate is about another network: the model digests differ".into(),
        ));
    }
    let recheck = match recheck {
        Recheck::None => Rechecked::No,
        Recheck::Full => recheck_evidence(c, graph).map_err(fail_here)?,
    };
    Ok(CertReport {
        model: c.model.name.clone(),
        obligation: c.obligation.name.clone(),
        verdict: c.verdict,
        digest: cert.digest(),
        signer: cert.signer.id(),
        recheck,
    })
}

/// Checks a certificate made outside a bundle against its model file.
pub fn check_certificate_file(
    cert: &SignedCertificate,
    key: &PublicKey,
    model_path: &Path,
    recheck: Recheck,
) -> Result<CertReport, Failure> {
    let bytes = axiom_core::read_raw_file(model_path).map_err(|e| Failure {
        check: "model".into(),
        reason: format!("{}: {e}", model_path.display()),
    })?;
    let digest = sha256_hex(&bytes);
    let byte_digests: Vec<&str> = cert
        .certificate
        .model
        .files
        .iter()
        .filter(|f| f.kind == DigestKind::Bytes)
        .map(|f| f.sha256.as_str())
        .collect();
    if !byte_digests.contains(&digest.as_str()) {
        return fail(
            "model",
            format!(
                "{} is not the model file the certificate was made for (its sha256 differs)",
                model_path.display()
            ),
        );
    }
    let graph = axiom_core::load_model(model_path).map_err(|e| Failure {
        check: "model".into(),
        reason: e.to_string(),
    })?;
    check_certificate(cert, key, &graph, recheck)
}

fn recheck_evidence(c: &Certificate, graph: &Graph) -> Result<Rechecked, String> {
    let property = || -> Result<_, String> {
        c.obligation
            .property
            .as_ref()
            .ok_or("the certificate states no property to re-check against")?
            .to_property()
            .map_err(|e| e.to_string())
    };
    match &c.evidence {
        CertEvidence::None { .. } => Ok(Rechecked::Nothing),
        CertEvidence::Counterexample(data) => {
            let cex = data.to_counterexample().map_err(|e| e.to_string())?;
            crate::check::check_counterexample(graph, &property()?, &cex)
                .map_err(|e| format!("the counterexample does not hold: {e}"))?;
            Ok(Rechecked::Checked(
                "the counterexample meets the property in exact arithmetic".into(),
            ))
        }
        CertEvidence::Rewrite { chain, .. } => {
            let goal = c
                .obligation
                .goal
                .as_deref()
                .ok_or("a rewrite chain without a goal")?;
            let r = crate::rewrite_check::check_rewrite_chain(graph, goal, chain)
                .map_err(|e| format!("the rewrite chain does not replay: {e}"))?;
            Ok(Rechecked::Checked(format!(
                "rewrite chain of {} steps replayed ({})",
                r.steps,
                r.rules.join(", ")
            )))
        }
        CertEvidence::Proof { cases } => {
            let evidence = evidence_from_data(cases).map_err(|e| e.to_string())?;
            let property = property()?;
            let r = crate::check::check_proof(graph, &property, &evidence)
                .map_err(|e| format!("the proof does not hold: {e}"))?;
            let detail = format!(
                "{} leaves, {} bound refutations re-derived exactly",
                r.leaves, r.bound_refutations
            );
            let mut queries = Vec::new();
            for case in &evidence.cases {
                smt_queries(&case.root, &mut queries);
            }
            if queries.is_empty() {
                return Ok(Rechecked::Checked(detail));
            }
            for (i, q) in queries.iter().enumerate() {
                let answer = match resolve_smt(q) {
                    SmtAnswer::Unsat => continue,
                    SmtAnswer::Sat => "sat".to_string(),
                    SmtAnswer::Unknown(why) => format!("unknown ({why})"),
                };
                return Err(format!(
                    "SMT leaf {} of {}: Z3 answers {answer} where the certificate claims unsat",
                    i + 1,
                    queries.len()
                ));
            }
            Ok(Rechecked::TrustedSmt {
                detail,
                queries: queries.len(),
            })
        }
    }
}

fn smt_queries<'a>(node: &'a ProofNode, out: &mut Vec<&'a str>) {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        let refutations = match n {
            ProofNode::Split {
                refutations,
                children,
                ..
            }
            | ProofNode::ReluSplit {
                refutations,
                children,
                ..
            } => {
                stack.extend(children.iter());
                refutations
            }
            ProofNode::Leaf(leaf) => &leaf.refutations,
        };
        for r in refutations {
            if let Refutation::Smt { query, .. } = r {
                out.push(query);
            }
        }
    }
}

/// Z3's answer on a re-solved query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtAnswer {
    Unsat,
    Sat,
    Unknown(String),
}

/// Budget for re-solving one SMT leaf.
pub const SMT_TIMEOUT: Duration = Duration::from_secs(60);

/// Re-solves an SMT-LIB 2 query with Z3 in a fresh context.
pub fn resolve_smt(query: &str) -> SmtAnswer {
    z3::with_z3_config(&z3::Config::new(), || {
        std::panic::catch_unwind(|| {
            let solver = z3::Solver::new();
            let mut params = z3::Params::new();
            params.set_u32("timeout", SMT_TIMEOUT.as_millis() as u32);
            solver.set_params(&params);
            solver.from_string(query);
            match solver.check() {
                z3::SatResult::Unsat => SmtAnswer::Unsat,
                z3::SatResult::Sat => SmtAnswer::Sat,
                z3::SatResult::Unknown => SmtAnswer::Unknown(
                    solver
                        .get_reason_unknown()
                        .unwrap_or_else(|| "unknown".into()),
                ),
            }
        })
        .unwrap_or_else(|_| SmtAnswer::Unknown("Z3 could not read the query".into()))
    })
}

/// Every file under `dir`, as paths relative to `root` with `/`.
fn list_files(root: &Path, dir: &Path, out: &mut BTreeSet<String>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let p = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", p.display()))?;
        if kind.is_dir() {
            list_files(root, &p, out)?;
        } else {
            let rel = p.strip_prefix(root).map_err(|e| e.to_string())?;
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.insert(parts.join("/"));
        }
    }
    Ok(())
}

/// `root/rel` for a manifest path, refusing absolute paths and `..`.
pub fn safe_join(root: &Path, rel: &str) -> Result<std::path::PathBuf, String> {
    let ok = !rel.is_empty()
        && !rel.starts_with('/')
        && rel
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\\'));
    if ok {
        Ok(root.join(rel))
    } else {
        Err(format!("the manifest lists an unsafe path '{rel}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smt_leaves_are_re_solved() {
        let unsat = "(declare-fun x () Real)\n(assert (> x 1.0))\n(assert (< x (/ 1.0 2.0)))\n(check-sat)\n";
        assert_eq!(resolve_smt(unsat), SmtAnswer::Unsat);
        let sat = "(declare-fun x () Real)\n(assert (> x 1.0))\n(check-sat)\n";
        assert_eq!(resolve_smt(sat), SmtAnswer::Sat);
        // Garbage is never unsat (and never a panic).
        for bad in ["(assert", "not smt at all", ""] {
            assert_ne!(resolve_smt(bad), SmtAnswer::Unsat, "{bad}");
        }
    }

    #[test]
    fn manifest_paths_cannot_leave_the_bundle() {
        let root = Path::new("/b");
        assert!(safe_join(root, "m/model.onnx").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "m/../../x",
            "m//x",
            "./x",
            "a\\b",
        ] {
            assert!(safe_join(root, bad).is_err(), "{bad}");
        }
    }
}
