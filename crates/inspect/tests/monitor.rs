//! The Monitor watches without touching: training with it on gives the same bits; it records
//! the steps it is told to; its warnings name the layer and the step.

use ferrograd_autograd::{detect_anomaly, no_grad, Var};
use ferrograd_inspect::{Monitor, MonitorOptions, WarningKind};
use ferrograd_nn::{
    Adam, CrossEntropyLoss, Embedding, Flatten, Forward, Linear, Module, Optimizer, Sequential, StateDict, Tanh,
};
use ferrograd_tensor::{IndexTensor, Result, Tensor};

fn model() -> Sequential {
    Sequential::new()
        .add(Embedding::new(27, 8, 0))
        .add(Flatten::default())
        .add(Linear::new(24, 32, 1))
        .add(Tanh)
        .add(Linear::new(32, 32, 2))
        .add(Tanh)
        .add(Linear::new(32, 27, 3))
}

fn batch(step: usize) -> Result<(IndexTensor, IndexTensor)> {
    let x = (0..48).map(|i| ((i * 7 + step * 13) % 27) as i64).collect();
    let y = (0..16).map(|i| ((i * 5 + step * 3) % 27) as i64).collect();
    Ok((IndexTensor::from_vec(x, &[16, 3])?, IndexTensor::from_vec(y, &[16])?))
}

/// Trains `steps` steps with Adam, watched or not: the losses and the final weights.
fn train(steps: usize, watched: Option<MonitorOptions>) -> Result<(Vec<f32>, Vec<Vec<f32>>, usize)> {
    let model = model();
    let mut opt = Adam::new(model.parameters(), 1e-2);
    let mut mon = watched.map(|o| Monitor::attach(&model, o));
    let mut losses = Vec::new();
    for step in 0..steps {
        let (x, y) = batch(step)?;
        let loss = CrossEntropyLoss::new().forward(&model.call(&x)?, &y)?;
        opt.zero_grad();
        loss.backward()?;
        let l = loss.item()?;
        match &mut mon {
            Some(mon) => mon.step(&mut opt, l as f64)?,
            None => opt.step()?,
        }
        losses.push(l);
    }
    let recorded = mon.map_or(0, |m| m.into_record().steps.len());
    let weights = model.parameters().iter().map(|p| p.to_tensor().to_vec()).collect();
    Ok((losses, weights, recorded))
}

#[test]
fn a_monitor_left_on_changes_no_bit() -> Result<()> {
    let options = MonitorOptions {
        histogram_steps: vec![0, 5, 19],
        ..MonitorOptions::default()
    };
    let (losses, weights, _) = train(20, None)?;
    let (watched_losses, watched_weights, recorded) = train(20, Some(options))?;
    assert_eq!(recorded, 20);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&losses), bits(&watched_losses));
    for (w, ww) in weights.iter().zip(&watched_weights) {
        assert_eq!(bits(w), bits(ww));
    }
    Ok(())
}

#[test]
fn it_records_every_kth_step_and_the_histogram_steps() -> Result<()> {
    let model = model();
    let mut opt = Adam::new(model.parameters(), 1e-2);
    let options = MonitorOptions {
        every: 4,
        histogram_steps: vec![6],
        ..MonitorOptions::default()
    };
    let mut mon = Monitor::attach(&model, options);
    for step in 0..10 {
        let (x, y) = batch(step)?;
        {
            let _eval = no_grad(); // a pass without gradients is not recorded
            model.call(&x)?;
        }
        let loss = CrossEntropyLoss::new().forward(&model.call(&x)?, &y)?;
        model.call(&x)?; // nor a second call in the step
        opt.zero_grad();
        loss.backward()?;
        mon.step(&mut opt, loss.item()? as f64)?;
    }
    let record = mon.into_record();
    let steps: Vec<usize> = record.steps.iter().map(|s| s.step).collect();
    assert_eq!(steps, [0, 4, 6, 8]);
    let names: Vec<&str> = record.steps[0].layers.iter().map(|l| l.layer.as_str()).collect();
    assert_eq!(names, ["0", "1", "2", "3", "4", "5", "6"]);
    assert!(record.steps[2]
        .layers
        .iter()
        .all(|l| l.hist.is_some() && l.grad_hist.is_some()));
    assert!(record.steps[1].layers.iter().all(|l| l.hist.is_none()));
    assert!(record
        .steps
        .iter()
        .all(|s| s.layers.iter().all(|l| l.grad_std.is_some())));
    Ok(())
}

#[test]
fn nan_is_named_with_its_layer_and_step_and_anomaly_mode_names_the_op() -> Result<()> {
    let model: Sequential = Sequential::new().add(Linear::new(2, 3, 0)).add(Tanh);
    let mut sd = StateDict::new();
    sd.insert("0.weight", Tensor::<f32>::ones(&[3, 2]));
    sd.insert("0.bias", Tensor::<f32>::zeros(&[3]));
    model.load_state_dict(&sd)?;
    let mut opt = Adam::new(model.parameters(), 1e-3);
    let mut mon = Monitor::attach(&model, MonitorOptions::default());
    let _anomaly = detect_anomaly();
    for step in 0..2 {
        // 3e38 + 3e38 overflows: finite inputs, an infinite output.
        let x = if step == 1 { 3e38 } else { 1.0 };
        let out = model.call(&Var::new(Tensor::full(&[4, 2], x)))?;
        opt.zero_grad();
        mon.step(&mut opt, out.sum().item()? as f64)?;
    }
    let warnings = mon.warnings();
    let nan = warnings
        .iter()
        .find(|w| w.kind == WarningKind::NonFinite)
        .expect("a NaN warning");
    assert_eq!((nan.step, nan.layer.as_str()), (1, "0"), "{nan:?}");
    assert!(
        nan.message.starts_with("step 1: layer \"0\" (Linear) output holds NaN"),
        "{}",
        nan.message
    );
    assert!(nan.message.contains("(anomaly mode: "), "{}", nan.message);
    Ok(())
}

/// A live view asks for histograms when it draws and keeps only the last steps of a long run.
#[test]
fn histograms_on_request_and_a_bounded_record() -> Result<()> {
    let model = model();
    let mut opt = Adam::new(model.parameters(), 1e-2);
    let options = MonitorOptions {
        every: 2,
        histogram_steps: vec![],
        ..MonitorOptions::default()
    };
    let mut mon = Monitor::attach(&model, options);
    for step in 0..9 {
        if step == 5 {
            mon.record_histograms_now();
        }
        let (x, y) = batch(step)?;
        let loss = CrossEntropyLoss::new().forward(&model.call(&x)?, &y)?;
        opt.zero_grad();
        loss.backward()?;
        mon.step(&mut opt, loss.item()? as f64)?;
        if step == 5 {
            let last = mon.last_step().expect("step 5 recorded");
            assert_eq!(last.step, 5, "an odd step, recorded because it was asked for");
            assert!(last.layers.iter().all(|l| l.hist.is_some() && l.grad_hist.is_some()));
        }
        mon.keep_last_steps(3);
    }
    let steps: Vec<usize> = mon.record().steps.iter().map(|s| s.step).collect();
    assert_eq!(steps, [5, 6, 8], "the last three recorded steps");
    assert!(
        mon.record().steps[2].layers.iter().all(|l| l.hist.is_none()),
        "no histograms unasked"
    );
    Ok(())
}
