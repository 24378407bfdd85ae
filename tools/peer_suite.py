"""Run autograd's own test suite through chainrule: a proxy for the held-out peer suite.

autograd's tests call ``check_grads(fun)(*args)`` (directly, or through
``combo_check``) on functions written with ``autograd.numpy``.  This harness

1. exports ``tests/`` from a snapshot of autograd's repository twice: as it is
   (copy A) and *ported* (copy B): ``autograd.numpy``/``autograd.scipy`` imports
   become ``numpy``/``scipy``, autograd's ``grad``, ``value_and_grad``,
   ``jacobian`` and ``hessian`` become chainrule's ``grad``, ``value_and_grad``,
   ``jacrev`` and ``hessian``, and autograd's container types (``tuple``,
   ``list``, ``dict``, ``isinstance``) become the builtins.  Line numbers are
   kept, so chainrule reads the real source of every tested function;
2. runs every test of copy A in one process with ``check_grads`` replaced by a
   recorder, and computes autograd's answers (first-order VJP, JVP, the
   second-order product) and central finite differences for every real-valued
   check;
3. runs every test of copy B in another process the same way, pairs each
   recorded check with copy A's by (module, test, position) and asks chainrule
   for the same quantities;
4. classifies each check as agree / refused / wrong / crash and writes a JSON
   file and a Markdown summary.

Which chainrule calls a check makes, with ``xs`` the differentiated arguments,
``y = f(xs)``, and random ``U`` (shaped like ``y``), ``V`` and ``W`` (like ``xs``):

- ``rev1``: ``vjp(target, *xs)[1](U)``, compared with autograd's VJP (and, if
  they differ, with finite differences along ``V``);
- ``rev2`` (where autograd checks order 2): reverse over reverse, the way a
  user writes ``grad(grad(f))``: ``h(xs) = sum(target(xs) * U)``,
  ``GH_i = grad(h, argnums=i)``, ``s(xs) = sum_i sum(GH_i(xs) * W_i)`` and
  ``grad(s, argnums=all)(*xs)``, the Hessian-vector product of ``h``;
- ``fwd1`` (extra): ``jvp(target, xs, V)``;
- ``hvp2`` (extra, where autograd checks order 2): ``hvp(h, xs, W)``, forward
  over reverse;
- ``direct`` (extra, for library functions tested as themselves, such as
  ``check_grads(np.append)``): ``vjp(fun, *xs)``.

``target`` is the tested function itself when it is a plain Python function of
the differentiated arguments only; otherwise a generated module holds
``def target(x0, ...): return FUN(x0, D1, ..., axis=0)`` with the other
arguments as globals and keyword values written as literals.  A check's
*status* is that of ``rev1``, then of ``rev2``: the first stage that does not
agree.

Usage (from the repository root)::

    python tools/peer_suite.py --autograd /work/.mirror/HIPS+autograd/repo \\
        --work /tmp/peer-suite --json /tmp/peer-suite/results.json \\
        --summary /tmp/peer-suite/summary.md

``--only test_numpy`` (or ``test_numpy::test_diff``) restricts the run.
Nothing of autograd's is copied into this repository: the tests are exported
from the snapshot into ``--work`` at run time.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import collections
import functools
import importlib
import importlib.util
import inspect
import io
import itertools
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import tarfile
import traceback
import types
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EPS = 1e-6  # finite-difference step (autograd's own)
STAGE_SECONDS = 60  # a stage that takes longer is a crash (timeout)
MODULE_ORDER = (
    "test_numpy",
    "test_systematic",
    "test_linalg",
    "test_scipy",
    "test_binary_ops",
    "test_scalar_ops",
    "test_truediv",
    "test_graphs",
    "test_wrappers",
    "test_jacobian",
    "test_list",
    "test_tuple",
    "test_dict",
    "test_logic",
    "test_fft",
    "test_complex",
    "test_builtins",
    "test_core",
    "test_direct",
    "test_misc",
    "test_tests",
    "test_vspaces",
    "test_ufunc_dispatch",
)

# autograd names with a chainrule (or builtin) counterpart in the port (copy B)
PORTED_NAMES = {
    "grad": ("chainrule", "grad"),
    "value_and_grad": ("chainrule", "value_and_grad"),
    "jacobian": ("chainrule", "jacrev"),
    "hessian": ("chainrule", "hessian"),
    "tuple": ("builtins", "tuple"),
    "list": ("builtins", "list"),
    "dict": ("builtins", "dict"),
    "isinstance": ("builtins", "isinstance"),
}


# -- step 1: export the two copies ----------------------------------------------------


def export_tests(repo: str, dest: str) -> None:
    """`git archive HEAD tests` of the bare repository, unpacked into dest."""
    data = subprocess.run(
        ["git", "--git-dir", repo, "archive", "--format=tar", "HEAD", "tests"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")


def _port_import(node: ast.stmt) -> str | None:
    """The ported text of one import statement of copy B, or None to keep it."""
    if isinstance(node, ast.Import):
        parts = []
        changed = False
        for alias in node.names:
            name = alias.name
            if name.startswith(("autograd.numpy", "autograd.scipy")):
                name = name[len("autograd.") :]
                changed = True
                if alias.asname is None and "." in name:  # `import autograd.scipy.signal`
                    parts.append(f"import {name}")
                    continue
            dotted = name.rsplit(".", 1)
            if alias.asname and len(dotted) == 2 and changed:
                parts.append(f"from {dotted[0]} import {dotted[1]} as {alias.asname}")
            elif alias.asname:
                parts.append(f"import {name} as {alias.asname}")
            else:
                parts.append(f"import {name}")
        return "; ".join(parts) if changed else None
    if isinstance(node, ast.ImportFrom) and node.module:
        module = node.module
        if module.startswith(("autograd.numpy", "autograd.scipy")):
            names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names)
            return f"from {module[len('autograd.') :]} import {names}"
        if module == "autograd":
            parts = []
            for alias in node.names:
                local = alias.asname or alias.name
                if alias.name in PORTED_NAMES:
                    where, name = PORTED_NAMES[alias.name]
                    parts.append(f"from {where} import {name} as {local}")
                else:
                    parts.append(
                        f"from autograd import {alias.name}"
                        + (f" as {alias.asname}" if alias.asname else "")
                    )
            return "; ".join(parts)
    return None


# test-harness helpers of autograd's suite with `*args`, replaced in the port by a
# composition the wrapper generator writes out with explicit parameters
HARNESS_PATCHES = (
    (
        "new_fun = lambda *args: fun(symmetrize(args[0]), *args[1:])",
        "new_fun = _peer_compose(fun, symmetrize, 0)",
    ),
    ("return symmetrized_fun", "return _peer_compose(fun, symmetrize, argnum)"),
)


def port_source(text: str) -> str:
    """Copy B of one test file: imports ported, line numbers unchanged."""
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    edits = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            new = _port_import(node)
            if new is not None:
                edits.append((node.lineno, node.end_lineno, node.col_offset, new))
    for start, end, col, new in sorted(edits, reverse=True):
        indent = lines[start - 1][:col]
        lines[start - 1 : end] = [indent + new + "\n"] + ["\n"] * (end - start)
    out = "".join(lines).replace("autograd.scipy.signal", "scipy.signal")
    for old, new in HARNESS_PATCHES:
        out = out.replace(old, new)
    return out


def prepare(repo: str, work: str) -> None:
    for copy in ("orig", "port"):
        export_tests(repo, os.path.join(work, copy))
    tests = os.path.join(work, "port", "tests")
    for name in os.listdir(tests):
        if name.endswith(".py"):
            path = os.path.join(tests, name)
            with open(path) as fh:
                text = fh.read()
            with open(path, "w") as fh:
                fh.write(port_source(text))


# -- recording the checks --------------------------------------------------------------


@dataclass
class Record:
    module: str
    test: str
    index: int
    fun: Any
    args: tuple
    kwargs: dict
    argnum: Any
    modes: list
    order: int

    @property
    def key(self) -> str:
        return f"{self.module}::{self.test}#{self.index}"

    @property
    def idx(self) -> tuple[int, ...]:
        return (self.argnum,) if isinstance(self.argnum, int) else tuple(self.argnum)


class Recorder:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.where = ("", "")
        self.count = 0

    def check_grads(self, fun: Any, argnum: Any = 0, modes: Any = None, order: int = 2) -> Any:
        def record(*args: Any, **kwargs: Any) -> None:
            self.records.append(
                Record(
                    self.where[0],
                    self.where[1],
                    self.count,
                    fun,
                    args,
                    kwargs,
                    argnum,
                    list(modes or ["fwd", "rev"]),
                    order,
                )
            )
            self.count += 1

        return record


class Compose:
    """`fun` with `inner` applied to argument `argnum` (autograd's symmetrize wrappers)."""

    def __init__(self, fun: Any, inner: Any, argnum: int) -> None:
        self.fun, self.inner, self.argnum = fun, inner, argnum

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args = list(args)
        args[self.argnum] = self.inner(args[self.argnum])
        return self.fun(*args, **kwargs)


def _parametrized(func: Any) -> list[tuple[str, dict]]:
    """(id suffix, keyword arguments) for each pytest.mark.parametrize combination."""
    marks = [m for m in getattr(func, "pytestmark", []) if m.name == "parametrize"]
    axes = []
    for mark in marks:
        names = (
            [n.strip() for n in mark.args[0].split(",")]
            if isinstance(mark.args[0], str)
            else list(mark.args[0])
        )
        values = list(mark.args[1])
        axes.append([dict(zip(names, v if len(names) > 1 else (v,))) for v in values])
    out = []
    for combo in itertools.product(*axes):
        merged: dict = {}
        for d in combo:
            merged.update(d)
        suffix = "[" + "-".join(f"{k}={v!r}" for k, v in sorted(merged.items())) + "]"
        out.append((suffix if merged else "", merged))
    return out


def _skipped(func: Any) -> bool:
    for mark in getattr(func, "pytestmark", []):
        if mark.name == "skip":
            return True
        if mark.name == "skipif" and mark.args and mark.args[0]:
            return True
    return False


def run_tests(tests_dir: str, only: list[str], recorder: Recorder) -> dict[str, str]:
    """Import every test module and run its tests; returns test key -> error, if any."""
    import autograd.test_util as test_util

    test_util.check_grads = recorder.check_grads  # combo_check calls it too
    builtins._peer_compose = Compose  # type: ignore[attr-defined]
    sys.path.insert(0, tests_dir)
    errors: dict[str, str] = {}
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    for module_name in MODULE_ORDER:
        if only and not any(o.split("::")[0] == module_name for o in only):
            continue
        if not os.path.exists(os.path.join(tests_dir, module_name + ".py")):
            continue
        np.random.seed(0)
        try:
            module = importlib.import_module(module_name)
        except BaseException as exc:  # noqa: BLE001 - a module that cannot be imported
            errors[module_name] = f"import: {type(exc).__name__}: {exc}"
            continue
        for name, func in list(vars(module).items()):
            if not name.startswith("test_") or not inspect.isfunction(func):
                continue
            if func.__module__ != module_name or _skipped(func):
                continue
            for suffix, params in _parametrized(func):
                test = name + suffix
                if only and module_name not in only and f"{module_name}::{name}" not in only:
                    continue
                if set(inspect.signature(func).parameters) - set(params):
                    errors[f"{module_name}::{test}"] = "needs a pytest fixture"
                    continue
                recorder.where = (module_name, test)
                recorder.count = 0
                np.random.seed(42)  # autograd's conftest does this before every test
                try:
                    func(**params)
                except BaseException as exc:  # noqa: BLE001 - the test's own failure
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    errors[f"{module_name}::{test}"] = f"{type(exc).__name__}: {exc}"[:300]
    return errors


# -- values: trees of arrays -----------------------------------------------------------


def leaves(tree: Any) -> list:
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree, key=repr) for leaf in leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [leaf for v in tree for leaf in leaves(v)]
    return [tree]


