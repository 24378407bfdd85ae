"""Container arguments (dicts, tuples, lists; nested) and has_aux, against finite differences."""

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule
from chainrule import CompileError, grad, value_and_grad, vjp
from chainrule.testing import numerical_vjp

RNG = np.random.default_rng(3)


def leaves_with_paths(tree, path=()):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from leaves_with_paths(v, (*path, k))
    elif isinstance(tree, (tuple, list)):
        for i, v in enumerate(tree):
            yield from leaves_with_paths(v, (*path, i))
    else:
        yield path, tree


def replace_at(tree, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        return {k: replace_at(v, rest, value) if k == head else v for k, v in tree.items()}
    items = [replace_at(v, rest, value) if i == head else v for i, v in enumerate(tree)]
    return tuple(items) if isinstance(tree, tuple) else items


def get_at(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def tree_fd(f, args, argnum, h=1e-6):
    """Central finite differences of f with respect to every leaf of args[argnum]."""
    tree = args[argnum]
    out = []
    for path, leaf in leaves_with_paths(tree):

        def at(value, path=path):
            call = list(args)
            call[argnum] = replace_at(tree, path, value)
            return f(*call)

        out.append((path, np.asarray(numerical_vjp(at, (leaf,), 1.0, 0, eps=h))))
    return out


def assert_tree_gradient(f, args, argnum=0, rtol=1e-5, atol=1e-6):
    g = grad(f, argnums=argnum)(*args)
    tree = args[argnum]
    assert type(g) is type(tree)
    seen = []
    for path, expected in tree_fd(f, args, argnum):
        got = get_at(g, path)
        leaf = get_at(tree, path)
        assert np.shape(got) == np.shape(leaf), path
        assert type(got) is type(leaf) or isinstance(leaf, np.ndarray), (path, type(got))
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=str(path))
        if isinstance(got, np.ndarray):
            assert not any(got is other for other in seen), f"leaf {path} shares an array"
            seen.append(got)
    return g


# -- an MLP with a dict of parameters and helpers --------------------------------------------


def dense(params, name, x):
    return x @ params["W" + name] + params["b" + name]


def mlp_loss(params, x, y):
    h = np.tanh(dense(params, "1", x))
    logits = dense(params, "2", h)
    return np.mean((logits - y) ** 2) + 1e-3 * np.sum(params["W1"] ** 2)


def make_params(sizes=(3, 5, 2)):
    return {
        "W1": RNG.normal(size=sizes[:2]),
        "b1": RNG.normal(size=sizes[1]),
        "W2": RNG.normal(size=sizes[1:]),
        "b2": RNG.normal(size=sizes[2]),
    }


def test_dict_of_parameters_through_helpers():
    params = make_params()
    x, y = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 2))
    g = assert_tree_gradient(mlp_loss, (params, x, y))
    assert list(g) == list(params)
    g = grad(mlp_loss)
    g(params, x, y)  # the structure of params is learnt at the first call
    source = g.source
    assert "params_W1 = params['W1']" in source
    assert "'W1': dparams_W1" in source


def test_unused_leaves_get_zero_gradients_of_their_shape():
    def f(p):
        return np.sum(p["used"] ** 2)

    p = {"used": np.ones(3), "unused": np.ones((2, 2)), "scalar": 2.0}
    g = grad(f)(p)
    np.testing.assert_array_equal(g["unused"], np.zeros((2, 2)))
    assert g["scalar"] == 0.0 and type(g["scalar"]) is float
    np.testing.assert_allclose(g["used"], 2 * np.ones(3))


# -- tuples and lists: indexing, unpacking, len, loops ------------------------------------------


def layers_loss(layers, x):
    h = x
    for W, b in layers:
        h = np.tanh(h @ W + b)
    first_W = layers[0][0]
    last_b = layers[-1][1]
    return np.sum(h**2) + np.sum(first_W) * len(layers) + np.sum(last_b * last_b)


def test_list_of_tuples_iterated_indexed_and_counted():
    layers = [(RNG.normal(size=(3, 3)), RNG.normal(size=3)) for _ in range(3)]
    x = RNG.normal(size=(2, 3))
    assert_tree_gradient(layers_loss, (layers, x))
    # a different structure compiles again
    assert_tree_gradient(layers_loss, (layers[:2], x))


