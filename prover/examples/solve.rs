//! Verifies one VNN-LIB property of one model and prints the verdict with the
//! search statistics.
//!
//! ```text
//! cargo run --release -p axiom-prover --example solve -- MODEL.onnx PROPERTY.vnnlib [TIMEOUT_S]
//! ```

use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: solve MODEL PROPERTY [TIMEOUT_S]");
        std::process::exit(2);
    }
    let graph = axiom_core::load_model(args[1].as_ref())?;
    let property = axiom_core::vnnlib::load(args[2].as_ref())?;
    let timeout = args.get(3).map(|s| s.parse::<f64>()).transpose()?;
    let options = axiom_prover::VerifyOptions {
        timeout: timeout.map(Duration::from_secs_f64),
        ..Default::default()
    };
    let report = axiom_prover::verify(&graph, &property, &options);
    println!("{}", report.verdict.word());
    if let axiom_prover::Verdict::Unknown { reason } = &report.verdict {
        println!("reason: {reason}");
    }
    println!("{:?}", report.stats);
    Ok(())
}
