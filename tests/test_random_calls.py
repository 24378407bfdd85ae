"""Random programs made of helper calls and containers, in every mode, against finite differences.

Each drawn module has a few helpers (keyword defaults, tuple results, calls to
each other) and a program that calls them with arrays, floats and a dict of
parameters.  The gradient (reverse mode, through inlining and container
leaves) is checked against finite differences; the same program without its
dict goes through jvp and hessian too.
"""

import numpy as np
from helpers import FEW, write_module
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_containers import assert_tree_gradient

from chainrule import check_grad, grad, hessian, jvp
from chainrule.testing import numerical_jacobian, numerical_jvp

EXPRS = [
    "np.sin({u}) * {v}",
    "np.tanh({u} + {v})",
    "{u} * {u} - 0.5 * {v}",
    "{u} / (1.5 + {v} * {v})",
    "np.exp(-{u} * {u}) + {v}",
]


@st.composite
def modules(draw):
    helpers = []
    for k in range(draw(st.integers(1, 3))):
        e1 = draw(st.sampled_from(EXPRS)).format(u="u", v="v")
        e2 = draw(st.sampled_from(EXPRS)).format(u="t", v="u")
        call_prev = k > 0 and not helpers[k - 1][1] and draw(st.booleans())
        inner = f"h{k - 1}(t, u)" if call_prev else "t"
        pair = draw(st.booleans())
        ret = f"return {inner} * scale, t - u" if pair else f"return {inner} * scale"
        helpers.append(
            (
                f"def h{k}(u, v, scale=1.0):\n    t = {e1}\n    t = {e2}\n    {ret}\n",
                pair,
            )
        )
    lines = []
    defined = ["a", "b", "p['w']"]
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.integers(0, len(helpers) - 1))
        x, y = draw(st.sampled_from(defined)), draw(st.sampled_from(defined))
        scale = draw(st.sampled_from(["", ", scale=0.7", ", 2.0"]))
        call = f"h{k}({x}, {y}{scale})"
        target = f"z{len(lines)}"
        if helpers[k][1]:
            lines.append(f"    {target}, _unused{len(lines)} = {call}")
        else:
            lines.append(f"    {target} = {call}")
        defined.append(target)
    source = (
        "import numpy as np\n\n"
        + "\n\n".join(text for text, _ in helpers)
        + "\n\ndef prog(p, a, b):\n"
        + "\n".join(lines)
        + f"\n    return np.sum(({defined[-1]} + a) * p['v'])\n"
        + "\n\ndef flat(w, v, a, b):\n    return prog({'w': w, 'v': v}, a, b)\n"
    )
    return source


@settings(max_examples=40, deadline=None)
@given(modules(), st.integers(0, 2**16))
def test_random_helper_programs(module_dir, source, seed):
    prog = write_module(module_dir, source, "prog")
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-1, 1, size=3), rng.uniform(-1, 1, size=3)
    p = {"w": rng.uniform(-1, 1, size=3), "v": rng.uniform(-1, 1, size=3)}
    # nested squares can reach 1e6 and more, where central differences lose the digits
    # the tolerances ask for (chainrule agreed with autograd exactly on such a case)
    assume(abs(prog(p, a, b)) < 1e3)
    assert_tree_gradient(prog, (p, a, b), rtol=1e-4, atol=1e-6)
    assert check_grad(prog, p, a, b, argnums=(1, 2), rtol=1e-4, atol=1e-6) < 1e-3


@FEW
@given(modules(), st.integers(0, 2**16))
def test_random_helper_programs_forward_and_second_order(module_dir, source, seed):
    flat = write_module(module_dir, source, "flat")
    rng = np.random.default_rng(seed)
    w, v, a, b = (rng.uniform(-1, 1, size=3) for _ in range(4))
    t = rng.normal(size=3)
    out, tangent = jvp(flat, (w, v, a, b), (None, None, t, None))
    fd = numerical_jvp(flat, (w, v, a, b), (None, None, t, None))
    np.testing.assert_allclose(out, flat(w, v, a, b))
    np.testing.assert_allclose(tangent, fd, rtol=1e-4, atol=1e-6)
    H = hessian(flat, argnums=2)(w, v, a, b)
    fd_h = numerical_jacobian(grad(flat, argnums=2), (w, v, a, b), 2)
    np.testing.assert_allclose(H, fd_h, rtol=1e-4, atol=1e-5)
