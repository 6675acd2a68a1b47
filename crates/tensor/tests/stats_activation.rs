//! `var` / `std` / `min` / `argmin`, and the elementwise functions of activation layers
//! (`rsqrt`, `erf`, `pow`, `gelu`, `silu`, `softplus`, `elu`), against PyTorch 2.15; `erf`'s
//! accuracy against the system's libm over a dense grid.

use ferrograd_tensor::{IndexTensor, Tensor};

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

/// Equal within `rel` relative (or `rel` absolute near 0), NaN equal to NaN, and same shape.
#[track_caller]
fn assert_close<T: ferrograd_tensor::Float>(actual: &Tensor<T>, expected: &[f64], shape: &[usize], rel: f64) {
    assert_eq!(actual.shape(), shape, "{actual}");
    for (i, (a, e)) in actual.to_vec().iter().map(|a| a.f64()).zip(expected).enumerate() {
        let ok = (a.is_nan() && e.is_nan()) || a == *e || (a - e).abs() <= rel * e.abs().max(1.0);
        assert!(ok, "element {i}: got {a}, expected {e} (all: {actual})");
    }
}

/// x = torch.tensor([[0.5, -1.25, 2.0, 3.5], [1.0, 0.25, -0.75, 4.0], [2.5, 2.5, -3.0, 0.125]], dtype=torch.float64)
fn x() -> Tensor<f64> {
    t(
        &[0.5, -1.25, 2.0, 3.5, 1.0, 0.25, -0.75, 4.0, 2.5, 2.5, -3.0, 0.125],
        &[3, 4],
    )
}

#[test]
fn var_and_std_match_pytorch() {
    let x = x();
    // x.var(dim=1)
    assert_close(
        &x.var_dim(&[1], 1, false).unwrap(),
        &[4.140625, 4.1875, 6.795572916666667],
        &[3],
        1e-14,
    );
    // x.var(dim=(0, 1), correction=0, keepdim=True)
    assert_close(
        &x.var_dim(&[0, -1], 0, true).unwrap(),
        &[3.868381076388889],
        &[1, 1],
        1e-14,
    );
    // x.std(dim=0, correction=2)
    assert_close(
        &x.std_dim(&[0], 2, false).unwrap(),
        &[
            1.4719601443879744,
            2.669269563007828,
            3.541421560145963,
            2.9808416037533205,
        ],
        &[4],
        1e-14,
    );
    // x.var(), x.std()
    assert_close(&x.var(1), &[4.220052083333333], &[], 1e-14);
    assert_close(&x.std(1), &[2.0542765352632864], &[], 1e-14);
    // dim=() reduces every dimension, as in PyTorch: torch.ones(2, 3).var(dim=()) -> tensor(0.)
    assert_close(
        &Tensor::<f64>::ones(&[2, 3]).var_dim(&[], 1, false).unwrap(),
        &[0.0],
        &[],
        0.0,
    );
    // N <= correction divides by zero: torch.tensor([1., 2, 3]).var(correction=5) -> inf,
    // torch.ones(1).var() -> nan
    assert_close(&t(&[1.0, 2.0, 3.0], &[3]).var(5), &[INF], &[], 0.0);
    assert_close(&Tensor::<f64>::ones(&[1]).var(1), &[NAN], &[], 0.0);
    // A 0-d tensor, and f32.
    assert_close(
        &Tensor::scalar(2.0f64).var_dim(&[0], 0, false).unwrap(),
        &[0.0],
        &[],
        0.0,
    );
    assert_close(
        &x.cast::<f32>().var_dim(&[1], 1, false).unwrap(),
        &[4.140625, 4.1875, 6.795572916666667],
        &[3],
        1e-6,
    );
}

#[test]
fn var_of_many_values_is_the_same_on_any_number_of_threads() {
    // Sums in blocks shared between threads (three and a bit blocks of 16 K values): the same
    // bits on one thread and on two, and within f32's rounding of the f64 definition.
    let n = 3 * (1 << 14) + 37;
    let values: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 / 100.0 - 3.0).collect();
    let x = Tensor::from_vec(values.clone(), &[n]).unwrap();
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| (x.var(1).item().unwrap(), x.std(0).item().unwrap()))
    };
    let (one, two) = (on(1), on(2));
    assert_eq!((one.0.to_bits(), one.1.to_bits()), (two.0.to_bits(), two.1.to_bits()));
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let ss: f64 = values.iter().map(|&v| (v as f64 - mean).powi(2)).sum();
    assert!(
        (one.0 as f64 - ss / (n - 1) as f64).abs() < 1e-5 * ss / n as f64,
        "{}",
        one.0
    );
    assert!((one.1 as f64 - (ss / n as f64).sqrt()).abs() < 1e-5, "{}", one.1);
}

