#!/usr/bin/env python3
"""Prints the median of every criterion benchmark of the last `cargo bench` run, one line per
workload, in the format of `pytorch_reference.py` (criterion's own summary shows the mean).

    python3 benches/criterion_medians.py [TARGET_DIR]      # default: target
"""

import glob
import json
import os
import sys

target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CARGO_TARGET_DIR", "target")
for path in sorted(glob.glob(os.path.join(target, "criterion", "*", "*", "new", "estimates.json"))):
    group, function = path.split(os.sep)[-4:-2]
    median = json.load(open(path))["median"]["point_estimate"] * 1e-9  # seconds
    sample = json.load(open(os.path.join(os.path.dirname(path), "sample.json")))
    per_op = ""
    if group == "autograd_overhead":
        per_op = f"   = {median / 2000 * 1e9:.4g} ns per op (2000 ops)"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if median >= scale:
            break
    print(f"{group + '/' + function:<42} median {median / scale:>8.4g} {unit:<3}  ({len(sample['times'])} samples){per_op}")
