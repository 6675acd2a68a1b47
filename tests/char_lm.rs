//! The pieces of `examples/char_lm`, tested on small data without running the example: the
//! encoding of words into `x` / `y`, the seeded split, each model type's loss falling over a
//! few steps on a tiny configuration, a saved model reloading to the same outputs, and the
//! input files that must give a clear error or a sensible model.

#[allow(dead_code)]
#[path = "../examples/char_lm/args.rs"]
mod args;
#[allow(dead_code)]
#[path = "../examples/char_lm/bigram.rs"]
mod bigram;
#[allow(dead_code)]
#[path = "../examples/char_lm/bow.rs"]
mod bow;
#[allow(dead_code)]
#[path = "../examples/char_lm/data.rs"]
mod data;
#[allow(dead_code)]
#[path = "../examples/char_lm/mlp.rs"]
mod mlp;
#[allow(dead_code)]
#[path = "../examples/char_lm/model.rs"]
mod model;
#[allow(dead_code)]
#[path = "../examples/char_lm/rnn.rs"]
mod rnn;
#[allow(dead_code)]
#[path = "../examples/char_lm/train.rs"]
mod train;
#[allow(dead_code)]
#[path = "../examples/char_lm/transformer.rs"]
mod transformer;

use std::path::PathBuf;

use data::{parse_words, split, split_given, CharDataset, Vocab};
use ferrograd::autograd::no_grad;
use ferrograd::nn::Module;
use ferrograd::tensor::IndexTensor;
use model::{ModelConfig, ModelType};
use rand::rngs::StdRng;
use rand::SeedableRng;

const NAMES: &str = include_str!("../examples/data/names.txt");

