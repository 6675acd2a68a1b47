//! Matrix products: 2-D, batched with broadcast batch dimensions, and PyTorch's 1-D rules.

use std::borrow::Cow;

use ndarray::{s, Array2, ArrayView1, ArrayView2, ArrayView3, ArrayView4, ArrayViewD, Axis, Ix2, IxDyn};

use crate::tensor::checked_alloc;
use crate::{broadcast_shape, Error, Float, Result, Shape, Tensor};

impl<T: Float> Tensor<T> {
    /// The matrix product, as `torch.matmul`: 1-D operands are treated as a row (left) or column
    /// (right) vector and that dimension is removed from the result; leading batch dimensions
    /// broadcast.
    pub fn matmul(&self, other: &Self) -> Result<Self> {
        let (a1, b1) = (self.ndim() == 1, other.ndim() == 1);
        if self.ndim() == 0 || other.ndim() == 0 {
            return Err(Error::invalid(
                "matmul",
                format!(
                    "both arguments to matmul need to be at least 1D, but they are {}D and {}D",
                    self.ndim(),
                    other.ndim()
                ),
            ));
        }
        let a = if a1 {
            Cow::Owned(self.unsqueeze(0)?)
        } else {
            Cow::Borrowed(self)
        };
        let b = if b1 {
            Cow::Owned(other.unsqueeze(1)?)
        } else {
            Cow::Borrowed(other)
        };
        let mut out = a.matmul_nd(&b)?;
        // The row first: for 1-D @ 1-D the result [1, 1] becomes [1] and then [].
        if a1 {
            out = out.squeeze(-2)?;
        }
        if b1 {
            out = out.squeeze(-1)?;
        }
        Ok(out)
    }

