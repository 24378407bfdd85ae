"""chainrule.dask: the gradient over Dask partitions equals the NumPy gradient of the
concatenated data, for sums and means, uneven chunks, containers, several data
arguments, dataframes, the threaded scheduler and a LocalCluster of processes."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import chainrule

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")
crd = pytest.importorskip("chainrule.dask")

from dask.utils import key_split  # noqa: E402

L2 = 0.01
CHUNKS = (7, 30, 0, 50, 16)  # uneven, with an empty partition
ROWS = sum(CHUNKS)


def squared_error(w, X, y):
    return np.sum((X @ w - y) ** 2)


def logistic_loss(params, X, y):
    """A mean over rows plus a term of the parameters alone (exact under "mean")."""
    z = X @ params["w"] + params["b"]
    return np.mean(np.log1p(np.exp(-y * z))) + L2 * np.sum(params["w"] ** 2)


def mlp_loss(params, scale, X, y, weights, offset=0.0):
    h = np.tanh(X @ params["hidden"]["W"] + params["hidden"]["b"])
    out = h @ params["out"]["W"] + params["out"]["b"] + offset
    return scale * np.sum(weights * (out[:, 0] - y) ** 2)


def normalised_loss(w, X, y):
    """Does not decompose over rows: it standardises X by statistics of the data it sees."""
    Z = (X - np.mean(X, axis=0)) / np.std(X, axis=0)
    return np.sum((Z @ w - y) ** 2)


def make_scaled_loss(scale):
    def scaled(w, X, y):
        return scale * np.sum((X @ w - y) ** 2)

    return scaled


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, 4))
    y = np.sign(rng.normal(size=ROWS))
    return X, y


def chunked(a, chunks=CHUNKS):
    return da.from_array(a, chunks=(chunks,) + a.shape[1:])


def assert_tree_close(got, want, rtol=1e-12, atol=1e-12):
    assert type(got) is type(want), (type(got), type(want))
    if isinstance(want, dict):
        assert list(got) == list(want)
        for k in want:
            assert_tree_close(got[k], want[k], rtol, atol)
    elif isinstance(want, (tuple, list)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_tree_close(g, w, rtol, atol)
    else:
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


@pytest.fixture(autouse=True)
def threads():
    with dask.config.set(scheduler="threads"):
        yield


# -- agreement with NumPy -------------------------------------------------------------------


def test_sum_over_uneven_chunks_equals_the_numpy_gradient(data):
    X, y = data
    w = np.array([0.5, -1.0, 2.0, 0.1])
    value, dw = crd.value_and_grad(squared_error, reduction="sum")(w, chunked(X), chunked(y))
    want_value, want_dw = chainrule.value_and_grad(squared_error)(w, X, y)
    assert isinstance(value, float)
    np.testing.assert_allclose(value, want_value, rtol=1e-12)
    assert_tree_close(dw, want_dw)
    assert_tree_close(crd.grad(squared_error, reduction="sum")(w, chunked(X), chunked(y)), want_dw)


def test_mean_is_weighted_by_rows_with_dict_params(data):
    X, y = data
    params = {"w": np.array([0.3, -0.2, 0.0, 1.0]), "b": 0.5}
    value, grads = crd.value_and_grad(logistic_loss, reduction="mean")(
        params, chunked(X), chunked(y)
    )
    want_value, want_grads = chainrule.value_and_grad(logistic_loss)(params, X, y)
    np.testing.assert_allclose(value, want_value, rtol=1e-12)
    assert_tree_close(grads, want_grads)
    assert isinstance(grads["b"], float)
    # the unweighted mean of the partition means would be wrong on uneven chunks
    parts = np.cumsum((0,) + CHUNKS)
    means = [logistic_loss(params, X[a:b], y[a:b]) for a, b in zip(parts[:-1], parts[1:]) if b > a]
    assert abs(np.mean(means) - want_value) > 1e-3


def test_nested_containers_tuple_argnums_several_data_arguments_and_broadcasts(data):
    X, y = data
    rng = np.random.default_rng(1)
    params = {
        "hidden": {"W": rng.normal(size=(4, 5)), "b": np.zeros(5)},
        "out": {"W": rng.normal(size=(5, 1)), "b": np.zeros(1)},
    }
    weights = rng.uniform(size=ROWS)
    offset = np.array([0.25])  # a NumPy argument: passed whole to every partition
    vg = crd.value_and_grad(mlp_loss, argnums=(0, 1), reduction="sum")
    value, (dparams, dscale) = vg(params, 2, chunked(X), chunked(y), chunked(weights), offset)
    want_value, (want_params, want_scale) = chainrule.value_and_grad(mlp_loss, argnums=(0, 1))(
        params, 2, X, y, weights, offset
    )
    np.testing.assert_allclose(value, want_value, rtol=1e-12)
    assert_tree_close(dparams, want_params, rtol=1e-10)
    assert isinstance(dscale, float)  # the int 2 was promoted, as chainrule.grad does
    np.testing.assert_allclose(dscale, want_scale, rtol=1e-12)
    # keyword arguments bind as in Python
    again = vg(params, 2, chunked(X), y=chunked(y), weights=chunked(weights), offset=offset)
    assert again[0] == value


def test_dataframe_and_series_partitions_reach_the_loss_as_numpy(data):
    X, y = data
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["y"] = y
    ddf = dd.from_pandas(frame, npartitions=4)
    w = np.array([1.0, 2.0, -1.0, 0.5])
    params = {"w": w, "b": -0.25}
    want = chainrule.value_and_grad(logistic_loss)(params, X, y)
    got = crd.value_and_grad(logistic_loss, reduction="mean")(params, ddf[list("abcd")], ddf["y"])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    assert_tree_close(got[1], want[1])
    # a dataframe next to a Dask array with the same partitions
    y_array = ddf["y"].to_dask_array(lengths=True)
    got = crd.grad(squared_error, reduction="sum")(w, ddf[list("abcd")], y_array)
    assert_tree_close(got, chainrule.grad(squared_error)(w, X, y), rtol=1e-10)


def test_an_empty_first_partition_is_skipped_when_generating_the_code(data):
    X, y = data

    def largest_error(w, X, y):  # np.max of no rows raises (only the code generation is tested)
        return np.max((X @ w - y) ** 2) + np.sum((X @ w - y) ** 2)

    chunks = (0, 40, 63)
    w = np.ones(4)
    got = crd.value_and_grad(squared_error, reduction="sum")(
        w, chunked(X, chunks), chunked(y, chunks)
    )
    np.testing.assert_allclose(got[0], squared_error(w, X, y), rtol=1e-12)
    crd.grad(largest_error, reduction="sum")(w, chunked(X, chunks), chunked(y, chunks))


def test_the_tree_reduction_is_deterministic_and_any_fan_in_agrees(data):
    X, y = data
    w = np.array([0.5, -1.0, 2.0, 0.1])
    chunks = (10,) * 10 + (3,)
    want = chainrule.value_and_grad(squared_error)(w, X, y)
    results = [
        crd.value_and_grad(squared_error, split_every=k, reduction="sum")(
            w, chunked(X, chunks), chunked(y, chunks)
        )
        for k in (2, 3, 8, 100)
    ]
    for value, dw in results:
        np.testing.assert_allclose(value, want[0], rtol=1e-12)
        np.testing.assert_allclose(dw, want[1], rtol=1e-12)
    again = crd.value_and_grad(squared_error, split_every=2, reduction="sum")(
        w, chunked(X, chunks), chunked(y, chunks)
    )
    assert again[0] == results[0][0] and np.array_equal(again[1], results[0][1])


def test_closure_and_script_globals_are_sent_by_value(data):
    X, y = data
    w = np.array([0.5, -1.0, 2.0, 0.1])
    vg = crd.value_and_grad(make_scaled_loss(3.0), reduction="sum")
    value, dw = vg(w, chunked(X), chunked(y))
    want = chainrule.value_and_grad(make_scaled_loss(3.0))(w, X, y)
    np.testing.assert_allclose(value, want[0], rtol=1e-12)
    np.testing.assert_allclose(dw, want[1], rtol=1e-12)
    assert "sends the values of scale" in vg.source


def test_data_built_from_one_source_is_computed_once_per_evaluation():
    calls = []

    def block(block_info=None):
        i = block_info[None]["chunk-location"][0]
        calls.append(i)
        rng = np.random.default_rng(i)
        return rng.normal(size=block_info[None]["chunk-shape"])

    A = da.map_blocks(block, chunks=((20, 30, 25), (5,)), dtype=float, meta=np.empty((0, 0)))
    X, y = A[:, :4], A[:, 4]
    w = np.ones(4)
    vg = crd.value_and_grad(squared_error, reduction="sum")
    vg(w, X, y)  # the first call also computes the first rows, to generate the code
    calls.clear()
    value, dw = vg(w, X, y)
    assert sorted(calls) == [0, 1, 2]
    full = A.compute()
    want = chainrule.value_and_grad(squared_error)(w, full[:, :4], full[:, 4])
    np.testing.assert_allclose(value, want[0], rtol=1e-12)
    np.testing.assert_allclose(dw, want[1], rtol=1e-12)


def test_a_loss_that_does_not_decompose_gives_a_different_gradient(data):
    """The contract of docs/scale-out.md: whole-data statistics are the caller's business."""
    X, y = data
    w = np.array([0.5, -1.0, 2.0, 0.1])
    dw = crd.grad(normalised_loss, reduction="sum")(w, chunked(X), chunked(y))
    want = chainrule.grad(normalised_loss)(w, X, y)
    assert not np.allclose(dw, want, rtol=1e-3)


