//! The training loop: the lab's runs reach the stop rule, optimizers compare as expected, batches
//! and shuffling visit the rows they should, state resumes to the bit, divergence is named.
//!
//! Learning rates: per-sample SGD at the lab's 0.8 converges on both lab data sets with these
//! seeds; Adam and momentum at 0.8 do not (they oscillate), so the optimizers are compared at a
//! shared lr of 0.1, where all three converge.

use std::cell::RefCell;

use chainrule::anomaly::Phase;
use chainrule::data::{self, Dataset};
use chainrule::loss::Loss;
use chainrule::nn::{Activation, Init, Mlp};
use chainrule::optim::{Adam, Momentum, Optimizer, OptimizerState, Sgd, StateError};
use chainrule::train::{self, EpochStats, History, Measure, StopReason, TrainError, Trainer};
use chainrule::{Matrix, Op, Tape};

/// The lab's network: 2-4-4-1, sigmoid everywhere, with bias, uniform ±1 weights.
fn lab_net(seed: u64) -> Mlp {
    Mlp::new(
        &[2, 4, 4, 1],
        &[Activation::Sigmoid; 3],
        true,
        Init::Uniform,
        seed,
    )
}

/// Trains `mlp` with the lab's rule (every loss < 0.04), per-sample, capped at `cap` epochs.
fn lab_run(mlp: &mut Mlp, opt: &mut dyn Optimizer, data: &Dataset, cap: usize) -> History {
    Trainer::new(Loss::Mse)
        .epochs(cap)
        .stop_when_all_losses_below(0.04)
        .run(mlp, opt, data)
        .unwrap()
}

fn assert_reaches_the_lab_rule(data: &Dataset, seed: u64) {
    let mut mlp = lab_net(seed);
    let history = lab_run(&mut mlp, &mut Sgd::new(0.8), data, 5000);
    assert_eq!(history.stop, StopReason::AllLossesBelow);
    let last = history.last().unwrap();
    assert!(
        last.max_loss < 0.04 && last.loss <= last.max_loss,
        "{last:?}"
    );
    assert_eq!(last.accuracy, 1.0);
    assert_eq!(train::accuracy(&mlp, data), 1.0);
    assert!(history.epochs.len() < 5000);
    // The figures were measured during the epoch (the default); the rule also holds for the
    // returned weights, which is what the loop confirms before stopping.
    let p = train::predict(&mlp, &data.x);
    let worst = (0..data.len())
        .map(|i| (p[(i, 0)] - data.y[(i, 0)]).powi(2))
        .fold(0.0, f64::max);
    assert!(worst < 0.04, "{worst}");
}

#[test]
fn per_sample_sgd_reaches_every_loss_below_0_04_on_linear() {
    assert_reaches_the_lab_rule(&data::linear(100, 1), 1); // 1190 epochs
}

#[test]
fn per_sample_sgd_reaches_every_loss_below_0_04_on_xor_easy() {
    assert_reaches_the_lab_rule(&data::xor_easy(), 2); // 857 epochs
}

#[test]
fn momentum_and_adam_reach_the_rule_in_fewer_epochs_than_sgd_on_xor_easy() {
    // lr 0.1 for all three (see the file's doc): SGD 2475 epochs, momentum 304, Adam 63.
    let data = data::xor_easy();
    let mut epochs = Vec::new();
    let optimizers: [Box<dyn Optimizer>; 3] = [
        Box::new(Sgd::new(0.1)),
        Box::new(Momentum::new(0.1)),
        Box::new(Adam::new(0.1)),
    ];
    for mut opt in optimizers {
        let mut mlp = lab_net(2);
        let history = lab_run(&mut mlp, opt.as_mut(), &data, 5000);
        assert_eq!(history.stop, StopReason::AllLossesBelow, "{}", opt.name());
        assert_eq!(train::accuracy(&mlp, &data), 1.0, "{}", opt.name());
        epochs.push(history.epochs.len());
    }
    let [sgd, momentum, adam] = epochs[..] else {
        unreachable!()
    };
    assert!(momentum < sgd && adam < sgd, "{epochs:?}");
    assert!(adam < momentum, "{epochs:?}");
}