def dict_loops(p, x):
    total = 0.0
    for name in p:
        total = total + np.sum(p[name] * x)
    for name, value in p.items():
        total = total + np.sum(np.sin(value)) * len(name)
    for value in p.values():
        total = total + np.sum(value**2)
    for i, value in enumerate(p.values()):
        total = total + i * np.sum(value)
    return total


def test_loops_over_dicts_are_unrolled():
    p = {"a": RNG.normal(size=3), "bb": RNG.normal(size=3)}
    assert_tree_gradient(dict_loops, (p, RNG.normal(size=3)))


def zip_and_nested(p, q):
    total = 0.0
    for (w, s), v in zip(p["pairs"], q):
        total = total + np.sum(w * v) * s
    return total + p["scale"] * np.sum(p["pairs"][1][0])


def test_nested_structures_with_float_leaves_and_zip():
    p = {
        "pairs": [(RNG.normal(size=2), 0.5), (RNG.normal(size=2), -1.5)],
        "scale": 2.0,
    }
    q = (RNG.normal(size=2), RNG.normal(size=2))
    g = assert_tree_gradient(zip_and_nested, (p, q), argnum=0)
    assert type(g["pairs"][0][1]) is float
    assert_tree_gradient(zip_and_nested, (p, q), argnum=1)


def test_containers_and_arrays_together_with_argnums_tuple():
    params = make_params()
    x, y = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 2))
    gp, gx = grad(mlp_loss, argnums=(0, 1))(params, x, y)
    assert isinstance(gp, dict) and gx.shape == x.shape
    np.testing.assert_allclose(gp["W2"], grad(mlp_loss)(params, x, y)["W2"])


def test_integer_leaves_are_promoted():
    def f(p):
        return np.sum(p[0] * p[1])

    g = grad(f)((np.array([1, 2]), 3))
    np.testing.assert_allclose(g[0], [3.0, 3.0])
    assert g[1] == 3.0 and type(g[1]) is float


# -- tuples and dicts built inside the function ---------------------------------------------------


def pack(a, b):
    return {"sum": a + b, "pair": (a, b * 2.0)}


def builds_containers(x, y):
    d = pack(x, y)
    s = d["sum"]
    a, b2 = d["pair"]
    t = (s, a * b2)
    u = {"first": t[0], "second": t[-1]}
    return np.sum(u["first"] * u["second"]) + len(t)


def test_tuples_and_dicts_built_inside_the_function():
    x, y = RNG.normal(size=3), RNG.normal(size=3)
    assert_tree_gradient(builds_containers, (x, y), argnum=0)
    assert_tree_gradient(builds_containers, (x, y), argnum=1)


# -- has_aux -----------------------------------------------------------------------------------


def loss_with_aux(params, x, y):
    h = np.tanh(dense(params, "1", x))
    logits = dense(params, "2", h)
    loss = np.mean((logits - y) ** 2)
    return loss, {"logits": logits, "hidden_norm": np.sum(h * h)}


def test_has_aux_returns_the_aux_untouched():
    params = make_params()
    x, y = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 2))
    g, aux = grad(loss_with_aux, has_aux=True)(params, x, y)
    expected_loss, expected_aux = loss_with_aux(params, x, y)
    np.testing.assert_allclose(aux["logits"], expected_aux["logits"])
    np.testing.assert_allclose(aux["hidden_norm"], expected_aux["hidden_norm"])
    assert_tree_gradient(lambda p, a, b: loss_with_aux(p, a, b)[0], (params, x, y))
    fd = grad(lambda p, a, b: loss_with_aux(p, a, b)[0])(params, x, y)
    for k in params:
        np.testing.assert_allclose(g[k], fd[k], rtol=1e-12)
    (value, aux2), g2 = value_and_grad(loss_with_aux, has_aux=True)(params, x, y)
    np.testing.assert_allclose(value, expected_loss)
    np.testing.assert_allclose(aux2["logits"], expected_aux["logits"])
    for k in params:
        np.testing.assert_allclose(g2[k], g[k], rtol=1e-12)


def aux_from_a_loop(x):
    trace = []
    h = x
    for _ in range(3):
        h = np.sin(h) * 1.5
        trace.append(np.sum(h))
    return np.sum(h * h), trace


def test_has_aux_with_loops():
    x = RNG.normal(size=3)
    g, trace = grad(aux_from_a_loop, has_aux=True)(x)
    np.testing.assert_allclose(trace, aux_from_a_loop(x)[1])
    assert_tree_gradient(lambda p: aux_from_a_loop(p[0])[0], ((x,),))
    np.testing.assert_allclose(g, grad(lambda v: aux_from_a_loop(v)[0])(x), rtol=1e-12)