    /// The product of two tensors of at least 2 dimensions, batch dimensions broadcasting.
    fn matmul_nd(&self, other: &Self) -> Result<Self> {
        let (sa, sb) = (self.shape(), other.shape());
        let (m, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
        let (k2, n) = (sb[sb.len() - 2], sb[sb.len() - 1]);
        if k != k2 {
            return Err(Error::ShapeMismatch {
                op: "matmul",
                lhs: Shape(sa.to_vec()),
                rhs: Shape(sb.to_vec()),
                reason: format!("mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {k2}x{n})"),
            });
        }
        let mut out_shape = broadcast_shape("matmul", &sa[..sa.len() - 2], &sb[..sb.len() - 2]).unwrap_or_default();
        out_shape.extend([m, n]);
        checked_alloc::<T>("matmul", &out_shape)?;
        if sa.len() == 2 && sb.len() == 2 {
            return self.mm(other, false, false);
        }
        if sb.len() == 2 {
            // `[..., m, k] · [k, n]`: the leading dimensions are rows of one product.
            let rows = sa[..sa.len() - 1].iter().product();
            return self.reshape(&[rows, k])?.mm(other, false, false)?.reshape(&out_shape);
        }
        let (ba, bb) = (&sa[..sa.len() - 2], &sb[..sb.len() - 2]);
        let batch = broadcast_shape("matmul", ba, bb).map_err(|_| Error::ShapeMismatch {
            op: "matmul",
            lhs: Shape(sa.to_vec()),
            rhs: Shape(sb.to_vec()),
            reason: format!(
                "batch dimensions {} and {} cannot be broadcast together",
                Shape(ba.to_vec()),
                Shape(bb.to_vec())
            ),
        })?;
        let nb: usize = batch.iter().product();
        // The operands broadcast to the batch as views (a broadcast dimension has stride 0):
        // each matrix is read where it lies, transposed views included, never copied.
        let full = |r: usize, c: usize| IxDyn(&[&batch[..], &[r, c]].concat());
        let a = Batch::new(self.data.broadcast(full(m, k)).expect("batch shape checked"));
        let b = Batch::new(other.data.broadcast(full(k, n)).expect("batch shape checked"));
        // Matrices in blocks of about `ROW_BLOCK_VALUES` multiply-adds, shared between threads;
        // each product by the path `mm` would take (attention's 16x16x16: the kernel, writing
        // into the output).
        let per = (ROW_BLOCK_VALUES / (m * n * k).max(1)).clamp(1, nb.max(1));
        let out = crate::parallel::zeroed_blocks(nb * m * n, per * m * n, per * m * n * k, |blk, block| {
            for (j, c) in block.chunks_exact_mut((m * n).max(1)).enumerate() {
                let i = blk * per + j;
                let c = ndarray::ArrayViewMut2::from_shape((m, n), c).expect("m·n values");
                gemm_into(a.matrix(i), b.matrix(i), c);
            }
        });
        let mut shape = batch;
        shape.extend([m, n]);
        Ok(Tensor::from_vec(out, &shape).expect("element count"))
    }
}

impl<T: Float> Tensor<T> {
    /// `op(self) · op(other)` for 2-D tensors, where `op` transposes its operand when the flag
    /// says so: `a.mm(&b, false, true)` is `a · bᵀ`. The transposes are strided views, nothing
    /// is copied. f32 products go to the AVX-512 kernel where the CPU has it, others to
    /// matrixmultiply, tiny and small skinny ones to plain loops (sizes in [`crate::tuning`]).
    pub fn mm(&self, other: &Self, transpose_self: bool, transpose_other: bool) -> Result<Self> {
        if self.ndim() != 2 || other.ndim() != 2 {
            return Err(Error::invalid(
                "mm",
                format!(
                    "expected 2-D operands, got shapes {} and {}",
                    Shape(self.shape().to_vec()),
                    Shape(other.shape().to_vec())
                ),
            ));
        }
        let (a, b) = (view_2d(self, transpose_self), view_2d(other, transpose_other));
        let ((m, k), (k2, n)) = (a.dim(), b.dim());
        if k != k2 {
            return Err(Error::ShapeMismatch {
                op: "matmul",
                lhs: Shape(self.shape().to_vec()),
                rhs: Shape(other.shape().to_vec()),
                reason: format!("mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {k2}x{n})"),
            });
        }
        checked_alloc::<T>("matmul", &[m, n])?;
        Ok(Tensor::from_array(gemm(a, b, None).into_dyn()))
    }
}

impl<T: Float> Tensor<T> {
    /// `self · weightᵀ + bias` for a 2-D `self` `[batch, in]`, a weight `[out, in]` and an
    /// optional bias `[out]`, as `torch.nn.functional.linear`. The weight is read through a
    /// transposed view, never copied, and the bias is added to each element of the product as
    /// it is stored (the f32 kernel) or right after, in place.
    ///
    /// The result is the same, bit for bit, as `self.mm(weight, false, true)` followed by a
    /// broadcast `add` of the bias.
    pub fn linear(&self, weight: &Self, bias: Option<&Self>) -> Result<Self> {
        if self.ndim() == 0 || weight.ndim() != 2 {
            return Err(Error::invalid(
                "linear",
                format!(
                    "expected an input of at least 1 dimension and a 2-D weight, got shapes {} and {}",
                    Shape(self.shape().to_vec()),
                    Shape(weight.shape().to_vec())
                ),
            ));
        }
        // Leading dimensions are rows: a view of the row-major elements, copied only if the
        // input is a strided view.
        let (k, m) = (
            self.shape()[self.ndim() - 1],
            self.shape()[..self.ndim() - 1].iter().product(),
        );
        let standard = self.data.as_standard_layout();
        let x = standard
            .view()
            .into_shape_with_order((m, k))
            .expect("row-major elements");
        let w = view_2d(weight, true);
        let (k2, n) = w.dim();
        if k != k2 {
            // As PyTorch, the shapes of the product: the input's rows and the transposed weight.
            return Err(Error::ShapeMismatch {
                op: "linear",
                lhs: Shape(self.shape().to_vec()),
                rhs: Shape(vec![k2, n]),
                reason: format!(
                    "mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {k2}x{n}); mat2 is the transpose of the weight {}",
                    Shape(weight.shape().to_vec())
                ),
            });
        }
        let mut out_shape = self.shape().to_vec();
        *out_shape.last_mut().expect("at least 1-D") = n;
        if let Some(b) = bias.filter(|b| b.shape() != [n]) {
            return Err(Error::ShapeMismatch {
                op: "linear",
                lhs: Shape(out_shape),
                rhs: Shape(b.shape().to_vec()),
                reason: format!("the bias must have shape [{n}], one value per output feature"),
            });
        }
        checked_alloc::<T>("linear", &out_shape)?;
        let bias = bias.map(|b| b.data.view().into_dimensionality::<ndarray::Ix1>().expect("1-D"));
        let product = gemm(x, w, bias);
        let product = match product.is_standard_layout() {
            true => product,
            false => product.as_standard_layout().into_owned(),
        };
        Ok(Tensor::from_array(
            product
                .into_shape_with_order(IxDyn(&out_shape))
                .expect("row-major elements"),
        ))
    }
}

/// A 2-D tensor as a matrix view, transposed (a strided view) if asked.
fn view_2d<T: Float>(t: &Tensor<T>, transpose: bool) -> ArrayView2<'_, T> {
    let v = t.data.view().into_dimensionality::<Ix2>().expect("2-D");
    if transpose {
        v.reversed_axes()
    } else {
        v
    }
}

use crate::kernels::gemm::{with_packed, Packed};
use crate::tuning::{
    JOIN_GEMM, KERNEL_MAX_GEMM, LONG_DOTS_MAX_OUTPUTS, LONG_DOTS_MIN_TERMS, ROW_BLOCK_VALUES, SHORT_KERNEL_MIN_COLUMNS,
    SKINNY, SKINNY_DOTS_MIN_TERMS, SMALL_GEMM, SMALL_SKINNY_GEMM,
};

