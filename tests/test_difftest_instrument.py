"""Tests of the differential tester itself: its verdicts, its oracles and its minimizer.

A tester that cannot tell a wrong gradient from a right one, or that blames
chainrule for a kink in finite differences, is worse than none.  These tests
feed it known-wrong gradients, refusals located in the wrong place, and
points on kinks, ties and branch boundaries.
"""

from __future__ import annotations

import tempfile

import numpy as np
import pytest
from difftest.check import _gradient_is_smooth, check_program
from difftest.constructs import CONSTRUCTS, Status, status_of
from difftest.loading import loaded
from difftest.minimize import minimize
from difftest.oracles import FD_TOL, fd_jacobian, finite_differences, mismatch
from difftest.programs import Program, generate, line_key
from difftest.report import Tally, construct_table

import chainrule
from chainrule import CompileError

X3 = (("x", ("leaf", (3,))),)


def program(body: str, constructs=("arith",), params=X3, zero=(), excusable=()) -> Program:
    source = "import numpy as np\n\n\ndef f(" + ", ".join(p for p, _ in params) + "):\n"
    source += "".join(f"    {line}\n" for line in body.strip().splitlines())
    keys = frozenset(line_key(line) for line in excusable)
    return Program(source, "f", params, frozenset(constructs), frozenset(zero), "7:1", keys)


SQUARES = program("y = x * x\nreturn np.sum(y)")


def test_a_correct_program_agrees():
    result = check_program(SQUARES, second_order=True)
    assert result.outcome == "agree", result.detail
    assert "hessian" in result.checks and "autograd" in result.checks


def test_a_wrong_gradient_is_wrong(monkeypatch):
    real = chainrule.grad

    def off_by_x(f, argnums=0):
        g = real(f, argnums=argnums)
        return lambda *a: tuple(d + a[0] for d in g(*a))

    monkeypatch.setattr(chainrule, "grad", off_by_x)
    result = check_program(SQUARES)
    assert result.outcome == "wrong" and result.failed
    assert (result.stage, result.oracle) == ("grad", "finite differences")
    assert "expected" in result.detail and "got" in result.detail


def test_a_wrong_forward_mode_is_caught_by_the_cross_check(monkeypatch):
    real = chainrule.jacfwd
    monkeypatch.setattr(
        chainrule,
        "jacfwd",
        lambda f, argnums=0: lambda *a: tuple(2 * j for j in real(f, argnums=argnums)(*a)),
    )
    result = check_program(SQUARES)
    assert (result.outcome, result.stage, result.oracle) == ("wrong", "jacfwd", "grad")


def test_a_variant_off_by_less_than_finite_differences_see_is_caught(monkeypatch):
    # the shape-specialised variant (compiled when a request has scalar_params) is
    # off by one part in a million: finite differences accept that, the general code not
    import dataclasses

    import chainrule.api as api

    real = api.compile_function

    def compile_function(request):
        compiled = real(request)
        if not request.scalar_params:
            return compiled
        off = dataclasses.replace(
            compiled, function=lambda *a: tuple(d * (1 + 1e-6) for d in compiled.function(*a))
        )
        off.guard = compiled.guard
        return off

    monkeypatch.setattr(api, "compile_function", compile_function)
    result = check_program(SQUARES)
    assert (result.outcome, result.stage, result.oracle) == ("wrong", "variant", "general code")
    assert "the variant (first call) differs from the general code" in result.detail
    assert "finite differences side with the general code" in result.detail
    monkeypatch.undo()
    assert "variant" in check_program(SQUARES).checks


def _raising(error: Exception):
    def fake(f, argnums=0):
        def call(*args):
            raise error

        return call

    return fake


TINY = program("return 1e-4 * np.sum(np.sin(x)) + x[0]")


def test_autograd_is_no_oracle_where_finite_differences_side_with_grad(monkeypatch):
    # autograd off by 30% on a gradient of 1e-4 passes FD_TOL; grad, exact, was then
    # called wrong against it (seed 8, 1956)
    import difftest.check as check

    real = check.autograd_gradient

    def off(f, args):
        value, g = real(f, args)
        g = np.array(g, dtype=float)
        g[1] *= 1.3
        return value, g

    monkeypatch.setattr(check, "autograd_gradient", off)
    result = check_program(TINY)
    assert result.outcome == "agree" and "autograd" not in result.checks, result.detail


def test_grad_off_where_autograd_is_right_is_still_wrong(monkeypatch):
    import difftest.check as check

    real = chainrule.grad
    monkeypatch.setattr(check, "variant_and_general", lambda *a: None)

    def off(f, argnums=0):
        g = real(f, argnums=argnums)

        def call(*a):
            (d,) = g(*a)
            return (d + np.array([0.0, 1e-5, 0.0]),)  # below FD_TOL

        return call

    monkeypatch.setattr(chainrule, "grad", off)
    result = check_program(TINY)
    assert result.outcome == "wrong", result.detail  # (the other modes, or autograd)


