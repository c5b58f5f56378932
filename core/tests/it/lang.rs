//! The `.axiom` language end to end: fixtures (safetensors weights, an ONNX
//! model, a VNN-LIB property) in a temporary folder, a full specification,
//! the properties it derives, runtime evaluation, and every error kind with
//! its line and column.

use axiom_core::graph::{GraphBuilder, Op};
use axiom_core::lang::{
    load_spec, parse_spec_str, CmpOp, IoRef, LinExpr, Pred, Spec, SpecError, SpecErrorKind, Term,
};
use axiom_core::spec::{parse_decimal, Constraint, Property, Rational};
use axiom_core::{onnx, safetensors_io};
use ndarray::{arr2, ArrayD};
use std::collections::BTreeMap;
use tempfile::TempDir;

fn q(s: &str) -> Rational {
    parse_decimal(s).unwrap()
}

/// A folder with `w.safetensors` (fc1: 2 -> 8 with bias, fc2: 8 -> 3, conv:
/// 1 -> 2 channels 3x3), `acas.onnx` ([1, 5] -> [1, 5]) and
/// `props/prop.vnnlib` (5 inputs, 5 outputs).
fn fixtures() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut tensors = BTreeMap::new();
    let ramp = |shape: &[usize]| {
        let n: usize = shape.iter().product();
        ArrayD::from_shape_vec(
            shape.to_vec(),
            (0..n).map(|i| (i as f32 - n as f32 / 2.0) / 8.0).collect(),
        )
        .unwrap()
    };
    tensors.insert("fc1.weight".to_string(), ramp(&[8, 2]));
    tensors.insert("fc1.bias".to_string(), ramp(&[8]));
    tensors.insert("fc2.weight".to_string(), ramp(&[3, 8]));
    tensors.insert("conv.weight".to_string(), ramp(&[2, 1, 3, 3]));
    tensors.insert("conv.bias".to_string(), ramp(&[2]));
    safetensors_io::save(
        &dir.path().join("w.safetensors"),
        &tensors,
        &BTreeMap::new(),
    )
    .unwrap();

    let mut b = GraphBuilder::new("acas", "x", vec![1, 5]);
    let w: Vec<[f32; 5]> = (0..5)
        .map(|i| {
            let mut row = [0.0; 5];
            row[i] = 1.0;
            row[(i + 1) % 5] = -0.5;
            row
        })
        .collect();
    let h = b.push(
        "fc",
        Op::Gemm {
            weight: arr2(&w),
            bias: None,
        },
        b.input(),
    );
    let out = b.push("relu", Op::Relu, h);
    onnx::save(&b.finish(out).unwrap(), &dir.path().join("acas.onnx")).unwrap();

    std::fs::create_dir(dir.path().join("props")).unwrap();
    let mut vnn = String::new();
    for i in 0..5 {
        vnn.push_str(&format!("(declare-const X_{i} Real)\n"));
    }
    for j in 0..5 {
        vnn.push_str(&format!("(declare-const Y_{j} Real)\n"));
    }
    for i in 0..5 {
        vnn.push_str(&format!("(assert (>= X_{i} -1))\n(assert (<= X_{i} 1))\n"));
    }
    vnn.push_str("(assert (>= Y_0 100))\n");
    std::fs::write(dir.path().join("props/prop.vnnlib"), vnn).unwrap();
    dir
}

const FULL: &str = r#"// The example of docs/axiom-language.md.
model acas_1_1 {
  from onnx "acas.onnx"          /* paths are relative to this file */
  input  x: f32[5]
  output y: f32[5]

  region near_origin = box([0.6, -0.5, -0.5, 0.45, -0.5], [0.68, 0.5, 0.5, 0.5, -0.45])
  assume x[0] + x[1] <= 0.5

  ensure finite(y)
  ensure y[0] <= 1e4

  prove coc_bounded: forall x in box([0.6, -0.5, -0.5, 0.45, -0.5], [0.68, 0.5, 0.5, 0.5, -0.45]) => y[0] <= 3.9911
  prove strong_right: forall x in near_origin => argmin(y) != 4 or y[4] >= y[0]
  prove robust_3: forall x in linf_ball([0.1, 0.2, 0.0, 0.3, -0.4], 0.01) => argmax(y) == 2
  prove from_vnnlib: vnnlib "props/prop.vnnlib"
}
model small {
  input x: f32[2] in [-1, 1]
  output y: f32[3]
  layer fc1 = dense(2 -> 8, weights "w.safetensors:fc1.weight", bias "w.safetensors:fc1.bias")
  layer a1 = relu
  layer fc2 = dense(8 -> 3, weights "w.safetensors:fc2.weight")   // bias optional
  layer out = softmax
  prove sums_to_one: forall x in domain => sum(y) == 1
  prove in_unit: forall x in domain => y[0] in [0, 1]
  prove in_open: forall x in domain => y[1] in (0, 1)
  prove half_open: forall x in domain => y[1] in (0, 1]
  prove negated: forall x in domain => not (y[0] > 1)
  prove clipped: forall x in linf_ball([0.95, 0], 0.1) => y[2] >= 0
  prove linear: forall x in domain => 2 * y[0] + y[1] - 3 <= (y[2] - 1) / 2
}
"#;

fn full(dir: &TempDir) -> Spec {
    parse_spec_str(FULL, &dir.path().join("spec.axiom"))
        .unwrap_or_else(|e| panic!("{}", e.render(false)))
}

