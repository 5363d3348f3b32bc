//! Dense `f64` kernels shared by the tape's ops and the hand-derived path.
//!
//! Both paths call the *same* functions, so they add up their numbers in the same order and can be
//! compared exactly (see `../shared/LAB.md` on floating-point associativity).
//!
//! - `gemm.rs`: [`gemm`] and its routing, the direct loop for tiny products; `stream.rs`: the
//!   streaming loops for thin products; `packed.rs`: the packed GEMM's loop nest, packing and
//!   cuts; `micro.rs`: its tile and micro-kernels (AVX-512, portable).
//! - `dense.rs`: a dense layer's fused epilogue and δ pass; `activation.rs`: [`Activation`].
//! - `pool.rs`: the two-thread fork–join every large pass runs on.

/// Defines `[vis] fn $name(args)` that runs `$body(args)` (an `#[inline(always)]` function) compiled
/// with AVX-512F when the CPU has it, and as it is otherwise.
///
/// The crate is built for baseline x86-64, whose vectors hold two `f64`: a pass like
/// `d = if a > 0 { g } else { 0 }` then runs entry by entry, with a branch. Inlined into a copy
/// with AVX-512F enabled, the same loop runs eight entries per instruction (masked compares and
/// blends). The numbers do not change: Rust never fuses a multiply and an add on its own, and
/// each entry's arithmetic is the same at any width. (A closure cannot be forced inline into
/// such a copy, hence named functions.)
macro_rules! avx512_copy {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $body:ident) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                #[allow(clippy::too_many_arguments)]
                fn wide($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if $crate::kernels::packed::available() {
                    // SAFETY: this CPU has AVX-512F.
                    return unsafe { wide($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

mod activation;
pub(crate) mod dense;
mod gemm;
mod micro;
mod packed;
pub(crate) mod pool;
mod stream;
pub(crate) mod tiny;

pub use activation::Activation;
pub(crate) use gemm::gemm_epilogue;
pub use gemm::{
    gemm, gemm_by, packed_available, with_packed_everywhere, GemmPath, Layout, SMALL_GEMM, THIN_K,
};

/// `σ(x) = 1 / (1 + e⁻ˣ)`, computed without overflow: for x < 0, `eˣ / (1 + eˣ)` never forms
/// `e⁻ˣ`, which would overflow to ∞ below x ≈ −709.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// The packed kernel's sizes, where its behaviour changes (tests cross each of them): the
/// micro-kernel's `MR`×`NR` tile, the `KC` inner, `MC` row and `NC` column blocks, and the
/// multiply-adds from which a product is cut in two for two threads.
pub mod blocking {
    pub use super::packed::{KC, MC, MR, NC, NR, PARALLEL_MADDS};
}

/// Passes over at least this many entries run on two threads (elementwise ops and rules, the
/// streaming products, bias sums).
pub const PARALLEL_ENTRIES: usize = pool::PARALLEL_ENTRIES;
