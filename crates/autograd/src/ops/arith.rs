//! Arithmetic: `+ - * /` between `Var`s (broadcasting) and with scalars, and negation.
//!
//! Each op's forward and its gradient sit together. Gradients of broadcasting ops go back to
//! each operand's shape through [`unbroadcast`], the one helper for that.

use std::ops::{Add, Div, Mul, Neg, Sub};

use ferrograd_tensor::{Float, Result};

use crate::var::Saves;
use crate::Var;

/// Sums a gradient down to the shape of the operand it is for, undoing NumPy broadcasting.
pub(crate) fn unbroadcast<T: Float>(grad: &Var<T>, operand: &Var<T>) -> Result<Var<T>> {
    grad.sum_to_shape(&operand.shape())
}

impl<T: Float> Var<T> {
    /// `self + other`, broadcasting; the fallible form of `+`.
    pub fn try_add(&self, other: &Var<T>) -> Result<Var<T>> {
        let out = self.value().add(&other.value())?;
        Ok(Var::from_op_saving(
            "AddBackward0",
            Saves::NOTHING,
            out,
            [self.clone(), other.clone()],
            |g, _, x| Ok([Some(unbroadcast(g, &x[0])?), Some(unbroadcast(g, &x[1])?)]),
        ))
    }

    /// `self - other`, broadcasting; the fallible form of `-`.
    pub fn try_sub(&self, other: &Var<T>) -> Result<Var<T>> {
        let out = self.value().sub(&other.value())?;
        Ok(Var::from_op_saving(
            "SubBackward0",
            Saves::NOTHING,
            out,
            [self.clone(), other.clone()],
            |g, _, x| Ok([Some(unbroadcast(g, &x[0])?), Some(unbroadcast(&-g, &x[1])?)]),
        ))
    }

    /// `self * other`, broadcasting; the fallible form of `*`.
    pub fn try_mul(&self, other: &Var<T>) -> Result<Var<T>> {
        let out = self.value().mul(&other.value())?;
        Ok(Var::from_op_saving(
            "MulBackward0",
            Saves::INPUTS,
            out,
            [self.clone(), other.clone()],
            |g, _, x| {
                let ga = if x[0].requires_grad() {
                    Some(unbroadcast(&g.try_mul(&x[1])?, &x[0])?)
                } else {
                    None
                };
                let gb = if x[1].requires_grad() {
                    Some(unbroadcast(&g.try_mul(&x[0])?, &x[1])?)
                } else {
                    None
                };
                Ok([ga, gb])
            },
        ))
    }

    /// `self / other`, broadcasting; the fallible form of `/`.
    pub fn try_div(&self, other: &Var<T>) -> Result<Var<T>> {
        let out = self.value().div(&other.value())?;
        Ok(Var::from_op_saving(
            "DivBackward0",
            Saves::INPUTS,
            out,
            [self.clone(), other.clone()],
            |g, _, x| {
                // d(a/b)/da = 1/b,  d(a/b)/db = -a/b²
                let ga = g.try_div(&x[1])?;
                let gb = -(ga.try_mul(&x[0])?.try_div(&x[1])?);
                Ok([Some(unbroadcast(&ga, &x[0])?), Some(unbroadcast(&gb, &x[1])?)])
            },
        ))
    }

    /// `self + s`.
    pub fn add_scalar(&self, s: T) -> Var<T> {
        let out = self.value().add_scalar(s);
        Var::from_op_owned("AddBackward1", Saves::NOTHING, out, [self.clone()], |g, _, _| {
            Ok([Some(g)])
        })
    }

    /// `self * s`.
    pub fn mul_scalar(&self, s: T) -> Var<T> {
        let out = self.value().mul_scalar(s);
        Var::from_op_owned("MulBackward1", Saves::NOTHING, out, [self.clone()], move |g, _, _| {
            Ok([Some(g.reuse(|t| t.map_inplace(|x| x * s), |g| g.mul_scalar(s)))])
        })
    }

    /// `self / s` (a true division, as PyTorch's, not a multiplication by `1/s`).
    pub fn div_scalar(&self, s: T) -> Var<T> {
        let out = self.value().map(|x| x / s);
        Var::from_op_owned("DivBackward1", Saves::NOTHING, out, [self.clone()], move |g, _, _| {
            Ok([Some(g.reuse(|t| t.map_inplace(|x| x / s), |g| g.div_scalar(s)))])
        })
    }

