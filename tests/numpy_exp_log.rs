//! The example's NumPy float32 `exp` and `log` (`examples/support/numpy_f32.rs`) against real
//! NumPy on 2^20 inputs each: the results' bits, hashed per block of 2^14, must equal the
//! hashes that `tests/fixtures/generate_numpy.py` wrote from `np.exp` / `np.log`.

#[allow(dead_code)]
#[path = "../examples/support/numpy_f32.rs"]
mod numpy_f32;

const N: usize = 1 << 20;
const BLOCK: usize = 1 << 14;
const FIXTURE: &str = include_str!("fixtures/numpy_exp_log_f32.txt");

/// `n` outputs of splitmix64 from `state`, as the script draws them.
fn splitmix64(mut state: u64, n: usize) -> Vec<u64> {
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
        .collect()
}

fn fnv1a64(bits: &[u32]) -> u64 {
    bits.iter()
        .flat_map(|b| b.to_le_bytes())
        .fold(0xCBF2_9CE4_8422_2325, |h, byte| {
            (h ^ byte as u64).wrapping_mul(0x100_0000_01B3)
        })
}

/// The script's `exp_inputs()`.
fn exp_inputs() -> Vec<f32> {
    let mut x: Vec<f32> = splitmix64(0x5EED_F00D, N)
        .into_iter()
        .map(|w| (-104.0 + 193.0 * ((w >> 40) as f64 / (1u64 << 24) as f64)) as f32)
        .collect();
    x[..9].copy_from_slice(&[
        1.0,
        2.0,
        4.0,
        5.0,
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
    ]);
    x
}

/// The script's `log_inputs()`.
fn log_inputs() -> Vec<f32> {
    let mut x: Vec<f32> = splitmix64(0x106_F00D, N)
        .into_iter()
        .map(|w| f32::from_bits((w >> 33) as u32))
        .collect();
    let seed_p = [0x3F5E_BB80, 0x3F6B_A2FE, 0x3F6B_A2FC].map(f32::from_bits);
    x[..3].copy_from_slice(&seed_p);
    x[3..9].copy_from_slice(&[1.0, 0.0, -0.0, -1.0, f32::INFINITY, f32::NAN]);
    x
}

fn check(name: &str, f: fn(f32) -> f32, inputs: Vec<f32>) {
    let expected: Vec<&str> = FIXTURE
        .lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .collect();
    assert_eq!(expected.len(), N / BLOCK, "{name}: one hash per block in the fixture");
    let bits: Vec<u32> = inputs.iter().map(|&x| f(x).to_bits()).collect();
    let mut wrong = Vec::new();
    for (i, (block, want)) in bits.chunks(BLOCK).zip(&expected).enumerate() {
        if format!("{:016x}", fnv1a64(block)) != *want {
            wrong.push(i);
        }
    }
    let first: Vec<String> = bits[..9].iter().map(|b| format!("{b:08x}")).collect();
    assert!(
        wrong.is_empty(),
        "{name}: blocks {wrong:?} of {} differ from NumPy; first results {}",
        N / BLOCK,
        first.join(" ")
    );
}

#[test]
fn exp_matches_numpy_on_a_million_inputs() {
    check("exp", numpy_f32::exp, exp_inputs());
}

#[test]
fn log_matches_numpy_on_a_million_inputs() {
    check("log", numpy_f32::ln, log_inputs());
}

#[test]
fn e_is_one_ulp_above_the_correctly_rounded_value() {
    // np.exp(np.float32(1)).view(np.uint32) == 0x402df855
    assert_eq!(numpy_f32::exp(1.0).to_bits(), 0x402d_f855);
    assert_eq!(1f32.exp().to_bits(), 0x402d_f854);
}

#[test]
fn the_seed_loop_gives_the_seeds_number() {
    // The seed's NumPy loop: e = np.exp(row) (float32); p = e[y] / e.sum(); loss += -np.log(p)
    // into a float64; loss / 3. It printed 0.10165966302156448.
    let logits = [[1.0f32, 4., 1., 1.], [5., 1., 2., 1.], [1., 2., 5., 1.]];
    let mut sum = 0.0f64;
    for (row, y) in logits.iter().zip([1, 0, 2]) {
        let e = row.map(numpy_f32::exp);
        let p = e[y] / e.iter().sum::<f32>();
        sum += -numpy_f32::ln(p) as f64;
    }
    assert_eq!(sum / 3.0, 0.10165966302156448);
}