def rebuild(tree: Any, values: Any) -> Any:
    values = iter(values)

    def build(t: Any) -> Any:
        if isinstance(t, dict):
            return {k: build(t[k]) for k in sorted(t, key=repr)}
        if isinstance(t, (list, tuple)):
            return (
                type(t)(build(v) for v in t)
                if type(t) in (list, tuple)
                else tuple(build(v) for v in t)
            )
        return next(values)

    return build(tree)


def is_complex(tree: Any) -> bool:
    return any(np.iscomplexobj(leaf) for leaf in leaves(tree) if _numeric(leaf))


def _numeric(x: Any) -> bool:
    return isinstance(x, (int, float, complex, np.ndarray, np.number, np.bool_))


def as_float(tree: Any) -> Any:
    return rebuild(
        tree,
        [
            float(v)
            if isinstance(v, (int, float, np.number)) and np.ndim(v) == 0
            else np.asarray(v, dtype=float)
            for v in leaves(tree)
        ],
    )


def rand_like(tree: Any, rng: np.random.RandomState) -> Any:
    out = []
    for v in leaves(tree):
        r = rng.standard_normal(np.shape(v))
        out.append(float(r) if np.ndim(v) == 0 and not isinstance(v, np.ndarray) else r)
    return rebuild(tree, out)