#[test]
fn var_errors_name_the_op_and_dims() {
    let x = x();
    // x.var(dim=2) -> IndexError: Dimension out of range (expected to be in range of [-2, 1], but got 2)
    assert_eq!(
        x.var_dim(&[2], 1, false).unwrap_err().to_string(),
        "var: dimension out of range (expected to be in range of [-2, 1], but got 2)"
    );
    // torch.ones(2, 3).var(dim=(0, -2)) -> RuntimeError: dim 0 appears multiple times in the list of dims
    assert_eq!(
        x.std_dim(&[0, -2], 1, false).unwrap_err().to_string(),
        "std: dim 0 appears multiple times in the list of dims"
    );
}

#[test]
fn min_amin_argmin_match_pytorch() {
    let x = x();
    // x.min(), x.amin(1), x.argmin(0)
    assert_close(&x.min().unwrap(), &[-3.0], &[], 0.0);
    assert_close(&x.min_dim(1, false).unwrap(), &[-1.25, -0.75, -3.0], &[3], 0.0);
    assert_close(&x.min_dim(-1, true).unwrap(), &[-1.25, -0.75, -3.0], &[3, 1], 0.0);
    assert_eq!(x.argmin(0, false).unwrap(), IndexTensor::from_slice(&[0, 0, 2, 2]));
    // torch.tensor([3., 1, 1]).argmin() -> 1 (first of the ties)
    // torch.tensor([1., nan, 0, nan]).argmin() -> 1 (the first NaN); .min() -> nan
    assert_eq!(
        t(&[3.0, 1.0, 1.0], &[3]).argmin(0, false).unwrap(),
        IndexTensor::scalar(1)
    );
    let with_nan = t(&[1.0, NAN, 0.0, NAN], &[4]);
    assert_eq!(with_nan.argmin(0, false).unwrap(), IndexTensor::scalar(1));
    assert!(with_nan.min().unwrap().item().unwrap().is_nan());
    assert!(with_nan.min_dim(0, false).unwrap().item().unwrap().is_nan());
    assert_eq!(x.argmin(1, true).unwrap().shape(), &[3, 1]);
}

#[test]
fn min_errors_match_pytorch() {
    // torch.tensor([]).min() -> RuntimeError: min(): Expected reduction dim to be specified for input.numel() == 0. ...
    let e = Tensor::<f64>::zeros(&[0]).min().unwrap_err().to_string();
    assert!(
        e.starts_with("min: min(): Expected reduction dim to be specified"),
        "{e}"
    );
    // torch.tensor([[]]).amin(dim=1) -> IndexError: amin(): Expected reduction dim 1 to have non-zero size.
    let empty = Tensor::<f64>::zeros(&[1, 0]);
    assert_eq!(
        empty.min_dim(1, false).unwrap_err().to_string(),
        "min: Expected reduction dim 1 to have non-zero size (input shape [1, 0])"
    );
    assert!(empty
        .argmin(1, false)
        .unwrap_err()
        .to_string()
        .starts_with("argmin: Expected reduction dim 1"));
    assert!(x().min_dim(-3, false).unwrap_err().to_string().contains("got -3"));
}

/// xs = torch.tensor([-4.0, -1.5, -0.3, 0.0, 0.2, 1.0, 2.7, 6.0], dtype=torch.float32)
fn xs() -> Tensor<f32> {
    Tensor::from_vec(vec![-4.0, -1.5, -0.3, 0.0, 0.2, 1.0, 2.7, 6.0], &[8]).unwrap()
}

/// f32 results within a few ulp of PyTorch's.
const F32_TOL: f64 = 5e-7;

