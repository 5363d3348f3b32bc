//! Two-way fork–join on one long-lived worker thread, with no allocation per call.
//!
//! `join(a, b)` runs `b` on the worker while the calling thread runs `a`, then waits for both.
//! The worker is spawned on the first call that can use it (that call allocates its stack and
//! handle); every later call hands the worker a pointer to `b`, which allocates nothing. A
//! `std::thread::scope` per call would allocate, and a training step must not.
//!
//! Handing over through a condition variable alone costs about 45 µs on the 2-core machine of
//! `docs/benchmarks.md` (the sleeping worker has to be woken by the kernel), which is longer
//! than most of the passes worth splitting. So both sides spin: the worker polls for a new job
//! for [`SPIN`] after finishing one before it goes to sleep on the condition variable, and the
//! caller polls for the result. Between the joins of a training step the worker never sleeps.
//!
//! Results never depend on whether a call ran in parallel: when the worker is busy (another
//! thread is inside `join`, or a `join` nests), when the machine has one core, or when the
//! `threads` feature is off, `join` simply runs `a` and then `b` on the calling thread. Callers
//! split work so that each output is computed whole by one side, so the numbers come out the same
//! either way.

use std::cell::UnsafeCell;
use std::hint::spin_loop;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long the worker polls for the next job before it sleeps.
const SPIN: Duration = Duration::from_micros(500);

