"""Specialised variants in an exported module, and the dispatch that picks one.

A call of `grad(f)` runs a variant compiled for the kinds of its arguments
(how-it-works.md, section 11): the rank of each array with no axis of length
1, and which arguments are Python numbers.  An exported module sees no call,
so by default it holds the general code only.  Given example arguments
(`export(..., examples={loss: (W, b, x)})`, or `chainrule compile --shape`),
it holds for `grad_loss` and `value_and_grad_loss`:

* `_grad_loss_general`: the general code, which accepts arguments of any shape;
* `_grad_loss_1`, `_grad_loss_2`, ...: one variant per example, each headed by
  the comment naming the kinds it was compiled for;
* `grad_loss`: the dispatch.  It tests the arguments against each variant's
  kinds, written out as the fast path of the API writes them
  (`arguments.make_runner`): `type(W) is np.ndarray and W.ndim == 2 and 1 not
  in W.shape`, a float dtype for a differentiated array, `type(c) in (float,
  int)` for a Python number; the first variant whose test holds runs, and
  the general code runs when none does.

So the exported `grad_loss` returns the same gradients for every argument
whether or not a variant matches; the variants only run faster.  Examples
must be arrays and Python numbers: a variant for a container or a function
argument would need the structure or the function object in its test, which
an exported module cannot import.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .arguments import kinds_of
from .pipeline import CompileRequest, compile_function

# the exported functions that get variants: the ones the API specialises
SPECIALISED = ("grad", "value_and_grad")


def examples_of(examples: Any, f: Callable) -> list[tuple]:
    """The example argument tuples given for `f` in `examples` (keyed by the function
    or its name; a tuple is one example, a list holds several)."""
    if not examples:
        return []
    if not isinstance(examples, dict):
        raise TypeError(
            "examples must be a dict from a function (or its name) to a tuple of example "
            "arguments, or to a list of such tuples"
        )
    given = examples.get(f, examples.get(getattr(f, "__name__", None)))
    if given is None:
        return []
    if isinstance(given, tuple):
        return [given]
    if isinstance(given, list) and all(isinstance(e, tuple) for e in given):
        return list(given)
    raise TypeError(
        f"examples for {getattr(f, '__name__', f)!r}: give a tuple of arguments, or a list "
        f"of tuples, not a {type(given).__name__}"
    )


def variant_request(request: CompileRequest, example: Sequence) -> CompileRequest:
    """The request for the variant a call with `example` runs (arrays and Python numbers)."""
    for i, a in enumerate(example):
        if not (type(a) in (float, int) or isinstance(a, np.ndarray)):
            raise ValueError(
                f"example argument {i} is a {type(a).__name__}: an exported variant is "
                "specialised on arrays and Python numbers only (containers and functions "
                "run the general code)"
            )
    kinds = kinds_of(tuple(example))
    return CompileRequest(
        request.function, request.argnums, request.mode, request.as_tuple, scalar_params=kinds
    )


def compile_variants(request: CompileRequest, examples: list[tuple]) -> list[tuple[tuple, str]]:
    """(kinds, generated source) of each example's variant, one per distinct kinds."""
    out: list[tuple[tuple, str]] = []
    for example in examples:
        specialised = variant_request(request, example)
        if not specialised.scalar_params:
            continue  # no argument is an array or a number: the general code is the variant
        if any(kinds == specialised.scalar_params for kinds, _ in out):
            continue
        out.append((specialised.scalar_params, compile_function(specialised).source))
    return out


def kinds_test(
    kinds: tuple[tuple[int, int], ...], params: list[str], argnums: Sequence[int]
) -> str:
    """The Python expression that holds for arguments of the variant's `kinds`."""
    checks = []
    for i, kind in kinds:
        a = params[i]
        if kind < 0:
            checks.append(f"type({a}) is float" if i in argnums else f"type({a}) in (float, int)")
            continue
        checks.append(f"type({a}) is np.ndarray and {a}.ndim == {kind} and 1 not in {a}.shape")
        if i in argnums:
            checks.append(f"{a}.dtype.kind == 'f'")
    return "\n        and ".join(checks)


def dispatch_source(
    name: str,
    signature: str,
    variants: list[tuple[tuple, str]],
    argnums: Sequence[int],
    general: str,
) -> str:
    """The public function `name`: run the first variant (named `_{name}_{k}`) whose kinds
    the arguments have, else `_{name}_general` (whose definition is `general`)."""
    params = [a.arg for a in _parameters(signature)]
    passed = ", ".join(params)
    doc = ast.get_docstring(ast.parse(general).body[0]) or ""  # type: ignore[arg-type]
    lines = [
        f"def {signature}:",
        f'    """{doc.splitlines()[0] if doc else name}',
        "",
        "    Runs the variant below compiled for the arguments' kinds, if one is; else the",
        '    general code, which accepts arguments of any shape.  Both give the same results."""',
    ]
    for k, (kinds, _) in enumerate(variants, 1):
        lines += [
            "    if (",
            f"        {kinds_test(kinds, params, argnums)}",
            "    ):",
            f"        return _{name}_{k}({passed})",
        ]
    lines.append(f"    return _{name}_general({passed})")
    return "\n".join(lines)


def _parameters(signature: str) -> list[ast.arg]:
    tree = ast.parse(f"def {signature}: pass")
    args = tree.body[0].args  # type: ignore[attr-defined]
    return [*args.posonlyargs, *args.args]


def renamed(body: str, old: str, new: str) -> str:
    """`body`, a generated function's definition, defining `new` instead of `old`."""
    head = f"def {old}("
    if not body.startswith(head):  # pragma: no cover - _split keeps the def first
        raise AssertionError(f"internal error: the generated code does not start with {head}")
    return f"def {new}(" + body[len(head) :]
