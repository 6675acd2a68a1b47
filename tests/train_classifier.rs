//! The pieces of `examples/train_classifier`, tested on small data without running the
//! example: spiral generation, the seeded split, CSV parsing and its errors, standardization,
//! the command line, a short training run, and saving/loading a model in both formats.

#[allow(dead_code)]
#[path = "../examples/train_classifier/args.rs"]
mod args;
#[allow(dead_code)]
#[path = "../examples/train_classifier/data.rs"]
mod data;
#[allow(dead_code)]
#[path = "../examples/train_classifier/model.rs"]
mod model;
#[allow(dead_code)]
#[path = "../examples/train_classifier/train.rs"]
mod train;

use std::ffi::OsString;

use args::{parse_args, Config, DatasetChoice, OptimizerChoice};
use data::{parse_csv, spiral, CsvError, Standardizer};
use ferrograd::nn::{DataLoader, Module};

const IRIS: &str = include_str!("../examples/data/iris.csv");

#[test]
fn spiral_is_deterministic_and_shaped_as_asked() {
    let a = spiral(100, 3, 0.2, 7);
    assert_eq!(a, spiral(100, 3, 0.2, 7), "same seed, same points");
    assert_ne!(
        a.features,
        spiral(100, 3, 0.2, 8).features,
        "another seed, other points"
    );
    assert_eq!((a.len(), a.n_features(), a.n_classes()), (300, 2, 3));
    for k in 0..3 {
        assert_eq!(a.labels.iter().filter(|&&l| l == k).count(), 100);
    }
    // Every point lies at radius r = i / 99 along its arm, whatever the noise.
    for i in 0..a.len() {
        let [x, y] = [a.row(i)[0] as f64, a.row(i)[1] as f64];
        let r = (i % 100) as f64 / 99.0;
        assert!(((x * x + y * y).sqrt() - r).abs() < 1e-5, "row {i}");
    }
}

#[test]
fn split_is_a_seeded_partition() {
    let d = spiral(50, 3, 0.2, 1);
    let (train, test) = d.split(0.2, 3);
    assert_eq!((train.len(), test.len()), (120, 30));
    assert_eq!(d.split(0.2, 3), (train.clone(), test.clone()));
    assert_ne!(d.split(0.2, 4).1, test);
    let mut rows: Vec<Vec<u32>> = (0..train.len())
        .map(|i| train.row(i))
        .chain((0..test.len()).map(|i| test.row(i)))
        .map(|r| r.iter().map(|v| v.to_bits()).collect())
        .collect();
    let mut all: Vec<Vec<u32>> = (0..d.len())
        .map(|i| d.row(i).iter().map(|v| v.to_bits()).collect())
        .collect();
    rows.sort();
    all.sort();
    assert_eq!(rows, all, "every row exactly once");
    // A tiny set still keeps a row on each side.
    let (tr, te) = d.select(&[0, 1]).split(0.2, 0);
    assert_eq!((tr.len(), te.len()), (1, 1));
}

#[test]
fn iris_parses() {
    let iris = parse_csv(IRIS).unwrap();
    assert_eq!((iris.len(), iris.n_features(), iris.n_classes()), (150, 4, 3));
    assert_eq!(
        iris.feature_names,
        ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    );
    assert_eq!(iris.row(0), [5.1, 3.5, 1.4, 0.2]);
    for k in 0..3 {
        assert_eq!(iris.labels.iter().filter(|&&l| l == k).count(), 50);
    }
}

#[test]
fn csv_without_header_and_with_other_labels() {
    let d = parse_csv("1.5, 2, 7\n\n-3,4e-1,5\r\n0,0,7.0\n").unwrap();
    assert_eq!(d.feature_names, ["feature 1", "feature 2"]);
    assert_eq!(d.class_names, ["5", "7"], "distinct labels, sorted");
    assert_eq!(d.labels, [1, 0, 1]);
    assert_eq!(d.features, [1.5, 2.0, -3.0, 0.4, 0.0, 0.0]);
}

