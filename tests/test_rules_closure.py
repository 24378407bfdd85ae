"""Derivatives of derivatives: every runtime helper that a derivative template calls has an
adjoint and a tangent rule (or is declared non-differentiable), so `grad(grad(f))`,
`hessian` and `hvp` work through every primitive with a first-order rule.

`test_every_helper_a_template_calls_has_both_rules` enumerates the helpers
the templates name; `KNOWN_GAPS` lists the ones still missing a rule (the
second derivatives of prod, norm, cumprod and the einsum tangents), so that
a new helper without rules fails the test.  The functions below are checked
to second order (forward over reverse and reverse over reverse) against
finite differences, and against autograd where it has the function.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types

import numpy as np
import pytest
from helpers import check_vjp

import chainrule.runtime as rt
from chainrule import grad, hessian, jacfwd, jvp
from chainrule.rules import ADJOINTS, TANGENTS, is_nondifferentiable
from chainrule.testing import check_grads

autograd = pytest.importorskip("autograd")
anp = pytest.importorskip("autograd.numpy")

# helpers that still lack a rule of one kind; each entry is a known, documented gap
KNOWN_GAPS = {
    "einsum_pairs",  # (einsum_jvp's tangent: third order)
    "einsum_grad_jvp",
    "einsum_grad_vjp",
    "einsum_sublist_grad_vjp",  # (einsum_sublist_grad's own rules call them)
    "einsum_sublist_grad_jvp",
    "einsum_sublist_jvp",
    "einsum_first_jvp",
    "expm_frechet2",
    "cofactor_jvp",
    "cofactor_vjp",
}


def _helpers_named_by_templates() -> set[str]:
    names: set[str] = set()
    for table in (ADJOINTS, TANGENTS):
        for rule in table.values():
            if not rule.template.__module__.startswith("chainrule.rules"):
                continue
            tree = ast.parse(textwrap.dedent(inspect.getsource(rule.template)))
            names.update(
                n.id
                for n in ast.walk(tree)
                if isinstance(n, ast.Name) and n.id in rt.__all__ and n.id != "stop_gradient"
            )
    return names


def test_every_helper_a_template_calls_has_both_rules():
    missing = []
    for name in sorted(_helpers_named_by_templates()):
        helper = getattr(rt, name)
        if is_nondifferentiable(helper) or helper in rt.DIFFERENTIATED_BY_SOURCE:
            continue  # (by source: tests/test_by_source_helpers.py)
        kinds = [
            k for k, table in (("adjoint", ADJOINTS), ("tangent", TANGENTS)) if helper not in table
        ]
        if kinds and name not in KNOWN_GAPS:
            missing.append(f"{name} (no {' and no '.join(kinds)})")
    assert not missing, f"runtime helpers without rules: {missing}"


def test_known_gaps_are_still_gaps():
    """A gap that got its rules must leave KNOWN_GAPS (and docs/subset.md)."""
    closed = [n for n in KNOWN_GAPS if getattr(rt, n) in ADJOINTS and getattr(rt, n) in TANGENTS]
    assert not closed, f"remove from KNOWN_GAPS: {closed}"


# -- second order through the helpers' new adjoints -----------------------------------

A = np.array([[3.0, 1.0, 0.5], [0.2, 4.0, 1.0], [0.1, 0.3, 5.0]])
B = np.array([1.0, 2.0, 3.0])
W12 = np.arange(12.0).reshape(2, 6)


def f_diag(x):
    return np.sum(np.diag(x) ** 3) + np.sum(np.sin(np.diag(np.diag(x))))


def f_trace(x):
    return np.trace(x) ** 2 + np.sum(np.diagonal(x) ** 3)


def f_tile(x):
    return np.sum(np.sin(np.tile(x, (2, 1))) * W12)


def f_repeat(x):
    return np.sum(np.cos(np.repeat(x, 2)) * np.arange(12.0))


def f_take(x):
    return np.sum(np.take(x, [0, 2, 2]) ** 3)


def f_transpose(x):
    return np.sum(np.transpose(x, (1, 0)) ** 3 * A)


def f_solve(a):
    return np.sum(np.linalg.solve(a, B) ** 2)


def f_solve_matrix(a):
    return np.sum(np.linalg.solve(a, A) ** 2)


def f_solve_b(b):
    return np.sum(np.linalg.solve(A, b) ** 3)


def f_einsum(x):
    return np.sum(np.einsum("ij,jk->ik", x, x) ** 2)


def f_where(x):
    return np.sum(np.where(x > 0, x**3, np.sin(x)))


def f_det(x):
    return np.linalg.det(x) ** 2 + np.linalg.det(x)


rng = np.random.default_rng(7)
SQUARE = rng.normal(size=(3, 3)) + 3 * np.eye(3)
VEC6 = rng.normal(size=6)
SECOND_ORDER = [
    (f_diag, SQUARE),
    (f_trace, SQUARE),
    (f_tile, VEC6),
    (f_repeat, VEC6),
    (f_take, rng.normal(size=4)),
    (f_transpose, SQUARE),
    (f_solve, SQUARE),
    (f_solve_matrix, SQUARE),
    (f_solve_b, B + 0.5),
    (f_einsum, SQUARE),
    (f_where, rng.normal(size=5)),
    (f_det, SQUARE),
]


def _with_autograd_numpy(f):
    """The same code object with `np` meaning autograd.numpy."""
    return type(f)(f.__code__, {**f.__globals__, "np": anp}, f.__name__)


@pytest.mark.parametrize("f, x", SECOND_ORDER, ids=lambda v: getattr(v, "__name__", ""))
def test_second_order_through_helpers(f, x):
    check_grads(f, (x,), order=2, rtol=1e-4, atol=1e-5)
    if f in (f_trace, f_take):  # autograd lacks these second derivatives (diagonal, take)
        return
    expected = autograd.hessian(_with_autograd_numpy(f))(x)
    np.testing.assert_allclose(hessian(f)(x), expected, rtol=1e-6, atol=1e-8)


# -- the helpers' adjoints directly -------------------------------------------------------

G = rng.normal(size=(3, 3))


def h_diagonal_grad(g):
    return rt.diagonal_grad(g, A)


def h_diag_grad(g):
    return rt.diag_grad(g, B)


def h_untile(g):
    return rt.untile(g, B, 2)


def h_unrepeat(g):
    return rt.unrepeat(g, B, 2)


def h_take_grad(g):
    return rt.take_grad(g, B, [0, 2, 2])


def h_untranspose(g):
    return rt.untranspose(g, (1, 0))


def h_retranspose(g):
    return rt.retranspose(g, (1, 0))


def h_select_grad(g):
    return rt.select_grad(g, A > 1, A)


def h_solve_transposed(a, g):
    return rt.solve_transposed(a, B, g)


def h_solve_grad_a(gb, x):
    return rt.solve_grad_a(gb, A, B, x)


def h_solve_product(m, v):
    return rt.solve_product(m, A, B, v)


def h_cofactor(a):
    return rt.cofactor(a)


def h_einsum_grad(g, a, b):
    return rt.einsum_grad(g, "ij,jk->ik", (a, b))[0]


@pytest.mark.parametrize(
    "f, args",
    [
        (h_diagonal_grad, (B,)),
        (h_diag_grad, (G,)),
        (h_untile, (rng.normal(size=6),)),
        (h_unrepeat, (rng.normal(size=6),)),
        (h_take_grad, (B,)),
        (h_untranspose, (G,)),
        (h_retranspose, (G,)),
        (h_select_grad, (G,)),
        (h_solve_transposed, (SQUARE, B)),
        (h_solve_grad_a, (B, B + 1.0)),
        (h_solve_product, (G, B)),
        (h_cofactor, (SQUARE,)),
        (h_einsum_grad, (G, SQUARE, G)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_helper_adjoints(f, args):
    check_vjp(f, *args, rtol=1e-4, atol=1e-6)


# -- det at a singular matrix: the cofactor matrix, not a LinAlgError ----------------------

SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])


def det_only(a):
    return np.linalg.det(a)


def test_det_gradient_at_a_singular_matrix():
    g = grad(det_only)(SINGULAR)
    fd = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            e = np.zeros((3, 3))
            e[i, j] = 1e-6
            fd[i, j] = (np.linalg.det(SINGULAR + e) - np.linalg.det(SINGULAR - e)) / 2e-6
    np.testing.assert_allclose(g, fd, atol=1e-6)  # (autograd raises LinAlgError here)
    check_grads(det_only, (SINGULAR,), rtol=1e-5, atol=1e-6)


# -- second derivatives of p-norms (norm_grad's own rules) ----------------------------


@pytest.mark.parametrize("order", [1, 2, 3, 4, 1.5])
def test_second_derivatives_of_a_vector_p_norm(order):
    def f(x):
        return np.linalg.norm(x, ord=order)

    def written_out(x):  # autograd has no gradient for ord=1; the same norm by its definition
        return anp.sum(anp.abs(x) ** order) ** (1.0 / order)

    x = np.random.default_rng(7).normal(size=6)
    np.testing.assert_allclose(hessian(f)(x), autograd.hessian(written_out)(x), atol=1e-12)

    def g2(x):
        return np.sum(np.sin(grad(f)(x)))

    expected = autograd.grad(lambda x: anp.sum(anp.sin(autograd.grad(written_out)(x))))(x)
    np.testing.assert_allclose(grad(g2)(x), expected, atol=1e-12)
    check_grads(f, (x,), order=2)  # and finite differences, to second order


def test_second_derivatives_of_row_p_norms():
    def f(X):
        return np.sum(np.linalg.norm(X, 3, axis=1) ** 2)

    def written_out(X):
        return anp.sum(anp.sum(anp.abs(X) ** 3, axis=1) ** (2.0 / 3.0))

    X = np.random.default_rng(8).normal(size=(3, 4))
    np.testing.assert_allclose(hessian(f)(X), autograd.hessian(written_out)(X), atol=1e-12)


def test_second_derivatives_of_a_matrix_norm_with_an_ord_name_the_ord():
    def f(X, k):
        return np.linalg.norm(X, k)

    X = np.random.default_rng(9).normal(size=(3, 4))
    with pytest.raises(ValueError, match=r"np\.linalg\.norm\(x, ord=2\) \(x of 2 dimensions"):
        hessian(f)(X, 2)


# -- second derivatives of the einsum sublist form (einsum_sublist_grad's rules) --------


def _transpose(x):
    return np.sum(np.sin(np.einsum(x, (0, 1), (1, 0))) * np.arange(12.0).reshape(4, 3))


def _matmul(x, y):
    return np.sum(np.sin(np.einsum(x, (0, 1), y, (1, 2), (0, 2))))


def _batched(x, y):
    return np.sum(np.sin(np.einsum(x, (Ellipsis, 0, 1), y, (Ellipsis, 1, 2), (Ellipsis, 0, 2))))


def _covsum(x, y):
    return np.sum(np.sin(np.einsum(x, [0, 1, 2], y, [3, 1, 0], [3, 2, 0])))


SUBLIST_CASES = [
    (_transpose, [(3, 4)]),
    (_matmul, [(2, 3), (3, 4)]),
    (_batched, [(2, 2, 3), (2, 3, 4)]),
    (_covsum, [(3, 4, 4), (4, 4, 3)]),
]


@pytest.mark.parametrize("f,shapes", SUBLIST_CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_second_derivatives_of_the_einsum_sublist_form(f, shapes):
    rng = np.random.default_rng(10)
    args = [rng.normal(size=s) for s in shapes]
    oracle = _sublist_oracle(f)
    for i in range(len(args)):
        np.testing.assert_allclose(
            hessian(f, i)(*args), autograd.hessian(oracle, i)(*args), atol=1e-12
        )

        if len(args) == 1:

            def outer(x):
                return np.sum(np.cos(grad(f)(x)))

        else:

            def outer(x, y):
                return np.sum(np.cos(grad(f, i)(x, y)))  # noqa: B023 (used at once)

        def outer_oracle(*a, i=i):
            return anp.sum(anp.cos(autograd.grad(oracle, i)(*a)))

        np.testing.assert_allclose(
            grad(outer, i)(*args), autograd.grad(outer_oracle, i)(*args), atol=1e-12
        )
    check_grads(f, tuple(args), order=2, modes=("rev",))


def _sublist_oracle(f):  # (also used for the SVD)
    """f with np bound to autograd.numpy (autograd has the sublist form too)."""
    return types.FunctionType(f.__code__, {**f.__globals__, "np": anp}, f.__name__)


# -- nested unpacking of a computed value (what gradient code writes for a display) ------


def _nested(x):
    pair = ((x * 2, np.sin(x)), x**2)
    (a, b), c = pair
    return np.sum(a * b + c)


def test_nested_unpacking_of_a_computed_value():
    x = np.array([0.3, -0.2, 0.5])

    def oracle(x):
        return anp.sum(x * 2 * anp.sin(x) + x**2)

    np.testing.assert_allclose(grad(_nested)(x), autograd.grad(oracle)(x), rtol=1e-12)
    np.testing.assert_allclose(hessian(_nested)(x), autograd.hessian(oracle)(x), atol=1e-12)
    check_grads(_nested, (x,), order=2)


def _unpacked_matrix(x):
    m = np.reshape(x * x, (2, 2))
    (a, b), (c, d) = m
    return a * d - b * c + np.sin(a)


def test_nested_unpacking_of_a_computed_array_carries_its_gradient():
    """The rows of `(a, b), (c, d) = m` are held in temporaries the compiler names; they
    vary when `m` does (the gradient was silently 0 when they did not)."""
    x = np.array([0.3, 1.2, -0.7, 0.5])
    oracle = _sublist_oracle(_unpacked_matrix)
    np.testing.assert_allclose(grad(_unpacked_matrix)(x), autograd.grad(oracle)(x), rtol=1e-12)
    np.testing.assert_allclose(
        hessian(_unpacked_matrix)(x), autograd.hessian(oracle)(x), atol=1e-12
    )
    check_grads(_unpacked_matrix, (x,), order=2)


def _rows_of_a_scalar(x):
    rows = np.array([[x * x, x, np.sin(x)], [x, 0.5, 0.5], [0.5, 0.5, 0.5], [x**3, x, 0.5]])
    return np.sum(np.min(rows, axis=0) * np.array([0.3, -1.2, 0.7])) + np.sum(rows * rows)


def _through_its_gradient(x):
    return grad(_rows_of_a_scalar)(x) * 0.9


@pytest.mark.parametrize("x", [1.0, -1.0, 0.3])
def test_a_gradient_unpacking_display_rows_is_differentiated_again(x):
    """The gradient of a display of rows unpacks them, `(dx, t6, t7), (t8, _, _) = dy`;
    differentiating that gradient once more must not let a row's temporary take the name
    of one of its own variables (autograd's test_min_3_way_equality crashed so)."""
    oracle = _sublist_oracle(_rows_of_a_scalar)
    expected = 0.9 * autograd.grad(autograd.grad(oracle))(x)
    np.testing.assert_allclose(grad(_through_its_gradient)(x), expected, rtol=1e-12)
    np.testing.assert_allclose(hessian(_rows_of_a_scalar)(x), expected / 0.9, rtol=1e-12)


# -- second derivatives of the SVD (its rule is written out in the factors) ------------


def _svd_all(x):
    u, s, v = np.linalg.svd(x, full_matrices=False)
    weights = np.arange(1, s.shape[-1] + 1)
    return np.sum(np.sin(u)) + np.sum(s**2 * weights) + np.sum(np.cos(v) * v)


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (3, 4), (2, 3, 3), (2, 4, 3)])
def test_second_derivatives_of_the_svd(shape):
    x = np.random.default_rng(11).normal(size=shape)
    oracle = _sublist_oracle(_svd_all)  # the same code over autograd.numpy
    np.testing.assert_allclose(grad(_svd_all)(x), autograd.grad(oracle)(x), atol=1e-12)
    np.testing.assert_allclose(hessian(_svd_all)(x), autograd.hessian(oracle)(x), atol=1e-11)

    def outer(x):
        return np.sum(np.sin(grad(_svd_all)(x)))

    expected = autograd.grad(lambda x: anp.sum(anp.sin(autograd.grad(oracle)(x))))(x)
    np.testing.assert_allclose(grad(outer)(x), expected, atol=1e-11)
    if len(shape) == 2:
        check_grads(_svd_all, (x,), order=2, modes=("rev",), rtol=1e-4)


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (2, 4, 3)])
def test_forward_over_forward_through_the_svd(shape):
    """The SVD's tangent is written in its factors too, so jacfwd(jacfwd(f)) and a jvp of
    a jvp work (they stopped at a runtime helper, svd_jvp)."""
    x = np.random.default_rng(13).normal(size=shape)
    expected = autograd.hessian(_sublist_oracle(_svd_all))(x)
    np.testing.assert_allclose(jacfwd(jacfwd(_svd_all))(x), expected, atol=1e-11)
    v = np.random.default_rng(14).normal(size=shape)
    second = jvp(lambda a: jvp(_svd_all, (a,), (v,))[1], (x,), (v,))[1]
    contracted = np.tensordot(np.tensordot(expected, v, v.ndim), v, v.ndim)
    np.testing.assert_allclose(second, contracted, rtol=1e-10)