def axpy(x: Any, a: float, v: Any) -> Any:
    return rebuild(x, [np.asarray(xi) + a * np.asarray(vi) for xi, vi in zip(leaves(x), leaves(v))])


def inner(a: Any, b: Any) -> float:
    la, lb = leaves(a), leaves(b)
    if len(la) != len(lb):
        raise ValueError(f"structures differ: {len(la)} vs {len(lb)} leaves")
    total = 0.0
    for x, y in zip(la, lb):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        total += float(np.sum(np.broadcast_to(x, np.broadcast_shapes(x.shape, y.shape)) * y))
    return total


def call(rec: Record, xs: tuple) -> Any:
    args = list(rec.args)
    for i, x in zip(rec.idx, xs):
        args[i] = x
    return rec.fun(*args, **rec.kwargs)


def close(a: Any, b: Any, rtol: float = 1e-5) -> bool:
    la, lb = leaves(a), leaves(b)
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if x.size != y.size:
            return False
        x, y = x.reshape(-1), y.reshape(-1)
        scale = max(float(np.nanmax(np.abs(y), initial=0.0)), 1.0)
        if not np.allclose(x, y, rtol=rtol, atol=rtol * scale * 1e-2, equal_nan=True):
            return False
    return True


def scalar_close(a: float, b: float) -> bool:
    if not (np.isfinite(a) and np.isfinite(b)):
        return bool(np.isnan(a) and np.isnan(b)) or a == b
    return abs(a - b) <= 1e-5 + 1e-4 * max(abs(a), abs(b))


class Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise Timeout(f"stage took longer than {STAGE_SECONDS} s")


# -- step 2: autograd's answers (copy A) ----------------------------------------------


def reference_phase(work: str, only: list[str]) -> None:
    import autograd
    import autograd.numpy as anp

    recorder = Recorder()
    errors = run_tests(os.path.join(work, "orig", "tests"), only, recorder)
    signal.signal(signal.SIGALRM, _alarm)
    refs: dict[str, dict] = {}
    for rec in recorder.records:
        ref: dict[str, Any] = {
            "module": rec.module,
            "test": rec.test,
            "argnum": repr(rec.argnum),
            "order": rec.order,
            "modes": rec.modes,
        }
        refs[rec.key] = ref
        signal.alarm(STAGE_SECONDS)
        try:
            _reference(rec, ref, autograd, anp)
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, KeyboardInterrupt):
                raise
            ref.setdefault("skip", f"autograd: {type(exc).__name__}: {exc}"[:300])
        finally:
            signal.alarm(0)
    with open(os.path.join(work, "reference.pkl"), "wb") as fh:
        pickle.dump({"refs": refs, "errors": errors}, fh)


