//! Elementwise ops: unary maps, broadcasting binary ops and ops with a scalar.

use ndarray::Zip;

use crate::kernels::{backward_vec, map_in_place, unary_vec, wide, Backward, Unary, KERNEL_BLOCK as MAP_BLOCK};
use crate::parallel::{for_each_block_mut, mapped_vec, zipped_vec};
use crate::shape_ops::row_major;
use crate::{broadcast_shape, Error, Float, Result, Shape, Tensor};

/// Row-major tensors up to this many elements are mapped in a copy of themselves.
const SMALL_MAP: usize = 1024;

/// The elements as one slice if they lie in row-major order, judged from the strides alone
/// (after the buffer is made this array's own, if it was shared: that copy may change them).
pub(crate) fn row_major_mut<T: Float>(a: &mut crate::tensor::Buffer<T>) -> Option<&mut [T]> {
    let first = a.as_mut_ptr();
    let mut expected = 1isize;
    for (&len, &stride) in a.shape().iter().zip(a.strides()).rev() {
        if len != 1 && stride != expected {
            return None;
        }
        expected *= len as isize;
    }
    let len = a.len();
    // SAFETY: the strides say the `len` elements are consecutive from the first one, and the
    // buffer is this array's alone (`as_mut_ptr` made it so), borrowed mutably with `a`.
    Some(unsafe { std::slice::from_raw_parts_mut(first, len) })
}

