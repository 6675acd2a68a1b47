//! Every size that picks a path: when work is shared between threads, which matrix-product
//! loop runs, how long an idle thread waits awake, which buffers are kept for reuse, and how
//! the C allocator is set up. Each value sits beside the measurement it follows from (on the
//! 2-core AVX-512 machine of docs/performance.md; release build, medians of repeated runs).
//!
//! The values only choose between paths that give the same result: a product or a loop gives
//! the same numbers, bit for bit, whichever side of a threshold it falls on (the tests of
//! `linalg` and `parallel` check the paths against each other).

use std::time::Duration;

// --- Sharing work between threads (crate::parallel) ---

/// Below this many elements of work a loop runs on the calling thread: handing blocks to
/// other threads costs a few microseconds.
pub const PARALLEL_MIN_WORK: usize = 1 << 15;

/// Loops over rows or planes whose pieces are the caller's to choose (LayerNorm's rows, max
/// pooling's planes, attention's and batched matmul's matrices) hand them out in blocks of
/// about this many values (multiply-adds, for matrices): a block is then a few
/// microseconds of work, worth a hand-off, and 512x64 LayerNorm rows make 8 blocks. Blocks are
/// fixed by the shape alone, so sums over blocks do not depend on the number of threads.
/// LayerNorm 512x64 forward and backward: 24.5-25.4 µs on one thread, 17.0-17.3 µs in blocks.
pub const ROW_BLOCK_VALUES: usize = 1 << 12;

/// An optimizer's step updates its parameters in blocks of this many values (a few µs of
/// Adam's square root and two divisions per value, as [`ROW_BLOCK_VALUES`] for rows), shared
/// between threads from [`PARALLEL_MIN_WORK`] values in all. Measured on 7 December (a
/// scratch program, medians of 3,000 steps, three runs): AdamW over the char transformer's
/// 204,544 values took 116-127 µs one parameter after another on one thread, 74-77 µs in
/// these blocks on two.
pub const OPTIMIZER_BLOCK: usize = 1 << 12;

/// With two threads, a loop's blocks are handed out in at most this many runs: enough for a
/// thread slowed down by the host to leave most of the work to the other, few enough that
/// taking a run (an atomic exchange and a lock) costs nothing next to the run.
pub const JOIN_RUNS: usize = 32;

/// How long `join`'s helper thread spins for the next piece before it parks. A piece it has
/// not started when the caller is done with its own is taken back by the caller, so a parked
/// helper costs only the parallelism of the pieces posted while it wakes, never a wait.
///
/// Measured on the char transformer (`char_lm --type transformer`, 150 steps, three runs of
/// each): with 500 µs the helper's spinning was 17% of the process's cycles (`perf`) and the
/// process used 6.5-7.0 s of CPU; with 50 µs, 5.8-6.1 s and `helper_loop` 1.8% of the
/// cycles; with no spin at all, 5.6-5.8 s. Pieces of a step come every few µs, so 50 µs still
/// catches the next piece of the same op, and the helper sleeps between steps and during
/// evaluation. (The times per step of those runs, on a host running other builds, varied
/// more between runs than between settings.) Measured again on 5 December on the Intel
/// machine of docs/performance.md, benchmark builds run in turn: with 300 µs,
/// `model_step/digits_cnn` went from 906-908 to 791-815 µs but `model_step/char_transformer`
/// from 6.8-7.1 to 8.8-9.0 ms; with 5 µs both were slower (the transformer 10.1 ms).
pub const SPIN: Duration = Duration::from_micros(50);

/// After [`SPIN`], the helper naps this long at a time (a timed sleep: about 70 µs with
/// Linux's default timer slack) until [`DOZE`] has passed without a piece, and only then
/// parks. Waking a parked thread is a `futex` system call made by the caller, and on the Intel
/// machine of docs/performance.md it cost 4-9 µs each time: `perf` of `model_step/digits_cnn`
/// showed 7% of the main thread's samples in `unpark`, mostly before the copies of
/// convolution outputs. A caller that posts a piece while the helper naps makes no system call
/// and, if the helper is still asleep when its own piece is done, runs both. Measured on
/// 5 December (benchmark builds in turn, two or three rounds): `model_step/digits_cnn`
/// 859-922 → 787-810 µs, `char_gru` 1.52-1.53 → 1.47 ms, `char_mlp` and `char_transformer`
/// unchanged.
pub const NAP: Duration = Duration::from_micros(20);