fn property<'a>(spec: &'a Spec, model: &str, ob: &str) -> &'a Property {
    spec.model(model)
        .unwrap()
        .obligation(ob)
        .unwrap()
        .property
        .as_ref()
        .unwrap_or_else(|e| panic!("{model}.{ob}: {e}"))
}

/// The output condition of the only case, each disjunct printed.
fn unsafe_set(p: &Property) -> Vec<Vec<String>> {
    assert_eq!(p.cases.len(), 1, "{}", p.summary());
    p.cases[0]
        .output
        .iter()
        .map(|conj| conj.iter().map(Constraint::to_string).collect())
        .collect()
}

#[test]
fn full_spec_resolves() {
    let dir = fixtures();
    let spec = full(&dir);
    assert_eq!(spec.models.len(), 2);
    assert_eq!(spec.source, FULL);

    let acas = spec.model("acas_1_1").unwrap();
    assert_eq!(acas.graph.input.shape, vec![1, 5]);
    assert_eq!(acas.input.name, "x");
    assert_eq!(acas.input.shape, vec![5]);
    assert_eq!(acas.output.shape, vec![5]);
    assert_eq!(acas.input.domain, None);
    assert_eq!(
        acas.files,
        vec![
            dir.path().join("acas.onnx"),
            dir.path().join("props/prop.vnnlib")
        ]
    );
    assert_eq!(acas.assumes.len(), 1);
    assert_eq!(acas.ensures.len(), 2);
    assert_eq!(acas.ensures[1].text, "ensure y[0] <= 1e4");
    assert_eq!(acas.ensures[1].span.line, 11);
    let names: Vec<&str> = acas.proves.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        ["coc_bounded", "strong_right", "robust_3", "from_vnnlib"]
    );
    let ob = &acas.proves[1];
    assert_eq!(
        ob.text,
        "prove strong_right: forall x in near_origin => argmin(y) != 4 or y[4] >= y[0]"
    );
    assert_eq!((ob.span.line, ob.span.col), (14, 3));
    assert_eq!(&FULL[ob.span.start..ob.span.end], ob.text);

    let small = spec.model("small").unwrap();
    let kinds: Vec<&str> = small.graph.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(kinds, ["Gemm", "Relu", "Gemm", "Softmax"]);
    let names: Vec<&str> = small.graph.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["fc1", "a1", "fc2", "out"]);
    assert_eq!(small.graph.output_shape().unwrap(), vec![3]);
    assert_eq!(small.files, vec![dir.path().join("w.safetensors")]);
    assert_eq!(small.input.domain, Some((q("-1"), q("1"))));
    match &small.graph.nodes[0].op {
        Op::Gemm { weight, bias } => {
            assert_eq!(weight.dim(), (8, 2));
            assert_eq!(bias.as_ref().map(|b| b.len()), Some(8));
        }
        other => panic!("{other:?}"),
    }
    match &small.graph.nodes[2].op {
        Op::Gemm { bias, .. } => assert!(bias.is_none()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn load_spec_reads_the_file_and_resolves_relative_paths() {
    let dir = fixtures();
    let path = dir.path().join("spec.axiom");
    std::fs::write(&path, FULL).unwrap();
    let spec = load_spec(&path).unwrap();
    assert_eq!(spec.path, path);
    assert_eq!(spec.models.len(), 2);

    let e = load_spec(&dir.path().join("nope.axiom")).unwrap_err();
    assert_eq!(e.kind(), SpecErrorKind::MissingFile);
    assert_eq!(e.line, 0);
    assert!(e.message.contains("cannot read"), "{e}");
}

#[test]
fn box_obligation_is_an_exact_property_with_assumptions() {
    let dir = fixtures();
    let spec = full(&dir);
    let p = property(&spec, "acas_1_1", "coc_bounded");
    assert_eq!((p.num_inputs, p.num_outputs), (5, 5));
    let case = &p.cases[0];
    assert_eq!(
        case.input.lower,
        ["0.6", "-0.5", "-0.5", "0.45", "-0.5"].map(q).to_vec()
    );
    assert_eq!(
        case.input.upper,
        ["0.68", "0.5", "0.5", "0.5", "-0.45"].map(q).to_vec()
    );
    // The assumption is a constraint over two inputs.
    let inputs: Vec<String> = case
        .input_constraints
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(inputs, ["X_0 + X_1 <= 0.5"]);
    // Unsafe: y0 > 3.9911, strict.
    assert_eq!(unsafe_set(p), vec![vec!["Y_0 > 3.9911".to_string()]]);
    assert!(case.output[0][0].strict);
    let ob = spec
        .model("acas_1_1")
        .unwrap()
        .obligation("coc_bounded")
        .unwrap();
    assert_eq!(ob.region.as_ref().unwrap().lower, case.input.lower);
    assert_eq!(
        ob.pred.as_ref().unwrap().to_sexpr(),
        "(<= (idx y 0) 3.9911)"
    );
}

#[test]
fn linf_ball_and_argmax() {
    let dir = fixtures();
    let spec = full(&dir);
    let p = property(&spec, "acas_1_1", "robust_3");
    let case = &p.cases[0];
    assert_eq!(
        case.input.lower,
        ["0.09", "0.19", "-0.01", "0.29", "-0.41"].map(q).to_vec()
    );
    assert_eq!(
        case.input.upper,
        ["0.11", "0.21", "0.01", "0.31", "-0.39"].map(q).to_vec()
    );
    // argmax(y) == 2 is violated iff some other output ties or beats y2.
    assert_eq!(
        unsafe_set(p),
        vec![
            vec!["Y_2 <= Y_0".to_string()],
            vec!["Y_2 <= Y_1".to_string()],
            vec!["Y_2 <= Y_3".to_string()],
            vec!["Y_2 <= Y_4".to_string()],
        ]
    );
}

#[test]
fn argmin_or_becomes_one_conjunction() {
    let dir = fixtures();
    let spec = full(&dir);
    // not (argmin(y) != 4 or y4 >= y0) = (y4 < yj for all j != 4) and y4 < y0.
    let p = property(&spec, "acas_1_1", "strong_right");
    assert_eq!(
        unsafe_set(p),
        vec![vec![
            "Y_4 < Y_0".to_string(),
            "Y_4 < Y_1".to_string(),
            "Y_4 < Y_2".to_string(),
            "Y_4 < Y_3".to_string(),
        ]]
    );
    assert_eq!(p.cases[0].input.upper[4], q("-0.45"));
    let pred = Pred::ArgMin { k: 1, eq: true };
    let v = pred.violation_dnf(0, 3).unwrap();
    let v: Vec<Vec<String>> = v
        .iter()
        .map(|c| c.iter().map(|a| a.to_string()).collect())
        .collect();
    assert_eq!(v, vec![vec!["Y_0 <= Y_1"], vec!["Y_2 <= Y_1"]]);
    let v = Pred::ArgMax { k: 0, eq: false }
        .violation_dnf(0, 3)
        .unwrap();
    let v: Vec<String> = v[0].iter().map(|a| a.to_string()).collect();
    assert_eq!(v, ["Y_1 < Y_0", "Y_2 < Y_0"]);
}

#[test]
fn intervals_not_and_sums() {
    let dir = fixtures();
    let spec = full(&dir);
    let s = |ob: &str| unsafe_set(property(&spec, "small", ob));
    assert_eq!(
        s("in_unit"),
        vec![vec!["Y_0 < 0".to_string()], vec!["Y_0 > 1".to_string()]]
    );
    assert_eq!(
        s("in_open"),
        vec![vec!["Y_1 <= 0".to_string()], vec!["Y_1 >= 1".to_string()]]
    );
    assert_eq!(
        s("half_open"),
        vec![vec!["Y_1 <= 0".to_string()], vec!["Y_1 > 1".to_string()]]
    );
    assert_eq!(s("negated"), vec![vec!["Y_0 > 1".to_string()]]);
    assert_eq!(
        s("sums_to_one"),
        vec![
            vec!["Y_0 + Y_1 + Y_2 < 1".to_string()],
            vec!["Y_0 + Y_1 + Y_2 > 1".to_string()]
        ]
    );
    // 2*y0 + y1 - 3 <= (y2 - 1)/2, violated when 2*y0 + y1 - 0.5*y2 > 2.5.
    assert_eq!(
        s("linear"),
        vec![vec!["0.5*Y_2 < 2*Y_0 + Y_1 - 2.5".to_string()]]
    );

    let m = spec.model("small").unwrap();
    let sexpr = |ob: &str| m.obligation(ob).unwrap().pred.as_ref().unwrap().to_sexpr();
    assert_eq!(sexpr("sums_to_one"), "(== (sum y) 1)");
    assert_eq!(sexpr("in_unit"), "(in (idx y 0) 0 1)");
    assert_eq!(sexpr("in_open"), "(in_open (idx y 1) 0 1)");
    assert_eq!(sexpr("half_open"), "(in_lopen (idx y 1) 0 1)");
    assert_eq!(sexpr("negated"), "(not (> (idx y 0) 1))");
    assert_eq!(
        sexpr("linear"),
        "(<= (+ (* 2 (idx y 0)) (idx y 1) -3) (+ (* 0.5 (idx y 2)) -0.5))"
    );
    // The shapes a rewriter looks for.
    let Some(Pred::Cmp(lhs, CmpOp::Eq, rhs)) = &m.obligation("sums_to_one").unwrap().pred else {
        panic!("not a comparison")
    };
    assert!(lhs.is_sum(IoRef::Output));
    assert_eq!(rhs.as_constant(), Some(&q("1")));
    let Some(Pred::InRange { expr, .. }) = &m.obligation("in_unit").unwrap().pred else {
        panic!("not a range")
    };
    assert_eq!(expr.as_elem(), Some((IoRef::Output, 0)));
}

#[test]
fn regions_are_clipped_to_the_domain() {
    let dir = fixtures();
    let spec = full(&dir);
    let m = spec.model("small").unwrap();
    let r = m.obligation("clipped").unwrap().region.clone().unwrap();
    assert_eq!(r.lower, vec![q("0.85"), q("-0.1")]);
    assert_eq!(r.upper, vec![q("1"), q("0.1")]);
    let p = property(&spec, "small", "clipped");
    assert_eq!(p.cases[0].input.upper[0], q("1"));
    let d = property(&spec, "small", "in_unit");
    assert_eq!(d.cases[0].input.lower, vec![q("-1"), q("-1")]);
}

#[test]
fn named_regions_are_kept_as_written() {
    let dir = fixtures();
    let spec = full(&dir);
    let m = spec.model("acas_1_1").unwrap();
    assert_eq!(m.regions.len(), 1);
    let r = &m.regions[0];
    assert_eq!(r.name, "near_origin");
    assert_eq!(r.span.line, 7);
    assert_eq!(
        r.text,
        "region near_origin = box([0.6, -0.5, -0.5, 0.45, -0.5], [0.68, 0.5, 0.5, 0.5, -0.45])"
    );
    assert_eq!(r.region.lower[0], q("0.6"));
    assert_eq!(r.region.upper[4], q("-0.45"));
    assert!(spec.model("small").unwrap().regions.is_empty());
}

#[test]
fn vnnlib_obligation_gets_the_assumptions() {
    let dir = fixtures();
    let spec = full(&dir);
    let ob = spec
        .model("acas_1_1")
        .unwrap()
        .obligation("from_vnnlib")
        .unwrap();
    assert!(ob.region.is_none() && ob.pred.is_none());
    let p = ob.property.as_ref().unwrap();
    assert_eq!(p.cases.len(), 1);
    assert_eq!(p.cases[0].input.lower, vec![q("-1"); 5]);
    let inputs: Vec<String> = p.cases[0]
        .input_constraints
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(inputs, ["X_0 + X_1 <= 0.5"]);
    assert_eq!(unsafe_set(p), vec![vec!["Y_0 >= 100".to_string()]]);
}

#[test]
fn runtime_evaluation() {
    let dir = fixtures();
    let spec = full(&dir);
    let acas = spec.model("acas_1_1").unwrap();
    let x = [0.0; 5];
    let (finite, bounded) = (&acas.ensures[0].pred, &acas.ensures[1].pred);
    assert!(finite.eval(&x, &[1.0, 2.0, 3.0, 4.0, 5.0]));
    assert!(!finite.eval(&x, &[1.0, f64::NAN, 3.0, 4.0, 5.0]));
    assert!(!finite.eval(&x, &[1.0, f64::INFINITY, 3.0, 4.0, 5.0]));
    assert!(bounded.eval(&x, &[1e4, 0.0, 0.0, 0.0, 0.0]));
    assert!(!bounded.eval(&x, &[10000.5, 0.0, 0.0, 0.0, 0.0]));
    assert!(!bounded.eval(&x, &[f64::NAN, 0.0, 0.0, 0.0, 0.0]));

    // argmax: the lowest index wins ties.
    let am = |k, eq| Pred::ArgMax { k, eq };
    assert!(am(1, true).eval(&[], &[0.0, 3.0, 3.0]));
    assert!(!am(2, true).eval(&[], &[0.0, 3.0, 3.0]));
    assert!(am(2, false).eval(&[], &[0.0, 3.0, 3.0]));
    assert!(Pred::ArgMin { k: 0, eq: true }.eval(&[], &[-1.0, 3.0, -1.0]));
    assert!(Pred::ArgMin { k: 2, eq: false }.eval(&[], &[-1.0, 3.0, -1.0]));

    let small = spec.model("small").unwrap();
    let p = |ob: &str| small.obligation(ob).unwrap().pred.clone().unwrap();
    assert!(p("sums_to_one").eval(&[0.0, 0.0], &[0.25, 0.25, 0.5]));
    assert!(!p("sums_to_one").eval(&[0.0, 0.0], &[0.25, 0.25, 0.25]));
    assert!(p("in_unit").eval(&[], &[1.0, 0.0, 0.0]));
    assert!(!p("in_unit").eval(&[], &[1.5, 0.0, 0.0]));
    assert!(!p("in_open").eval(&[], &[0.0, 1.0, 0.0]));
    assert!(p("half_open").eval(&[], &[0.0, 1.0, 0.0]));
    assert!(!p("half_open").eval(&[], &[0.0, 0.0, 0.0]));
    assert!(p("negated").eval(&[], &[1.0, 0.0, 0.0]));
    assert!(!p("negated").eval(&[], &[1.5, 0.0, 0.0]));
    // 2*y0 + y1 - 3 <= (y2 - 1)/2
    assert!(p("linear").eval(&[], &[1.0, 1.0, 1.0]));
    assert!(!p("linear").eval(&[], &[2.0, 1.0, 1.0]));

    let over_x = Pred::Cmp(
        LinExpr::term(Term::Sum(IoRef::Input)),
        CmpOp::Le,
        LinExpr::constant(q("0.5")),
    );
    assert!(over_x.eval(&[0.25, 0.25], &[]));
    assert!(!over_x.eval(&[0.25, 0.5], &[]));
    assert!(Pred::Or(vec![Pred::Finite(IoRef::Input), Pred::And(vec![])]).eval(&[f64::NAN], &[]));
}

fn small_model(body: &str) -> String {
    format!(
        "model m {{\n  input x: f32[2] in [-1, 1]\n  output y: f32[3]\n  layer fc1 = dense(2 -> 8, weights \"w.safetensors:fc1.weight\", bias \"w.safetensors:fc1.bias\")\n  layer a1 = relu\n  layer fc2 = dense(8 -> 3, weights \"w.safetensors:fc2.weight\")\n{body}\n}}\n"
    )
}

fn parse_in(dir: &TempDir, src: &str) -> Result<Spec, SpecError> {
    parse_spec_str(src, &dir.path().join("t.axiom"))
}

fn ob_property(dir: &TempDir, prove: &str) -> Result<Property, String> {
    let spec = parse_in(dir, &small_model(prove)).unwrap_or_else(|e| panic!("{}", e.render(false)));
    spec.models[0].proves[0].property.clone()
}

#[test]
fn properties_that_cannot_be_expressed() {
    let dir = fixtures();
    let e = ob_property(
        &dir,
        "prove p: forall x in box([2, 2], [3, 3]) => y[0] >= 0",
    )
    .unwrap_err();
    assert!(e.contains("region is empty"), "{e}");
    let e = ob_property(&dir, "prove p: forall x in domain => finite(y)").unwrap_err();
    assert!(e.contains("finite"), "{e}");
    let e = ob_property(&dir, "prove p: forall x in domain => y[0] <= x[0]").unwrap_err();
    assert!(e.contains("mixes inputs"), "{e}");
    // 2^14 disjuncts.
    let big = vec!["(y[0] >= 1 and y[1] >= 1)"; 14].join(" or ");
    let e = ob_property(&dir, &format!("prove p: forall x in domain => {big}")).unwrap_err();
    assert!(e.contains("10000"), "{e}");
    // Never violated: an empty unsafe set, no cases.
    let p = ob_property(&dir, "prove p: forall x in domain => y[0] <= y[0] + 1").unwrap();
    assert!(p.cases.is_empty());
}

#[test]
fn multi_dimensional_indices_and_conv2d() {
    let dir = fixtures();
    let src = r#"
model conv {
  input img: f32[1, 1, 4, 4] in [0, 1]
  output logits: f32[3]
  layer c1 = conv2d(1 -> 2, kernel 3, stride 1, pad 1, weights "w.safetensors:conv.weight", bias "w.safetensors:conv.bias")
  layer r1 = relu
  layer f = flatten
  layer t = tanh
  ensure img[0, 0, 3, 3] >= 0 and img[15] <= 1
}
"#;
    let e = parse_in(&dir, src).unwrap_err();
    // flatten gives [1, 32]; the declared output has 3.
    assert_eq!(
        e.kind(),
        SpecErrorKind::ShapeMismatch,
        "{}",
        e.render(false)
    );
    assert!(e.message.contains("[1, 32]"), "{e}");

    let src = src.replace("f32[3]", "f32[32]");
    let spec = parse_in(&dir, &src).unwrap_or_else(|e| panic!("{}", e.render(false)));
    let m = &spec.models[0];
    assert_eq!(m.graph.output_shape().unwrap(), vec![1, 32]);
    assert_eq!(
        m.ensures[0].pred.to_sexpr(),
        "(and (>= (idx x 15) 0) (<= (idx x 15) 1))"
    );
    let e = parse_in(&dir, &src.replace("img[0, 0, 3, 3]", "img[0, 0, 4, 3]")).unwrap_err();
    assert_eq!(e.kind(), SpecErrorKind::IndexOutOfRange);
    assert!(e.message.contains("axis 2"), "{e}");
    let e = parse_in(&dir, &src.replace("conv2d(1 -> 2", "conv2d(3 -> 2")).unwrap_err();
    assert_eq!(e.kind(), SpecErrorKind::ShapeMismatch);
    assert!(e.message.contains("3 input channels"), "{e}");
}

#[test]
fn from_nnet_imports_the_network() {
    let dir = fixtures();
    let nnet = "// 3 inputs -> 2 hidden (ReLU) -> 2 outputs\n2,3,2,3,\n3,2,2,\n0,\n-1.0,-2.0,-3.0,\n1.0,2.0,3.0,\n0.5,0.0,-0.5,7.25,\n2.0,4.0,6.0,10.0,\n0.1,-0.2,0.3,\n1e-1,2.5e+00,-3,\n0.5,\n-0.75,\n1.0,-1.0,\n0.125,0.25,\n1.5,\n-2.5,\n";
    std::fs::write(dir.path().join("small.nnet"), nnet).unwrap();
    let src = "model n {\n  from nnet \"small.nnet\"\n  input x: f32[3] in [-1, 1]\n  output y: f32[2]\n  prove p: forall x in domain => argmax(y) != 1\n}\n";
    let spec = parse_in(&dir, src).unwrap_or_else(|e| panic!("{}", e.render(false)));
    let m = &spec.models[0];
    assert_eq!(m.files, vec![dir.path().join("small.nnet")]);
    assert_eq!(m.graph.input_len(), 3);
    let p = m.proves[0].property.as_ref().unwrap();
    // argmax(y) != 1 is violated iff y1 is strictly the largest.
    assert_eq!(unsafe_set(p), vec![vec!["Y_0 < Y_1".to_string()]]);
}

// ---- errors ------------------------------------------------------------------

/// The 1-based line and column of the first `needle` in `src`.
fn pos(src: &str, needle: &str) -> (usize, usize) {
    let at = src
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in source"));
    let before = &src[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, col)
}

fn error(dir: &TempDir, src: &str) -> SpecError {
    match parse_in(dir, src) {
        Ok(_) => panic!("accepted:\n{src}"),
        Err(e) => e,
    }
}

fn check(e: &SpecError, kind: SpecErrorKind, at: (usize, usize), message: &str) {
    assert_eq!(e.kind(), kind, "{}", e.render(false));
    assert_eq!((e.line, e.col), at, "{}", e.render(false));
    assert!(
        e.message.contains(message),
        "{:?} lacks {message:?}",
        e.message
    );
}

#[test]
fn syntax_error_points_at_the_token() {
    let dir = fixtures();
    let src = small_model("  prove p: forall x in domain => y[0] <= ");
    let e = error(&dir, &src);
    check(&e, SpecErrorKind::Syntax, pos(&src, "}\n"), "expected");
    assert!(e.message.contains("an expression"), "{}", e.message);
    assert!(e.message.contains("found `}`"), "{}", e.message);

    let src = "model m {\n  input x f32[2]\n}\n";
    let e = error(&dir, src);
    check(
        &e,
        SpecErrorKind::Syntax,
        (2, 11),
        "expected `:`, found `f32`",
    );

    let src = small_model("  prove p: forall x in domain => 0 <= y[0] <= 1");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::Syntax,
        pos(&src, "<= 1"),
        "unexpected `<=` after a complete comparison",
    );
    assert!(e.hint.as_deref().unwrap().contains("do not chain"));

    let src = "model m {\n  /* never closed\n}\n";
    let e = error(&dir, src);
    check(
        &e,
        SpecErrorKind::Syntax,
        (2, 3),
        "unterminated block comment",
    );

    let e = error(&dir, "modle m {}");
    check(
        &e,
        SpecErrorKind::Syntax,
        (1, 1),
        "expected `model`, found `modle`",
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean `model`?"));

    let src = small_model("  prov p: forall x in domain => y[0] >= 0");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::Syntax,
        pos(&src, "prov "),
        "found `prov`",
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean `prove`?"));
}

#[test]
fn unknown_layer_suggests_the_closest() {
    let dir = fixtures();
    let src = small_model("  layer a = relux");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::UnknownLayer,
        pos(&src, "relux"),
        "unknown layer `relux`",
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean `relu`?"));
    let frame = e.render(false);
    assert!(frame.contains("layer a = relux"), "{frame}");
    assert!(frame.contains("did you mean `relu`?"), "{frame}");
    assert_eq!(e.frame, frame);
    assert!(!frame.contains('\u{1b}'), "no colour: {frame}");
    assert!(e.render(true).contains('\u{1b}'));
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!(
            "{}:{}:{}: unknown layer",
            dir.path().join("t.axiom").display(),
            e.line,
            e.col
        )),
        "{shown}"
    );
    assert!(shown.contains("hint: did you mean `relu`?"));
    let core: axiom_core::Error = e.into();
    assert_eq!(
        core.location,
        Some(axiom_core::Location::LineCol {
            line: pos(&src, "relux").0,
            col: pos(&src, "relux").1
        })
    );
}

