"""Predictions of a chainrule weights file with NumPy alone: the check that the file carries
everything (sizes, activations, biases) and that `x @ weight.T + bias` (PyTorch's nn.Linear) is
the right reading of its tensors.

    pip install safetensors numpy
    python3 scripts/numpy_predict.py out/xor/weights.safetensors points.csv

prints one prediction per line of the CSV (`x0,x1,label`, header allowed), as `chainrule
predict` does, and the accuracy.
"""
import json
import sys

import numpy as np
from safetensors import safe_open

ACTIVATIONS = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "identity": lambda z: z,
}


def load(path):
    with safe_open(path, framework="np") as f:
        meta = json.loads(f.metadata()["chainrule"])
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    return meta, tensors


def predict(meta, tensors, x):
    a = x
    for i, activation in enumerate(meta["activations"]):
        z = a @ tensors[f"layers.{i}.weight"].T  # nn.Linear: x W^T + b, W of shape [out, in]
        if meta["bias"][i]:
            z = z + tensors[f"layers.{i}.bias"]
        a = ACTIVATIONS[activation](z)
    return a


def main(weights, csv):
    meta, tensors = load(weights)
    rows = [line.split(",") for line in open(csv).read().split() if line]
    if not rows[0][0].replace(".", "").replace("-", "").isdigit():
        rows = rows[1:]  # the header
    data = np.array(rows, dtype=np.float64)
    x, y = data[:, :2], data[:, 2:]
    p = predict(meta, tensors, x)
    for r, (xr, yr, pr) in enumerate(zip(x, y, p)):
        print(f"{r} {xr[0]:.4f} {xr[1]:.4f} {yr[0]:g} {pr[0]:.17g}")
    right = int(((p >= 0.5) == (y >= 0.5)).sum())
    print(f"accuracy: {100 * right / len(y):.2f}% ({right} of {len(y)})")


if __name__ == "__main__":
    main(*sys.argv[1:])
