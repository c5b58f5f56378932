//! The NNet importer: Reluplex's text format for fully connected ReLU
//! networks (the format of the original ACAS Xu networks).
//!
//! # The format
//!
//! ```text
//! // any number of leading comment lines, each starting with //
//! numLayers, inputSize, outputSize, maxLayerSize,
//! size[0], size[1], ..., size[numLayers],        (size[0] = inputSize)
//! symmetric flag                                  (legacy; ignored)
//! input minimums                                  (inputSize values)
//! input maximums                                  (inputSize values)
//! means                                           (inputSize + 1 values; the last is the output's)
//! ranges                                          (inputSize + 1 values; the last is the output's)
//! then for each layer k = 1..=numLayers:
//!   size[k] lines of size[k-1] comma-separated weights (one output per line)
//!   size[k] lines of one bias each
//! ```
//!
//! Trailing commas are allowed everywhere and blank lines are skipped. Every
//! layer but the last is followed by a ReLU; the last layer is linear.
//!
//! # The graph
//!
//! Layer `k` (1-based, as in error messages) becomes an
//! [`Op::Gemm`] node named `layer{k}` with weight `[size[k], size[k-1]]` and
//! bias `[size[k]]`, followed for hidden layers by an [`Op::Relu`] node named
//! `relu{k}`. The input is named `input` with shape `[inputSize]`.
//!
//! Values are read as `f64` from the text and then rounded to the nearest
//! `f32`: Axiom's weights are float32, and NNet files usually carry more
//! digits than a float32 holds. (For the ACAS Xu networks the NNet weights and
//! the ONNX float32 weights agree to about 1e-8.)
//!
//! The header's normalisation constants are **not** applied to the network:
//! the graph computes the function on already-normalised inputs, as the
//! VNN-LIB properties state them. The constants are kept as metadata
//! (`nnet.input_min`, `nnet.input_max`, `nnet.input_mean`, `nnet.input_range`,
//! `nnet.output_mean`, `nnet.output_range`, the values exactly as written in the
//! file, comma-separated) and [`NnetNormalization`] applies them for users who
//! start from raw sensor values.

use ndarray::{Array1, Array2};
use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Location, Result};
use crate::graph::{Graph, GraphBuilder, Op};

/// The most parameters (weights and biases) an NNet file may declare.
pub const MAX_PARAMS: usize = 10_000_000;

const KEY_INPUT_MIN: &str = "nnet.input_min";
const KEY_INPUT_MAX: &str = "nnet.input_max";
const KEY_INPUT_MEAN: &str = "nnet.input_mean";
const KEY_INPUT_RANGE: &str = "nnet.input_range";
const KEY_OUTPUT_MEAN: &str = "nnet.output_mean";
const KEY_OUTPUT_RANGE: &str = "nnet.output_range";

/// Parses NNet text into a [`Graph`] named `nnet`.
///
/// Every error names the 1-based line (and column, for a bad value) and says
/// what was expected there.
///
/// ```
/// let text = "\
/// // a 2-input, 1-output network with one hidden layer of 2
/// 2,2,1,2,
/// 2,2,1,
/// 0,
/// -1,-1,
/// 1,1,
/// 0,0,0,
/// 1,1,1,
/// 1.0,-1.0,
/// 0.5,2.0,
/// 0.0,
/// 0.25,
/// 1.0,1.0,
/// -0.5,
/// ";
/// let g = axiom_core::nnet::parse(text).unwrap();
/// assert_eq!(g.input_shape(), &[2]);
/// assert_eq!(g.output_shape().unwrap(), vec![1]);
/// assert_eq!(g.nodes.len(), 3); // layer1, relu1, layer2
/// assert_eq!(g.metadata["source.format"], "nnet");
///
/// let err = axiom_core::nnet::parse("2,2,1,2,\n2,2,\n").unwrap_err();
/// assert!(err.to_string().starts_with("line 2"), "{err}");
/// ```
pub fn parse(text: &str) -> Result<Graph> {
    parse_named(text, "nnet")
}