_B = np.random.default_rng(15).normal(size=(3, 3))
_V = np.random.default_rng(16).normal(size=(3, 3))


def _einsum_chain(a):
    return np.sum(np.sin(np.einsum("ij,jk->ik", a, _B * a)))


def _einsum_tangent(a):
    return jvp(_einsum_chain, (a,), (_V,))[1]


def test_forward_over_forward_and_reverse_over_forward_through_einsum():
    """einsum_jvp has rules: its tangent is the product rule again (einsum_pairs), its
    adjoint einsum's own gradient in the tangents and einsum_grad_vjp in the operands."""
    a = np.random.default_rng(17).normal(size=(3, 3))
    expected = autograd.hessian(_sublist_oracle(_einsum_chain))(a)
    np.testing.assert_allclose(jacfwd(jacfwd(_einsum_chain))(a), expected, atol=1e-12)
    hv = np.tensordot(expected, _V, 2)
    np.testing.assert_allclose(jvp(_einsum_tangent, (a,), (_V,))[1], np.sum(hv * _V))
    np.testing.assert_allclose(grad(_einsum_tangent)(a), hv, atol=1e-12)


def _singular_values(x):
    return np.sum(np.linalg.svd(x, compute_uv=False) ** 3)


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (3, 4), (2, 4, 3)])
def test_second_derivatives_of_the_singular_values(shape):
    x = np.random.default_rng(12).normal(size=shape)
    oracle = _sublist_oracle(_singular_values)
    np.testing.assert_allclose(
        hessian(_singular_values)(x), autograd.hessian(oracle)(x), atol=1e-11
    )

    def outer(x):
        return np.sum(np.sin(grad(_singular_values)(x)))

    expected = autograd.grad(lambda x: anp.sum(anp.sin(autograd.grad(oracle)(x))))(x)
    np.testing.assert_allclose(grad(outer)(x), expected, atol=1e-11)
