//! Bundles: the weights and the certificates about them, in one folder.
//!
//! ```text
//! BUNDLE/
//!   manifest.json           every other file with its sha256 (signed)
//!   manifest.sig            the signature of manifest.json
//!   signer.pub              the signer's public key (a convenience: pin
//!                           the key you trust with --pubkey)
//!   spec.axiom              the spec that was certified, as written
//!   <model>/model.onnx      the network (the ONNX file it came from, or
//!                           written by axiom-core for other sources)
//!   <model>/weights.safetensors
//!                           every weight, named `<node>.<constant>`; its
//!                           metadata names the model digest and every
//!                           certificate's digest
//!   <model>/<obligation>.cert        one signed certificate per obligation
//!   <model>/<obligation>.cert.json   its JSON view, for reviewers
//! ```
//!
//! One certificate per obligation, so that each can be handed on, exported
//! to Lean or revoked alone; the manifest binds them into one bundle. The
//! manifest's signature is ed25519 over `sha256(manifest.json)`, and
//! `manifest.sig` is text:
//!
//! ```text
//! axiom-signature v1
//! key-id: <hex>
//! signature: <128 hex digits>
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axiom_core::Graph;
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cert::{DigestKind, FileDigest, SignedCertificate, Version};
use crate::keys::{PublicKey, SecretKey};

pub const MANIFEST: &str = "manifest.json";
pub const MANIFEST_SIG: &str = "manifest.sig";
pub const SIGNER_PUB: &str = "signer.pub";
pub const SPEC: &str = "spec.axiom";
pub const BUNDLE_FORMAT: &str = "axiom-bundle";
/// The safetensors metadata keys a bundle's weights carry.
pub const META_MODEL_DIGEST: &str = "axiom.model_digest";
pub const META_CERTIFICATES: &str = "axiom.certificates";

/// An error writing or opening a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BundleError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, BundleError> {
    Err(BundleError(msg.into()))
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: Version,
    pub tool: String,
    pub models: Vec<ManifestModel>,
    /// Every file of the bundle but the manifest and its signature, sorted.
    pub files: Vec<ManifestFile>,
}

/// One model of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestModel {
    pub name: String,
    pub digest: String,
    pub onnx: String,
    pub weights: String,
    pub certificates: Vec<String>,
}

/// One file and its sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// A model to bundle: its network, its ONNX bytes, its certificates.
pub struct BundleModel {
    pub name: String,
    pub graph: Graph,
    pub onnx: Vec<u8>,
    pub certificates: Vec<SignedCertificate>,
}

/// An opened bundle (nothing is checked yet: see [`crate::verify::check`]).
#[derive(Debug, Clone)]
pub struct Bundle {
    pub root: PathBuf,
    pub manifest: Manifest,
    pub manifest_bytes: Vec<u8>,
    pub signature: ManifestSignature,
}

/// The parsed `manifest.sig`.
#[derive(Debug, Clone)]
pub struct ManifestSignature {
    pub key_id: String,
    pub value: Vec<u8>,
}

/// The weights of a graph as safetensors tensors, named `<node>.<constant>`
/// (`<index>.<node>.<constant>` when node names repeat).
pub fn weights_of(graph: &Graph) -> BTreeMap<String, ArrayD<f32>> {
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for node in &graph.nodes {
        *names.entry(node.name.as_str()).or_default() += 1;
    }
    let mut out = BTreeMap::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let prefix = if names[node.name.as_str()] == 1 && !node.name.is_empty() {
            node.name.clone()
        } else {
            format!("{i}.{}", node.name)
        };
        for (what, view) in node.op.constants() {
            out.insert(format!("{prefix}.{what}"), view.to_owned());
        }
    }
    out
}

