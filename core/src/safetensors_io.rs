//! Weights by name: reading and writing [safetensors] files.
//!
//! A safetensors file is an 8-byte little-endian header length, a JSON header
//! (each tensor's dtype, shape and byte range, plus optional string metadata)
//! and the raw little-endian tensor data.
//!
//! Axiom's weights are float32, so every tensor is read as an
//! [`ArrayD<f32>`]: `F32` as is, `F16` and `BF16` converted exactly (every
//! half-precision value is exactly a float32), and `F64` only when every value
//! is exactly a float32 — Axiom never rounds a weight silently. Other dtypes
//! are refused. [`save`] writes `F32` only.
//!
//! [safetensors]: https://huggingface.co/docs/safetensors

use ndarray::{ArrayD, IxDyn};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use crate::error::{Error, ErrorKind, Location, Result};

/// The tensors and metadata of a safetensors file, every tensor as float32.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeightFile {
    tensors: BTreeMap<String, ArrayD<f32>>,
    metadata: BTreeMap<String, String>,
}

impl WeightFile {
    /// The tensor called `name`, or an error naming it with the closest
    /// names in the file as a hint.
    ///
    /// ```
    /// use axiom_core::safetensors_io::{parse, to_bytes};
    /// use ndarray::ArrayD;
    /// use std::collections::BTreeMap;
    ///
    /// let mut tensors = BTreeMap::new();
    /// tensors.insert("fc1.weight".to_string(), ArrayD::<f32>::zeros(vec![2, 3]));
    /// let file = parse(&to_bytes(&tensors, &BTreeMap::new()).unwrap()).unwrap();
    /// assert_eq!(file.get("fc1.weight").unwrap().shape(), &[2, 3]);
    /// let err = file.get("fc1.weights").unwrap_err();
    /// assert_eq!(err.hint.as_deref(), Some("did you mean 'fc1.weight'?"));
    /// ```
    pub fn get(&self, name: &str) -> Result<&ArrayD<f32>> {
        self.tensors.get(name).ok_or_else(|| {
            Error::invalid(format!("no tensor named '{name}' in the file"))
                .at(Location::Tensor(name.to_string()))
                .with_hint(did_you_mean(name, self.names()))
        })
    }

    /// The tensor names, in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.tensors.keys().map(String::as_str)
    }

    /// Every tensor, by name.
    pub fn tensors(&self) -> &BTreeMap<String, ArrayD<f32>> {
        &self.tensors
    }

    /// The file's free-form string metadata (the header's `__metadata__`).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the file holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }
}

/// Reads a safetensors file; every error carries `path`.
pub fn load(path: &Path) -> Result<WeightFile> {
    let bytes = crate::read_file(path).map_err(|e| Error::io(path, &e))?;
    parse(&bytes).map_err(|e| e.in_file(path))
}

const FORMAT_HINT: &str =
    "is this a safetensors file? One starts with an 8-byte little-endian header length, then a JSON header";

/// Parses the bytes of a safetensors file.
///
/// Malformed bytes give an [`ErrorKind::Malformed`] error, never a panic.
///
/// ```
/// use axiom_core::{safetensors_io, ErrorKind};
/// use ndarray::{arr1, ArrayD};
/// use std::collections::BTreeMap;
///
/// let mut tensors = BTreeMap::new();
/// tensors.insert("bias".to_string(), arr1(&[0.5f32, -1.0]).into_dyn());
/// let bytes = safetensors_io::to_bytes(&tensors, &BTreeMap::new()).unwrap();
///
/// let file = safetensors_io::parse(&bytes).unwrap();
/// assert_eq!(file.get("bias").unwrap(), &tensors["bias"]);
///
/// let err = safetensors_io::parse(&bytes[..bytes.len() - 1]).unwrap_err();
/// assert_eq!(err.kind, ErrorKind::Malformed);
/// ```
pub fn parse(bytes: &[u8]) -> Result<WeightFile> {
    // The safetensors crate validates the header, but with offsets near
    // usize::MAX its final size check can overflow (a panic in debug builds, a
    // wrong slice in release ones; upstream safetensors/safetensors#808); a
    // panic there is a malformed file too.
    std::panic::catch_unwind(|| decode(bytes)).unwrap_or_else(|_| {
        Err(
            Error::malformed("the header declares tensor data larger than any file")
                .at(Location::Byte(8))
                .with_hint(FORMAT_HINT),
        )
    })
}

