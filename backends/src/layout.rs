//! `Transpose` and `Pad` as gathers: for every element of the output sample,
//! the element of the input sample it copies, or none where it is padding.
//! The CUDA backend runs them as a gather through this table and interval
//! propagation lowers them to 0/1 affine layers built from it; the CPU
//! backend runs them with ndarray (`permuted_axes`, a slice assignment), and
//! the tests hold the two against hand-written loops.

use axiom_core::Op;

/// For `Transpose` or `Pad` on a sample of shape `in_shape`: per element of
/// the output sample, the input element it copies, or `None` where it is
/// `Pad`'s constant ([`Op::gather_sources`], shared with the prover and the
/// Lean export).
pub(crate) fn gather_sources(op: &Op, in_shape: &[usize]) -> Result<Vec<Option<usize>>, String> {
    op.gather_sources(in_shape)
}

/// Whether `sources` copies an input of `in_len` elements unchanged (a
/// transpose that only moves axes of length 1, a padding of nothing).
pub(crate) fn is_identity(sources: &[Option<usize>], in_len: usize) -> bool {
    sources.len() == in_len && sources.iter().enumerate().all(|(j, &s)| s == Some(j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_of_a_matrix() {
        // [[0, 1, 2], [3, 4, 5]]ᵀ = [[0, 3], [1, 4], [2, 5]].
        let s = gather_sources(&Op::Transpose { perm: vec![1, 0] }, &[2, 3]).unwrap();
        assert_eq!(s, [0, 3, 1, 4, 2, 5].map(Some));
        assert!(!is_identity(&s, 6));
    }

    #[test]
    fn three_axis_transpose() {
        // y[i][j][k] = x[j][k][i] for perm [2, 0, 1] on x of shape [2, 3, 4].
        let (a, b, c) = (2, 3, 4);
        let s = gather_sources(
            &Op::Transpose {
                perm: vec![2, 0, 1],
            },
            &[a, b, c],
        )
        .unwrap();
        let mut want = Vec::new();
        for i in 0..c {
            for j in 0..a {
                for k in 0..b {
                    want.push(Some((j * b + k) * c + i));
                }
            }
        }
        assert_eq!(s, want);
    }

    #[test]
    fn pad_of_a_matrix() {
        // One row before, one column after on [1, 2].
        let op = Op::Pad {
            pads: vec![1, 0, 0, 1],
            value: 0.5,
        };
        let s = gather_sources(&op, &[1, 2]).unwrap();
        assert_eq!(s, vec![None, None, None, Some(0), Some(1), None]);
    }

    #[test]
    fn identities() {
        let t = Op::Transpose {
            perm: vec![1, 0, 2],
        };
        let s = gather_sources(&t, &[1, 1, 3]).unwrap();
        assert!(is_identity(&s, 3));
        let p = Op::Pad {
            pads: vec![0; 4],
            value: 1.0,
        };
        assert!(is_identity(&gather_sources(&p, &[2, 3]).unwrap(), 6));
    }

    #[test]
    fn bad_attributes_are_errors() {
        let t = |perm: Vec<usize>| Op::Transpose { perm };
        assert!(gather_sources(&t(vec![0, 0]), &[2, 2]).is_err());
        assert!(gather_sources(&t(vec![0, 2]), &[2, 2]).is_err());
        assert!(gather_sources(&t(vec![0]), &[2, 2]).is_err());
        let p = Op::Pad {
            pads: vec![1],
            value: 0.0,
        };
        assert!(gather_sources(&p, &[2]).is_err());
        assert!(gather_sources(&Op::Relu, &[2]).is_err());
    }
}