/// `A·B`, plus `bias` added to each row after the product (as a separate addition would).
pub(crate) fn gemm<T: Float>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, bias: Option<ArrayView1<'_, T>>) -> Array2<T> {
    let ((m, k), n) = (a.dim(), b.ncols());
    crate::parallel::tune_allocator();
    let copy: Vec<T>; // a strided bias, made contiguous
    let bias = match bias.map(|b| (b.to_slice(), b)) {
        Some((Some(b), _)) => Some(b),
        Some((None, b)) => {
            copy = b.to_vec();
            Some(&copy[..])
        }
        None => None,
    };
    assert!(
        bias.is_none_or(|b| b.len() == n),
        "gemm: the bias must have one value per column"
    );
    if k == 0 {
        // Empty sums: zeros (and the bias), which no kernel is needed for.
        let mut c = Array2::zeros((m, n));
        if let Some(bias) = bias.filter(|_| m > 0) {
            c += &ArrayView1::from(bias);
        }
        return c;
    }
    if let Some(c) = long_dots(a, b) {
        let mut c = Array2::from_shape_vec((m, n), c).expect("m·n elements");
        if let Some(bias) = bias {
            c += &ArrayView1::from(bias);
        }
        return c;
    }
    // The f32 kernel adds the bias as it stores C; every other path adds it afterwards.
    let kernel = kernel_fits::<T>(m, n);
    if kernel && m * n * k < KERNEL_MAX_GEMM {
        return kernel_product(a, b, bias);
    }
    let mut c = product(a, b, kernel);
    if let Some(bias) = bias.filter(|_| n > 0) {
        match c.as_slice_mut() {
            // One flat loop: ndarray's per-row arithmetic costs more than a short row's sums.
            Some(c) => c
                .chunks_exact_mut(n)
                .for_each(|row| row.iter_mut().zip(bias).for_each(|(o, &b)| *o += b)),
            None => c += &ArrayView1::from(bias), // a column-major product of column-major operands
        }
    }
    c
}

/// `A·B` by `kernels::long_dots` when C is small and its sums long, or B too narrow for the
/// f32 kernel and the sums not short (see `LONG_DOTS_MAX_OUTPUTS`), A's rows and B's columns
/// contiguous (B the transpose of a row-major X: `x·Wᵀ`, a weight gradient `g · columnsᵀ`)
/// and `T` is `f32` on a CPU with AVX-512F.
fn long_dots<T: Float>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Option<Vec<T>> {
    let ((m, k), n) = (a.dim(), b.ncols());
    let small_c = m * n <= LONG_DOTS_MAX_OUTPUTS && k >= LONG_DOTS_MIN_TERMS;
    // Twice the terms from JOIN_GEMM, where matrixmultiply shares the product between threads.
    let min_terms = if m * n * k < JOIN_GEMM {
        SKINNY_DOTS_MIN_TERMS
    } else {
        2 * SKINNY_DOTS_MIN_TERMS
    };
    let narrow_b = n < SKINNY && k >= min_terms;
    (m >= 2 && (small_c || narrow_b)).then(|| dot_products(a, b)).flatten()
}

/// `A·B` by `kernels::long_dots` at any size, where the operands' layout and `T` allow it.
pub(crate) fn dot_products<T: Float>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Option<Vec<T>> {
    let ((m, k), n) = (a.dim(), b.ncols());
    if T::DTYPE != crate::DType::F32 || !crate::kernels::long_dots::available() {
        return None;
    }
    let (a, x) = (a.to_slice()?, b.reversed_axes().to_slice()?);
    Some(crate::kernels::long_dots::product(a, x, m, n, k))
}

/// Whether the f32 kernel can take a product with C `m x n`: `T` is `f32` on a CPU with
/// AVX-512F, a row of B has at least `SKINNY` columns, and C has a full block of rows, or
/// half a block and B at least `SHORT_KERNEL_MIN_COLUMNS` columns (see there).
fn kernel_fits<T: Float>(m: usize, n: usize) -> bool {
    use crate::kernels::gemm::{available, MR};
    available::<T>() && n >= SKINNY && (m >= MR || (m >= MR / 2 && n >= SHORT_KERNEL_MIN_COLUMNS))
}

/// [`gemm`] without a bias, written into `c` (rows contiguous): a product the kernel takes on
/// one thread is written there directly, any other is computed by `gemm` and copied in. The
/// values are `gemm`'s either way.
fn gemm_into<T: Float>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, c: ndarray::ArrayViewMut2<'_, T>) {
    let ((m, k), n) = (a.dim(), b.ncols());
    if kernel_fits::<T>(m, n) && m * n * k < JOIN_GEMM.min(KERNEL_MAX_GEMM) {
        crate::kernels::gemm::product(a, b, c);
    } else {
        gemm(a, b, None).assign_to(c);
    }
}

