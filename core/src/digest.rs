//! The canonical model digest.
//!
//! `sha256` over a canonical byte encoding of the graph's *function*: the
//! input shape, every node's op kind, attributes, constants (shape and
//! float32 values), which value it reads, and the output. Names and metadata
//! are left out, so the digest identifies the network, not how a file spelled
//! it: importing the same ONNX file twice, or the same network under other
//! node names, gives the same digest. `-0.0` is encoded as `+0.0` (they are
//! the same number); NaN and infinities never reach here (validation rejects
//! them).
//!
//! Encoding (version 1): the tag `axiom-model-digest-v1`, then a sequence of
//! fields, each a `u64` little-endian length or count followed by its bytes.

use sha2::{Digest, Sha256};
use std::fmt;

use crate::graph::{Graph, Op};

/// A sha256 digest of a model's canonical encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelDigest(pub [u8; 32]);

impl fmt::Display for ModelDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl ModelDigest {
    /// Parses the 64-hex-digit form that `Display` writes.
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(ModelDigest(out))
    }
}

struct Encoder(Sha256);

impl Encoder {
    fn u64(&mut self, v: u64) {
        self.0.update(v.to_le_bytes());
    }
    fn usize(&mut self, v: usize) {
        self.u64(v as u64);
    }
    fn str(&mut self, s: &str) {
        self.usize(s.len());
        self.0.update(s.as_bytes());
    }
    fn usizes(&mut self, vs: &[usize]) {
        self.usize(vs.len());
        for &v in vs {
            self.usize(v);
        }
    }
    fn f32(&mut self, v: f32) {
        let v = if v == 0.0 { 0.0f32 } else { v };
        self.0.update(v.to_bits().to_le_bytes());
    }
}

impl Graph {
    /// The canonical digest of this network (see the [module docs](self)).
    pub fn digest(&self) -> ModelDigest {
        let mut e = Encoder(Sha256::new());
        e.str("axiom-model-digest-v1");
        e.usizes(&self.input.shape);
        e.usize(self.nodes.len());
        for node in &self.nodes {
            e.str(node.op.kind());
            e.usizes(&node.inputs);
            encode_attributes(&mut e, &node.op);
            let constants = node.op.constants();
            e.usize(constants.len());
            for (role, c) in constants {
                e.str(role);
                e.usizes(c.shape());
                // Logical (row-major) order, whatever the memory layout.
                for &v in c.iter() {
                    e.f32(v);
                }
            }
        }
        e.usize(self.output);
        ModelDigest(e.0.finalize().into())
    }
}

fn encode_attributes(e: &mut Encoder, op: &Op) {
    match op {
        Op::Flatten { axis } | Op::Softmax { axis } | Op::Concat { axis } => e.usize(*axis),
        Op::Reshape { shape } => e.usizes(shape),
        Op::Conv2d {
            strides,
            pads,
            dilations,
            group,
            ..
        } => {
            e.usizes(strides);
            e.usizes(pads);
            e.usizes(dilations);
            e.usize(*group);
        }
        Op::BatchNorm { epsilon, .. } => e.f32(*epsilon),
        Op::Transpose { perm } => e.usizes(perm),
        Op::Pad { pads, value } => {
            e.usizes(pads);
            e.f32(*value);
        }
        Op::MaxPool {
            kernel,
            strides,
            pads,
        } => {
            e.usizes(kernel);
            e.usizes(strides);
            e.usizes(pads);
        }
        Op::AveragePool {
            kernel,
            strides,
            pads,
            count_include_pad,
        } => {
            e.usizes(kernel);
            e.usizes(strides);
            e.usizes(pads);
            e.usize(*count_include_pad as usize);
        }
        Op::Gemm { .. }
        | Op::Add { .. }
        | Op::Sub { .. }
        | Op::Mul { .. }
        | Op::Div { .. }
        | Op::Relu
        | Op::Sigmoid
        | Op::Tanh
        | Op::Identity
        | Op::Sum => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphBuilder;
    use ndarray::{arr1, arr2};

    fn net(name: &str, w00: f32) -> Graph {
        let mut b = GraphBuilder::new(name, format!("{name}_in"), vec![2]);
        let h = b.push(
            format!("{name}_fc"),
            Op::Gemm {
                weight: arr2(&[[w00, 1.0], [2.0, 3.0]]),
                bias: Some(arr1(&[0.5, -0.5])),
            },
            0,
        );
        let y = b.push(format!("{name}_relu"), Op::Relu, h);
        b.finish(y).unwrap()
    }

    #[test]
    fn names_do_not_matter_weights_do() {
        assert_eq!(net("a", 1.0).digest(), net("b", 1.0).digest());
        assert_ne!(net("a", 1.0).digest(), net("a", 1.5).digest());
        assert_eq!(net("a", 0.0).digest(), net("a", -0.0).digest());
    }

    #[test]
    fn hex_round_trip() {
        let d = net("a", 1.0).digest();
        assert_eq!(ModelDigest::from_hex(&d.to_string()), Some(d));
        assert_eq!(ModelDigest::from_hex("zz"), None);
    }
}
