#!/usr/bin/env bash
# Runs the unsafe parts (the thread pool, the GEMM kernels) under Miri and the whole test suite
# under AddressSanitizer. Needs a nightly toolchain with Miri and rust-src, which this script
# installs with rustup if it is missing. Not part of CI (Miri takes minutes); run it after
# touching kernels/pool.rs or kernels/packed.rs:  bash scripts/sanitize.sh [miri|asan]
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
if ! rustup run nightly cargo miri --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal --component miri,rust-src
fi

if [[ "$what" == all || "$what" == miri ]]; then
    # Miri interprets every memory access and checks it: out-of-bounds, use after free, data
    # races between the caller and the worker thread, and the aliasing rules of &mut.
    # It has no AVX-512 (so the packed loop nest runs its portable micro-kernel) and is about
    # a thousand times slower than native code: the tests it runs are the small ones.
    # -Zmiri-many-seeds would try several thread schedules; one is enough for a smoke run.
    # -Zmiri-ignore-leaks: the pool's worker thread lives as long as the process, by design.
    MIRIFLAGS="-Zmiri-disable-isolation -Zmiri-ignore-leaks" cargo +nightly miri test --lib -- \
        kernels::pool::tests::join_runs_both_sides_and_nests \
        kernels::pool::tests::a_panic_on_either_side \
        kernels::pool::tests::the_worker_survives \
        kernels::packed::tests::a_view_that_does_not_fit \
        kernels::gemm::tests::miri_
fi

if [[ "$what" == all || "$what" == asan ]]; then
    # AddressSanitizer on the whole test suite (the kernels at full size, on two threads).
    target="$(rustc -vV | sed -n 's/^host: //p')"
    # Leaks are not checked: a panic payload whose Drop panics is leaked on purpose
    # (kernels/pool.rs, drop_payload), and the worker thread lives as long as the process.
    ASAN_OPTIONS=detect_leaks=0 RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
        cargo +nightly test -Zbuild-std --target "$target" --release --lib \
        --test kernels --test reuse --test tape --test fork
fi
