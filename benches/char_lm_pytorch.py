"""The six character-level language models of examples/char_lm, in PyTorch, in the same setup:
for comparing speed (steps per second) and quality (test loss at a given step count).

Same data and vocabulary (index 0 the start/stop token, block_size = longest word + 1, y = -1
past the word's end, left out through ignore_index=-1), the same test split rule
(min(1000, 10% of the words) by a seeded permutation), the same models and parameter names,
AdamW(lr 5e-4, weight_decay 0.01, betas (0.9, 0.99), eps 1e-8), batches of 32 drawn with
replacement, evaluation as the mean loss over 10 batches of 100 words. The random numbers are
PyTorch's, so the split and the initial weights differ from ferrograd's, not their
distributions; `--test-words target/char_lm/<type>/test_words.txt` holds out ferrograd's test
words instead, so that the test losses are taken on the same words.

    python benches/char_lm_pytorch.py --type transformer --max-steps 3000
    python benches/char_lm_pytorch.py --type all --max-steps 20      # a smoke run
    python benches/char_lm_pytorch.py --max-steps 1 --write-test-words pt_test_words.txt
        # this script's own split, for `char_lm --test-words pt_test_words.txt`

Prints, per model type: steps/s over the training steps (evaluation excluded), then
`<type> test loss at step N: X` (the loss over every test word).
"""

import argparse
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_INPUT = os.path.join(HERE, "..", "examples", "data", "names.txt")


# ----------------------------------------------------------------------------- models

class Bigram(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros((c.vocab_size, c.vocab_size)))

    def forward(self, idx):
        return self.logits[idx]


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.block_size, self.vocab_size = c.block_size, c.vocab_size
        self.wte = nn.Embedding(c.vocab_size + 1, c.n_embd)  # + the blank token
        self.mlp = nn.Sequential(
            nn.Linear(c.block_size * c.n_embd, c.n_embd2), nn.Tanh(), nn.Linear(c.n_embd2, c.vocab_size))

    def forward(self, idx):
        embs = []
        for _ in range(self.block_size):
            embs.append(self.wte(idx))
            idx = torch.roll(idx, 1, 1)
            idx[:, 0] = self.vocab_size
        return self.mlp(torch.cat(embs, -1))


class RNNCell(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.xh_to_h = nn.Linear(c.n_embd + c.n_embd2, c.n_embd2)

    def forward(self, xt, hprev):
        return torch.tanh(self.xh_to_h(torch.cat([xt, hprev], dim=1)))


class GRUCell(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.xh_to_z = nn.Linear(c.n_embd + c.n_embd2, c.n_embd2)
        self.xh_to_r = nn.Linear(c.n_embd + c.n_embd2, c.n_embd2)
        self.xh_to_hbar = nn.Linear(c.n_embd + c.n_embd2, c.n_embd2)

    def forward(self, xt, hprev):
        xh = torch.cat([xt, hprev], dim=1)
        r = torch.sigmoid(self.xh_to_r(xh))
        hbar = torch.tanh(self.xh_to_hbar(torch.cat([xt, r * hprev], dim=1)))
        z = torch.sigmoid(self.xh_to_z(xh))
        return (1 - z) * hprev + z * hbar


class RNN(nn.Module):
    def __init__(self, c, cell):
        super().__init__()
        self.start = nn.Parameter(torch.zeros(1, c.n_embd2))
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.cell = RNNCell(c) if cell == "rnn" else GRUCell(c)
        self.lm_head = nn.Linear(c.n_embd2, c.vocab_size)

    def forward(self, idx):
        b, t = idx.size()
        emb = self.wte(idx)
        h = self.start.expand((b, -1))
        hiddens = []
        for i in range(t):
            h = self.cell(emb[:, i, :], h)
            hiddens.append(h)
        return self.lm_head(torch.stack(hiddens, 1))


class BoWBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(c.n_embd, c.n_embd2), c_proj=nn.Linear(c.n_embd2, c.n_embd)))

    def forward(self, x):
        t = x.size(1)
        # The causal average of positions 0..t (makemore's CausalBoW, without its mask buffer).
        counts = torch.arange(1, t + 1, dtype=x.dtype).view(1, t, 1)
        x = x + x.cumsum(1) / counts
        return x + self.mlp.c_proj(torch.tanh(self.mlp.c_fc(x)))


class BoW(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.block_size, c.n_embd)
        self.context_block = BoWBlock(c)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size)

    def forward(self, idx):
        pos = torch.arange(idx.size(1), dtype=torch.long)
        return self.lm_head(self.context_block(self.wte(idx) + self.wpe(pos)))


class CausalSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_head = c.n_head
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd)
        self.c_proj = nn.Linear(c.n_embd, c.n_embd)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        hs = C // self.n_head
        q, k, v = (a.view(B, T, self.n_head, hs).transpose(1, 2) for a in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        att = F.softmax(att.masked_fill(mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class TMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd)
        self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.n_embd)
        self.attn = CausalSelfAttention(c)
        self.ln_2 = nn.LayerNorm(c.n_embd)
        self.mlp = TMLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd),
            wpe=nn.Embedding(c.block_size, c.n_embd),
            h=nn.ModuleList([Block(c) for _ in range(c.n_layer)]),
            ln_f=nn.LayerNorm(c.n_embd)))
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)

    def forward(self, idx):
        pos = torch.arange(idx.size(1), dtype=torch.long)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