# -- refusals ---------------------------------------------------------------------------------


def computed_key(p, i):
    return np.sum(p[i])


def container_in_branch(x):
    if np.sum(x) > 0:
        pair = (x, x * 2.0)
    else:
        pair = (x * 3.0, x)
    return np.sum(pair[0])


def returns_pair(x):
    return np.sum(x), x


def test_refusals_are_compile_errors_with_advice():
    with pytest.raises(CompileError, match="needs a key known when the code is compiled"):
        grad(computed_key)({"a": np.ones(2), "b": np.ones(2)}, "b")
    # a run-time int index into a tuple of same-shaped arrays is supported (np.stack)
    picked = grad(computed_key)((np.ones(2), np.ones(2)), 1)
    np.testing.assert_array_equal(picked[0], np.zeros(2))
    np.testing.assert_array_equal(picked[1], np.ones(2))
    with pytest.raises(CompileError, match="assigned in one branch"):
        grad(container_in_branch)(np.ones(2))
    with pytest.raises(CompileError, match="has_aux=True"):
        grad(returns_pair)(np.ones(2))
    with pytest.raises(CompileError, match="must return a pair"):
        grad(lambda x: np.sum(x), has_aux=True)(np.ones(2))
    with pytest.raises(TypeError, match="keys are strings or ints"):
        grad(lambda p: np.sum(p[(1, 2)]))({(1, 2): np.ones(2)})
    with pytest.raises(CompileError, match="has no key 'W3'"):
        grad(lambda p: np.sum(p["W3"]))({"W1": np.ones(2)})


# -- hypothesis: shapes and values of a nested structure -----------------------------------------


@settings(max_examples=20, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.float64, (n, 2), elements=st.floats(-2, 2)),
            hnp.arrays(np.float64, (2,), elements=st.floats(-2, 2)),
            st.floats(-2, 2),
        )
    )
)
def test_nested_structure_random_values(parts):
    W, b, s = parts
    params = {"layer": (W, b), "scale": s}

    def f(p):
        W, b = p["layer"]
        return np.sum(np.tanh(W @ b) * p["scale"]) + p["scale"] ** 2

    assert_tree_gradient(f, (params,), rtol=1e-4, atol=1e-5)


def test_vjp_with_container_arguments():
    def f(p, x):
        W, b = p
        return np.tanh(x @ W + b)

    p = (RNG.normal(size=(3, 2)), RNG.normal(size=2))
    x = RNG.normal(size=(4, 3))
    out, back = vjp(f, p, x)
    np.testing.assert_allclose(out, f(p, x))
    ct = RNG.normal(size=out.shape)
    gp, gx = back(ct)
    assert type(gp) is tuple

    def weighted(p, x):
        return np.sum(f(p, x) * ct)

    assert_tree_gradient(weighted, (p, x))
    expected = grad(weighted)(p, x)
    np.testing.assert_allclose(gp[0], expected[0], rtol=1e-12)
    np.testing.assert_allclose(gp[1], expected[1], rtol=1e-12)


def keyed_layers(params, x):
    h = x
    for i in range(1, 3):
        h = np.tanh(h @ params[f"W{i}"] + params["b" + str(i)])
    for name in ["W1", "W2"]:
        h = h + 1e-3 * np.sum(params[name] ** 2)
    return np.sum(h**2)


def test_keys_computed_from_loop_constants():
    params = make_params()
    x = RNG.normal(size=(4, 3))
    assert_tree_gradient(keyed_layers, (params, x))


def writes_into_a_dict(p, x):
    d = {"a": p[0], "b": p[1]}
    d["a"] = x
    return np.sum(d["a"] * d["b"])


def unpacks_into_a_dict(p):
    d = {"a": p[0]}
    e = {**d, "b": p[1]}
    return np.sum(e["a"] * e["b"])


def test_container_writes_and_double_star_get_their_own_advice():
    p = (np.ones(2), np.ones(2))
    with pytest.raises(CompileError, match="build a new one instead"):
        grad(writes_into_a_dict)(p, np.ones(2))
    with pytest.raises(CompileError, match="`\\*\\*` unpacking"):
        grad(unpacks_into_a_dict)(p)


