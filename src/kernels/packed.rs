//! The crate's own GEMM for large products: the BLIS loop nest with packing buffers that are
//! kept between calls, so a training step allocates nothing.
//!
//! `C (+)= A·B`, with `A` read through strides (so a transpose is free) and `C` row-major:
//!
//! ```text
//! for each block of NC columns of B and C          (jc)
//!   for each block of KC of the inner size          (pc)   C accumulates over these, in order
//!     pack B[pc.., jc..] into panels of NR columns
//!     for each block of MC rows of A and C          (ic)
//!       pack A[ic.., pc..] into panels of MR rows
//!       for each NR-column panel, each MR-row panel: the micro-kernel adds an MR×NR tile
//! ```
//!
//! The micro-kernel (`micro.rs`) keeps an 8×16 tile of `C` in sixteen AVX-512 registers and adds one rank-1
//! update per step of `k`: two loads of `B`, eight broadcasts of `A`, sixteen fused multiply-adds.
//! It needs AVX-512F; [`available`] says whether this machine has it, and [`super::gemm()`] uses
//! matrixmultiply when it does not. (There a portable micro-kernel stands in, for
//! `GemmPath::Packed`: slower, but it runs the same blocks, edges and cuts, so they are tested on
//! every machine.)
//!
//! Large products are cut in two halves (see [`PARALLEL_MADDS`]) that run on the two threads of
//! [`pool::join`], each half through the whole loop nest with its own packing buffers. Where the
//! cut falls depends on the shape only, so the result does not depend on whether the second
//! thread ran. The buffers are thread-locals that grow to the largest block seen and stay.

use std::cell::RefCell;

use super::dense::Epilogue;
use super::micro::write_tile;
use super::pool;

/// Rows of the micro-kernel's tile.
pub const MR: usize = 8;
/// Columns of the micro-kernel's tile (two 8-wide AVX-512 vectors).
pub const NR: usize = 16;
/// Inner-size block: a packed `KC×NR` panel of `B` (32 KB) stays in the L1 cache.
pub const KC: usize = 256;
/// Row block: a packed `MC×KC` block of `A` (128 KB) stays in the L2 cache.
pub const MC: usize = 128;
/// Column block: a packed `KC×NC` block of `B` (2 MB) stays in the L3 cache.
pub const NC: usize = 1024;
/// Products with fewer multiply-adds than this stay on one thread: handing work to the other
/// thread costs a few microseconds. Larger ones are split in two, along the rows of `A` or its
/// inner size, whichever is larger, with each half run by `serial`.
pub const PARALLEL_MADDS: usize = 1 << 20;

/// Whether this machine can run the micro-kernel.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A logical matrix inside a slice: entry `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct Strided<'a> {
    pub data: &'a [f64],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Strided<'a> {
    /// The same strides, starting `by` entries further into the data.
    fn offset(self, by: usize) -> Self {
        Strided {
            data: &self.data[by..],
            ..self
        }
    }
}

