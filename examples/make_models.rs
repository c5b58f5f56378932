//! Writes the bundled example networks to `examples/models/` (or the folder
//! given as the first argument). Existing files are left alone: delete them
//! first to regenerate.
//!
//! ```text
//! cargo run --example make_models
//! ```

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/models")));
    std::fs::create_dir_all(&dir)?;
    for (name, graph) in axiom_ml::demo::all() {
        let path = dir.join(name);
        if path.exists() {
            println!("kept    {} (exists)", path.display());
            continue;
        }
        axiom_ml::core::onnx::save(&graph, &path)?;
        println!("wrote   {} (sha256:{})", path.display(), graph.digest());
    }
    let path = dir.join("classifier.safetensors");
    if path.exists() {
        println!("kept    {} (exists)", path.display());
    } else {
        std::fs::write(&path, axiom_ml::demo::classifier_weights())?;
        println!("wrote   {}", path.display());
    }
    Ok(())
}
