//! Exact arithmetic for folds: float32 values as exact rationals, and the
//! test of whether an exact result is itself a float32.
//!
//! Every finite float32 is a dyadic rational `m · 2^e` (`|m| < 2^24`,
//! `-149 <= e <= 104`), so sums of products of float32 values are dyadic too.
//! [`DyadicSum`] accumulates such sums exactly (in an `i128`, or a `BigInt`
//! when the exponents are too far apart); divisions and square roots go
//! through [`BigRational`]. [`rational_to_f32`] and [`DyadicSum::to_f32`]
//! answer `Some` only when the exact value *is* a float32, never a rounding
//! of it.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// The message every fold that would round is skipped with.
pub const INEXACT: &str = "inexact: folding would round";

/// `x = m · 2^e` exactly, for a finite `x` (`None` for NaN and infinities).
/// Zero (of either sign) gives `(0, 0)`.
pub fn decompose(x: f32) -> Option<(i64, i32)> {
    if !x.is_finite() {
        return None;
    }
    let bits = x.to_bits();
    let negative = bits >> 31 == 1;
    let exp = ((bits >> 23) & 0xff) as i32;
    let frac = i64::from(bits & 0x7f_ffff);
    let (m, e) = if exp == 0 {
        (frac, -149)
    } else {
        (frac | (1 << 23), exp - 150)
    };
    if m == 0 {
        return Some((0, 0));
    }
    Some((if negative { -m } else { m }, e))
}

/// The exact rational value of a finite float32 (`None` for NaN and
/// infinities).
pub fn f32_to_rational(x: f32) -> Option<BigRational> {
    let (m, e) = decompose(x)?;
    Some(dyadic_to_rational(BigInt::from(m), i64::from(e)))
}

fn dyadic_to_rational(m: BigInt, e: i64) -> BigRational {
    let shift = e.unsigned_abs();
    if e >= 0 {
        BigRational::from_integer(m << shift)
    } else {
        BigRational::new(m, BigInt::one() << shift)
    }
}

/// The float32 equal to `r`, when there is one.
pub fn rational_to_f32(r: &BigRational) -> Option<f32> {
    let d = r.denom();
    if !d.is_positive() {
        return None;
    }
    // A float32 has a power-of-two denominator.
    let k = d.trailing_zeros()?;
    if d.bits() != k + 1 {
        return None;
    }
    let k = i64::try_from(k).ok()?;
    dyadic_to_f32(r.numer().clone(), -k)
}

/// The float32 equal to `m · 2^e`, when there is one.
pub fn dyadic_to_f32(m: BigInt, e: i64) -> Option<f32> {
    let Some(tz) = m.trailing_zeros() else {
        return Some(0.0); // m == 0
    };
    let m = m >> tz;
    let e = e.checked_add(i64::try_from(tz).ok()?)?;
    let bits = i64::try_from(m.bits()).ok()?;
    // m odd: the value is a float32 iff m has at most 24 significant bits,
    // the last one is not below 2^-149 and the value stays below 2^128 (the
    // largest float32 is (2^24 - 1) · 2^104).
    if bits > 24 || e < -149 || e + bits > 128 {
        return None;
    }
    let m = m.to_i64()?;
    let e = i32::try_from(e).ok()?;
    // 2^e as an f64 built from its bits (e is within f64's normal range).
    let p = f64::from_bits(u64::try_from(e + 1023).ok()? << 52);
    let v = (m as f64 * p) as f32;
    // Both conversions above are exact; check it anyway.
    let (vm, ve) = decompose(v)?;
    let back = BigInt::from(vm) << u32::try_from(ve - e + 149).ok()?;
    (back == BigInt::from(m) << 149u32).then_some(v)
}

/// An exact sum of float32 values and products of two float32 values.
#[derive(Debug, Clone, Default)]
pub struct DyadicSum {
    /// `(m, e)` terms, each `m · 2^e` with `|m| < 2^48`.
    terms: Vec<(i64, i32)>,
    /// Set when a non-finite value was added.
    invalid: bool,
}

impl DyadicSum {
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the sum for reuse.
    pub fn clear(&mut self) {
        self.terms.clear();
        self.invalid = false;
    }

    /// Adds `x`.
    pub fn add(&mut self, x: f32) {
        match decompose(x) {
            Some((0, _)) => {}
            Some(t) => self.terms.push(t),
            None => self.invalid = true,
        }
    }

    /// Adds `-x`.
    pub fn sub(&mut self, x: f32) {
        self.add(-x);
    }

    /// Adds `a · b`.
    pub fn add_product(&mut self, a: f32, b: f32) {
        match (decompose(a), decompose(b)) {
            (Some((0, _)), Some(_)) | (Some(_), Some((0, _))) => {}
            (Some((ma, ea)), Some((mb, eb))) => self.terms.push((ma * mb, ea + eb)),
            _ => self.invalid = true,
        }
    }

