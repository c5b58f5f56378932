//! ONNX files that parse but cannot be right: impossible declared shapes,
//! and files cut short (issue 24).

use axiom_core::graph::{GraphBuilder, Op};
use axiom_core::{onnx, ErrorKind};
use onnx_protobuf::tensor_shape_proto::Dimension;
use onnx_protobuf::{Message, ModelProto};
use std::path::{Path, PathBuf};

/// A one-Relu model whose input is `x` [1, 4], decoded for editing.
fn relu_model() -> ModelProto {
    let mut b = GraphBuilder::new("m", "x", vec![1, 4]);
    let y = b.push("r", Op::Relu, 0);
    let g = b.finish(y).unwrap();
    ModelProto::parse_from_bytes(&onnx::to_bytes(&g).unwrap()).unwrap()
}

fn value(v: i64) -> Dimension {
    let mut d = Dimension::new();
    d.set_dim_value(v);
    d
}

fn param(name: &str) -> Dimension {
    let mut d = Dimension::new();
    d.set_dim_param(name.into());
    d
}

/// `relu_model` with the input's (or output's) declared dimensions replaced.
fn with_dims(output: bool, dims: Vec<Dimension>) -> Vec<u8> {
    let mut model = relu_model();
    let graph = model.graph.as_mut().unwrap();
    let info = if output {
        &mut graph.output[0]
    } else {
        &mut graph.input[0]
    };
    let tensor = info.type_.as_mut().unwrap().mut_tensor_type();
    tensor.shape.as_mut().unwrap().dim = dims;
    model.write_to_bytes().unwrap()
}

#[test]
fn impossible_input_dimensions_are_refused_with_name_index_and_hint() {
    let huge = 1i64 << 62;
    for (dims, place) in [
        (vec![value(1), value(0)], "dimension 1 as 0,"),
        (vec![value(-3), value(4)], "dimension 0 as -3,"),
        (
            vec![value(huge), value(huge), value(16)],
            "dimension 0 as 4611686018427387904",
        ),
        // Below 2^64 but not below 2^31: 2^16 * 2^15.
        (vec![value(1 << 16), value(1 << 15)], "dimension 1 as 32768"),
    ] {
        let err = onnx::parse(&with_dims(false, dims), "m").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
        let text = err.to_string();
        assert!(text.contains("input 'x' declares"), "{text}");
        assert!(text.contains(place), "{text}");
        let hint = err.hint.as_deref().unwrap_or("");
        assert!(
            hint.contains("positive integer") && hint.contains("2^31"),
            "{hint}"
        );
    }
    // The overflowing shape is shown as written.
    let err = onnx::parse(
        &with_dims(false, vec![value(huge), value(huge), value(16)]),
        "m",
    )
    .unwrap_err();
    assert!(
        err.message
            .contains("[4611686018427387904, 4611686018427387904, 16]"),
        "{err}"
    );
    // The file is named, as everywhere.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.onnx");
    std::fs::write(
        &path,
        with_dims(false, vec![value(huge), value(huge), value(16)]),
    )
    .unwrap();
    let text = onnx::load(&path).unwrap_err().to_string();
    assert!(
        text.starts_with(&format!("{}: input 'x'", path.display())),
        "{text}"
    );
}

#[test]
fn impossible_output_dimensions_are_refused() {
    let err = onnx::parse(&with_dims(true, vec![value(1), value(-1)]), "m").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid);
    assert!(
        err.message
            .contains("output 'r' declares dimension 1 as -1"),
        "{err}"
    );
    // A symbolic output batch is fine.
    let g = onnx::parse(&with_dims(true, vec![param("N"), value(4)]), "m").unwrap();
    assert_eq!(g.output_shape().unwrap(), vec![1, 4]);
}

#[test]
fn symbolic_and_unknown_dimensions_still_read_as_one() {
    let g = onnx::parse(&with_dims(false, vec![param("batch"), value(4)]), "m").unwrap();
    assert_eq!(g.input_shape(), &[1, 4]);
    let g = onnx::parse(&with_dims(false, vec![Dimension::new(), value(4)]), "m").unwrap();
    assert_eq!(g.input_shape(), &[1, 4]);
    // The largest image inputs in use are far from the limit.
    let g = onnx::parse(
        &with_dims(false, vec![param("N"), value(3), value(224), value(224)]),
        "m",
    )
    .unwrap();
    assert_eq!(g.input_shape(), &[1, 3, 224, 224]);
}

