#!/usr/bin/env python3
"""PyTorch's side of ferrograd's benchmarks (docs/performance.md).

Runs the workloads of `benches/workloads.rs`, `benches/ce_memory.rs` and `benches/models.rs` in PyTorch, float32 on
two threads, and prints one line per workload with the same name and the median time, so the
two outputs can be put side by side:

    /work/.venv-ref/bin/python benches/pytorch_reference.py

Options: `--quick` runs fewer samples; `--only NAME` runs the workloads whose name contains
NAME. Without an importable torch the script says so and exits 0.
"""

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - depends on the machine
    print("pytorch_reference.py: torch is not importable here; nothing to compare with.")
    sys.exit(0)

THREADS = 2
CE_SHAPES = [(64, 4), (4096, 1000), (2048, 32000)]
MLP_SHAPES = [("2-64-64-3_b128", (2, 64, 64, 3), 128), ("784-128-128-10_b64", (784, 128, 128, 10), 64)]
CHAIN = 1000
ELEMENTWISE = 1 << 20
MIB = 1024 * 1024


def measure(fn, budget, min_samples, max_samples=1000):
    """The median seconds of one call of `fn`, over samples of several calls each.

    Like criterion: a warm-up, then samples that each time a batch of calls sized so that one
    sample takes about budget / min_samples seconds (at least one call)."""
    fn()
    t0 = time.perf_counter()
    warm = 0
    while time.perf_counter() - t0 < min(1.0, budget / 3):
        fn()
        warm += 1
    per_call = (time.perf_counter() - t0) / max(warm, 1)
    calls = max(1, int(budget / min_samples / max(per_call, 1e-9)))
    samples = []
    t_end = time.perf_counter() + budget
    while len(samples) < min_samples or (time.perf_counter() < t_end and len(samples) < max_samples):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t) / calls)
    return statistics.median(samples), len(samples), calls


def fmt(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.4g} {unit}"
    return f"{seconds / 1e-9:.4g} ns"


def report(name, seconds, samples, calls, extra=""):
    print(f"{name:<42} median {fmt(seconds):>12}   ({samples} samples x {calls} calls){extra}", flush=True)


def cross_entropy_fwd_bwd(n, c):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, c, generator=g).requires_grad_()
    target = torch.randint(0, c, (n,), generator=g)

    def step():
        logits.grad = None
        F.cross_entropy(logits, target).backward()

    return step


def mlp_step(sizes, batch):
    g = torch.Generator().manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    x = torch.randn(batch, sizes[0], generator=g)
    y = torch.randint(0, sizes[-1], (batch,), generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def chain():
    z0 = torch.ones(4, requires_grad=True)

    def run():
        z0.grad = None
        z = z0
        for _ in range(CHAIN):
            z = z * 1.0001 + 0.0001
        z.sum().backward()

    return run


def memcpy(n, c):
    src = torch.randn(n, c)
    dst = torch.empty_like(src)
    return (lambda: dst.copy_(src)), (lambda: src.clone())


# ----------------------------------------------------------------------------- benches/models.rs

HERE = os.path.dirname(os.path.abspath(__file__))
CHAR_MODELS = ["mlp", "gru", "transformer"]
LAYERS = ["conv2d_16x16x8x8_k3", "layernorm_512x64", "embedding_512x27x64", "sdpa_causal_32x4x16x16",
          "batchnorm2d_64x16x8x8"]


def char_model_step(kind):
    """One AdamW step of the char_lm model `kind` (benches/char_lm_pytorch.py's, at its default
    sizes) on 32 words of names.txt, cycling through 16 fixed batches, as model_step/char_*."""
    sys.path.insert(0, HERE)
    import char_lm_pytorch as cl

    torch.manual_seed(3407)
    with open(os.path.join(HERE, "..", "examples", "data", "names.txt"), encoding="utf-8") as f:
        words = [w.strip() for w in f if w.strip()]
    chars = sorted(set("".join(words)))
    stoi = {ch: i + 1 for i, ch in enumerate(chars)}
    block_size = max(len(w) for w in words) + 1
    x, y = cl.encode(words, stoi, block_size)
    batches = [torch.randint(len(x), (32,)) for _ in range(16)]
    batches = [(x[rows], y[rows]) for rows in batches]
    c = argparse.Namespace(vocab_size=len(chars) + 1, block_size=block_size, n_layer=4, n_head=4,
                           n_embd=64, n_embd2=64)
    model = cl.build(kind, c)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01, betas=(0.9, 0.99), eps=1e-8)
    state = {"i": 0}

    def step():
        xb, yb = batches[state["i"] % len(batches)]
        state["i"] += 1
        opt.zero_grad(set_to_none=True)
        loss = cl.loss_of(model, xb, yb)
        loss.backward()
        opt.step()
        loss.item()

    return step