/// Reads an NNet file into a [`Graph`] named after the file stem.
///
/// Every error carries `path` (see [`parse`] for the rest).
pub fn load(path: &Path) -> Result<Graph> {
    let bytes = crate::read_file(path).map_err(|e| Error::io(path, &e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        Error::malformed("the file is not UTF-8 text")
            .at(Location::Byte(at as u64))
            .in_file(path)
            .with_hint("an NNet file is plain text; is this a binary file?")
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "nnet".to_string());
    parse_named(&text, &name).map_err(|e| e.in_file(path))
}

/// The normalisation constants of an NNet header, for users who start from
/// raw (unnormalised) sensor values.
///
/// Axiom does not apply them: a graph imported from NNet computes the network
/// on normalised inputs and returns normalised outputs.
///
/// ```
/// use axiom_core::nnet::{parse, NnetNormalization};
///
/// let text = "1,2,1,2,\n2,1,\n0,\n0,-10,\n100,10,\n50,0,3,\n100,20,2,\n1,1,\n0,\n";
/// let g = parse(text).unwrap();
/// let norm = NnetNormalization::from_metadata(&g.metadata).unwrap();
/// assert_eq!(norm.normalize_input(&[150.0, 5.0]), vec![0.5, 0.25]); // 150 is clipped to 100
/// assert_eq!(norm.denormalize_output(1.0), 5.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NnetNormalization {
    /// Smallest allowed raw value of each input.
    pub input_min: Vec<f64>,
    /// Largest allowed raw value of each input.
    pub input_max: Vec<f64>,
    /// Mean subtracted from each (clipped) raw input.
    pub input_mean: Vec<f64>,
    /// Range each centred input is divided by.
    pub input_range: Vec<f64>,
    /// Mean added to every output after scaling.
    pub output_mean: f64,
    /// Range every output is multiplied by.
    pub output_range: f64,
}

impl NnetNormalization {
    /// Reads the constants from a graph's metadata (as [`parse`] stores them),
    /// or `None` when a key is missing, a value is not a number, or the input
    /// vectors differ in length.
    pub fn from_metadata(metadata: &BTreeMap<String, String>) -> Option<Self> {
        let list = |key: &str| -> Option<Vec<f64>> {
            metadata
                .get(key)?
                .split(',')
                .map(|t| t.trim().parse::<f64>().ok())
                .collect()
        };
        let scalar = |key: &str| -> Option<f64> { metadata.get(key)?.trim().parse().ok() };
        let norm = NnetNormalization {
            input_min: list(KEY_INPUT_MIN)?,
            input_max: list(KEY_INPUT_MAX)?,
            input_mean: list(KEY_INPUT_MEAN)?,
            input_range: list(KEY_INPUT_RANGE)?,
            output_mean: scalar(KEY_OUTPUT_MEAN)?,
            output_range: scalar(KEY_OUTPUT_RANGE)?,
        };
        let n = norm.input_min.len();
        (norm.input_max.len() == n && norm.input_mean.len() == n && norm.input_range.len() == n)
            .then_some(norm)
    }

    /// Normalises raw inputs the way Reluplex does: clip each value to
    /// `[min, max]`, then `(x - mean) / range`.
    ///
    /// `raw` should hold one value per input; values past the header's input
    /// count are returned unchanged.
    pub fn normalize_input(&self, raw: &[f64]) -> Vec<f64> {
        raw.iter()
            .enumerate()
            .map(|(i, &x)| {
                match (
                    self.input_min.get(i),
                    self.input_max.get(i),
                    self.input_mean.get(i),
                    self.input_range.get(i),
                ) {
                    // `max`/`min` rather than `clamp`: clamp panics when min > max.
                    (Some(&lo), Some(&hi), Some(&mean), Some(&range)) => {
                        (x.max(lo).min(hi) - mean) / range
                    }
                    _ => x,
                }
            })
            .collect()
    }

    /// Turns a normalised network output back into raw units:
    /// `y * range + mean`.
    pub fn denormalize_output(&self, y: f64) -> f64 {
        y * self.output_range + self.output_mean
    }
}

/// One comma-separated value on a line: its text and byte offset in the line.
struct Token<'a> {
    text: &'a str,
    offset: usize,
}

/// A non-blank, non-comment line with its 1-based number.
struct Line<'a> {
    number: usize,
    text: &'a str,
}

impl<'a> Line<'a> {
    /// Splits on commas; a trailing comma (and whitespace) is allowed, an empty
    /// value elsewhere is not.
    fn tokens(&self) -> Result<Vec<Token<'a>>> {
        let text = self.text;
        let mut tokens = Vec::new();
        let mut start = 0;
        let pieces: Vec<&str> = text.split(',').collect();
        let count = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            let trimmed = piece.trim();
            let lead = piece.len() - piece.trim_start().len();
            if trimmed.is_empty() {
                if i + 1 == count {
                    break; // trailing comma, or trailing whitespace
                }
                return Err(Error::malformed("empty value between two commas")
                    .at(self.col_at(start + lead))
                    .with_hint("values are separated by single commas"));
            }
            tokens.push(Token {
                text: trimmed,
                offset: start + lead,
            });
            start += piece.len() + 1;
        }
        Ok(tokens)
    }

    fn col_at(&self, offset: usize) -> Location {
        let col = self
            .text
            .get(..offset)
            .map_or(offset, |s| s.chars().count())
            + 1;
        Location::LineCol {
            line: self.number,
            col,
        }
    }

    fn at(&self) -> Location {
        Location::Line(self.number)
    }
}

/// Shortens a token for an error message.
fn shown(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head}...")
    }
}