#[test]
fn per_sample_training_is_the_plain_tape_loop_to_the_bit() {
    let data = data::linear(100, 4);
    let mut by_loop = lab_net(3);
    let history = Trainer::new(Loss::Mse)
        .epochs(3)
        .run(&mut by_loop, &mut Sgd::new(0.5), &data)
        .unwrap();

    let mut by_hand = lab_net(3);
    let mut tape = Tape::new();
    let mut sample_losses = Vec::new();
    for _ in 0..3 {
        let mut sum = 0.0;
        for i in 0..data.len() {
            tape.reset();
            let net = by_hand.bind(&tape);
            let loss = net
                .forward(tape.input_slice(1, 2, data.x.row(i)))
                .mse(tape.input_slice(1, 1, data.y.row(i)));
            sum += loss.item();
            Sgd::new(0.5).step(&mut by_hand, &net, &tape.backward(loss));
        }
        sample_losses.push(sum / data.len() as f64);
    }
    assert_eq!(by_loop, by_hand);
    // Measured during the epoch (the default), an epoch's loss is the mean of the losses the
    // steps computed, each before its own update: the lab's figure, to the bit.
    let recorded: Vec<f64> = history.epochs.iter().map(|e| e.loss).collect();
    assert_eq!(recorded, sample_losses);
    assert_eq!(history.stop, StopReason::EpochCap);
    assert_eq!(history.epochs.len(), 3);
    let numbers: Vec<usize> = history.epochs.iter().map(|e| e.epoch).collect();
    assert_eq!(numbers, [1, 2, 3]);
}

#[test]
fn measured_after_the_epoch_the_statistics_are_those_of_the_returned_weights() {
    // Each sample's loss is summed in data order and divided by n, as the loss ops do over a
    // batch, so the mean equals the tape's full-batch loss to the bit.
    let data = data::circle(60, 5);
    for loss in [Loss::Mse, Loss::Sse, Loss::Bce] {
        let mut mlp = lab_net(4);
        let history = Trainer::new(loss)
            .epochs(2)
            .batch_size(8)
            .measure(Measure::AfterEpoch)
            .run(&mut mlp, &mut Sgd::new(0.3), &data)
            .unwrap();
        let last = history.last().unwrap();
        let tape = Tape::new();
        let prediction = mlp.bind(&tape).forward(tape.input(&data.x));
        let whole = loss.apply(prediction, tape.input(&data.y)).item();
        let n = data.len() as f64;
        let expected_mean = if loss == Loss::Sse { whole / n } else { whole };
        assert_eq!(last.loss, expected_mean, "{loss:?}");
        let p = train::predict(&mlp, &data.x);
        assert_eq!(p, prediction.value(), "{loss:?}");
        let max = (0..data.len())
            .map(|i| {
                let t = Tape::new();
                let one = loss.apply(
                    t.input_slice(1, 1, p.row(i)),
                    t.input_slice(1, 1, data.y.row(i)),
                );
                one.item()
            })
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(last.max_loss, max, "{loss:?}");
        assert_eq!(last.accuracy, train::accuracy(&mlp, &data), "{loss:?}");
        assert_eq!(
            last.steps, 8,
            "60 rows in batches of 8: 7 full and one of 4"
        );
    }
}

/// An optimizer that changes nothing and records, per step, `−g/2` of the single weight
/// column of a 2→1 linear network with zero weights and every label 1: then `p = 0`,
/// `∂L/∂W = −(2/b)·Σ x` over the batch's b rows, so each step records its batch's mean row.
#[derive(Default)]
struct Recorder {
    batches: RefCell<Vec<[f64; 2]>>,
}

impl Optimizer for &Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    fn begin_step(&mut self) {}
    fn update(&mut self, _slot: usize, _param: &mut [f64], grad: &[f64]) {
        self.batches
            .borrow_mut()
            .push([-grad[0] / 2.0, -grad[1] / 2.0]);
    }
    fn state(&self) -> OptimizerState {
        OptimizerState {
            kind: "recorder".into(),
            t: 0,
            buffers: vec![],
        }
    }
    fn load_state(&mut self, _: &OptimizerState) -> Result<(), StateError> {
        Ok(())
    }
}

/// Ten rows `(i, 0)`, i = 0..10, all labelled 1.
fn numbered_rows() -> Dataset {
    Dataset {
        x: Matrix::from_fn(10, 2, |r, c| if c == 0 { r as f64 } else { 0.0 }),
        y: Matrix::filled(10, 1, 1.0),
    }
}