thread_local! {
    /// This thread's packed `A` block, reused by every call.
    static PACKED_A: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
    /// This thread's packed `B` block.
    static PACKED_B: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
    /// The second half of a product split along its inner size, before it is added to `C`.
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// `C = A·B`, or `C += A·B` when `accumulate`, for a logical `m×k` `A`, `k×n` `B` and row-major
/// `m×n` `C`; then `epilogue` on each entry of `C`, applied to each tile as its last block of
/// the inner size is added (while the tile is in cache).
///
/// # Panics
/// If a view does not cover its matrix.
pub(crate) fn gemm(
    (m, k, n): (usize, usize, usize),
    a: Strided<'_>,
    b: Strided<'_>,
    c: &mut [f64],
    accumulate: bool,
    epilogue: Epilogue<'_>,
) {
    assert!(
        m.checked_mul(n) == Some(c.len()),
        "packed gemm: C has {} entries, not {m}x{n}",
        c.len()
    );
    for (x, rows, cols) in [(a, m, k), (b, k, n)] {
        // Checked: with wrapping arithmetic, huge sizes could pass and index out of bounds.
        let last = (rows.max(1) - 1)
            .checked_mul(x.rs)
            .and_then(|r| (cols.max(1) - 1).checked_mul(x.cs)?.checked_add(r));
        assert!(
            rows == 0 || cols == 0 || last.is_some_and(|last| last < x.data.len()),
            "packed gemm: a {rows}x{cols} view does not fit in {} entries",
            x.data.len()
        );
    }
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        for row in c.chunks_exact_mut(n) {
            epilogue.apply(row, 0);
        }
        return;
    }
    match split((m, k, n)) {
        Split::None => serial((m, k, n), a, b, c, accumulate, epilogue),
        Split::Rows(half) => {
            // Each half packs all of B, which is small next to A when m is the largest size.
            let (top, bottom) = c.split_at_mut(half * n);
            let bottom_a = a.offset(half * a.rs);
            pool::join(
                || serial((half, k, n), a, b, top, accumulate, epilogue),
                || serial((m - half, k, n), bottom_a, b, bottom, accumulate, epilogue),
            );
        }
        Split::Inner(half) => {
            // C (+)= A₁B₁ here, A₂B₂ on the other side into a scratch buffer, added afterwards.
            let (a2, b2) = (a.offset(half * a.cs), b.offset(half * b.rs));
            SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                scratch.clear();
                scratch.resize(m * n, 0.0);
                let second = &mut scratch[..];
                pool::join(
                    || serial((m, half, n), a, b, c, accumulate, Epilogue::NONE),
                    || serial((m, k - half, n), a2, b2, second, false, Epilogue::NONE),
                );
                for (c, s) in c.chunks_exact_mut(n).zip(second.chunks_exact(n)) {
                    for (c, s) in c.iter_mut().zip(s) {
                        *c += s;
                    }
                    epilogue.apply(c, 0);
                }
            });
        }
    }
}

/// How [`gemm`] cuts a product in two for the two threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Split {
    /// One thread does it all.
    None,
    /// Rows `0..half` of A and C on one side, the rest on the other.
    Rows(usize),
    /// The inner size `0..half` on one side, `half..k` on the other, summed afterwards.
    Inner(usize),
}

/// Where a product is cut, from its shape only, so the result does not depend on whether the
/// second thread ran. Both sides of a cut get at least one row (or one step of `k`): a cut at 0
/// would leave one side with nothing to do, and a side with `k = 0` writes nothing, so an output
/// that should have been overwritten would keep its old contents.
///
/// Products below [`PARALLEL_MADDS`] stay whole. Otherwise the rows are cut when there are at
/// least as many rows as steps of `k`, and the inner size when `k` is the larger; each at a
/// multiple of its cache block ([`MC`] rows, [`KC`] steps) when that leaves both sides some work,
/// else near the middle (at a multiple of [`MR`] rows, so each side's tiles stay whole).
pub(crate) fn split((m, k, n): (usize, usize, usize)) -> Split {
    if m.saturating_mul(k).saturating_mul(n) < PARALLEL_MADDS {
        return Split::None;
    }
    if m >= k {
        cut(m, MC, MR).map_or(Split::None, Split::Rows)
    } else {
        cut(k, KC, 1).map_or(Split::None, Split::Inner)
    }
}

/// A cut of `0..size` into two non-empty parts: at a multiple of `block` if one lies inside,
/// else at a multiple of `unit` near the middle; `None` if no such cut exists.
fn cut(size: usize, block: usize, unit: usize) -> Option<usize> {
    let inside = |half: usize| (half > 0 && half < size).then_some(half);
    inside((size / block).div_ceil(2) * block)
        .or_else(|| inside(size.div_ceil(unit).div_ceil(2) * unit))
}

/// One thread's share of [`gemm`]: the loop nest of the module docs, with this thread's packing
/// buffers (taken out of their thread-locals for the call, and put back).
fn serial(
    mkn: (usize, usize, usize),
    a: Strided<'_>,
    b: Strided<'_>,
    c: &mut [f64],
    accumulate: bool,
    epilogue: Epilogue<'_>,
) {
    let mut packed = (PACKED_A.take(), PACKED_B.take());
    loop_nest(mkn, a, b, c, (accumulate, epilogue), &mut packed);
    PACKED_A.set(packed.0);
    PACKED_B.set(packed.1);
}

