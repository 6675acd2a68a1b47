//! The [`Tensor`] type: creation, conversion and inspection.

use ndarray::{ArcArray, ArrayD, ArrayViewD, ArrayViewMutD, Dimension, IxDyn};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal, Uniform};

use crate::{DType, Error, Float, Result, Shape};

/// An n-dimensional array of `f32` (the default) or `f64`, stored as an `ndarray::ArcArray`:
/// a buffer shared by reference count, as PyTorch's storage is.
///
/// Cloning a tensor, or reshaping one whose elements are in row-major order, shares its buffer
/// instead of copying it; the first change to a tensor whose buffer is shared copies it first
/// (copy on write), so a value never changes through another tensor.
///
/// Values are plain data: a `Tensor` records no history. Wrap it in an autograd `Var`
/// to differentiate through it.
#[derive(Clone, PartialEq)]
pub struct Tensor<T: Float = f32> {
    pub(crate) data: Buffer<T>,
}

/// The array behind a [`Tensor`]: any number of dimensions, its buffer reference-counted.
pub(crate) type Buffer<T> = ArcArray<T, IxDyn>;

impl<T: Float> Tensor<T> {
    /// A tensor from a flat row-major `Vec` and a shape.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(t.shape(), &[2, 2]);
    /// # Ok::<(), ferrograd_tensor::Error>(())
    /// ```
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        let numel = checked_alloc::<T>("from_vec", shape)?;
        if numel != data.len() {
            return Err(Error::DataLength {
                op: "from_vec",
                len: data.len(),
                shape: shape.into(),
                numel,
            });
        }
        Ok(Self {
            data: ArrayD::from_shape_vec(IxDyn(shape), data)
                .expect("length checked")
                .into_shared(),
        })
    }

    /// A 0-dimensional tensor holding one value.
    pub fn scalar(value: T) -> Self {
        Self {
            data: ArcArray::from_elem(IxDyn(&[]), value),
        }
    }

    /// Takes an `ndarray` array of any dimensionality without copying.
    pub fn from_array<D: Dimension>(array: ndarray::Array<T, D>) -> Self {
        Self {
            data: array.into_dyn().into_shared(),
        }
    }

    /// A tensor of `shape` from its row-major elements (`data.len()` is the shape's count).
    pub(crate) fn from_standard(data: Vec<T>, shape: &[usize]) -> Self {
        Tensor::from_array(ArrayD::from_shape_vec(IxDyn(shape), data).expect("element count"))
    }

    /// Gives the underlying `ndarray` array back, without copying unless another tensor shares
    /// the buffer.
    pub fn into_array(self) -> ArrayD<T> {
        self.data.into_owned()
    }

    /// A view of the underlying array.
    pub fn array(&self) -> ArrayViewD<'_, T> {
        self.data.view()
    }

    /// A mutable view of the underlying array (the shape cannot change through it); the
    /// buffer is copied first if another tensor shares it.
    pub fn array_mut(&mut self) -> ArrayViewMutD<'_, T> {
        self.data.view_mut()
    }

    /// Whether another tensor shares this tensor's buffer (a clone, or a reshape of it).
    pub fn is_shared(&self) -> bool {
        !self.data.is_unique()
    }

    /// A tensor of `shape` filled with `value`.
    ///
    /// # Panics
    /// If the product of the nonzero sizes of `shape` exceeds `isize::MAX` (ndarray's
    /// "Shape too large" panic); a shape that fits but not in memory aborts on allocation.
    /// A shape that comes from outside the program is better given to
    /// [`from_vec`](Tensor::from_vec), which checks it and returns an error.
    pub fn full(shape: &[usize], value: T) -> Self {
        Self {
            data: ArcArray::from_elem(IxDyn(shape), value),
        }
    }

    /// A tensor of zeros.
    ///
    /// # Panics
    /// As [`full`](Tensor::full), for a shape too large to hold.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::zero())
    }

    /// A tensor of ones.
    ///
    /// # Panics
    /// As [`full`](Tensor::full), for a shape too large to hold.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::one())
    }

    /// A tensor of zeros with this tensor's shape.
    pub fn zeros_like(&self) -> Self {
        Self::zeros(self.shape())
    }

    /// `[0, 1, ..., end-1]`, as `torch.arange(end)`.
    ///
    /// # Panics
    /// If `end` exceeds `isize::MAX` (a larger `end` that fits aborts on allocation).
    pub fn arange(end: usize) -> Self {
        Self::from_array(ndarray::Array1::from_iter((0..end).map(|i| T::of(i as f64))))
    }

    /// `start, start+step, ...` up to but excluding `end`, as `torch.arange(start, end, step)`.
    pub fn arange_step(start: f64, end: f64, step: f64) -> Result<Self> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(Error::invalid(
                "arange",
                format!("start {start}, end {end} and step {step} must be finite and step nonzero"),
            ));
        }
        if (end - start) * step.signum() < 0.0 {
            return Err(Error::invalid(
                "arange",
                format!(
                    "upper bound and lower bound inconsistent with step sign (start {start}, end {end}, step {step})"
                ),
            ));
        }
        let steps = ((end - start) / step).ceil();
        if steps * std::mem::size_of::<T>() as f64 > isize::MAX as f64 {
            return Err(Error::invalid(
                "arange",
                format!("start {start}, end {end} and step {step} give {steps:e} elements: shape [{steps}] has more elements than fit in memory"),
            ));
        }
        let n = steps as usize;
        Ok(Self::from_array(ndarray::Array1::from_iter(
            (0..n).map(|i| T::of(start + i as f64 * step)),
        )))
    }

    /// Values drawn uniformly from `[low, high)` with the given generator.
    pub fn uniform<R: Rng + ?Sized>(shape: &[usize], low: f64, high: f64, rng: &mut R) -> Result<Self> {
        checked_alloc::<T>("uniform", shape)?;
        let dist =
            Uniform::new(low, high).map_err(|e| Error::invalid("uniform", format!("low {low}, high {high}: {e}")))?;
        Ok(Self::from_fn_rng(shape, rng, |r| dist.sample(r)))
    }

    /// Values drawn from a normal distribution with the given generator.
    pub fn normal<R: Rng + ?Sized>(shape: &[usize], mean: f64, std: f64, rng: &mut R) -> Result<Self> {
        checked_alloc::<T>("normal", shape)?;
        if std < 0.0 {
            // rand_distr accepts a negative std (and mirrors it); PyTorch does not.
            return Err(Error::invalid(
                "normal",
                format!("normal expects std >= 0.0, but found std {std}"),
            ));
        }
        let dist =
            Normal::new(mean, std).map_err(|e| Error::invalid("normal", format!("mean {mean}, std {std}: {e}")))?;
        Ok(Self::from_fn_rng(shape, rng, |r| dist.sample(r)))
    }

    /// Uniform values in `[0, 1)` from a seed, as `torch.rand` after `torch.manual_seed`
    /// (the same seed gives the same values in ferrograd, not the same as PyTorch's).
    ///
    /// # Panics
    /// If `shape` is too large to hold, with the message of [`uniform`](Tensor::uniform)'s
    /// error (`uniform: shape [..] has more elements than fit in memory`); call `uniform` for
    /// a `Result`.
    pub fn rand(shape: &[usize], seed: u64) -> Self {
        Self::uniform(shape, 0.0, 1.0, &mut rand::rngs::StdRng::seed_from_u64(seed)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Standard normal values from a seed, as `torch.randn`.
    ///
    /// # Panics
    /// If `shape` is too large to hold, with the message of [`normal`](Tensor::normal)'s
    /// error; call `normal` for a `Result`.
    pub fn randn(shape: &[usize], seed: u64) -> Self {
        Self::normal(shape, 0.0, 1.0, &mut rand::rngs::StdRng::seed_from_u64(seed)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_fn_rng<R: Rng + ?Sized>(shape: &[usize], rng: &mut R, mut f: impl FnMut(&mut R) -> f64) -> Self {
        let n: usize = shape.iter().product();
        let v = (0..n).map(|_| T::of(f(rng))).collect();
        Self {
            data: ArrayD::from_shape_vec(IxDyn(shape), v)
                .expect("length matches shape")
                .into_shared(),
        }
    }

    /// The size of each dimension.
    pub fn shape(&self) -> &[usize] {
        self.data.shape()
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.data.ndim()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        T::DTYPE
    }

    /// The single value of a one-element tensor, as `tensor.item()`.
    pub fn item(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(Error::invalid(
                "item",
                format!(
                    "a Tensor with {} elements (shape {}) cannot be converted to a scalar",
                    self.numel(),
                    Shape(self.shape().to_vec())
                ),
            ));
        }
        Ok(*self.data.iter().next().expect("one element"))
    }

    /// The elements in row-major order, borrowed from the buffer when they lie there in that
    /// order, else copied.
    pub fn row_major_values(&self) -> std::borrow::Cow<'_, [T]> {
        match self.data.as_slice() {
            Some(values) => std::borrow::Cow::Borrowed(values),
            None => std::borrow::Cow::Owned(self.data.iter().copied().collect()),
        }
    }

    /// The elements in row-major order.
    pub fn to_vec(&self) -> Vec<T> {
        match self.data.as_slice() {
            Some(contiguous) => contiguous.to_vec(), // one copy, not an element-by-element walk
            None => self.data.iter().copied().collect(),
        }
    }

    /// The element at a multi-index.
    pub fn get(&self, index: &[usize]) -> Result<T> {
        if index.len() != self.ndim() {
            return Err(Error::invalid(
                "get",
                format!(
                    "index {index:?} has {} entries for a tensor of shape {}",
                    index.len(),
                    Shape(self.shape().to_vec())
                ),
            ));
        }
        for (d, (&i, &n)) in index.iter().zip(self.shape()).enumerate() {
            if i >= n {
                return Err(Error::IndexOutOfBounds {
                    op: "get",
                    index: i as i64,
                    dim: d,
                    size: n,
                });
            }
        }
        Ok(self.data[IxDyn(index)])
    }

    /// Converts every element to another float type.
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor {
            data: self.data.mapv(|x| U::of(x.f64())).into_shared(),
        }
    }

    /// Whether every element is finite.
    pub fn all_finite(&self) -> bool {
        self.data.iter().all(|x| x.is_finite())
    }
}