#[test]
fn a_reshape_target_that_wraps_around_is_refused() {
    // [2^62 + 1, 4] has 2^64 + 4 elements: 4 once wrapped, the input's count.
    let mut b = GraphBuilder::new("m", "x", vec![1, 4]);
    let y = b.push("reshape", Op::Reshape { shape: vec![4] }, 0);
    let g = b.finish(y).unwrap();
    let mut model = ModelProto::parse_from_bytes(&onnx::to_bytes(&g).unwrap()).unwrap();
    let graph = model.graph.as_mut().unwrap();
    let shape = graph
        .initializer
        .iter_mut()
        .find(|t| t.name.ends_with("_shape"))
        .unwrap();
    shape.dims = vec![2];
    shape.int64_data = vec![(1 << 62) + 1, 4];
    let err = onnx::parse(&model.write_to_bytes().unwrap(), "m").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(err.message.contains("cannot reshape"), "{err}");
}

fn bundled_models() -> Vec<PathBuf> {
    crate::onnx_import::onnx_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/models"),
    )
}

/// Every prefix of `bytes` is refused as truncated (the empty one as
/// empty), never with an opset or version complaint, and the whole file
/// loads.
fn every_prefix_is_refused(bytes: &[u8], what: &str) {
    onnx::parse(bytes, "whole").unwrap_or_else(|e| panic!("{what}: {e}"));
    let err = onnx::parse(&[], "cut").unwrap_err();
    assert_eq!(err.message, "the file is empty");
    for len in 1..bytes.len() {
        let err = onnx::parse(&bytes[..len], "cut").unwrap_err();
        let text = err.to_string();
        assert_eq!(
            err.kind,
            ErrorKind::Malformed,
            "{what} cut at {len}: {text}"
        );
        assert!(
            text.contains("the file looks truncated or incomplete"),
            "{what} cut at {len}: {text}"
        );
        assert!(
            !text.contains("outside the supported range") && !text.contains("re-export"),
            "{what} cut at {len}: {text}"
        );
    }
}

#[test]
fn every_prefix_of_a_bundled_model_is_refused_as_truncated() {
    // Axiom writes these (rust-protobuf order: the opset import first, the
    // graph last). Cut at a field boundary inside the graph, rust-protobuf
    // would read a partial graph; cut before it, there is no graph.
    let files = bundled_models();
    assert!(files.len() >= 2, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        every_prefix_is_refused(&bytes, &f.display().to_string());
    }
    // Two of those cuts, with what they say.
    let bytes = std::fs::read(&bundled_models()[0]).unwrap();
    let mut head = ModelProto::parse_from_bytes(&bytes).unwrap();
    head.graph.clear();
    let head = head.write_to_bytes().unwrap();
    assert!(bytes.starts_with(&head), "the graph is not last");
    let graph_at = head.len();
    let err = onnx::parse(&bytes[..graph_at], "cut").unwrap_err();
    assert_eq!(
        err.message,
        "the file looks truncated or incomplete: it holds no graph"
    );
    let err = onnx::parse(&bytes[..graph_at + 40], "cut").unwrap_err();
    assert!(
        err.message.starts_with(&format!(
            "the file looks truncated or incomplete: it ends inside the model's graph (which starts at byte {graph_at} and declares"
        )),
        "{err}"
    );
    assert!(err.hint.as_deref().unwrap().contains("cut short"), "{err}");
}