def test_a_compile_error_in_generated_code_is_a_crash(monkeypatch):
    error = CompileError("`t1` is not supported", "<chainrule grad_f 1a2b>", 3, 4, "t1 = x[i]")
    monkeypatch.setattr(chainrule, "grad", _raising(error))
    result = check_program(SQUARES)
    assert result.outcome == "crash" and "inside chainrule" in result.detail


def test_an_internal_error_or_an_unlocated_refusal_is_a_crash(monkeypatch):
    monkeypatch.setattr(chainrule, "grad", _raising(CompileError("internal IndentationError")))
    assert check_program(SQUARES).outcome == "crash"


def test_other_exceptions_are_crashes(monkeypatch):
    monkeypatch.setattr(chainrule, "grad", _raising(ValueError("axes don't match array")))
    result = check_program(SQUARES)
    assert result.outcome == "crash" and result.detail.startswith("ValueError")


def _refusing(f, argnums=0):
    """A grad that refuses, pointing at the def line of the user's function, as chainrule does."""
    code = f.__code__
    error = CompileError("not supported", code.co_filename, code.co_firstlineno, 0, "def f(x):")

    def call(*args):
        raise error

    return call


def test_a_located_refusal_counts_against_supported_constructs_only(monkeypatch):
    monkeypatch.setattr(chainrule, "grad", _refusing)
    assert check_program(SQUARES).outcome == "refused-supported"
    may = program("return np.sum(x)", ("view-inplace",), excusable=["def f(x):"])
    assert check_program(may).outcome == "refused"
    # a may-refuse construct elsewhere does not excuse a refusal of this line
    elsewhere = program("return np.sum(x)", ("view-inplace",), excusable=["r *= 3.0"])
    result = check_program(elsewhere)
    assert result.outcome == "refused-supported" and "not one of" in result.detail


def test_a_second_order_refusal_is_excused_by_a_second_order_limitation(monkeypatch):
    monkeypatch.setattr(chainrule, "hessian", _refusing)
    # array-write-after-read: first order supported, second order may refuse; the
    # alias-update construct (may refuse at first order, at another line) does not
    # take that away (6:7510 and 6:8230 of the seed-6 run)
    body = "return np.sum(x * x)"
    limited = program(body, ("array-write-after-read", "alias-update"), excusable=["v += x"])
    result = check_program(limited, second_order=True)
    assert result.outcome == "refused" and result.stage == "hessian", result.detail
    unlimited = program(body, ("alias-update",), excusable=["v += x"])
    assert check_program(unlimited, second_order=True).outcome == "refused-supported"


def test_a_documented_refusal_that_compiles_is_unrefused():
    result = check_program(program("return np.sum(x * 2.0)", ("dict-comprehension",)))
    assert result.outcome == "unrefused"


def test_a_dict_comprehension_is_refused_with_a_location():
    body = "z = {i: np.sin(e) for i, e in enumerate(x)}\nreturn np.sum(z[0])"
    excusable = ["z = {i: np.sin(e) for i, e in enumerate(x)}"]
    result = check_program(program(body, ("dict-comprehension",), excusable=excusable))
    assert result.outcome == "refused", result.detail
    assert ":5:" in result.detail.splitlines()[0]  # file:line of the comprehension


def test_writing_into_an_argument_works_on_a_private_copy():
    body = "x[0] = 2.0 * x[1]\nreturn np.sum(x * x)"
    result = check_program(program(body, ("write-arg",)))
    assert result.outcome == "agree", result.detail


@pytest.mark.parametrize(
    "f, x",
    [
        (lambda x: float(np.abs(x[0])), [0.0]),  # a kink
        (lambda x: float(np.maximum(x[0], x[1])), [0.3, 0.3]),  # a tie
        (lambda x: float(x[0] if x[0] > 0.2 else 2 * x[0]), [0.2 + 1e-6]),  # a branch boundary
        (lambda x: float(np.floor(10 * x[0])), [0.1 - 1e-5]),  # a jump
    ],
)
def test_finite_differences_notice_non_smooth_points(f, x):
    assert not finite_differences(f, [np.array(x)]).smooth


def test_finite_differences_are_accurate_at_smooth_points():
    fd = finite_differences(lambda x: float(np.sum(np.sin(x) * x[0])), [np.array([0.4, -0.7])])
    assert fd.smooth
    x = np.array([0.4, -0.7])
    expected = np.cos(x) * x[0] + np.array([np.sum(np.sin(x)), 0.0])
    assert mismatch(fd.grad, expected, FD_TOL) is None


def test_a_kink_at_a_drawn_zero_is_redrawn():
    # abs makes an exact zero a kink: the point is re-drawn (without zeros), not blamed
    p = program("return np.sum(np.abs(x) * x[0])", ("abs-max-min",), zero=("x",))
    assert check_program(p).outcome == "agree"


def _tied_max_gradient(x):
    # the gradient of max(x[0] * S, x[1] * S), S = x[0] + x[1]: a gradient linear along
    # every line through 0, with a slope that depends on the line
    s = x[0] + x[1]
    return np.array([s + x[0], x[0]]) if s * x[0] >= s * x[1] else np.array([x[1], s + x[1]])