#[test]
fn shape_mismatches() {
    let dir = fixtures();
    // dense(3 -> 8) after an input of 2.
    let src = small_model("").replace("dense(2 -> 8", "dense(3 -> 8");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::ShapeMismatch,
        pos(&src, "3 -> 8"),
        "expects 3 input features",
    );
    assert!(e.message.contains("the input `x` gives 2"), "{}", e.message);

    // Declared output shape != the model's.
    let src = small_model("").replace("output y: f32[3]", "output y: f32[4]");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::ShapeMismatch,
        pos(&src, "f32[4]"),
        "the last layer `fc2` gives shape [3]",
    );

    // Declared input shape != the imported model's.
    let src = FULL.replace("input  x: f32[5]", "input  x: f32[4]");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::ShapeMismatch,
        pos(&src, "f32[4]"),
        "the model's input has shape [1, 5]",
    );

    // Box list length != input size.
    let src = small_model("  prove p: forall x in box([0, 0, 0], [1, 1]) => y[0] >= 0");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::ShapeMismatch,
        pos(&src, "[0, 0, 0]"),
        "has 3 values",
    );

    // Weight tensor of the wrong shape.
    let src = small_model("").replace("fc2.weight\")", "fc1.weight\")");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::ShapeMismatch,
        pos(&src, "\"w.safetensors:fc1.weight\")"),
        "shape [8, 2]",
    );

    // VNN-LIB sizes.
    let src = small_model("  prove v: vnnlib \"props/prop.vnnlib\"");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::ShapeMismatch,
        pos(&src, "\"props/"),
        "declares 5 inputs",
    );
}

