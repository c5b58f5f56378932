//! `axiom info PATH`: describes a model or a VNN-LIB property.

use std::path::Path;

use axiom_core::{load_model, vnnlib, Graph};

use crate::commands::CliError;
use crate::exit;

/// `axiom info PATH`.
pub fn info(path: Option<&Path>, backends: bool) -> Result<u8, CliError> {
    if backends {
        crate::accel::print_backends();
    }
    let Some(path) = path else {
        return Ok(exit::OK);
    };
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
