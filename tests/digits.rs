//! The `digits` example's code: one epoch on a small slice lowers the loss, a saved model
//! reloads to the same outputs, and a malformed CSV is an error naming the line, never a panic.

#[path = "../examples/digits/data.rs"]
mod data;

#[path = "../examples/digits/model.rs"]
mod model;

use ferrograd::nn::{Adam, DataLoader, Module, StateDict};

const DIGITS: &str = include_str!("../examples/data/digits.csv");

#[test]
fn one_epoch_on_a_slice_lowers_the_loss_and_the_saved_model_reloads_to_the_same_outputs() -> Result<(), String> {
    let digits = data::parse_digits(DIGITS)?;
    assert_eq!(digits.len(), 1797);
    let (train_idx, test_idx) = data::split(300, 0.2, 0);
    assert_eq!((train_idx.len(), test_idx.len()), (240, 60));
    let (train_set, test_set) = (digits.subset(&train_idx), digits.subset(&test_idx));
    let model = model::cnn(0)?;
    let (x, y) = model::tensors(&train_set)?;
    let loader = DataLoader::new(x, y, 32, true, 0).map_err(|e| e.to_string())?;
    let mut optimizer = Adam::new(model.parameters(), 0.003);
    let first = model::train_epoch(&model, &mut optimizer, &loader, 0)?;
    let second = model::train_epoch(&model, &mut optimizer, &loader, 1)?;
    assert!(second < first, "the loss rose from {first} to {second}");
    let (predicted, accuracy) = model::evaluate(&model, &test_set)?;
    assert_eq!(predicted.len(), 60);
    assert!((0.0..=1.0).contains(&accuracy));

    let before = model::logits(&model, &test_set)?;
    let bytes = model.state_dict().to_safetensors_bytes().map_err(|e| e.to_string())?;
    let reloaded = model::cnn(7)?;
    let sd = StateDict::<f32>::from_safetensors_bytes(&bytes).map_err(|e| e.to_string())?;
    for name in ["0.weight", "1.running_mean", "1.num_batches_tracked", "9.bias"] {
        assert!(sd.value(name).is_some(), "no {name} in the saved state dict");
    }
    reloaded.load_state_dict(&sd).map_err(|e| e.to_string())?;
    assert_eq!(model::logits(&reloaded, &test_set)?, before);
    Ok(())
}

#[test]
fn the_split_is_seeded_and_disjoint() {
    let (a, b) = data::split(100, 0.2, 3);
    assert_eq!(data::split(100, 0.2, 3), (a.clone(), b.clone()));
    assert_ne!(data::split(100, 0.2, 4).1, b);
    let mut all: Vec<usize> = a.into_iter().chain(b).collect();
    all.sort();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
}

#[test]
fn a_malformed_csv_is_an_error_naming_the_line() {
    let good = DIGITS.lines().next().unwrap().to_string();
    let short = good.rsplit_once(',').unwrap().0.to_string();
    let (pixels, _) = good.rsplit_once(',').unwrap();
    let word = good.replacen('0', "x", 1);
    let cases = [
        (
            format!("{good}\n{short}\n"),
            "line 2: expected 65 columns (64 pixels and a label), found 64",
        ),
        (format!("{good}\n\n{word}\n"), "line 3, column 1: \"x\" is not a number"),
        (
            format!("{pixels},10\n"),
            "line 1, column 65: label \"10\" is not a digit 0-9",
        ),
        (
            format!("{good}\n{pixels},-1\n"),
            "line 2, column 65: label \"-1\" is not a digit 0-9",
        ),
        (
            format!("17{}\n", &good[1..]),
            "line 1, column 1: pixel value 17 is outside 0-16",
        ),
        ("\n\n".to_string(), "no data rows"),
    ];
    for (text, want) in cases {
        assert_eq!(data::parse_digits(&text).unwrap_err(), want);
    }
}