/// The mean rows of the batches each step saw, over `epochs` epochs of `trainer`.
fn batches_seen(trainer: Trainer<'_>, epochs: usize) -> Vec<f64> {
    let mut probe = Mlp::new(&[2, 1], &[Activation::Identity], false, Init::Uniform, 0);
    probe.layers[0].weight = Matrix::zeros(2, 1);
    let recorder = Recorder::default();
    trainer
        .epochs(epochs)
        .run(&mut probe, &mut &recorder, &numbered_rows())
        .unwrap();
    let seen = recorder.batches.into_inner();
    assert!(seen.iter().all(|b| b[1] == 0.0));
    seen.iter().map(|b| b[0]).collect()
}

#[test]
fn without_shuffle_rows_are_visited_in_data_order() {
    let seen = batches_seen(Trainer::new(Loss::Mse), 2);
    let order: Vec<f64> = (0..10).chain(0..10).map(|i| i as f64).collect();
    assert_eq!(seen, order);
}

#[test]
fn shuffle_is_a_fresh_permutation_each_epoch_and_the_same_for_the_same_seed() {
    let seen = batches_seen(Trainer::new(Loss::Mse).shuffle(7), 2);
    assert_eq!(seen, batches_seen(Trainer::new(Loss::Mse).shuffle(7), 2));
    assert_ne!(seen, batches_seen(Trainer::new(Loss::Mse).shuffle(8), 2));
    let in_order: Vec<f64> = (0..10).map(|i| i as f64).collect();
    for epoch in seen.chunks(10) {
        let mut sorted = epoch.to_vec();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(sorted, in_order, "each row once per epoch: {epoch:?}");
        assert_ne!(epoch, in_order, "not data order");
    }
    assert_ne!(seen[..10], seen[10..], "a new order each epoch");
}

/// Whether two lists of batch means agree up to rounding: the MSE gradient divides by the batch
/// size (2/7 is not exact in binary), so a mean comes back within a few ulps.
fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-12)
}

#[test]
fn batches_cover_the_rows_with_a_shorter_last_batch() {
    // Batch 7 of 10 rows: rows 0..7 (mean 3), then 7..10 (mean 8).
    let seen = batches_seen(Trainer::new(Loss::Mse).batch_size(7), 1);
    assert!(close(&seen, &[3.0, 8.0]), "{seen:?}");
    let seen = batches_seen(Trainer::new(Loss::Mse).full_batch(), 2);
    assert!(close(&seen, &[4.5, 4.5]), "{seen:?}");
    // Shuffled, the batches differ but their rows still cover the data once: the two means,
    // weighted by 7 and 3 rows, add up to the sum 0 + 1 + … + 9 = 45.
    let seen = batches_seen(Trainer::new(Loss::Mse).batch_size(7).shuffle(1), 1);
    assert!(!close(&seen, &[3.0, 8.0]), "{seen:?}");
    assert!(close(&[7.0 * seen[0] + 3.0 * seen[1]], &[45.0]), "{seen:?}");
}

#[test]
fn batch_sizes_1_7_and_full_all_train() {
    // Per-sample and batch 7 (14 batches of 7 and one of 2) at lr 0.8 reach the lab's rule;
    // full-batch gradient descent needs a larger rate (2.0) and more epochs, and is asked only
    // for every point right.
    let data = data::linear(100, 1);
    for (batch, lr, rule) in [
        (1, 0.8, StopReason::AllLossesBelow),
        (7, 0.8, StopReason::AllLossesBelow),
        (usize::MAX, 2.0, StopReason::AccuracyReached),
    ] {
        let mut mlp = lab_net(1);
        let trainer = Trainer::new(Loss::Mse).epochs(3000).batch_size(batch);
        let mut trainer = match rule {
            StopReason::AllLossesBelow => trainer.stop_when_all_losses_below(0.04),
            _ => trainer.stop_at_accuracy(1.0),
        };
        let history = trainer.run(&mut mlp, &mut Sgd::new(lr), &data).unwrap();
        assert_eq!(history.stop, rule, "batch {batch}");
        let (first, last) = (history.epochs[0], *history.last().unwrap());
        assert_eq!(
            last.steps,
            100usize.div_ceil(batch.min(100)),
            "batch {batch}"
        );
        assert!(
            last.loss < first.loss / 10.0,
            "batch {batch}: {first:?} {last:?}"
        );
        assert_eq!(train::accuracy(&mlp, &data), 1.0, "batch {batch}");
    }
}

