"""Every refusal is a CompileError at the right line, column and with advice."""

import math

import numpy as np
import pytest
from test_calls import level7

from chainrule import CompileError, grad, jvp, vjp

HERE = __file__


def line_of(marker: str) -> int:
    """Line number of the line in this file that ends with `# <marker>`."""
    with open(HERE) as handle:
        for number, line in enumerate(handle, start=1):
            if line.rstrip().endswith(f"# {marker}"):
                return number
    raise AssertionError(marker)


def recursive_helper(x, n):
    if n == 0:
        return x
    return recursive_helper(x * 2.0, n - 1)  # recursion


def for_else(x):
    for _ in range(3):
        x = x * 2
    else:
        x = x + 1  # for-else
    return x


def writes_into_shared(x):
    out = np.zeros((2, 3))
    row = out[0]
    out[0, 1] = x[0]  # shared-write
    return row @ x


def comprehension(xs):
    return sum({i: x * 2 for i, x in enumerate(xs)}.values())  # comprehension


def calls_python_function(x):
    return recursive_helper(x, 3) * 2.0


def method_without_rule(x):
    return x.compress([True, True]) @ x  # method-no-rule


def nested_def(x):
    def inner(y):
        return y * 2

    return np.sum(np.apply_along_axis(inner, 0, x))  # nested-def


def uses_global_stmt(x):
    global COUNTER  # global-stmt
    return x


def and_of_values(x, y):
    z = x and y  # bool-op
    return z * 2.0


def walrus(x):
    return x if x[0] > 0 else (y := x * 2) * y  # walrus


def no_return(x):
    y = x * 2  # noqa: F841  # no-return


def returns_tuple(x):
    return x, x * 2  # returns-tuple


def generator(x):
    yield x  # generator


async def coroutine(x):  # coroutine
    return x


def star_args(*xs):  # star-args
    return xs[0]


def kw_only(x, *, scale=1.0):  # kw-only
    return x * scale


def undefined_name(x):
    return not_defined_anywhere(x)  # noqa: F821  # undefined-name


def inplace_alias(x):
    y = x
    y += 1.0  # inplace-alias
    return np.sum(x * y)


def diff_index(x, i):
    return x[x[0]]  # diff-index


def appends_to_argument(x, hs):
    hs.append(x * 2.0)  # list-append
    return np.sum(x)


def sorts_in_place(x):
    y = x * 2.0
    y.sort()  # in-place-method
    return y @ x


def list_item_assignment(x):
    hs = []
    hs.append(x)
    hs[0:1] = [x * 2.0]  # list-item-assign
    return np.sum(hs[0])


def enumerate_with_start(x):
    total = 0.0
    for i, v in enumerate(x, 1):  # enumerate-start
        total = total + v * i
    return total


def slices_a_list(x):
    hs = []
    hs.append(x)
    hs.append(x * 2.0)
    first = hs[0:1]  # list-slice
    return np.sum(np.stack(first))


def while_else(x):
    while np.sum(x) < 5.0:
        x = x * 2.0
    else:
        x = x + 1.0  # while-else
    return np.sum(x)


def tries(x):
    try:  # try-block
        y = x * 2
    except ValueError:
        y = x
    return y


# -- calls and containers -------------------------------------------------------------


def computed_key(x):
    pair = {"a": x, "b": x * 2.0}
    k = "ab"[int(x.size) - 3]
    return np.sum(pair[k])  # computed-key


def container_in_branch(x):
    if np.sum(x) > 0:  # container-branch
        pair = (x, x * 2.0)
    else:
        pair = (x * 3.0, x)
    return np.sum(pair[0])


def container_item_assignment(x):
    d = {"a": x, "b": x * 2.0}
    d["a"] = x * 3.0  # container-item
    return np.sum(d["a"] * d["b"])


def double_star_dict(x):
    d = {"a": x}
    e = {**d, "b": x * 2.0}  # double-star
    return np.sum(e["a"] * e["b"])


def adds_into_parameter(h, w):
    h += w  # helper-param-inplace
    return h


def calls_in_place_helper(x):
    y = adds_into_parameter(x, x * 2.0)
    return np.sum(y * x)


def method_of_parameter(x, obj):
    return np.sum(obj.scale(x))  # param-method


def too_much_inlining(x):
    return np.sum(level7(x))  # inline-budget