def _reference(rec: Record, ref: dict, autograd: Any, anp: Any) -> None:
    xs = tuple(rec.args[i] for i in rec.idx)
    if is_complex(rec.args) or is_complex(rec.kwargs):
        ref["skip"] = "complex-valued"
        return
    y = call(rec, xs)
    if is_complex(y):
        ref["skip"] = "complex-valued"
        return
    if not all(_numeric(v) for v in leaves(xs)):
        ref["skip"] = "a differentiated argument is not numeric"
        return
    rng = np.random.RandomState(abs(hash(rec.key)) % (2**31))
    xs = as_float(xs)
    U, V, W = rand_like(as_float(y), rng), rand_like(xs, rng), rand_like(xs, rng)
    ref.update(xs=xs, U=U, V=V, W=W, y=as_float(y))

    def F(t: tuple) -> Any:
        return call(rec, tuple(t))

    # first order
    ref["fd1"] = (inner(F(axpy(xs, EPS / 2, V)), U) - inner(F(axpy(xs, -EPS / 2, V)), U)) / EPS
    try:
        vjp_fn, _ = autograd.make_vjp(F)(xs)
        ref["vjp"] = as_float(vjp_fn(U))
    except Exception as exc:  # noqa: BLE001
        ref["vjp_error"] = f"{type(exc).__name__}: {exc}"[:200]
    try:
        ref["jvp"] = as_float(autograd.make_jvp(F)(xs)(V)[1])
    except Exception as exc:  # noqa: BLE001
        ref["jvp_error"] = f"{type(exc).__name__}: {exc}"[:200]
    if rec.order < 2:
        return

    # second order: the gradient of s(xs) = <vjp(xs)(U), W> is H_h W, h = <f, U>
    def ag_inner(a: Any, b: Any) -> Any:
        if isinstance(b, dict):
            return sum(ag_inner(a[k], b[k]) for k in b)
        if isinstance(b, (list, tuple)):
            return sum(ag_inner(a[i], b[i]) for i in range(len(b)))
        return anp.sum(a * b)

    def s(t: tuple) -> Any:
        return ag_inner(autograd.make_vjp(F)(t)[0](U), W)

    try:
        ref["fd2"] = (s(axpy(xs, EPS / 2, V)) - s(axpy(xs, -EPS / 2, V))) / EPS
        ref["fd2"] = float(ref["fd2"])
    except Exception as exc:  # noqa: BLE001
        ref["fd2_error"] = f"{type(exc).__name__}: {exc}"[:200]
    try:
        ref["hw"] = as_float(autograd.grad(s)(xs))
    except Exception as exc:  # noqa: BLE001
        ref["hw_error"] = f"{type(exc).__name__}: {exc}"[:200]


# -- step 3: chainrule's answers (copy B) ----------------------------------------------


