//! Exact dyadic rationals `m · 2^e`: every f64 and every float32 weight is
//! one, and sums and products of dyadics stay dyadic, so the checker's inner
//! loops never need a gcd. Rounding to a given number of significant bits is
//! explicit and directed.

use num_bigint::{BigInt, Sign};
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Zero};
use std::cmp::Ordering;
use std::ops::{Add, AddAssign, Mul, Neg, Sub};

/// The exact value `m · 2^e`.
///
/// The mantissa is an `i128` while it fits and a `BigInt` otherwise (every
/// operation checks for overflow and falls back to `BigInt`), so the common
/// case never allocates. Values are not normalised: equality and order
/// compare values, never representations.
#[derive(Debug, Clone)]
pub struct Dyadic {
    m: Mant,
    e: i64,
}

#[derive(Debug, Clone)]
enum Mant {
    Small(i128),
    Big(BigInt),
}

impl Mant {
    fn big(&self) -> BigInt {
        match self {
            Mant::Small(v) => BigInt::from(*v),
            Mant::Big(b) => b.clone(),
        }
    }

    /// The `Small` form when the value fits in an i128.
    fn from_big(b: BigInt) -> Mant {
        match i128::try_from(&b) {
            Ok(v) => Mant::Small(v),
            Err(_) => Mant::Big(b),
        }
    }

    fn sign(&self) -> Sign {
        match self {
            Mant::Small(v) => match v.cmp(&0) {
                Ordering::Less => Sign::Minus,
                Ordering::Equal => Sign::NoSign,
                Ordering::Greater => Sign::Plus,
            },
            Mant::Big(b) => b.sign(),
        }
    }

    /// Bits of the magnitude.
    fn bits(&self) -> u64 {
        match self {
            Mant::Small(v) => u64::from(128 - v.unsigned_abs().leading_zeros()),
            Mant::Big(b) => b.bits(),
        }
    }

    /// `self · 2^d`.
    fn shl(&self, d: u64) -> Mant {
        if let Mant::Small(v) = self {
            // Fits when the magnitude keeps a bit for the sign.
            if *v == 0 {
                return Mant::Small(0);
            }
            if d < 127 && u64::from(v.unsigned_abs().leading_zeros()) > d + 1 {
                return Mant::Small(v << d);
            }
        }
        Mant::from_big(self.big() << d)
    }

    fn add(&self, o: &Mant) -> Mant {
        if let (Mant::Small(a), Mant::Small(b)) = (self, o) {
            if let Some(c) = a.checked_add(*b) {
                return Mant::Small(c);
            }
        }
        Mant::from_big(self.big() + o.big())
    }

    fn mul(&self, o: &Mant) -> Mant {
        if let (Mant::Small(a), Mant::Small(b)) = (self, o) {
            if let Some(c) = a.checked_mul(*b) {
                return Mant::Small(c);
            }
        }
        Mant::from_big(self.big() * o.big())
    }

    fn neg(&self) -> Mant {
        if let Mant::Small(a) = self {
            if let Some(c) = a.checked_neg() {
                return Mant::Small(c);
            }
        }
        Mant::from_big(-self.big())
    }

    /// `floor(self / 2^shift)`, and whether it is exact.
    fn shr_floor(&self, shift: u64) -> (Mant, bool) {
        match self {
            Mant::Small(v) if shift < 127 => {
                // `>>` on a signed integer floors.
                let f = v >> shift;
                let exact = (f << shift) == *v;
                (Mant::Small(f), exact)
            }
            _ => {
                let b = self.big();
                let f = &b >> shift;
                let exact = (&f << shift) == b;
                (Mant::from_big(f), exact)
            }
        }
    }
}

impl Dyadic {
    pub fn zero() -> Self {
        Dyadic {
            m: Mant::Small(0),
            e: 0,
        }
    }

    pub fn one() -> Self {
        Dyadic {
            m: Mant::Small(1),
            e: 0,
        }
    }