/// sha256 over the tensors: for each in name order, its name, its shape and
/// its float32 values (little-endian), every length a u64 little-endian.
pub fn tensors_digest(tensors: &BTreeMap<String, ArrayD<f32>>) -> String {
    let mut h = Sha256::new();
    h.update(b"axiom-tensors-v1");
    h.update((tensors.len() as u64).to_le_bytes());
    for (name, t) in tensors {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((t.ndim() as u64).to_le_bytes());
        for &d in t.shape() {
            h.update((d as u64).to_le_bytes());
        }
        for v in t.iter() {
            h.update(v.to_le_bytes());
        }
    }
    hex::encode(h.finalize())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The bundle paths of a model's files.
pub fn model_paths(model: &str) -> (String, String) {
    (
        format!("{model}/model.onnx"),
        format!("{model}/weights.safetensors"),
    )
}

/// What a certificate about `graph` in a bundle records as its files: the
/// ONNX file's byte digest and the weights' tensor digest.
pub fn bundle_file_digests(model: &str, onnx: &[u8], graph: &Graph) -> Vec<FileDigest> {
    let (onnx_path, weights_path) = model_paths(model);
    vec![
        FileDigest {
            path: onnx_path,
            kind: DigestKind::Bytes,
            sha256: sha256_hex(onnx),
        },
        FileDigest {
            path: weights_path,
            kind: DigestKind::Tensors,
            sha256: tensors_digest(&weights_of(graph)),
        },
    ]
}

/// A name safe as one path component (model and obligation names are
/// identifiers already; this refuses anything else).
fn component(name: &str) -> Result<&str, BundleError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !name.starts_with('-');
    if ok {
        Ok(name)
    } else {
        err(format!(
            "'{name}' cannot name a file in a bundle (letters, digits, '_' and '-' only)"
        ))
    }
}

impl Bundle {
    /// Writes a bundle to `dir`, which must not exist or be empty. The files
    /// are written to a sibling folder first, which then takes the name, so
    /// an interrupted write leaves nothing half-made at `dir`.
    pub fn write(
        dir: &Path,
        spec: Option<&str>,
        models: &[BundleModel],
        key: &SecretKey,
    ) -> Result<Bundle, BundleError> {
        if dir.exists() {
            let empty = std::fs::read_dir(dir)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !empty {
                return err(format!(
                    "{} already exists and is not empty; refusing to overwrite it (choose another --out, or remove it first)",
                    dir.display()
                ));
            }
        }
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut listed = Vec::new();
        files.insert(SIGNER_PUB.into(), key.public().to_file_text().into_bytes());
        if let Some(text) = spec {
            files.insert(SPEC.into(), text.as_bytes().to_vec());
        }
        for m in models {
            let name = component(&m.name)?;
            let (onnx_path, weights_path) = model_paths(name);
            let mut certs = Vec::new();
            let mut digests = Vec::new();
            for c in &m.certificates {
                let ob = component(&c.certificate.obligation.name)?;
                let path = format!("{name}/{ob}.cert");
                if files.contains_key(&path) {
                    return err(format!("two certificates for {name}::{ob}"));
                }
                files.insert(path.clone(), c.to_bytes().to_vec());
                files.insert(format!("{path}.json"), c.to_json().into_bytes());
                digests.push(c.digest());
                certs.push(path);
            }
            let metadata = BTreeMap::from([
                (META_MODEL_DIGEST.to_string(), m.graph.digest().to_string()),
                (META_CERTIFICATES.to_string(), digests.join(",")),
            ]);
            let weights = axiom_core::safetensors_io::to_bytes(&weights_of(&m.graph), &metadata)
                .map_err(|e| BundleError(format!("cannot write the weights of {name}: {e}")))?;
            files.insert(onnx_path.clone(), m.onnx.clone());
            files.insert(weights_path.clone(), weights);
            listed.push(ManifestModel {
                name: name.to_string(),
                digest: m.graph.digest().to_string(),
                onnx: onnx_path,
                weights: weights_path,
                certificates: certs,
            });
        }
        let manifest = Manifest {
            format: BUNDLE_FORMAT.into(),
            version: Version::CURRENT,
            tool: format!("axiom {}", env!("CARGO_PKG_VERSION")),
            models: listed,
            files: files
                .iter()
                .map(|(p, b)| ManifestFile {
                    path: p.clone(),
                    sha256: sha256_hex(b),
                    bytes: b.len() as u64,
                })
                .collect(),
        };
        let mut manifest_bytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| BundleError(format!("cannot write the manifest: {e}")))?;
        manifest_bytes.push(b'\n');
        let signature = ManifestSignature {
            key_id: key.public().id(),
            value: key.sign(&Sha256::digest(&manifest_bytes)).to_vec(),
        };
        files.insert(MANIFEST.into(), manifest_bytes.clone());
        files.insert(MANIFEST_SIG.into(), signature.to_text().into_bytes());