# -- the task graph and what travels --------------------------------------------------------


def test_tasks_are_named_after_the_loss_and_the_code_travels_as_text(data):
    X, y = data
    params = {"w": np.zeros(4), "b": 0.0}
    vg = crd.value_and_grad(logistic_loss, reduction="mean")
    with pytest.raises(RuntimeError, match="call it once"):
        vg.source  # noqa: B018
    lazy = vg.delayed(params, chunked(X), chunked(y))
    prefixes = {key_split(k) for k in lazy.dask}
    assert {
        "chainrule-grad-logistic-loss",
        "chainrule-combine-logistic-loss",
        "chainrule-args-logistic-loss",
        "chainrule-result-logistic-loss",
    } <= prefixes
    grad_keys = [k for k in lazy.dask if key_split(k) == "chainrule-grad-logistic-loss"]
    assert len(grad_keys) == len(CHUNKS)
    # what every partition receives pickles with the standard pickle: source text and values
    (args_key,) = [k for k in lazy.dask if key_split(k) == "chainrule-args-logistic-loss"]
    shared = lazy.dask[args_key]
    shared = getattr(shared, "value", shared)  # a DataNode in newer Dask
    text = shared.program.text
    assert text == vg.source and "def value_and_grad_logistic_loss(params, X, y):" in text
    assert shared.program.bindings == {"L2": L2}
    clone = pickle.loads(pickle.dumps(shared))
    assert clone.program.digest == shared.program.digest
    assert lazy.compute()[0] == pytest.approx(np.log(2.0))