    /// The exact sum as `(m, e)`, value `m · 2^e` (`None` after a
    /// non-finite term).
    fn exact(&self) -> Option<(BigInt, i64)> {
        if self.invalid {
            return None;
        }
        let Some(emin) = self.terms.iter().map(|t| t.1).min() else {
            return Some((BigInt::zero(), 0));
        };
        let emax = self.terms.iter().map(|t| t.1).max().unwrap_or(emin);
        // |m| < 2^48 and at most 2^32 terms: an i128 holds the sum when the
        // spread of exponents is below 127 - 48 - 33.
        let spread = i64::from(emax) - i64::from(emin);
        if spread < 46 && (self.terms.len() as u64) < (1u64 << 32) {
            let mut acc: i128 = 0;
            for &(m, e) in &self.terms {
                acc += i128::from(m) << (e - emin);
            }
            return Some((BigInt::from(acc), i64::from(emin)));
        }
        let mut acc = BigInt::zero();
        for &(m, e) in &self.terms {
            acc += BigInt::from(m) << u32::try_from(e - emin).ok()?;
        }
        Some((acc, i64::from(emin)))
    }

    /// The float32 equal to the sum, when there is one.
    pub fn to_f32(&self) -> Option<f32> {
        let (m, e) = self.exact()?;
        dyadic_to_f32(m, e)
    }

    /// The exact sum as a rational (`None` after a non-finite term).
    #[cfg(test)]
    pub fn to_rational(&self) -> Option<BigRational> {
        let (m, e) = self.exact()?;
        Some(dyadic_to_rational(m, e))
    }
}

/// The exact square root of a positive rational, when it is rational.
pub fn exact_sqrt(r: &BigRational) -> Option<BigRational> {
    if !r.is_positive() {
        return None;
    }
    let (n, d) = (r.numer(), r.denom());
    let (sn, sd) = (n.sqrt(), d.sqrt());
    (&sn * &sn == *n && &sd * &sd == *d).then(|| BigRational::new(sn, sd))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *state >> 11
    }

    fn random_f32(state: &mut u64) -> f32 {
        loop {
            let v = f32::from_bits(lcg(state) as u32);
            if v.is_finite() && v.abs() < 1e30 && v.abs() > 1e-30 {
                return v;
            }
        }
    }

    #[test]
    fn every_f32_round_trips() {
        let mut s = 7;
        let specials = [
            0.0f32,
            -0.0,
            1.0,
            -1.5,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            f32::from_bits(1),
            f32::from_bits(0x007f_ffff),
            0.1,
        ];
        for x in specials
            .into_iter()
            .chain((0..2000).map(|_| random_f32(&mut s)))
        {
            let r = f32_to_rational(x).unwrap();
            let back = rational_to_f32(&r).unwrap();
            assert_eq!(back, x, "{x:e}");
            assert_eq!(back.to_bits() & 0x7fff_ffff, x.to_bits() & 0x7fff_ffff);
        }
        assert!(f32_to_rational(f32::NAN).is_none());
        assert!(f32_to_rational(f32::INFINITY).is_none());
    }

    #[test]
    fn non_floats_are_refused() {
        let third = BigRational::new(1.into(), 3.into());
        assert_eq!(rational_to_f32(&third), None);
        // 1 + 2^-24 needs 25 bits.
        let r = f32_to_rational(1.0).unwrap() + BigRational::new(1.into(), BigInt::one() << 24u32);
        assert_eq!(rational_to_f32(&r), None);
        // Below the smallest subnormal.
        let tiny = BigRational::new(1.into(), BigInt::one() << 150u32);
        assert_eq!(rational_to_f32(&tiny), None);
        // Above the largest float32.
        let huge = f32_to_rational(f32::MAX).unwrap() * BigRational::from_integer(2.into());
        assert_eq!(rational_to_f32(&huge), None);
        let half = BigRational::new(1.into(), 2.into());
        assert_eq!(rational_to_f32(&half), Some(0.5));
    }

    #[test]
    fn dyadic_sums_are_exact() {
        let mut s = 11;
        for round in 0..300 {
            let n = 1 + (lcg(&mut s) % 20) as usize;
            let mut sum = DyadicSum::new();
            let mut exact = BigRational::zero();
            for _ in 0..n {
                let (a, b) = if round % 2 == 0 {
                    // dyadic values with small denominators: sums are floats
                    (
                        (lcg(&mut s) % 64) as f32 / 16.0 - 2.0,
                        (lcg(&mut s) % 64) as f32 / 16.0 - 2.0,
                    )
                } else {
                    (random_f32(&mut s), random_f32(&mut s))
                };
                sum.add_product(a, b);
                exact += f32_to_rational(a).unwrap() * f32_to_rational(b).unwrap();
            }
            assert_eq!(sum.to_rational().unwrap(), exact);
            assert_eq!(sum.to_f32(), rational_to_f32(&exact));
            if round % 2 == 0 {
                assert!(sum.to_f32().is_some());
            }
        }
        let mut wide = DyadicSum::new();
        wide.add(f32::MAX);
        wide.add(f32::from_bits(1));
        assert_eq!(wide.to_f32(), None);
        wide.sub(f32::from_bits(1));
        assert_eq!(wide.to_f32(), Some(f32::MAX));
    }

    #[test]
    fn square_roots() {
        let r = |n: i64, d: i64| BigRational::new(n.into(), d.into());
        assert_eq!(exact_sqrt(&r(9, 4)), Some(r(3, 2)));
        assert_eq!(exact_sqrt(&r(2, 1)), None);
        assert_eq!(exact_sqrt(&r(0, 1)), None);
        assert_eq!(exact_sqrt(&r(-4, 1)), None);
    }
}
