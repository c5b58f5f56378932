//! The CLI commands. Each returns an exit code or a [`CliError`].

use std::fmt;
use std::path::Path;

use axiom_backends::{backend_by_name, BackendError};
use axiom_core::{load_model, vnnlib, Graph};
use ndarray::Array2;

use crate::{exit, Precision};

/// An error that ends a command; every kind is the user's to fix (exit 2).
#[derive(Debug)]
pub enum CliError {
    /// A file or its content is wrong.
    Input(axiom_core::Error),
    /// The backend refused (not available, wrong input length).
    Backend(BackendError),
    /// The command line is wrong in a way clap cannot see.
    Usage(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        exit::BAD_INPUT
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Input(e) => write!(f, "{e}"),
            CliError::Backend(e) => write!(f, "{e}"),
            CliError::Usage(m) => write!(f, "{m}"),
        }
    }
}

impl From<axiom_core::Error> for CliError {
    fn from(e: axiom_core::Error) -> Self {
        CliError::Input(e)
    }
}

impl From<BackendError> for CliError {
    fn from(e: BackendError) -> Self {
        CliError::Backend(e)
    }
}

/// `axiom info PATH`.
pub fn info(path: &Path) -> Result<u8, CliError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("vnnlib") => {
            let property = vnnlib::load(path)?;
            println!("property {}", path.display());
            print!("{}", property.summary());
        }
        Some("axiom") => {
            return Err(CliError::Usage(format!(
                "{}: .axiom specifications are not supported by this version of axiom yet",
                path.display()
            )))
        }
        _ => {
            let graph = load_model(path)?;
            print_model_info(path, &graph)?;
        }
    }
    Ok(exit::OK)
}

fn print_model_info(path: &Path, graph: &Graph) -> Result<(), CliError> {
    let format = graph
        .metadata
        .get("source.format")
        .map(String::as_str)
        .unwrap_or("?");
    println!("file    {} ({format})", path.display());
    println!("digest  sha256:{}", graph.digest());
    println!("params  {}", graph.param_count());
    print!("{graph}");
    let meta: Vec<_> = graph
        .metadata
        .iter()
        .filter(|(k, _)| k.as_str() != "source.format")
        .collect();
    if !meta.is_empty() {
        println!("metadata:");
        for (k, v) in meta {
            println!("  {k} = {v}");
        }
    }
    Ok(())
}

/// `axiom run MODEL --input JSON`.
pub fn run(model: &Path, input: &str, backend: &str, precision: Precision) -> Result<u8, CliError> {
    let backend = backend_by_name(backend)?;
    let graph = load_model(model)?;
    let (rows, batched) = parse_input_json(input, graph.input_len(), graph.input_shape())?;
    let compiled = backend.compile(&graph)?;
    let outputs: Vec<Vec<f64>> = match precision {
        Precision::F64 => rows_of(&compiled.run_f64(to_matrix(&rows, |v| v).view())?, |v| v),
        Precision::F32 => rows_of(
            &compiled.run_f32(to_matrix(&rows, |v| v as f32).view())?,
            f64::from,
        ),
    };
    let json = if batched {
        serde_json::Value::Array(outputs.iter().map(|r| numbers(r, precision)).collect())
    } else {
        numbers(&outputs[0], precision)
    };
    println!("{json}");
    Ok(exit::OK)
}

fn numbers(row: &[f64], precision: Precision) -> serde_json::Value {
    serde_json::Value::Array(
        row.iter()
            .map(|&v| match precision {
                // Print the shortest decimal that reads back as the same f32.
                Precision::F32 => serde_json::Value::from(v as f32),
                Precision::F64 => serde_json::Value::from(v),
            })
            .collect(),
    )
}

fn to_matrix<T: Copy>(rows: &[Vec<f64>], conv: impl Fn(f64) -> T) -> Array2<T> {
    let cols = rows.first().map_or(0, Vec::len);
    Array2::from_shape_fn((rows.len(), cols), |(i, j)| conv(rows[i][j]))
}

fn rows_of<T: Copy>(m: &Array2<T>, conv: impl Fn(T) -> f64) -> Vec<Vec<f64>> {
    m.rows()
        .into_iter()
        .map(|r| r.iter().map(|&v| conv(v)).collect())
        .collect()
}

/// Parses `--input`: a flat array of numbers (one sample) or an array of
/// such arrays (a batch); `@FILE` reads the JSON from FILE. Returns the rows
/// and whether the input was a batch.
pub fn parse_input_json(
    arg: &str,
    expected: usize,
    shape: &[usize],
) -> Result<(Vec<Vec<f64>>, bool), CliError> {
    let (text, origin) = match arg.strip_prefix('@') {
        Some(file) => (
            std::fs::read_to_string(file)
                .map_err(|e| CliError::Usage(format!("--input @{file}: cannot read: {e}")))?,
            format!("--input @{file}"),
        ),
        None => (arg.to_string(), "--input".to_string()),
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        CliError::Usage(format!(
            "{origin}: not valid JSON ({e})\n  hint: pass a flat array such as '[0.1, 0.2]', or @FILE to read a file"
        ))
    })?;
    let Some(items) = value.as_array() else {
        return Err(CliError::Usage(format!(
            "{origin}: expected a JSON array of numbers (or an array of arrays for a batch)"
        )));
    };
    let batched = items.first().is_some_and(|v| v.is_array());
    let samples: Vec<&serde_json::Value> = if batched {
        items.iter().collect()
    } else {
        vec![&value]
    };
    let mut rows = Vec::with_capacity(samples.len());
    for (i, sample) in samples.into_iter().enumerate() {
        let place = if batched {
            format!("{origin}: sample {i}")
        } else {
            origin.clone()
        };
        let values = sample
            .as_array()
            .ok_or_else(|| CliError::Usage(format!("{place}: expected an array of numbers")))?;
        let row = values
            .iter()
            .enumerate()
            .map(|(j, v)| {
                v.as_f64().ok_or_else(|| {
                    CliError::Usage(format!("{place}: element {j} is not a number: {v}"))
                })
            })
            .collect::<Result<Vec<f64>, _>>()?;
        if row.len() != expected {
            return Err(CliError::Usage(format!(
                "{place} has {} values, the model expects {expected} (input shape {shape:?}, flattened row-major)",
                row.len()
            )));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(CliError::Usage(format!("{origin}: the batch is empty")));
    }
    Ok((rows, batched))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_and_batched_inputs() {
        let (rows, batched) = parse_input_json("[1, 2.5]", 2, &[2]).unwrap();
        assert_eq!((rows, batched), (vec![vec![1.0, 2.5]], false));
        let (rows, batched) = parse_input_json("[[1, 2], [3, 4]]", 2, &[2]).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(batched);
    }

    #[test]
    fn wrong_length_names_the_sample() {
        let e = parse_input_json("[[1, 2], [3]]", 2, &[1, 2]).unwrap_err();
        assert!(e.to_string().contains("sample 1 has 1 values"), "{e}");
        let e = parse_input_json("[1, 2, 3]", 5, &[1, 1, 1, 5]).unwrap_err();
        assert!(e.to_string().contains("expects 5"), "{e}");
    }

    #[test]
    fn non_numbers_and_bad_json() {
        assert!(parse_input_json("[1, \"a\"]", 2, &[2]).is_err());
        assert!(parse_input_json("[1, 2", 2, &[2]).is_err());
        assert!(parse_input_json("{}", 2, &[2]).is_err());
        assert!(parse_input_json("[]", 2, &[2]).is_err());
    }
}
