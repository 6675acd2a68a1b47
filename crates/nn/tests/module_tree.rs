//! Models written as structs: `#[derive(Module)]` names parameters and buffers as PyTorch
//! does, `train`/`eval` reach every layer, and buffers travel in `state_dict` and its files.

use ferrograd_autograd::Var;
use ferrograd_nn::{
    Buffer, Dropout, Embedding, Flatten, Forward, Linear, Module, ModuleDict, ModuleList, Sequential, StateDict,
    StateValue, Tanh, TrainingFlag,
};
use ferrograd_tensor::{IndexTensor, Result, Tensor};

/// A layer with a float buffer and an int64 counter, as batch norm has.
#[derive(Module)]
struct Counting {
    weight: Var,
    running_mean: Buffer,
    num_batches_tracked: Buffer,
    training: TrainingFlag,
}

impl Counting {
    fn new(n: usize) -> Self {
        Self {
            weight: Var::parameter(Tensor::ones(&[n])),
            running_mean: Buffer::new(Tensor::zeros(&[n])),
            num_batches_tracked: Buffer::int(IndexTensor::scalar(0)),
            training: TrainingFlag::default(),
        }
    }
}

#[derive(Module)]
struct Attention {
    c_attn: Linear,
    c_proj: Linear,
    n_head: usize,
}

/// Fields in an order PyTorch would not list them in: a child before a parameter.
#[derive(Module)]
struct Block {
    attn: Attention,
    norm: Counting,
    scale: Var,
    drop: Dropout,
}

#[derive(Module)]
struct Gpt {
    wte: Embedding,
    h: ModuleList<Block>,
    lm_head: Linear,
}

fn block(seed: u64) -> Block {
    Block {
        attn: Attention {
            c_attn: Linear::new(4, 12, seed),
            c_proj: Linear::new(4, 4, seed + 1),
            n_head: 2,
        },
        norm: Counting::new(4),
        scale: Var::parameter(Tensor::ones(&[1])),
        drop: Dropout::new(0.1, seed).unwrap(),
    }
}

fn gpt() -> Gpt {
    Gpt {
        wte: Embedding::new(11, 4, 0),
        h: (0..2).map(|i| block(10 * i + 1)).collect(),
        lm_head: Linear::with_rng(4, 11, false, &mut rand::rng()),
    }
}

#[test]
fn names_are_pytorch_dotted_paths_with_own_parameters_first() {
    let names: Vec<String> = gpt().named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "wte.weight",
            "h.0.scale",
            "h.0.attn.c_attn.weight",
            "h.0.attn.c_attn.bias",
            "h.0.attn.c_proj.weight",
            "h.0.attn.c_proj.bias",
            "h.0.norm.weight",
            "h.1.scale",
            "h.1.attn.c_attn.weight",
            "h.1.attn.c_attn.bias",
            "h.1.attn.c_proj.weight",
            "h.1.attn.c_proj.bias",
            "h.1.norm.weight",
            "lm_head.weight",
        ]
    );
    let buffers: Vec<String> = gpt().named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        buffers,
        [
            "h.0.norm.running_mean",
            "h.0.norm.num_batches_tracked",
            "h.1.norm.running_mean",
            "h.1.norm.num_batches_tracked"
        ]
    );
}

#[test]
fn state_dict_lists_a_modules_parameters_then_its_buffers_then_its_children() {
    let sd = block(1).state_dict();
    let names: Vec<&str> = sd.names().collect();
    assert_eq!(
        names,
        [
            "scale",
            "attn.c_attn.weight",
            "attn.c_attn.bias",
            "attn.c_proj.weight",
            "attn.c_proj.bias",
            "norm.weight",
            "norm.running_mean",
            "norm.num_batches_tracked"
        ]
    );
    assert_eq!(sd.get_int("norm.num_batches_tracked"), Some(&IndexTensor::scalar(0)));
    assert_eq!(sd.value("norm.num_batches_tracked").unwrap().kind(), "int64");
    assert!(
        sd.get("norm.num_batches_tracked").is_none(),
        "get gives float entries only"
    );
}

#[test]
fn train_and_eval_reach_every_nested_layer() {
    let model = gpt();
    assert!(model.is_training());
    model.eval();
    assert!(!model.is_training());
    assert!(model.h.iter().all(|b| !b.drop.is_training() && !b.norm.training.get()));
    model.h[1].train();
    assert!(model.h[1].drop.is_training());
    assert!(!model.h[0].drop.is_training());
    model.train();
    assert!(model.h.iter().all(|b| b.drop.is_training()));
}

#[test]
fn buffers_round_trip_through_safetensors_and_json() -> Result<()> {
    let model = gpt();
    model.h[0].norm.num_batches_tracked.set(IndexTensor::scalar(7))?;
    model.h[1]
        .norm
        .running_mean
        .set(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4])?)?;
    let sd = model.state_dict();
    for read in [
        StateDict::from_safetensors_bytes(&sd.to_safetensors_bytes()?)?,
        StateDict::from_json_str(&sd.to_json_string())?,
    ] {
        // safetensors keeps no order (the file sorts its tensors); the entries are the same.
        assert_eq!(read.len(), sd.len());
        assert!(sd.iter().all(|(name, value)| read.value(name) == Some(value)));
        let other = gpt();
        other.load_state_dict(&read)?;
        assert_eq!(other.state_dict(), sd);
        assert_eq!(
            other.h[0].norm.num_batches_tracked.value().as_int(),
            Some(&IndexTensor::scalar(7))
        );
    }
    Ok(())
}