/// How long the helper naps without a piece before it parks (see [`NAP`]): long enough to
/// bridge the gaps inside a training step and between steps, short enough that an idle
/// program's helper is soon asleep for good.
pub const DOZE: Duration = Duration::from_millis(20);

// --- Matrix products (crate::linalg, crate::kernels::gemm) ---

/// Where the f32 AVX-512 kernel cannot run (f64, AVX2 or scalar, fewer than 8 rows or 16
/// columns), products with at most this many multiply-adds run in `small_gemm`'s plain loops,
/// larger ones in matrixmultiply. On the tables of docs/performance.md ("Matrix products")
/// matrixmultiply takes 16x16x16 (4 096, the bound before) faster than the loops (0.3
/// against 0.6-0.8 µs) and 8x8x8 too (0.11 against 0.18 µs); the loops keep 4x4x4 (0.08
/// against 0.11 µs).
pub const SMALL_GEMM: usize = 1 << 8;

/// A product with a dimension below this is skinny: matrixmultiply's kernel works on 8x8
/// blocks of C padded to full size, and packs all of A and B.
pub const SKINNY: usize = 16;

/// Skinny products (without the kernel) with at most this many multiply-adds run in the
/// plain loops: there, matrixmultiply's packing and padding cost more than the arithmetic
/// (the 2-64 bench's 128x64x2, 1.1 against 2.3 µs; the spiral's 32x64x3, 0.4 against 0.8 µs;
/// the digits' 64x128x10, 3.4 against 3.6 µs), while above, matrixmultiply is 2-5 times
/// faster (the digits' conv1 backward, 4096x16x9: 103 against 55 µs; 16ᵀx4096x9: 102
/// against 22 µs; 4096x16x4: 47 against 22 µs).
pub const SMALL_SKINNY_GEMM: usize = 1 << 17;

