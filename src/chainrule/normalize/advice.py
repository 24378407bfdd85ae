"""What normalize says when it refuses a construct: one sentence, and what to write instead."""

from __future__ import annotations

import ast

_STATEMENT_ADVICE = {
    ast.ClassDef: "defining a class inside the function being differentiated is not "
    "supported; define it at module level",
    ast.With: "`with` blocks are not supported; move them outside the differentiated function",
    ast.Try: "`try` blocks are not supported; move error handling outside the differentiated "
    "function",
    ast.Import: "importing inside the function is not supported; import at module level",
    ast.ImportFrom: "importing inside the function is not supported; import at module level",
    ast.Global: "`global` statements are not supported; pass the value as an argument",
    ast.Nonlocal: "`nonlocal` statements are not supported; pass the value as an argument",
    ast.Delete: "`del` is not supported; simply stop using the name",
}


def side_effect_advice(expr: ast.expr) -> str:
    """A differentiated value used only for an effect: its gradient cannot be followed."""
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr in ("append", "extend", "insert")
    ):
        return (
            f"`.{expr.func.attr}(...)` of a differentiated value into a list is not supported "
            "yet; preallocate an array (hs = np.zeros((T, n))) and write into it (hs[t] = h)"
        )
    return (
        "this statement uses a differentiated value only for its effect (it changes an "
        "object in place), which chainrule cannot follow; assign the result to a name instead"
    )


def unsupported_statement(stmt: ast.stmt) -> str:
    for kind, advice in _STATEMENT_ADVICE.items():
        if isinstance(stmt, kind):
            return advice
    return f"the statement `{type(stmt).__name__}` is not supported in a differentiated function"


_EXPRESSION_ADVICE = {
    ast.ListComp: "a list comprehension over differentiated values is supported where it "
    "surely runs, with no lambda, comprehension or := inside it; write a loop that appends "
    "to a list here",
    ast.GeneratorExp: "a generator expression over differentiated values is supported as "
    "the argument of sum(...), list(...) or tuple(...); write a list comprehension or a loop",
    ast.SetComp: "a set comprehension over differentiated values is not supported",
    ast.DictComp: "a dict comprehension over differentiated values is not supported",
    ast.Lambda: "a lambda used in place is not supported; assign it to a name first "
    "(g = lambda t: ...) and call g",
    ast.Set: "a set of differentiated values is not supported",
    ast.NamedExpr: "the walrus operator (:=) is not supported; use a separate assignment",
    ast.BoolOp: "`and`/`or` on differentiated values selects a value by its truth; write "
    "`a if cond else b` instead",
    ast.JoinedStr: "f-strings of differentiated values carry no gradient; compute them "
    "outside the function",
    ast.Await: "`await` is not supported",
    ast.Yield: "`yield` is not supported: generators cannot be differentiated",
    ast.Tuple: "a tuple of differentiated values is not supported here; use separate "
    "variables or np.stack",
    ast.List: "a list of differentiated values is not supported here; use np.array([...]) "
    "or np.stack",
    ast.Starred: "starred expressions are not supported",
}


def unsupported_expression(expr: ast.expr) -> str:
    for kind, advice in _EXPRESSION_ADVICE.items():
        if isinstance(expr, kind):
            return advice
    return f"the expression `{type(expr).__name__}` is not supported here"


def base_text(target: ast.Subscript) -> str:
    return target.value.id if isinstance(target.value, ast.Name) else "array"


def op_text(op: ast.operator) -> str:
    return {
        ast.Add: "+",
        ast.Sub: "-",
        ast.Mult: "*",
        ast.Div: "/",
        ast.Pow: "**",
        ast.MatMult: "@",
        ast.FloorDiv: "//",
        ast.Mod: "%",
    }.get(type(op), "op")
