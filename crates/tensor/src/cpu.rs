//! Which instruction set the kernels use: the best the CPU has, or a lower one if the
//! environment variable `FERROGRAD_ISA` asks for it (`scalar`, `avx2` or `avx512`), so that the
//! portable paths can be tested and timed on a machine that has more. Read once per process.

use std::sync::OnceLock;

/// The instruction sets the kernels are built for, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Plain Rust for the baseline target (SSE2 on x86-64).
    Scalar,
    /// AVX2 with fused multiply-add.
    Avx2,
    /// AVX-512F (with AVX2 and FMA).
    Avx512,
}

impl Isa {
    /// The name `FERROGRAD_ISA` takes for this level.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
}

/// The best instruction set this CPU supports.
pub fn detected() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
        {
            return Isa::Avx512;
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Isa::Avx2;
        }
    }
    Isa::Scalar
}

/// The instruction set in use: [`detected`], lowered to `FERROGRAD_ISA` if that names a lower
/// one. A level the CPU lacks is never used, whatever the variable says; an unknown name is
/// ignored.
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let best = detected();
        let asked = std::env::var("FERROGRAD_ISA").ok().and_then(|s| {
            [Isa::Scalar, Isa::Avx2, Isa::Avx512]
                .into_iter()
                .find(|i| i.name().eq_ignore_ascii_case(s.trim()))
        });
        asked.map_or(best, |a| a.min(best))
    })
}