#[test]
fn indices_out_of_range() {
    let dir = fixtures();
    let src = FULL.replace("ensure y[0] <= 1e4", "ensure y[7] <= 1e4");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::IndexOutOfRange,
        pos(&src, "y[7]"),
        "`y` has 5 elements",
    );

    let src = FULL.replace("argmax(y) == 2", "argmax(y) == 9");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::IndexOutOfRange,
        pos(&src, "9\n"),
        "index 9 is out of range",
    );
}

#[test]
fn missing_files_name_the_path() {
    let dir = fixtures();
    let src = small_model("").replace("w.safetensors:fc2", "nope.safetensors:fc2");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::MissingFile,
        pos(&src, "\"nope.safetensors"),
        "weight file `nope.safetensors` not found",
    );
    assert!(e
        .hint
        .as_deref()
        .unwrap()
        .contains(&dir.path().join("nope.safetensors").display().to_string()));

    let src = FULL.replace("acas.onnx", "missing.onnx");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::MissingFile,
        pos(&src, "\"missing.onnx"),
        "model file `missing.onnx` not found",
    );

    let src = FULL.replace("props/prop.vnnlib", "props/none.vnnlib");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::MissingFile,
        pos(&src, "\"props/none"),
        "VNN-LIB file",
    );

    // A tensor that is not in the file.
    let src = small_model("").replace("fc2.weight", "fc2.weigth");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::UnknownName,
        pos(&src, "\"w.safetensors:fc2.weigth"),
        "no tensor `fc2.weigth`",
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean 'fc2.weight'?"));
}