avx512_copy! {
    /// The loop nest (packing and the epilogue compiled for AVX-512, which the micro-kernel
    /// needs anyway).
    fn loop_nest(
        mkn: (usize, usize, usize),
        a: Strided<'_>,
        b: Strided<'_>,
        c: &mut [f64],
        finish: (bool, Epilogue<'_>),
        packed: &mut (Vec<f64>, Vec<f64>),
    ) => loop_nest_body
}

#[inline(always)]
fn loop_nest_body(
    (m, k, n): (usize, usize, usize),
    a: Strided<'_>,
    b: Strided<'_>,
    c: &mut [f64],
    (accumulate, epilogue): (bool, Epilogue<'_>),
    (packed_a, packed_b): &mut (Vec<f64>, Vec<f64>),
) {
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            pack_b(packed_b, b, (pc, kc), (jc, nc));
            let block = Block {
                a,
                packed_b: &packed_b[..nc.div_ceil(NR) * kc * NR],
                pc,
                kc,
                jc,
                nc,
                n,
                add: accumulate || pc > 0,
                // After the last block of the inner size, each tile is complete.
                epilogue: (pc + kc == k && !epilogue.is_none()).then_some(epilogue),
            };
            block.rows(m, c, packed_a);
        }
    }
}

/// One `(jc, pc)` step of the loop nest: `B` is packed; what is left is the rows of `A`.
#[derive(Clone, Copy)]
struct Block<'a> {
    a: Strided<'a>,
    packed_b: &'a [f64],
    pc: usize,
    kc: usize,
    jc: usize,
    nc: usize,
    /// Row stride of `C`.
    n: usize,
    /// Add to `C` (a later `pc` block, or the caller asked to accumulate) rather than overwrite.
    add: bool,
    /// Applied to each tile after it is written, in the last `pc` block.
    epilogue: Option<Epilogue<'a>>,
}

impl Block<'_> {
    /// All `rows` rows of this block of `C`.
    #[inline(always)]
    fn rows(&self, rows: usize, c: &mut [f64], packed_a: &mut Vec<f64>) {
        for ic in (0..rows).step_by(MC) {
            let mc = MC.min(rows - ic);
            pack_a(packed_a, self.a, (ic, mc), (self.pc, self.kc));
            for jr in (0..self.nc).step_by(NR) {
                let b_panel = &self.packed_b[jr * self.kc..(jr + NR) * self.kc];
                for ir in (0..mc).step_by(MR) {
                    let a_panel = &packed_a[ir * self.kc..(ir + MR) * self.kc];
                    let at = (ic + ir) * self.n + self.jc + jr;
                    let tile = (MR.min(mc - ir), NR.min(self.nc - jr));
                    let epilogue = self.epilogue.map(|e| (e, self.jc + jr));
                    write_tile(
                        self.kc,
                        a_panel,
                        b_panel,
                        &mut c[at..],
                        self.n,
                        tile,
                        (self.add, epilogue),
                    );
                }
            }
        }
    }
}

/// Packs `B[pc..pc+kc, jc..jc+nc]` as panels of `NR` columns, each `kc` rows of `NR` entries,
/// zero-padded past the last column.
#[inline(always)]
fn pack_b(
    packed: &mut Vec<f64>,
    b: Strided<'_>,
    (pc, kc): (usize, usize),
    (jc, nc): (usize, usize),
) {
    let packed = grow(packed, nc.div_ceil(NR) * kc * NR);
    for (panel, out) in packed.chunks_exact_mut(kc * NR).enumerate() {
        let j0 = jc + panel * NR;
        let width = NR.min(jc + nc - j0);
        if b.cs == 1 && width == NR {
            for (p, out_row) in out.chunks_exact_mut(NR).enumerate() {
                let start = (pc + p) * b.rs + j0;
                // A fixed-size copy: compiled to two vector moves, not a call to memcpy.
                let row: &[f64; NR] = b.data[start..start + NR].try_into().unwrap();
                *<&mut [f64; NR]>::try_from(out_row).unwrap() = *row;
            }
        } else {
            if width < NR {
                out.fill(0.0);
            }
            for j in 0..width {
                for p in 0..kc {
                    out[p * NR + j] = b.data[(pc + p) * b.rs + (j0 + j) * b.cs];
                }
            }
        }
    }
}