#[test]
fn every_prefix_of_real_exports_is_refused_as_truncated() {
    // Files other tools wrote, in field-number order (the graph before the
    // opset import), with doc strings and model versions between fields.
    let Some(dir) = axiom_core::benchmarks_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/benchmarks"
    )) else {
        return;
    };
    for name in [
        "tiny/test_nano.onnx",
        "tiny/test_tiny.onnx",
        "tiny/test_small.onnx",
        "tiny/test_sat.onnx",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        every_prefix_is_refused(&bytes, name);
    }
    // Cut just after the graph, before the opset import: it parses, and
    // would mean opset 1 if the importer took it at its word.
    let bytes = std::fs::read(dir.join("tiny/test_nano.onnx")).unwrap();
    // The last 6 bytes: field 8 (opset_import) of 4 bytes, domain "" and
    // version 14.
    assert_eq!(bytes[bytes.len() - 6..], [0x42, 4, 0x0a, 0, 0x10, 14]);
    let err = onnx::parse(&bytes[..bytes.len() - 6], "cut").unwrap_err();
    assert!(
        err.message.contains("has a graph but no opset import"),
        "{err}"
    );
}

#[test]
fn an_old_model_without_opset_import_still_gets_the_opset_message() {
    // IR version 2 had no opset imports: such a model means opset 1, which
    // Axiom does not support. That is not a truncation.
    let mut model = relu_model();
    model.opset_import.clear();
    model.ir_version = 2;
    let err = onnx::parse(&model.write_to_bytes().unwrap(), "m").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
    assert!(err.message.contains("opset 1 is outside"), "{err}");
    // From IR version 3 on, every model imports its opset.
    model.ir_version = 8;
    let err = onnx::parse(&model.write_to_bytes().unwrap(), "m").unwrap_err();
    assert!(err.message.contains("truncated or incomplete"), "{err}");
}

/// gzip-compresses `bytes`.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn gzipped_models_and_properties_read_as_the_plain_files() {
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let onnx = std::fs::read(examples.join("models/xor.onnx")).unwrap();
    let vnnlib = std::fs::read(examples.join("properties/xor_low.vnnlib")).unwrap();
    let gz_model = dir.path().join("xor.ONNX.gz");
    let gz_prop = dir.path().join("xor_low.vnnlib.gz");
    std::fs::write(&gz_model, gzip(&onnx)).unwrap();
    std::fs::write(&gz_prop, gzip(&vnnlib)).unwrap();
    let plain = axiom_core::load_model(&examples.join("models/xor.onnx")).unwrap();
    let zipped = axiom_core::load_model(&gz_model).unwrap();
    assert_eq!(plain.digest(), zipped.digest());
    let p = axiom_core::vnnlib::load(&gz_prop).unwrap();
    assert_eq!(
        p.summary(),
        axiom_core::vnnlib::load(&examples.join("properties/xor_low.vnnlib"))
            .unwrap()
            .summary()
    );
    // Several gzip members, as `cat a.gz b.gz` makes, are one stream.
    let (a, b) = vnnlib.split_at(vnnlib.len() / 2);
    let two = dir.path().join("two.vnnlib.gz");
    std::fs::write(&two, [gzip(a), gzip(b)].concat()).unwrap();
    assert_eq!(
        axiom_core::vnnlib::load(&two).unwrap().summary(),
        p.summary()
    );

    // Cut short, damaged, or not compressed at all: a sentence, the file named.
    let packed = gzip(&onnx);
    let cases = [
        (
            "cut.onnx.gz",
            packed[..packed.len() / 2].to_vec(),
            "truncated",
        ),
        ("plain.onnx.gz", onnx.clone(), "not valid gzip"),
        ("empty.onnx.gz", Vec::new(), "truncated"),
    ];
    for (name, bytes, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let e = axiom_core::load_model(&path).unwrap_err().to_string();
        assert!(e.contains(name) && e.contains(want), "{name}: {e}");
    }
    let mut damaged = packed.clone();
    let mid = damaged.len() / 2;
    for b in &mut damaged[mid..mid + 8] {
        *b ^= 0x5a;
    }
    let path = dir.path().join("damaged.onnx.gz");
    std::fs::write(&path, damaged).unwrap();
    let e = axiom_core::load_model(&path).unwrap_err().to_string();
    assert!(e.contains("damaged.onnx.gz"), "{e}");
    assert!(!e.contains("Error {") && !e.contains("kind:"), "{e}");
}