#[test]
fn unknown_names_suggest_the_closest() {
    let dir = fixtures();
    let src = FULL.replace("forall x in near_origin", "forall x in nearorigin");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::UnknownName,
        pos(&src, "nearorigin"),
        "unknown region `nearorigin`",
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean `near_origin`?"));

    let src = FULL.replace("ensure y[0] <= 1e4", "ensure z[0] <= 1e4");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::UnknownName,
        pos(&src, "z[0]"),
        "unknown name `z`",
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean `y`?"));

    let src = small_model("  ensure summ(y) == 1");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::UnknownName,
        pos(&src, "summ"),
        "unknown function `summ`",
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean `sum`?"));

    let src = small_model("").replace("bias \"w", "bais \"w");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::UnknownName,
        pos(&src, "bais"),
        "unknown argument `bais`",
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean `bias`?"));
}

#[test]
fn duplicates_are_refused() {
    let dir = fixtures();
    let src = small_model(
        "  prove p: forall x in domain => y[0] >= 0\n  prove p: forall x in domain => y[1] >= 0",
    );
    let e = error(&dir, &src);
    let second = (pos(&src, "prove p: forall x in domain => y[1]").0, 9);
    check(
        &e,
        SpecErrorKind::Invalid,
        second,
        "duplicate obligation name `p`",
    );
    assert!(e.render(false).contains("first declared here"));

    let src = small_model("  layer a1 = relu");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::Invalid,
        (pos(&src, "layer a1 = relu\n}").0, 9),
        "duplicate layer `a1`",
    );
}

