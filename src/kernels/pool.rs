//! Two-way fork–join on one long-lived worker thread, with no allocation per call.
//!
//! `join(a, b)` runs `b` on the worker while the calling thread runs `a`, then waits for both.
//! The worker is spawned on the first call that can use it (that call allocates its stack and
//! handle); every later call hands the worker a pointer to `b` through a mutex and a condition
//! variable, which allocate nothing. A `std::thread::scope` per call would allocate, and a
//! training step must not.
//!
//! Results never depend on whether a call ran in parallel: when the worker is busy (another
//! thread is inside `join`, or a `join` nests), when the machine has one core, or when the
//! `threads` feature is off, `join` simply runs `a` and then `b` on the calling thread. Callers
//! split work so that each output is computed whole by one side, so the numbers come out the same
//! either way.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

/// Runs `a` and `b`, on two threads when the worker is free, and returns when both are done.
///
/// A panic in either closure is re-raised on the calling thread after both have finished.
pub(crate) fn join<A: FnOnce(), B: FnOnce() + Send>(a: A, b: B) {
    let Some(pool) = worker() else {
        a();
        b();
        return;
    };
    if pool.busy.swap(true, Ordering::Acquire) {
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
    {
        let mut state = pool.state.lock().unwrap_or_else(|e| e.into_inner());
        state.job = Some(Job(job));
        state.finished = false;
    }
    pool.work.notify_one();

    let ran_a = catch_unwind(AssertUnwindSafe(a));

    let worker_panicked = {
        let mut state = pool.state.lock().unwrap_or_else(|e| e.into_inner());
        while !state.finished {
            state = pool.done.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.panicked
    };
    pool.busy.store(false, Ordering::Release);
    if let Err(payload) = ran_a {
        resume_unwind(payload);
    }
    assert!(
        !worker_panicked,
        "a parallel kernel panicked on the worker thread"
    );
}

/// A type-erased pointer to the closure the worker runs.
struct Job(*mut (dyn FnMut() + Send + 'static));

// SAFETY: the closure behind the pointer is `Send`, and `join` keeps it alive until it has run.
unsafe impl Send for Job {}

struct Pool {
    /// Set while a `join` owns the worker.
    busy: AtomicBool,
    state: Mutex<State>,
    /// Signalled when a job is handed over.
    work: Condvar,
    /// Signalled when the job has finished.
    done: Condvar,
}

struct State {
    job: Option<Job>,
    finished: bool,
    panicked: bool,
}

/// The process's worker, started on first use; `None` when a second thread would not help.
fn worker() -> Option<&'static Pool> {
    static POOL: OnceLock<Option<&'static Pool>> = OnceLock::new();
    *POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if !cfg!(feature = "threads") || cores < 2 {
            return None;
        }
        let pool: &'static Pool = Box::leak(Box::new(Pool {
            busy: AtomicBool::new(false),
            state: Mutex::new(State {
                job: None,
                finished: true,
                panicked: false,
            }),
            work: Condvar::new(),
            done: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("chainrule-worker".into())
            .spawn(move || run(pool))
            .ok()
            .map(|_| pool)
    })
}

/// The worker's loop: wait for a job, run it, report, repeat.
fn run(pool: &'static Pool) {
    loop {
        let Job(job) = {
            let mut state = pool.state.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(job) = state.job.take() {
                    break job;
                }
                state = pool.work.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        };
        // SAFETY: see `join`: the closure is alive until `finished` is set below.
        let ok = catch_unwind(AssertUnwindSafe(|| unsafe { (*job)() })).is_ok();
        let mut state = pool.state.lock().unwrap_or_else(|e| e.into_inner());
        state.finished = true;
        state.panicked = !ok;
        drop(state);
        pool.done.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