def _autograd_objects(fun: Any, seen: set[int] | None = None, depth: int = 0) -> list[str]:
    """autograd objects the tested function (or what it calls) refers to."""
    seen = set() if seen is None else seen
    if id(fun) in seen or depth > 4:
        return []
    seen.add(id(fun))
    found = []
    module = getattr(fun, "__module__", None) or ""
    if isinstance(fun, types.ModuleType):
        module = fun.__name__
    if module.split(".")[0] == "autograd":
        return [getattr(fun, "__name__", repr(fun))]
    if isinstance(fun, functools.partial):
        return _autograd_objects(fun.func, seen, depth + 1)
    if isinstance(fun, Compose):
        return _autograd_objects(fun.fun, seen, depth + 1) + _autograd_objects(
            fun.inner, seen, depth + 1
        )
    if not isinstance(fun, types.FunctionType):
        return []
    names: set[str] = set()

    def walk(code: types.CodeType) -> None:
        names.update(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                walk(const)

    walk(fun.__code__)
    values = [fun.__globals__[n] for n in names if n in fun.__globals__]
    for cell in fun.__closure__ or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:
            pass
    for value in values:
        if callable(value) or isinstance(value, types.ModuleType):
            if isinstance(value, types.ModuleType):
                if value.__name__.split(".")[0] == "autograd":
                    found.append(value.__name__)
                continue
            found.extend(_autograd_objects(value, seen, depth + 1))
    return found


_LITERAL_TYPES = (int, float, bool, str, type(None))


def _is_literal(v: Any) -> bool:
    if type(v) in _LITERAL_TYPES:
        return not (type(v) is float and not np.isfinite(v))
    if type(v) in (tuple, list):
        return all(_is_literal(x) for x in v)
    return False


class Wrappers:
    """Generated modules holding `target`, `h` and `s` for one check."""

    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.count = 0

    def module(self, source: str, names: dict) -> types.ModuleType:
        self.count += 1
        name = f"peer_wrap_{self.count}"
        path = os.path.join(self.root, name + ".py")
        with open(path, "w") as fh:
            fh.write(source)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        for k, v in names.items():
            setattr(module, k, v)
        return module


def _test_defined(fun: Any) -> bool:
    """A Python function written in autograd's test files (not a library's)."""
    code = getattr(fun, "__code__", None)
    return (
        isinstance(fun, types.FunctionType)
        and code is not None
        and (os.path.basename(os.path.dirname(code.co_filename)) == "tests")
    )


def _direct(rec: Record) -> bool:
    return _test_defined(rec.fun) and not rec.kwargs and rec.idx == tuple(range(len(rec.args)))


def target_source(rec: Record) -> tuple[str, dict, str]:
    """(module source, globals, expression of the call) for the check's target."""
    fun, args, kwargs = rec.fun, list(rec.args), dict(rec.kwargs)
    inner_fn = None
    inner_at = None
    if isinstance(fun, Compose):
        inner_fn, inner_at, fun = fun.inner, fun.argnum, fun.fun
    if isinstance(fun, functools.partial):
        args = list(fun.args) + args
        if inner_at is not None:
            inner_at += len(fun.args)
        kwargs = {**fun.keywords, **kwargs}
        idx_shift = len(fun.args)
        fun = fun.func
    else:
        idx_shift = 0
    idx = [i + idx_shift for i in rec.idx]
    names: dict = {"FUN": fun}
    params = [f"x{k}" for k in range(len(idx))]
    parts = []
    for i, a in enumerate(args):
        if i in idx:
            text = params[idx.index(i)]
        elif _is_literal(a):
            text = repr(a)
        else:
            text = f"D{i}"
            names[text] = a
        if i == inner_at:
            names["INNER"] = inner_fn
            text = f"INNER({text})"
        parts.append(text)
    for k, v in kwargs.items():
        if _is_literal(v):
            parts.append(f"{k}={v!r}")
        else:
            names[f"K_{k}"] = v
            parts.append(f"{k}=K_{k}")
    expr = f"FUN({', '.join(parts)})"
    src = f"import numpy as np\n\n\ndef target({', '.join(params)}):\n    return {expr}\n"
    return src, names, expr


def _leaf_paths(tree: Any, path: str = "") -> list[str]:
    if isinstance(tree, dict):
        return [p for k in sorted(tree, key=repr) for p in _leaf_paths(tree[k], f"{path}[{k!r}]")]
    if isinstance(tree, (list, tuple)):
        return [p for i, v in enumerate(tree) for p in _leaf_paths(v, f"{path}[{i}]")]
    return [path]


def second_order_source(n: int, y: Any, xs: tuple) -> str:
    """`h(xs) = <target(xs), U>` and `s(xs) = sum_i <GH_i(xs), W_i>`."""
    params = ", ".join(f"x{k}" for k in range(n))
    lines = ["", "", f"def h({params}):"]
    if isinstance(y, (tuple, list)):
        outs = [f"o{j}" for j in range(len(y))]
        lines.append(f"    {', '.join(outs)}{',' if len(outs) == 1 else ''} = TARGET({params})")
        terms = []
        for j, part in enumerate(y):
            for p in _leaf_paths(part):
                terms.append(f"np.sum(o{j}{p} * U[{len(terms)}])")
        lines.append(f"    return {' + '.join(terms) if terms else '0.0'}")
    else:
        lines.append(f"    return np.sum(TARGET({params}) * U[0])")
    lines += ["", "", f"def s({params}):"]
    terms = []
    w = 0
    for k in range(n):
        lines.append(f"    g{k} = GH{k}({params})")
        for p in _leaf_paths(xs[k]):
            terms.append(f"np.sum(g{k}{p} * W[{w}])")
            w += 1
    lines.append(f"    return {' + '.join(terms)}")
    return "\n".join(lines) + "\n"


@dataclass
class Stage:
    status: str  # agree, refused, wrong, crash, skipped
    message: str = ""
    detail: dict = field(default_factory=dict)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _run_stage(fn: Any) -> tuple[Any, Stage | None]:
    from chainrule import CompileError

    signal.alarm(STAGE_SECONDS)
    try:
        return fn(), None
    except CompileError as exc:
        first = _first_line(exc)
        stage = Stage(
            "crash" if "internal" in exc.message and "chainrule bug" in exc.message else "refused",
            exc.message.splitlines()[0] if exc.message else first,
            {
                "where": f"{os.path.basename(exc.filename)}:{exc.lineno}",
                "line": exc.source_line.strip(),
                "cause": repr(exc.__cause__)[:300] if exc.__cause__ else "",
            },
        )
        return None, stage
    except Timeout as exc:
        return None, Stage("crash", f"Timeout: {exc}")
    except Exception as exc:  # noqa: BLE001
        tb = traceback.extract_tb(exc.__traceback__)
        frames = [f"{f.filename}:{f.lineno} {f.line}" for f in tb[-6:]]
        return None, Stage(
            "crash", f"{type(exc).__name__}: {_first_line(exc)}"[:300], {"traceback": frames}
        )
    finally:
        signal.alarm(0)


def _compare(got: Any, ref: Any, fd: float | None, direction: Any) -> Stage:
    """agree if chainrule matches autograd, or else finite differences along `direction`."""
    try:
        if ref is not None and close(got, ref):
            return Stage("agree")
        proj = inner(got, direction)
    except Exception as exc:  # noqa: BLE001 - a wrongly shaped or structured result
        return Stage("wrong", f"result does not have the expected structure: {exc}")
    if fd is not None and scalar_close(proj, fd):
        return Stage("agree", "matches finite differences (autograd differs)" if ref else "")
    detail = {"chainrule.direction": proj, "finite_differences": fd}
    if ref is not None:
        detail["autograd.direction"] = inner(ref, direction)
        detail["max_abs_diff"] = float(
            max(
                (
                    np.max(np.abs(np.asarray(a, float).ravel() - np.asarray(b, float).ravel()))
                    if np.size(a) == np.size(b) and np.size(a)
                    else np.inf
                    for a, b in zip(leaves(got), leaves(ref))
                ),
                default=0.0,
            )
        )
    return Stage("wrong", "differs from autograd and from finite differences", detail)


def chainrule_phase(work: str, only: list[str]) -> None:
    import chainrule

    with open(os.path.join(work, "reference.pkl"), "rb") as fh:
        reference = pickle.load(fh)
    refs: dict[str, dict] = reference["refs"]
    recorder = Recorder()
    errors = run_tests(os.path.join(work, "port", "tests"), only, recorder)
    signal.signal(signal.SIGALRM, _alarm)
    wrappers = Wrappers(os.path.join(work, "wrappers"))
    results = []
    seen = set()
    for rec in recorder.records:
        seen.add(rec.key)
        ref = refs.get(rec.key)
        out = {
            "key": rec.key,
            "module": rec.module,
            "test": rec.test,
            "fun": describe(rec),
            "fun_name": user_name(rec.fun.fun if isinstance(rec.fun, Compose) else rec.fun),
        }
        results.append(out)
        if ref is None:
            out["status"] = "skipped"
            out["reason"] = "no matching check in the unported run"
            continue
        out.update(order=rec.order, modes=rec.modes, argnum=repr(rec.argnum))
        if "skip" in ref:
            out["status"] = "skipped"
            out["reason"] = ref["skip"]
            continue
        try:
            _chainrule_check(rec, ref, out, wrappers, chainrule)
        except BaseException as exc:  # noqa: BLE001 - a harness failure, reported as such
            if isinstance(exc, KeyboardInterrupt):
                raise
            out["status"] = "harness-error"
            out["reason"] = f"{type(exc).__name__}: {exc}"[:300]
    for key, ref in refs.items():  # checks the ported test never reached
        if key in seen:
            continue
        test_key = f"{ref['module']}::{ref['test']}"
        out = {"key": key, "module": ref["module"], "test": ref["test"], "fun": ""}
        if "skip" in ref:
            out.update(status="skipped", reason=ref["skip"])
        else:
            message = errors.get(test_key, "the ported test recorded fewer checks")
            if re.match(r"AttributeError: module '(numpy|scipy)[\w.]*' has no attribute", message):
                out.update(status="skipped", reason="not plain NumPy: " + message)
            else:
                kind = "refused" if message.startswith("CompileError") else "crash"
                if message.startswith("AssertionError"):
                    kind = "wrong"  # an assertion of the test itself, on chainrule's result
                if kind == "refused":  # the message without "CompileError: file:line:col: "
                    message = re.sub(r"^CompileError: (\S+:\d+:\d+: )?", "", message)
                out.update(
                    status=kind,
                    failed_stage="test",
                    stages={"test": {"status": kind, "message": message.splitlines()[0]}},
                    reason="the ported test stopped before this check: " + message,
                )
        results.append(out)
    with open(os.path.join(work, "results.json"), "w") as fh:
        json.dump(
            {"results": results, "errors": errors, "ref_errors": reference["errors"]},
            fh,
            indent=1,
            default=repr,
        )


def describe(rec: Record) -> str:
    fun = rec.fun
    if isinstance(fun, Compose):
        return f"symmetrized({describe_fun(fun.fun)})"
    return describe_fun(fun)


def describe_fun(fun: Any) -> str:
    if isinstance(fun, functools.partial):
        return f"partial({describe_fun(fun.func)}, ...)"
    if isinstance(fun, types.FunctionType):
        try:
            lines, start = inspect.getsourcelines(fun)
            text = " ".join(line.strip() for line in lines)
            return f"{os.path.basename(fun.__code__.co_filename)}:{start}: {text}"[:400]
        except (OSError, TypeError):
            return fun.__qualname__
    return user_name(fun)


def user_name(fun: Any) -> str:
    """How a user writes the library callable: np.cumsum, scipy.stats.norm.cdf, ..."""
    owner = getattr(fun, "__self__", None)
    if owner is not None and type(owner).__module__.startswith("scipy.stats"):
        dist = getattr(owner, "name", None) or type(owner).__name__.removesuffix("_gen")
        return f"scipy.stats.{dist}.{fun.__name__}"
    name = getattr(fun, "__name__", repr(fun))
    for prefix, mod in _public_modules():
        if getattr(mod, name, None) is fun:
            return prefix + name
    return f"{getattr(fun, '__module__', None) or ''}.{name}"


def _public_modules() -> list[tuple[str, Any]]:
    out = [("np.", np), ("np.linalg.", np.linalg), ("np.fft.", np.fft)]
    for name in ("scipy.special", "scipy.linalg", "scipy.signal", "scipy.stats", "scipy.integrate"):
        try:
            out.append((name + ".", importlib.import_module(name)))
        except ImportError:
            pass
    return out


def _chainrule_check(rec: Record, ref: dict, out: dict, wrappers: Wrappers, cr: Any) -> None:
    xs_b = as_float(tuple(rec.args[i] for i in rec.idx))
    xs = ref["xs"]
    if not close(xs_b, xs, rtol=1e-12):
        out["status"] = "skipped"
        out["reason"] = "the ported run drew different arguments"
        return
    api = _autograd_objects(rec.fun)
    if api:
        out["status"] = "skipped"
        out["reason"] = "autograd-specific API: " + ", ".join(sorted(set(api)))
        return
    y, stage = _run_stage(lambda: call(rec, xs))
    if stage is not None:  # the function itself fails when it runs with NumPy (and chainrule)
        tb = stage.detail.get("traceback", [])
        if stage.status == "refused" or any("chainrule" in f for f in tb):
            out["status"], out["failed_stage"] = stage.status, "eval"
            out["stages"] = {"eval": vars(stage)}
        else:
            out["status"] = "skipped"
            out["reason"] = f"not plain NumPy (fails without autograd): {stage.message}"
        return
    n = len(xs)
    U, V, W = ref["U"], ref["V"], ref["W"]
    stages: dict[str, Stage] = {}
    if _direct(rec):
        target = rec.fun
        src, names = "import numpy as np\n", {"TARGET": target}
        out["target"] = "the tested function itself"
    else:
        src, names, expr = target_source(rec)
        out["target"] = expr
        names = dict(names)
    src += second_order_source(n, y, xs)
    names.update(U=leaves(U), W=leaves(W))
    module = wrappers.module(src, names)
    if not _direct(rec):
        module.TARGET = module.target
        target = module.target
    out["wrapper"] = module.__file__

    # rev1: vjp of the target
    def rev1() -> Any:
        _, back = cr.vjp(target, *xs)
        return back(U)

    got, stage = _run_stage(rev1)
    stages["rev1"] = stage or _compare(got, ref.get("vjp"), ref["fd1"], V)
    second = rec.order >= 2
    if second:
        for k in range(n):
            setattr(module, f"GH{k}", cr.grad(module.h, argnums=k))

        def rev2() -> Any:
            return cr.grad(module.s, argnums=tuple(range(n)))(*xs)

        got, stage = _run_stage(rev2)
        stages["rev2"] = stage or _compare(got, ref.get("hw"), ref.get("fd2"), V)

        containers = any(isinstance(x, (tuple, list, dict)) for x in xs)
        if containers:
            stages["hvp2"] = Stage("skipped", "hvp takes arrays and floats")
        else:

            def hvp2() -> Any:
                r = cr.hvp(module.h, xs, W)
                return (r,) if n == 1 else r

            got, stage = _run_stage(hvp2)
            stages["hvp2"] = stage or _compare(got, ref.get("hw"), ref.get("fd2"), V)
    if any(isinstance(x, (tuple, list, dict)) for x in xs):
        stages["fwd1"] = Stage("skipped", "jvp takes arrays and floats")
    else:
        got, stage = _run_stage(lambda: cr.jvp(target, xs, V)[1])
        if stage is None:
            fd = ref["fd1"]
            try:
                proj = inner(got, U)
            except Exception:  # noqa: BLE001 - a result of the wrong structure
                proj = None
            if ref.get("jvp") is not None and close(got, ref["jvp"]):
                stage = Stage("agree")
            elif proj is not None and scalar_close(proj, fd):
                stage = Stage("agree")
            else:
                stage = Stage(
                    "wrong",
                    "jvp differs from autograd and from finite differences",
                    {"chainrule.direction": proj, "finite_differences": fd},
                )
        stages["fwd1"] = stage
    if not (_test_defined(rec.fun) or isinstance(rec.fun, (Compose, functools.partial))) and (
        not rec.kwargs and rec.idx == tuple(range(len(rec.args)))
    ):
        got, stage = _run_stage(lambda: cr.vjp(rec.fun, *xs)[1](U))
        stages["direct"] = stage or _compare(got, ref.get("vjp"), ref["fd1"], V)
    out["stages"] = {k: vars(v) for k, v in stages.items()}
    primary = [stages["rev1"]] + ([stages["rev2"]] if "rev2" in stages else [])
    status = "agree"
    for s in primary:
        if s.status != "agree":
            status = s.status
            break
    out["status"] = status
    out["failed_stage"] = next(
        (k for k in ("rev1", "rev2") if k in stages and stages[k].status != "agree"), ""
    )


# -- step 4: the summary ---------------------------------------------------------------

RUNTIME_HELPER = re.compile(r"chainrule\.runtime\.(\w+)")
MISSING = (
    re.compile(r"^(?P<name>\S+) has no derivative rule"),
    re.compile(r"^(?P<name>\S+) is library code without a derivative rule"),
    re.compile(r"^the (?:array )?method (?P<name>\.\w+\(\)) has no derivative rule"),
    re.compile(r"^(?P<name>\S+) has an adjoint \(reverse-mode\) rule but no tangent"),
    re.compile(r"^calls to the Python function '(?P<name>[^']+)' are not differentiated yet"),
)


def real_name(name: str, fun_name: str = "") -> str:
    """The name a user knows: scipy.special.erf for chainrule's 'np.erf', and so on."""
    short = name.rsplit(".", 1)[-1]
    if fun_name and fun_name != name and fun_name.endswith("." + short):
        return f"{fun_name} (chainrule says {name})"
    if name.startswith("np.") and "." not in name[3:] and not hasattr(np, short):
        for prefix, mod in _public_modules():
            if hasattr(mod, short):
                return f"{prefix}{short} (chainrule says {name})"
    m = re.match(r"scipy\.stats\._\w+\.(\w+?)(_gen)?\.(\w+)$", name)
    if m and m.group(2):
        return f"scipy.stats.{m.group(1)}.{m.group(3)} (chainrule says {name})"
    m = re.match(r"scipy\.(\w+)\._[\w.]*\.(\w+)$", name)
    if m:
        return f"scipy.{m.group(1)}.{m.group(2)} (chainrule says {name})"
    return name


def cause(stage: dict, fun_name: str = "") -> tuple[str, str]:
    """(group, key) of a failure: missing rule / runtime helper / subset construct / crash."""
    message = stage.get("message", "")
    if stage.get("status") == "crash":
        return "crash", message[:160]
    for pattern in MISSING:
        m = pattern.match(message)
        if m:
            name = m.group("name")
            helper = RUNTIME_HELPER.match(name)
            if helper:
                return "runtime helper without a rule", helper.group(1)
            if name.startswith("."):
                name = "ndarray" + name
            return "missing rule", real_name(name, fun_name)
    generic = re.sub(r"'[^']*'", "'…'", message)
    generic = re.sub(r"\b[\w/.-]+\.py:\d+(:\d+)?\b", "…", generic)
    return "subset construct", generic[:220]


def _table(rows: list[tuple], header: tuple) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out + [""]


def summarize(data: dict) -> str:
    results = data["results"]
    counted = [r for r in results if r["status"] != "skipped"]
    skipped = [r for r in results if r["status"] == "skipped"]
    status = collections.Counter(r["status"] for r in counted)
    no_scipy = [r for r in counted if r["module"] != "test_scipy"]
    status2 = collections.Counter(r["status"] for r in no_scipy)
    lines = [
        "## Part 1: autograd's test suite through chainrule (tools/peer_suite.py)",
        "",
        f"Recorded `check_grads` calls (after `combo_check` expansion): {len(results)}; "
        f"skipped {len(skipped)}; **real-valued checks run: {len(counted)}** "
        f"({len(no_scipy)} without test_scipy.py).",
        "",
    ]
    rows = []
    for st in ("agree", "refused", "wrong", "crash", "harness-error"):
        if status.get(st) or status2.get(st):
            rows.append(
                (
                    st,
                    status[st],
                    f"{100 * status[st] / len(counted):.1f}%",
                    status2[st],
                    f"{100 * status2[st] / max(len(no_scipy), 1):.1f}%",
                )
            )
    lines += _table(rows, ("status", "checks", "share", "without scipy", "share"))
    lines += ["Skipped (not counted):", ""]
    reasons = collections.Counter()
    for r in skipped:
        reason = r["reason"]
        if "autograd-specific" in reason:
            reason = "autograd-specific API"
        elif reason.startswith("not plain NumPy"):
            reason = "not plain NumPy/SciPy (autograd-only function or signature)"
        reasons[reason] += 1
    lines += [f"- {n}: {reason}" for reason, n in reasons.most_common()] + [""]
    by_module: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for r in counted:
        by_module[r["module"]][r["status"]] += 1
    lines += ["### Per module", ""]
    lines += _table(
        [
            (
                m,
                sum(c.values()),
                c["agree"],
                c["refused"],
                c["wrong"],
                c["crash"] + c["harness-error"],
            )
            for m, c in sorted(by_module.items())
        ],
        ("module", "checks", "agree", "refused", "wrong", "crash"),
    )
    # what stopped each refused check
    groups: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    examples: dict[tuple, str] = {}
    for r in counted:
        if r["status"] != "refused":
            continue
        stage_name = r.get("failed_stage") or "test"
        st = r.get("stages", {}).get(stage_name, {"message": r.get("reason", "")})
        group, key = cause(st, r.get("fun_name", ""))
        groups[group][(key, stage_name)] += 1
        examples.setdefault((group, key, stage_name), r["key"])
    lines += ["### Refusals by cause (first stage that did not agree)", ""]
    for group in ("missing rule", "runtime helper without a rule", "subset construct"):
        counter = groups.get(group, collections.Counter())
        per_key: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for (key, stage_name), n in counter.items():
            per_key[key][stage_name] += n
        rows = sorted(per_key.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        lines += [f"**{group}: {sum(counter.values())} checks**", ""]
        lines += _table(
            [
                (
                    f"`{key}`",
                    sum(c.values()),
                    ", ".join(f"{s} {n}" for s, n in sorted(c.items())),
                    next(examples[(group, key, s)] for s in sorted(c)),
                )
                for key, c in rows
            ],
            ("what", "checks", "stage", "e.g."),
        )
    lines += ["### All stages (rev1 and rev2 make the status; the others are extra)", ""]
    rows = []
    for stage in ("eval", "rev1", "rev2", "hvp2", "fwd1", "direct"):
        c = collections.Counter(
            r["stages"][stage]["status"] for r in counted if stage in r.get("stages", {})
        )
        rows.append((stage, c["agree"], c["refused"], c["wrong"], c["crash"], c["skipped"]))
    lines += _table(rows, ("stage", "agree", "refused", "wrong", "crash", "skipped"))
    for stage in ("fwd1", "hvp2", "direct"):
        counter = collections.Counter()
        for r in counted:
            st = r.get("stages", {}).get(stage)
            if st and st["status"] in ("refused", "crash", "wrong"):
                key = (
                    cause(st, r.get("fun_name", ""))
                    if st["status"] != "wrong"
                    else ("wrong", r["test"].split("#")[0])
                )
                counter[key] += 1
        if counter:
            lines += [f"{stage} failures by cause:", ""]
            lines += _table(
                [(g, f"`{k}`", n) for (g, k), n in counter.most_common()],
                ("group", "what", "checks"),
            )
    lines += ["### Wrong and crashed checks", ""]
    for r in counted:
        if r["status"] in ("wrong", "crash", "harness-error"):
            stage_name = r.get("failed_stage") or "test"
            st = r.get("stages", {}).get(stage_name, {})
            lines.append(
                f"- {r['key']} [{stage_name}] {r['status']}: "
                f"{st.get('message') or r.get('reason', '')}  \n  fun: `{r['fun'][:200]}`"
                + (f"; target `{r['target']}`" if r.get("target") else "")
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--autograd",
        default="/work/.mirror/HIPS+autograd/repo",
        help="bare git directory of autograd's repository",
    )
    parser.add_argument("--work", default="/tmp/peer-suite", help="scratch directory")
    parser.add_argument(
        "--only", action="append", default=[], help="module or module::test to run (repeatable)"
    )
    parser.add_argument("--json", help="copy the per-check results here")
    parser.add_argument("--summary", help="write the Markdown summary here")
    parser.add_argument(
        "--phase", choices=("all", "reference", "chainrule", "summary"), default="all"
    )
    opts = parser.parse_args(argv)
    work = os.path.abspath(opts.work)
    if opts.phase in ("reference", "chainrule"):
        os.chdir(os.path.join(work, "orig" if opts.phase == "reference" else "port", "tests"))
        (reference_phase if opts.phase == "reference" else chainrule_phase)(work, opts.only)
        return 0
    if opts.phase == "all":
        if os.path.exists(work):
            subprocess.run(["rm", "-rf", work], check=True)
        os.makedirs(work)
        prepare(opts.autograd, work)
        env = {**os.environ, "CHAINRULE_CACHE": "0"}
        only = [a for o in opts.only for a in ("--only", o)]
        for phase in ("reference", "chainrule"):
            subprocess.run(
                [
                    sys.executable,
                    os.path.abspath(__file__),
                    "--phase",
                    phase,
                    "--work",
                    work,
                    *only,
                ],
                check=True,
                env=env,
            )
    with open(os.path.join(work, "results.json")) as fh:
        data = json.load(fh)
    text = summarize(data)
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump(data, fh, indent=1)
    if opts.summary:
        with open(opts.summary, "w") as fh:
            fh.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
