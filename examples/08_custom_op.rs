//! An op the crate lacks, supplied by the user: softplus, `y = ln(1 + eˣ)`, a smooth relu.
//!
//! Through the `CustomOp` trait the user gives three things: the output's shape, the forward
//! function, and the vector–Jacobian product (here `dx += g ⊙ σ(x)`, since
//! d/dx ln(1 + eˣ) = eˣ/(1 + eˣ) = σ(x)). The tape does the rest, as for its own ops. This
//! example
//!
//! 1. checks the VJP against finite differences with `gradcheck`, in one line;
//! 2. shows the op under its own name in the backward trace;
//! 3. trains a 2-16-16-1 network with softplus hidden layers on the circle data set (points
//!    inside a circle are class 1), with a sigmoid output, binary cross-entropy and Adam.
//!
//! Run: `cargo run --release --example 08_custom_op`

use std::error::Error;
use std::sync::Arc;

use chainrule::ops::{CustomOp, MatView};
use chainrule::optim::{Adam, Optimizer};
use chainrule::{data, gradcheck, viz, Matrix, Tape, Var};

/// `y = ln(1 + eˣ)`, elementwise, and its VJP `dx += g ⊙ σ(x)`.
struct Softplus;

impl CustomOp for Softplus {
    fn name(&self) -> &str {
        "softplus"
    }

    fn output_shape(&self, inputs: &[(usize, usize)]) -> Result<(usize, usize), String> {
        match inputs {
            [shape] => Ok(*shape),
            _ => Err(format!("takes one input, got {}", inputs.len())),
        }
    }

    fn forward(&self, inputs: &[MatView<'_>], out: &mut [f64]) {
        for (y, &x) in out.iter_mut().zip(inputs[0].as_slice()) {
            // ln(1 + eˣ) = max(x, 0) + ln(1 + e^−|x|): no overflow for large x.
            *y = x.max(0.0) + (-x.abs()).exp().ln_1p();
        }
    }

    fn backward(
        &self,
        inputs: &[MatView<'_>],
        _output: MatView<'_>,
        upstream: MatView<'_>,
        grads: &mut [&mut [f64]],
    ) {
        let (x, g) = (inputs[0].as_slice(), upstream.as_slice());
        for ((dx, &x), g) in grads[0].iter_mut().zip(x).zip(g) {
            *dx += g / (1.0 + (-x).exp()); // g · σ(x)
        }
    }

    fn rule(&self, _position: usize) -> String {
        "dL/d{in0} += dL/d{y} ⊙ σ({in0})".into()
    }
}

const SIZES: [usize; 4] = [2, 16, 16, 1];
const STEPS: usize = 1500;
const LEARNING_RATE: f64 = 0.02;
const SEED: u64 = 1;

fn main() -> Result<(), Box<dyn Error>> {
    let softplus: Arc<dyn CustomOp> = Arc::new(Softplus);

    // 1. The VJP against central differences, at values on both sides of 0.
    let x = Matrix::from_rows(&[[-3.0, -0.5, 0.0], [0.25, 1.0, 4.0]]);
    let report = gradcheck(|v| v[0].custom(&softplus, &[]).sum(), &[x], 1e-6, 1e-6)?;
    println!("gradcheck of softplus: {report}");

    // 2. The trace of one small step prints the op's own rule.
    let tape = Tape::new();
    let w = tape.param(&Matrix::from_rows(&[[0.5, -1.0]]));
    let y = w.custom(&softplus, &[]).sum();
    let (_, trace) = viz::backward_trace(&tape, y);
    print!("the backward trace of Σ softplus(w):\n{trace}");

    // 3. Training with it.
    let set = data::circle(300, SEED);
    let mut params = init(SEED);
    let mut adam = Adam::new(LEARNING_RATE);
    let mut tape = Tape::new();
    for step in 1..=STEPS {
        tape.reset();
        let t: &Tape = &tape;
        let vars: Vec<Var<'_>> = params.iter().map(|p| t.param(p)).collect();
        let p = forward(&softplus, &vars, t.input(&set.x));
        let loss = p.bce(t.input(&set.y));
        let grads = t.backward(loss);
        adam.begin_step();
        for (slot, (param, &var)) in params.iter_mut().zip(&vars).enumerate() {
            adam.update(slot, param.as_mut_slice(), &grads.wrt(var));
        }
        if step % 300 == 0 || step == 1 {
            println!("step {step:5}  loss {:.4}", loss.item());
        }
    }
    let tape = Tape::new();
    let vars: Vec<Var<'_>> = params.iter().map(|p| tape.param(p)).collect();
    let p = forward(&softplus, &vars, tape.input(&set.x)).value();
    let right = (0..set.len())
        .filter(|&r| (p[(r, 0)] >= 0.5) == (set.y[(r, 0)] >= 0.5))
        .count();
    println!(
        "training accuracy with softplus hidden layers: {:.1}% of {} points",
        100.0 * right as f64 / set.len() as f64,
        set.len()
    );
    Ok(())
}

/// W₁, b₁, W₂, b₂, W₃, b₃ for `SIZES`, Xavier-uniform weights and zero biases.
fn init(seed: u64) -> Vec<Matrix> {
    use chainrule::nn::{Activation, Init, Mlp};
    let mlp = Mlp::new(&SIZES, &[Activation::Identity; 3], true, Init::Xavier, seed);
    mlp.params().cloned().collect()
}

/// `σ(softplus(softplus(x·W₁ + b₁)·W₂ + b₂)·W₃ + b₃)`: the bias rows broadcast over the batch.
fn forward<'t>(softplus: &Arc<dyn CustomOp>, p: &[Var<'t>], x: Var<'t>) -> Var<'t> {
    let h1 = (x.matmul(p[0]) + p[1]).custom(softplus, &[]);
    let h2 = (h1.matmul(p[2]) + p[3]).custom(softplus, &[]);
    (h2.matmul(p[4]) + p[5]).sigmoid()
}