fn decode(bytes: &[u8]) -> Result<WeightFile> {
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| header_error(e, bytes))?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| header_error(e, bytes))?;
    let metadata = header
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut tensors = BTreeMap::new();
    for (name, view) in st.iter() {
        let values = to_f32(name, view.dtype(), view.data())?;
        let array = ArrayD::from_shape_vec(IxDyn(view.shape()), values).map_err(|e| {
            Error::malformed(format!(
                "shape {:?} does not fit its data: {e}",
                view.shape()
            ))
            .at(Location::Tensor(name.to_string()))
        })?;
        tensors.insert(name.to_string(), array);
    }
    Ok(WeightFile { tensors, metadata })
}

/// A Malformed error for what the safetensors crate found wrong in the header.
fn header_error(e: SafeTensorError, bytes: &[u8]) -> Error {
    let header_len = bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes);
    let err = match e {
        SafeTensorError::HeaderTooSmall => Error::malformed(format!(
            "the file has {} bytes, fewer than the 8-byte header length",
            bytes.len()
        ))
        .at(Location::Byte(0)),
        SafeTensorError::HeaderTooLarge => Error::malformed(format!(
            "the header length {} is over the 100 MB limit",
            header_len.unwrap_or(0)
        ))
        .at(Location::Byte(0)),
        SafeTensorError::InvalidHeaderLength => {
            return Error::malformed(format!(
                "the header length {} runs past the end of the file ({} bytes)",
                header_len.unwrap_or(0),
                bytes.len()
            ))
            .at(Location::Byte(0))
            .with_hint("the file looks truncated, or is not a safetensors file")
        }
        SafeTensorError::InvalidHeader(utf8) => {
            Error::malformed(format!("the header is not UTF-8 text: {utf8}"))
                .at(Location::Byte(8 + utf8.valid_up_to() as u64))
        }
        SafeTensorError::InvalidHeaderDeserialization(json) => Error::malformed(format!(
            "the header is not a valid safetensors header: {json}"
        ))
        .at(Location::Byte(8)),
        SafeTensorError::MetadataIncompleteBuffer => {
            return Error::malformed(format!(
                "the file's size ({} bytes) does not match the tensor data its header declares",
                bytes.len()
            ))
            .with_hint("the file looks truncated, or has bytes appended")
        }
        SafeTensorError::InvalidOffset(name) => {
            Error::malformed("its data offsets do not follow the previous tensor's")
                .at(Location::Tensor(name))
        }
        SafeTensorError::TensorInvalidInfo => {
            Error::malformed("a tensor's byte range does not match its shape and dtype")
        }
        SafeTensorError::ValidationOverflow => {
            Error::malformed("a tensor's shape is too large to address")
        }
        other => Error::malformed(format!("not a valid safetensors file: {other}")),
    };
    err.with_hint(FORMAT_HINT)
}

/// Decodes little-endian tensor data of `dtype` into float32 values.
fn to_f32(name: &str, dtype: Dtype, data: &[u8]) -> Result<Vec<f32>> {
    let at = || Location::Tensor(name.to_string());
    Ok(match dtype {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|c| bf16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::F64 => {
            let mut out = Vec::with_capacity(data.len() / 8);
            for (i, c) in data.chunks_exact(8).enumerate() {
                let v = f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
                let r = v as f32;
                if f64::from(r) != v && !v.is_nan() {
                    return Err(Error::unsupported(format!(
                        "f64 value {v} (element {i}) is not exactly a float32; Axiom's weights are float32"
                    ))
                    .at(at())
                    .with_hint(
                        "round the tensor to float32 before saving it (numpy: .astype(numpy.float32)), \
                         so that the rounding is your decision",
                    ));
                }
                out.push(r);
            }
            out
        }
        other => {
            return Err(
                Error::unsupported(format!("tensors of dtype {other} are not supported"))
                    .at(at())
                    .with_hint("Axiom reads F32, F16, BF16, and F64 holding float32 values"),
            )
        }
    })
}