#[test]
fn activations_match_pytorch_in_f32() {
    let xs = xs();
    // F.gelu(xs)
    let gelu = [
        -0.0001264810562133789,
        -0.10021086037158966,
        -0.11462657898664474,
        0.0,
        0.11585193872451782,
        0.8413447141647339,
        2.6906394958496094,
        6.0,
    ];
    assert_close(&xs.gelu("none").unwrap(), &gelu, &[8], F32_TOL);
    // F.gelu(xs, approximate='tanh')
    let gelu_tanh = [
        -7.021427154541016e-05,
        -0.10042843222618103,
        -0.11462908238172531,
        0.0,
        0.11585142463445663,
        0.8411920070648193,
        2.6911122798919678,
        6.0,
    ];
    assert_close(&xs.gelu("tanh").unwrap(), &gelu_tanh, &[8], F32_TOL);
    // F.silu(xs)
    let silu = [
        -0.07194484025239944,
        -0.2736382782459259,
        -0.12766724824905396,
        0.0,
        0.10996679961681366,
        0.7310585975646973,
        2.5299718379974365,
        5.985164642333984,
    ];
    assert_close(&xs.silu(), &silu, &[8], F32_TOL);
    // F.softplus(xs, beta=2.0, threshold=5.0)
    let softplus = [
        0.00016770318325143307,
        0.024293676018714905,
        0.2187439650297165,
        0.3465735912322998,
        0.4565076231956482,
        1.0634640455245972,
        2.700000047683716,
        6.0,
    ];
    assert_close(&xs.softplus(2.0, 5.0), &softplus, &[8], F32_TOL);
    // F.elu(xs, alpha=0.7)
    let elu = [
        -0.6871790885925293,
        -0.5438088774681091,
        -0.1814272552728653,
        0.0,
        0.20000000298023224,
        1.0,
        2.700000047683716,
        6.0,
    ];
    assert_close(&xs.elu(0.7), &elu, &[8], F32_TOL);
    // F.elu(torch.tensor([-1e-8])) -> -9.99999993922529e-09 (expm1, not exp - 1)
    assert_close(&Tensor::scalar(-1e-8f32).elu(1.0), &[-9.99999993922529e-09], &[], 1e-7);
    // torch.erf(xs)
    let erf = [
        -1.0,
        -0.9661051630973816,
        -0.3286267817020416,
        0.0,
        0.22270259261131287,
        0.8427007794380188,
        0.9998656511306763,
        1.0,
    ];
    assert_close(&xs.erf(), &erf, &[8], F32_TOL);
    // torch.rsqrt(xs.abs() + 0.5)
    let rsqrt = [
        0.4714045524597168,
        0.7071067690849304,
        1.1180340051651,
        1.4142135381698608,
        1.1952285766601562,
        0.8164965510368347,
        0.55901700258255,
        0.3922322690486908,
    ];
    assert_close(&xs.abs().add_scalar(0.5).rsqrt(), &rsqrt, &[8], F32_TOL);
    // torch.pow(xs.abs().reshape(2, 4), torch.tensor([0.5, 2.0, -1.0, 3.0]))
    let exponent = Tensor::from_vec(vec![0.5f32, 2.0, -1.0, 3.0], &[4]).unwrap();
    let pow = [
        2.0,
        2.25,
        3.3333332538604736,
        0.0,
        0.4472135901451111,
        1.0,
        0.37037035822868347,
        216.0,
    ];
    assert_close(
        &xs.abs().reshape(&[2, 4]).unwrap().pow(&exponent).unwrap(),
        &pow,
        &[2, 4],
        F32_TOL,
    );
}

#[test]
fn activation_errors_match_pytorch() {
    // F.gelu(x, approximate='foo') -> RuntimeError: approximate argument must be either none or tanh.
    assert_eq!(
        xs().gelu("foo").unwrap_err().to_string(),
        "gelu: approximate argument must be either none or tanh. (got \"foo\")"
    );
    // torch.pow(torch.ones(3), torch.ones(2)) -> RuntimeError: The size of tensor a (3) must match ...
    let e = xs().pow(&Tensor::ones(&[3])).unwrap_err().to_string();
    assert_eq!(e, "pow: shapes [8] and [3] cannot be broadcast together");
    // The one-pass gradients refuse a gradient of another shape than the saved tensor's.
    let g = Tensor::<f32>::ones(&[3]);
    let e = g.elu_backward(&xs(), 1.0).unwrap_err().to_string();
    assert!(
        e.contains("elu_backward") && e.contains("[3]") && e.contains("[8]"),
        "{e}"
    );
}

extern "C" {
    /// The system's C library `erf` (glibc's, accurate to within 1 ulp), linked with std.
    #[link_name = "erf"]
    fn libc_erf(x: f64) -> f64;
}

/// The distance in units in the last place between two finite `f64`s of the same sign.
fn ulps64(a: f64, b: f64) -> u64 {
    if a == b {
        return 0;
    }
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
}

fn ulps32(a: f32, b: f32) -> u32 {
    if a == b {
        return 0;
    }
    (a.to_bits() as i32 - b.to_bits() as i32).unsigned_abs()
}

/// The accuracy the `Float::erf` docs claim: over 400,001 points of `[-8, 8]` (and tiny
/// arguments near 0), `f64` erf is within 1 ulp of the system libm's and `f32` erf within
/// 1 ulp of the libm value rounded to `f32` (the correctly rounded result to within
/// libm's own error).
#[cfg(target_os = "linux")]
#[test]
fn erf_is_within_one_ulp_of_libm_on_a_dense_grid() {
    let grid = (0..=400_000)
        .map(|i| -8.0 + 16.0 * i as f64 / 400_000.0)
        .chain((-300..=300).map(|e| (e as f64 * 0.1).exp2() * 1e-10));
    let (mut worst64, mut worst32) = (0u64, 0u32);
    for x in grid {
        let reference = unsafe { libc_erf(x) };
        let x64 = Tensor::scalar(x).erf().item().unwrap();
        worst64 = worst64.max(ulps64(x64, reference));
        let x32 = x as f32;
        let reference32 = unsafe { libc_erf(x32 as f64) } as f32;
        let got32 = Tensor::scalar(x32).erf().item().unwrap();
        worst32 = worst32.max(ulps32(got32, reference32));
    }
    assert!(worst64 <= 1, "f64 erf: {worst64} ulp from libm");
    assert!(worst32 <= 1, "f32 erf: {worst32} ulp from libm rounded to f32");
}
