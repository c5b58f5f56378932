//! Exact numbers as Lean `Q` literals, and back.
//!
//! A float (32- or 64-bit) is a dyadic rational `m · 2^e`: it is written
//! `Q.ofInt n` when it is an integer and `Q.dy m k` (`m / 2^k`) otherwise.
//! Any other rational is written `Q.ratio n d` (`n / d`). [`parse_literal`]
//! reads every form back, so tests can check that the exported numbers are
//! the weights exactly.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// A Lean integer literal, parenthesised when negative.
fn int(n: &BigInt) -> String {
    if n.is_negative() {
        format!("({n})")
    } else {
        n.to_string()
    }
}

/// The Lean literal of an exact rational.
pub fn rational(r: &BigRational) -> String {
    if r.is_zero() {
        return "(0 : Q)".into();
    }
    if r.denom().is_one() {
        return format!("(Q.ofInt {})", int(r.numer()));
    }
    // A power-of-two denominator: the dyadic form.
    let d = r.denom();
    let k = d.bits() - 1;
    if *d == BigInt::one() << k {
        return format!("(Q.dy {} {k})", int(r.numer()));
    }
    format!("(Q.ratio {} {})", int(r.numer()), d)
}

/// The Lean literal of a finite float (`None` for NaN and infinities).
pub fn float(v: f64) -> Option<String> {
    BigRational::from_float(v).map(|r| rational(&r))
}

/// Reads a literal [`rational`] wrote (surrounding spaces allowed).
pub fn parse_literal(text: &str) -> Option<BigRational> {
    let t = text.trim();
    let inner = t.strip_prefix('(')?.strip_suffix(')')?.trim();
    if inner == "0 : Q" {
        return Some(BigRational::zero());
    }
    let mut parts = Vec::new();
    let mut rest = inner;
    while !rest.is_empty() {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('(') {
            let end = r.find(')')?;
            parts.push(r[..end].trim().to_string());
            rest = &r[end + 1..];
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            parts.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    let num = |s: &str| s.parse::<BigInt>().ok();
    match parts.as_slice() {
        [f, n] if f == "Q.ofInt" => Some(BigRational::from_integer(num(n)?)),
        [f, m, k] if f == "Q.dy" => {
            let k: usize = k.parse().ok()?;
            Some(BigRational::new(num(m)?, BigInt::one() << k))
        }
        [f, n, d] if f == "Q.ratio" => {
            let d = num(d)?;
            (!d.is_zero()).then(|| BigRational::new(num(n).unwrap_or_default(), d))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forms() {
        assert_eq!(float(0.0).unwrap(), "(0 : Q)");
        assert_eq!(float(3.0).unwrap(), "(Q.ofInt 3)");
        assert_eq!(float(-0.375).unwrap(), "(Q.dy (-3) 3)");
        let third = BigRational::new(1.into(), 3.into());
        assert_eq!(rational(&third), "(Q.ratio 1 3)");
        assert_eq!(float(f64::NAN), None);
    }

    proptest! {
        #[test]
        fn every_f32_reads_back_exactly(bits in any::<u32>()) {
            let v = f32::from_bits(bits);
            if v.is_finite() {
                let lit = float(f64::from(v)).unwrap();
                let back = parse_literal(&lit).unwrap();
                prop_assert_eq!(back, BigRational::from_float(v).unwrap());
            }
        }

        #[test]
        fn every_rational_reads_back(n in any::<i64>(), d in 1u64..) {
            let r = BigRational::new(n.into(), d.into());
            prop_assert_eq!(parse_literal(&rational(&r)).unwrap(), r);
        }
    }
}