/// The float32 equal to an IEEE binary16 value given by its bits (exact:
/// every binary16 value, NaN payloads included, is a float32).
pub fn f16_to_f32(bits: u16) -> f32 {
    let negative = bits & 0x8000 != 0;
    let exp = u32::from((bits >> 10) & 0x1f);
    let mant = u32::from(bits & 0x3ff);
    let magnitude = match exp {
        // Zero or subnormal: mant * 2^-24, a normal float32 (or zero).
        0 => mant as f32 * f32::from_bits(0x3380_0000),
        // Infinity or NaN.
        0x1f => f32::from_bits(0x7f80_0000 | (mant << 13)),
        // Normal: rebias the exponent (15 -> 127), widen the mantissa.
        _ => f32::from_bits(((exp + 127 - 15) << 23) | (mant << 13)),
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// The float32 equal to a bfloat16 value given by its bits (the top half of a
/// float32, so exact).
pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// Serialises float32 tensors and string metadata to safetensors bytes.
///
/// The name `__metadata__` is reserved by the format and refused.
pub fn to_bytes(
    tensors: &BTreeMap<String, ArrayD<f32>>,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut buffers = Vec::with_capacity(tensors.len());
    for (name, array) in tensors {
        if name == "__metadata__" {
            return Err(Error::invalid("the tensor name '__metadata__' is reserved")
                .at(Location::Tensor(name.clone()))
                .with_hint(
                    "safetensors keeps the file's metadata under that name; rename the tensor",
                ));
        }
        // `iter` walks in logical (row-major) order whatever the memory layout.
        let data: Vec<u8> = array.iter().flat_map(|v| v.to_le_bytes()).collect();
        buffers.push((name.as_str(), array.shape().to_vec(), data));
    }
    let mut views = Vec::with_capacity(buffers.len());
    for (name, shape, data) in &buffers {
        let view = TensorView::new(Dtype::F32, shape.clone(), data).map_err(|e| {
            Error::invalid(format!("cannot store the tensor: {e}"))
                .at(Location::Tensor(name.to_string()))
        })?;
        views.push((*name, view));
    }
    let metadata: Option<HashMap<String, String>> = (!metadata.is_empty()).then(|| {
        metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    });
    safetensors::serialize(views, metadata)
        .map_err(|e| Error::invalid(format!("cannot serialise the tensors: {e}")))
}

/// Writes float32 tensors and string metadata to a new safetensors file.
///
/// Refuses to overwrite an existing file. The bytes go to a temporary file in
/// the same directory first, which then takes the final name, so a reader
/// never sees a half-written file.
///
/// ```
/// use axiom_core::safetensors_io;
/// use ndarray::ArrayD;
/// use std::collections::BTreeMap;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("weights.safetensors");
/// let mut tensors = BTreeMap::new();
/// tensors.insert("w".to_string(), ArrayD::<f32>::ones(vec![2, 2]));
/// let metadata = BTreeMap::from([("source".to_string(), "example".to_string())]);
///
/// safetensors_io::save(&path, &tensors, &metadata).unwrap();
/// assert_eq!(safetensors_io::load(&path).unwrap().metadata(), &metadata);
/// assert!(safetensors_io::save(&path, &tensors, &metadata).is_err()); // no overwrite
/// ```
pub fn save(
    path: &Path,
    tensors: &BTreeMap<String, ArrayD<f32>>,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let bytes = to_bytes(tensors, metadata).map_err(|e| e.in_file(path))?;
    write_new(path, &bytes)
}

/// Writes `bytes` to `path`, which must not exist, through a temporary file.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);

    let exists = || {
        Error::invalid("refusing to overwrite an existing file")
            .in_file(path)
            .with_hint("choose a new path, or remove the file first")
    };
    let io =
        |e: std::io::Error| Error::new(ErrorKind::Io, format!("cannot write: {e}")).in_file(path);
    if path.symlink_metadata().is_ok() {
        return Err(exists());
    }
    let file_name = path.file_name().ok_or_else(|| {
        Error::invalid("not a file path")
            .in_file(path)
            .with_hint("give a path that ends in a file name")
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));

    let (tmp, mut file) = loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(
            ".{}.{}.{n}.tmp",
            file_name.to_string_lossy(),
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(file) => break (tmp, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < u64::MAX => continue,
            Err(e) => return Err(io(e)),
        }
    };
    let cleanup = |tmp: &Path| {
        let _ = std::fs::remove_file(tmp);
    };
    if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        drop(file);
        cleanup(&tmp);
        return Err(io(e));
    }
    drop(file);
    // A hard link fails if `path` exists, so no file is ever overwritten even
    // if one appeared since the check above.
    match std::fs::hard_link(&tmp, path) {
        Ok(()) => {
            cleanup(&tmp);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            cleanup(&tmp);
            Err(exists())
        }
        Err(_) => {
            // A file system without hard links: rename instead.
            if path.symlink_metadata().is_ok() {
                cleanup(&tmp);
                return Err(exists());
            }
            std::fs::rename(&tmp, path).map_err(|e| {
                cleanup(&tmp);
                io(e)
            })
        }
    }
}