    /// `-self`.
    pub fn neg(&self) -> Var<T> {
        let out = self.value().neg();
        Var::from_op_owned("NegBackward0", Saves::NOTHING, out, [self.clone()], |g, _, _| {
            Ok([Some(g.reuse(|t| t.map_inplace(|x| -x), Var::neg))])
        })
    }
}

fn or_panic<T: Float>(r: Result<Var<T>>) -> Var<T> {
    r.unwrap_or_else(|e| panic!("{e}"))
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $try:ident) => {
        /// # Panics
        /// If the shapes cannot be broadcast together; the message names the op and both
        /// shapes. Use the `try_` method for a `Result` instead.
        impl<T: Float> $trait<&Var<T>> for &Var<T> {
            type Output = Var<T>;
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                or_panic(self.$try(rhs))
            }
        }
        impl<T: Float> $trait<Var<T>> for Var<T> {
            type Output = Var<T>;
            fn $method(self, rhs: Var<T>) -> Var<T> {
                or_panic(self.$try(&rhs))
            }
        }
        impl<T: Float> $trait<&Var<T>> for Var<T> {
            type Output = Var<T>;
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                or_panic(self.$try(rhs))
            }
        }
        impl<T: Float> $trait<Var<T>> for &Var<T> {
            type Output = Var<T>;
            fn $method(self, rhs: Var<T>) -> Var<T> {
                or_panic(self.$try(&rhs))
            }
        }
    };
}

binary_operator!(Add, add, try_add);
binary_operator!(Sub, sub, try_sub);
binary_operator!(Mul, mul, try_mul);
binary_operator!(Div, div, try_div);

macro_rules! scalar_operator {
    ($trait:ident, $method:ident, |$v:ident, $s:ident| $body:expr, |$s2:ident, $v2:ident| $rbody:expr) => {
        impl<T: Float> $trait<T> for &Var<T> {
            type Output = Var<T>;
            fn $method(self, $s: T) -> Var<T> {
                let $v = self;
                $body
            }
        }
        impl<T: Float> $trait<T> for Var<T> {
            type Output = Var<T>;
            fn $method(self, $s: T) -> Var<T> {
                let $v = &self;
                $body
            }
        }
        scalar_operator!(@lhs $trait, $method, f32, |$s2, $v2| $rbody);
        scalar_operator!(@lhs $trait, $method, f64, |$s2, $v2| $rbody);
    };
    (@lhs $trait:ident, $method:ident, $t:ty, |$s:ident, $v:ident| $body:expr) => {
        impl $trait<&Var<$t>> for $t {
            type Output = Var<$t>;
            fn $method(self, $v: &Var<$t>) -> Var<$t> {
                let $s = self;
                $body
            }
        }
        impl $trait<Var<$t>> for $t {
            type Output = Var<$t>;
            fn $method(self, $v: Var<$t>) -> Var<$t> {
                let ($s, $v) = (self, &$v);
                $body
            }
        }
    };
}

scalar_operator!(Add, add, |v, s| v.add_scalar(s), |s, v| v.add_scalar(s));
scalar_operator!(Sub, sub, |v, s| v.add_scalar(-s), |s, v| v.neg().add_scalar(s));
scalar_operator!(Mul, mul, |v, s| v.mul_scalar(s), |s, v| v.mul_scalar(s));
scalar_operator!(Div, div, |v, s| v.div_scalar(s), |s, v| v.powf(-1.0).mul_scalar(s));

impl<T: Float> Neg for &Var<T> {
    type Output = Var<T>;
    fn neg(self) -> Var<T> {
        Var::neg(self)
    }
}

impl<T: Float> Neg for Var<T> {
    type Output = Var<T>;
    fn neg(self) -> Var<T> {
        Var::neg(&self)
    }
}

#[cfg(test)]
mod tests {
    use ferrograd_tensor::Tensor;

    use super::*;

    #[test]
    fn unbroadcast_sums_back_to_the_operand_shape() {
        let g = Var::new(Tensor::<f64>::ones(&[2, 3, 4]));
        for (shape, value) in [
            (&[4][..], 6.0),
            (&[3, 1], 8.0),
            (&[], 24.0),
            (&[1, 1, 4], 6.0),
            (&[2, 3, 4], 1.0),
        ] {
            let operand = Var::new(Tensor::<f64>::zeros(shape));
            let u = unbroadcast(&g, &operand).unwrap();
            assert_eq!(u.shape(), shape);
            assert!(u.to_tensor().to_vec().iter().all(|&v| v == value));
        }
        assert!(unbroadcast(&g, &Var::new(Tensor::<f64>::zeros(&[3]))).is_err());
    }
}