    /// The exact value of a finite f64; `None` for NaN and infinities.
    pub fn from_f64(v: f64) -> Option<Self> {
        if !v.is_finite() {
            return None;
        }
        let bits = v.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        let (mant, e) = if exp == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), exp - 1075)
        };
        let m = i128::from(mant);
        Some(Dyadic {
            m: Mant::Small(if v < 0.0 { -m } else { m }),
            e,
        })
    }

    pub fn is_zero(&self) -> bool {
        self.m.sign() == Sign::NoSign
    }

    pub fn is_positive(&self) -> bool {
        self.m.sign() == Sign::Plus
    }

    pub fn is_negative(&self) -> bool {
        self.m.sign() == Sign::Minus
    }

    /// The same value as a rational.
    pub fn to_rational(&self) -> BigRational {
        let p = BigInt::one() << self.e.unsigned_abs();
        if self.e >= 0 {
            BigRational::from_integer(self.m.big() * p)
        } else {
            BigRational::new(self.m.big(), p)
        }
    }

    /// The nearest dyadic with at most `bits` significant bits, rounding
    /// towards `+inf` (`up`) or `-inf`.
    pub fn round(&self, bits: u64, up: bool) -> Dyadic {
        let len = self.m.bits();
        if len <= bits {
            return self.clone();
        }
        let shift = len - bits;
        let (floor, exact) = self.m.shr_floor(shift);
        let m = if up && !exact {
            floor.add(&Mant::Small(1))
        } else {
            floor
        };
        Dyadic {
            m,
            e: self.e + shift as i64,
        }
    }

    /// A dyadic with `bits` significant bits on the given side of a rational.
    pub fn from_rational(q: &BigRational, bits: u64, up: bool) -> Dyadic {
        if q.is_zero() {
            return Dyadic::zero();
        }
        let shift = bits as i64 + q.denom().bits() as i64 - q.numer().bits() as i64 + 1;
        let scaled = if shift >= 0 {
            q * BigRational::from_integer(BigInt::one() << shift as u64)
        } else {
            q / BigRational::from_integer(BigInt::one() << shift.unsigned_abs())
        };
        let m = if up { scaled.ceil() } else { scaled.floor() }.to_integer();
        Dyadic {
            m: Mant::from_big(m),
            e: -shift,
        }
    }

    /// `self / d` rounded to a dyadic with about `bits` significant bits,
    /// towards `+inf` (`up`) or `-inf`; integer division only (no gcd).
    /// `None` when `d` is zero.
    pub fn div_round(&self, d: &Dyadic, bits: u64, up: bool) -> Option<Dyadic> {
        if d.is_zero() {
            return None;
        }
        if self.is_zero() {
            return Some(Dyadic::zero());
        }
        let (n, den) = (self.m.big(), d.m.big());
        // Scale so that the quotient has at least `bits` bits.
        let k = bits as i64 + den.bits() as i64 - n.bits() as i64 + 1;
        let (num, den) = if k >= 0 {
            (n << k as u64, den)
        } else {
            (n, den << k.unsigned_abs())
        };
        // Floor division whatever the signs, then up by one if inexact.
        let (q, r) = num.div_mod_floor(&den);
        let q = if up && !r.is_zero() { q + 1 } else { q };
        Some(Dyadic {
            m: Mant::from_big(q),
            e: self.e - d.e - k,
        })
    }

    pub fn max(self, other: Dyadic) -> Dyadic {
        if self >= other {
            self
        } else {
            other
        }
    }

    pub fn min(self, other: Dyadic) -> Dyadic {
        if self <= other {
            self
        } else {
            other
        }
    }
}

impl Add for &Dyadic {
    type Output = Dyadic;
    fn add(self, o: &Dyadic) -> Dyadic {
        if self.is_zero() {
            return o.clone();
        }
        if o.is_zero() {
            return self.clone();
        }
        match self.e.cmp(&o.e) {
            Ordering::Equal => Dyadic {
                m: self.m.add(&o.m),
                e: self.e,
            },
            Ordering::Less => Dyadic {
                m: self.m.add(&o.m.shl(o.e.abs_diff(self.e))),
                e: self.e,
            },
            Ordering::Greater => Dyadic {
                m: self.m.shl(self.e.abs_diff(o.e)).add(&o.m),
                e: o.e,
            },
        }
    }
}

impl AddAssign<&Dyadic> for Dyadic {
    fn add_assign(&mut self, o: &Dyadic) {
        *self = &*self + o;
    }
}

impl Neg for &Dyadic {
    type Output = Dyadic;
    fn neg(self) -> Dyadic {
        Dyadic {
            m: self.m.neg(),
            e: self.e,
        }
    }
}

impl Sub for &Dyadic {
    type Output = Dyadic;
    fn sub(self, o: &Dyadic) -> Dyadic {
        self + &(-o)
    }
}

impl Mul for &Dyadic {
    type Output = Dyadic;
    fn mul(self, o: &Dyadic) -> Dyadic {
        if self.is_zero() || o.is_zero() {
            return Dyadic::zero();
        }
        Dyadic {
            m: self.m.mul(&o.m),
            e: self.e + o.e,
        }
    }
}