/// Packs `A[ic..ic+mc, pc..pc+kc]` as panels of `MR` rows, each `kc` columns of `MR` entries,
/// zero-padded past the last row.
#[inline(always)]
fn pack_a(
    packed: &mut Vec<f64>,
    a: Strided<'_>,
    (ic, mc): (usize, usize),
    (pc, kc): (usize, usize),
) {
    let packed = grow(packed, mc.div_ceil(MR) * kc * MR);
    for (panel, out) in packed.chunks_exact_mut(kc * MR).enumerate() {
        let i0 = ic + panel * MR;
        let height = MR.min(ic + mc - i0);
        if a.rs == 1 && height == MR {
            for (p, out_col) in out.chunks_exact_mut(MR).enumerate() {
                let start = (pc + p) * a.cs + i0;
                let col: &[f64; MR] = a.data[start..start + MR].try_into().unwrap();
                *<&mut [f64; MR]>::try_from(out_col).unwrap() = *col;
            }
        } else if a.cs == 1 && height == MR {
            // Rows of A contiguous: read the MR rows side by side, write one packed column per p.
            let rows: [&[f64]; MR] = std::array::from_fn(|i| {
                let start = (i0 + i) * a.rs + pc;
                &a.data[start..start + kc]
            });
            for (p, out_col) in out.chunks_exact_mut(MR).enumerate() {
                for (o, row) in out_col.iter_mut().zip(&rows) {
                    *o = row[p];
                }
            }
        } else {
            if height < MR {
                out.fill(0.0);
            }
            for i in 0..height {
                for p in 0..kc {
                    out[p * MR + i] = a.data[(i0 + i) * a.rs + (pc + p) * a.cs];
                }
            }
        }
    }
}

/// The first `len` entries of `buffer`, grown (once) if it is shorter. Packing overwrites every
/// entry it uses, so nothing is cleared.
fn grow(buffer: &mut Vec<f64>, len: usize) -> &mut [f64] {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    &mut buffer[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cut_leaves_both_sides_work() {
        // A side with no rows writes nothing, and a side with k = 0 leaves C as it was: the
        // product m < k < KC once cut its inner size at 0 and kept C's stale contents.
        for m in 1..=300 {
            for k in (1..=600).step_by(7) {
                let n = PARALLEL_MADDS.div_ceil(m * k);
                match split((m, k, n)) {
                    // Rows are cut between whole tiles: a single row of tiles stays whole.
                    Split::None => assert!(m >= k && m <= MR, "{m}x{k}x{n} left on one thread"),
                    Split::Rows(half) => {
                        assert!(
                            m >= k && half > 0 && half < m,
                            "{m}x{k}x{n}: rows cut at {half}"
                        );
                        assert!(half % MR == 0 || half == m.div_ceil(2), "{m}: {half}");
                    }
                    Split::Inner(half) => {
                        assert!(
                            k > m && half > 0 && half < k,
                            "{m}x{k}x{n}: k cut at {half}"
                        )
                    }
                }
            }
        }
        assert_eq!(
            split((10, 10, 10)),
            Split::None,
            "small products stay whole"
        );
    }

    #[test]
    fn a_view_that_does_not_fit_is_refused_even_when_its_extent_overflows() {
        let data = [0.0; 4];
        let view = Strided {
            data: &data,
            rs: usize::MAX / 2,
            cs: 1,
        };
        let ok = Strided {
            data: &data,
            rs: 2,
            cs: 1,
        };
        let mut c = [0.0; 4];
        let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            gemm((2, 2, 2), view, ok, &mut c, false, Epilogue::NONE)
        }));
        assert!(refused.is_err());
        assert_eq!(c, [0.0; 4]);
    }
}
