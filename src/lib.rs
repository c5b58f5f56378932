//! # axiom-ml
//!
//! The facade of Axiom, a verification-first machine-learning toolkit: it
//! re-exports the public API of the workspace crates and holds the `axiom`
//! command-line tool.
//!
//! - [`core`]: the graph IR, importers (ONNX, NNet, VNN-LIB, safetensors),
//!   property AST and canonical model digest;
//! - [`backends`]: the `Backend` trait and the CPU backend.
//!
//! ```
//! use axiom_ml::backends::{Backend, cpu::CpuBackend};
//! use axiom_ml::core::{GraphBuilder, Op};
//! use ndarray::{arr2, array};
//!
//! let mut b = GraphBuilder::new("relu_net", "x", vec![2]);
//! let h = b.push("fc", Op::Gemm { weight: arr2(&[[1.0, -1.0]]), bias: None }, b.input());
//! let y = b.push("relu", Op::Relu, h);
//! let graph = b.finish(y).unwrap();
//!
//! let model = CpuBackend::default().compile(&graph).unwrap();
//! let out = model.run_f32(array![[3.0f32, 1.0], [1.0, 3.0]].view()).unwrap();
//! assert_eq!(out, array![[2.0f32], [0.0]]);
//! ```

pub use axiom_backends as backends;
pub use axiom_core as core;

pub mod check_report;
pub mod demo;
pub mod ensure;

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