def digits_cnn_step():
    """One Adam step (lr 0.003) of examples/digits' CNN on the first 64 images, in training
    mode, as model_step/digits_cnn."""
    import numpy as np

    rows = np.loadtxt(os.path.join(HERE, "..", "examples", "data", "digits.csv"), delimiter=",",
                      dtype=np.float32, ndmin=2)[:64]
    x = torch.from_numpy(rows[:, :64] / 16.0).reshape(-1, 1, 8, 8)
    y = torch.from_numpy(rows[:, 64].astype(np.int64))
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10),
    )
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=0.003)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()

    return step


def layer_fwd_bwd(name):
    """Forward of one layer, then backward from a fixed random output gradient to its
    parameters and input (gradients cleared first), as layer_fwd_bwd/<name>."""
    g = torch.Generator().manual_seed(0)

    def leaf(*shape):
        return torch.randn(*shape, generator=g).requires_grad_()

    nn = torch.nn
    if name == "conv2d_16x16x8x8_k3":
        x, layer = leaf(16, 16, 8, 8), nn.Conv2d(16, 16, 3, padding=1)
        inputs, fn = [x], lambda: layer(x)
    elif name == "layernorm_512x64":
        x, layer = leaf(512, 64), nn.LayerNorm(64)
        inputs, fn = [x], lambda: layer(x)
    elif name == "embedding_512x27x64":
        idx, layer = torch.randint(0, 27, (512,), generator=g), nn.Embedding(27, 64)
        inputs, fn = [], lambda: layer(idx)
    elif name == "sdpa_causal_32x4x16x16":
        q, k, v = leaf(32, 4, 16, 16), leaf(32, 4, 16, 16), leaf(32, 4, 16, 16)
        layer = None
        inputs, fn = [q, k, v], lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)
    elif name == "batchnorm2d_64x16x8x8":
        x, layer = leaf(64, 16, 8, 8), nn.BatchNorm2d(16)
        layer.train()
        inputs, fn = [x], lambda: layer(x)
    else:
        raise KeyError(name)
    tensors = inputs + (list(layer.parameters()) if layer is not None else [])
    grad = torch.randn(fn().shape, generator=g)

    def run():
        for t in tensors:
            t.grad = None
        fn().backward(grad)

    return run


def models(want, budget, quick):
    for kind in CHAR_MODELS:
        name = f"model_step/char_{kind}"
        if want(name):
            report(name, *measure(char_model_step(kind), budget, 10 if quick else 30))
    name = "model_step/digits_cnn"
    if want(name):
        report(name, *measure(digits_cnn_step(), budget, 10 if quick else 30))
    for layer in LAYERS:
        name = f"layer_fwd_bwd/{layer}"
        if want(name):
            report(name, *measure(layer_fwd_bwd(layer), budget, 10 if quick else 30))


