"""What the tests share: hypothesis budgets, fixed weights, modules written to files, a
script prefix that hides chainrule, and derivative checks (built on chainrule.testing,
which holds the finite differences)."""

from __future__ import annotations

import importlib.util
import itertools
import os
import textwrap
from types import ModuleType
from typing import Any

import numpy as np
from hypothesis import settings

import chainrule
from chainrule.testing import check_grads

FEW = settings(max_examples=15, deadline=None)  # hypothesis examples for a typical test
FEWER = settings(max_examples=10, deadline=None)  # for expensive ones (linear algebra, Hessians)
MORE = settings(max_examples=25, deadline=None)  # for cheap ones that explore many shapes

# The start of a script run in a subprocess in which `import chainrule` fails:
# exported modules must work where chainrule is not installed.
NO_CHAINRULE = """\
import sys


class NoChainrule:
    def find_spec(self, name, path=None, target=None):
        if name == "chainrule" or name.startswith("chainrule."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None


sys.meta_path.insert(0, NoChainrule())
"""


def weights(shape: Any, seed: int = 1234) -> np.ndarray:
    """A fixed random weight array of this shape (the same every time)."""
    return np.asarray(np.random.default_rng(seed).normal(size=shape))


_modules = itertools.count()


def write_module(directory: str | os.PathLike, source: str, name: str) -> Any:
    """Write `source` to a real module file in `directory`, import it, and return its
    attribute `name` (chainrule reads functions from their files)."""
    module_name = f"generated_{next(_modules)}"
    path = os.path.join(directory, module_name + ".py")
    with open(path, "w") as handle:
        handle.write(textwrap.dedent(source))
    return getattr(import_file(path, module_name), name)


def import_file(path: str | os.PathLike, module_name: str) -> ModuleType:
    """Import the module in file `path` under `module_name`."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_vjp(f: Any, *args: Any, rtol: float = 1e-5, atol: float = 1e-6, seed: int = 1234):
    """Reverse mode of `f` (every argument differentiated) against finite differences for a
    random cotangent, as chainrule.testing.check_grads does; returns the gradients, for
    tests that look at them."""
    check_grads(f, args, modes=("rev",), rtol=rtol, atol=atol, seed=seed)
    out, backward = chainrule.vjp(f, *args)
    return backward(np.random.default_rng(seed).normal(size=np.shape(out)))


def check_jvp(
    f: Any,
    *args: Any,
    which: set[int] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    seed: int = 0,
):
    """Forward mode of `f` along random tangents of the arguments in `which` (default:
    all), as chainrule.testing.check_grads does; returns the output tangent."""
    argnums = tuple(sorted(which)) if which is not None else None
    check_grads(f, args, modes=("fwd",), rtol=rtol, atol=atol, argnums=argnums, seed=seed)
    rng = np.random.default_rng(seed)
    tangents = [
        None
        if which is not None and i not in which
        else (float(rng.normal()) if isinstance(a, float) else rng.normal(size=np.shape(a)))
        for i, a in enumerate(args)
    ]
    return chainrule.jvp(f, args, tangents)[1]