/// `A·B` by every path but the f32 kernel's.
fn product<T: Float>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, kernel: bool) -> Array2<T> {
    let ((m, k), n) = (a.dim(), b.ncols());
    // The f32 kernel takes any k, rows of B of at least `SKINNY` and blocks of 8 rows of A.
    let skinny = m.min(n).min(k) < SKINNY && !kernel;
    if m * n * k <= SMALL_GEMM || (skinny && m * n * k <= SMALL_SKINNY_GEMM) {
        return small_gemm(a, b);
    }
    let threads = rayon::current_num_threads();
    if m * n * k >= JOIN_GEMM && threads > 1 && m >= 2 * threads && n > 0 {
        // Blocks of rows of C, one per thread (with two, shared with `join`'s helper by
        // `for_each_block_mut`). Each block is one product over the whole of k, so every
        // element is computed exactly as without threads.
        let rows = m.div_ceil(threads);
        let c = crate::parallel::zeroed_blocks(m * n, rows * n, rows * n * k, |i, block| {
            let a = a.slice(s![i * rows..(i * rows + block.len() / n), ..]);
            let mut c = ndarray::ArrayViewMut2::from_shape((block.len() / n, n), block).expect("rows of C");
            ndarray::linalg::general_mat_mul(T::one(), &a, &b, T::zero(), &mut c);
        });
        return Array2::from_shape_vec((m, n), c).expect("m·n elements");
    }
    a.dot(&b)
}

/// A pointer that may cross to the helper thread: each piece of a product writes its own
/// block of C through it.
struct RowsOut<T>(*mut T);
// SAFETY: used only by `kernel_product`, whose pieces write disjoint blocks.
unsafe impl<T: Send> Send for RowsOut<T> {}
unsafe impl<T: Send> Sync for RowsOut<T> {}
impl<T> RowsOut<T> {
    fn at(&self, offset: usize) -> *mut T {
        self.0.wrapping_add(offset)
    }
}

/// `A·B` by the f32 kernel, which fills a new buffer without its being zeroed first; from
/// [`JOIN_GEMM`] multiply-adds, in pieces that this thread and `join`'s helper take in turn
/// (`parallel::for_each_index`), so a helper slowed down by the host leaves more to this one.
/// Pieces are panels of columns of C when A is the smaller operand (a batch of 64 through a
/// 784 -> 128 layer: each thread reads and packs only its share of B), else blocks of rows,
/// for which each thread packs all of B once (`gemm::with_packed_once`).
pub(crate) fn kernel_product<T: Float>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, bias: Option<&[T]>) -> Array2<T> {
    let ((m, k), n) = (a.dim(), b.ncols());
    let mut c = Vec::<T>::with_capacity(m * n);
    let out = RowsOut(c.as_mut_ptr());
    // SAFETY (both): each call writes its own block of the m x n buffer, and no other call does.
    let rows = |b: Packed<'_>, from: usize, to: usize| unsafe {
        crate::kernels::gemm::product_packed(a.slice(s![from..to, ..]), b, bias, out.at(from * n), n as isize)
    };
    let cols = |from: usize, to: usize| unsafe {
        let b = b.slice(s![.., from..to]);
        crate::kernels::gemm::product_to(a, b, bias.map(|v| &v[from..to]), out.at(from), n as isize)
    };
    const NR: usize = crate::kernels::gemm::NR;
    if m * n * k < JOIN_GEMM || (m < 16 && n < 2 * NR) {
        with_packed(b, m, |b| rows(b, 0, m));
    } else if m < n && n >= 2 * NR {
        // Panels of columns, taken in turn by the two threads (each packs only its own).
        let panels = n.div_ceil(NR);
        crate::parallel::for_each_index(panels, |i| cols(i * NR, (i * NR + NR).min(n)));
    } else {
        // Up to four blocks of rows, taken in turn, reading B packed once by each thread.
        let per = m.div_ceil(4).next_multiple_of(8).max(16);
        let id = crate::kernels::gemm::product_id();
        crate::parallel::for_each_index(m.div_ceil(per), |i| {
            crate::kernels::gemm::with_packed_once(id, b, per, |b| rows(b, i * per, (i * per + per).min(m)))
        });
    }
    // SAFETY: the kernel wrote all m·n elements (had it panicked, `c` would be dropped empty).
    unsafe { c.set_len(m * n) };
    Array2::from_shape_vec((m, n), c).expect("m·n elements")
}

/// Whether a matrix view is row-major with contiguous rows.
fn rows_contiguous<T>(v: &ArrayView2<'_, T>) -> bool {
    v.strides()[1] == 1 || v.ncols() <= 1
}

/// Whether a matrix view is column-major with contiguous columns.
fn columns_contiguous<T>(v: &ArrayView2<'_, T>) -> bool {
    v.strides()[0] == 1 || v.nrows() <= 1
}

/// A small or skinny product `C = A·B` by one of three plain loops, each vectorized along a
/// contiguous dimension of at least [`SKINNY`] where there is one:
///
/// - along `n`: each row of C gathers the rows of B, `C[i, :] += A[i, p]·B[p, :]`;
/// - along `k`: each element of C is a dot product of a row of A and a column of B;
/// - along `m`: the same as the first on `Cᵀ = Bᵀ·Aᵀ`, reading the columns of A.
///
/// The loop is chosen by the shapes and layouts alone, and a layout it needs that the
/// operands do not have is copied first (once, preferring a loop that needs no copy), so the
/// result never depends on the number of threads.
///
/// On x86-64 with AVX2 the same loops are compiled for 256-bit vectors (chosen at run time, as
/// matrixmultiply does). Products and sums stay separate operations (no fused multiply-add),
/// so the result is the same, bit for bit, with and without AVX2.
pub(crate) fn small_gemm<T: Float>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Array2<T> {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::isa() >= crate::cpu::Isa::Avx2 {
        // SAFETY: the CPU supports AVX2 (cpu::isa never picks a level the CPU lacks).
        return unsafe { small_gemm_avx2(a, b) };
    }
    small_gemm_loops(a, b)
}