#[test]
fn a_load_missing_a_buffer_or_with_the_wrong_kind_changes_nothing() -> Result<()> {
    let model = gpt();
    let before = model.state_dict();
    let mut sd = gpt().state_dict();
    sd.remove("h.1.norm.num_batches_tracked");
    let err = model.load_state_dict(&sd).unwrap_err().to_string();
    assert!(
        err.contains("Missing key(s) in state_dict: \"h.1.norm.num_batches_tracked\"."),
        "{err}"
    );
    assert_eq!(model.state_dict(), before);

    let mut sd = gpt().state_dict();
    sd.insert("h.1.norm.num_batches_tracked", Tensor::<f32>::zeros(&[]));
    let err = model.load_state_dict(&sd).unwrap_err().to_string();
    assert!(
        err.contains("h.1.norm.num_batches_tracked: the checkpoint holds float32 values for a int64 buffer"),
        "{err}"
    );
    assert_eq!(model.state_dict(), before);
    Ok(())
}

#[test]
fn a_load_while_a_value_is_borrowed_is_an_error_and_changes_nothing() {
    let model = gpt();
    let before = model.state_dict();
    let mut sd = gpt().state_dict();
    for (name, p) in model.named_parameters() {
        sd.insert(name, p.to_tensor().map(|v| v + 1.0));
    }
    let held = model.lm_head.weight.value();
    let err = model.load_state_dict(&sd).unwrap_err().to_string();
    assert!(err.contains("lm_head.weight") && err.contains("borrowed"), "{err}");
    drop(held);
    assert_eq!(model.state_dict(), before, "nothing was written before the error");
    model.load_state_dict(&sd).unwrap();
    assert_eq!(model.state_dict(), sd);
}

#[test]
fn a_weight_shared_under_two_names_loads() -> Result<()> {
    #[derive(Module)]
    struct Tied {
        wte: Embedding,
        lm_head: Linear,
    }
    let wte = Embedding::new(5, 3, 0);
    let lm_head = Linear {
        weight: wte.weight.clone(),
        bias: None,
    };
    let tied = Tied { wte, lm_head };
    let mut sd = tied.state_dict();
    sd.insert("wte.weight", Tensor::<f32>::ones(&[5, 3]));
    sd.insert("lm_head.weight", Tensor::<f32>::ones(&[5, 3]));
    tied.load_state_dict(&sd)?;
    assert_eq!(tied.lm_head.weight.to_tensor(), Tensor::ones(&[5, 3]));
    Ok(())
}

#[test]
fn a_sequential_can_start_with_class_indices() -> Result<()> {
    let model: Sequential = Sequential::new()
        .add(Embedding::new(27, 10, 0))
        .add(Flatten::default())
        .add(Linear::new(30, 16, 1))
        .add(Tanh)
        .add(Linear::new(16, 27, 2));
    let x = IndexTensor::from_vec(vec![0, 5, 13, 1, 1, 2], &[2, 3])?;
    let logits = model.forward(&x)?;
    assert_eq!(logits.shape(), [2, 27]);
    // The same as calling the layers one by one.
    let emb = Embedding::<f32>::from_tensor(model.state_dict().get("0.weight").unwrap().clone())?;
    let h = emb.forward(&x)?.flatten(1, -1)?;
    assert_eq!(h.shape(), [2, 30]);

    let err = model
        .forward(&Var::new(Tensor::<f32>::zeros(&[2, 3])))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("layer 0 (Embedding) takes class indices (an IndexTensor) but was given a float Var"),
        "{err}"
    );
    let floats: Sequential = Sequential::new().add(Linear::new(3, 2, 0));
    let err = floats.forward(&x).unwrap_err().to_string();
    assert!(
        err.contains("layer 0 (Linear) takes a float Var but was given class indices"),
        "{err}"
    );
    Ok(())
}

#[test]
fn module_dict_names_its_entries_and_refuses_dotted_names() -> Result<()> {
    let mut heads = ModuleDict::new();
    heads.insert("digits", Linear::<f32>::new(4, 10, 0))?;
    heads.insert("parity", Linear::<f32>::new(4, 2, 1))?;
    let names: Vec<String> = heads.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["digits.weight", "digits.bias", "parity.weight", "parity.bias"]);
    let err = heads.insert("a.b", Linear::new(4, 2, 1)).unwrap_err().to_string();
    assert!(err.contains("module name can't contain \".\""), "{err}");
    Ok(())
}

#[test]
fn a_vec_of_parameters_is_a_parameter_list() {
    #[derive(Module)]
    struct Mixture {
        means: Vec<Var>,
        extra: Option<Var>,
        missing: Option<Var>,
    }
    let m = Mixture {
        means: vec![Var::parameter(Tensor::zeros(&[2])), Var::parameter(Tensor::zeros(&[2]))],
        extra: Some(Var::parameter(Tensor::zeros(&[1]))),
        missing: None,
    };
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["extra", "means.0", "means.1"]);
    assert!(matches!(m.state_dict().value("means.1"), Some(StateValue::Float(_))));
}

#[test]
fn a_generic_model_is_a_module_of_its_element_type() -> Result<()> {
    #[derive(Module)]
    struct TwoLayer<T: ferrograd_tensor::Float> {
        fc1: Linear<T>,
        fc2: Linear<T>,
    }
    let m = TwoLayer::<f64> {
        fc1: Linear::new(3, 4, 0),
        fc2: Linear::new(4, 2, 1),
    };
    assert_eq!(m.parameters().len(), 4);
    let sd: StateDict<f64> = m.state_dict();
    m.load_state_dict(&sd)?;
    Ok(())
}