fn parse_count(line: &Line, tok: &Token, what: &str) -> Result<usize> {
    tok.text.parse::<usize>().map_err(|_| {
        Error::malformed(format!(
            "expected a whole number ({what}), found '{}'",
            shown(tok.text)
        ))
        .at(line.col_at(tok.offset))
        .with_hint(
            "the first line after the // comments is `numLayers, inputSize, outputSize, maxLayerSize,` \
             and the second lists the layer sizes",
        )
    })
}

fn parse_real(line: &Line, tok: &Token) -> Result<f64> {
    let v = tok.text.parse::<f64>().map_err(|_| {
        Error::malformed(format!("expected a number, found '{}'", shown(tok.text)))
            .at(line.col_at(tok.offset))
    })?;
    if !v.is_finite() {
        return Err(
            Error::invalid(format!("non-finite value '{}'", shown(tok.text)))
                .at(line.col_at(tok.offset)),
        );
    }
    Ok(v)
}

/// A weight or bias: parsed as f64, rounded to the nearest f32.
fn parse_param(line: &Line, tok: &Token) -> Result<f32> {
    let v = parse_real(line, tok)?;
    let r = v as f32;
    if !r.is_finite() {
        return Err(Error::invalid(format!(
            "value {} is outside the float32 range",
            shown(tok.text)
        ))
        .at(line.col_at(tok.offset))
        .with_hint("Axiom's weights are float32"));
    }
    Ok(r)
}

/// The data lines of a file, after the leading comments, blank lines skipped.
struct Reader<'a> {
    text: &'a str,
    lines: std::iter::Enumerate<std::str::Lines<'a>>,
    in_leading_comments: bool,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Reader {
            text,
            lines: text.lines().enumerate(),
            in_leading_comments: true,
        }
    }

    /// The next data line, if any.
    fn next_line(&mut self) -> Option<Line<'a>> {
        for (i, raw) in self.lines.by_ref() {
            let t = raw.trim();
            if t.is_empty() || (self.in_leading_comments && t.starts_with("//")) {
                continue;
            }
            self.in_leading_comments = false;
            return Some(Line {
                number: i + 1,
                text: raw,
            });
        }
        None
    }

    /// Whether `line` is the last line of the text.
    fn is_last_line(&self, line: &Line) -> bool {
        line.number == self.text.lines().count()
    }

    /// The next data line, or an error saying the file ended where `what` was
    /// expected.
    fn next(&mut self, what: impl FnOnce() -> String) -> Result<Line<'a>> {
        self.next_line().ok_or_else(|| {
            let line = self.text.lines().count() + 1;
            Error::malformed(format!(
                "the file ends early: expected {} on line {line}",
                what()
            ))
            .at(Location::Line(line))
            .with_hint("the file looks truncated")
        })
    }
}

/// Parses a line of exactly `expected` reals; `what` names them ("input
/// minimums").
/// Returns the values' text as written.
fn real_line(rd: &mut Reader, expected: usize, what: &str) -> Result<Vec<String>> {
    let line = rd.next(|| format!("the {what} ({expected} values)"))?;
    let tokens = line.tokens()?;
    for tok in &tokens {
        parse_real(&line, tok)?;
    }
    if tokens.len() != expected {
        return Err(Error::invalid(format!(
            "expected {expected} {what}, found {}",
            tokens.len()
        ))
        .at(line.at())
        .with_hint(header_hint()));
    }
    Ok(tokens.iter().map(|t| t.text.to_string()).collect())
}

fn header_hint() -> &'static str {
    "after the layer sizes come the symmetric flag, then one line each of inputSize minimums, \
     inputSize maximums, inputSize + 1 means and inputSize + 1 ranges"
}