def elementwise(op):
    """On a leaf of ELEMENTWISE random normal values: y = op(x), then y.backward(ones)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(ELEMENTWISE, generator=g).requires_grad_()
    ones = torch.ones(ELEMENTWISE)

    def step():
        x.grad = None
        op(x).backward(ones)

    return step


def vm(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def memory_child(n, c):
    """In a fresh process: peak resident memory of one forward+backward beyond the logits
    and their gradient, read from VmHWM after resetting it (Linux >= 4.0)."""
    torch.set_num_threads(THREADS)
    small = torch.randn(8, 16, requires_grad=True)
    F.cross_entropy(small, torch.randint(0, 16, (8,))).backward()  # load the kernels first
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, c, generator=g).requires_grad_()
    target = torch.randint(0, c, (n,), generator=g)
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = vm("VmRSS")
    F.cross_entropy(logits, target).backward()
    peak = vm("VmHWM")
    grad_bytes = logits.grad.numel() * logits.grad.element_size()
    logit_bytes = logits.numel() * logits.element_size()
    extra = peak - base - grad_bytes
    print(f"{extra} {logit_bytes}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer samples")
    ap.add_argument("--only", default="", help="run only workloads whose name contains this")
    ap.add_argument("--memory-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return

    torch.set_num_threads(THREADS)
    budget = 1.0 if args.quick else 3.0
    print(f"# PyTorch {torch.__version__}, {torch.get_num_threads()} threads, float32")

    def want(name):
        return args.only in name

    for n, c in CE_SHAPES:
        name = f"cross_entropy_fwd_bwd/{n}x{c}"
        if want(name):
            big = n * c >= 10_000_000
            report(name, *measure(cross_entropy_fwd_bwd(n, c), budget, 10 if args.quick else 20))
    for label, sizes, batch in MLP_SHAPES:
        name = f"mlp_step/{label}"
        if want(name):
            report(name, *measure(mlp_step(sizes, batch), budget, 20 if args.quick else 50))
    name = f"autograd_overhead/chain_{CHAIN}"
    if want(name):
        t, s, k = measure(chain(), budget, 20 if args.quick else 50)
        report(name, t, s, k, f"   = {fmt(t / (2 * CHAIN))} per op ({2 * CHAIN} ops)")
    name = "memcpy_parallel/2048x32000"
    if want(name) or want("memcpy"):
        copy, clone = memcpy(2048, 32000)
        # copy_ splits a copy this big across PyTorch's threads: ferrograd's memcpy_parallel.
        report(name, *measure(copy, budget, 10 if args.quick else 20), "   (dst.copy_(src), preallocated, on its threads)")
        report("memcpy_alloc/2048x32000", *measure(clone, budget, 10 if args.quick else 20), "   (src.clone(), fresh allocation)")
    elementwise_ops = [
        ("tanh_1M", torch.tanh),
        ("gelu_tanh_1M", lambda x: F.gelu(x, approximate="tanh")),
        ("sigmoid_1M", torch.sigmoid),
        ("gelu_1M", F.gelu),
        ("silu_1M", F.silu),
        ("softplus_1M", F.softplus),
    ]
    for label, op in elementwise_ops:
        name = f"elementwise/{label}"
        if want(name):
            report(name, *measure(elementwise(op), budget, 20 if args.quick else 50))
    name = "elementwise/memcpy_1M"
    if want(name):
        src = torch.randn(ELEMENTWISE)
        dst = torch.empty_like(src)
        report(name, *measure(lambda: dst.copy_(src), budget, 20 if args.quick else 50), "   (dst.copy_(src), preallocated)")
    name = "cross_entropy_memory/2048x32000"
    if want(name):
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--memory-child", "2048", "32000"],
            check=True, capture_output=True, text=True,
        ).stdout.split()
        extra, logit_bytes = int(out[0]), int(out[1])
        print(f"{name:<42} extra peak RSS {extra / MIB:8.1f} MiB = {extra / logit_bytes:.3f} x logits ({logit_bytes / MIB:.1f} MiB)")
    models(want, budget, args.quick)


if __name__ == "__main__":
    main()