/// [`small_gemm_loops`] compiled with AVX2 enabled.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn small_gemm_avx2<T: Float>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Array2<T> {
    small_gemm_loops(a, b)
}

/// The loops of [`small_gemm`], inlined into each caller so that they are compiled with its
/// target features.
#[inline(always)]
fn small_gemm_loops<T: Float>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Array2<T> {
    let ((m, k), n) = (a.dim(), b.ncols());
    if m == 0 || n == 0 || k == 0 {
        return Array2::zeros((m, n));
    }
    let along_n = n >= SKINNY && rows_contiguous(&b);
    let along_k = k >= SKINNY && rows_contiguous(&a) && columns_contiguous(&b);
    let along_m = m >= SKINNY && columns_contiguous(&a);
    if along_n || (!(along_k || along_m) && (n >= SKINNY || (k < SKINNY && m < SKINNY))) {
        let b = b.as_standard_layout();
        let c = gather_rows(a, b.as_slice().expect("standard"));
        return Array2::from_shape_vec((m, n), c).expect("m·n elements");
    }
    if along_k || (!along_m && k >= SKINNY) {
        let a = a.as_standard_layout();
        let bt = b.t();
        let bt = bt.as_standard_layout();
        let (a, bt) = (a.as_slice().expect("standard"), bt.as_slice().expect("standard"));
        let mut c = vec![T::zero(); m * n];
        dots(a, bt, k, &mut c);
        return Array2::from_shape_vec((m, n), c).expect("m·n elements");
    }
    // Along m: Cᵀ[j, :] += B[p, j]·Aᵀ[p, :], Aᵀ's rows being A's columns.
    let at = a.t();
    let at = at.as_standard_layout();
    let ct = gather_rows(b.t(), at.as_slice().expect("standard"));
    Array2::from_shape_vec((n, m), ct)
        .expect("n·m elements")
        .reversed_axes()
        .as_standard_layout()
        .into_owned()
}

/// `C = A·B` with B row-major in `b`: `C[i, :] = Σ_p A[i, p]·B[p, :]`, summed in the order of
/// `p` from zero. C is computed in blocks of 32 columns, held in registers over the whole sum.
#[inline(always)]
fn gather_rows<T: Float>(a: ArrayView2<'_, T>, b: &[T]) -> Vec<T> {
    const BLOCK: usize = 32;
    let ((m, k), n) = (a.dim(), b.len() / a.ncols().max(1));
    let mut c = vec![T::zero(); m * n];
    if n == 0 || k == 0 {
        return c;
    }
    for (c_row, a_row) in c.chunks_exact_mut(n).zip(a.rows()) {
        let full = n / BLOCK * BLOCK;
        for j0 in (0..full).step_by(BLOCK) {
            let mut acc = [T::zero(); BLOCK];
            for (&aip, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
                let b_block: &[T; BLOCK] = b_row[j0..j0 + BLOCK].try_into().expect("block");
                for l in 0..BLOCK {
                    acc[l] += aip * b_block[l];
                }
            }
            c_row[j0..j0 + BLOCK].copy_from_slice(&acc);
        }
        if full < n {
            let c_tail = &mut c_row[full..];
            for (&aip, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
                for (c, &b) in c_tail.iter_mut().zip(&b_row[full..]) {
                    *c += aip * b;
                }
            }
        }
    }
    c
}

