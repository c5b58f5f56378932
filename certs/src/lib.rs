//! # axiom-certs
//!
//! Certificates: what Axiom proved about which weights, signed, and the
//! independent checker that re-validates them. This crate depends on
//! `axiom-core` only — never on the prover (a test reads `cargo metadata`
//! to keep it so): a verdict is trusted because this small, separate piece
//! of code re-checks it, not because the prover said so.
//!
//! - [`cert`]: the [`Certificate`], its canonical CBOR
//!   encoding and its signature;
//! - [`keys`]: ed25519 keys and their text files;
//! - [`bundle`]: a folder with the weights, the certificates and a signed
//!   manifest;
//! - [`verify`]: `axiom cert verify`: signatures, digests, and with
//!   [`Recheck::Full`](verify::Recheck) the evidence;
//! - the trusted base of a re-check: [`mod@check`] (proof trees and
//!   counterexamples, exact arithmetic on [`dyadic`] numbers) and
//!   [`rewrite_check`] (rewrite chains, replayed against the checker's own
//!   rules);
//! - [`evidence`] and [`wire`]: the evidence as the prover makes it, and as
//!   certificates write it exactly.
//!
//! The API mirrors the CLI: `axiom keygen` is [`SecretKey::generate`] and
//! [`keys::write_keypair`]; `axiom certify` builds [`Certificate`]s, calls
//! [`Certificate::sign`] and [`Bundle::write`]; `axiom cert verify` is
//! [`Bundle::open`] and [`check`](verify::check).
//!
//! ```
//! use axiom_certs::{check, Bundle, BundleModel, Certificate, Recheck, SecretKey};
//! use axiom_certs::cert::{CertEvidence, ModelInfo, NameVersion, ObligationInfo, Timings, VerdictKind, Version};
//! use axiom_certs::wire::{CounterexampleData, Exact, PropertyData};
//! use axiom_core::graph::{GraphBuilder, Op};
//! use ndarray::arr2;
//!
//! // A network y = x0 - x1, and the property "y > 1 for no x in [0,1]^2"
//! // (VNN-LIB states the unsafe set).
//! let mut b = GraphBuilder::new("diff", "x", vec![1, 2]);
//! let y = b.push("fc", Op::Gemm { weight: arr2(&[[1.0, -1.0]]), bias: None }, 0);
//! let graph = b.finish(y)?;
//! let property = axiom_core::vnnlib::parse(
//!     "(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)
//!      (assert (>= X_0 0))(assert (<= X_0 1))(assert (>= X_1 0))(assert (<= X_1 1))
//!      (assert (>= Y_0 0.5))",
//! )?;
//! let onnx = axiom_core::onnx::to_bytes(&graph)?;
//!
//! // x = (1, 0) gives y = 1 >= 0.5: a counterexample.
//! let data = PropertyData::from_property(&property);
//! let certificate = Certificate {
//!     format: Version::CURRENT,
//!     tool: NameVersion { name: "axiom".into(), version: "0.1.0".into() },
//!     model: ModelInfo {
//!         name: "diff".into(),
//!         digest: graph.digest().to_string(),
//!         files: axiom_certs::bundle::bundle_file_digests("diff", &onnx, &graph),
//!         sources: vec![],
//!     },
//!     obligation: ObligationInfo {
//!         name: "small".into(),
//!         text: "y[0] < 0.5".into(),
//!         source: None,
//!         line: None,
//!         digest: ObligationInfo::parsed_digest(Some(&data), None)?,
//!         property: Some(data),
//!         goal: None,
//!     },
//!     verdict: VerdictKind::Disproved,
//!     evidence: CertEvidence::Counterexample(CounterexampleData {
//!         case: 0,
//!         disjunct: 0,
//!         input: vec![Exact(1, 0), Exact(0, 0)],
//!         output: vec![Exact(1, 0)],
//!     }),
//!     solvers: vec![],
//!     options: Default::default(),
//!     timings: Timings { solve_us: 0, check_us: 0 },
//!     created: axiom_certs::cert::now_utc(),
//!     signer: String::new(),
//! };
//!
//! let key = SecretKey::generate()?;
//! let signed = certificate.sign(&key)?;
//! let dir = tempfile::tempdir()?;
//! let out = dir.path().join("bundle");
//! let model = BundleModel { name: "diff".into(), graph, onnx, certificates: vec![signed] };
//! Bundle::write(&out, None, &[model], &key)?;
//!
//! let report = check(&Bundle::open(&out)?, &key.public(), Recheck::Full)?;
//! assert_eq!(report.certificates.len(), 1);
//!
//! // Another key did not sign it.
//! let other = SecretKey::generate()?.public();
//! assert!(check(&Bundle::open(&out)?, &other, Recheck::None).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bundle;
pub mod cert;
pub mod check;
pub mod dyadic;
pub mod evidence;
pub mod keys;
pub mod rewrite_check;
pub mod verify;
pub mod wire;

pub use bundle::{Bundle, BundleModel};
pub use cert::{Certificate, SignedCertificate};
pub use keys::{PublicKey, SecretKey};
pub use verify::{check, Recheck};
