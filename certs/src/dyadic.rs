//! Exact dyadic rationals `m · 2^e`: every f64 and every float32 weight is
//! one, and sums and products of dyadics stay dyadic, so the checker's inner
//! loops never need a gcd. Rounding to a given number of significant bits is
//! explicit and directed.

use num_bigint::{BigInt, Sign};
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::cmp::Ordering;
use std::ops::{Add, AddAssign, Mul, Neg, Sub};

/// The exact value `m · 2^e`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dyadic {
    m: BigInt,
    e: i64,
}

impl Dyadic {
    pub fn zero() -> Self {
        Dyadic {
            m: BigInt::zero(),
            e: 0,
        }
    }

    pub fn one() -> Self {
        Dyadic {
            m: BigInt::one(),
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
        let m = BigInt::from(mant);
        Some(Dyadic {
            m: if v < 0.0 { -m } else { m },
            e,
        })
    }

    pub fn is_zero(&self) -> bool {
        self.m.is_zero()
    }

    pub fn is_positive(&self) -> bool {
        self.m.is_positive()
    }

    pub fn is_negative(&self) -> bool {
        self.m.is_negative()
    }

    /// The same value as a rational.
    pub fn to_rational(&self) -> BigRational {
        let p = BigInt::one() << self.e.unsigned_abs();
        if self.e >= 0 {
            BigRational::from_integer(&self.m * p)
        } else {
            BigRational::new(self.m.clone(), p)
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
        // Floor division by 2^shift (`>>` on BigInt floors for negatives).
        let floor = &self.m >> shift;
        let exact = (&floor << shift) == self.m;
        let m = if up && !exact { floor + 1 } else { floor };
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
        Dyadic { m, e: -shift }
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
        if self.m.is_zero() {
            return o.clone();
        }
        if o.m.is_zero() {
            return self.clone();
        }
        match self.e.cmp(&o.e) {
            Ordering::Equal => Dyadic {
                m: &self.m + &o.m,
                e: self.e,
            },
            Ordering::Less => Dyadic {
                m: &self.m + (&o.m << (o.e - self.e) as u64),
                e: self.e,
            },
            Ordering::Greater => Dyadic {
                m: (&self.m << (self.e - o.e) as u64) + &o.m,
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
            m: -&self.m,
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
        if self.m.is_zero() || o.m.is_zero() {
            return Dyadic::zero();
        }
        Dyadic {
            m: &self.m * &o.m,
            e: self.e + o.e,
        }
    }
}

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
            let p = &Dyadic::from_f64(a).unwrap() * &Dyadic::from_f64(b).unwrap();
            prop_assert!(p.round(bits, false).to_rational() <= p.to_rational());
            prop_assert!(p.round(bits, true).to_rational() >= p.to_rational());
            prop_assert!(p.round(bits, true).m.bits() <= bits + 1);
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