#[test]
fn the_accuracy_rule_stops_at_the_first_epoch_that_meets_it() {
    // Measured after each epoch, so each epoch's figure is the one the rule is tested on.
    let data = data::linear(100, 1);
    let mut mlp = lab_net(1);
    let history = Trainer::new(Loss::Mse)
        .epochs(5000)
        .stop_at_accuracy(1.0)
        .measure(Measure::AfterEpoch)
        .run(&mut mlp, &mut Sgd::new(0.8), &data)
        .unwrap();
    assert_eq!(history.stop, StopReason::AccuracyReached);
    let (last, earlier) = history.epochs.split_last().unwrap();
    assert_eq!(last.accuracy, 1.0);
    assert!(earlier.iter().all(|e| e.accuracy < 1.0));
    assert!(!earlier.is_empty());
}

#[test]
fn the_callback_sees_every_epoch_in_order() {
    let data = data::xor_easy();
    let mut seen: Vec<EpochStats> = Vec::new();
    let history = Trainer::new(Loss::Mse)
        .epochs(5)
        .on_epoch(|stats| seen.push(*stats))
        .run(&mut lab_net(1), &mut Sgd::new(0.8), &data)
        .unwrap();
    assert_eq!(seen, history.epochs);
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|e| e.steps == 21 && e.seconds >= 0.0));
}

#[test]
fn a_restored_optimizer_resumes_training_to_the_bit() {
    // N + M epochs in one run against N epochs, state saved, M epochs with a fresh optimizer
    // restored from it and the saved weights. Data order (no shuffle), so nothing else differs.
    let data = data::xor_easy();
    let (n, m) = (4, 3);
    let makers: [fn() -> Box<dyn Optimizer>; 3] = [
        || Box::new(Adam::new(0.1)),
        || Box::new(Momentum::new(0.1)),
        || Box::new(Sgd::new(0.1)),
    ];
    for make in makers {
        let mut whole = lab_net(2);
        let mut opt = make();
        let one_run = Trainer::new(Loss::Mse)
            .epochs(n + m)
            .run(&mut whole, opt.as_mut(), &data)
            .unwrap();

        let mut first = lab_net(2);
        let mut opt = make();
        Trainer::new(Loss::Mse)
            .epochs(n)
            .run(&mut first, opt.as_mut(), &data)
            .unwrap();
        let (saved_weights, saved_state) = (first.clone(), opt.state());
        drop((first, opt));

        let mut resumed = saved_weights;
        let mut opt = make();
        opt.load_state(&saved_state).unwrap();
        let rest = Trainer::new(Loss::Mse)
            .epochs(m)
            .run(&mut resumed, opt.as_mut(), &data)
            .unwrap();
        assert_eq!(resumed, whole, "{}", opt.name());
        let losses = |h: &[EpochStats]| h.iter().map(|e| e.loss).collect::<Vec<_>>();
        assert_eq!(
            losses(&rest.epochs),
            losses(&one_run.epochs[n..]),
            "{}",
            opt.name()
        );
    }
}

#[test]
fn resume_after_continues_a_shuffled_run_to_the_bit_with_its_epoch_numbers() {
    // Shuffled, so the resumed run must also pick up the shuffle where it was; Adam, so its
    // step count t must carry over.
    let data = data::xor_easy();
    let (n, total) = (3, 7);
    let trainer = || Trainer::new(Loss::Mse).shuffle(11).batch_size(4);
    let mut whole = lab_net(5);
    let mut whole_opt = Adam::new(0.05);
    let one_run = trainer()
        .epochs(total)
        .run(&mut whole, &mut whole_opt, &data)
        .unwrap();

    let mut first = lab_net(5);
    let mut opt = Adam::new(0.05);
    trainer()
        .epochs(n)
        .run(&mut first, &mut opt, &data)
        .unwrap();
    let state = opt.state();
    let mut resumed_opt = Adam::new(0.05);
    resumed_opt.load_state(&state).unwrap();
    let rest = trainer()
        .epochs(total)
        .resume_after(n)
        .run(&mut first, &mut resumed_opt, &data)
        .unwrap();
    assert_eq!(first, whole);
    assert_eq!(resumed_opt.state(), whole_opt.state());
    assert_eq!(resumed_opt.state().t, (total * 6) as u64); // 21 rows in batches of 4: 6 steps
    let numbered = |h: &[EpochStats]| {
        h.iter()
            .map(|e| (e.epoch, e.loss, e.max_loss, e.accuracy))
            .collect::<Vec<_>>()
    };
    assert_eq!(numbered(&rest.epochs), numbered(&one_run.epochs[n..]));

    // Without resume_after the shuffle restarts from the seed: a different run.
    let mut first = lab_net(5);
    let mut opt = Adam::new(0.05);
    trainer()
        .epochs(n)
        .run(&mut first, &mut opt, &data)
        .unwrap();
    trainer()
        .epochs(total - n)
        .run(&mut first, &mut opt, &data)
        .unwrap();
    assert_ne!(first, whole);
}