impl PartialEq for Dyadic {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Dyadic {}

impl PartialOrd for Dyadic {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Dyadic {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self - other).m.sign() {
            Sign::Minus => Ordering::Less,
            Sign::NoSign => Ordering::Equal,
            Sign::Plus => Ordering::Greater,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_traits::Signed;
    use proptest::prelude::*;

    fn r(v: f64) -> BigRational {
        BigRational::from_float(v).unwrap()
    }

    proptest! {
        #[test]
        fn arithmetic_is_exact(a in -1e30f64..1e30, b in -1e-30f64..1e30) {
            let (da, db) = (Dyadic::from_f64(a).unwrap(), Dyadic::from_f64(b).unwrap());
            prop_assert_eq!((&da + &db).to_rational(), r(a) + r(b));
            prop_assert_eq!((&da - &db).to_rational(), r(a) - r(b));
            prop_assert_eq!((&da * &db).to_rational(), r(a) * r(b));
            prop_assert_eq!(da.cmp(&db), r(a).cmp(&r(b)));
        }

        #[test]
        fn rounding_is_directed(a in -1e10f64..1e10, b in 1e-3f64..1e3, bits in 2u64..60) {
            let q = r(a) / r(b);
            let down = Dyadic::from_rational(&q, bits, false);
            let up = Dyadic::from_rational(&q, bits, true);
            prop_assert!(down.to_rational() <= q && q <= up.to_rational());
            let (da, db) = (Dyadic::from_f64(a).unwrap(), Dyadic::from_f64(b).unwrap());
            let (qd, qu) = (da.div_round(&db, bits, false).unwrap(), da.div_round(&db, bits, true).unwrap());
            prop_assert!(qd.to_rational() <= q && q <= qu.to_rational());
            let (nd, nu) = ((-&da).div_round(&db, bits, false).unwrap(), (-&da).div_round(&db, bits, true).unwrap());
            prop_assert!(nd.to_rational() <= -q.clone() && -q.clone() <= nu.to_rational());
            // Tight: the two sides differ by at most one unit of the last place.
            prop_assert!(&qu.to_rational() - &qd.to_rational() <= q.abs() / BigRational::from_integer(BigInt::one() << (bits - 1)));
            let p = &Dyadic::from_f64(a).unwrap() * &Dyadic::from_f64(b).unwrap();
            prop_assert!(p.round(bits, false).to_rational() <= p.to_rational());
            prop_assert!(p.round(bits, true).to_rational() >= p.to_rational());
            prop_assert!(p.round(bits, true).m.bits() <= bits + 1);
            prop_assert!(p.round(bits, false).m.bits() <= bits + 1);
        }
    }

    proptest! {
        /// Sums and products far outside an i128 (wide exponent gaps, long
        /// chains) take the BigInt path and stay exact.
        #[test]
        fn the_fast_path_falls_back_exactly(
            xs in proptest::collection::vec((-1e300f64..1e300, -1e-300f64..1e-300), 1..12),
            bits in 2u64..200,
        ) {
            let mut acc = Dyadic::zero();
            let mut exact = BigRational::zero();
            let mut prod = Dyadic::one();
            let mut exact_prod = BigRational::one();
            for &(a, b) in &xs {
                let (da, db) = (Dyadic::from_f64(a).unwrap(), Dyadic::from_f64(b).unwrap());
                acc = &(&acc + &da) - &db;
                exact = exact + r(a) - r(b);
                prod = &prod * &da;
                exact_prod *= r(a);
                prop_assert_eq!(acc.to_rational(), exact.clone());
                prop_assert_eq!(prod.to_rational(), exact_prod.clone());
                let (lo, hi) = (acc.round(bits, false), acc.round(bits, true));
                prop_assert!(lo.to_rational() <= exact && exact <= hi.to_rational());
                prop_assert!(lo <= acc && acc <= hi);
                prop_assert_eq!(lo == hi, lo.to_rational() == hi.to_rational());
            }
        }
    }

    #[test]
    fn subnormals_and_zero() {
        let tiny = f64::from_bits(1);
        assert_eq!(Dyadic::from_f64(tiny).unwrap().to_rational(), r(tiny));
        assert!(Dyadic::from_f64(-0.0).unwrap().is_zero());
        assert!(Dyadic::from_f64(f64::NAN).is_none());
    }
}
