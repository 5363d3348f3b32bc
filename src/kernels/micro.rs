//! One tile of the packed GEMM (`packed.rs`): [`write_tile`] adds the product of two packed panels
//! into an `MR×NR` tile of `C` (a full tile in place, an edge tile through a local buffer) and
//! applies the epilogue; the micro-kernel underneath runs in AVX-512 registers where the CPU has
//! them, and as portable Rust otherwise.

use super::dense::{activate, Epilogue};
use super::packed::{available, MR, NR};
use super::Activation;

/// Runs the micro-kernel for one tile of `C` starting at `c[0]` (row stride `rsc`), of which
/// the top-left `rows×cols` are real; edge tiles go through a local buffer. Then the epilogue,
/// if any, with the tile's first column: a full tile gets its bias and relu in registers.
#[inline(always)]
pub(super) fn write_tile(
    kc: usize,
    a_panel: &[f64],
    b_panel: &[f64],
    c: &mut [f64],
    rsc: usize,
    (rows, cols): (usize, usize),
    (add, epilogue): (bool, Option<(Epilogue<'_>, usize)>),
) {
    assert!(a_panel.len() == kc * MR && b_panel.len() == kc * NR);
    if rows == MR && cols == NR {
        assert!(c.len() >= (MR - 1) * rsc + NR);
        let (bias, relu) = match epilogue {
            Some((e, col)) => (
                e.bias
                    .map_or(std::ptr::null(), |b| b[col..col + NR].as_ptr()),
                e.activation == Activation::Relu,
            ),
            None => (std::ptr::null(), false),
        };
        // SAFETY: the panels hold kc×MR and kc×NR entries, `c` covers an MR×NR tile with row
        // stride `rsc` (all asserted above), and `bias` is null or has NR entries (sliced).
        unsafe {
            micro_kernel(
                kc,
                a_panel.as_ptr(),
                b_panel.as_ptr(),
                c.as_mut_ptr(),
                rsc,
                (add, bias, relu),
            )
        };
        if let Some((e, _)) = epilogue {
            if matches!(e.activation, Activation::Sigmoid | Activation::Tanh) {
                for r in 0..MR {
                    activate(e.activation, &mut c[r * rsc..r * rsc + NR]);
                }
            }
        }
    } else {
        let mut tile = [0.0; MR * NR];
        // SAFETY: as above, for the local MR×NR buffer with row stride NR.
        unsafe {
            micro_kernel(
                kc,
                a_panel.as_ptr(),
                b_panel.as_ptr(),
                tile.as_mut_ptr(),
                NR,
                (false, std::ptr::null(), false),
            )
        };
        for (r, tile_row) in tile.chunks_exact(NR).take(rows).enumerate() {
            let c_row = &mut c[r * rsc..r * rsc + cols];
            for (c, t) in c_row.iter_mut().zip(tile_row) {
                *c = if add { *c + t } else { *t };
            }
            if let Some((e, col)) = epilogue {
                e.apply(c_row, col);
            }
        }
    }
}

/// `C[0..MR][0..NR] (+)= Σ_p a[p][·] ⊗ b[p][·]` for packed panels `a` (`kc×MR`) and `b`
/// (`kc×NR`), `C` with row stride `rsc`; then, before the store, `+ bias[·]` if `bias` is not
/// null and `max(·, 0)` if `relu` (as `dense::activate`: NaN stays NaN). In AVX-512 registers
/// where the CPU has them; otherwise by [`portable_kernel`], so that the loop nest (its blocks,
/// edges and cuts) runs, and is tested, on every machine. ([`super::gemm()`] sends large products
/// to matrixmultiply on such CPUs; only `GemmPath::Packed` asks for this path there.)
///
/// # Safety
/// `a` and `b` point to `kc·MR` and `kc·NR` readable entries; `c` points to an `MR×NR` tile
/// with row stride `rsc`, writable, not overlapping `a` or `b`; `bias` is null or points to
/// `NR` readable entries.
#[inline(always)]
unsafe fn micro_kernel(
    kc: usize,
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    rsc: usize,
    epilogue: (bool, *const f64, bool),
) {
    #[cfg(target_arch = "x86_64")]
    if available() {
        // SAFETY: this CPU has AVX-512F; the pointers are as the caller promised.
        return unsafe { avx512_kernel(kc, a, b, c, rsc, epilogue) };
    }
    // SAFETY: as the caller promised.
    unsafe { portable_kernel(kc, a, b, c, rsc, epilogue) }
}

/// [`micro_kernel`] in plain Rust: the same sums in the same order of `p`, each product added
/// unfused (so the last bit can differ from the AVX-512 kernel's fused multiply-adds).
///
/// # Safety
/// As [`micro_kernel`].
#[inline(always)]
unsafe fn portable_kernel(
    kc: usize,
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    rsc: usize,
    (add, bias, relu): (bool, *const f64, bool),
) {
    // SAFETY: the caller promises these extents.
    let (a, b) = unsafe {
        (
            std::slice::from_raw_parts(a, kc * MR),
            std::slice::from_raw_parts(b, kc * NR),
        )
    };
    let mut acc = [[0.0; NR]; MR];
    for (a_p, b_p) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        for (acc_row, &a_rp) in acc.iter_mut().zip(a_p) {
            for (acc, &b_pj) in acc_row.iter_mut().zip(b_p) {
                *acc += a_rp * b_pj;
            }
        }
    }
    for (r, acc_row) in acc.iter().enumerate() {
        // SAFETY: row r of the tile: NR writable entries at `c + r·rsc`.
        let row = unsafe { std::slice::from_raw_parts_mut(c.add(r * rsc), NR) };
        for (j, (c, &acc)) in row.iter_mut().zip(acc_row).enumerate() {
            let mut sum = if add { *c + acc } else { acc };
            if !bias.is_null() {
                // SAFETY: `bias` has NR entries.
                sum += unsafe { *bias.add(j) };
            }
            if relu && sum < 0.0 {
                sum = 0.0;
            }
            *c = sum;
        }
    }
}

/// [`micro_kernel`] in AVX-512 registers.
///
/// # Safety
/// The CPU has AVX-512F, and the pointers are as [`micro_kernel`] requires.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512_kernel(
    kc: usize,
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    rsc: usize,
    (add, bias, relu): (bool, *const f64, bool),
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_pd(); 2]; MR];
    for p in 0..kc {
        let b0 = _mm512_loadu_pd(b.add(p * NR));
        let b1 = _mm512_loadu_pd(b.add(p * NR + 8));
        for (r, acc_row) in acc.iter_mut().enumerate() {
            let a_rp = _mm512_set1_pd(*a.add(p * MR + r));
            acc_row[0] = _mm512_fmadd_pd(a_rp, b0, acc_row[0]);
            acc_row[1] = _mm512_fmadd_pd(a_rp, b1, acc_row[1]);
        }
    }
    for (r, acc_row) in acc.iter().enumerate() {
        let row = c.add(r * rsc);
        for (half, acc) in acc_row.iter().enumerate() {
            let at = row.add(half * 8);
            let mut sum = if add {
                _mm512_add_pd(_mm512_loadu_pd(at), *acc)
            } else {
                *acc
            };
            if !bias.is_null() {
                sum = _mm512_add_pd(sum, _mm512_loadu_pd(bias.add(half * 8)));
            }
            if relu {
                // max(0, z) returns its second operand unless 0 > z: z itself for z ≥ 0, −0
                // and NaN, as `if z < 0 { 0 } else { z }`.
                sum = _mm512_max_pd(_mm512_setzero_pd(), sum);
            }
            _mm512_storeu_pd(at, sum);
        }
    }
}