/// The first `n` names, their vocabulary, block size and tiny model sizes.
fn tiny(n: usize) -> (Vec<String>, Vocab, ModelConfig) {
    let words: Vec<String> = NAMES.lines().take(n).map(str::to_string).collect();
    let vocab = Vocab::of(&words);
    let block_size = words.iter().map(|w| w.len()).max().unwrap() + 1;
    let config = ModelConfig {
        vocab_size: vocab.size(),
        block_size,
        n_layer: 1,
        n_head: 2,
        n_embd: 8,
        n_embd2: 8,
    };
    (words, vocab, config)
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrograd-char-lm-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn words_become_x_and_y_with_ignored_tails() {
    let words = vec!["ab".to_string(), "b".to_string()];
    let vocab = Vocab::of(&words);
    assert_eq!(vocab.chars, ['a', 'b']);
    assert_eq!(vocab.size(), 3);
    let data = CharDataset::new(words, &vocab, 4).unwrap();
    let (x, y) = data.batch(&[0, 1]);
    assert_eq!(x.to_vec(), [0, 1, 2, 0, 0, 2, 0, 0]);
    assert_eq!(y.to_vec(), [1, 2, 0, -1, 2, 0, -1, -1]);
    assert_eq!(vocab.decode(&[1, 2, 0, 1]), "ab");
}

#[test]
fn the_test_split_is_seeded_and_holds_min_1000_or_a_tenth() {
    let words: Vec<String> = NAMES.lines().map(str::to_string).collect();
    let (train, test) = split(&words, &mut StdRng::seed_from_u64(3407)).unwrap();
    assert_eq!((train.len(), test.len()), (31033, 1000));
    let (train2, test2) = split(&words, &mut StdRng::seed_from_u64(3407)).unwrap();
    assert_eq!((&train, &test), (&train2, &test2), "same seed, same split");
    let (_, test3) = split(&words[..250], &mut StdRng::seed_from_u64(1)).unwrap();
    assert_eq!(test3.len(), 25);
}

#[test]
fn given_test_words_are_held_out_once_each_and_unknown_ones_are_errors() {
    let words: Vec<String> = ["ava", "bo", "ava", "cy", "dee"].map(str::to_string).to_vec();
    let (train, test) = split_given(&words, vec!["ava".into(), "cy".into()], &mut StdRng::seed_from_u64(1)).unwrap();
    assert_eq!(test, ["ava", "cy"]);
    let mut sorted = train.clone();
    sorted.sort();
    assert_eq!(sorted, ["ava", "bo", "dee"], "one of the two avas is held out");
    // A seeded split's test words given back give the same split.
    let names: Vec<String> = NAMES.lines().map(str::to_string).collect();
    let (train, test) = split(&names, &mut StdRng::seed_from_u64(3407)).unwrap();
    let (train2, test2) = split_given(&names, test.clone(), &mut StdRng::seed_from_u64(3407)).unwrap();
    assert_eq!((train.len(), &test), (train2.len(), &test2));
    let err = split_given(&words, vec!["zed".into()], &mut StdRng::seed_from_u64(1)).unwrap_err();
    assert!(err.contains("\"zed\"") && err.contains("1 more time"), "{err}");
    let err = split_given(&words, vec!["cy".into(), "cy".into()], &mut StdRng::seed_from_u64(1)).unwrap_err();
    assert!(err.contains("\"cy\""), "{err}");
    let err = split_given(&words, Vec::new(), &mut StdRng::seed_from_u64(1)).unwrap_err();
    assert!(err.contains("no test words"), "{err}");
    let err = split_given(&words[..2], words[..2].to_vec(), &mut StdRng::seed_from_u64(1)).unwrap_err();
    assert!(err.contains("none is left to train on"), "{err}");
}

#[test]
fn every_model_type_lowers_the_loss_in_a_few_steps() {
    let (words, vocab, config) = tiny(200);
    let data = CharDataset::new(words, &vocab, config.block_size).unwrap();
    for kind in ModelType::ALL {
        let mut rng = StdRng::seed_from_u64(0);
        let model = model::build(kind, &config, &mut rng).unwrap();
        let before = train::full_loss(&model, &data).unwrap();
        let mut opt = train::optimizer(&model, 1e-2, 0.01);
        for _ in 0..25 {
            train::step(&model, &mut opt, &data, 32, &mut rng).unwrap();
        }
        let after = train::full_loss(&model, &data).unwrap();
        assert!(after < before - 0.05, "{}: loss {before:.4} -> {after:.4}", kind.name());
        let samples = train::sample(&model, &vocab, config.block_size, 3, 2, &mut rng).unwrap();
        assert_eq!(samples.len(), 3);
        assert!(samples.iter().all(|s| s.chars().count() < config.block_size));
    }
}

#[test]
fn a_saved_model_reloads_to_the_same_outputs() {
    let (words, vocab, config) = tiny(50);
    let data = CharDataset::new(words, &vocab, config.block_size).unwrap();
    let dir = scratch_dir("reload");
    let (x, _) = data.batch(&[0, 1, 2, 3]);
    for kind in ModelType::ALL {
        let mut rng = StdRng::seed_from_u64(1);
        let trained = model::build(kind, &config, &mut rng).unwrap();
        let mut opt = train::optimizer(&trained, 1e-2, 0.01);
        for _ in 0..3 {
            train::step(&trained, &mut opt, &data, 8, &mut rng).unwrap();
        }
        let path = dir.join(format!("{}.safetensors", kind.name()));
        model::save(&trained, &path).unwrap();
        let fresh = model::build(kind, &config, &mut StdRng::seed_from_u64(99)).unwrap();
        model::load(&fresh, &path).unwrap();
        let _guard = no_grad();
        let (a, b) = (trained.forward(&x).unwrap(), fresh.forward(&x).unwrap());
        assert_eq!(a.to_tensor().to_vec(), b.to_tensor().to_vec(), "{}", kind.name());
        // A model of another type refuses the file, naming what does not fit.
        let other = if kind == ModelType::Bigram {
            ModelType::Mlp
        } else {
            ModelType::Bigram
        };
        let wrong = model::build(other, &config, &mut rng).unwrap();
        let err = model::load(&wrong, &path).unwrap_err();
        assert!(err.contains("same --type"), "{err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn parameters_carry_pytorchs_names() {
    let (_, _, config) = tiny(20);
    let names = |kind| -> Vec<String> {
        let model = model::build(kind, &config, &mut StdRng::seed_from_u64(0)).unwrap();
        model.state_dict().names().map(str::to_string).collect()
    };
    let t = names(ModelType::Transformer);
    for name in [
        "transformer.wte.weight",
        "transformer.wpe.weight",
        "transformer.h.0.ln_1.weight",
        "transformer.h.0.attn.c_attn.weight",
        "transformer.h.0.attn.c_proj.bias",
        "transformer.h.0.mlp.c_fc.weight",
        "transformer.ln_f.bias",
        "lm_head.weight",
    ] {
        assert!(t.iter().any(|n| n == name), "{name} missing from {t:?}");
    }
    assert!(!t.iter().any(|n| n == "lm_head.bias"));
    assert_eq!(names(ModelType::Bigram), ["logits"]);
    assert_eq!(
        names(ModelType::Mlp),
        ["wte.weight", "mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias"]
    );
    assert_eq!(
        names(ModelType::Gru),
        [
            "start",
            "wte.weight",
            "cell.xh_to_z.weight",
            "cell.xh_to_z.bias",
            "cell.xh_to_r.weight",
            "cell.xh_to_r.bias",
            "cell.xh_to_hbar.weight",
            "cell.xh_to_hbar.bias",
            "lm_head.weight",
            "lm_head.bias"
        ]
    );
    assert_eq!(
        names(ModelType::Bow),
        [
            "wte.weight",
            "wpe.weight",
            "context_block.mlp.c_fc.weight",
            "context_block.mlp.c_fc.bias",
            "context_block.mlp.c_proj.weight",
            "context_block.mlp.c_proj.bias",
            "lm_head.weight",
            "lm_head.bias"
        ]
    );
}

#[test]
fn bad_input_files_give_clear_errors_or_a_sensible_model() {
    // An empty line is skipped.
    assert_eq!(parse_words(b"anna\n\n  \nbob\n").unwrap(), ["anna", "bob"]);
    // Windows line ends are trimmed.
    assert_eq!(parse_words(b"anna\r\nbob\r\n").unwrap(), ["anna", "bob"]);
    // A non-UTF-8 byte names its line.
    let err = parse_words(b"anna\nbo\xffb\n").unwrap_err();
    assert!(err.contains("line 2") && err.contains("UTF-8"), "{err}");
    // An empty file, or only blank lines.
    assert!(parse_words(b"").unwrap_err().contains("no words"));
    assert!(parse_words(b"\n\n").unwrap_err().contains("no words"));
    // A missing file names the path.
    let err = data::read_words("/no/such/names.txt").unwrap_err();
    assert!(err.contains("cannot read /no/such/names.txt"), "{err}");
    // A single word leaves no test set: a clear error.
    let err = split(&["anna".to_string()], &mut StdRng::seed_from_u64(0)).unwrap_err();
    assert!(err.contains("only 1 word") && err.contains("at least 10"), "{err}");
    // Ten copies of one word: a one-word vocabulary, and every model trains and samples.
    let words = vec!["a".to_string(); 10];
    let (train_words, test_words) = split(&words, &mut StdRng::seed_from_u64(0)).unwrap();
    let vocab = Vocab::of(&words);
    let config = ModelConfig {
        vocab_size: vocab.size(),
        block_size: 2,
        n_layer: 1,
        n_head: 1,
        n_embd: 4,
        n_embd2: 4,
    };
    let train_set = CharDataset::new(train_words, &vocab, 2).unwrap();
    let test_set = CharDataset::new(test_words, &vocab, 2).unwrap();
    for kind in ModelType::ALL {
        let mut rng = StdRng::seed_from_u64(0);
        let model = model::build(kind, &config, &mut rng).unwrap();
        let mut opt = train::optimizer(&model, 1e-2, 0.01);
        train::step(&model, &mut opt, &train_set, 4, &mut rng).unwrap();
        assert!(train::evaluate(&model, &test_set, 100, 10, &mut rng)
            .unwrap()
            .is_finite());
        train::sample(&model, &vocab, 2, 2, 0, &mut rng).unwrap();
    }
    // Unicode words: characters, not bytes.
    let words = vec!["zoë".to_string(), "łukasz".to_string()];
    let vocab = Vocab::of(&words);
    let data = CharDataset::new(words, &vocab, 7).unwrap();
    assert_eq!(vocab.decode(&data.batch(&[0]).1.to_vec()), "zoë");
}

#[test]
fn the_command_line_has_the_reference_defaults_and_refuses_mistakes() {
    let parse = |a: &[&str]| args::parse_args(a.iter().map(|s| s.into()));
    let c = parse(&[]).unwrap().unwrap();
    assert_eq!(c.kind, ModelType::Transformer);
    assert_eq!(
        (c.n_layer, c.n_head, c.n_embd, c.n_embd2, c.batch_size),
        (4, 4, 64, 64, 32)
    );
    assert_eq!((c.learning_rate, c.weight_decay, c.seed), (5e-4, 0.01, 3407));
    assert_eq!(c.work_dir, "target/char_lm/transformer");
    let c = parse(&["--type", "gru", "--top-k", "5", "--max-steps", "10"])
        .unwrap()
        .unwrap();
    assert_eq!((c.kind, c.top_k, c.max_steps), (ModelType::Gru, 5, 10));
    assert_eq!(c.test_words, None);
    let c = parse(&["--test-words", "held_out.txt"]).unwrap().unwrap();
    assert_eq!(c.test_words.as_deref(), Some("held_out.txt"));
    assert!(parse(&["--type", "lstm"]).unwrap_err().contains("expected bigram"));
    assert!(parse(&["--batch-size", "0"]).unwrap_err().contains("at least 1"));
    assert!(parse(&["--learning-rate", "-1"]).unwrap_err().contains("non-negative"));
    assert!(parse(&["--n-embd", "6", "--n-head", "4"]).is_ok());
    let config = ModelConfig {
        vocab_size: 5,
        block_size: 4,
        n_layer: 1,
        n_head: 4,
        n_embd: 6,
        n_embd2: 4,
    };
    let err = model::build(ModelType::Transformer, &config, &mut StdRng::seed_from_u64(0))
        .err()
        .unwrap();
    assert!(err.contains("multiple of --n-head 4"), "{err}");
    // An index tensor of the wrong vocabulary is an error, not a panic.
    let model = model::build(ModelType::Bigram, &config, &mut StdRng::seed_from_u64(0)).unwrap();
    assert!(model
        .forward(&IndexTensor::from_slice(&[9]).reshape(&[1, 1]).unwrap())
        .is_err());
}