def jvp_of_a_parameter(x, fn):
    return np.sum(jvp(fn, (x,), (x,))[1])  # dynamic-jvp


CASES = [
    (for_else, "for-else", "for ... else"),
    (writes_into_shared, "shared-write", "'row' also refers to"),
    (comprehension, "comprehension", "dict comprehension"),
    (calls_python_function, "recursion", "recursion: 'recursive_helper'"),
    (method_without_rule, "method-no-rule", ".compress()"),
    (nested_def, "nested-def", "the local function 'inner' can only be called"),
    (uses_global_stmt, "global-stmt", "global"),
    (and_of_values, "bool-op", "and"),
    (walrus, "walrus", ":="),
    (no_return, "no-return", "return"),
    (returns_tuple, "returns-tuple", "tuple"),
    (generator, "generator", "generator"),
    (coroutine, "coroutine", "coroutine"),
    (star_args, "star-args", "*args"),
    (kw_only, "kw-only", "keyword-only"),
    (undefined_name, "undefined-name", "not_defined_anywhere"),
    (inplace_alias, "inplace-alias", "y = y + "),
    (diff_index, "diff-index", "index"),
    (tries, "try-block", "try"),
    (appends_to_argument, "list-append", ".append(...)"),
    (list_item_assignment, "list-item-assign", "slice of a list"),
    (enumerate_with_start, "enumerate-start", "start"),
    (slices_a_list, "list-slice", "slicing a list"),
    (while_else, "while-else", "while ... else"),
    (sorts_in_place, "in-place-method", "effect"),
    (computed_key, "computed-key", "needs a key known when the code is compiled"),
    (container_in_branch, "container-branch", "assigned in one branch"),
    (container_item_assignment, "container-item", "build a new one instead"),
    (double_star_dict, "double-star", "`**` unpacking"),
    (calls_in_place_helper, "helper-param-inplace", "change the caller's array in place"),
    (method_of_parameter, "param-method", "differentiate the bound method"),
    (too_much_inlining, "inline-budget", "registering a derivative rule for level7"),
    (jvp_of_a_parameter, "dynamic-jvp", "function by name"),
]


@pytest.mark.parametrize("func, marker, words", CASES, ids=[c[1] for c in CASES])
def test_refusals_point_at_the_construct(func, marker, words):
    nargs = func.__code__.co_argcount or 1
    args = [np.array([0.5, 1.5, 2.5])] + [1.0] * (nargs - 1)
    with pytest.raises(CompileError) as info:
        grad(func)(*args)
    err = info.value
    assert err.filename == HERE
    assert err.lineno == line_of(marker), str(err)
    assert words in err.message
    text = str(err)
    assert f"{HERE}:{err.lineno}:" in text
    assert err.source_line.strip() in text
    caret_line = text.splitlines()[-1]
    assert caret_line.strip() == "^"
    # the caret sits under the reported column
    src_line = text.splitlines()[-2]
    code = err.source_line.rstrip("\n")
    indent = len(code) - len(code.lstrip())
    assert caret_line.index("^") - 4 == err.col_offset - indent
    assert src_line.strip() == code.strip()


def test_functions_without_source_are_refused_saying_source():
    namespace = {}
    exec("def made_by_exec(x):\n    return x * 2\n", namespace)
    with pytest.raises(CompileError, match="source"):
        grad(namespace["made_by_exec"])(1.0)


def test_builtins_without_rules_are_refused_saying_source():
    with pytest.raises(CompileError, match="source"):
        grad(math.gamma)(1.5)


def test_a_primitive_with_a_rule_can_be_differentiated_directly():
    assert grad(np.sin)(0.3) == pytest.approx(np.cos(0.3))
    assert "def grad_np_sin(x):" in grad(np.sin).source


def test_compile_errors_carry_all_fields():
    with pytest.raises(CompileError) as info:
        vjp(tries, 1.0)
    err = info.value
    assert (err.filename, err.lineno) == (HERE, line_of("try-block"))
    assert err.col_offset == 4
    assert "try:" in err.source_line


def test_inactive_calls_to_unknown_functions_are_fine():
    def f(x, n):
        k = len(str(n))  # no rule needed: not on a path from x
        return x * k

    assert grad(f)(2.0, 123) == pytest.approx(3.0)