/// Runs `a` and `b`, on two threads when the worker is free, and returns when both are done.
///
/// A panic in either closure is re-raised on the calling thread after both have finished.
pub(crate) fn join<A: FnOnce(), B: FnOnce() + Send>(a: A, b: B) {
    let Some(pool) = worker() else {
        a();
        b();
        return;
    };
    // A child made by `fork` inherits the pool but not its thread: nobody would run `b`.
    if pool.process != std::process::id() || pool.busy.swap(true, Ordering::Acquire) {
        a();
        b();
        return;
    }
    let mut b = Some(b);
    let mut call_b = move || (b.take().expect("join: job run twice"))();
    let job: *mut (dyn FnMut() + Send + '_) = &mut call_b;
    // SAFETY: the worker only calls `job` between this hand-over and the `finished` flag it sets
    // when done, and this function does not return (nor unwind: `a` runs under catch_unwind)
    // before it has seen that flag, so the closure and everything it borrows outlive every use.
    let job: *mut (dyn FnMut() + Send + 'static) = unsafe { std::mem::transmute(job) };
    // SAFETY: `busy` gives this call sole use of the slot; the worker reads it only after
    // `posted` is set below, and has cleared `posted` before the previous call ended.
    unsafe { *pool.job.get() = Some(Job(job)) };
    pool.finished.store(false, Ordering::Relaxed);
    pool.posted.store(true, Ordering::Release);
    if *pool.sleeping.lock().unwrap_or_else(|e| e.into_inner()) {
        pool.wake.notify_one();
    }

    let ran_a = catch_unwind(AssertUnwindSafe(a));

    let mut polls = 0u32;
    while !pool.finished.load(Ordering::Acquire) {
        polls += 1;
        if polls < 1 << 16 {
            spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    let worker_panicked = pool.panicked.load(Ordering::Relaxed);
    pool.busy.store(false, Ordering::Release);
    if let Err(payload) = ran_a {
        resume_unwind(payload);
    }
    assert!(
        !worker_panicked,
        "a parallel kernel panicked on the worker thread"
    );
}

/// Passes over fewer entries than this stay on one thread: handing work over costs about a
/// microsecond, about what one thread needs for this many entries.
pub(crate) const PARALLEL_ENTRIES: usize = 1 << 15;

/// Calls `f(first, part)` on the two halves of `out` (cut at a multiple of `unit` entries, e.g.
/// a row), in parallel, when the pass does at least [`PARALLEL_ENTRIES`] units of `work`;
/// otherwise calls `f(0, out)` once. `first` is the index in `out` where `part` starts.
///
/// `f` must compute each entry of `out` the same way wherever the cut falls, so the result never
/// depends on it: an elementwise map, or a sum along the direction that is not cut.
#[inline(always)]
pub(crate) fn halves(
    out: &mut [f64],
    unit: usize,
    work: usize,
    f: impl Fn(usize, &mut [f64]) + Sync,
) {
    if work < PARALLEL_ENTRIES || out.len() < 2 * unit.max(1) {
        f(0, out);
    } else {
        split_in_two(out, unit, f);
    }
}

/// The parallel case of [`halves`], kept out of line so that the small case inlines.
#[inline(never)]
fn split_in_two(out: &mut [f64], unit: usize, f: impl Fn(usize, &mut [f64]) + Sync) {
    let units = out.len() / unit.max(1);
    let half = units.div_ceil(2) * unit;
    let (first, second) = out.split_at_mut(half);
    join(|| f(0, first), || f(half, second));
}

/// A type-erased pointer to the closure the worker runs.
struct Job(*mut (dyn FnMut() + Send + 'static));

struct Pool {
    /// The process that started the worker. After a `fork`, the child has the pool (memory is
    /// copied) but no worker thread (only the forking thread survives), so `join` runs both
    /// sides itself there, rather than wait for ever.
    process: u32,
    /// Set while a `join` owns the worker.
    busy: AtomicBool,
    /// The job of the current `join`; see the protocol in `join` and `run`.
    job: UnsafeCell<Option<Job>>,
    /// A job is in `job` and the worker has not taken it yet.
    posted: AtomicBool,
    /// The worker has run the current job.
    finished: AtomicBool,
    /// The current job panicked.
    panicked: AtomicBool,
    /// The worker is asleep (or about to be) on `wake`.
    sleeping: Mutex<bool>,
    wake: Condvar,
}

// SAFETY: `job` is only touched by the `join` that holds `busy` and by the worker between
// `posted` and `finished`, which order those accesses; the closure behind it is `Send`.
unsafe impl Sync for Pool {}

/// The process's worker, started on first use; `None` when a second thread would not help.
fn worker() -> Option<&'static Pool> {
    static POOL: OnceLock<Option<&'static Pool>> = OnceLock::new();
    *POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if !cfg!(feature = "threads") || cores < 2 {
            return None;
        }
        let pool: &'static Pool = Box::leak(Box::new(Pool {
            process: std::process::id(),
            busy: AtomicBool::new(false),
            job: UnsafeCell::new(None),
            posted: AtomicBool::new(false),
            finished: AtomicBool::new(true),
            panicked: AtomicBool::new(false),
            sleeping: Mutex::new(false),
            wake: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("chainrule-worker".into())
            .spawn(move || run(pool))
            .ok()
            .map(|_| pool)
    })
}

/// The worker's loop: wait for a job (polling, then asleep), run it, report, repeat.
fn run(pool: &'static Pool) {
    loop {
        let idle = Instant::now();
        let mut polls = 0u32;
        while !pool.posted.load(Ordering::Acquire) {
            polls = polls.wrapping_add(1);
            if !polls.is_multiple_of(64) || idle.elapsed() < SPIN {
                spin_loop();
                continue;
            }
            // Checked again under the lock: `join` sets `posted` before it looks at `sleeping`.
            let mut sleeping = pool.sleeping.lock().unwrap_or_else(|e| e.into_inner());
            *sleeping = true;
            while !pool.posted.load(Ordering::Acquire) {
                sleeping = pool.wake.wait(sleeping).unwrap_or_else(|e| e.into_inner());
            }
            *sleeping = false;
        }
        pool.posted.store(false, Ordering::Relaxed);
        // SAFETY: `posted` was set after the slot was written, and `join` waits for `finished`.
        let job = unsafe { (*pool.job.get()).take() };
        let ok = match job {
            // SAFETY: see `join`: the closure is alive until `finished` is set below.
            Some(Job(job)) => match catch_unwind(AssertUnwindSafe(|| unsafe { (*job)() })) {
                Ok(()) => true,
                Err(payload) => {
                    drop_payload(payload);
                    false
                }
            },
            None => true,
        };
        pool.panicked.store(!ok, Ordering::Relaxed);
        pool.finished.store(true, Ordering::Release);
    }
}

/// Drops a panic's payload without letting a panic in its `Drop` unwind out of the worker: that
/// would end the thread before it sets `finished`, and leave the caller of `join` spinning. A
/// payload of the payload is leaked, the one thing that cannot panic.
fn drop_payload(payload: Box<dyn std::any::Any + Send>) {
    if let Err(nested) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(nested);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[ignore = "a timing, not a test: cargo test --release --lib join_latency -- --ignored --nocapture"]
    fn join_latency() {
        let mut times: Vec<f64> = (0..2000)
            .map(|_| {
                let t = std::time::Instant::now();
                join(|| {}, || {});
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        times.sort_by(f64::total_cmp);
        eprintln!(
            "join of two empty closures: median {:.2} µs, p90 {:.2} µs",
            times[1000], times[1800]
        );
    }

    #[test]
    fn join_runs_both_sides_and_nests() {
        let (mut left, mut right, mut inner) = (0, 0, 0);
        join(
            || left = 1,
            || {
                right = 2;
                // A nested join finds the worker busy and runs inline.
                join(|| inner += 1, || {});
            },
        );
        assert_eq!((left, right, inner), (1, 2, 1));
    }

    #[test]
    fn the_worker_survives_a_panic_whose_payload_panics_when_dropped() {
        /// A panic payload whose `Drop` panics too.
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("the payload's drop panics");
            }
        }
        if worker().is_none() {
            eprintln!("skipped: no worker thread on this machine or build");
            return;
        }
        // If the worker died, the second join would spin for ever: a watchdog fails the test.
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let watched = done.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(60));
            if !watched.load(Ordering::Acquire) {
                eprintln!("the worker died: a join after the panicking payload hung");
                std::process::abort();
            }
        });
        for _ in 0..3 {
            let joined = std::panic::catch_unwind(|| {
                join(|| {}, || std::panic::panic_any(Bomb));
            });
            // When `join` ran inline (another test held the worker), the bomb itself comes back.
            let payload = joined.expect_err("the panic reaches the caller");
            std::mem::forget(payload);
            // The worker takes the next job (spinning on `busy` would not prove it ran it).
            let (mut left, mut right) = (0, 0);
            join(|| left = 1, || right = 2);
            assert_eq!((left, right), (1, 2));
        }
        done.store(true, Ordering::Release);
    }

    #[test]
    fn a_panic_on_either_side_reaches_the_caller_and_the_pool_recovers() {
        let worker_side = std::panic::catch_unwind(|| join(|| {}, || panic!("boom")));
        assert!(worker_side.is_err());
        let caller_side = std::panic::catch_unwind(|| join(|| panic!("boom"), || {}));
        assert!(caller_side.is_err());
        let mut sum = 0;
        join(|| sum += 1, || {});
        assert_eq!(sum, 1);
    }
}
