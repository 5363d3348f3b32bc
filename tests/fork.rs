//! A process forked after the worker thread started must still finish its parallel kernels.
//!
//! `fork` copies the memory (so the child sees the pool) but only the calling thread (so the
//! child has no worker). A `join` that hands half its work to a worker that does not exist would
//! spin for ever. This file holds one test, alone in its process, because forking while other
//! test threads run is asking for trouble.
#![cfg(unix)]

use std::time::{Duration, Instant};

use chainrule::kernels::PARALLEL_ENTRIES;
use chainrule::{Matrix, Tape};

/// Σ σ(x) over a matrix big enough that the sigmoid pass is split between two threads.
fn parallel_work() -> f64 {
    let side = (2.0 * PARALLEL_ENTRIES as f64).sqrt() as usize + 1;
    let x = Matrix::from_fn(side, side, |i, j| ((i * side + j) as f64 * 1e-3).sin());
    let tape = Tape::new();
    let y = tape.input(&x).sigmoid().sum();
    y.item()
}

#[test]
fn a_forked_child_finishes_its_parallel_kernels() {
    // The parent starts the worker (and learns the answer).
    let want = parallel_work();
    // SAFETY: the child only runs the kernels and leaves with `_exit`, which runs no destructor
    // and no atexit handler of the parent's.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let got = parallel_work();
        let code = if got == want { 0 } else { 3 };
        // SAFETY: ends the child here, without unwinding into the test harness.
        unsafe { libc::_exit(code) };
    }
    let start = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child, without blocking.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if start.elapsed() > Duration::from_secs(30) {
            // SAFETY: our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child hung in a parallel kernel (killed after 30 s)");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        libc::WIFEXITED(status),
        "the child did not exit normally: {status}"
    );
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "the child computed another sum"
    );
}