def loop_with_break_indexing_a_leaf(p, x):
    total = 0.0
    for i in range(3):
        total = total + p["w"][i] * x[i]  # an element of the array p["w"]: no unrolling
        if total > 10.0:
            break
    return total * p["b"]


def test_a_loop_that_indexes_an_array_leaf_by_its_variable_may_break():
    # was refused as "`break` inside a loop over a container": p["w"][i] indexes an array
    p = {"w": np.array([0.5, -1.0, 2.0]), "b": 1.5}
    x = np.array([0.3, 0.2, -0.4])
    gp, gx = grad(loop_with_break_indexing_a_leaf, argnums=(0, 1))(p, x)
    np.testing.assert_allclose(gp["w"], 1.5 * x)
    np.testing.assert_allclose(gp["b"], np.dot(p["w"], x))
    np.testing.assert_allclose(gx, 1.5 * p["w"])


def sines_of_a_list(items):
    return np.sum(np.sin(items[0])) + np.sum(np.cos(items[1]))


def through_its_gradient(items):
    g = chainrule.grad(sines_of_a_list)(items)
    return np.sum(g[0]) + np.sum(np.sin(g[0])) + np.sum(np.sin(g[1]))


def weighted_gradient(items):
    g = chainrule.grad(through_its_gradient)(items)
    return np.sum(g[0] * 0.3) + np.sum(g[1] * 0.2)


def test_a_gradient_of_a_gradient_of_a_list_of_arrays_of_different_shapes():
    # third order through a list argument: the adjoint of `unbroadcast` of a list's
    # gradient was `broadcast_like` of that list, which NumPy cannot make one array of
    # (a ValueError in generated code; autograd's test_list::test_grads, run as rev2)
    import autograd
    import autograd.numpy as anp

    def sines_ag(items):
        return anp.sum(anp.sin(items[0])) + anp.sum(anp.cos(items[1]))

    def through_ag(items):
        g = autograd.grad(sines_ag)(items)
        return anp.sum(g[0]) + anp.sum(anp.sin(g[0])) + anp.sum(anp.sin(g[1]))

    def weighted_ag(items):
        g = autograd.grad(through_ag)(items)
        return anp.sum(g[0] * 0.3) + anp.sum(g[1] * 0.2)

    rng = np.random.default_rng(0)
    items = [rng.normal(size=(5, 6)), rng.normal(size=(4, 3)), rng.normal(size=(2, 4))]
    ours = chainrule.grad(weighted_gradient)(items)
    for a, e in zip(ours, autograd.grad(weighted_ag)(items)):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-14)
    assert chainrule.check_grad(weighted_gradient, items) < 1e-6


def _with_defaults(d, x):
    return np.sum(d.get("a", x) ** 2) + np.sum(d.get("zz", x) * 3.0) + np.sum(d.get("b") * x)


def test_dict_get_with_a_literal_key():
    """d.get("k", default): the item, or the default where the dict has no such key."""
    d = {"a": np.array([0.3, 0.4]), "b": np.array([1.0, -2.0])}
    x = np.array([0.5, 0.1])
    gd, gx = grad(_with_defaults, argnums=(0, 1))(d, x)
    np.testing.assert_allclose(gd["a"], 2 * d["a"])
    np.testing.assert_allclose(gd["b"], x)
    np.testing.assert_allclose(gx, 3.0 + d["b"])

    def computed_key(d, x):
        key = "a" if x[0] > 0 else "b"
        return np.sum(d.get(key, x))

    with pytest.raises(CompileError, match="needs a key known when the code is compiled") as e:
        grad(computed_key)(d, x)
    assert e.value.lineno == inspect.getsourcelines(computed_key)[1] + 2


def _all_but_last(layers, x):
    for W, b in layers[:-1]:
        x = np.tanh(x @ W + b)
    W, b = layers[-1]
    return np.sum(x @ W + b)


def test_a_literal_slice_of_a_container_argument():
    """layers[:-1]: the items a slice with literal bounds picks, as a container."""
    rng = np.random.default_rng(5)
    layers = [(rng.normal(size=(2, 2)), rng.normal(size=2)) for _ in range(3)]
    x = rng.normal(size=2)
    chainrule.check_grad(_all_but_last, layers, x)

    def computed(layers, x, k):
        return _all_but_last(layers[:k], x)

    with pytest.raises(CompileError, match="needs bounds known when the code is compiled") as e:
        grad(computed)(layers, x, 2)
    assert e.value.lineno == inspect.getsourcelines(computed)[1] + 1
