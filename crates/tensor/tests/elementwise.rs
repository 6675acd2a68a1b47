//! Elementwise ops of one or two tensors, and of broadcast operands, against the same
//! arithmetic done value by value, at sizes that run on one thread and sizes shared between
//! threads in blocks (with a last block cut short), for closures that capture what they read
//! by reference.

use ferrograd_tensor::{Float, Tensor};

/// A few values, one block of the loops' local staging and a part, a thousand, and more than
/// `2^17` (shared between threads) ending in a part of a block.
const SIZES: [usize; 5] = [5, 65, 1000, 300_001, 1 << 18];

fn tensor<T: Float>(len: usize, seed: u64) -> Tensor<T> {
    shaped(&[len], seed)
}

fn shaped<T: Float>(shape: &[usize], seed: u64) -> Tensor<T> {
    let len: usize = shape.iter().product();
    let values = (0..len as u64)
        .map(|i| T::of(((i * 37 + seed) % 1009) as f64 / 64.0 - 7.0))
        .collect();
    Tensor::from_vec(values, shape).unwrap()
}

fn check<T: Float>() {
    let (s, t) = (T::of(1.25), T::of(-0.5));
    for len in SIZES {
        let (a, b) = (tensor::<T>(len, 1), tensor::<T>(len, 5));
        let (av, bv) = (a.to_vec(), b.to_vec());
        let each = |f: &dyn Fn(T, T) -> T| -> Vec<T> { av.iter().zip(&bv).map(|(&x, &y)| f(x, y)).collect() };
        assert_eq!(a.add(&b).unwrap().to_vec(), each(&|x, y| x + y), "add, {len} values");
        assert_eq!(a.mul(&b).unwrap().to_vec(), each(&|x, y| x * y), "mul, {len} values");
        let zipped = a.zip_map(&b, "test", |x, y| x * s - y).unwrap();
        assert_eq!(zipped.to_vec(), each(&|x, y| x * s - y), "zip_map, {len} values");
        assert_eq!(
            a.mul_scalar(s).to_vec(),
            each(&|x, _| x * s),
            "mul_scalar, {len} values"
        );
        assert_eq!(
            a.map(|x| x * s + t).to_vec(),
            each(&|x, _| x * s + t),
            "map, {len} values"
        );
        let mut c = a.clone();
        c.map_inplace(|x| x * s + t);
        assert_eq!(c.to_vec(), each(&|x, _| x * s + t), "map_inplace, {len} values");
        assert_eq!(a.to_vec(), av, "map_inplace changed the tensor it was cloned from");
    }
}

/// Broadcast operands, small and big enough to be shared between threads, with runs (the
/// last dimensions read as one loop) shorter than a block, longer than one, and one run for
/// the whole result; against the operands broadcast first (a copy) and then zipped.
fn check_broadcast<T: Float>() {
    let s = T::of(1.25);
    let cases: [(&[usize], &[usize]); 6] = [
        (&[3, 4], &[4]),
        (&[300_001], &[1]),
        (&[1], &[300_001]),
        (&[1, 1000], &[517, 1]),
        (&[64, 3, 40, 40], &[1, 3, 1, 1]),
        (&[2, 300, 500], &[300, 500]),
    ];
    for (sa, sb) in cases {
        let (a, b) = (shaped::<T>(sa, 1), shaped::<T>(sb, 5));
        let got = a.zip_map(&b, "test", |x, y| x * s - y).unwrap();
        let shape = got.shape().to_vec();
        let (av, bv) = (
            a.broadcast_to(&shape).unwrap().to_vec(),
            b.broadcast_to(&shape).unwrap().to_vec(),
        );
        let want: Vec<T> = av.iter().zip(&bv).map(|(&x, &y)| x * s - y).collect();
        assert_eq!(got.to_vec(), want, "{sa:?} with {sb:?}");
    }
}

#[test]
fn broadcast_ops_give_every_value_f32() {
    check_broadcast::<f32>();
}

#[test]
fn broadcast_ops_give_every_value_f64() {
    check_broadcast::<f64>();
}

#[test]
fn elementwise_ops_give_every_value_at_every_size_f32() {
    check::<f32>();
}

#[test]
fn elementwise_ops_give_every_value_at_every_size_f64() {
    check::<f64>();
}
