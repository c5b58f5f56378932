//! `AxiomExport/Prelude.lean`: exact rational numbers and the layers of an
//! exported network, over Lean 4 core alone.

/// The module name of the prelude.
pub const PRELUDE_MODULE: &str = "AxiomExport.Prelude";

/// Every name the prelude defines (inside `namespace AxiomExport`), for the
/// structural checker.
pub const PRELUDE_NAMES: &[&str] = &[
    "Q",
    "Q.num",
    "Q.dm1",
    "Q.mk",
    "Q.den",
    "Q.make",
    "Q.ofInt",
    "Q.dy",
    "Q.ratio",
    "Q.add",
    "Q.neg",
    "Q.sub",
    "Q.mul",
    "Q.inv",
    "Q.div",
    "Q.le",
    "Q.lt",
    "Q.eqv",
    "Q.relu",
    "Q.relu_num_nonneg",
    "Q.le_of_nonpos_of_nonneg",
    "nth",
    "dot",
    "sum",
    "zeros",
    "dense",
    "vrelu",
    "vadd",
    "vsub",
    "vmul",
    "nth_vrelu_num_nonneg",
];

/// The prelude's text.
pub const PRELUDE: &str = r#"/-
  Axiom Lean export: the prelude.

  Exact rational numbers and the layers of exported networks, written over
  Lean 4 core alone (Int, Nat, List, Decidable): no Mathlib, no axioms, no
  `sorry`. Every exported network is a function `List Q → List Q` built from
  the definitions below, and every float32 weight is a `Q` equal to it.
-/
namespace AxiomExport

/-- An exact rational number `num / (dm1 + 1)`. Every value of this type is a
rational number (the denominator is never zero). Values need not be in
lowest terms: every comparison below is on the value, not on the
representation. -/
structure Q where
  num : Int
  dm1 : Nat

namespace Q

/-- The denominator, `dm1 + 1`. -/
def den (a : Q) : Nat := a.dm1 + 1

/-- `n / d` in lowest terms, for `d > 0` (`d = 0` gives `0`). -/
def make (n : Int) (d : Nat) : Q :=
  let g := Nat.gcd n.natAbs d
  if g = 0 then ⟨0, 0⟩ else ⟨n / (g : Int), d / g - 1⟩

/-- The integer `n`. -/
def ofInt (n : Int) : Q := ⟨n, 0⟩

/-- `m / 2 ^ e`: how the export writes float32 and float64 values. -/
def dy (m : Int) (e : Nat) : Q := make m (2 ^ e)

/-- `n / d`: how the export writes the decimal constants of obligations. -/
def ratio (n : Int) (d : Nat) : Q := make n d

instance {n : Nat} : OfNat Q n := ⟨⟨Int.ofNat n, 0⟩⟩

/-- Addition. -/
def add (a b : Q) : Q := make (a.num * (b.den : Int) + b.num * (a.den : Int)) (a.den * b.den)

/-- Negation. -/
def neg (a : Q) : Q := ⟨-a.num, a.dm1⟩

/-- Subtraction. -/
def sub (a b : Q) : Q := add a (neg b)

/-- Multiplication. -/
def mul (a b : Q) : Q := make (a.num * b.num) (a.den * b.den)

/-- The inverse (`0` for `0`). -/
def inv (a : Q) : Q :=
  if 0 < a.num then make (a.den : Int) a.num.natAbs
  else if a.num < 0 then make (-(a.den : Int)) a.num.natAbs
  else ⟨0, 0⟩

/-- Division (by `0` gives `0`; exported networks only divide by non-zero
constants). -/
def div (a b : Q) : Q := mul a (inv b)

instance : Add Q := ⟨add⟩
instance : Sub Q := ⟨sub⟩
instance : Mul Q := ⟨mul⟩
instance : Neg Q := ⟨neg⟩
instance : Div Q := ⟨div⟩

/-- `a ≤ b` on values. -/
def le (a b : Q) : Prop := a.num * (b.den : Int) ≤ b.num * (a.den : Int)

/-- `a < b` on values. -/
def lt (a b : Q) : Prop := a.num * (b.den : Int) < b.num * (a.den : Int)

/-- Equality of values (`1/2` equals `2/4`). -/
def eqv (a b : Q) : Prop := a.num * (b.den : Int) = b.num * (a.den : Int)

instance : LE Q := ⟨le⟩
instance : LT Q := ⟨lt⟩

instance (a b : Q) : Decidable (a ≤ b) :=
  inferInstanceAs (Decidable (a.num * (b.den : Int) ≤ b.num * (a.den : Int)))

instance (a b : Q) : Decidable (a < b) :=
  inferInstanceAs (Decidable (a.num * (b.den : Int) < b.num * (a.den : Int)))

instance (a b : Q) : Decidable (eqv a b) :=
  inferInstanceAs (Decidable (a.num * (b.den : Int) = b.num * (a.den : Int)))

/-- `max(a, 0)`. -/
def relu (a : Q) : Q := if a.num ≤ 0 then ⟨0, 0⟩ else a

theorem relu_num_nonneg (a : Q) : 0 ≤ (relu a).num := by
  unfold relu
  split
  · exact Int.le_refl 0
  · omega

theorem le_of_nonpos_of_nonneg (c t : Q) (hc : c.num ≤ 0) (ht : 0 ≤ t.num) : c ≤ t := by
  have h1 : 0 ≤ -c.num * (t.den : Int) := Int.mul_nonneg (by omega) (by omega)
  have h2 : 0 ≤ t.num * (c.den : Int) := Int.mul_nonneg ht (by omega)
  rw [Int.neg_mul] at h1
  show c.num * (t.den : Int) ≤ t.num * (c.den : Int)
  omega

end Q

/-- Element `i` of a vector (`0` past its end). -/
def nth : List Q → Nat → Q
  | [], _ => 0
  | a :: _, 0 => a
  | _ :: v, i + 1 => nth v i

/-- The dot product (over the shorter length). -/
def dot : List Q → List Q → Q
  | a :: u, b :: v => a * b + dot u v
  | _, _ => 0

/-- The sum of the elements. -/
def sum : List Q → Q
  | [] => 0
  | a :: v => a + sum v

/-- `n` zeros. -/
def zeros : Nat → List Q
  | 0 => []
  | n + 1 => 0 :: zeros n

/-- A dense (fully connected) layer: `y i = dot (w i) x + b i`, one row of
`w` per output. -/
def dense : List (List Q) → List Q → List Q → List Q
  | w :: ws, b :: bs, x => (dot w x + b) :: dense ws bs x
  | _, _, _ => []

/-- ReLU on every element. -/
def vrelu : List Q → List Q
  | [] => []
  | a :: v => Q.relu a :: vrelu v

/-- `x + c`, element by element. -/
def vadd : List Q → List Q → List Q
  | a :: u, b :: v => (a + b) :: vadd u v
  | _, _ => []

/-- `x - c`, element by element. -/
def vsub : List Q → List Q → List Q
  | a :: u, b :: v => (a - b) :: vsub u v
  | _, _ => []

/-- `x * c`, element by element. -/
def vmul : List Q → List Q → List Q
  | a :: u, b :: v => (a * b) :: vmul u v
  | _, _ => []

theorem nth_vrelu_num_nonneg : ∀ (v : List Q) (i : Nat), 0 ≤ (nth (vrelu v) i).num
  | [], _ => Int.le_refl 0
  | a :: _, 0 => Q.relu_num_nonneg a
  | _ :: v, i + 1 => nth_vrelu_num_nonneg v i

end AxiomExport
"#;