#[test]
fn csv_errors_name_the_line() {
    let err = |text: &str| parse_csv(text).unwrap_err();
    assert_eq!(
        err("a,b,label\n1,2,0\n\n3,4\n"),
        CsvError::Columns {
            line: 4,
            expected: 3,
            found: 2
        }
    );
    assert_eq!(
        err("1,2,0\n3,x,1\n"),
        CsvError::Number {
            line: 2,
            column: 2,
            value: "x".into()
        }
    );
    assert_eq!(
        err("1,2,0\n3,nan,1\n"),
        CsvError::Number {
            line: 2,
            column: 2,
            value: "nan".into()
        }
    );
    assert_eq!(
        err("1,2,0\n3,4,1.5\n"),
        CsvError::Label {
            line: 2,
            value: "1.5".into()
        }
    );
    assert_eq!(
        err("x,y,label\n1,2,cat\n"),
        CsvError::Label {
            line: 2,
            value: "cat".into()
        }
    );
    assert_eq!(err("1,2,3\n4,5,3\n"), CsvError::OneClass { label: "3".into() });
    assert_eq!(err(""), CsvError::Empty);
    assert_eq!(err("x,y,label\n"), CsvError::Empty);
    assert_eq!(err("1\n2\n"), CsvError::TooFewColumns { line: 1, found: 1 });
    let message = err("a,b,label\n1,2,0\n3,4\n").to_string();
    assert_eq!(message, "line 3: expected 3 columns, found 2");
    let missing = data::load_csv("/definitely/not/here.csv").unwrap_err();
    assert!(missing.starts_with("cannot read /definitely/not/here.csv"), "{missing}");
}

#[test]
fn standardizer_fits_the_training_rows() {
    let d = parse_csv("1,5,0\n3,5,1\n5,5,0\n").unwrap();
    let s = Standardizer::fit(&d);
    assert_eq!(s.mean, [3.0, 5.0]);
    let std0 = (8.0f32 / 3.0).sqrt();
    assert!((s.std[0] - std0).abs() < 1e-6);
    assert_eq!(s.std[1], 1.0, "a constant feature is left unscaled");
    let t = s.transform(&d);
    assert!((t.row(0)[0] + 2.0 / std0).abs() < 1e-6);
    assert_eq!(t.row(2)[1], 0.0);
    assert_eq!(t.labels, d.labels);
}

fn parse(args: &[&str]) -> Result<Option<Config>, String> {
    parse_args(args.iter().map(OsString::from))
}

#[test]
fn command_line_defaults_and_options() {
    let c = parse(&[]).unwrap().unwrap();
    assert_eq!(c.dataset, DatasetChoice::Spiral);
    assert_eq!((c.epochs, c.lr, c.batch_size, c.seed), (60, 0.01, 32, 0));
    assert_eq!(c.hidden, [64, 64]);
    assert_eq!(c.optimizer, OptimizerChoice::Adam);
    assert_eq!(c.save, "target/models/spiral.safetensors");
    assert_eq!(c.plot_dir.as_deref(), Some("target/plots"));

    let c = parse(&[
        "--dataset",
        "data/x.CSV",
        "--optimizer",
        "sgd",
        "--epochs",
        "3",
        "--hidden",
        "8, 4",
        "--seed",
        "9",
        "--save",
        "m.json",
        "--load",
        "old.json",
        "--no-plot",
    ])
    .unwrap()
    .unwrap();
    assert_eq!(c.dataset, DatasetChoice::Csv("data/x.CSV".into()));
    assert_eq!((c.optimizer, c.lr, c.epochs, c.seed), (OptimizerChoice::Sgd, 0.1, 3, 9));
    assert_eq!(c.hidden, [8, 4]);
    assert_eq!(
        (c.save.as_str(), c.load.as_deref(), c.plot_dir),
        ("m.json", Some("old.json"), None)
    );
    assert_eq!(parse(&["--dataset", "iris"]).unwrap().unwrap().hidden, [16]);
    assert_eq!(parse(&["--help"]).unwrap(), None);
}