/// A product with 4 to 7 rows of C (half a block of the f32 kernel's 8, or more) goes to the
/// kernel when B has at least this many columns, to matrixmultiply (or the plain loops)
/// otherwise. The kernel packs all of B for a single block of rows, which pays when the rows
/// are several and B is wide. Timed on 5 December (µs, matrixmultiply → kernel): LeNet's
/// first convolution `[6, 25] · [25, 36864]` 361 → 180; 4x64x4096 82 → 72; 6x150x2048 105 →
/// 97; 6x64x256 5.1 → 4.7; 6x256x512ᵀ 48 → 32; 7x128x300 11.9 → 8.7; 4x784x128ᵀ 38 → 30; but
/// 6x36864x25ᵀ (its weight gradient) 440 → 822, 3x64x128 1.2 → 1.6, 2x64x1024 9.9 → 11.1,
/// 1x784x128ᵀ 7.3 → 26.5, which stay.
pub const SHORT_KERNEL_MIN_COLUMNS: usize = 128;
/// The f32 kernel reads B where it lies, instead of copying it into panels, when B's rows are
/// contiguous and at most this many rows of A read each panel (one kernel call per panel):
/// packing is then a copy of B that nothing reads twice. Timed on 6 December (µs, packed → in
/// place, two threads): LeNet's first convolution `[6, 25] · [25, 36864]` 158-163 → 127-133.
/// With 16 or 32 rows a product alone was faster too (a convolution's `[16, 144] · [144, 1024]`
/// 26-29 → 24-25), and with rows of B close together at any number of rows (weight gradients
/// `gᵀ·x`, 192ᵀx512x64 85-87 → 53-54), but not within the models' steps: at 32 rows the
/// `conv2d_16x16x8x8_k3` step went from 205-212 to 220-227 µs (but the build with packed
/// panels alone measured 215-225 against 212-216 too: within the step's noise), and reading
/// close rows in place took the transformer step from 5.98-6.28 to 6.37-6.59 ms (old and new
/// builds in turn, 3 rounds).
pub const GEMM_B_IN_PLACE_MAX_ROWS: usize = 8;
/// Products with 2 rows of C or more, A's rows and B's columns contiguous (`x·Wᵀ`, `g ·
/// columnsᵀ`), go to `kernels::long_dots` (each element a dot product, its rows read in tiles
/// of 3x4) when C has at most this many elements and the sums at least
/// [`LONG_DOTS_MIN_TERMS`] terms, or when B has fewer than [`SKINNY`] columns (which the f32
/// kernel cannot take) and the sums at least [`SKINNY_DOTS_MIN_TERMS`] (twice that from
/// [`JOIN_GEMM`] multiply-adds). Timed on 7 December on the AMD EPYC (µs, medians of 9, two
/// threads, the fastest other path → long dots; the others: the f32 kernel, the plain loops,
/// matrixmultiply, and the path `gemm` chose), after the tile's sums stopped going through
/// memory (see `kernels/long_dots.rs`):
/// - small C, long sums: LeNet's first weight gradient `[6, 36864] · [36864, 25]` 261 → 62
///   (133 before that change), 16x4096x9 20.5 → 6.1, 32x4096x16 28 → 13, 3x2048x100 20 → 4.1,
///   20x1024x20 9.2 → 2.8, 128x512x16 17 → 5.6, 8x256x256 8.8 → 5.3, 64x512x32 8.8 → 5.7;
/// - B with fewer than 16 columns (a classifier's logits): 64x128x10 2.2 → 1.6, 64x256x10
///   3.7 → 2.6, 64x784x10 10 → 4.2 (these two small C as well), 512x64x10 11 → 7.8, 1024x128x10 35 → 20, 512x1024x10 112
///   → 51, 4096x128x10 113 → 97, 16384x256x10 881 → 649, 32x64x3 0.29 → 0.25, 64x64x4 0.64
///   → 0.50; 64x48x10 1.32 → 1.26 and 64x32x10 1.08 → 1.14 (below the bound); from
///   `JOIN_GEMM` with 64 terms, matrixmultiply on two threads is faster: 8192x64x10 113 →
///   142, 4096x64x15 59 → 75;
/// - then, with rows of C in blocks when A is the larger operand (each block of A read once
///   instead of once per 4 columns; builds in turn, two rounds): 32768x256x10 4.9-6.1 ms →
///   0.78-1.64 (the plain loops: 2.0; A is 32 MiB, past the L3 cache), 16384x256x10 667-705 →
///   353, 4096x784x10 333-342 → 204-217, 512x1024x10 50-52 → 32-36, 16x256x9 0.78-1.75 →
///   0.62-0.65, 16x4096x9 6.1-8.0 → 4.9-6.2, but 32x4096x16 13.1-14.6 → 14.4-15.4;
/// - past the bound of outputs, mixed: 32x512x128 10.9 → 13.0, 64x128x27 2.6 → 3.2, 512x64x27
///   8.0 → 14.6, but 256x256x16 16 → 6.6, 64x256x64 8.7 → 7.9, 32x1024x128 21 → 21.
pub const LONG_DOTS_MAX_OUTPUTS: usize = 2048;
/// See [`LONG_DOTS_MAX_OUTPUTS`].
pub const LONG_DOTS_MIN_TERMS: usize = 256;
/// See [`LONG_DOTS_MAX_OUTPUTS`].
pub const SKINNY_DOTS_MIN_TERMS: usize = 64;
/// Products with at least this many multiply-adds leave the f32 AVX-512 kernel (which does
/// not block for caches) for matrixmultiply (which does). The kernel was the faster at every
/// size measured, from 16x16x16 (0.2 against 0.3 µs) to 1024x1024x1024 (39 against 56 ms)
/// and the char MLP's 512x1024x64 (400 against 660 µs, where the bound was 2²⁵ before and
/// sent that product to matrixmultiply); above 1024³, unmeasured, matrixmultiply takes over.
pub const KERNEL_MAX_GEMM: usize = (1 << 30) + 1;

