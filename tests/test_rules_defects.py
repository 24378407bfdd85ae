"""Regression tests for rule-level defects found by independent testing (issue 15): each
failed before its fix.  Derivatives are checked against finite differences and autograd."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from chainrule import CompileError, grad, hessian, jvp
from chainrule.testing import check_grads

autograd = pytest.importorskip("autograd")
anp = pytest.importorskip("autograd.numpy")


def std_all(x):
    return np.std(x)


def std_rows(x):
    return np.sum(np.std(x, axis=0))


def test_std_of_one_element_has_gradient_zero():
    """d std = (x - mean) / (n std) is 0/0 for one element; the gradient is 0, not nan."""
    np.testing.assert_array_equal(grad(std_all)(np.array([0.3])), [0.0])
    np.testing.assert_array_equal(grad(std_rows)(np.ones((1, 3))), np.zeros((1, 3)))
    assert jvp(std_all, (np.array([0.3]),), (np.array([1.0]),))[1] == 0.0
    check_grads(std_all, (np.array([0.3, -1.0, 2.0]),), order=2)


def slogdet_unpacked(k):
    sign, logdet = np.linalg.slogdet(k)
    return logdet


K = np.array([[2.0, 0.3], [0.3, 1.5]])


def test_slogdet_unpacked_in_every_mode():
    expected = autograd.grad(lambda k: anp.linalg.slogdet(k)[1])(K)
    np.testing.assert_allclose(grad(slogdet_unpacked)(K), expected, rtol=1e-12)
    check_grads(slogdet_unpacked, (K,), order=2)


def slogdet_fields(k):
    return np.linalg.slogdet(k).logabsdet * np.linalg.slogdet(k).sign


def factor_fields(a):
    qr = np.linalg.qr(a)
    usv = np.linalg.svd(a, full_matrices=False)
    return qr.Q * np.sum(qr.R) + usv.U @ np.diag(usv.S) @ usv.Vh


def eigh_fields(a):
    result = np.linalg.eigh(a)
    return result.eigenvalues + result.eigenvectors[0] ** 2


def unknown_field(k):
    return np.linalg.slogdet(k).foo


NUMPY2 = int(np.__version__.split(".")[0]) >= 2


@pytest.mark.skipif(not NUMPY2, reason="named results are NumPy 2")
def test_named_result_fields_are_read_as_their_items():
    """slogdet(k).logabsdet (NumPy 2's named results) was refused as a "method"."""
    expected = autograd.grad(lambda k: anp.linalg.slogdet(k)[1])(K)
    np.testing.assert_allclose(grad(slogdet_fields)(K), expected, rtol=1e-12)
    check_grads(slogdet_fields, (K,), order=2)
    a = np.array([[2.0, 0.3, -0.4], [0.1, 1.5, 0.2], [0.5, -0.3, 1.0]])
    check_grads(factor_fields, (a,), rtol=1e-4)
    check_grads(eigh_fields, (a + a.T,), rtol=1e-4)


def test_an_unknown_attribute_is_named_as_an_attribute():
    with pytest.raises(CompileError, match=r"the attribute \.foo .*sign, logdet = np"):
        grad(lambda k: np.sum(unknown_field(k)))(K)


def row_norms(x):
    return np.linalg.norm(x, None, 1)


def test_norm_positional_axis_binds_through_the_signature():
    """np.linalg.norm(X, None, 1) is a vector of row norms: grad refuses it (no silent sum)."""
    with pytest.raises(ValueError, match="scalar output"):
        grad(row_norms)(np.ones((3, 4)))
    check_grads(row_norms, (np.arange(12.0).reshape(3, 4) - 5.0,))


def norm_of_list(x):
    return np.linalg.norm([x, x + 2])


def test_norm_of_a_list_of_arrays():
    x = np.array([1.0, -2.0])
    expected = autograd.grad(lambda v: anp.linalg.norm(anp.array([v, v + 2])))(x)
    np.testing.assert_allclose(grad(norm_of_list)(x), expected, rtol=1e-12)
    check_grads(norm_of_list, (x,), order=2)


C3 = np.array([0.5, -1.0, 2.0])


def r_join(x):
    return np.sum(np.sin(np.r_[x, x]) * np.arange(6.0))


def r_mixed(x):
    return np.sum(np.r_[x, C3, 1:4, 2.0, x[0]] ** 3)


def c_join(x):
    return np.sum(np.c_[x, C3, x] ** 2 * np.arange(9.0).reshape(3, 3))


def c_matrix(X):
    return np.sum(np.c_[X, 2.0 * X] ** 3)


ORACLES = {
    r_join: lambda x: anp.sum(anp.sin(anp.concatenate([x, x])) * anp.arange(6.0)),
    r_mixed: lambda x: anp.sum(anp.concatenate([x, C3, anp.arange(1, 4), [2.0], x[:1]]) ** 3),
    c_join: lambda x: anp.sum(anp.stack([x, C3, x], axis=1) ** 2 * anp.arange(9.0).reshape(3, 3)),
    c_matrix: lambda X: anp.sum(anp.concatenate([X, 2.0 * X], axis=1) ** 3),
}


@pytest.mark.parametrize("f", list(ORACLES), ids=lambda f: f.__name__)
def test_r_and_c_join_like_concatenate(f):
    """np.r_[x, x] once gave a zero gradient (and was then refused): now it is written
    as the np.concatenate it means, in both modes and to second order."""
    x = np.random.default_rng(4).normal(size=(2, 3) if f is c_matrix else 3)
    assert f(x) == pytest.approx(ORACLES[f](x))
    np.testing.assert_allclose(grad(f)(x), autograd.grad(ORACLES[f])(x), rtol=1e-12)
    check_grads(f, (x,), order=2)
    assert "concatenate" in chainrule.source(f)


def test_r_and_c_refuse_what_they_cannot_join():
    def directive(x):
        return np.sum(np.r_["0,2", x, x])

    def complex_step(x):
        return np.sum(np.r_[x, 0:1:5j])

    for f, what in ((directive, "string directive"), (complex_step, "np.linspace")):
        with pytest.raises(CompileError, match=what):
            grad(f)(np.ones(2))


def det_batch(a):
    return np.sum(np.linalg.det(a) ** 2)


def test_det_batches_and_hessian():
    a = np.random.default_rng(3).normal(size=(2, 3, 3)) + 2 * np.eye(3)
    check_grads(det_batch, (a,), order=2, rtol=1e-4)
    h = hessian(lambda m: np.linalg.det(m))(a[0])
    expected = autograd.hessian(lambda m: anp.linalg.det(m))(a[0])
    np.testing.assert_allclose(h, expected, rtol=1e-8, atol=1e-10)
    assert chainrule.grad(lambda m: np.linalg.det(m))(np.zeros((2, 2))).tolist() == [
        [0.0, 0.0],
        [0.0, 0.0],
    ]


SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])


def test_det_second_derivatives_at_a_singular_matrix():
    """The cofactor matrix's own derivative falls back to the minors' cofactors where
    det(A) = 0 (no LinAlgError from inv)."""
    check_grads(det_only, (SINGULAR,), order=2, rtol=1e-4, atol=1e-5)
    assert hessian(det_only)(SINGULAR).shape == (3, 3, 3, 3)


def det_only(a):
    return np.linalg.det(a)


def scaled_rows(a):
    return a * 2.0


def test_a_template_assigning_two_names_of_which_one_is_unread():
    """`m, n = np.shape(a)` with only n read made the pruning of unread temporaries loop
    forever (it collected unread names but removed whole statements)."""

    @chainrule.adjoint(scaled_rows)
    def scaled_rows_adjoint(y, a):
        "rows doubled"
        m, n = np.shape(a)
        da = dy * 2.0 * (n > 0)  # noqa: F841, F821  (template notation)

    def f(a):
        return np.sum(scaled_rows(a) ** 2)

    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(grad(f)(x), 8.0 * x)
