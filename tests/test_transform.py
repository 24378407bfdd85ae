"""The transformation itself: SSA, unpacking, branches, accumulation, generated code."""

import ast
import importlib.util
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import write_module
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule
from chainrule import check_grad, grad
from chainrule.normalize import normalize
from chainrule.parse import parse_function
from chainrule.testing import numerical_jvp

# -- reassignment, unpacking, augmented and chained assignment -----------------------


def reassigns(x, y):
    x = x * 2.0
    x = np.sin(x) + y
    y = x * y
    x = x * x + y
    return x @ y


def unpacks_and_swaps(a, b):
    a, b = b, a * 2.0
    c, d = a + b, a * b
    e = f = c * d
    return e @ f


def augmented(x, w):
    h = x * w
    h += x
    h *= w
    h -= 1.0
    h /= 2.0
    h **= 2
    return h @ w


def branches(x, t):
    if t > 0.5:
        y = x * t
    elif t > -0.5:
        y = np.tanh(x)
        y = y * y
    else:
        y = -x
    z = y * 3.0 if t > 0 else y - t
    return z @ x


@pytest.mark.parametrize("f", [reassigns, unpacks_and_swaps, augmented])
def test_straight_line_forms(f):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=4), rng.normal(size=4)
    assert check_grad(f, a, b, argnums=(0, 1)) < 1e-5


@pytest.mark.parametrize("t", [-2.0, -0.2, 0.2, 2.0])
def test_branches_both_ways(t):
    x = np.random.default_rng(1).normal(size=3)
    assert check_grad(branches, x, t, argnums=(0, 1)) < 1e-5


def unpack_rows(m):
    r0, r1 = m
    return r0 @ r1 + r0 @ r0


def test_unpacking_an_array_into_rows():
    m = np.random.default_rng(3).normal(size=(2, 3))
    assert check_grad(unpack_rows, m) < 1e-6


# -- the copy gate: accumulation never mutates a shared gradient ---------------------


def shared_gradient(x, y):
    u = x * 3.0
    z = x + y  # the add gate hands the same dz to dx and dy
    return (z * u) @ z


def test_accumulation_does_not_corrupt_aliased_gradients():
    """If dx were accumulated in place (dx += ...), dy, an alias of dz, would change too."""
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=3), rng.normal(size=3)
    assert check_grad(shared_gradient, x, y, argnums=(0, 1)) < 1e-5
    tree = ast.parse(grad(shared_gradient, argnums=(0, 1)).source)
    assert not any(isinstance(n, ast.AugAssign) for n in ast.walk(tree))


def test_copy_gate_first_contribution_assigns_later_ones_add():
    source = grad(shared_gradient, argnums=(0, 1)).source
    lines = [ln.strip() for ln in source.splitlines()]
    first = next(i for i, ln in enumerate(lines) if ln.startswith("dx = "))
    assert "dx +" not in lines[first]
    assert any(ln.startswith("dx = dx + ") for ln in lines[first + 1 :])
    assert "copy gate" in source


# -- inputs are never modified ---------------------------------------------------


def test_inputs_are_never_mutated():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=3), rng.normal(size=3)
    x0, y0 = x.copy(), y.copy()
    grad(augmented, argnums=(0, 1))(x, y)
    grad(shared_gradient, argnums=(0, 1))(x, y)
    out, pullback = chainrule.vjp(augmented, x, y)
    ct = np.array(out, copy=True)
    ct0 = np.array(ct, copy=True)
    pullback(ct)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(ct, ct0)


def test_returned_gradients_are_writable_and_distinct():
    def f(a, b):
        return (a + b) @ np.ones(3)

    da, db = grad(f, argnums=(0, 1))(np.ones(3), np.ones(3))
    assert da is not db
    da *= 2.0  # a user's in-place SGD step must work and not touch db
    np.testing.assert_allclose(db, np.ones(3))


# -- what the generated code contains -------------------------------------------------


DATA = np.linspace(-1.0, 1.0, 5)