        // Write beside, then rename into place.
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let base = dir
            .file_name()
            .ok_or_else(|| BundleError(format!("{}: not a folder name", dir.display())))?;
        let tmp = parent.join(format!(
            ".{}.tmp{}",
            base.to_string_lossy(),
            std::process::id()
        ));
        let io = |p: &Path, e: std::io::Error| BundleError(format!("{}: {e}", p.display()));
        let write_all = || -> Result<(), BundleError> {
            std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
            for (path, bytes) in &files {
                let p = tmp.join(path);
                if let Some(d) = p.parent() {
                    std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
                }
                std::fs::write(&p, bytes).map_err(|e| io(&p, e))?;
            }
            if dir.exists() {
                std::fs::remove_dir(dir).map_err(|e| io(dir, e))?;
            }
            std::fs::rename(&tmp, dir).map_err(|e| io(dir, e))
        };
        if let Err(e) = write_all() {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        Ok(Bundle {
            root: dir.to_path_buf(),
            manifest,
            manifest_bytes,
            signature,
        })
    }

    /// Opens a bundle: reads its manifest and the manifest's signature.
    pub fn open(dir: &Path) -> Result<Bundle, BundleError> {
        let read = |name: &str| {
            axiom_core::read_raw_file(&dir.join(name)).map_err(|e| {
                BundleError(format!(
                    "{}: {e} (is {} a bundle written by `axiom certify`?)",
                    dir.join(name).display(),
                    dir.display()
                ))
            })
        };
        let manifest_bytes = read(MANIFEST)?;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|e| {
            BundleError(format!(
                "{}: not a valid manifest: {}",
                dir.join(MANIFEST).display(),
                json_error(&e)
            ))
        })?;
        if manifest.format != BUNDLE_FORMAT {
            return err(format!(
                "{}: not an Axiom bundle manifest",
                dir.join(MANIFEST).display()
            ));
        }
        if manifest.version.major != Version::CURRENT.major {
            return err(format!(
                "bundle format version {}.{} is not supported: this axiom reads version {}.x",
                manifest.version.major,
                manifest.version.minor,
                Version::CURRENT.major
            ));
        }
        let sig_text = String::from_utf8(read(MANIFEST_SIG)?)
            .map_err(|_| BundleError(format!("{MANIFEST_SIG}: not text")))?;
        let signature = ManifestSignature::from_text(&sig_text)?;
        Ok(Bundle {
            root: dir.to_path_buf(),
            manifest,
            manifest_bytes,
            signature,
        })
    }

    /// The bundle's own copy of the signer's public key (not a trust anchor:
    /// anyone who can write the bundle can replace it).
    pub fn bundled_signer(&self) -> Result<PublicKey, BundleError> {
        PublicKey::load(&self.root.join(SIGNER_PUB)).map_err(|e| BundleError(e.to_string()))
    }
}

/// Why a manifest is not what it should be, as a sentence: where the JSON
/// ends early or breaks, or which field is wrong.
fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let (line, column) = (e.line(), e.column());
    match e.classify() {
        Category::Eof => format!("it ends early, at line {line}, column {column}: it is truncated"),
        Category::Syntax => {
            format!("line {line}, column {column} is not valid JSON: the file is damaged")
        }
        // serde's own sentence ("missing field `files` at line 1 column 80").
        Category::Data => format!("{e}: it was not written by axiom, or it was altered"),
        Category::Io => format!("it cannot be read: {e}"),
    }
}

impl ManifestSignature {
    pub fn to_text(&self) -> String {
        format!(
            "axiom-signature v1\nkey-id: {}\nsignature: {}\n",
            self.key_id,
            hex::encode(&self.value)
        )
    }

    pub fn from_text(text: &str) -> Result<ManifestSignature, BundleError> {
        let mut lines = text.lines();
        let bad = || {
            BundleError(format!("{MANIFEST_SIG}: malformed (expected 'axiom-signature v1', 'key-id: …', 'signature: …')"))
        };
        if lines.next() != Some("axiom-signature v1") {
            return Err(bad());
        }
        let key_id = lines
            .next()
            .and_then(|l| l.strip_prefix("key-id: "))
            .ok_or_else(bad)?
            .to_string();
        let value = lines
            .next()
            .and_then(|l| l.strip_prefix("signature: "))
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(bad)?;
        if lines.next().is_some() {
            return Err(bad());
        }
        Ok(ManifestSignature { key_id, value })
    }
}