/// `out[i·n + j] = Σ x[p]·y[p]` with `x` row `i` of `xs` and `y` row `j` of `ys` (rows of
/// `k` values one after another, `n` rows in `ys`): C along `k`. Each sum is
/// [`dot_plain`]'s, in 16 running sums (one vector register of f32 each for 8 lanes, two per
/// 16) added up in a fixed order at the end: vectorizable, and the same on every call. For
/// f32 with AVX2 the rows of `ys` go four at a time, sharing the loads of `x`, each summed
/// exactly as alone, and the CPU's level is checked once per product, not per element.
/// Timed on the AMD EPYC of 7 December in docs/performance.md (means of a million `Tensor`
/// products on one thread, three runs of each build in turn, one dot at a time → four rows
/// at a time): the small MLP's last layer, `[128, 64] · [3, 64]ᵀ`, 1.77-1.87 → 1.35-1.39 µs;
/// its first layer's weight gradient, `[128, 64]ᵀ · [128, 2]`, 1.55-1.61 → 1.32-1.37 µs.
#[inline(always)]
fn dots<T: Float>(xs: &[T], ys: &[T], k: usize, out: &mut [T]) {
    if k == 0 {
        out.fill(T::zero()); // sums of no terms
        return;
    }
    let n = ys.len() / k;
    #[cfg(target_arch = "x86_64")]
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() && crate::cpu::isa() >= crate::cpu::Isa::Avx2 {
        // SAFETY: T is f32 (same layout); the CPU has AVX2, hence AVX (cpu::isa).
        let (xs, ys, out) = unsafe { (as_f32(xs), as_f32(ys), as_f32_mut(out)) };
        for (x, out) in xs.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
            for (o, ys) in out.chunks_mut(4).zip(ys.chunks(4 * k)) {
                // SAFETY: as above.
                unsafe {
                    match o.len() {
                        1 => dots_f32_avx::<1>(x, ys, o),
                        2 => dots_f32_avx::<2>(x, ys, o),
                        3 => dots_f32_avx::<3>(x, ys, o),
                        _ => dots_f32_avx::<4>(x, ys, o),
                    }
                }
            }
        }
        return;
    }
    for (x, out) in xs.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
        for (o, y) in out.iter_mut().zip(ys.chunks_exact(k)) {
            *o = dot_plain(x, y);
        }
    }
}

/// A `[T]` that is a `[f32]`, as one to write.
///
/// # Safety
/// `T` must be `f32`.
#[cfg(target_arch = "x86_64")]
unsafe fn as_f32_mut<T>(x: &mut [T]) -> &mut [f32] {
    unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast(), x.len()) }
}

/// A `[T]` that is a `[f32]` as one.
///
/// # Safety
/// `T` must be `f32`.
#[cfg(target_arch = "x86_64")]
unsafe fn as_f32<T>(x: &[T]) -> &[f32] {
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast(), x.len()) }
}

/// One sum of [`dots`], by its definition.
#[inline(always)]
fn dot_plain<T: Float>(x: &[T], y: &[T]) -> T {
    const LANES: usize = 16;
    let mut acc = [T::zero(); LANES];
    let (xc, yc) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        let (xs, ys): (&[T; LANES], &[T; LANES]) = (xs.try_into().expect("chunk"), ys.try_into().expect("chunk"));
        for l in 0..LANES {
            acc[l] += xs[l] * ys[l];
        }
    }
    let mut tail = T::zero();
    for (&x, &y) in xr.iter().zip(yr) {
        tail += x * y;
    }
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            acc[l] += acc[l + width];
        }
        width /= 2;
    }
    acc[0] + tail
}

/// [`dot_plain`] of `x` with each of the first `G` rows of `ys` (rows of `x.len()` values)
/// into `out[..G]`, for f32 in two 8-lane registers per row (sums 0-7 and 8-15), the same
/// operations in the same order: LLVM vectorizes the plain loop two lanes at a time.
///
/// # Safety
/// The CPU must support AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
unsafe fn dots_f32_avx<const G: usize>(x: &[f32], ys: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let k = x.len();
    assert!(ys.len() >= G * k && out.len() >= G, "dots_f32_avx: {G} rows of {k}");
    let n = k / 16 * 16;
    let (mut lo, mut hi) = ([_mm256_setzero_ps(); G], [_mm256_setzero_ps(); G]);
    for i in (0..n).step_by(16) {
        // SAFETY: i + 16 <= n <= k, within x and within each of the G rows of ys.
        unsafe {
            let xp = x.as_ptr().add(i);
            let (x_lo, x_hi) = (_mm256_loadu_ps(xp), _mm256_loadu_ps(xp.add(8)));
            for g in 0..G {
                let yp = ys.as_ptr().add(g * k + i);
                lo[g] = _mm256_add_ps(lo[g], _mm256_mul_ps(x_lo, _mm256_loadu_ps(yp)));
                hi[g] = _mm256_add_ps(hi[g], _mm256_mul_ps(x_hi, _mm256_loadu_ps(yp.add(8))));
            }
        }
    }
    for (g, sum) in out[..G].iter_mut().enumerate() {
        let mut tail = 0.0f32;
        for (&x, &y) in x[n..].iter().zip(&ys[g * k + n..(g + 1) * k]) {
            tail += x * y;
        }
        let s8 = _mm256_add_ps(lo[g], hi[g]); // l + (l + 8)
        let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8)); // l + (l + 4)
        let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4)); // l + (l + 2)
        let s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2)); // l + (l + 1)
        *sum = _mm_cvtss_f32(s1) + tail;
    }
}