def test_a_gradient_with_a_kink_across_the_axes_is_not_smooth():
    # at 0, every coordinate's one-sided differences agree, yet there is no Hessian
    # (the seed-5 program 4410: np.max of a matrix of products of exact zeros)
    zero, elsewhere = np.zeros(2), np.array([0.7, -0.2])
    fd = fd_jacobian(_tied_max_gradient, zero)
    assert not _gradient_is_smooth(_tied_max_gradient, zero, fd)
    fd = fd_jacobian(_tied_max_gradient, elsewhere)
    assert _gradient_is_smooth(_tied_max_gradient, elsewhere, fd)


def test_writing_into_an_argument_second_order_does_not_differentiate_may_be_refused():
    # hessian differentiates argument 0 only, and copies only what it differentiates
    assert status_of({"write-arg", "write-other-arg"}) is Status.SUPPORTED
    assert status_of({"write-arg", "write-other-arg"}, second_order=True) is Status.MAY_REFUSE
    assert status_of({"write-arg"}, second_order=True) is Status.SUPPORTED


def test_status_follows_the_strictest_construct():
    assert status_of({"arith"}) is Status.SUPPORTED
    assert status_of({"arith", "view-inplace"}) is Status.MAY_REFUSE
    assert status_of({"view-inplace", "for-else"}) is Status.MUST_REFUSE
    assert status_of({"array-write-aug"}, second_order=True) is Status.MAY_REFUSE


def test_programs_are_deterministic_run_and_are_tagged():
    for index in range(60):
        p = generate(5, index)
        assert p == generate(5, index)
        assert p.constructs <= set(CONSTRUCTS)
        with loaded(p, autograd=False) as mods:
            from difftest.programs import draw_inputs

            value = mods.f(*draw_inputs(p, np.random.default_rng(index), zeros=True))
            assert np.isfinite(float(value)), p.source


def test_temporary_files_are_removed(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # other runs may share /tmp
    check_program(SQUARES)
    assert list(tmp_path.iterdir()) == []


def test_the_minimizer_keeps_the_failure_and_drops_the_rest(monkeypatch):
    real = chainrule.grad

    def wrong_near_sin(f, argnums=0):  # a "defect" that needs np.sin in the source
        g = real(f, argnums=argnums)
        import inspect

        broken = "np.sin" in inspect.getsource(f)
        return lambda *a: tuple(d * (1.5 if broken else 1.0) for d in g(*a))

    monkeypatch.setattr(chainrule, "grad", wrong_near_sin)
    body = """
    a = x * 2.0
    b = np.tanh(a) + x
    c = np.sin(x[0]) * 3.0
    for i in range(2):
        a = a + b
    return np.sum(a) + c
    """
    p = program("\n".join(line[4:] for line in body.strip("\n").splitlines()))
    failure = check_program(p)
    assert failure.outcome == "wrong"
    text = minimize(p, failure, max_checks=200)
    assert "np.sin" in text and "for" not in text and "tanh" not in text
    assert len(text) < 0.6 * len(p.source)


def test_the_table_lists_every_construct():
    tally = Tally()
    tally.add(check_program(SQUARES))
    table = construct_table(tally)
    for name in CONSTRUCTS:
        assert f"| {name} |" in table


def test_the_generator_takes_a_view_with_every_function_of_the_table():
    # issue 12: the generated programs change in place a view made by every function,
    # method and attribute chainrule's table says may return one (those NumPy makes
    # read-only refuse writes themselves)
    from difftest.statements import READ_ONLY_VIEWS, view_spellings

    from chainrule.aliasing import VIEW_ATTRIBUTES, VIEW_FUNCTIONS, VIEW_METHODS

    spellings = view_spellings("y", 3, 2)
    text = " ".join(code for code, _ in spellings)
    missing = [
        f.__name__
        for f in VIEW_FUNCTIONS
        if f"np.{f.__name__}(" not in text and f.__name__ not in READ_ONLY_VIEWS
    ]
    missing += [m for m in VIEW_METHODS if f".{m}(" not in text and m not in READ_ONLY_VIEWS]
    missing += [a for a in VIEW_ATTRIBUTES if f".{a}" not in text and a not in READ_ONLY_VIEWS]
    assert not missing
    y = np.arange(6.0).reshape(3, 2)
    for code, shape in spellings:  # each runs in NumPy, with the shape the generator assumes
        assert np.shape(eval(code, {"np": np, "y": y})) == shape, code


def test_a_point_where_the_program_overflows_is_not_judged():
    # tanh(exp(exp(...))) is finite, but its derivative is inf * 0 (nan in every AD
    # tool) while finite differences see a flat function: the point is re-drawn, and a
    # program that always overflows is skipped, not called wrong
    always = program(
        "w = x * x + 30.0\nfor _ in range(3):\n    w = np.exp(w)\nreturn np.sum(np.tanh(w))"
    )
    result = check_program(always)
    assert result.outcome == "skipped" and "overflows" in result.detail
    assert check_program(program("return np.sum(np.tanh(np.exp(x)))")).outcome == "agree"
