//! ONNX import on the shared benchmark networks and on hand-made bad files.

use axiom_core::graph::{GraphBuilder, Op};
use axiom_core::{onnx, ErrorKind, Location};
use ndarray::{arr1, arr2, ArrayD, IxDyn};
use onnx_protobuf::{Message, ModelProto, NodeProto};
use std::path::PathBuf;

fn benchmarks() -> Option<PathBuf> {
    axiom_core::benchmarks_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/benchmarks"
    ))
}

/// The `.onnx` files of a folder, sorted.
pub(crate) fn onnx_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    files.sort();
    files
}

#[test]
fn all_acas_xu_networks_import() {
    let Some(dir) = benchmarks() else { return };
    let files = onnx_files(&dir.join("acasxu"));
    assert_eq!(files.len(), 45);
    for f in files {
        let g = onnx::load(&f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(g.input_shape(), &[1, 1, 1, 5], "{}", f.display());
        assert_eq!(g.output_shape().unwrap(), vec![1, 5]);
        let kinds: Vec<&str> = g.nodes.iter().map(|n| n.op.kind()).collect();
        // Sub(mean), Flatten, then 6 x (Gemm+bias, Relu), then Gemm+bias.
        assert_eq!(kinds[..2], ["Sub", "Flatten"]);
        assert_eq!(kinds.iter().filter(|k| **k == "Relu").count(), 6);
        assert_eq!(kinds.iter().filter(|k| **k == "Gemm").count(), 7);
        assert!(g.nodes.iter().all(|n| match &n.op {
            Op::Gemm { bias, .. } => bias.is_some(),
            _ => true,
        }));
        assert_eq!(
            g.param_count(),
            5 + 5 * 50 + 50 + 5 * (50 * 50 + 50) + 50 * 5 + 5
        );
        assert_eq!(g.metadata.get("onnx.opset").map(String::as_str), Some("8"));
    }
}

#[test]
fn digest_is_stable_and_survives_export() {
    let Some(dir) = benchmarks() else { return };
    let f = dir.join("acasxu/ACASXU_run2a_1_1_batch_2000.onnx");
    let a = onnx::load(&f).unwrap();
    let b = onnx::load(&f).unwrap();
    assert_eq!(a.digest(), b.digest());
    let other = onnx::load(&dir.join("acasxu/ACASXU_run2a_1_2_batch_2000.onnx")).unwrap();
    assert_ne!(a.digest(), other.digest());
    let bytes = onnx::to_bytes(&a).unwrap();
    let c = onnx::parse(&bytes, "again").unwrap();
    assert_eq!(a.digest(), c.digest());
}

#[test]
fn tiny_networks_import() {
    let Some(dir) = benchmarks() else { return };
    for (name, input, output, layers) in [
        ("test_nano", vec![1], vec![1], vec!["Gemm", "Relu"]),
        ("test_tiny", vec![1], vec![1], vec!["Gemm", "Relu", "Gemm"]),
        (
            "test_small",
            vec![1],
            vec![1],
            vec!["Gemm", "Relu", "Gemm", "Relu", "Gemm"],
        ),
    ] {
        let g =
            onnx::load(&dir.join(format!("tiny/{name}.onnx"))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(g.input_shape(), input.as_slice(), "{name}");
        assert_eq!(g.output_shape().unwrap(), output, "{name}");
        let kinds: Vec<&str> = g.nodes.iter().map(|n| n.op.kind()).collect();
        assert_eq!(kinds, layers, "{name}");
    }
    for name in ["test_sat", "test_unsat"] {
        let g = onnx::load(&dir.join(format!("tiny/{name}.onnx"))).unwrap();
        assert_eq!(g.input_shape(), &[1, 1, 1, 5]);
    }
}

#[test]
fn truncated_and_random_files_are_rejected() {
    let Some(dir) = benchmarks() else { return };
    let bytes = std::fs::read(dir.join("acasxu/ACASXU_run2a_1_1_batch_2000.onnx")).unwrap();
    for cut in [10, 100, bytes.len() / 2, bytes.len() - 3] {
        let err = onnx::parse(&bytes[..cut], "cut").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed, "cut at {cut}: {err}");
    }
}

#[test]
fn random_bytes_never_panic() {
    // A fixed-seed generator: random bytes must give an error, not a panic.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for len in [1usize, 7, 64, 1000, 4096] {
        for _ in 0..50 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            assert!(onnx::parse(&bytes, "random").is_err());
        }
    }
    assert_eq!(
        onnx::parse(&[], "empty").unwrap_err().kind,
        ErrorKind::Malformed
    );
}