def build(kind, c):
    return {
        "bigram": lambda: Bigram(c),
        "mlp": lambda: MLP(c),
        "rnn": lambda: RNN(c, "rnn"),
        "gru": lambda: RNN(c, "gru"),
        "bow": lambda: BoW(c),
        "transformer": lambda: Transformer(c),
    }[kind]()


# ----------------------------------------------------------------------------- data

def encode(words, stoi, block_size):
    x = torch.zeros(len(words), block_size, dtype=torch.long)
    y = torch.full((len(words), block_size), -1, dtype=torch.long)
    for i, w in enumerate(words):
        ix = torch.tensor([stoi[ch] for ch in w], dtype=torch.long)
        x[i, 1:1 + len(ix)] = ix
        y[i, :len(ix)] = ix
        y[i, len(ix)] = 0
    return x, y


def loss_of(model, x, y):
    logits = model(x)
    return F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-1)


@torch.no_grad()
def evaluate(model, x, y, batch_size=100, max_batches=10):
    order = torch.randperm(len(x))
    losses = [loss_of(model, x[rows], y[rows]).item() for rows in order.split(batch_size)[:max_batches]]
    return sum(losses) / len(losses)


def run(kind, a, words):
    torch.manual_seed(a.seed)
    chars = sorted(set("".join(words)))
    stoi = {ch: i + 1 for i, ch in enumerate(chars)}
    block_size = max(len(w) for w in words) + 1
    n_test = min(1000, len(words) // 10)
    rp = torch.randperm(len(words)).tolist()
    train_words = [words[i] for i in rp[:len(words) - n_test]]
    test_words = [words[i] for i in rp[len(words) - n_test:]]
    if a.test_words:
        # ferrograd's split (the test_words.txt its char_lm example writes): one occurrence of
        # each listed word is held out, the rest train, so both frameworks see the same words.
        with open(a.test_words, encoding="utf-8") as f:
            test_words = [w for w in f.read().split("\n") if w]
        remaining = {}
        for w in test_words:
            remaining[w] = remaining.get(w, 0) + 1
        train_words = []
        for i in rp:
            if remaining.get(words[i], 0) > 0:
                remaining[words[i]] -= 1
            else:
                train_words.append(words[i])
        if any(remaining.values()):
            raise SystemExit(f"{a.test_words}: words that are not in {a.input_file}")
    if a.write_test_words:
        with open(a.write_test_words, "w", encoding="utf-8") as f:
            f.write("".join(w + "\n" for w in test_words))
    xtr, ytr = encode(train_words, stoi, block_size)
    xte, yte = encode(test_words, stoi, block_size)

    c = argparse.Namespace(vocab_size=len(chars) + 1, block_size=block_size, n_layer=a.n_layer,
                           n_head=a.n_head, n_embd=a.n_embd, n_embd2=a.n_embd2)
    model = build(kind, c)
    opt = torch.optim.AdamW(model.parameters(), lr=a.learning_rate, weight_decay=a.weight_decay,
                            betas=(0.9, 0.99), eps=1e-8)
    best, best_state, train_time = float("inf"), None, 0.0
    for step in range(a.max_steps):
        t0 = time.perf_counter()
        rows = torch.randint(len(xtr), (a.batch_size,))
        loss = loss_of(model, xtr[rows], ytr[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        train_time += time.perf_counter() - t0
        if (step > 0 and step % a.eval_every == 0) or step == a.max_steps - 1:
            tr, te = evaluate(model, xtr, ytr), evaluate(model, xte, yte)
            print(f"{kind} step {step} train loss: {tr:.4f} test loss: {te:.4f}", flush=True)
            if te < best:
                best, best_state = te, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    with torch.no_grad():
        test_loss = loss_of(model, xte, yte).item()
    print(f"{kind}: {a.max_steps} steps in {train_time:.2f} s: {a.max_steps / train_time:.1f} steps/s "
          f"({1000 * train_time / a.max_steps:.2f} ms/step, {torch.get_num_threads()} threads)")
    print(f"{kind} test loss at step {a.max_steps}: {test_loss:.4f}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--type", default="transformer",
                   help="bigram, mlp, rnn, gru, bow, transformer, or all")
    p.add_argument("--input-file", default=DEFAULT_INPUT)
    p.add_argument("--max-steps", type=int, default=3000)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=3407)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=64)
    p.add_argument("--n-embd2", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--test-words", default=None,
                   help="hold out these words (one per line; e.g. ferrograd's test_words.txt) "
                        "instead of a split drawn here")
    p.add_argument("--write-test-words", default=None,
                   help="write the held-out words here (one per line), for char_lm --test-words")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    with open(a.input_file, encoding="utf-8") as f:
        words = [w.strip() for w in f]
    words = [w for w in words if w]
    kinds = ["bigram", "mlp", "rnn", "gru", "bow", "transformer"] if a.type == "all" else [a.type]
    for kind in kinds:
        run(kind, a, words)


if __name__ == "__main__":
    main()