#[test]
fn resume_after_as_many_epochs_as_the_cap_runs_none() {
    let data = data::xor4();
    let mut mlp = lab_net(1);
    let before = mlp.clone();
    let history = Trainer::new(Loss::Mse)
        .epochs(5)
        .resume_after(5)
        .run(&mut mlp, &mut Sgd::new(0.8), &data)
        .unwrap();
    assert!(history.epochs.is_empty());
    assert_eq!(mlp, before);
}

#[test]
fn a_diverging_run_stops_before_the_update_and_names_the_op() {
    // The lab report's "no activation, learning rate 100": the prediction grows past 1e154 within
    // a few steps and squaring it in the MSE overflows. The loop stops there, replays the step in
    // anomaly mode, and names the mse op; the weights stay finite (the bad step never updated).
    let data = data::linear(100, 1);
    let mut mlp = Mlp::new(
        &[2, 4, 4, 1],
        &[Activation::Identity; 3],
        true,
        Init::Uniform,
        1,
    );
    let err = Trainer::new(Loss::Mse)
        .epochs(100)
        .run(&mut mlp, &mut Sgd::new(100.0), &data)
        .unwrap_err();
    let TrainError::Diverged {
        epoch,
        step,
        anomaly,
    } = &err
    else {
        panic!("expected divergence, got {err}");
    };
    assert_eq!((*epoch, *step), (1, Some(4)), "{err}");
    let anomaly = anomaly
        .as_ref()
        .expect("the replay finds the non-finite value");
    assert_eq!(
        (anomaly.phase, anomaly.op, anomaly.found.as_str()),
        (Phase::Forward, Op::Mse, "[inf]")
    );
    assert!(anomaly.location.starts_with("src/train.rs:"), "{anomaly}");
    let message = err.to_string();
    assert!(
        message.starts_with("diverged at epoch 1, step 4: anomaly in the forward pass: n11 = mse(n9, n10) (recorded at src/train.rs:"),
        "{message}"
    );
    assert!(
        !message.contains("NaN") && !message.contains("nan"),
        "{message}"
    );
    assert!(mlp
        .params()
        .flat_map(|p| p.as_slice())
        .all(|w| w.is_finite()));
}

#[test]
fn an_update_that_overflows_the_weights_at_the_end_of_a_run_is_caught() {
    // One row (1, 1) → 0 on a 2→1 linear network with weights (1, 1): p = 2, loss 4, gradient
    // 2(p − y)·x = (4, 4), finite; but lr 1e308 makes the update 1 − 4e308 = −∞. It was the run's
    // last step, so the check of the returned weights catches it.
    let one_row = Dataset {
        x: Matrix::from_rows(&[[1.0, 1.0]]),
        y: Matrix::from_rows(&[[0.0]]),
    };
    let mut mlp = Mlp::new(&[2, 1], &[Activation::Identity], false, Init::Uniform, 0);
    mlp.layers[0].weight = Matrix::from_rows(&[[1.0], [1.0]]);
    let err = Trainer::new(Loss::Mse)
        .epochs(1)
        .run(&mut mlp, &mut Sgd::new(1e308), &one_row)
        .unwrap_err();
    let TrainError::Diverged {
        epoch: 1,
        step: None,
        anomaly: Some(anomaly),
    } = &err
    else {
        panic!("expected divergence after the last step, got {err:?}");
    };
    assert_eq!(
        (anomaly.phase, anomaly.op),
        (Phase::Forward, Op::Param),
        "{err}"
    );
    assert!(
        err.to_string().starts_with(
            "diverged at epoch 1, in the evaluation after it: anomaly in the forward pass: \
             n0 = param (recorded at src/nn.rs:"
        ),
        "{err}"
    );
    assert_eq!(mlp.layers[0].weight.as_slice(), &[f64::NEG_INFINITY; 2]);
}