fn parse_named(text: &str, name: &str) -> Result<Graph> {
    let mut rd = Reader::new(text);

    // Line 1: numLayers, inputSize, outputSize, maxLayerSize.
    let line = rd.next(|| "the header `numLayers, inputSize, outputSize, maxLayerSize,`".into())?;
    let tokens = line.tokens()?;
    const FIELDS: [&str; 4] = ["numLayers", "inputSize", "outputSize", "maxLayerSize"];
    let mut header = [0usize; 4];
    for (i, tok) in tokens.iter().enumerate().take(4) {
        header[i] = parse_count(&line, tok, FIELDS[i])?;
    }
    if tokens.len() != 4 {
        return Err(Error::invalid(format!(
            "expected 4 values (numLayers, inputSize, outputSize, maxLayerSize), found {}",
            tokens.len()
        ))
        .at(line.at())
        .with_hint("comment lines before the header must start with //"));
    }
    let [num_layers, input_size, output_size, max_layer_size] = header;
    for (i, value) in header.iter().enumerate().take(3) {
        if *value == 0 {
            return Err(Error::invalid(format!("{} must be at least 1", FIELDS[i]))
                .at(line.col_at(tokens[i].offset)));
        }
    }
    let header_line = line;
    let max_layer_offset = tokens[3].offset;

    // Line 2: the layer sizes, input first.
    let line = rd.next(|| format!("the {} layer sizes", num_layers.saturating_add(1)))?;
    let tokens = line.tokens()?;
    let mut sizes = Vec::with_capacity(tokens.len());
    for tok in &tokens {
        let size = parse_count(&line, tok, "a layer size")?;
        if size == 0 {
            return Err(
                Error::invalid("a layer size must be at least 1").at(line.col_at(tok.offset))
            );
        }
        sizes.push(size);
    }
    if sizes.len() != num_layers.saturating_add(1) {
        return Err(Error::invalid(format!(
            "expected {} layer sizes (numLayers + 1, with numLayers = {num_layers} on line {}), found {}",
            num_layers.saturating_add(1),
            header_line.number,
            sizes.len()
        ))
        .at(line.at())
        .with_hint("the sizes line lists the input size, then the size of every layer"));
    }
    if sizes[0] != input_size {
        return Err(Error::invalid(format!(
            "the first layer size is {}, but inputSize on line {} is {input_size}",
            sizes[0], header_line.number
        ))
        .at(line.col_at(tokens[0].offset)));
    }
    let last = sizes.len() - 1;
    if sizes[last] != output_size {
        return Err(Error::invalid(format!(
            "the last layer size is {}, but outputSize on line {} is {output_size}",
            sizes[last], header_line.number
        ))
        .at(line.col_at(tokens[last].offset)));
    }
    let largest = sizes.iter().copied().max().unwrap_or(0);
    if max_layer_size < largest {
        return Err(Error::invalid(format!(
            "maxLayerSize is {max_layer_size}, but a layer on line {} has {largest} neurons",
            line.number
        ))
        .at(header_line.col_at(max_layer_offset)));
    }
    let mut params: usize = 0;
    for w in sizes.windows(2) {
        params = w[0]
            .checked_mul(w[1])
            .and_then(|n| n.checked_add(w[1]))
            .and_then(|n| n.checked_add(params))
            .unwrap_or(usize::MAX);
    }
    if params > MAX_PARAMS {
        return Err(Error::unsupported(format!(
            "the layer sizes declare {} parameters; Axiom's NNet reader accepts at most {MAX_PARAMS}",
            if params == usize::MAX {
                "more than 2^64".to_string()
            } else {
                params.to_string()
            }
        ))
        .at(line.at()));
    }

    // Line 3: the legacy symmetric flag, ignored.
    rd.next(|| "the symmetric flag (a line holding 0 or 1)".into())?;

    // Lines 4-7: normalisation constants.
    let min_text = real_line(&mut rd, input_size, "input minimums")?;
    let max_text = real_line(&mut rd, input_size, "input maximums")?;
    let mean_text = real_line(
        &mut rd,
        input_size + 1,
        "means (one per input, then the output's)",
    )?;
    let range_text = real_line(
        &mut rd,
        input_size + 1,
        "ranges (one per input, then the output's)",
    )?;

    let mut b = GraphBuilder::new(name, "input", vec![input_size]);
    let mut value = b.input();
    for k in 1..sizes.len() {
        let (inputs, outputs) = (sizes[k - 1], sizes[k]);
        let layout_hint = || {
            format!(
                "layer {k} maps {inputs} inputs to {outputs} outputs (layer sizes on line {}): \
                 {outputs} lines of {inputs} comma-separated weights, then {outputs} lines of one bias each",
                line.number
            )
        };
        let mut weights = Vec::with_capacity(inputs * outputs);
        for row in 1..=outputs {
            let l = rd.next(|| format!("row {row} of layer {k}'s weights ({inputs} values)"))?;
            let tokens = l.tokens()?;
            if tokens.len() != inputs {
                let hint = if tokens.len() < inputs && rd.is_last_line(&l) {
                    format!(
                        "this is the file's last line: the file looks truncated. {}",
                        layout_hint()
                    )
                } else if tokens.len() == 1 && inputs > 1 {
                    format!(
                        "this line holds a single value, like a bias line: is a weight row missing above it? {}",
                        layout_hint()
                    )
                } else {
                    layout_hint()
                };
                return Err(Error::invalid(format!(
                    "expected {inputs} weights in row {row} of layer {k}, found {}",
                    tokens.len()
                ))
                .at(l.at())
                .with_hint(hint));
            }
            for tok in &tokens {
                weights.push(parse_param(&l, tok)?);
            }
        }
        let mut bias = Vec::with_capacity(outputs);
        for row in 1..=outputs {
            let l = rd.next(|| format!("the bias of output {row} of layer {k} (one value)"))?;
            let tokens = l.tokens()?;
            if tokens.len() != 1 {
                let hint = if tokens.len() == inputs {
                    format!(
                        "this line looks like a row of weights: is a bias line missing, or a weight row too many? {}",
                        layout_hint()
                    )
                } else {
                    layout_hint()
                };
                return Err(Error::invalid(format!(
                    "expected 1 bias value for output {row} of layer {k}, found {}",
                    tokens.len()
                ))
                .at(l.at())
                .with_hint(hint));
            }
            bias.push(parse_param(&l, &tokens[0])?);
        }
        let weight = Array2::from_shape_vec((outputs, inputs), weights).map_err(|e| {
            Error::invalid(format!("layer {k}: {e}")).at(Location::Line(line.number))
        })?;
        value = b.push(
            format!("layer{k}"),
            Op::Gemm {
                weight,
                bias: Some(Array1::from_vec(bias)),
            },
            value,
        );
        if k + 1 < sizes.len() {
            value = b.push(format!("relu{k}"), Op::Relu, value);
        }
    }

    if let Some(extra) = rd.next_line() {
        let tokens = extra.tokens()?;
        for tok in &tokens {
            parse_real(&extra, tok)?;
        }
        return Err(Error::invalid(format!(
            "unexpected values after the last layer's biases (numLayers = {num_layers})"
        ))
        .at(extra.at())
        .with_hint(format!(
            "the file has more lines than its layer sizes call for: check the sizes on line {}",
            line.number
        )));
    }

    let input_count = input_size;
    b.metadata("source.format", "nnet")
        .metadata(KEY_INPUT_MIN, min_text.join(","))
        .metadata(KEY_INPUT_MAX, max_text.join(","))
        .metadata(KEY_INPUT_MEAN, mean_text[..input_count].join(","))
        .metadata(KEY_INPUT_RANGE, range_text[..input_count].join(","))
        .metadata(KEY_OUTPUT_MEAN, mean_text[input_count].clone())
        .metadata(KEY_OUTPUT_RANGE, range_text[input_count].clone());
    b.finish(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use ndarray::{arr1, arr2};
    use proptest::prelude::*;
    use std::path::PathBuf;

    /// 3 inputs -> 2 hidden (ReLU) -> 2 outputs.
    const SMALL: &str = "\
// a small test network
// second comment line
2,3,2,3,
3,2,2,
0,
-1.0,-2.0,-3.0,
1.0,2.0,3.0,
0.5,0.0,-0.5,7.25,
2.0,4.0,6.0,10.0,
0.1,-0.2,0.3,
1e-1,2.5e+00,-3,
0.5,
-0.75,
1.0,-1.0,
0.125,0.25,
1.5,
-2.5,
";
    // Line numbers in SMALL: 3 header, 4 sizes, 5 symmetric, 6-9 constants,
    // 10-11 layer 1 rows, 12-13 layer 1 biases, 14-15 layer 2 rows, 16-17 biases.

    fn without_line(text: &str, line: usize) -> String {
        text.lines()
            .enumerate()
            .filter(|(i, _)| i + 1 != line)
            .map(|(_, l)| format!("{l}\n"))
            .collect()
    }

    fn replace_line(text: &str, line: usize, with: &str) -> String {
        text.lines()
            .enumerate()
            .map(|(i, l)| format!("{}\n", if i + 1 == line { with } else { l }))
            .collect()
    }

    fn gemm(g: &Graph, i: usize) -> (&Array2<f32>, &Array1<f32>) {
        match &g.nodes[i].op {
            Op::Gemm {
                weight,
                bias: Some(bias),
            } => (weight, bias),
            other => panic!("node {i} is {other:?}"),
        }
    }

    #[test]
    fn parses_weights_biases_shapes_and_metadata() {
        let g = parse(SMALL).unwrap();
        assert_eq!(g.name, "nnet");
        assert_eq!(g.input.name, "input");
        assert_eq!(g.input_shape(), &[3]);
        assert_eq!(g.output_shape().unwrap(), vec![2]);
        let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["layer1", "relu1", "layer2"]);
        assert_eq!(g.nodes[1].op, Op::Relu);
        let (w1, b1) = gemm(&g, 0);
        assert_eq!(w1, arr2(&[[0.1f64 as f32, -0.2, 0.3], [0.1, 2.5, -3.0]]));
        assert_eq!(b1, arr1(&[0.5, -0.75]));
        let (w2, b2) = gemm(&g, 2);
        assert_eq!(w2, arr2(&[[1.0, -1.0], [0.125, 0.25]]));
        assert_eq!(b2, arr1(&[1.5, -2.5]));
        assert_eq!(g.param_count(), 6 + 2 + 4 + 2);

        let m = &g.metadata;
        assert_eq!(m["source.format"], "nnet");
        assert_eq!(m["nnet.input_min"], "-1.0,-2.0,-3.0");
        assert_eq!(m["nnet.input_max"], "1.0,2.0,3.0");
        assert_eq!(m["nnet.input_mean"], "0.5,0.0,-0.5");
        assert_eq!(m["nnet.input_range"], "2.0,4.0,6.0");
        assert_eq!(m["nnet.output_mean"], "7.25");
        assert_eq!(m["nnet.output_range"], "10.0");
    }

    #[test]
    fn values_are_rounded_from_f64_to_nearest_f32() {
        let text = replace_line(
            SMALL,
            10,
            "0.1000000000000000055511151231257827,1,16777217,",
        );
        let g = parse(&text).unwrap();
        let (w1, _) = gemm(&g, 0);
        assert_eq!(w1[[0, 0]], 0.1f32);
        assert_eq!(w1[[0, 2]], 16777216.0f32); // ties to even
    }

    #[test]
    fn normalization_round_trips_through_metadata() {
        let g = parse(SMALL).unwrap();
        let n = NnetNormalization::from_metadata(&g.metadata).unwrap();
        assert_eq!(n.input_mean, vec![0.5, 0.0, -0.5]);
        assert_eq!(n.output_range, 10.0);
        // clip 5.0 to 1.0 -> (1 - 0.5) / 2; -1 -> (-1 - 0) / 4; -9 clipped to -3 -> (-3 + 0.5) / 6
        assert_eq!(
            n.normalize_input(&[5.0, -1.0, -9.0]),
            vec![0.25, -0.25, -2.5 / 6.0]
        );
        assert_eq!(n.denormalize_output(0.5), 12.25);
        assert_eq!(n.normalize_input(&[0.5, 0.0, -0.5]), vec![0.0, 0.0, 0.0]);

        let mut m = g.metadata.clone();
        m.remove("nnet.output_mean");
        assert_eq!(NnetNormalization::from_metadata(&m), None);
        let mut m = g.metadata.clone();
        m.insert("nnet.input_max".into(), "1,2".into());
        assert_eq!(NnetNormalization::from_metadata(&m), None);
    }

    #[test]
    fn inverted_min_max_does_not_panic() {
        let n = NnetNormalization {
            input_min: vec![1.0],
            input_max: vec![-1.0],
            input_mean: vec![0.0],
            input_range: vec![1.0],
            output_mean: 0.0,
            output_range: 1.0,
        };
        let _ = n.normalize_input(&[0.0, 3.0]);
    }

    #[test]
    fn missing_weight_row_names_the_line() {
        // Delete row 2 of layer 1 (line 11): line 12 (first bias, now line 11)
        // is read as row 2.
        let err = parse(&without_line(SMALL, 11)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid);
        assert_eq!(err.location, Some(Location::Line(11)), "{err}");
        assert_eq!(
            err.message,
            "expected 3 weights in row 2 of layer 1, found 1"
        );
        assert!(
            err.hint.as_deref().unwrap().contains("weight row missing"),
            "{err}"
        );
    }

    #[test]
    fn file_ending_early_names_the_expected_line() {
        let text: String = SMALL.lines().take(15).map(|l| format!("{l}\n")).collect();
        let err = parse(&text).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);
        assert_eq!(err.location, Some(Location::Line(16)));
        assert!(err.message.contains("bias of output 1 of layer 2"), "{err}");

        let cut = SMALL.find("0.125,").unwrap() + 3;
        let err = parse(&SMALL[..cut]).unwrap_err();
        assert_eq!(err.location, Some(Location::Line(15)));
        assert!(err.hint.as_deref().unwrap().contains("truncated"), "{err}");

        let text: String = SMALL.lines().take(10).map(|l| format!("{l}\n")).collect();
        let err = parse(&text).unwrap_err();
        assert_eq!(err.location, Some(Location::Line(11)));
        assert!(
            err.message
                .contains("row 2 of layer 1's weights (3 values)"),
            "{err}"
        );
    }

    #[test]
    fn short_row_is_invalid() {
        let err = parse(&replace_line(SMALL, 14, "1.0,")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid);
        assert_eq!(err.location, Some(Location::Line(14)));
        assert_eq!(
            err.message,
            "expected 2 weights in row 1 of layer 2, found 1"
        );
        let err = parse(&replace_line(SMALL, 10, "1,2,3,4")).unwrap_err();
        assert_eq!(
            err.message,
            "expected 3 weights in row 1 of layer 1, found 4"
        );
        assert!(
            err.to_string()
                .contains("hint: layer 1 maps 3 inputs to 2 outputs"),
            "{err}"
        );
    }

    #[test]
    fn non_number_names_line_and_column() {
        let err = parse(&replace_line(SMALL, 15, "0.125, 0.2x5,")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);
        assert_eq!(err.location, Some(Location::LineCol { line: 15, col: 8 }));
        assert_eq!(err.message, "expected a number, found '0.2x5'");

        let err = parse(&replace_line(SMALL, 16, "nan,")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid);
        assert_eq!(err.location, Some(Location::LineCol { line: 16, col: 1 }));

        let err = parse(&replace_line(SMALL, 16, "1e300,")).unwrap_err();
        assert!(err.message.contains("float32 range"), "{err}");

        let err = parse(&replace_line(SMALL, 10, "1,,2")).unwrap_err();
        assert_eq!(err.location, Some(Location::LineCol { line: 10, col: 3 }));
    }

    #[test]
    fn truncated_header_is_reported() {
        for keep in 0..9 {
            let text: String = SMALL.lines().take(keep).map(|l| format!("{l}\n")).collect();
            let err = parse(&text).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Malformed, "{keep}: {err}");
            assert_eq!(
                err.location,
                Some(Location::Line(keep + 1)),
                "{keep}: {err}"
            );
            assert!(err.message.starts_with("the file ends early"), "{err}");
        }
        let err = parse("").unwrap_err();
        assert!(err.message.contains("numLayers"), "{err}");
    }

    #[test]
    fn inconsistent_header_counts_are_invalid() {
        let cases: [(usize, &str, &str, Location); 9] = [
            (4, "3,2,", "expected 3 layer sizes", Location::Line(4)),
            (
                4,
                "4,2,2,",
                "first layer size is 4",
                Location::LineCol { line: 4, col: 1 },
            ),
            (
                4,
                "3,2,3,",
                "last layer size is 3",
                Location::LineCol { line: 4, col: 5 },
            ),
            (3, "2,3,2,", "expected 4 values", Location::Line(3)),
            (
                3,
                "0,3,2,3,",
                "numLayers must be at least 1",
                Location::LineCol { line: 3, col: 1 },
            ),
            (
                4,
                "3,0,2,",
                "layer size must be at least 1",
                Location::LineCol { line: 4, col: 3 },
            ),
            (
                3,
                "2,3,2,1,",
                "maxLayerSize is 1",
                Location::LineCol { line: 3, col: 7 },
            ),
            (
                6,
                "-1.0,-2.0,",
                "expected 3 input minimums, found 2",
                Location::Line(6),
            ),
            (8, "0.5,0.0,-0.5,", "expected 4 means", Location::Line(8)),
        ];
        for (line, with, message, location) in cases {
            let err = parse(&replace_line(SMALL, line, with)).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
            assert!(err.message.contains(message), "{message}: {err}");
            assert_eq!(err.location, Some(location), "{err}");
        }
        let err = parse(&replace_line(SMALL, 3, "2,3,2,x,")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);
        assert_eq!(err.location, Some(Location::LineCol { line: 3, col: 7 }));
    }

    #[test]
    fn absurd_sizes_are_rejected_without_allocating() {
        let text = replace_line(SMALL, 4, "3,10000000,2,");
        let text = replace_line(&text, 3, "2,3,2,10000000,");
        let err = parse(&text).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsupported);
        assert_eq!(err.location, Some(Location::Line(4)));

        let text = replace_line(SMALL, 4, "3,18446744073709551615,2,");
        let text = replace_line(&text, 3, "2,3,2,18446744073709551615,");
        let err = parse(&text).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsupported);

        let err = parse(&replace_line(SMALL, 3, "18446744073709551615,3,2,3,")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid);
        let err = parse(&replace_line(SMALL, 3, "99999999999999999999999,3,2,3,")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);
    }

    #[test]
    fn trailing_values_are_invalid() {
        let err = parse(&format!("{SMALL}0.5,\n")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid);
        assert_eq!(err.location, Some(Location::Line(18)));
        let err = parse(&format!("{SMALL}\n\n// done\n")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);
        assert_eq!(err.location, Some(Location::LineCol { line: 20, col: 1 }));
        // Blank lines and CRLF line ends are fine.
        assert!(parse(&format!("{SMALL}\n  \n")).is_ok());
        assert_eq!(
            parse(&SMALL.replace('\n', "\r\n")).unwrap(),
            parse(SMALL).unwrap()
        );
    }

    #[test]
    fn load_names_the_graph_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny_net.nnet");
        std::fs::write(&path, SMALL).unwrap();
        let g = load(&path).unwrap();
        assert_eq!(g.name, "tiny_net");

        std::fs::write(&path, without_line(SMALL, 11)).unwrap();
        let err = load(&path).unwrap_err();
        assert_eq!(err.file.as_deref(), Some(path.as_path()));
        assert!(
            err.to_string()
                .starts_with(&format!("{}: line 11: ", path.display())),
            "{err}"
        );

        std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        let err = load(&path).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);

        let err = load(&dir.path().join("missing.nnet")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Io);
    }

    fn mutate(text: &str, ops: &[(u8, usize, char)]) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for &(op, at, c) in ops {
            if lines.is_empty() {
                break;
            }
            let i = at % lines.len();
            match op % 5 {
                0 => {
                    lines.remove(i);
                }
                1 => {
                    let dup = lines[i].clone();
                    lines.insert(i, dup);
                }
                2 => {
                    let l = &mut lines[i];
                    let cut = l
                        .char_indices()
                        .nth(at % (l.len() + 1))
                        .map_or(l.len(), |x| x.0);
                    l.truncate(cut);
                }
                3 => {
                    let l = &mut lines[i];
                    let pos = l
                        .char_indices()
                        .nth(at % (l.len() + 1))
                        .map_or(l.len(), |x| x.0);
                    l.insert(pos, c);
                }
                _ => lines.truncate(i),
            }
        }
        lines.join("\n")
    }

    proptest! {
        #[test]
        fn mutations_never_panic(ops in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<char>()), 1..6)) {
            let text = mutate(SMALL, &ops);
            if let Err(e) = parse(&text) {
                prop_assert!(
                    matches!(e.location, Some(Location::Line(_)) | Some(Location::LineCol { .. })),
                    "no line in {e}"
                );
            }
        }

        #[test]
        fn numeric_mutations_never_panic(ops in proptest::collection::vec((any::<u8>(), any::<usize>(), prop::sample::select(vec!['0', '9', ',', '-', '.', 'e', ' ', '\n'])), 1..8)) {
            let _ = parse(&mutate(SMALL, &ops));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text);
        }
    }

    fn benchmarks_dir() -> PathBuf {
        std::env::var_os("AXIOM_BENCHMARKS").map_or_else(
            || {
                PathBuf::from(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../shared/benchmarks"
                ))
            },
            PathBuf::from,
        )
    }

    const ACAS_NNET: [&str; 3] = ["1_1", "2_7", "5_9"];

    #[test]
    fn loads_the_acasxu_nnet_files() {
        let dir = benchmarks_dir().join("acasxu-nnet");
        if !dir.is_dir() {
            eprintln!(
                "skipping: {} not found (set AXIOM_BENCHMARKS)",
                dir.display()
            );
            return;
        }
        for id in ACAS_NNET {
            let path = dir.join(format!("ACASXU_experimental_v2a_{id}.nnet"));
            let g = load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(g.name, format!("ACASXU_experimental_v2a_{id}"));
            assert_eq!(g.input_shape(), &[5]);
            assert_eq!(g.output_shape().unwrap(), vec![5]);
            let gemms: Vec<_> = g.nodes.iter().filter(|n| n.op.kind() == "Gemm").collect();
            assert_eq!(gemms.len(), 7);
            let shapes = g.infer_shapes().unwrap();
            let relus: Vec<_> = g
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.op == Op::Relu)
                .map(|(i, _)| shapes[i + 1].clone())
                .collect();
            assert_eq!(relus, vec![vec![50]; 6]);
            assert_eq!(
                g.param_count(),
                5 * 50 + 50 + 5 * (50 * 50 + 50) + 50 * 5 + 5
            );
            assert!(matches!(
                g.nodes.last().map(|n| &n.op),
                Some(Op::Gemm { .. })
            ));
            assert_eq!(g.metadata["source.format"], "nnet");
            let norm = NnetNormalization::from_metadata(&g.metadata).unwrap();
            assert_eq!(norm.input_min.len(), 5);
            let zeros = norm.normalize_input(&norm.input_mean);
            assert_eq!(zeros, vec![0.0; 5]);
        }
    }

    /// The NNet networks compute what onnxruntime computes on the ONNX twins.
    #[test]
    fn acasxu_nnet_matches_onnxruntime_reference_outputs() {
        let root = benchmarks_dir();
        let reference = root.join("acasxu/reference_outputs.json");
        if !root.join("acasxu-nnet").is_dir() || !reference.is_file() {
            eprintln!(
                "skipping: benchmarks not found under {} (set AXIOM_BENCHMARKS)",
                root.display()
            );
            return;
        }
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&reference).unwrap()).unwrap();
        for id in ACAS_NNET {
            let g =
                load(&root.join(format!("acasxu-nnet/ACASXU_experimental_v2a_{id}.nnet"))).unwrap();
            let case = &json["cases"][format!("ACASXU_run2a_{id}_batch_2000.onnx")];
            let inputs = case["inputs"].as_array().unwrap();
            let outputs = case["outputs"].as_array().unwrap();
            assert!(!inputs.is_empty());
            for (x, y) in inputs.iter().zip(outputs) {
                let mut v: Vec<f64> = x
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_f64().unwrap())
                    .collect();
                for node in &g.nodes {
                    v = match &node.op {
                        Op::Gemm { weight, bias } => weight
                            .rows()
                            .into_iter()
                            .enumerate()
                            .map(|(o, row)| {
                                let b = bias.as_ref().map_or(0.0, |b| f64::from(b[o]));
                                row.iter()
                                    .zip(&v)
                                    .map(|(w, x)| f64::from(*w) * x)
                                    .sum::<f64>()
                                    + b
                            })
                            .collect(),
                        Op::Relu => v.iter().map(|a| a.max(0.0)).collect(),
                        other => panic!("unexpected op {other:?}"),
                    };
                }
                for (got, want) in v.iter().zip(y.as_array().unwrap()) {
                    let want = want.as_f64().unwrap();
                    assert!((got - want).abs() < 1e-5, "{id}: {got} vs {want}");
                }
            }
        }
    }
}