def model(w, data, labels):
    scores = np.tanh(data * w)
    mask = data > 0
    cleaned = np.where(mask, data, 0.0)
    err = scores - labels
    return err @ err + cleaned @ cleaned


def test_activity_no_gradients_for_data():
    source = grad(model).source
    assert "ddata" not in source and "dlabels" not in source and "dcleaned" not in source
    assert "zeros" not in source  # no zero-filled buffers on straight-line code
    assert check_grad(model, 0.7, DATA, DATA * 0.5) < 1e-6


def test_no_dead_statements_in_generated_code():
    def f(x):
        unused = np.exp(x)  # noqa: F841  (dead in the user's code too)
        y = x * 2.0
        return y @ y

    source = grad(f).source
    assert "unused" not in source
    tree = ast.parse(source)
    fn = tree.body[-1]
    assigned = {
        n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    read = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    assert assigned <= read | {"dx"}


def test_gradient_names_avoid_user_names():
    def f(x, dx):
        y = x * dx
        return y * x

    source = grad(f).source
    assert "d_x = " in source  # dx is the user's own name
    assert grad(f)(2.0, 3.0) == pytest.approx(12.0)


def test_generated_source_is_commented_like_the_textbook():
    def f(x, y):
        z = x * y
        h = np.maximum(z, 0.0)
        s = h + x
        return s @ s

    source = grad(f, argnums=(0, 1)).source
    for words in ["mul gate", "max gate", "add gate", "copy gate", "# z = x * y"]:
        assert words in source, words


def test_source_reparses_and_stays_in_the_subset(tmp_path):
    g = grad(branches, argnums=(0, 1))
    source = g.source
    ast.parse(source)
    path = tmp_path / "saved_gradient.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("saved_gradient", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generated = module.grad_branches
    x = np.array([0.3, -0.2, 1.1])
    np.testing.assert_allclose(generated(x, 0.7)[0], g(x, 0.7)[0])
    # a single-gradient function is itself inside the subset the compiler accepts
    single = grad(branches, argnums=0).source
    path = tmp_path / "saved_single.py"
    path.write_text(single)
    spec = importlib.util.spec_from_file_location("saved_single", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parsed = parse_function(module.grad_branches)
    normalize(parsed, set(parsed.params))


def test_unparse_fallback_renders_equivalent_code(monkeypatch):
    def f(x):
        y = np.tanh(x) * x if x > 0 else -x
        return y * y

    monkeypatch.setenv("CHAINRULE_RENDERER", "unparse")
    via_unparse = grad(f)
    assert via_unparse(0.7) == pytest.approx(check_value(f, 0.7))
    assert via_unparse(-0.7) == pytest.approx(check_value(f, -0.7))
    ast.parse(via_unparse.source)
    monkeypatch.delenv("CHAINRULE_RENDERER")
    assert grad(f)(0.7) == pytest.approx(via_unparse(0.7))


def check_value(f, x, h=1e-6):
    return numerical_jvp(f, (x,), (1.0,), eps=h)


def test_astor_warnings_never_reach_users(tmp_path):
    code = textwrap.dedent(
        """
        import warnings
        warnings.simplefilter("error")
        import numpy as np
        import chainrule
        from chainrule.codegen import renderer
        assert renderer() == "astor"
        import importlib.util, os, sys
        p = os.path.join(sys.argv[1], "m.py")
        with open(p, "w") as fh:
            fh.write("import numpy as np\\ndef f(x):\\n    return np.sin(x) * x\\n")
        spec = importlib.util.spec_from_file_location("m", p)
        m = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(m)
        print(chainrule.grad(m.f)(0.5))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""


# -- hypothesis: random straight-line programs --------------------------------------

UNARY = ["np.sin({})", "np.tanh({})", "{} * {}", "np.exp(-{} * {})", "-{}", "{} / (1.5 + {} * {})"]
BINARY = ["{} + {}", "{} - {}", "{} * {}", "{} * 0.5 + {}"]


@st.composite
def programs(draw):
    pool = ["a", "b", "c"]  # a, b: arrays of shape (3,), c: a float
    names = ["p", "q", "r", "a", "b"]  # reassigning a and b exercises SSA renaming
    lines = []
    n = draw(st.integers(1, 8))
    defined = list(pool)
    for _ in range(n):
        target = draw(st.sampled_from(names))
        if draw(st.booleans()):
            x = draw(st.sampled_from(defined))
            template = draw(st.sampled_from(UNARY))
            expr = template.format(*([x] * template.count("{}")))
        else:
            x, y = draw(st.sampled_from(defined)), draw(st.sampled_from(defined))
            expr = draw(st.sampled_from(BINARY)).format(x, y)
        if draw(st.integers(0, 5)) == 0:
            expr = f"({expr}) if c > 0 else {draw(st.sampled_from(defined))}"
        lines.append(f"    {target} = {expr}")
        if target not in defined:
            defined.append(target)
    last = draw(st.sampled_from(defined))
    body = "\n".join(lines)
    header = "import numpy as np\n\nW = np.array([0.3, -1.2, 0.7])\nONES = np.ones(3)\n\n\n"
    return f"{header}def prog(a, b, c):\n{body}\n    return (({last} + a) * W) @ ONES\n"


@settings(max_examples=60, deadline=None)
@given(programs(), st.floats(0.1, 1.5), st.booleans(), st.integers(0, 2**16))
def test_random_programs_match_finite_differences(module_dir, source, c, negative, seed):
    c = -c if negative else c  # away from the branch point c == 0
    prog = write_module(module_dir, source, "prog")
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-1, 1, size=3), rng.uniform(-1, 1, size=3)
    assert check_grad(prog, a, b, c, argnums=(0, 1, 2), rtol=1e-4, atol=1e-6) < 1e-3


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from([((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 2)), ((1,), (4,))]),
    st.integers(0, 2**16),
)
def test_broadcasting_gradients_are_summed_to_each_shape(shapes, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shapes[0])
    y = rng.normal(size=shapes[1])
    weights = rng.normal(size=np.broadcast_shapes(shapes[0], shapes[1]))

    def f(x, y):
        z = x * y + x - y / (2.0 + y * y)
        return (z * weights).ravel() @ np.ones(weights.size)

    x = np.asarray(x, dtype=float)
    dx, dy = grad(f, argnums=(0, 1))(x, y)
    assert np.shape(dx) == np.shape(x) and np.shape(dy) == np.shape(y)
    assert check_grad(f, x, y, argnums=(0, 1)) < 1e-5


def test_tracebacks_point_at_the_generated_line():
    import linecache
    import traceback

    def vector_valued(x):
        y = np.tanh(x)
        return y * 2.0

    g = grad(vector_valued)
    with pytest.raises(ValueError) as info:
        g(np.ones(3))
    frames = [
        f for f in traceback.extract_tb(info.value.__traceback__) if "chainrule grad_" in f.filename
    ]
    assert frames, "the generated function should appear in the traceback"
    line = linecache.getline(frames[-1].filename, frames[-1].lineno)
    assert "seed_gradient(" in line
    assert line.strip() in g.source


def test_numpy_is_recognised_however_it_was_imported(module_dir):
    """Rules are looked up by the called object, never by the text `np`."""
    f = write_module(
        module_dir,
        """
        import numpy
        import numpy as xp
        from numpy import exp as e, tanh
        from numpy.linalg import norm


        def f(x):
            a = numpy.sin(x) + xp.cos(x)
            b = e(a) * tanh(x)
            return norm(b) + xp.sum(a)
        """,
        "f",
    )
    x = np.array([0.3, -0.4, 1.2])
    assert check_grad(f, x) < 1e-6
    source = grad(f).source
    assert "numpy.sin" in source and "e(a)" in source  # the user's spelling is kept


def test_a_local_name_np_does_not_confuse_the_compiler(module_dir):
    f = write_module(
        module_dir,
        """
        import numpy


        def f(x, np):
            return numpy.sum(x * np)
        """,
        "f",
    )
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(grad(f)(x, 3.0), [3.0, 3.0])
