"""Gradients of data-parallel losses on Dask: `chainrule.dask.value_and_grad` and `grad`.

A loss over a data set is usually a sum (or a mean) over its rows, so its
value and gradient on the whole data are the combination of their values on
row blocks.  `value_and_grad(loss, reduction="mean")(params, X, y)` with `X`
and `y` Dask arrays (or dataframes) partitioned by rows evaluates chainrule's
generated gradient on every partition, where the data lives, and adds the
partial results up by a tree reduction; only parameters and gradients travel.

    >>> import chainrule.dask as crd
    >>> vg = crd.value_and_grad(loss, reduction="mean")   # doctest: +SKIP
    >>> value, dparams = vg(params, X, y)                  # doctest: +SKIP

How the code reaches the workers: the gradient is generated once, on this
machine (from the first rows of the first partition, so that compile errors
and shape errors surface here with chainrule's own messages), and shipped as
*source text* with a SHA-256 of it.  Each worker process compiles the text
once per hash and runs it; nothing chainrule generates is pickled, and a
worker needs only NumPy, this module and the modules the loss imports.  The
names the generated code reads from the loss's own module or closure
(constants, helpers) travel with the task as values, so a loss defined in a
script (`__main__`) works on a cluster too.

Everything the caller passes besides the Dask collections (the parameters,
NumPy arrays, numbers) is one key of the task graph, sent to each worker
once per evaluation, not once per partition.  The tasks are named after the
loss (`chainrule-grad-<loss>`, `chainrule-combine-<loss>`), so the dashboard
and progress bars say what runs.  See docs/scale-out.md for the contract
(what "decomposes over rows" means, and what goes wrong when it does not).
"""

from __future__ import annotations

import inspect
import re
import uuid
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import api
from .errors import CompileError

try:
    import dask
    import dask.array as _da
    from dask.delayed import Delayed, delayed
except ImportError as _error:  # pragma: no cover - the message is the point
    raise ImportError(
        "chainrule.dask needs Dask: pip install 'chainrule[dask]' "
        "(or pip install 'dask[array,dataframe,distributed]')"
    ) from _error

try:
    import dask.dataframe as _dd
except ImportError:  # pragma: no cover - dask[array] without pandas
    _dd = None

from .dask_tasks import (
    _as_numpy,
    _Call,
    _combine,
    _evaluate,
    _finish,
    _leaves,
    _name,
    _Program,
)

__all__ = ["DaskGrad", "DaskValueAndGrad", "grad", "value_and_grad"]

REDUCTIONS = ("sum", "mean")
SAMPLE_ROWS = 8  # rows of the first partition the gradient is compiled on, on this machine


# -- the callables ------------------------------------------------------------------------