# -- errors ---------------------------------------------------------------------------------


def test_argument_errors(data):
    X, y = data
    w = np.zeros(4)
    with pytest.raises(ValueError, match="reduction must be 'sum' or 'mean'"):
        crd.value_and_grad(squared_error, reduction="avg")
    with pytest.raises(TypeError, match="argnums"):
        crd.grad(squared_error, argnums="w", reduction="sum")
    with pytest.raises(ValueError, match="out of range"):
        crd.grad(squared_error, argnums=3, reduction="sum")
    with pytest.raises(ValueError, match="split_every"):
        crd.grad(squared_error, split_every=1, reduction="sum")
    with pytest.raises(TypeError, match="expected a loss function"):
        crd.grad(3.0, reduction="sum")
    dw = crd.grad(squared_error, reduction="sum")
    with pytest.raises(TypeError, match="none of the arguments .* is a Dask"):
        dw(w, X, y)
    with pytest.raises(TypeError, match="'X'.*is a Dask collection, but it is differentiated"):
        crd.grad(squared_error, argnums=1, reduction="sum")(w, chunked(X), chunked(y))
    with pytest.raises(TypeError, match=r"\['w'\] is a Dask collection"):
        crd.grad(logistic_loss, reduction="mean")(
            {"w": da.zeros(4), "b": 0.0}, chunked(X), chunked(y)
        )
    with pytest.raises(TypeError, match="is a bool"):
        dw(True, chunked(X), chunked(y))
    with pytest.raises(TypeError, match="holding Dask collections"):
        crd.grad(mlp_loss, reduction="sum")({}, 1.0, chunked(X), chunked(y), (chunked(y),))
    bag = pytest.importorskip("dask.bag")
    with pytest.raises(TypeError, match="Dask arrays, DataFrames or Series"):
        dw(w, chunked(X), bag.from_sequence(list(y), npartitions=2))
    with pytest.raises(TypeError, match="missing a required argument"):
        dw(w, chunked(X))


