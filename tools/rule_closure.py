"""Is chainrule's rule library closed under transformation?  (issue 15, item 6)

For every registered primitive: does it have an adjoint (reverse-mode) rule, a
tangent (forward-mode) rule, or is it declared non-differentiable?  And for
the code its rules generate: every callable a template calls (runtime helpers
such as ``prod_grad``, NumPy functions, array methods) must itself have rules,
or a second transformation stops there:

- a call in an *adjoint* template without an adjoint stops ``grad(grad(f))``
  and ``jacrev(grad(f))``; without a tangent it stops ``hessian`` and ``hvp``
  (forward over reverse);
- a call in a *tangent* template without a tangent stops ``jacfwd(jacfwd(f))``
  (forward over forward); without an adjoint it stops reverse over forward.

Runtime helpers the compiler itself emits (``unbroadcast``, ``unpack_grad``,
``record_grad``...) are found by reading the compiler modules for the names
they import from ``chainrule.runtime``.

Read-only: it imports chainrule and reads its source; it changes nothing.

    python tools/rule_closure.py             # Markdown report on stdout
    python tools/rule_closure.py --json out.json
"""

from __future__ import annotations

import argparse
import ast
import builtins
import inspect
import json
import os
import sys
import textwrap
from typing import Any

import numpy as np


def _resolve(node: ast.expr, env: dict) -> Any:
    """The object a call's function expression names in the template's module, or None."""
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        return getattr(builtins, node.id, None)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, env)
        if base is not None:
            return getattr(base, node.attr, None)
        return getattr(np.ndarray, node.attr, None) or ("method", node.attr)
    return None


def _calls(rule: Any) -> list[tuple[str, Any]]:
    """(text, object) of every call a template's generated code makes (not its `if` tests)."""
    source = textwrap.dedent(inspect.getsource(rule.template))
    fn = ast.parse(source).body[0]
    out: list[tuple[str, Any]] = []

    def visit(stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.If):  # the test is decided when compiling
                visit(stmt.body)
                visit(stmt.orelse)
                continue
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # the docstring
            for node in ast.walk(stmt):
                if isinstance(node, ast.Call):
                    obj = _resolve(node.func, rule.globals)
                    out.append((ast.unparse(node.func), obj))

    visit(fn.body)
    return out


def _rules_of(obj: Any, rules: Any) -> tuple[bool, bool, bool]:
    if obj is None or isinstance(obj, tuple):
        return False, False, False
    if getattr(obj, "__chainrule_by_source__", False):  # runtime.DIFFERENTIATED_BY_SOURCE:
        return True, True, False  # differentiated from its source, like the user's code
    return (
        rules.lookup(obj) is not None,
        rules.lookup_tangent(obj) is not None,
        rules.is_nondifferentiable(obj),
    )


