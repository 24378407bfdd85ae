"""Export a gradient as a module, then use it in a process without chainrule.

A small regression model lives in `model.py` (written to a temporary folder
here).  `chainrule.export` writes `model_grad.py` with `grad_loss`,
`value_and_grad_loss` and `vjp_loss`; the same as

    chainrule compile model.py -o model_grad.py -f loss --argnums w,b

Then a new Python process, in which `import chainrule` is made to fail,
imports `model_grad`, runs a few steps of gradient descent with it, and
prints the losses.  The same steps run here with `chainrule.value_and_grad`
print the same numbers.

    python examples/export_and_import.py
"""

import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

import chainrule

MODEL = """\
import numpy as np

L2 = 1e-3


def loss(w, b, X, y):
    p = np.tanh(X @ w + b)
    return np.mean((p - y) ** 2) + L2 * np.sum(w * w)
"""

# Runs in the new process: chainrule cannot be imported there.
TRAIN = """\
import sys


class NoChainrule:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "chainrule":
            raise ModuleNotFoundError("chainrule is not installed here")


sys.meta_path.insert(0, NoChainrule())
import numpy as np
import model_grad

rng = np.random.default_rng(0)
X = rng.normal(size=(50, 3))
y = np.tanh(X @ np.array([1.0, -2.0, 0.5]) + 0.3)
w, b = np.zeros(3), 0.0
for step in range(5):
    value, (dw, db) = model_grad.value_and_grad_loss(w, b, X, y)
    print(f"step {step}  loss {value:.6f}")
    w, b = w - 0.5 * dw, b - 0.5 * db
print("chainrule imported:", any(m.split(".")[0] == "chainrule" for m in sys.modules))
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "model.py").write_text(MODEL)
        sys.path.insert(0, str(folder))
        import model

        result = chainrule.export([(model.loss, (0, 1))], folder / "model_grad.py")
        text = (folder / "model_grad.py").read_text()
        assert not re.search(r"^\s*(import|from) chainrule", text, re.M)
        print(f"exported {', '.join(result.names)}; the module's first lines:")
        print(textwrap.indent("".join(text.splitlines(True)[:3]), "    "), end="")
        print(f"    ... {len(text.splitlines())} lines, no chainrule import\n")

        print("in a new process without chainrule:")
        (folder / "train.py").write_text(TRAIN)
        proc = subprocess.run(
            [sys.executable, str(folder / "train.py")],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        print(textwrap.indent(proc.stdout, "    "))

        print("the same steps here, with chainrule.value_and_grad:")
        value_and_grad = chainrule.value_and_grad(model.loss, argnums=(0, 1))
        rng = np.random.default_rng(0)
        X = rng.normal(size=(50, 3))
        y = np.tanh(X @ np.array([1.0, -2.0, 0.5]) + 0.3)
        w, b = np.zeros(3), 0.0
        lines = []
        for step in range(5):
            value, (dw, db) = value_and_grad(w, b, X, y)
            lines.append(f"step {step}  loss {value:.6f}")
            w, b = w - 0.5 * dw, b - 0.5 * db
        print(textwrap.indent("\n".join(lines), "    "))
        same = all(line in proc.stdout for line in lines)
        print("\nsame losses:", same)
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