/// A view whose leading dimensions are a batch of matrices, with its dimension count fixed
/// where it can be (one or two batch dimensions), so that taking a matrix out of it is a few
/// index calculations rather than a dynamic shape's allocations.
enum Batch<'a, T> {
    One(ArrayView3<'a, T>),
    Two(ArrayView4<'a, T>),
    Many(ArrayViewD<'a, T>),
}

impl<'a, T> Batch<'a, T> {
    fn new(x: ArrayViewD<'a, T>) -> Self {
        match x.ndim() {
            3 => Batch::One(x.into_dimensionality().expect("3-D")),
            4 => Batch::Two(x.into_dimensionality().expect("4-D")),
            _ => Batch::Many(x),
        }
    }

    /// The `i`-th matrix, in row-major order of the batch indices.
    fn matrix(&self, i: usize) -> ArrayView2<'a, T> {
        match self {
            Batch::One(x) => (*x).index_axis_move(Axis(0), i),
            Batch::Two(x) => {
                let inner = x.len_of(Axis(1));
                (*x).index_axis_move(Axis(0), i / inner)
                    .index_axis_move(Axis(0), i % inner)
            }
            Batch::Many(x) => {
                let batch = &x.shape()[..x.ndim() - 2];
                let mut index = vec![0; batch.len()];
                let mut rest = i;
                for (at, &size) in index.iter_mut().zip(batch).rev() {
                    (*at, rest) = (rest % size, rest / size);
                }
                let view = index.iter().fold(x.clone(), |v, &at| v.index_axis_move(Axis(0), at));
                view.into_dimensionality::<Ix2>()
                    .expect("two dimensions after the batch")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product by definition, in f64.
    fn reference(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Array2<f64> {
        let ((m, k), n) = (a.dim(), b.ncols());
        Array2::from_shape_fn((m, n), |(i, j)| (0..k).map(|p| a[[i, p]] * b[[p, j]]).sum())
    }

    #[test]
    fn the_vectorized_f32_dot_is_the_plain_one_bit_for_bit() {
        for len in [0, 1, 15, 16, 17, 64, 100] {
            let x: Vec<f32> = (0..len).map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0).collect();
            let y: Vec<f32> = (0..len).map(|i| ((i * 53 % 19) as f32 - 9.0) / 3.0).collect();
            let mut one = [f32::NAN];
            dots(&x, &y, len, &mut one);
            assert_eq!(one[0].to_bits(), dot_plain(&x, &y).to_bits(), "length {len}");
            // Up to nine rows at once (groups of four and what is left): each its own dot.
            for rows in 1..=9 {
                let ys: Vec<f32> = (0..rows * len).map(|i| ((i * 29 % 31) as f32 - 15.0) / 5.0).collect();
                // Two rows of A, x and y: C is 2 x rows.
                let mut out = vec![f32::NAN; 2 * rows];
                dots(&[&x[..], &y[..]].concat(), &ys, len, &mut out);
                for (j, o) in out.iter().enumerate() {
                    let (a, b) = (if j < rows { &x } else { &y }, j % rows);
                    let want = dot_plain(a, &ys[b * len..(b + 1) * len]);
                    assert_eq!(
                        o.to_bits(),
                        want.to_bits(),
                        "length {len}, C[{}, {b}] of {rows}",
                        j / rows
                    );
                }
            }
        }
    }

    #[test]
    fn sums_of_no_terms_are_zeros_plus_the_bias() {
        // Shapes every path would take with terms (the f32 kernel: 8 rows, 32 columns).
        for (m, n) in [(8, 32), (3, 2), (64, 64)] {
            let a = Tensor::<f32>::zeros(&[m, 0]);
            let b = Tensor::<f32>::zeros(&[0, n]);
            let c = a.mm(&b, false, false).unwrap();
            assert_eq!((c.shape(), c.to_vec()), (&[m, n][..], vec![0.0; m * n]));
            let bias: Vec<f32> = (0..n).map(|j| j as f32).collect();
            let c = gemm(
                a.data.view().into_dimensionality().unwrap(),
                b.data.view().into_dimensionality().unwrap(),
                Some(ArrayView1::from(&bias[..])),
            );
            assert_eq!(c.row(m - 1).to_vec(), bias);
        }
    }

    #[test]
    fn every_path_and_layout_gives_the_product() {
        let dims = [1, 2, 3, 15, 16, 17, 40];
        for &m in &dims {
            for &k in &dims {
                for &n in &dims {
                    let a = Array2::from_shape_fn((m, k), |(i, p)| ((i * 7 + p * 3) % 11) as f64 - 5.0);
                    let b = Array2::from_shape_fn((k, n), |(p, j)| ((p * 5 + j * 2) % 13) as f64 - 6.0);
                    // Each operand row-major and column-major (a transposed view of a copy).
                    let (at, bt) = (
                        a.t().as_standard_layout().into_owned(),
                        b.t().as_standard_layout().into_owned(),
                    );
                    let want = reference(a.view(), b.view());
                    for (av, bv) in [
                        (a.view(), b.view()),
                        (at.t(), b.view()),
                        (a.view(), bt.t()),
                        (at.t(), bt.t()),
                    ] {
                        assert_eq!(gemm(av, bv, None), want, "{m}x{k}x{n}");
                        assert_eq!(small_gemm(av, bv), want, "{m}x{k}x{n}");
                    }
                }
            }
        }
    }

    #[test]
    fn few_rows_of_c_against_a_wide_b_give_the_product() {
        // 4 to 7 rows of C: the f32 kernel when B is wide enough, other paths when not; small
        // integers, so every path's sums are exact.
        for (m, k, n) in [(4, 3, 128), (5, 64, 300), (7, 25, 1000), (6, 40, 127), (3, 16, 256)] {
            let a = Array2::from_shape_fn((m, k), |(i, p)| ((i * 7 + p * 3) % 11) as f32 - 5.0);
            let b = Array2::from_shape_fn((k, n), |(p, j)| ((p * 5 + j * 2) % 13) as f32 - 6.0);
            let want = reference(a.mapv(f64::from).view(), b.mapv(f64::from).view()).mapv(|v| v as f32);
            let bt = b.t().as_standard_layout().into_owned();
            assert_eq!(gemm(a.view(), b.view(), None), want, "{m}x{k}x{n}");
            assert_eq!(gemm(a.view(), bt.t(), None), want, "{m}x{k}x{n}, B transposed");
        }
    }

    #[test]
    fn small_c_with_long_sums_or_a_narrow_b_gives_the_product_with_a_bias() {
        // C of at most LONG_DOTS_MAX_OUTPUTS elements, sums of LONG_DOTS_MIN_TERMS terms or more
        // (a weight gradient `g · columnsᵀ`), or B with fewer than SKINNY columns and sums of
        // SKINNY_DOTS_MIN_TERMS or more (a classifier's logits `x·Wᵀ`, the last two from
        // JOIN_GEMM multiply-adds): the long-dots path when B is a transposed row-major
        // matrix, the others when it is not. Small integers: exact sums.
        for (m, k, n) in [
            (6, 4099, 25),
            (16, 256, 9),
            (2, 1000, 3),
            (40, 300, 50),
            (64, 64, 10),
            (513, 100, 15),
            (4096, 128, 10),
            (8192, 64, 10),
        ] {
            let a = Array2::from_shape_fn((m, k), |(i, p)| ((i * 7 + p * 3) % 11) as f32 - 5.0);
            let x = Array2::from_shape_fn((n, k), |(j, p)| ((p * 5 + j * 2) % 13) as f32 - 6.0);
            let want = reference(a.mapv(f64::from).view(), x.t().mapv(f64::from).view()).mapv(|v| v as f32);
            let bias: Vec<f32> = (0..n).map(|j| j as f32).collect();
            let xt = x.t().as_standard_layout().into_owned();
            assert_eq!(gemm(a.view(), x.t(), None), want, "{m}x{k}x{n}");
            assert_eq!(gemm(a.view(), xt.view(), None), want, "{m}x{k}x{n}, B row-major");
            let with_bias = gemm(a.view(), x.t(), Some(ndarray::ArrayView1::from(&bias[..])));
            assert_eq!(
                with_bias,
                &want + &ndarray::ArrayView1::from(&bias[..]),
                "{m}x{k}x{n}, bias"
            );
        }
    }

    #[test]
    fn a_product_split_across_threads_is_the_one_thread_product() {
        // A matrixmultiply product split by rows, kernel products split by rows and by
        // columns, and the transposed operands of a backward.
        for (m, k, n) in [(256, 512, 256), (256, 256, 128), (64, 784, 256), (40, 1600, 136)] {
            assert!(m * k * n >= JOIN_GEMM);
            split_product_is_the_one_thread_product(m, k, n);
        }
    }

    /// `f` run in a pool of `threads` threads.
    fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(f)
    }

    fn split_product_is_the_one_thread_product(m: usize, k: usize, n: usize) {
        let a = Array2::from_shape_fn((m, k), |(i, p)| ((i * 7 + p * 3) % 11) as f32 / 3.0 - 1.5);
        let b = Array2::from_shape_fn((k, n), |(p, j)| ((p * 5 + j * 2) % 13) as f32 / 7.0 - 0.9);
        let bias: Vec<f32> = (0..n).map(|j| j as f32 / 5.0).collect();
        let bias = ndarray::ArrayView1::from(&bias[..]);
        let products = || {
            let (c, ct) = (gemm(a.view(), b.view(), None), gemm(b.t(), a.t(), None));
            (c, ct, gemm(a.view(), b.view(), Some(bias)))
        };
        let (one, two) = (in_pool(1, products), in_pool(2, products));
        assert_eq!(one, two, "{m}x{k}x{n}");
        // Each thread keeps B packed for the pieces of one product only: the next product
        // with a B of the same shape uses its own.
        let b2 = b.mapv(|v| v * 0.5 - 0.25);
        let second = || gemm(a.view(), b2.view(), None);
        let (c, c2) = in_pool(2, || (gemm(a.view(), b.view(), None), second()));
        assert_eq!((c, c2), (one.0.clone(), in_pool(1, second)), "{m}x{k}x{n}, a second B");
        assert_eq!(
            one.2,
            &one.0 + &bias,
            "{m}x{k}x{n}: the bias is added after the product"
        );
        let want = a.dot(&b);
        assert!(one
            .0
            .iter()
            .zip(&want)
            .all(|(x, y)| (x - y).abs() <= 1e-3 * y.abs().max(1.0)));
    }
}