/// A hint for an unknown tensor name: the closest names, or what there is.
fn did_you_mean<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        return "the file holds no tensors".to_string();
    }
    let scored: Vec<(usize, &str)> = names.iter().map(|n| (levenshtein(name, n), *n)).collect();
    let best = scored.iter().map(|s| s.0).min().unwrap_or(usize::MAX);
    let close_enough = (name.chars().count() / 3).max(2);
    if best <= close_enough {
        let close: Vec<String> = scored
            .iter()
            .filter(|s| s.0 == best)
            .take(3)
            .map(|s| format!("'{}'", s.1))
            .collect();
        return format!("did you mean {}?", close.join(" or "));
    }
    const SHOWN: usize = 10;
    let mut list: Vec<String> = names.iter().take(SHOWN).map(|n| format!("'{n}'")).collect();
    if names.len() > SHOWN {
        list.push(format!("and {} more", names.len() - SHOWN));
    }
    format!("the file holds {}", list.join(", "))
}

/// Edit distance (insertions, deletions, substitutions) between two strings.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, arr2, Array};
    use proptest::prelude::*;

    fn sample() -> (BTreeMap<String, ArrayD<f32>>, BTreeMap<String, String>) {
        let mut tensors = BTreeMap::new();
        tensors.insert(
            "layer1.weight".to_string(),
            arr2(&[[1.0f32, -2.5, 3.25], [0.1, f32::MIN_POSITIVE, -0.0]]).into_dyn(),
        );
        tensors.insert("layer1.bias".to_string(), arr1(&[0.5f32, -1e30]).into_dyn());
        tensors.insert("scalar".to_string(), ArrayD::from_elem(vec![], 7.0f32));
        tensors.insert("empty".to_string(), ArrayD::zeros(vec![0, 4]));
        let metadata = BTreeMap::from([
            ("format".to_string(), "pt".to_string()),
            ("note".to_string(), "ünïcode, \"quotes\"".to_string()),
        ]);
        (tensors, metadata)
    }

    /// A safetensors file with one tensor of the given dtype, shape and data.
    fn raw_file(dtype: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
        let header = format!(
            r#"{{"t":{{"dtype":"{dtype}","shape":{shape:?},"data_offsets":[0,{}]}}}}"#,
            data.len()
        );
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    }

    #[test]
    fn round_trip_keeps_values_shapes_and_metadata() {
        let (tensors, metadata) = sample();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        save(&path, &tensors, &metadata).unwrap();
        let file = load(&path).unwrap();
        assert_eq!(file.tensors(), &tensors);
        assert_eq!(file.metadata(), &metadata);
        assert_eq!(file.len(), 4);
        assert_eq!(
            file.names().collect::<Vec<_>>(),
            ["empty", "layer1.bias", "layer1.weight", "scalar"]
        );
        let w = file.get("layer1.weight").unwrap();
        assert_eq!(w.shape(), &[2, 3]);
        assert!(w[[1, 2]].is_sign_negative());
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        // Empty metadata and no tensors round-trip too.
        let bytes = to_bytes(&BTreeMap::new(), &BTreeMap::new()).unwrap();
        let file = parse(&bytes).unwrap();
        assert!(file.is_empty() && file.metadata().is_empty());
    }

    #[test]
    fn non_standard_layouts_are_written_row_major() {
        let t = Array::from_shape_vec((2, 3), vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])
            .unwrap()
            .reversed_axes()
            .into_dyn();
        let tensors = BTreeMap::from([("t".to_string(), t.clone())]);
        let file = parse(&to_bytes(&tensors, &BTreeMap::new()).unwrap()).unwrap();
        assert_eq!(file.get("t").unwrap(), &t);
        assert_eq!(
            file.get("t").unwrap().iter().copied().collect::<Vec<_>>(),
            [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
    }

    #[test]
    fn f16_conversion_is_exact_for_every_value() {
        for bits in 0..=u16::MAX {
            let got = f16_to_f32(bits);
            let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
            let exp = i32::from((bits >> 10) & 0x1f);
            let mant = f64::from(bits & 0x3ff);
            match exp {
                0x1f if mant == 0.0 => assert_eq!(f64::from(got), sign * f64::INFINITY),
                0x1f => assert!(got.is_nan(), "{bits:#x}"),
                _ => {
                    let want = if exp == 0 {
                        sign * mant * 2f64.powi(-24)
                    } else {
                        sign * (1024.0 + mant) * 2f64.powi(exp - 25)
                    };
                    assert_eq!(f64::from(got), want, "{bits:#x}");
                    assert_eq!(got.is_sign_negative(), sign < 0.0, "{bits:#x}");
                }
            }
        }
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
    }

    #[test]
    fn bf16_conversion_is_exact() {
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
        assert_eq!(bf16_to_f32(0xc040), -3.0);
        assert_eq!(bf16_to_f32(0x7f80), f32::INFINITY);
        assert_eq!(bf16_to_f32(0x0001), f32::from_bits(0x0001_0000));
        for bits in 0..=u16::MAX {
            let v = bf16_to_f32(bits);
            assert!(v.is_nan() || (v.to_bits() >> 16) as u16 == bits);
        }
    }

    #[test]
    fn half_precision_tensors_are_converted() {
        let f16: Vec<u8> = [0x3c00u16, 0xc000, 0x0001, 0x7bff]
            .iter()
            .flat_map(|b| b.to_le_bytes())
            .collect();
        let file = parse(&raw_file("F16", &[2, 2], &f16)).unwrap();
        assert_eq!(
            file.get("t").unwrap(),
            &arr2(&[[1.0, -2.0], [2f32.powi(-24), 65504.0]]).into_dyn()
        );
        let bf16: Vec<u8> = [0x3f80u16, 0xc040]
            .iter()
            .flat_map(|b| b.to_le_bytes())
            .collect();
        let file = parse(&raw_file("BF16", &[2], &bf16)).unwrap();
        assert_eq!(file.get("t").unwrap(), &arr1(&[1.0, -3.0]).into_dyn());
    }

    #[test]
    fn exact_f64_is_accepted_and_inexact_refused() {
        let exact: Vec<u8> = [1.5f64, -0.1f32 as f64, 1e-40f32 as f64, f64::INFINITY]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let file = parse(&raw_file("F64", &[4], &exact)).unwrap();
        assert_eq!(
            file.get("t").unwrap(),
            &arr1(&[1.5, -0.1f32, 1e-40f32, f32::INFINITY]).into_dyn()
        );

        let inexact: Vec<u8> = [1.0f64, 0.1].iter().flat_map(|v| v.to_le_bytes()).collect();
        let err = parse(&raw_file("F64", &[2], &inexact)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsupported);
        assert_eq!(err.location, Some(Location::Tensor("t".into())));
        assert!(
            err.message.contains(
                "f64 value 0.1 (element 1) is not exactly a float32; Axiom's weights are float32"
            ),
            "{err}"
        );
    }

    #[test]
    fn other_dtypes_are_unsupported() {
        let err = parse(&raw_file("I64", &[1], &[0; 8])).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsupported);
        assert_eq!(err.location, Some(Location::Tensor("t".into())));
        assert!(err.message.contains("I64"), "{err}");
    }

    #[test]
    fn garbage_and_truncation_are_malformed() {
        let (tensors, metadata) = sample();
        let bytes = to_bytes(&tensors, &metadata).unwrap();
        for cut in [0, 4, 8, 20, bytes.len() - 1] {
            let err = parse(&bytes[..cut]).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Malformed, "cut {cut}: {err}");
        }
        let err = parse(b"not a safetensors file at all").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);
        assert!(
            err.to_string().contains("is this a safetensors file?"),
            "{err}"
        );
        let err = parse(&raw_file("F32", &[2], &[0; 4])).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.safetensors");
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let err = load(&path).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);
        assert_eq!(err.file.as_deref(), Some(path.as_path()));
        assert!(
            err.hint.as_deref().unwrap_or("").contains("truncated"),
            "{err}"
        );
        let err = load(&dir.path().join("missing.safetensors")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Io);
    }

    #[test]
    fn offsets_near_usize_max_are_malformed_not_a_panic() {
        // Eight u8 tensors of 2^61 - 1 bytes each: the declared data ends at
        // 2^64 - 8, so adding the 8-byte length prefix overflows.
        let big = (1usize << 61) - 1;
        let entries: Vec<String> = (0..8)
            .map(|i| {
                format!(
                    r#""t{i}":{{"dtype":"U8","shape":[{big}],"data_offsets":[{},{}]}}"#,
                    i * big,
                    (i + 1) * big
                )
            })
            .collect();
        let header = format!("{{{}}}", entries.join(","));
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header.as_bytes());
        let err = parse(&bytes).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);
    }

    #[test]
    fn unknown_name_suggests_the_closest() {
        let (tensors, metadata) = sample();
        let file = parse(&to_bytes(&tensors, &metadata).unwrap()).unwrap();
        let err = file.get("layer1.weights").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid);
        assert_eq!(
            err.location,
            Some(Location::Tensor("layer1.weights".into()))
        );
        assert_eq!(err.hint.as_deref(), Some("did you mean 'layer1.weight'?"));
        let err = file.get("layer2.bias").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean 'layer1.bias'?"));
        let err = file.get("completely_different").unwrap_err();
        assert_eq!(
            err.hint.as_deref(),
            Some("the file holds 'empty', 'layer1.bias', 'layer1.weight', 'scalar'")
        );
        assert_eq!(
            WeightFile::default().get("x").unwrap_err().hint.as_deref(),
            Some("the file holds no tensors")
        );
    }

    #[test]
    fn levenshtein_distances() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("fc1.weight", "fc1.wieght"), 2);
        assert_eq!(levenshtein("ü", "u"), 1);
    }

    #[test]
    fn save_refuses_to_overwrite() {
        let (tensors, metadata) = sample();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        std::fs::write(&path, b"precious").unwrap();
        let err = save(&path, &tensors, &metadata).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid);
        assert_eq!(err.file.as_deref(), Some(path.as_path()));
        assert!(err.message.contains("refusing to overwrite"), "{err}");
        assert!(err.hint.is_some());
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let err = save(
            &dir.path().join("no/such/dir/w.safetensors"),
            &tensors,
            &metadata,
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Io);
    }

    #[test]
    fn reserved_name_is_refused() {
        let tensors = BTreeMap::from([("__metadata__".to_string(), ArrayD::zeros(vec![1]))]);
        let err = to_bytes(&tensors, &BTreeMap::new()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Err(e) = parse(&bytes) {
                prop_assert_eq!(e.kind, ErrorKind::Malformed);
            }
        }

        #[test]
        fn damaged_files_never_panic(at in any::<usize>(), byte in any::<u8>(), cut in any::<bool>()) {
            let (tensors, metadata) = sample();
            let mut bytes = to_bytes(&tensors, &metadata).unwrap();
            let i = at % bytes.len();
            if cut {
                bytes.truncate(i);
                prop_assert!(parse(&bytes).is_err());
            } else {
                bytes[i] = byte;
                let _ = parse(&bytes);
            }
        }

        #[test]
        fn random_headers_never_panic(
            dtype in prop::sample::select(vec!["F32", "F16", "BF16", "F64", "U8", "I64", "F4", "BOOL"]),
            shape in proptest::collection::vec(0usize..5, 0..4),
            len in 0usize..64,
        ) {
            let _ = parse(&raw_file(dtype, &shape, &vec![0x3c; len]));
        }
    }
}