/// A one-node model whose node is `op` reading the input `x` [1, 4].
fn model_with_node(op: &str) -> Vec<u8> {
    let mut b = GraphBuilder::new("m", "x", vec![1, 4]);
    let y = b.push("r", Op::Relu, 0);
    let g = b.finish(y).unwrap();
    let mut model = ModelProto::parse_from_bytes(&onnx::to_bytes(&g).unwrap()).unwrap();
    let graph = model.graph.as_mut().unwrap();
    let mut node = NodeProto::new();
    node.name = "weird_1".into();
    node.op_type = op.into();
    node.input.push("r".into());
    node.output.push("z".into());
    graph.node.push(node);
    graph.output[0].name = "z".into();
    model.write_to_bytes().unwrap()
}

#[test]
fn unsupported_op_names_op_and_node() {
    let err = onnx::parse(&model_with_node("LSTM"), "m").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert_eq!(
        err.location,
        Some(Location::Node {
            name: "weird_1".into(),
            op: "LSTM".into()
        })
    );
    assert!(err.to_string().contains("unsupported op 'LSTM'"), "{err}");
    assert!(err.hint.as_deref().unwrap_or("").contains("Gemm"));
}

#[test]
fn export_round_trip_keeps_every_op() {
    let mut b = GraphBuilder::new("all", "x", vec![1, 2, 6, 6]);
    let mut v = b.push(
        "conv",
        Op::Conv2d {
            weight: ArrayD::from_shape_fn(IxDyn(&[4, 1, 3, 3]), |i| {
                (i[0] + i[2]) as f32 * 0.1 - 0.2
            })
            .into_dimensionality()
            .unwrap(),
            bias: Some(arr1(&[0.1, 0.2, 0.3, 0.4])),
            strides: [1, 1],
            pads: [1, 1, 1, 1],
            dilations: [1, 1],
            group: 2,
        },
        0,
    );
    v = b.push(
        "bn",
        Op::BatchNorm {
            scale: arr1(&[1.0, 2.0, 0.5, 1.0]),
            bias: arr1(&[0.0, 0.1, 0.2, 0.3]),
            mean: arr1(&[0.0, 0.0, 0.1, 0.1]),
            var: arr1(&[1.0, 1.0, 2.0, 2.0]),
            epsilon: 1e-5,
        },
        v,
    );
    v = b.push("relu", Op::Relu, v);
    v = b.push(
        "maxpool",
        Op::MaxPool {
            kernel: [2, 2],
            strides: [2, 2],
            pads: [0; 4],
        },
        v,
    );
    v = b.push(
        "avgpool",
        Op::AveragePool {
            kernel: [2, 2],
            strides: [1, 1],
            pads: [1, 1, 0, 0],
            count_include_pad: false,
        },
        v,
    );
    v = b.push("flat", Op::Flatten { axis: 1 }, v);
    v = b.push("reshape", Op::Reshape { shape: vec![36] }, v);
    v = b.push(
        "sub",
        Op::Sub {
            c: arr1(&[0.5]).into_dyn(),
        },
        v,
    );
    v = b.push(
        "mul",
        Op::Mul {
            c: arr1(&[2.0]).into_dyn(),
        },
        v,
    );
    v = b.push(
        "div",
        Op::Div {
            c: arr1(&[4.0]).into_dyn(),
        },
        v,
    );
    v = b.push(
        "add",
        Op::Add {
            c: arr1(&[1.0]).into_dyn(),
        },
        v,
    );
    v = b.push(
        "fc",
        Op::Gemm {
            weight: ArrayD::from_shape_fn(IxDyn(&[3, 36]), |i| (i[0] * 36 + i[1]) as f32 * 0.01)
                .into_dimensionality()
                .unwrap(),
            bias: Some(arr1(&[1.0, 2.0, 3.0])),
        },
        v,
    );
    let fc = v;
    v = b.push("sig", Op::Sigmoid, v);
    v = b.push_inputs("residual", Op::Sum, vec![v, fc], "residual");
    v = b.push("tanh", Op::Tanh, v);
    v = b.push_inputs("cat", Op::Concat { axis: 0 }, vec![v, fc], "cat");
    v = b.push(
        "fc_cat",
        Op::Gemm {
            weight: arr2(&[
                [1.0, 0.5, 0.0, -1.0, 0.25, 2.0],
                [0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
                [1.0; 6],
            ]),
            bias: None,
        },
        v,
    );
    v = b.push("id", Op::Identity, v);
    v = b.push(
        "fc2",
        Op::Gemm {
            weight: arr2(&[[1.0, 0.0, -1.0]]),
            bias: None,
        },
        v,
    );
    v = b.push("soft", Op::Softmax { axis: 0 }, v);
    let g = b.finish(v).unwrap();
    let again = onnx::parse(&onnx::to_bytes(&g).unwrap(), "again").unwrap();
    let kinds = |g: &axiom_core::Graph| g.nodes.iter().map(|n| n.op.kind()).collect::<Vec<_>>();
    assert_eq!(kinds(&g), kinds(&again));
    assert_eq!(g.digest(), again.digest());
}

#[test]
fn save_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.onnx");
    let mut b = GraphBuilder::new("m", "x", vec![2]);
    let y = b.push("r", Op::Relu, 0);
    let g = b.finish(y).unwrap();
    onnx::save(&g, &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    assert!(onnx::save(&g, &path).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(onnx::load(&path).unwrap().digest(), g.digest());
}

/// A model `x` [1, 2] -> `nodes` (op type, inputs, output), whose output is
/// `out` [shape]; the initializers are `consts` (name, dims, values).
fn model_of(
    nodes: &[(&str, &[&str], &str)],
    out: &str,
    consts: &[(&str, Vec<i64>, Vec<f32>)],
    attrs: &[(&str, i64)],
) -> Vec<u8> {
    use onnx_protobuf::{AttributeProto, TensorProto};
    let mut b = GraphBuilder::new("m", "x", vec![1, 2]);
    let y = b.push("r", Op::Relu, 0);
    let g = b.finish(y).unwrap();
    let mut model = ModelProto::parse_from_bytes(&onnx::to_bytes(&g).unwrap()).unwrap();
    let graph = model.graph.as_mut().unwrap();
    for (op, inputs, output) in nodes {
        let mut node = NodeProto::new();
        node.name = format!("{op}_{output}");
        node.op_type = op.to_string();
        node.input = inputs.iter().map(|s| s.to_string()).collect();
        node.output.push(output.to_string());
        for (name, v) in attrs {
            if (*op == "Concat" && *name == "axis") || (*op != "Concat" && *name != "axis") {
                let mut a = AttributeProto::new();
                a.name = name.to_string();
                a.i = *v;
                a.type_ = protobuf::EnumOrUnknown::new(
                    onnx_protobuf::attribute_proto::AttributeType::INT,
                );
                node.attribute.push(a);
            }
        }
        graph.node.push(node);
    }
    for (name, dims, vals) in consts {
        let mut t = TensorProto::new();
        t.name = name.to_string();
        t.dims = dims.clone();
        t.data_type = 1;
        t.float_data = vals.clone();
        graph.initializer.push(t);
    }
    graph.output[0].name = out.into();
    model.write_to_bytes().unwrap()
}

#[test]
fn sums_differences_and_concatenations_of_computed_tensors_import() {
    // relu(x) + x, relu(x) - x, concat(relu(x), x) along axis 1.
    let g = onnx::parse(&model_of(&[("Add", &["r", "x"], "s")], "s", &[], &[]), "m").unwrap();
    let last = g.nodes.last().unwrap();
    assert_eq!((last.op.kind(), last.inputs.len()), ("Sum", 2));
    let g = onnx::parse(&model_of(&[("Sub", &["r", "x"], "d")], "d", &[], &[]), "m").unwrap();
    let kinds: Vec<&str> = g.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(kinds, ["Relu", "Mul", "Sum"]);
    let g = onnx::parse(
        &model_of(&[("Concat", &["r", "x"], "c")], "c", &[], &[("axis", -1)]),
        "m",
    )
    .unwrap();
    assert_eq!(g.output_shape().unwrap(), vec![1, 4]);
    assert_eq!(g.nodes.last().unwrap().op, Op::Concat { axis: 1 });
    // Differently shaped operands name the node.
    let e = onnx::parse(
        &model_of(
            &[("Concat", &["r", "x"], "c"), ("Add", &["c", "x"], "bad")],
            "bad",
            &[],
            &[("axis", 1)],
        ),
        "m",
    )
    .unwrap_err();
    assert_eq!(
        e.location,
        Some(Location::Node {
            name: "Add_bad".into(),
            op: "Add".into()
        })
    );
    assert!(e.to_string().contains("different shapes"), "{e}");
    // Mul of two computed tensors is refused with the reason.
    let e = onnx::parse(&model_of(&[("Mul", &["r", "x"], "p")], "p", &[], &[]), "m").unwrap_err();
    assert!(e.to_string().contains("not piecewise linear"), "{e}");
}

#[test]
fn squeeze_and_unsqueeze_are_reshapes() {
    use onnx_protobuf::TensorProto;
    // Unsqueeze axes as an input (opset 13): [1, 2] -> [1, 1, 2] -> [1, 2].
    let mut bytes = model_of(
        &[
            ("Unsqueeze", &["r", "axes"], "u"),
            ("Squeeze", &["u", "axes"], "s"),
        ],
        "s",
        &[],
        &[],
    );
    let mut model = ModelProto::parse_from_bytes(&bytes).unwrap();
    let mut t = TensorProto::new();
    t.name = "axes".into();
    t.dims = vec![1];
    t.data_type = 7; // INT64
    t.int64_data = vec![1];
    model.graph.as_mut().unwrap().initializer.push(t);
    bytes = model.write_to_bytes().unwrap();
    let g = onnx::parse(&bytes, "m").unwrap();
    let shapes = g.infer_shapes().unwrap();
    assert_eq!(shapes[2], vec![1, 1, 2]);
    assert_eq!(shapes[3], vec![1, 2]);
    assert!(g.nodes[1..]
        .iter()
        .all(|n| matches!(n.op, Op::Reshape { .. })));
}

#[test]
fn transpose_and_constant_pad_import_and_round_trip() {
    use onnx_protobuf::TensorProto;
    // Transpose [1, 2] -> [2, 1] (default: reversed axes), then Pad with
    // pads as an input (opset 13) and a constant value.
    let mut bytes = model_of(
        &[
            ("Transpose", &["r"], "t"),
            ("Pad", &["t", "pads", "v"], "p"),
        ],
        "p",
        &[("v", vec![], vec![-1.5])],
        &[],
    );
    let mut model = ModelProto::parse_from_bytes(&bytes).unwrap();
    let mut t = TensorProto::new();
    t.name = "pads".into();
    t.dims = vec![4];
    t.data_type = 7; // INT64
    t.int64_data = vec![0, 1, 2, 0];
    model.graph.as_mut().unwrap().initializer.push(t);
    bytes = model.write_to_bytes().unwrap();
    let g = onnx::parse(&bytes, "m").unwrap();
    assert_eq!(g.nodes[1].op, Op::Transpose { perm: vec![1, 0] });
    assert_eq!(
        g.nodes[2].op,
        Op::Pad {
            pads: vec![0, 1, 2, 0],
            value: -1.5
        }
    );
    // [2, 1] padded by (0 before, 2 after) rows and (1 before, 0 after)
    // columns.
    assert_eq!(g.output_shape().unwrap(), vec![4, 2]);
    let again = onnx::parse(&onnx::to_bytes(&g).unwrap(), "again").unwrap();
    assert_eq!(g.digest(), again.digest());
    // Other modes and negative pads (cropping) are refused, naming why.
    let mut reflect = ModelProto::parse_from_bytes(&bytes).unwrap();
    let pad = &mut reflect.graph.as_mut().unwrap().node[2];
    let mut mode = onnx_protobuf::AttributeProto::new();
    mode.name = "mode".into();
    mode.s = b"reflect".to_vec();
    mode.type_ =
        protobuf::EnumOrUnknown::new(onnx_protobuf::attribute_proto::AttributeType::STRING);
    pad.attribute.push(mode);
    let e = onnx::parse(&reflect.write_to_bytes().unwrap(), "m").unwrap_err();
    assert!(e.to_string().contains("Pad mode 'reflect'"), "{e}");
    let mut crop = ModelProto::parse_from_bytes(&bytes).unwrap();
    crop.graph
        .as_mut()
        .unwrap()
        .initializer
        .last_mut()
        .unwrap()
        .int64_data = vec![0, -1, 0, 0];
    let e = onnx::parse(&crop.write_to_bytes().unwrap(), "m").unwrap_err();
    assert!(e.to_string().contains("negative pad"), "{e}");
}

#[test]
fn a_transposed_constant_weight_is_folded() {
    // MatMul(r, Transpose(W)) with W [3, 2]: one Gemm with weight W.
    let g = onnx::parse(
        &model_of(
            &[("Transpose", &["W"], "wt"), ("MatMul", &["r", "wt"], "y")],
            "y",
            &[("W", vec![3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])],
            &[],
        ),
        "m",
    )
    .unwrap();
    let Op::Gemm { weight, .. } = &g.nodes.last().unwrap().op else {
        panic!("{:?}", g.nodes)
    };
    assert_eq!(weight, &arr2(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]));
}
