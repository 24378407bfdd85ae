"""Shared test helpers.  Append new helpers; do not rewrite the file."""

import os
import shutil
import tempfile

import numpy as np
import pytest

import chainrule

# -- vjp against central finite differences (rules tests for array-valued primitives) ----


def fd_vjp(f, args, w, argnum):
    """Central finite differences of sum(f(*args) * w) with respect to args[argnum]."""
    x = np.array(args[argnum], dtype=float)
    grad = np.zeros(x.shape)
    for j in range(x.size):
        h = 1e-6 * max(1.0, abs(float(x.reshape(-1)[j])))
        values = []
        for step in (h, -h):
            moved = x.copy()
            moved.reshape(-1)[j] += step
            call = list(args)
            call[argnum] = float(moved) if isinstance(args[argnum], float) else moved
            values.append(float(np.sum(np.asarray(f(*call)) * w)))
        grad.reshape(-1)[j] = (values[0] - values[1]) / (2 * h)
    return grad


def check_vjp(f, *args, rtol=1e-5, atol=1e-6, seed=1234):
    """chainrule.vjp(f, *args) against finite differences, for a random cotangent.

    Every argument of `f` is differentiated.  The cotangent is a fixed random
    array shaped like the output, so each output element counts differently
    and a gradient that is wrong for one element cannot hide in a sum.
    Returns the gradients.
    """
    out, backward = chainrule.vjp(f, *args)
    expected = f(*args)
    np.testing.assert_allclose(out, expected, err_msg=f"value of {f.__name__}")
    w = np.random.default_rng(seed).normal(size=np.shape(expected))
    grads = backward(w)
    assert len(grads) == len(args)
    for i, g in enumerate(grads):
        assert np.shape(g) == np.shape(args[i]), (f.__name__, i, np.shape(g))
        assert np.all(np.isfinite(g)), (f.__name__, i, g)
        np.testing.assert_allclose(
            g,
            fd_vjp(f, args, w, i),
            rtol=rtol,
            atol=atol,
            err_msg=f"gradient of argument {i} of {f.__name__}",
        )
    return grads


@pytest.fixture(scope="session")
def vjp_check():
    """The `check_vjp` helper as a fixture (session-scoped, so hypothesis accepts it)."""
    return check_vjp


# -- the persistent cache: never the real one ---------------------------------------------
# Every test, and every subprocess a test starts (they inherit the environment),
# uses a fresh cache directory of this session, so the suite never writes into
# the user's home and never reads entries a previous run left.  Tests of the
# cache itself point CHAINRULE_CACHE_DIR at their own tmp_path.

_SESSION_CACHE = tempfile.mkdtemp(prefix="chainrule-test-cache-")
os.environ["CHAINRULE_CACHE_DIR"] = _SESSION_CACHE
os.environ.pop("CHAINRULE_CACHE", None)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SESSION_CACHE, ignore_errors=True)


# Subprocesses (the CLI, the docs, exported modules) import the same chainrule as
# this process, even when they run in another directory and PYTHONPATH was relative.
_SRC = os.path.dirname(os.path.dirname(os.path.abspath(chainrule.__file__)))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [_SRC, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
)
# -- jvp against central finite differences (forward-mode tests) ---------------------------


def fd_jvp(f, args, tangents, h=1e-6):
    """Central finite difference of f along `tangents` (None: that argument stays put)."""

    def moved(sign):
        out = []
        for a, t in zip(args, tangents):
            if t is None:
                out.append(a)
            elif isinstance(a, float):
                out.append(a + sign * h * float(t))
            else:
                out.append(np.asarray(a, dtype=float) + sign * h * np.asarray(t))
        return out

    plus = np.asarray(f(*moved(1.0)), dtype=float)
    minus = np.asarray(f(*moved(-1.0)), dtype=float)
    return (plus - minus) / (2 * h)


def random_tangents(args, seed=0, which=None):
    """A random tangent shaped like each argument (None for those not in `which`)."""
    rng = np.random.default_rng(seed)
    out = []
    for i, a in enumerate(args):
        if which is not None and i not in which:
            out.append(None)
        elif isinstance(a, float):
            out.append(float(rng.normal()))
        else:
            out.append(rng.normal(size=np.shape(a)))
    return out


def check_jvp(f, *args, which=None, rtol=1e-5, atol=1e-6, seed=0):
    """chainrule.jvp(f, args, tangents) against finite differences along random tangents.

    `which` lists the arguments that get a tangent (default: all), so that
    the code paths for inputs without a tangent are checked too.  Returns the
    output tangent.
    """
    tangents = random_tangents(args, seed, which)
    out, t = chainrule.jvp(f, args, tangents)
    expected = f(*args)
    np.testing.assert_allclose(
        np.asarray(out, dtype=float), np.asarray(expected, dtype=float), err_msg="value"
    )
    assert np.shape(t) == np.shape(expected), (np.shape(t), np.shape(expected))
    np.testing.assert_allclose(
        np.asarray(t, dtype=float),
        fd_jvp(f, args, tangents),
        rtol=rtol,
        atol=atol,
        err_msg=f"tangent of {getattr(f, '__name__', f)} along arguments {which or 'all'}",
    )
    return t


# -- golden copies of the generated code (tools/golden.py) -----------------------------------


def pytest_configure(config):
    """While the generated code is being recorded, hypothesis draws the same examples
    every run, so that two recordings of the suite can be compared."""
    if os.environ.get("CHAINRULE_RECORD"):
        from hypothesis import settings

        settings.register_profile("chainrule-golden", derandomize=True, database=None)
        settings.load_profile("chainrule-golden")