def _emitted_helpers(package_dir: str, helpers: set[str]) -> dict[str, list[str]]:
    """Runtime helpers the compiler modules import to emit calls (name -> modules)."""
    found: dict[str, list[str]] = {}
    for name in sorted(os.listdir(package_dir)):
        if not name.endswith(".py") or name == "runtime.py":
            continue
        with open(os.path.join(package_dir, name)) as fh:
            tree = ast.parse(fh.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("runtime"):
                for alias in node.names:
                    if alias.name in helpers:
                        found.setdefault(alias.name, []).append(name)
    return found


# callables that only read shapes or build constants: no gradient flows through them,
# so a missing rule does not stop a second transformation
SHAPE_ONLY = {
    "np.shape",
    "np.ndim",
    "np.size",
    "len",
    "range",
    "tuple",
    "isinstance",
    "np.result_type",
    "np.zeros",
    "np.ones",
    "np.eye",
    "np.zeros_like",
    "np.ones_like",
    "np.empty",
    "slice",
    "int",
    "float",
}


def collect() -> dict:
    import chainrule.runtime as runtime
    from chainrule import rules

    primitives: dict[str, dict] = {}
    keys = set(rules.ADJOINTS) | set(rules.TANGENTS) | set(rules.NONDIFFERENTIABLE)
    for key in keys:
        rule = rules.ADJOINTS.get(key) or rules.TANGENTS.get(key)
        name = rule.name if rule else _nd_name(key)
        entry = primitives.setdefault(
            name,
            {"adjoint": False, "tangent": False, "nondifferentiable": False, "calls": {}},
        )
        entry["adjoint"] |= key in rules.ADJOINTS
        entry["tangent"] |= key in rules.TANGENTS
        entry["nondifferentiable"] |= key in rules.NONDIFFERENTIABLE
        for table, kind in ((rules.ADJOINTS, "adjoint"), (rules.TANGENTS, "tangent")):
            r = table.get(key)
            if r is None:
                continue
            for text, obj in _calls(r):
                if text in SHAPE_ONLY or text.startswith(("literal", "np.shape")):
                    continue
                has_adj, has_tan, nd = _rules_of(obj, rules)
                if nd:
                    continue
                missing = [w for w, ok in (("adjoint", has_adj), ("tangent", has_tan)) if not ok]
                if missing:
                    entry["calls"].setdefault(kind, {})[text] = missing
    helpers = {
        n
        for n, v in vars(runtime).items()
        if inspect.isfunction(v) and v.__module__ == runtime.__name__ and not n.startswith("_")
    }
    used_by_templates: dict[str, list[str]] = {}
    for key in keys:
        for table in (rules.ADJOINTS, rules.TANGENTS):
            r = table.get(key)
            if r is None:
                continue
            for _text, obj in _calls(r):
                if getattr(obj, "__module__", None) == runtime.__name__ and obj is not key:
                    used_by_templates.setdefault(obj.__name__, []).append(r.name)
    emitted = _emitted_helpers(os.path.dirname(runtime.__file__), helpers)
    helper_rows = {}
    for h in sorted(helpers):
        obj = getattr(runtime, h)
        has_adj, has_tan, nd = _rules_of(obj, rules)
        helper_rows[h] = {
            "adjoint": has_adj,
            "tangent": has_tan,
            "nondifferentiable": nd,
            "called_by_rules_of": sorted(set(used_by_templates.get(h, []))),
            "emitted_by": emitted.get(h, []),
        }
    return {"primitives": primitives, "helpers": helper_rows}


def _nd_name(key: Any) -> str:
    from chainrule.rules import display_name

    return display_name(key[1] if isinstance(key, tuple) else key)


def markdown(data: dict) -> str:
    prims, helpers = data["primitives"], data["helpers"]
    yes = {True: "yes", False: "**no**"}
    lines = ["## Rule closure (tools/rule_closure.py)", ""]
    prims = {n: e for n, e in prims.items() if not n.startswith("<")}  # internal markers
    diff = {n: e for n, e in prims.items() if not e["nondifferentiable"] or e["adjoint"]}
    nd = sorted(n for n, e in prims.items() if e["nondifferentiable"] and not e["adjoint"])
    both = sum(1 for e in diff.values() if e["adjoint"] and e["tangent"])
    lines.append(
        f"{len(prims)} registered primitives: {len(diff)} with a rule ({both} with both an "
        f"adjoint and a tangent), {len(nd)} declared non-differentiable."
    )
    lines += ["", "### Runtime helpers (chainrule/runtime.py)", ""]
    lines += [
        "A helper in runtime.DIFFERENTIATED_BY_SOURCE counts as having both rules: chainrule "
        "differentiates its source when generated code calling it is transformed again.",
        "",
    ]
    lines += [
        "| helper | called by | adjoint | tangent | non-diff. |",
        "|---|---|---|---|---|",
    ]
    for h, e in helpers.items():
        users = e["called_by_rules_of"] + [f"compiler ({m})" for m in e["emitted_by"]]
        if not users:
            users = ["(not called by generated code)"]
        shown = ", ".join(users[:6]) + (f" +{len(users) - 6}" if len(users) > 6 else "")
        lines.append(
            f"| `{h}` | {shown} | {yes[e['adjoint']]} | {yes[e['tangent']]} | "
            f"{'yes' if e['nondifferentiable'] else ''} |"
        )
    lacking = [
        h
        for h, e in helpers.items()
        if (e["called_by_rules_of"] or e["emitted_by"])
        and not e["nondifferentiable"]
        and not (e["adjoint"] and e["tangent"])
    ]
    lines += ["", f"Helpers that generated code calls without both rules: {len(lacking)}", ""]
    for h in lacking:
        e = helpers[h]
        missing = [w for w in ("adjoint", "tangent") if not e[w]]
        lines.append(f"- `{h}`: no {' and no '.join(missing)}")
    lines += ["", "### Primitives with a first-order rule but not both", ""]
    lines += ["| primitive | adjoint | tangent |", "|---|---|---|"]
    for n, e in sorted(diff.items()):
        if not (e["adjoint"] and e["tangent"]):
            lines.append(f"| `{n}` | {yes[e['adjoint']]} | {yes[e['tangent']]} |")
    lines += [
        "",
        "### Rules whose generated code calls something without rules",
        "",
        "A call in an adjoint template without an adjoint stops grad(grad(f)); without a "
        "tangent, hessian/hvp. A call in a tangent template without a tangent stops "
        "jacfwd(jacfwd(f)); without an adjoint, reverse over forward.",
        "",
        "| primitive | template | call | lacks |",
        "|---|---|---|---|",
    ]
    for n, e in sorted(prims.items()):
        for kind, calls in sorted(e["calls"].items()):
            for text, missing in sorted(calls.items()):
                lines.append(f"| `{n}` | {kind} | `{text}` | {', '.join(missing)} |")
    lines += ["", "### Every primitive", "", "| primitive | adjoint | tangent |", "|---|---|---|"]
    for n, e in sorted(diff.items()):
        lines.append(f"| `{n}` | {yes[e['adjoint']]} | {yes[e['tangent']]} |")
    lines += ["", "Non-differentiable: " + ", ".join(f"`{n}`" for n in nd), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the data as JSON here")
    opts = parser.parse_args(argv)
    data = collect()
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump(data, fh, indent=1)
    sys.stdout.write(markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