/// Products with at least this many multiply-adds are shared between threads (with two, this
/// one and `parallel::join`'s helper). What the helper reads of the operands and writes of
/// C has to cross between the cores, and later writes by this thread (an optimizer updating
/// the weights the helper read) wait for the helper's copies to be invalidated. How much that
/// costs depends on where the host places the two cores: for the 784-128-128-10 step (products
/// of 1-6.4 M) splitting gave 250-300 µs in some runs and 500-630 µs in others, against a
/// steady 388 µs on one thread; for a 2-64-64-3 step (0.5 M) 64 against 69 µs, or 115.
/// Measured again on 5 December with the kernels of today, each bound right after the other on
/// an idle machine: from 2²³ down to 2²¹ (the char transformer's 512x64x192, 512x64x256 and
/// 512x256x64 products, 6-8 M, now shared) its step went from 4.04-4.40 ms to 3.65-3.89 ms
/// (`model_step/char_transformer`, five runs each), `char_gru` and `digits_cnn` 1-4% faster,
/// while the 784-128-128-10 step went from 176-185 µs to 157-214 µs: faster or slower by
/// run, as above.
pub const JOIN_GEMM: usize = 1 << 21;

/// Softmax and log_softmax rows along the last dimension of at most this many values go a
/// block of rows at a time through elementwise passes (`softmax::short_rows`), longer ones
/// row by row through the row kernels. Timed on 6 December (µs, softmax of 32 K values in rows of `c`, row
/// kernels → passes over blocks, medians of 11, two runs): `c` = 16 50.8-51.4 → 20.5-20.6,
/// 32 27.4-27.6 → 15.1-15.8, 64 16.5-17.3 → 11.8-12.1, 128 11.5-12.0 → 10.6-11.0, 256
/// 9.7-10.3 → 10.5-10.7, 1024 9.0-9.4 → 11.7; of 256 K values, 128 88.8-89.2 → 76.7-77.3,
/// 256 71.2-72.2 → 75.5-76.2.
pub const SHORT_SOFTMAX_ROW: usize = 128;

/// Each value of such short rows counts as this many elements of work for
/// [`PARALLEL_MIN_WORK`]: a row costs a max, a sum and a division or logarithm besides its
/// values, so from 4 K values on the rows are shared between threads. Timed on 6 December
/// (µs, log_softmax / softmax, medians of 15 runs of 300, one value as 1, 4 and 8 elements of
/// work): `[128, 27]` 6.2 / 3.3, 4.5 / 3.2, 4.3 / 3.2; `[256, 27]` 9.2 / 7.7, 9.3 / 6.6,
/// 6.2 / 4.6; `[512, 27]` 19.0 / 13.2, 12.2 / 8.9, 12.0 / 9.0; `[1024, 16]` 29.3 / 20.0,
/// 16.5 / 11.5, 15.7 / 11.5; `[512, 64]` and `[256, 128]` (already shared) 12.5-14.9 in all.
pub const SHORT_SOFTMAX_WORK: usize = 8;

// --- Windows of convolution (crate::conv) ---
/// A "same" convolution's im2col and col2im over several channels go through the channels'
/// planes laid one after the other (one loop per row of the columns, after a copy of the
/// input or before one of the result: `conv::same`) when a plane has at most this many
/// values; larger planes, one loop per plane, need no copy. With one channel there is no
/// copy, and the planes are always laid so. Timed alone on 5 December, 3x3 windows with
/// padding 1 (im2col / col2im in µs, plane by plane → laid one after the other):
/// `[64, 16, 4, 4]` 40 / 44 → 23 / 28; `[64, 16, 6, 6]` 53 / 59 → 33 / 42; `[32, 16, 8, 8]`
/// 38 / 41 → 29 / 37; `[16, 16, 8, 8]` 22 / 22 → 22 / 23; `[32, 16, 14, 14]` 92 / 82 →
/// 117 / 101; `[8, 3, 32, 32]` 35 / 31 → 47 / 46.
pub const SHIFTED_MAX_PLANE: usize = 64;

