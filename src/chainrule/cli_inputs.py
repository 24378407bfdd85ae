"""What the commands that call a function (`check`, `graph`, `show` with an
example) share: errors reported as one line, loading a file, finding a
function in it, and building the arguments its options describe.

The arguments are random normal arrays of the shapes given (`--shape`),
drawn from an interval for functions with a restricted domain (`--positive`,
`--range`), fixed values (`--value`), and leaves of dict parameters
(`--shape params.W=3x4`).  Every malformed option is a `CliError`: one line,
never a traceback.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import inspect
import math
import os
import re
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from .errors import CompileError

USAGE_ERROR = 2  # the command line names something that does not exist or is malformed
FAILURE = 1  # the user's code could not be imported or differentiated


class CliError(Exception):
    """A problem to report as one line on stderr, with an exit status."""

    def __init__(self, message: str, status: int = USAGE_ERROR) -> None:
        super().__init__(message)
        self.status = status


def split_target(target: str) -> tuple[str, str]:
    """`path/to/file.py:func` -> (path, func)."""
    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        raise CliError(f"expected FILE.py:FUNCTION (for example model.py:loss), got {target!r}")
    if not name.isidentifier():
        raise CliError(f"{name!r} is not a function name (in {target!r})")
    return path, name


def load_module(path: str) -> ModuleType:
    """Import a .py file by path, as `python path` would see its neighbours."""
    if not os.path.exists(path):
        raise CliError(f"no such file: {path}")
    if os.path.isdir(path):
        raise CliError(f"{path} is a directory; name a .py file")
    full = os.path.abspath(path)
    stem = os.path.splitext(os.path.basename(full))[0]
    name = re.sub(r"\W", "_", stem) or "module"
    if name[0].isdigit():
        name = "_" + name
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise CliError(f"cannot import {path}: it is not a Python source file")
    module = importlib.util.module_from_spec(spec)
    # Let the file import its siblings, and let dataclasses & co. find it.
    sys.path.insert(0, os.path.dirname(full))
    sys.modules[name] = module
    try:
        # Whatever the file prints while it is imported goes to stderr, so that
        # `chainrule show f.py:g > g.py` captures only the generated code.
        with contextlib.redirect_stdout(sys.stderr):
            spec.loader.exec_module(module)
    except SyntaxError as exc:
        where = f"{exc.filename or path}:{exc.lineno}" if exc.lineno else path
        raise CliError(f"{where}: syntax error: {exc.msg}", FAILURE) from None
    except CompileError:
        raise  # the file differentiates something at import time
    except SystemExit as exc:
        raise CliError(f"importing {path} called sys.exit({exc.code!r})", FAILURE) from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise CliError(f"importing {path} failed: {describe(exc, full)}", FAILURE) from None
    return module


def describe(exc: BaseException, filename: str) -> str:
    """`file.py:LINE: ErrorType: message`, naming the last line of `filename` involved."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    if frames:
        return f"{os.path.basename(filename)}:{frames[-1].lineno}: {text}"
    return text


def find_function(module: ModuleType, name: str, path: str) -> Any:
    if not hasattr(module, name):
        functions = sorted(
            n
            for n, v in vars(module).items()
            if inspect.isfunction(v) and getattr(v, "__module__", None) == module.__name__
        )
        hint = f"; functions defined there: {', '.join(functions)}" if functions else ""
        raise CliError(f"{path} has no function named {name!r}{hint}")
    obj = getattr(module, name)
    if not callable(obj):
        kind = type(obj).__name__
        article = "an" if kind[0] in "aeiou" else "a"
        raise CliError(f"{name!r} in {path} is {article} {kind}, not a function")
    return obj


MAX_ELEMENTS = 10_000_000  # per argument: 80 MB of float64