#[test]
fn command_line_mistakes_are_errors() {
    for (args, expected) in [
        (&["--frobnicate"][..], "invalid option '--frobnicate'"),
        (&["--epochs", "ten"], "--epochs \"ten\": expected a whole number"),
        (&["--epochs", "-1"], "--epochs \"-1\": expected a whole number"),
        (&["--epochs"], "missing argument for option '--epochs'"),
        (&["--lr", "0"], "--lr 0: the learning rate must be a positive number"),
        (
            &["--lr", "inf"],
            "--lr inf: the learning rate must be a positive number",
        ),
        (
            &["--optimizer", "rmsprop"],
            "--optimizer \"rmsprop\": expected sgd, adam or adamw",
        ),
        (
            &["--dataset", "mnist"],
            "--dataset \"mnist\": expected spiral, iris or a path ending in .csv",
        ),
        (
            &["--hidden", "64,0"],
            "--hidden \"64,0\": expected positive widths separated by commas, as 64,64",
        ),
        (&["--batch-size", "0"], "--batch-size 0: a batch needs at least one row"),
        (&["extra"], "unexpected argument \"extra\""),
    ] {
        assert_eq!(parse(args).unwrap_err(), expected, "{args:?}");
    }
}

#[test]
fn a_short_training_run_learns_the_spiral() {
    let (train_raw, test_raw) = spiral(100, 3, 0.2, 0).split(0.2, 0);
    let s = Standardizer::fit(&train_raw);
    let (train_set, test_set) = (s.transform(&train_raw), s.transform(&test_raw));
    let model = model::mlp(&[2, 32, 32, 3], 0);
    let (x, y) = train::tensors(&train_set).unwrap();
    let loader = DataLoader::new(x, y, 32, true, 0).unwrap();
    let mut opt = train::optimizer(OptimizerChoice::Adam, model.parameters(), 0.01);
    let (first_loss, _) = train::evaluate(&model, &test_set).unwrap();
    for epoch in 0..40 {
        train::train_epoch(&model, opt.as_mut(), &loader, epoch).unwrap();
    }
    let (loss, acc) = train::evaluate(&model, &test_set).unwrap();
    assert!(loss < first_loss / 4.0, "loss {first_loss} -> {loss}");
    assert!(acc >= 0.9, "test accuracy {acc}");
}

#[test]
fn saved_models_load_back_in_both_formats() {
    let d = parse_csv(IRIS).unwrap();
    let s = Standardizer::fit(&d);
    let model = model::mlp(&[4, 5, 3], 3);
    let expected = train::predict(&model, s.transform(&d).features, 4).unwrap();
    let dir = std::env::temp_dir().join(format!("ferrograd-train-classifier-{}", std::process::id()));
    for name in ["m.safetensors", "m.json"] {
        let path = dir.join("sub").join(name).to_string_lossy().into_owned();
        model::save(&model, &s, &path).unwrap();
        let (loaded, s2) = model::load(&path, 4, 3).unwrap();
        assert_eq!(s2, s);
        assert_eq!(loaded.state_dict(), model.state_dict(), "{name}");
        assert_eq!(train::predict(&loaded, s2.transform(&d).features, 4).unwrap(), expected);
        let wrong = model::load(&path, 2, 3).err().unwrap();
        assert!(
            wrong.ends_with("the model was trained on 4 features, this data set has 2"),
            "{wrong}"
        );
        let wrong = model::load(&path, 4, 5).err().unwrap();
        assert!(wrong.contains("maps 4 features to 3 classes"), "{wrong}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(model::load("/no/such/model.json", 4, 3).is_err());
}