#[test]
fn data_that_does_not_fit_is_an_error_before_any_step() {
    let mut mlp = lab_net(1);
    let start = mlp.clone();
    let empty = Dataset {
        x: Matrix::zeros(0, 2),
        y: Matrix::zeros(0, 1),
    };
    let mut trainer = Trainer::new(Loss::Mse);
    let err = trainer
        .run(&mut mlp, &mut Sgd::new(0.1), &empty)
        .unwrap_err();
    assert_eq!(err, TrainError::EmptyData);
    assert_eq!(err.to_string(), "cannot train on an empty data set");

    let three_columns = Dataset {
        x: Matrix::zeros(4, 3),
        y: Matrix::zeros(4, 1),
    };
    let err = trainer
        .run(&mut mlp, &mut Sgd::new(0.1), &three_columns)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the data set has 4 rows of 3 inputs and 4 rows of 1 targets, but the network \
         [2, 4, 4, 1] takes 2 inputs and gives 1 outputs per row"
    );

    // An Adam state from a 2-3-1 network cannot drive the 2-4-4-1 one.
    let mut small = Mlp::new(
        &[2, 3, 1],
        &[Activation::Sigmoid; 2],
        true,
        Init::Uniform,
        1,
    );
    let mut adam = Adam::new(0.1);
    Trainer::new(Loss::Mse)
        .epochs(1)
        .run(&mut small, &mut adam, &data::xor4())
        .unwrap();
    let err = trainer.run(&mut mlp, &mut adam, &data::xor4()).unwrap_err();
    assert!(
        matches!(err, TrainError::OptimizerState(StateError::Shape(_))),
        "{err}"
    );
    assert_eq!(mlp, start, "nothing was trained");
}

#[test]
fn an_epoch_cap_of_zero_trains_nothing() {
    let mut mlp = lab_net(1);
    let history = Trainer::new(Loss::Mse)
        .epochs(0)
        .run(&mut mlp, &mut Sgd::new(0.1), &data::xor4())
        .unwrap();
    assert_eq!(
        (history.epochs.len(), history.stop),
        (0, StopReason::EpochCap)
    );
    assert_eq!(history.last(), None);
    assert_eq!(mlp, lab_net(1));
}

#[test]
fn predict_and_accuracy_on_a_known_network() {
    // A 2→1 linear network reading x0: on the four-point XOR it calls (0,·) class 0 and (1,·)
    // class 1, so it gets (0,0)→0 and (1,0)→1 right and the other two wrong.
    let mut mlp = Mlp::new(&[2, 1], &[Activation::Identity], false, Init::Uniform, 0);
    mlp.layers[0].weight = Matrix::from_rows(&[[1.0], [0.0]]);
    let d = data::xor4();
    assert_eq!(
        train::predict(&mlp, &d.x),
        Matrix::new(4, 1, vec![0.0, 0.0, 1.0, 1.0])
    );
    assert_eq!(train::accuracy(&mlp, &d), 0.5);
    // 0.5 itself is class 1.
    mlp.layers[0].weight = Matrix::from_rows(&[[0.0], [0.0]]);
    let half = Mlp {
        layers: vec![chainrule::nn::Layer {
            bias: Some(Matrix::scalar(0.5)),
            ..mlp.layers[0].clone()
        }],
    };
    assert_eq!(train::accuracy(&half, &d), 0.5);
    assert_eq!(train::accuracy(&mlp, &d), 0.5);
    let all_ones = Dataset {
        x: d.x.clone(),
        y: Matrix::filled(4, 1, 1.0),
    };
    assert_eq!(train::accuracy(&half, &all_ones), 1.0);
    assert_eq!(train::accuracy(&mlp, &all_ones), 0.0);
}

#[test]
fn all_finite_finds_nan_and_infinities() {
    assert!(train::all_finite(&[]));
    assert!(train::all_finite(&[
        1.0,
        -2.0,
        f64::MAX,
        f64::MIN_POSITIVE,
        -0.0
    ]));
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(!train::all_finite(&[1.0, bad, 2.0]), "{bad}");
        assert!(!train::all_finite(&[bad]), "{bad}");
    }
}