def test_misaligned_partitions_are_refused_with_the_fix(data):
    X, y = data
    w = np.zeros(4)
    dw = crd.grad(squared_error, reduction="sum")
    with pytest.raises(ValueError, match=r"do not align: partition 0 .*rechunk"):
        dw(w, chunked(X), chunked(y, (8, 29, 0, 50, 16)))
    with pytest.raises(
        ValueError, match=r"not partitioned alike \('X' has 3, 'y' has 5 partitions\)"
    ):
        dw(w, chunked(X, (40, 40, 23)), chunked(y))
    with pytest.raises(ValueError, match=r"chunked along axis 1 .*X.rechunk\(\{1: -1\}\)"):
        dw(w, da.from_array(X, chunks=(CHUNKS, 2)), chunked(y))
    frame_x = dd.from_pandas(pd.DataFrame(X), npartitions=2)
    frame_y = dd.from_pandas(pd.Series(y[:-10]), npartitions=2)
    with pytest.raises(ValueError, match="different divisions"):
        dw(w, frame_x, frame_y)
    # row counts Dask does not know are checked on the workers
    with pytest.raises(
        ValueError, match=r"partition \d has rows \d+ in 'X', \d+ in 'y': .* partitioned alike"
    ):
        dw(w, frame_x.clear_divisions(), frame_y.clear_divisions())


def test_errors_of_the_loss_surface_on_this_machine(data):
    X, y = data

    def bad(w, X, y):
        with open(__file__):
            pass
        return np.sum(X @ w - y)

    with pytest.raises(chainrule.CompileError, match="with"):
        crd.grad(bad, reduction="sum")(np.zeros(4), chunked(X), chunked(y))
    with pytest.raises(ValueError):  # a shape error, on the first rows, here
        crd.grad(squared_error, reduction="sum")(np.zeros(3), chunked(X), chunked(y))
    empty = da.zeros((0, 4), chunks=((0,), (4,)))
    with pytest.raises(ValueError, match="no rows"):
        crd.value_and_grad(squared_error, reduction="sum")(
            np.zeros(4), empty, da.zeros(0, chunks=((0,),))
        )


def test_a_row_sized_numpy_argument_is_flagged(data):
    X, y = data
    with pytest.warns(UserWarning, match="'y'.*one entry per row"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                crd.grad(squared_error, reduction="sum")(np.zeros(4), chunked(X), y)
            except ValueError:
                pass  # y whole against the rows of one partition: a shape error, as expected


# -- a cluster of processes -----------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


def test_local_cluster_of_processes_agrees_with_numpy(client, data):
    X, y = data
    params = {"w": np.array([0.3, -0.2, 0.0, 1.0]), "b": 0.5}
    w = np.array([0.5, -1.0, 2.0, 0.1])
    with dask.config.set(scheduler=client):
        value, grads = crd.value_and_grad(logistic_loss, reduction="mean")(
            params, chunked(X), chunked(y)
        )
        scaled = crd.value_and_grad(make_scaled_loss(2.0), reduction="sum")(
            w, chunked(X), chunked(y)
        )
        pids = client.run(lambda: __import__("os").getpid())
    assert len(set(pids.values())) == 2
    want = chainrule.value_and_grad(logistic_loss)(params, X, y)
    np.testing.assert_allclose(value, want[0], rtol=1e-12)
    assert_tree_close(grads, want[1])
    want = chainrule.value_and_grad(make_scaled_loss(2.0))(w, X, y)
    np.testing.assert_allclose(scaled[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(scaled[1], want[1], rtol=1e-12)


def test_local_cluster_reports_misaligned_rows_from_the_worker(client, data):
    X, y = data
    frame_x = dd.from_pandas(pd.DataFrame(X), npartitions=2).clear_divisions()
    frame_y = dd.from_pandas(pd.Series(y[:-10]), npartitions=2).clear_divisions()
    with dask.config.set(scheduler=client):
        with pytest.raises(ValueError, match="partitioned alike"):
            crd.grad(squared_error, reduction="sum")(np.zeros(4), frame_x, frame_y)


def test_the_reduction_must_be_stated():
    # a default would silently give wrong gradients for the other kind of loss
    with pytest.raises(TypeError, match="reduction"):
        crd.grad(squared_error)
    with pytest.raises(TypeError, match="reduction"):
        crd.value_and_grad(squared_error, 0)