def parse_assignments(items: Sequence[str] | None, option: str) -> dict[str, str]:
    """`["W=3x4", "params.b=4"]` -> {"W": "3x4", "params.b": "4"} (a dotted name is a
    leaf of a dict parameter)."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not all(part.isidentifier() for part in name.split(".")):
            raise CliError(
                f"{option} expects NAME=VALUE (for example {option} W=3x4, or "
                f"{option} params.W=3x4 for a leaf of a dict), got {item!r}"
            )
        if name in out:
            raise CliError(f"{option}: {name!r} is given twice")
        out[name] = value.strip()
    return out


def parse_shape(text: str, name: str) -> tuple[int, ...] | None:
    """`3x4` -> (3, 4); `4` -> (4,); `scalar`, `()` or nothing -> None (a Python float)."""
    if text.lower() in ("", "()", "scalar", "float"):
        return None
    if not re.fullmatch(r"\d+(\s*[x,]\s*\d+)*", text):
        raise CliError(
            f"--shape {name}={text}: a shape is sizes separated by x (3x4, 5), or 'scalar'"
        )
    shape = tuple(int(n) for n in re.split(r"\s*[x,]\s*", text))
    size = math.prod(shape)
    if size > MAX_ELEMENTS:
        raise CliError(
            f"--shape {name}={text}: {size:.3g} elements is more than this command makes "
            f"({MAX_ELEMENTS:,} per argument); check a smaller shape of the same rank"
        )
    return shape


def parse_range(text: str, name: str) -> tuple[float, float]:
    """`0.1:2` -> (0.1, 2.0): finite, low below high."""
    low, sep, high = text.partition(":")
    try:
        bounds = (float(low), float(high)) if sep else None
    except ValueError:
        bounds = None
    if bounds is None or not all(math.isfinite(b) for b in bounds) or bounds[0] >= bounds[1]:
        raise CliError(
            f"--range {name}={text}: expected LOW:HIGH, two finite numbers with LOW < HIGH "
            "(for example --range x=0.1:2)"
        )
    return bounds


def _literal(name: str, text: str) -> Any:
    """A --value: a Python literal; numbers in a list or tuple become a float array."""
    import numpy as np

    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise CliError(
            f"--value {name}={text}: not a Python literal (a number, string, list...)"
        ) from None
    if isinstance(value, (list, tuple)) and value and _numbers(value):
        try:
            return np.asarray(value, dtype=float)
        except ValueError:  # ragged
            raise CliError(f"--value {name}={text}: rows of different lengths") from None
    return value


def _numbers(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_numbers(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_point(value: Any) -> bool:
    """A --value the gradient can be checked at: a float, or an array of floats."""
    import numpy as np

    return type(value) is float or (isinstance(value, np.ndarray) and value.dtype == float)


def _set_leaf(call: dict[str, Any], dotted: str, value: Any) -> None:
    """`params.W` -> call["params"]["W"] = value (dicts made as needed)."""
    *path, last = dotted.split(".")
    node = call
    for key in path:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise CliError(f"{dotted!r}: {key!r} is given a value of its own, not a dict")
        node = child
    if last in node:
        raise CliError(
            f"{dotted!r} is given both a value of its own and leaves ({dotted}.KEY); "
            "give one or the other"
        )
    node[last] = value


def random_inputs(args: argparse.Namespace) -> tuple[Any, list[str], list[Any], set[str]]:
    """The function named by `args.target` and the arguments `--shape`, `--value`,
    `--positive`, `--range` and `--seed` describe (`check`, `graph`, `show`):
    (function, parameter names, arguments, the parameters to differentiate by
    default: those given a shape, or a float or array --value)."""
    import numpy as np

    path, name = split_target(args.target)
    shapes = {k: parse_shape(v, k) for k, v in parse_assignments(args.shape, "--shape").items()}
    values = {k: _literal(k, v) for k, v in parse_assignments(args.value, "--value").items()}
    ranges = {
        k: parse_range(v, k)
        for k, v in parse_assignments(getattr(args, "range", None), "--range").items()
    }
    for k in getattr(args, "positive", None) or ():
        if k in ranges:
            raise CliError(f"{k!r} has both --positive and --range; give one")
        ranges[k] = (0.5, 2.0)
    both = sorted(set(shapes) & set(values))
    if both:
        raise CliError(f"{both[0]!r} has both a --shape and a --value; give one")
    unshaped = sorted(set(ranges) - set(shapes))
    if unshaped:
        raise CliError(
            f"--positive/--range {unshaped[0]}: give its shape too (--shape {unshaped[0]}=3, "
            f"or --shape {unshaped[0]}=scalar)"
        )
    if not shapes and not any(_is_point(v) for v in values.values()):
        raise CliError("give the shape of at least one argument, for example --shape x=3")
    module = load_module(path)
    func = find_function(module, name, path)
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        raise CliError(f"cannot read the parameters of {name}") from None
    params = [p.name for p in parameters]
    for given in list(shapes) + list(values):
        if given.split(".")[0] not in params:
            raise CliError(
                f"{name} has no parameter {given.split('.')[0]!r} (parameters: {', '.join(params)})"
            )
    rng = np.random.default_rng(nonnegative("--seed", args.seed, int))
    given: dict[str, Any] = {}
    for k, shape in shapes.items():
        low, high = ranges.get(k, (None, None))
        if low is None:
            drawn = float(rng.normal()) if shape is None else rng.normal(size=shape)
        else:
            drawn = (
                float(rng.uniform(low, high)) if shape is None else rng.uniform(low, high, shape)
            )
        _set_leaf(given, k, drawn)
    for k, v in values.items():
        _set_leaf(given, k, v)
    call: list[Any] = []
    missing = []
    for p in parameters:
        if p.name in given:
            call.append(given[p.name])
        elif p.default is not p.empty:
            call.append(p.default)
        else:
            missing.append(p.name)
    if missing:
        raise CliError(
            f"{name} needs a value for {', '.join(missing)}: give --shape NAME=3x4 for an "
            "array (--shape NAME.KEY=3x4 for a leaf of a dict) or --value NAME=... for "
            "anything else"
        )
    points = {k.split(".")[0] for k in shapes} | {
        k.split(".")[0] for k, v in values.items() if _is_point(v)
    }
    return func, params, call, points


def nonnegative(option: str, text: Any, kind: type = float) -> Any:
    """The value of a numeric option (`--rtol 1e-6`, `--seed 3`): finite and >= 0."""
    what = "a whole number" if kind is int else "a finite number"
    try:
        value = kind(text)
    except (TypeError, ValueError):
        value = None
    if value is None or not (math.isfinite(value) and value >= 0):
        raise CliError(f"{option}: expected {what} >= 0, got {text!r}")
    return value


def add_input_options(parser: argparse.ArgumentParser, argnums_help: str) -> None:
    """`--shape`, `--value`, `--positive`, `--range`, `--argnums` and `--seed`: what
    `random_inputs` reads."""
    parser.add_argument(
        "--shape",
        action="append",
        metavar="NAME=SHAPE",
        help="a random normal array of this shape for parameter NAME (3x4, 5, or scalar "
        "for a float; NAME.KEY for a leaf of a dict parameter); repeat for each argument",
    )
    parser.add_argument(
        "--value",
        action="append",
        metavar="NAME=LITERAL",
        help="a fixed value for a parameter (--value n=5); a float or a list of numbers "
        "(--value x=[0.5,2.0]) is a point the gradient is taken at",
    )
    parser.add_argument(
        "--positive",
        action="append",
        metavar="NAME",
        help="draw NAME (given a --shape) uniformly from [0.5, 2) instead: for log, sqrt, 1/x",
    )
    parser.add_argument(
        "--range",
        action="append",
        metavar="NAME=LOW:HIGH",
        help="draw NAME (given a --shape) uniformly from [LOW, HIGH)",
    )
    parser.add_argument(
        "--argnums",
        metavar="N[,N...]",
        help=f"{argnums_help} (default: every argument given by --shape, or by a float or "
        "array --value)",
    )
    parser.add_argument("--seed", default="0", help="random seed (default: 0)")