class DaskValueAndGrad:
    """`(value, gradient)` of a row-decomposable loss over Dask data; see `value_and_grad`."""

    _with_value = True

    def __init__(
        self,
        loss: Callable,
        argnums: int | Sequence[int] = 0,
        reduction: str = "sum",
        *,
        split_every: int = 8,
    ) -> None:
        if not callable(loss):
            raise TypeError(f"expected a loss function, got {type(loss).__name__}")
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"reduction must be 'sum' or 'mean' (what the loss computes over its rows), "
                f"got {reduction!r}"
            )
        if isinstance(split_every, bool) or not isinstance(split_every, int) or split_every < 2:
            raise ValueError(f"split_every must be an int of at least 2, got {split_every!r}")
        self.loss = loss
        self.reduction = reduction
        self.split_every = split_every
        self.argnums, self._as_tuple = _argnums(argnums)
        self._signature = inspect.signature(loss)
        self._positional = [
            p.name
            for p in self._signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        for i in self.argnums:
            if i >= len(self._positional):
                raise ValueError(
                    f"argnums={i} is out of range: {_name(loss)} has "
                    f"{len(self._positional)} positional parameter(s) {self._positional}"
                )
        self._slug = "-".join(re.findall("[A-Za-z]+", _name(loss))) or "loss"
        # chainrule's own callable: generates the code (cached per parameter structure)
        self._local = api.value_and_grad(loss, self.argnums if self._as_tuple else argnums)
        self._programs: dict[Any, _Program] = {}
        self._last: _Program | None = None
        self.__name__ = f"dask_{'value_and_grad' if self._with_value else 'grad'}_{_name(loss)}"
        self.__doc__ = getattr(loss, "__doc__", None)
        self.__wrapped__ = loss

    @property
    def source(self) -> str:
        """The generated code that the workers run (as shipped), from the last call."""
        if self._last is None:
            raise RuntimeError(
                f"{self.__name__} has not been called yet: the generated code depends on the "
                "structure of the parameters, so call it once before reading .source"
            )
        return self._last.text

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        (result,) = dask.compute(self.delayed(*args, **kwargs))
        return result

    def delayed(self, *args: Any, **kwargs: Any) -> Delayed:
        """The evaluation as a `dask.delayed` object, not computed yet.

        `.compute()` gives what calling this function gives.  Use it to
        combine several evaluations into one computation, or to watch one
        with `distributed.progress(client.compute(...))`.
        """
        values, data, tree = self._bind(args, kwargs)
        blocks, rows = _partitions(data, self._names(data))
        wrt = _promote(tuple(values[i] for i in self.argnums))
        _warn_row_sized_broadcasts(values, data, rows, self._positional)
        program = self._programs.get(tree)
        if program is None:
            program = self._compile(values, data, wrt, tree)
        self._last = program
        call_values = list(values)
        for i, w in zip(self.argnums, wrt):
            call_values[i] = w
        call = _Call(program, call_values, self._names(data), tree, self._as_tuple)
        return self._graph(call, blocks, wrt)

    # -- arguments --------------------------------------------------------------------

    def _bind(self, args: tuple, kwargs: dict) -> tuple[list, dict[int, Any], Any]:
        """Positional values (data positions hold None), {position: Dask collection}, and
        the nesting of the differentiated arguments (their leaves checked)."""
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{_name(self.loss)}(): {exc}") from None
        bound.apply_defaults()
        extra = [name for name in bound.arguments if name not in self._positional]
        if extra:
            raise TypeError(
                f"chainrule.dask passes the arguments of {_name(self.loss)} by position; "
                f"its parameter(s) {extra} are not positional"
            )
        values = [bound.arguments[name] for name in self._positional]
        tree = ("tuple", tuple(_structure(values[i], self._where(i)) for i in self.argnums))
        data: dict[int, Any] = {}
        for i, value in enumerate(values):
            name = self._positional[i]
            if i in self.argnums:
                continue
            if dask.is_dask_collection(value):
                if not _is_rows(value):
                    raise TypeError(
                        f"argument {i} ({name!r}) is a {type(value).__name__}; chainrule.dask "
                        "takes data as Dask arrays, DataFrames or Series partitioned by rows"
                    )
                data[i] = value
                values[i] = None
            elif _holds_dask(value):
                raise TypeError(
                    f"argument {i} ({name!r}) is a {type(value).__name__} holding Dask "
                    "collections; pass each Dask array or dataframe as an argument of its own"
                )
        if not data:
            raise TypeError(
                f"none of the arguments of {_name(self.loss)} is a Dask array or dataframe; "
                "for data in memory use chainrule.value_and_grad (or chainrule.grad)"
            )
        return values, data, tree

    def _where(self, i: int) -> str:
        return f"argument {i} ({self._positional[i]!r})"

    def _names(self, data: dict[int, Any]) -> dict[int, str]:
        return {i: self._positional[i] for i in data}

    # -- generating the code ------------------------------------------------------------

    def _compile(self, values: list, data: dict[int, Any], wrt: tuple, tree: Any) -> _Program:
        """Generate the gradient on this machine, from the first rows of the first partition.

        chainrule learns the structure of container parameters at a call, so the
        code is generated by calling chainrule's own `value_and_grad` on a few real
        rows; a CompileError or a shape error then shows up here, with its usual
        message, rather than as a traceback from a worker.
        """
        positions = sorted(data)
        heads = _first_rows(data, SAMPLE_ROWS)
        computed = {}
        for kind in (True, False):  # arrays, then dataframes: Dask warns when they are mixed
            some = [i for i in positions if isinstance(data[i], _da.Array) is kind]
            computed.update(zip(some, dask.compute(*(heads[i] for i in some))))
        sample = list(values)
        for i, w in zip(self.argnums, wrt):
            sample[i] = w
        for i, head in computed.items():
            sample[i] = _as_numpy(head)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                self._local(*sample)
        except CompileError:
            raise
        except Exception as exc:
            if hasattr(exc, "add_note"):  # Python 3.11+
                exc.add_note(
                    f"(raised by {_name(self.loss)} on the first {SAMPLE_ROWS} rows of the "
                    "first partition, which chainrule.dask evaluates on this machine to "
                    "generate the gradient)"
                )
            raise
        program = _Program.from_source(self._local.general_source, self.loss, self._slug)
        self._programs[tree] = program
        return program

    # -- the task graph -----------------------------------------------------------------

    def _graph(self, call: _Call, blocks: list[list[Any]], wrt: tuple) -> Delayed:
        token = uuid.uuid4().hex
        shared = delayed(call, name=f"chainrule-args-{self._slug}-{token}", traverse=False)
        evaluate = delayed(_evaluate, pure=True)
        level = [
            evaluate(shared, k, *parts, dask_key_name=(f"chainrule-grad-{self._slug}-{token}", k))
            for k, parts in enumerate(blocks)
        ]
        combine = delayed(_combine, pure=True)
        depth = 0
        while len(level) > 1:
            level = [
                combine(
                    self.reduction,
                    *level[j : j + self.split_every],
                    dask_key_name=(f"chainrule-combine-{self._slug}-{token}", depth, j),
                )
                for j in range(0, len(level), self.split_every)
            ]
            depth += 1
        templates = [None if _is_scalar(leaf) else np.shape(leaf) for leaf in _leaves(wrt)]
        finish = delayed(_finish, pure=True)
        return finish(
            level[0],
            call.tree,
            templates,
            self._as_tuple,
            self._with_value,
            dask_key_name=f"chainrule-result-{self._slug}-{token}",
        )

    def __repr__(self) -> str:
        kind = "value_and_grad" if self._with_value else "grad"
        return (
            f"<chainrule.dask {kind} of {_name(self.loss)!r}, argnums={self.argnums}, "
            f"reduction={self.reduction!r}>"
        )


class DaskGrad(DaskValueAndGrad):
    """The gradient alone of a row-decomposable loss over Dask data; see `grad`."""

    _with_value = False


def value_and_grad(
    loss: Callable,
    argnums: int | Sequence[int] = 0,
    *,
    reduction: str,
    split_every: int = 8,
) -> DaskValueAndGrad:
    """`(value, gradient)` of `loss` over data held in Dask collections partitioned by rows.

    `loss(params, X, y, ...)` is written for NumPy arrays, as for
    `chainrule.value_and_grad`.  Call the result with Dask arrays, DataFrames
    or Series for the data (partitioned alike: the same rows in each
    partition) and anything else (the parameters, NumPy arrays, numbers) as
    usual; the latter are passed whole to every partition.  A DataFrame
    partition reaches the loss as `partition.to_numpy()`.

    `reduction` (required: a wrong guess would give silently wrong gradients)
    states what the loss computes over its rows: `"sum"` (the
    partial values and gradients add up) or `"mean"` (they are averaged,
    weighted by the rows of each partition, so uneven partitions are
    right).  A loss that does not decompose that way, for example one that
    normalises by statistics of the whole data, gives wrong results: see
    docs/scale-out.md.

    `argnums` (an int or a tuple) chooses the differentiated arguments, which
    may be floats, arrays, or dicts, tuples and lists of them; the result is
    `(value, gradient)` with the value a float and the gradient NumPy, in the
    structure of the argument(s).  `split_every` is the fan-in of the tree
    reduction.  The computation runs on Dask's current scheduler: threads by
    default, or a `distributed.Client`'s cluster when one is active.
    """
    return DaskValueAndGrad(loss, argnums, reduction, split_every=split_every)


def grad(
    loss: Callable,
    argnums: int | Sequence[int] = 0,
    *,
    reduction: str,
    split_every: int = 8,
) -> DaskGrad:
    """Like `value_and_grad`, but the result is the gradient alone."""
    return DaskGrad(loss, argnums, reduction, split_every=split_every)


# -- arguments ----------------------------------------------------------------------------


def _argnums(argnums: Any) -> tuple[tuple[int, ...], bool]:
    if isinstance(argnums, int) and not isinstance(argnums, bool):
        nums, as_tuple = (argnums,), False
    elif isinstance(argnums, (tuple, list)) and argnums:
        nums, as_tuple = tuple(argnums), True
    else:
        raise TypeError(f"argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    for n in nums:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise TypeError(f"argnums must hold non-negative ints, got {n!r}")
    if len(set(nums)) != len(nums):
        raise ValueError(f"argnums {nums} repeats an argument")
    return nums, as_tuple


def _is_rows(value: Any) -> bool:
    """A Dask collection this module can split by rows."""
    if isinstance(value, _da.Array):
        return True
    return _dd is not None and isinstance(value, (_dd.DataFrame, _dd.Series))


def _holds_dask(value: Any) -> bool:
    if type(value) in (tuple, list):
        return any(_holds_dask(v) for v in value)
    if type(value) is dict:
        return any(_holds_dask(v) for v in value.values())
    return dask.is_dask_collection(value)


def _structure(value: Any, where: Any) -> Any:
    """The nesting of the differentiated arguments, with every leaf checked.

    The generated code depends on this nesting (dict keys, tuple lengths), not
    on the leaves' shapes, so it is also the key of the generated programs.
    """
    t = type(value)
    if t is dict:
        return ("dict", tuple((k, _structure(v, f"{where}[{k!r}]")) for k, v in value.items()))
    if t is tuple or t is list:
        items = tuple(_structure(v, f"{where}[{i}]") for i, v in enumerate(value))
        return (t.__name__, items)
    if dask.is_dask_collection(value):
        raise TypeError(
            f"{where} is a Dask collection, but it is differentiated (argnums): chainrule.dask "
            "differentiates with respect to parameters, which must be NumPy arrays or floats; "
            "compute it first, or leave it out of argnums if it is data"
        )
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where} is a bool, which cannot be differentiated; pass a float")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "scalar"
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
        return "array"
    what = f"an array of dtype {value.dtype}" if isinstance(value, np.ndarray) else type(value)
    raise TypeError(
        f"{where} is {what}, which cannot be differentiated; pass floats or NumPy arrays "
        "of floats (or dicts, tuples and lists of them)"
    )


def _promote(value: Any) -> Any:
    """Ints become floats, as chainrule.value_and_grad does (the generated code does not)."""
    t = type(value)
    if t is dict:
        return {k: _promote(v) for k, v in value.items()}
    if t is tuple or t is list:
        return t(_promote(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.astype(float) if value.dtype.kind in "iu" else value
    if isinstance(value, (int, np.integer)):
        return float(value)
    return value


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, np.ndarray)


def _partitions(data: dict[int, Any], names: dict[int, str]) -> tuple[list[list[Any]], float]:
    """The blocks of each partition, in argument order, after checking that they align.

    Returns one list of Delayed blocks per partition and the number of rows
    when Dask knows it (nan otherwise).  Row counts that Dask does not know
    (dataframes, arrays of unknown chunks) are checked again on the workers.
    """
    positions = sorted(data)
    parts: dict[int, int] = {}
    for i in positions:
        value, name = data[i], names[i]
        if isinstance(value, _da.Array):
            if value.ndim == 0:
                raise ValueError(f"{name!r} is a 0-d Dask array; data needs rows to split")
            split = [axis for axis in range(1, value.ndim) if value.numblocks[axis] > 1]
            if split:
                raise ValueError(
                    f"{name!r} is chunked along axis {split[0]} too, but each partition must "
                    f"hold whole rows: rechunk it with {name}.rechunk({{{split[0]}: -1}})"
                )
            parts[i] = value.numblocks[0]
        else:
            parts[i] = value.npartitions
    if len(set(parts.values())) > 1:
        listed = ", ".join(f"{names[i]!r} has {n}" for i, n in parts.items())
        raise ValueError(
            f"the Dask arguments are not partitioned alike ({listed} partitions); partition "
            "them by the same rows, for example y.rechunk({0: X.chunks[0]})"
        )
    arrays = [i for i in positions if isinstance(data[i], _da.Array)]
    known = [i for i in arrays if not any(np.isnan(c) for c in data[i].chunks[0])]
    for i in known[1:]:
        first, chunks = data[known[0]].chunks[0], data[i].chunks[0]
        if chunks != first:
            k = next(k for k, (a, b) in enumerate(zip(first, chunks)) if a != b)
            raise ValueError(
                f"the chunks of {names[i]!r} and {names[known[0]]!r} do not align: partition {k} "
                f"has {chunks[k]} rows in {names[i]!r} and {first[k]} in {names[known[0]]!r}; "
                f"rechunk with {names[i]}.rechunk({{0: {names[known[0]]}.chunks[0]}})"
            )
    frames = [i for i in positions if i not in arrays and data[i].known_divisions]
    for i in frames[1:]:
        if data[i].divisions != data[frames[0]].divisions:
            raise ValueError(
                f"the dataframes {names[frames[0]]!r} and {names[i]!r} have different divisions, "
                "so their partitions hold different rows; repartition one like the other"
            )
    rows = float(sum(data[known[0]].chunks[0])) if known else float("nan")
    # Collections built from the same source (X = A[:, :-1], y = A[:, -1]) share tasks;
    # optimising each on its own would fuse, and so compute, the shared tasks twice.
    keys = [set(data[i].__dask_graph__().keys()) for i in positions]
    shared = any(keys[a] & keys[b] for a in range(len(keys)) for b in range(a))
    per_arg = []
    for i in positions:
        delayeds = data[i].to_delayed(optimize_graph=not shared)
        per_arg.append(list(np.ravel(delayeds)) if isinstance(delayeds, np.ndarray) else delayeds)
    return [list(p) for p in zip(*per_arg)], rows


def _warn_row_sized_broadcasts(
    values: list, data: dict[int, Any], rows: float, names: list[str]
) -> None:
    """A NumPy argument with one entry per data row was probably meant to be partitioned."""
    if not rows > 1:
        return
    for i, value in enumerate(values):
        if i not in data and isinstance(value, np.ndarray) and value.ndim and len(value) == rows:
            warnings.warn(
                f"argument {i} ({names[i]!r}) is a NumPy array with one entry per row of the "
                "Dask data, but NumPy arguments are passed whole to every partition; if it "
                "holds one value per row, pass it as a Dask array chunked like the data",
                stacklevel=4,
            )


def _first_rows(data: dict[int, Any], n: int) -> dict[int, Any]:
    """The first (at most) n rows of the first partition that has rows, lazily: the
    first partition, unless the chunks of an array say that it is empty."""
    start = 0
    for value in data.values():
        if isinstance(value, _da.Array) and not any(np.isnan(c) for c in value.chunks[0]):
            start = next((k for k, c in enumerate(value.chunks[0]) if c), 0)
            break
    heads = {}
    for i, value in data.items():
        if isinstance(value, _da.Array):
            heads[i] = value.blocks[start][:n]
        else:
            heads[i] = value.partitions[start].head(n, npartitions=1, compute=False)
    return heads
