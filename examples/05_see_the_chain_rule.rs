//! Seeing backpropagation: the lab's 2-2-2-1 sigmoid network on one sample of `XOR_easy`.
//!
//! 1. records one forward pass and its MSE loss on a tape;
//! 2. draws the tape to `out/graph.svg` (pure Rust, nothing to install), writes it as Graphviz
//!    DOT to `out/graph.dot`, and writes `out/chain-rule.html`, a page that opens offline in any
//!    browser and steps through the forward pass and the backward sweep;
//! 3. prints the trace of the reverse sweep: every node, the rule it applied and the numbers;
//! 4. checks every gradient against the hand-derived δ formulas (`chainrule::hand`), printing both.
//!
//! Run: `cargo run --release --example 05_see_the_chain_rule`

use std::path::Path;

use chainrule::hand::{self, Workspace};
use chainrule::loss::Loss;
use chainrule::nn::{Activation, Init, Mlp};
use chainrule::{data, viz, Tape};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mlp = Mlp::new(
        &[2, 2, 2, 1],
        &[Activation::Sigmoid; 3],
        true,
        Init::Uniform,
        1,
    );
    let xor = data::xor_easy();
    let sample = 1; // (0.0, 1.0), labelled 1
    let (x, y) = (xor.x.row(sample), xor.y.row(sample));
    println!("The lab's 2-2-2-1 network on the XOR-easy sample x = {x:?}, y = {y:?}\n");

    let tape = Tape::new();
    let net = mlp.bind(&tape);
    // Each layer written out as matmul → add_row → sigmoid, to see every step. `net.forward`
    // records the same numbers with one fused `linear_sigmoid` node per layer instead.
    let p = net.params();
    let mut a = tape.input_slice(1, 2, x);
    for layer in p.chunks_exact(2) {
        a = a.matmul(layer[0]).add_row(layer[1]).sigmoid();
    }
    let prediction = a;
    let loss = prediction.mse(tape.input_slice(1, 1, y));
    let (grads, trace) = viz::backward_trace(&tape, loss);
    println!(
        "prediction {:.6}, loss {:.6}\n",
        prediction.item(),
        loss.item()
    );

    std::fs::create_dir_all("out")?;
    let dot_path = Path::new("out/graph.dot");
    std::fs::write(dot_path, viz::to_dot(&tape))?;
    std::fs::write("out/graph.svg", viz::to_svg(&tape))?;
    std::fs::write("out/chain-rule.html", viz::to_html(&tape, loss))?;
    println!(
        "graph: {} ({} nodes), drawn to out/graph.svg;\n\
         open out/chain-rule.html in a browser to step through the forward pass and the sweep",
        dot_path.display(),
        tape.len()
    );

    println!("\nThe reverse sweep, node by node (dL/d· is the gradient of the loss):\n");
    print!("{trace}");

    println!("\nThe tape against the hand-derived δ formulas:\n");
    let mut ws = Workspace::new();
    hand::forward(&mlp, x, 1, &mut ws);
    let hand_loss = hand::backward(&mlp, x, y, Loss::Mse, &mut ws);
    assert_eq!(hand_loss, loss.item());
    println!(
        "{:<10} {:<40} {:<40} equal",
        "parameter", "tape", "hand (δ formulas)"
    );
    let mut params = net.params().iter();
    let mut all_equal = true;
    for (l, layer) in mlp.layers.iter().enumerate() {
        let mut rows = vec![(
            format!("W{}", l + 1),
            hand::Workspace::grad_weight(&ws, l).to_vec(),
        )];
        if layer.bias.is_some() {
            rows.push((format!("b{}", l + 1), ws.grad_bias(l).to_vec()));
        }
        for (name, by_hand) in rows {
            let by_tape = grads
                .wrt(*params.next().expect("one Var per parameter"))
                .to_vec();
            let equal = by_tape == by_hand;
            all_equal &= equal;
            println!(
                "{name:<10} {:<40} {:<40} {equal}",
                fmt(&by_tape),
                fmt(&by_hand)
            );
        }
    }
    println!(
        "\n{}",
        if all_equal {
            "Every gradient of the tape equals the hand-derived one exactly."
        } else {
            "MISMATCH: the tape and the hand path disagree."
        }
    );
    if !all_equal {
        std::process::exit(1);
    }
    Ok(())
}

fn fmt(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|v| format!("{v:+.5}")).collect();
    format!("[{}]", parts.join(" "))
}