/// A convolution's batch is split into this many chunks of samples (or one per sample), each
/// convolved on one thread from its own columns (`conv::chunks`); the chunks are shared
/// between threads from [`JOIN_GEMM`] multiply-adds on, as a product's pieces are. Timed on 6
/// December against the ops one after the other (im2col, one product, the output's copy, each
/// shared between the threads on its own), three rounds of each build in turn (µs,
/// `conv2d_16x16x8x8_k3` / `digits_cnn`): before 197-217 / 702-712; 2 chunks 121-132 /
/// 630-678; 4 chunks 137-150 / 630-678; 8 chunks 158-159 / 685-693. Sharing from a quarter
/// of `JOIN_GEMM` (the digits CNN's first convolution, 0.6 M) made its step no faster
/// (658-711 against 630-652).
pub const CONV_CHUNKS: usize = 2;

/// Loops that do little per value and write memory another thread would then have to fetch
/// (max pooling, `Tensor::map`'s closures, a gradient updated in place by `zip_assign`) count
/// this many values as one element of work for [`PARALLEL_MIN_WORK`], so that they are shared
/// between threads from 2¹⁷ values on. Measured on 5 December, medians of 15 runs of 300,
/// one thread against two: `Tensor::max_pool2d` of 2x2 windows, `[64, 16, 8, 8]` (65 K
/// values) 27 against 29-32 µs, `[64, 32, 8, 8]` (131 K) 53 against 46 µs, `[64, 32, 16, 16]`
/// (524 K) 259-264 against 208-214 µs; ReLU, a scalar product and a sum of 32 K values,
/// forward and backward, with `map` and `zip_assign` shared from 32 K values: 28 µs on one
/// thread against 40 on two.
pub const CHEAP_VALUES_PER_WORK: usize = 4;

// --- Buffers kept for reuse (crate::parallel::output_vec / recycle) ---
/// Buffers smaller than this are not kept by `recycle`: the allocator reuses them by itself
/// (see [`MMAP_THRESHOLD`]).
pub const SPARE_MIN_BYTES: usize = 1 << 20;
/// At most this many spare buffers are kept (the oldest goes first).
pub const SPARE_MAX: usize = 2;
/// At most this many bytes of spare buffers are kept.
pub const SPARE_MAX_BYTES: usize = 1 << 30;
/// Fresh buffers of at least this many bytes are marked for transparent huge pages, so that
/// writing one faults in 2 MiB pages instead of 4 KiB ones (a 250 MiB gradient: 125 faults,
/// not 64 000). Two huge pages: a smaller buffer may not hold a whole aligned one.
pub const HUGE_PAGE_MIN_BYTES: usize = 4 << 20;

// --- The C allocator (glibc's malloc, set once: crate::parallel::memory) ---

/// Allocations up to this many bytes come from malloc's heap, whose freed memory the next
/// allocation reuses; larger ones are mapped fresh from the kernel, which faults in and clears
/// every page at its first write. glibc's default starts at 128 KiB and rises only to the size
/// of the largest mapped block freed so far, so the char transformer's 128 KiB-2 MiB
/// activations and gradients were mapped and unmapped every step: 1 600 page faults per step,
/// against 0-1 with this value (docs/performance.md, "Page faults"). 32 MiB is the most glibc
/// accepts on 64-bit targets; larger buffers go through [`SPARE_MIN_BYTES`]'s spare buffers.
pub const MMAP_THRESHOLD: usize = 32 << 20;

/// Free memory at the top of malloc's heap is given back to the kernel only past this many
/// bytes: twice [`MMAP_THRESHOLD`], as glibc sets it when it raises the threshold itself.
/// Given back, it would come back as fresh pages at the next step; kept, a training loop
/// reuses it. `release_spare_buffers` gives it back on request (`malloc_trim`).
pub const TRIM_THRESHOLD: usize = 2 * MMAP_THRESHOLD;

// --- Selection (crate::select) ---

/// Up to this `k`, and for lanes of at least `8·k` values, `topk` keeps the few best in one
/// pass (`select::few_best`); otherwise it selects with `select_nth_unstable_by`. On lanes of 1024 values (`[1024, 1024]`, scratch
/// program, medians of 11): `k` = 5 17.0-17.7 → 1.8-1.9 ms, 32 18.5-19.2 → 8.5-8.7 ms; a
/// lane of 27 values with `k` = 5 (a sampling step's top-k) 0.42-0.44 µs by the selection,
/// 0.47-0.48 by the pass.
pub const TOPK_FEW: usize = 32;