#[test]
fn model_import_errors_point_at_the_from_line() {
    let dir = fixtures();
    std::fs::write(dir.path().join("bad.onnx"), b"not a model").unwrap();
    let src = FULL.replace("acas.onnx", "bad.onnx");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::Model,
        pos(&src, "\"bad.onnx"),
        "cannot import the model",
    );
    assert!(e.message.contains("bad.onnx"), "{}", e.message);

    let src = FULL.replace("from onnx", "from onx");
    let e = error(&dir, &src);
    check(
        &e,
        SpecErrorKind::UnknownName,
        pos(&src, "onx"),
        "unknown model format `onx`",
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean `onnx`?"));
}

#[test]
fn invalid_specifications() {
    let dir = fixtures();
    let cases: &[(&str, &str, &str)] = &[
        (
            "  prove p: forall x in domain => y[0] * y[1] <= 1",
            "y[0] * y[1]",
            "nonlinear",
        ),
        (
            "  prove p: forall x in domain => y[0] / 0 <= 1",
            "0 <=",
            "division by zero",
        ),
        (
            "  prove p: forall x in domain => argmax(y) <= 1",
            "argmax(y) <= 1",
            "only be compared with `==` or `!=`",
        ),
        (
            "  prove p: forall x in domain => y[0] in [1, 0]",
            "[1, 0]",
            "is empty",
        ),
        (
            "  prove p: forall z in domain => y[0] >= 0",
            "z in",
            "not the model's input",
        ),
        (
            "  assume y[0] >= 0",
            "y[0] >= 0",
            "may only mention the input",
        ),
        (
            "  prove p: forall x in box([1, 1], [0, 0]) => y[0] >= 0",
            "box([1, 1]",
            "the box is empty",
        ),
        (
            "  prove p: forall x in linf_ball([0, 0], -0.1) => y[0] >= 0",
            "-0.1",
            "must be >= 0",
        ),
        (
            "  region domain = box([0, 0], [1, 1])",
            "domain =",
            "built-in region",
        ),
        ("  ensure sum(y)", "sum(y)", "not a condition"),
    ];
    for (body, at, message) in cases {
        let src = small_model(body);
        let e = error(&dir, &src);
        let (line, col) = pos(&src, at);
        check(
            &e,
            if *message == "not the model's input" {
                SpecErrorKind::UnknownName
            } else {
                SpecErrorKind::Invalid
            },
            (line, col),
            message,
        );
    }
    let src = "model m {\n  input x: f32[2]\n  output y: f32[2]\n}\n";
    let e = error(&dir, src);
    check(
        &e,
        SpecErrorKind::Invalid,
        (1, 7),
        "neither `from` nor layers",
    );
    let src = "model m {\n  input x: f32[2]\n  output y: f32[2]\n  layer r = relu\n  prove p: forall x in domain => y[0] >= 0\n}\n";
    let e = error(&dir, src);
    check(&e, SpecErrorKind::Invalid, (5, 24), "no declared domain");
}

