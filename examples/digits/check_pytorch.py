"""Loads the model saved by `cargo run --release --example digits` into the same architecture in
PyTorch and evaluates it on the same test split (the indices the example wrote next to the model).

    python examples/digits/check_pytorch.py [OUT_DIR]   # default: target/digits
"""

import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

out = Path(sys.argv[1] if len(sys.argv) > 1 else "target/digits")
csv = Path(__file__).resolve().parent.parent / "data" / "digits.csv"

rows = np.loadtxt(csv, delimiter=",", dtype=np.float32, ndmin=2)
indices = np.loadtxt(out / "test_indices.txt", dtype=np.int64, ndmin=1)
x = torch.from_numpy(rows[indices, :64] / 16.0).reshape(-1, 1, 8, 8)
y = torch.from_numpy(rows[indices, 64].astype(np.int64))

model = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(32 * 2 * 2, 10),
)
model.load_state_dict(load_file(out / "digits.safetensors"))
model.eval()
with torch.no_grad():
    accuracy = (model(x).argmax(1) == y).float().mean().item()
print(f"pytorch test accuracy: {accuracy:.4f} on {len(y)} digits")