impl<T: Float, D: Dimension> From<ndarray::Array<T, D>> for Tensor<T> {
    fn from(a: ndarray::Array<T, D>) -> Self {
        Self::from_array(a)
    }
}

impl<T: Float> From<Tensor<T>> for ArrayD<T> {
    fn from(t: Tensor<T>) -> Self {
        t.into_array()
    }
}

/// The element count of a shape, or an error if it overflows `usize`.
pub fn checked_numel(op: &'static str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| too_large(op, shape))
}

/// The element count of a shape that a tensor can have: [`checked_numel`], and the product
/// of its nonzero sizes at most `isize::MAX` (ndarray's limit, which `[usize::MAX, 0]`, with
/// no element, still breaks). Every constructor checks this before building an array, so a
/// shape read from a file is an error, never a panic.
pub(crate) fn checked_shape(op: &'static str, shape: &[usize]) -> Result<usize> {
    let numel = checked_numel(op, shape)?;
    let nonzero = shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match nonzero {
        Some(n) if n <= isize::MAX as usize => Ok(numel),
        _ => Err(too_large(op, shape)),
    }
}

/// [`checked_shape`] for a buffer of `E`s: the shape's bytes at most `isize::MAX`, the most a
/// Rust allocation can ask for. Every op that makes a result larger than its inputs checks its
/// result's shape with this first, so an absurd shape is this error, not a "capacity overflow"
/// or "Shape too large" panic.
pub(crate) fn checked_alloc<E>(op: &'static str, shape: &[usize]) -> Result<usize> {
    let numel = checked_shape(op, shape)?;
    match numel.checked_mul(std::mem::size_of::<E>()) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(numel),
        _ => Err(too_large(op, shape)),
    }
}

fn too_large(op: &'static str, shape: &[usize]) -> Error {
    Error::invalid(
        op,
        format!("shape {} has more elements than fit in memory", Shape(shape.to_vec())),
    )
}
