//! The chain rule on one neuron: y = σ(w·x + b), with scalars.
//!
//! Every node the tape records is printed with its value and the gradient dy/d(node) the reverse
//! sweep computed, beside the same gradient derived by hand:
//!
//!   dy/dz  = σ'(z) = y(1 − y)
//!   dy/db  = dy/dz · dz/db = y(1 − y) · 1
//!   dy/dwx = dy/dz · dz/dwx = y(1 − y) · 1
//!   dy/dw  = dy/dwx · dwx/dw = y(1 − y) · x
//!   dy/dx  = dy/dwx · dwx/dx = y(1 − y) · w
//!
//! Run: `cargo run --release --example 01_chain_rule`

use chainrule::Tape;

fn main() {
    let (x0, w0, b0) = (1.5, -0.8, 0.3);

    let tape = Tape::new();
    let x = tape.scalar(x0);
    let w = tape.scalar(w0);
    let b = tape.scalar(b0);
    let wx = w * x;
    let z = wx + b;
    let y = z.sigmoid();
    let grads = tape.backward(y);

    // The same derivatives by hand, with nothing but f64 arithmetic.
    let z0 = w0 * x0 + b0;
    let y0 = 1.0 / (1.0 + (-z0).exp());
    let dy_dz = y0 * (1.0 - y0);
    let rows = [
        ("x", x, x0, "dy/dz · w", dy_dz * w0),
        ("w", w, w0, "dy/dz · x", dy_dz * x0),
        ("b", b, b0, "dy/dz · 1", dy_dz),
        ("wx = w·x", wx, w0 * x0, "dy/dz · 1", dy_dz),
        ("z = wx + b", z, z0, "y(1 − y)", dy_dz),
        ("y = σ(z)", y, y0, "1 (the seed)", 1.0),
    ];

    println!("y = σ(w·x + b) at x = {x0}, w = {w0}, b = {b0}\n");
    println!(
        "{:<5} {:<11} {:<8} {:>10}   {:>14}   {:<13} {:>14}",
        "node", "name", "op", "value", "dy/dnode tape", "by hand", "value"
    );
    for (name, var, hand_value, formula, hand_grad) in rows {
        let tape_grad = grads.wrt(var).item();
        assert!((var.item() - hand_value).abs() < 1e-12, "value of {name}");
        assert!((tape_grad - hand_grad).abs() < 1e-12, "gradient of {name}");
        println!(
            "{:<5} {:<11} {:<8} {:>10.6}   {:>14.10}   {:<13} {:>14.10}",
            var.id().to_string(),
            name,
            var.op().to_string(),
            var.item(),
            tape_grad,
            formula,
            hand_grad
        );
    }
    println!("\nEvery tape gradient equals its hand derivation (to 1e-12).");
}