#[test]
fn no_panic_on_garbage() {
    let dir = fixtures();
    assert!(parse_in(&dir, "// nothing\n").unwrap().models.is_empty());
    let inputs = [
        "model",
        "model m {",
        "model m { input x: f32[99999999999999999999999] }",
        "model m { input x: f32[0] output y: f32[1] layer r = relu }",
        "model m { input x: f32[2] output y: f32[2] layer r = relu ensure y[0] <= 1e999999 }",
        "model m { input x: f32[2] output y: f32[2] layer r = relu ensure y[0, 0] <= 1 }",
        &format!("model m {{ input x: f32[2] output y: f32[2] layer r = relu ensure {}y[0] <= 1{} }}", "(".repeat(300), ")".repeat(300)),
        "model m { \"unterminated }",
        "model m { input x: f64[2] output y: f32[2] layer r = relu }",
        "model m { input x: f32[2] output x: f32[2] layer r = relu }",
        "model m { input x: f32[2] output y: f32[2] in [0, 1] layer r = relu }",
        "model m { input x: f32[2] output y: f32[2] layer r = dense }",
        "model m { input x: f32[2] output y: f32[2] layer r = dense(2 -> 2) }",
        "model m { input x: f32[2] output y: f32[2] layer r = dense(2 -> 2, weights \"nocolon\") }",
        "model m { input x: f32[2] output y: f32[2] layer r = conv2d(2 -> 2, kernel 3, weights \"w.safetensors:conv.weight\") }",
        "model m { input x: f32[2] output y: f32[2] layer r = relu(1) }",
        "model m { input x: f32[2] output y: f32[2] layer r = relu } model m { input x: f32[2] output y: f32[2] layer r = relu }",
    ];
    for src in inputs {
        let e = error(&dir, src);
        assert!(!e.message.is_empty());
        let _ = e.render(false);
    }
}
#[test]
fn long_and_deep_inputs_are_errors_not_stack_overflows() {
    let dir = fixtures();
    // Long chains are flat.
    let src = small_model(&format!("  ensure y[0]{} <= 1", " + y[1]".repeat(100_000)));
    let spec = parse_in(&dir, &src).unwrap();
    let Pred::Cmp(lhs, _, _) = &spec.models[0].ensures[0].pred else {
        panic!("not a comparison")
    };
    assert_eq!(lhs.terms.values().nth(1), Some(&q("100000")));
    let src = small_model(&format!("  ensure {}y[0] <= 1", "- ".repeat(100_001)));
    let spec = parse_in(&dir, &src).unwrap();
    assert_eq!(
        spec.models[0].ensures[0].pred.to_sexpr(),
        "(<= (* -1 (idx y 0)) 1)"
    );
    // Deep nesting is refused before parsing.
    let src = small_model(&format!("  ensure {}y[0] <= 1", "not ".repeat(100)));
    assert!(parse_in(&dir, &src).is_ok());
    // "  ensure " is 9 columns; the 101st `not` / `not (` / `(` is refused.
    for (deep, col) in [
        (
            format!("  ensure {}y[0] <= 1", "not ".repeat(100_000)),
            10 + 100 * 4,
        ),
        (
            format!("  ensure {}y[0] <= 1", "not (".repeat(101)),
            10 + 100 * 5,
        ),
        (
            format!(
                "  ensure {}y[0]{} <= 1",
                "(".repeat(100_000),
                ")".repeat(100_000)
            ),
            10 + 100,
        ),
    ] {
        let e = error(&dir, &small_model(&deep));
        check(
            &e,
            SpecErrorKind::Syntax,
            (7, col),
            "nested more than 100 deep",
        );
    }
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;
    use std::sync::OnceLock;

    fn shared() -> &'static TempDir {
        static DIR: OnceLock<TempDir> = OnceLock::new();
        DIR.get_or_init(fixtures)
    }

    const TOKENS: &[&str] = &[
        "model",
        "m",
        "{",
        "}",
        "from",
        "onnx",
        "\"acas.onnx\"",
        "input",
        "output",
        "x",
        "y",
        ":",
        "f32",
        "[",
        "]",
        "(",
        ")",
        ",",
        "5",
        "2",
        "0",
        "-1",
        "1e4",
        "0.5",
        "in",
        "region",
        "r",
        "=",
        "box",
        "linf_ball",
        "domain",
        "layer",
        "dense",
        "relu",
        "softmax",
        "->",
        "weights",
        "\"w.safetensors:fc1.weight\"",
        "assume",
        "ensure",
        "prove",
        "p",
        "forall",
        "=>",
        "argmax",
        "argmin",
        "sum",
        "finite",
        "and",
        "or",
        "not",
        "<=",
        "<",
        ">=",
        ">",
        "==",
        "!=",
        "+",
        "-",
        "*",
        "/",
        "vnnlib",
        "\"props/prop.vnnlib\"",
        "//",
        "/*",
        "*/",
        "\n",
    ];

    fn check_error(e: &SpecError) -> Result<(), TestCaseError> {
        prop_assert!(!e.message.is_empty());
        prop_assert!(e.line >= 1 && e.col >= 1, "{}", e);
        prop_assert!(!e.frame.is_empty());
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn mutated_specs(pos in 0usize..FULL.len(), cut in 0usize..12, insert in "[ -~\n]{0,6}") {
            let mut src = FULL.to_string();
            src.replace_range(pos..(pos + cut).min(FULL.len()), &insert);
            if let Err(e) = parse_in(shared(), &src) {
                check_error(&e)?;
            }
        }

        #[test]
        fn token_soup(tokens in proptest::collection::vec(select(TOKENS), 0..80)) {
            let src = tokens.join(" ");
            if let Err(e) = parse_in(shared(), &src) {
                check_error(&e)?;
            }
        }

        #[test]
        fn token_soup_inside_a_valid_model(tokens in proptest::collection::vec(select(TOKENS), 0..30)) {
            let src = small_model(&format!("  {}", tokens.join(" ")));
            if let Err(e) = parse_in(shared(), &src) {
                check_error(&e)?;
            }
        }
    }
}