impl<T: Float> Tensor<T> {
    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(T) -> T + Sync + Send) -> Self {
        // Small row-major tensors: a copy (the shared buffer copied on write, shape and strides
        // kept) mapped in place. Making a new array costs ndarray more than mapping a handful
        // of values.
        if self.numel() <= SMALL_MAP && self.data.is_standard_layout() {
            let mut out = self.clone();
            let values = out.data.as_slice_mut().expect("standard layout");
            wide(
                #[inline(always)]
                || map_in_place(values, &f),
            );
            return out;
        }
        // One loop over the row-major values, compiled by `wide`, into a new buffer, in blocks
        // shared between threads when the tensor is big. A strided or broadcast view (the
        // gradient of a `sum`, say) is copied into row-major order first: ndarray's `mapv`
        // over such a view went element by element, 4 ns each.
        let copied;
        let values = match self.data.as_slice() {
            Some(values) => values,
            None => {
                copied = row_major(&self.data.view());
                &copied
            }
        };
        let work = MAP_BLOCK / crate::tuning::CHEAP_VALUES_PER_WORK;
        Tensor::from_standard(mapped_vec(values, MAP_BLOCK, work, f), self.shape())
    }

    /// `op` of every element by the elementwise kernels: one loop over the values (copied into
    /// row-major order first if they are not in it), into a new buffer not cleared first, in
    /// blocks shared between threads when the tensor is big.
    pub(crate) fn map_kernel(&self, op: Unary) -> Self {
        let x = self.data.as_standard_layout();
        let x = x.as_slice().expect("a standard-layout array is one slice");
        Tensor::from_standard(unary_vec(op, x), self.shape())
    }

    /// An error naming `op` unless this gradient has the shape of the tensor its op saved.
    pub(crate) fn check_gradient_shape(&self, saved: &Self, op: &'static str) -> Result<()> {
        if self.shape() != saved.shape() {
            return Err(Error::ShapeMismatch {
                op,
                lhs: Shape(self.shape().to_vec()),
                rhs: Shape(saved.shape().to_vec()),
                reason: "the gradient must have the shape of the saved tensor".into(),
            });
        }
        Ok(())
    }

    /// The gradient `op(self, saved)` of an elementwise op, `self` the incoming gradient and
    /// `saved` the op's output or input, of the same shape (else an error naming `name`).
    pub(crate) fn backward_kernel(&self, saved: &Self, op: Backward, name: &'static str) -> Result<Self> {
        self.check_gradient_shape(saved, name)?;
        let g = self.data.as_standard_layout();
        let g = g.as_slice().expect("a standard-layout array is one slice");
        let s = saved.data.as_standard_layout();
        let s = s.as_slice().expect("a standard-layout array is one slice");
        Ok(Tensor::from_standard(backward_vec(op, g, s), self.shape()))
    }

    /// Applies `f` to every element in place (no new buffer, unless another tensor shares this
    /// one's: then one pass into a new one, rather than a copy and a pass over it).
    pub fn map_inplace(&mut self, f: impl Fn(T) -> T + Sync + Send) {
        if self.is_shared() && self.data.is_standard_layout() {
            *self = self.map(f);
            return;
        }
        match row_major_mut(&mut self.data) {
            Some(values) => wide(
                #[inline(always)]
                || map_in_place(values, &f),
            ),
            None => self.data.mapv_inplace(f),
        }
    }

    /// Combines two tensors elementwise after NumPy broadcasting; `op` names the operation in errors.
    pub fn zip_map(&self, other: &Self, op: &'static str, f: impl Fn(T, T) -> T + Sync + Send) -> Result<Self> {
        if self.shape() == other.shape() {
            if let (Some(a), Some(b)) = (self.data.as_slice(), other.data.as_slice()) {
                // Both row-major: one loop over two slices, compiled by `wide`, into a new
                // buffer not cleared first (ndarray's `Zip` over dynamic dimensions does not
                // vectorize), in blocks shared between threads when the tensors are big.
                let work = MAP_BLOCK / crate::tuning::CHEAP_VALUES_PER_WORK;
                return Ok(Tensor::from_standard(
                    zipped_vec(a, b, MAP_BLOCK, work, f),
                    self.shape(),
                ));
            }
            return Ok(Tensor::from_array(
                Zip::from(&self.data).and(&other.data).map_collect(|&a, &b| f(a, b)),
            ));
        }
        let shape = broadcast_shape(op, self.shape(), other.shape())?;
        if let (Some(a), Some(b)) = (self.data.as_slice(), other.data.as_slice()) {
            let out = crate::broadcast::zip(a, self.shape(), b, other.shape(), &shape, &f);
            return Ok(Tensor::from_standard(out, &shape));
        }
        let a = self.data.broadcast(shape.clone()).expect("shape checked");
        let b = other.data.broadcast(shape).expect("shape checked");
        Ok(Tensor::from_array(Zip::from(&a).and(&b).map_collect(|&a, &b| f(a, b))))
    }

    /// `self + other`, broadcasting.
    pub fn add(&self, other: &Self) -> Result<Self> {
        self.zip_map(other, "add", |a, b| a + b)
    }

    /// `self - other`, broadcasting.
    pub fn sub(&self, other: &Self) -> Result<Self> {
        self.zip_map(other, "sub", |a, b| a - b)
    }

    /// `self * other`, broadcasting.
    pub fn mul(&self, other: &Self) -> Result<Self> {
        self.zip_map(other, "mul", |a, b| a * b)
    }

    /// `self / other`, broadcasting.
    pub fn div(&self, other: &Self) -> Result<Self> {
        self.zip_map(other, "div", |a, b| a / b)
    }

    /// The elementwise maximum, broadcasting; NaN propagates as in `torch.maximum`.
    pub fn maximum(&self, other: &Self) -> Result<Self> {
        self.zip_map(other, "maximum", |a, b| {
            if a.is_nan() || b.is_nan() {
                T::nan()
            } else {
                a.max(b)
            }
        })
    }

    /// `self += other` in place; `other` must broadcast to `self`'s shape.
    pub fn add_assign(&mut self, other: &Self) -> Result<()> {
        self.zip_assign(other, "add_", |a, b| a + b)
    }

    /// `self = f(self, other)` elementwise, in place (no new buffer, unless another tensor
    /// shares this one's); `other` must broadcast to `self`'s shape, and `op` names the
    /// operation in errors.
    pub fn zip_assign(&mut self, other: &Self, op: &'static str, f: impl Fn(T, T) -> T + Sync + Send) -> Result<()> {
        // Same shape, both row-major: two slices, which LLVM vectorizes (ndarray's `Zip` over
        // dynamic dimensions does not, and costs more than the work for a few thousand values).
        if self.shape() == other.shape() {
            if self.is_shared() && self.data.is_standard_layout() && other.data.is_standard_layout() {
                // Writing in place would copy the shared buffer first, then pass over it again:
                // one pass into a new buffer instead, the same values.
                *self = self.zip_map(other, op, f)?;
                return Ok(());
            }
            if let (Some(b), Some(a)) = (other.data.as_slice(), row_major_mut(&mut self.data)) {
                // In blocks shared between threads when the tensors are big.
                let work = MAP_BLOCK / crate::tuning::CHEAP_VALUES_PER_WORK;
                for_each_block_mut(a, MAP_BLOCK, work, |i, a| {
                    let b = &b[i * MAP_BLOCK..][..a.len()];
                    wide(
                        #[inline(always)]
                        || a.iter_mut().zip(b).for_each(|(a, &b)| *a = f(*a, b)),
                    )
                });
                return Ok(());
            }
        }
        let b = other
            .data
            .broadcast(self.data.raw_dim())
            .ok_or_else(|| Error::Broadcast {
                op,
                lhs: Shape(self.shape().to_vec()),
                rhs: Shape(other.shape().to_vec()),
            })?;
        Zip::from(&mut self.data).and(&b).for_each(|a, &b| *a = f(*a, b));
        Ok(())
    }

    /// `self + s`.
    pub fn add_scalar(&self, s: T) -> Self {
        self.map(|x| x + s)
    }

    /// `self * s`.
    pub fn mul_scalar(&self, s: T) -> Self {
        self.map(|x| x * s)
    }

    /// `-self`.
    pub fn neg(&self) -> Self {
        self.map(|x| -x)
    }

    /// `e^self`; in `f32` within 1 ulp of the exact value.
    pub fn exp(&self) -> Self {
        self.map_kernel(Unary::Exp)
    }

    /// The natural logarithm; in `f32` within 1 ulp of the exact value.
    pub fn log(&self) -> Self {
        self.map_kernel(Unary::Log)
    }

    /// `self^p`, as `torch.pow(self, p)`: in `f32` the exponents 2, 3, -1 and -2 by
    /// multiplication and ±0.5 by square root, as PyTorch does; others (rounded to `f32`, as
    /// PyTorch rounds them) by a vectorized `pow` computed in `f64`, within 1 ulp of the exact
    /// value and at nearly every input tested the exact value rounded (C's `pow` for an
    /// infinite, NaN or huge exponent). The special values are C's `pow`'s.
    pub fn powf(&self, p: T) -> Self {
        self.map_kernel(Unary::Powf(p.f64()))
    }

    /// The square root.
    pub fn sqrt(&self) -> Self {
        self.map(T::sqrt)
    }

    /// The absolute value.
    pub fn abs(&self) -> Self {
        self.map(T::abs)
    }

    /// `-1`, `0` or `1` by sign (0 for ±0, NaN for NaN), as `torch.sign`.
    pub fn sign(&self) -> Self {
        self.map(|x| {
            if x > T::zero() {
                T::one()
            } else if x < T::zero() {
                -T::one()
            } else {
                x * T::zero()
            }
        })
    }

    /// `max(self, 0)`; NaN stays NaN as in `torch.relu`.
    pub fn relu(&self) -> Self {
        self.map(|x| if x > T::zero() || x.is_nan() { x } else { T::zero() })
    }

    /// The hyperbolic tangent; in `f32` within 2 ulp of the exact value.
    pub fn tanh(&self) -> Self {
        self.map_kernel(Unary::Tanh)
    }

    /// `1 / (1 + e^-self)`, without overflow for large negative inputs; in `f32` PyTorch's
    /// vectorized formula, within 2 ulp of the exact value.
    pub fn sigmoid(&self) -> Self {
        self.map_kernel(Unary::Sigmoid)
    }

    /// `log σ(self) = min(self, 0) - log1p(e^-|self|)`, as `F.logsigmoid`: finite for any
    /// finite input, and accurate where `σ` rounds to 1.
    pub fn log_sigmoid(&self) -> Self {
        self.map_kernel(Unary::LogSigmoid)
    }

    /// Limits every element to `[min, max]` (either bound optional), as `torch.clamp`; NaN stays NaN.
    pub fn clamp(&self, min: Option<T>, max: Option<T>) -> Self {
        self.map(|x| {
            let x = match min {
                Some(m) if x < m => m,
                _ => x,
            };
            match max {
                Some(m) if x > m => m,
                _ => x,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    /// On a buffer another tensor shares, `zip_assign` and `map_inplace` write a new one (one
    /// pass) and leave the other tensor as it was.
    #[test]
    fn in_place_ops_on_a_shared_buffer_leave_the_other_tensor_alone() {
        let x = Tensor::<f32>::from_vec((0..40).map(|i| i as f32 - 20.0).collect(), &[4, 10]).unwrap();
        let y = Tensor::<f32>::from_vec((0..40).map(|i| (i % 3) as f32).collect(), &[4, 10]).unwrap();
        let before = x.to_vec();
        let mut a = x.clone();
        assert!(a.is_shared());
        a.zip_assign(&y, "test", |a, b| a * b + 1.0).unwrap();
        assert_eq!(a, x.zip_map(&y, "test", |a, b| a * b + 1.0).unwrap());
        let mut m = x.clone();
        m.map_inplace(|v| v.max(0.0));
        assert_eq!(m, x.relu());
        assert_eq!(x.to_vec(), before);
        assert!(!a.is_shared() && !m.is_shared());
    }

    /// `zip_assign` gives `zip_map`'s values whether it takes the slice path (same shape, both
    /// row-major) or ndarray's (a transposed operand, or a broadcast one).
    #[test]
    fn zip_assign_is_zip_map_in_place_for_every_layout() {
        let a = Tensor::<f64>::from_vec((0..12).map(|i| i as f64 * 0.5 - 2.0).collect(), &[3, 4]).unwrap();
        let b = Tensor::<f64>::from_vec((0..12).map(|i| (i * 7 % 5) as f64).collect(), &[3, 4]).unwrap();
        let f = |x: f64, y: f64| x * 3.0 - y;
        let transposed = |t: &Tensor<f64>| Tensor::from_array(t.array().t().to_owned()).t().unwrap();
        let row = Tensor::<f64>::from_vec(vec![1.0, -2.0, 0.5, 4.0], &[4]).unwrap();
        let cases = [
            (a.clone(), b.clone()),
            (transposed(&a), b.clone()),
            (a.clone(), transposed(&b)),
            (transposed(&a), transposed(&b)),
            (a.clone(), row),
        ];
        for (i, (x, y)) in cases.into_iter().enumerate() {
            let want = x.zip_map(&y, "test", f).unwrap();
            let mut got = x.clone();
            got.zip_assign(&y, "test", f).unwrap();
            assert_eq!(got, want, "case {i}");
        }
    }

    /// `map` and `zip_assign` give each value's result on every path: few values, many (in
    /// blocks on two threads, with a last block cut short) and a transposed view.
    #[test]
    fn map_and_zip_assign_give_each_values_result_on_every_path() {
        let f = |x: f32| x * 0.5 - 1.0;
        for n in [5, 1000, 300_001] {
            let x = Tensor::<f32>::randn(&[n], 7);
            let want: Vec<f32> = x.to_vec().into_iter().map(f).collect();
            assert_eq!(x.map(f).to_vec(), want, "{n} values");
            let y = Tensor::<f32>::randn(&[n], 8);
            let mut z = x.clone();
            z.zip_assign(&y, "test", |a, b| a - 2.0 * b).unwrap();
            let want: Vec<f32> = x.to_vec().iter().zip(y.to_vec()).map(|(a, b)| a - 2.0 * b).collect();
            assert_eq!(z.to_vec(), want, "{n} values");
        }
        let x = Tensor::<f32>::randn(&[300, 700], 9);
        let t = x.t().unwrap();
        let want: Vec<f32> = t.to_vec().into_iter().map(f).collect();
        assert_eq!(t.map(f).to_vec(), want);
    }
}
