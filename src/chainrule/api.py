"""The public transformations: `grad`, `value_and_grad`, `vjp`, `jvp`, `jacfwd`,
`jacrev`, `hessian`, `hvp`, and `source` and `show` for the generated code.

The transformation runs at the first call of the returned function (so
helpers defined further down a module have been defined by then) and is
cached per function and options (pipeline.py).  Each returned callable
carries `.source`, the generated Python text.  The arguments are checked,
and the gradients shaped, by arguments.py.

jvp runs the forward-mode code: one generated function `jvp_f(x, ..., dx,
...)` returning the value and its tangent.  jacfwd pushes one basis
direction per input element through it, jacrev one basis cotangent per
output element through vjp's backward function.  hessian and hvp are
forward over reverse: the forward transformation of the generated
gradient's source.
"""

from __future__ import annotations

import dataclasses
import pickle
import sys
import types
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import rules
from .arguments import (
    MISS,
    SCALAR_TYPES,
    Argnums,
    as_array_or_float,
    as_differentiable,
    as_tangent,
    bind_functions,
    bind_keywords,
    check_callable,
    check_primal_count,
    fill_defaults,
    kinds_of,
    make_runner,
    matches_kinds,
    no_runner,
    normalize_argnums,
    passed_functions,
    reject_containers,
    returned_gradient,
    returned_gradients,
    same_functions,
    shaped_like,
)
from .compiled import Compiled
from .guards import always
from .highlight import Source, highlight, show_in_notebook
from .ir import structure
from .jacobians import (
    SecondJacobian,
    check_cotangent,
    forward_jacobians,
    inner_jacobian,
    pieces,
    repacked,
    reverse_jacobians,
)
from .normalize.inlining import NESTED, NESTED_JVP, NESTED_MAKER
from .packing import compile_packing_tuples, request_for
from .parse import parse_function
from .pipeline import CompileRequest, compile_function
from .rules.registry import GENERATION


class _Transformed:
    """Common machinery of the callables returned by grad and value_and_grad."""

    mode = "grad"
    returns = "grad"  # what the generated function returns (arguments.make_runner)

    def __init__(self, f: Callable, argnums: Argnums, has_aux: bool = False) -> None:
        who = self.mode
        check_callable(f, who)
        if not isinstance(has_aux, bool):
            raise TypeError(f"{who}: has_aux must be True or False")
        self.fun = f
        self.has_aux = has_aux
        self._argnums = argnums  # as given, for pickling
        self.argnums, self.as_tuple = normalize_argnums(argnums, who)
        self._compiled: Compiled | None = None  # the general version (shown as .source)
        self._variant: Compiled | None = None  # specialised on the first call's scalars
        self._guard = always  # the variant's guard (guards.py), kept here for the fast path
        # the per-call fast path: checks a call is the variant's, runs it, shapes the result
        self._run: Callable[[tuple], Any] = no_runner
        self._ran_general = False  # the latest call ran the general code (what .source shows)
        self._scalars: tuple[tuple[int, int], ...] = ()
        # (position, nesting) of container arguments, learnt at the first call
        self._structures: tuple[tuple[int, Any], ...] = ()
        self._functions: tuple[tuple[int, Any], ...] = ()  # functions passed, likewise
        self._param_names: list[str] | None = None
        self._generation = rules.generation()  # rules registered when compiled
        self.__name__ = f"{self.mode}_{getattr(f, '__name__', 'function')}"
        self.__qualname__ = self.__name__
        self.__doc__ = getattr(f, "__doc__", None)
        self.__wrapped__ = f
        self.__module__ = getattr(f, "__module__", None)  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        """Pickled by reference to the differentiated function; the other side compiles
        (or loads from the disk cache) its own generated code."""
        return _by_reference(self, (type(self), (self.fun, self._argnums, self.has_aux)))

    def __chainrule_generated__(self) -> Callable:
        """The generated function itself, which chainrule can transform again."""
        return self.compiled().function

    def compiled(self) -> Compiled:
        compiled = self._compiled
        if compiled is None:  # the general code, compiled when first needed
            compiled = self._compiled = self._compile(())
        elif not compiled.guard():  # a binding compiling resolved changed: start again
            self._param_names = None
            self._variant = None
            self._run = no_runner
            compiled = self._compiled = self._compile(())
        return compiled

    def _compile(self, scalars: tuple[tuple[int, int], ...]) -> Compiled:
        return compile_function(
            CompileRequest(
                self.fun,
                self.argnums,
                self.mode,
                self.as_tuple,
                scalars,
                self._structures,
                self.has_aux,
                self._functions,
            )
        )

    @property
    def source(self) -> str:
        """The generated Python source of the code the latest call ran.

        That is a variant specialised on the kinds of the first call's arguments
        (its header comment says which) unless that call's arguments were of
        other kinds; before the first call it is the general code
        (`general_source`).  For container arguments (dicts, tuples) it is the
        version for the structure seen at the last call.
        """
        variant = self._variant
        if variant is None or self._ran_general:
            return self.general_source
        return Source(variant.source)

    @property
    def general_source(self) -> str:
        """The generated source of the general code, which runs for arguments of any
        shape (and is what `hessian`, `grad(grad(f))` and `export` transform or write)."""
        return Source(self.compiled().source)

    def _params(self) -> list[str]:
        if self._param_names is None:
            self._param_names = parse_function(self.fun).params
        return self._param_names

    def _specialise(self, structures: tuple, functions: tuple) -> None:
        """Compile again for a new container structure or function, or a new rule."""
        if (structures, functions) != (self._structures, self._functions) or (
            self._generation != rules.generation()
        ):
            self._structures, self._functions = structures, functions
            self._generation = rules.generation()
            self._compiled = self._variant = None
            self._run = no_runner

    def __chainrule_bind__(self, args: Sequence) -> None:
        """Specialise on the functions in `args` (arguments.bind_functions)."""
        bind_functions(self.fun, args)
        self._specialise(self._structures, passed_functions(args, self.argnums))

    def _prepare(self, args: tuple, kwargs: dict) -> tuple[Compiled, tuple]:
        """The slow path of `_args`: bind keywords, check and promote arguments, compile."""
        bind_functions(self.fun, args)  # (grad of grad: the inner one's code first)
        if self._variant is not None and not self._variant.guard():
            self._compiled = self._variant = self._param_names = None  # compile again
            self._run = no_runner
        params = self._params()
        if kwargs:
            args = bind_keywords(self.fun, params, args, kwargs)
        args = list(args)
        if any(i >= len(params) for i in self.argnums):
            self.compiled()  # raises the error naming the parameters
        for i in self.argnums:
            if i >= len(args):
                name = params[i] if i < len(params) else "?"
                raise TypeError(
                    f"argnums={i} refers to argument {name!r}, which was not passed; pass it "
                    "explicitly to differentiate with respect to it"
                )
            args[i] = as_differentiable(args[i], i, params[i])
        structures = tuple(
            (i, structure(args[i])) for i in self.argnums if type(args[i]) in (tuple, list, dict)
        )
        self._specialise(structures, passed_functions(args, self.argnums))
        if self._variant is None:  # first call: specialise on the kinds of the arguments
            self._scalars = kinds_of(args)  # Python scalars, arrays by ndim
            self._variant = self._compile(self._scalars) if self._scalars else self.compiled()
            self._guard = self._variant.guard
            self._run = no_runner
            if not self._structures and not self._functions:
                self._run = make_runner(
                    self._variant.function,
                    self._scalars,
                    self.argnums,
                    self.as_tuple,
                    "grad_aux" if self.has_aux and self.returns == "grad" else self.returns,
                    self._guard,
                    (GENERATION, self._generation),
                )
        if matches_kinds(self._scalars, args):
            self._ran_general = False
            return self._variant, tuple(args)
        self._ran_general = True
        return self.compiled(), tuple(args)

    def _finish(self, grads: Any, args: tuple) -> Any:
        return returned_gradients(grads, args, self.argnums, self.as_tuple)

    def _args(self, args: tuple, kwargs: dict) -> tuple[Compiled, tuple]:
        """The compiled function and checked arguments; the common case stays cheap."""
        variant = self._variant
        if (
            variant is not None
            and not kwargs
            and self._generation == GENERATION[0]
            and self._guard()  # what compiling resolved still resolves the same way
            and same_functions(self._functions, args)
        ):
            try:
                for i, kind in self._scalars:  # what the variant assumes of the arguments
                    a = args[i]
                    if (
                        (type(a) not in SCALAR_TYPES)
                        if kind < 0
                        else (type(a) is not np.ndarray or a.ndim != kind or 1 in a.shape)
                    ):
                        break
                else:
                    for i in self.argnums:
                        a = args[i]
                        if type(a) is not float and (
                            type(a) is not np.ndarray or a.dtype.kind != "f"
                        ):
                            if (i, structure(a)) not in self._structures:
                                break
                    else:
                        if self._structures and len(self._structures) != sum(
                            type(args[i]) in (tuple, list, dict) for i in self.argnums
                        ):
                            return self._prepare(args, kwargs)
                        self._ran_general = False
                        return variant, args
            except IndexError:
                pass
        return self._prepare(args, kwargs)

    def __repr__(self) -> str:
        return f"<chainrule {self.mode} of {getattr(self.fun, '__qualname__', self.fun)!r}>"


class GradFunction(_Transformed):
    mode = "grad"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs:
            out = self._run(args)  # the fast path: the variant, checks and shaping in one
            if out is not MISS:
                if self._ran_general:
                    self._ran_general = False
                return out
        compiled, args = self._args(args, kwargs)
        if self.has_aux:
            grads, aux = compiled.function(*args)
            return self._finish(grads, args), aux
        return self._finish(compiled.function(*args), args)


class ValueAndGradFunction(_Transformed):
    mode = "value_and_grad"
    returns = "value"

    def __call__(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        if not kwargs:
            out = self._run(args)  # the fast path, as in GradFunction
            if out is not MISS:
                if self._ran_general:
                    self._ran_general = False
                return out
        compiled, args = self._args(args, kwargs)
        value, grads = compiled.function(*args)
        return value, self._finish(grads, args)  # with has_aux, value is (value, aux)


_NO_FUNCTION: Any = object()


def grad(f: Callable = _NO_FUNCTION, argnums: Argnums = 0, has_aux: bool = False) -> Any:
    """The gradient of a scalar-valued function `f` with respect to argument(s) `argnums`.

    Usable as `grad(f)`, `grad(f, argnums=1)`, `@grad` and `@grad(argnums=(0, 1))`.
    An int `argnums` gives one gradient, a tuple gives a tuple of gradients.
    An argument may be a (nested) tuple, list or dict of arrays; its gradient
    has the same structure.  With `has_aux=True`, `f` returns `(value, aux)`
    and the gradient function returns `(gradient, aux)`.
    """
    if f is _NO_FUNCTION:
        return lambda g: GradFunction(g, argnums, has_aux)
    if isinstance(f, (int, tuple, list)) and not callable(f):
        raise TypeError(
            "grad expects a callable first; to choose arguments write grad(f, argnums=...) "
            "or @grad(argnums=...)"
        )
    return GradFunction(f, argnums, has_aux)


def value_and_grad(f: Callable = _NO_FUNCTION, argnums: Argnums = 0, has_aux: bool = False) -> Any:
    """Like `grad`, but the returned function gives `(value, gradient)`.

    With `has_aux=True` it gives `((value, aux), gradient)`, as in JAX.
    """
    if f is _NO_FUNCTION:
        return lambda g: ValueAndGradFunction(g, argnums, has_aux)
    return ValueAndGradFunction(f, argnums, has_aux)


class VJPFunction:
    """The backward function returned by `vjp`: cotangent -> one gradient per primal."""

    def __init__(self, backward: Callable, out: Any, primals: list, source: str) -> None:
        self._backward = backward
        self._out = out  # its shape, or the shapes of a tuple output's items
        self._primals = primals
        self.source = source

    def __reduce__(self) -> Any:
        raise pickle.PicklingError(
            "the pullback returned by chainrule.vjp cannot be pickled: it holds the values "
            "of one forward pass in this process; send the function and the primals "
            "instead and call chainrule.vjp on the other side (or use jacrev or grad, "
            "which pickle)"
        )

    def __call__(self, cotangent: Any) -> tuple:
        check_cotangent(cotangent, self._out)
        grads = self._backward(cotangent)
        return tuple(returned_gradient(g, x) for g, x in zip(grads, self._primals))


def vjp(f: Callable, *primals: Any) -> tuple[Any, VJPFunction]:
    """Evaluate `f(*primals)` and return `(out, vjp_fn)` (JAX semantics).

    `vjp_fn(cotangent)` returns a tuple with one gradient per primal: the
    vector-Jacobian product `cotangent @ J` for each argument.  For a function that
    returns a tuple of arrays, the cotangent is a tuple with one array per item.
    """
    check_callable(f, "vjp")
    params = parse_function(f).params
    check_primal_count(f, params, len(primals), "vjp")
    args = [as_differentiable(a, i, params[i]) for i, a in enumerate(primals)]
    structures = tuple(
        (i, structure(a)) for i, a in enumerate(args) if type(a) in (tuple, list, dict)
    )
    request = CompileRequest(f, tuple(range(len(primals))), "vjp", True, (), structures)
    compiled = compile_packing_tuples(request)
    out, backward = compiled.function(*fill_defaults(f, compiled.params, args, "vjp"))
    return out, VJPFunction(backward, out, args, compiled.source)


def source(
    f: Callable, argnums: Argnums = 0, mode: str = "grad", example: Sequence | None = None
) -> str:
    """The generated source for `f` in `mode` ("grad", "value_and_grad", "vjp" or "forward",
    or the name of another registered transformation): the general code, or with
    `example` (a tuple of arguments, "grad" and "value_and_grad" only) the variant a
    call with those arguments runs."""
    check_callable(f, "source")
    request = request_for(f, argnums, mode)
    if example is not None:
        if mode not in ("grad", "value_and_grad"):
            raise ValueError(
                f"source: example arguments apply to grad and value_and_grad, not {mode!r}"
            )
        args = tuple(example)  # (a container argument: the code for its structure)
        trees = [(i, structure(a)) for i, a in enumerate(args) if type(a) in (tuple, list, dict)]
        trees = [t for t in trees if t[0] in request.argnums]
        request = dataclasses.replace(
            request, scalar_params=kinds_of(args), structures=tuple(trees)
        )
    if request.mode in ("vjp", "jvp"):  # they take functions returning a tuple of arrays
        return Source(compile_packing_tuples(request).source)
    return Source(compile_function(request).source)


def show(
    f: Callable,
    argnums: Argnums = 0,
    mode: str = "grad",
    file: Any = None,
    example: Sequence | None = None,
) -> None:
    """Print the generated source, syntax-highlighted on a color terminal (the code the
    latest call of a grad(f) ran; for a plain function, as `source`)."""
    carries = isinstance(f, (_Transformed, VJPFunction, *_CARRY_SOURCE)) and mode != "forward"
    text = f.source if carries else source(f, argnums, mode, example)
    if file is None and show_in_notebook(text):
        return
    out = file or sys.stdout
    print(highlight(text, out), end="", file=out)


# -- forward mode, Jacobians and Hessians ---------------------------------------------


def jvp(f: Callable, primals: Sequence, tangents: Sequence) -> tuple[Any, Any]:
    """Evaluate `f(*primals)` and its Jacobian-vector product along `tangents` (JAX semantics).

    Returns `(out, tangent_out)`, computed in one pass of the forward-mode
    code (`source(f, mode="forward")`).  `tangents` has one entry per primal,
    shaped like it; `None` marks an argument that is not differentiated (data,
    flags, loop counts).
    """
    check_callable(f, "jvp")
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(
            "jvp: primals and tangents must be tuples (or lists), one entry per argument"
        )
    if len(primals) != len(tangents):
        raise ValueError(
            f"jvp: got {len(primals)} primal(s) but {len(tangents)} tangent(s); pass one "
            "tangent per primal (None for an argument that is not differentiated)"
        )
    nums = tuple(i for i, t in enumerate(tangents) if t is not None)
    reject_containers(primals, "jvp")
    functions = passed_functions(primals, nums)
    bind_functions(f, primals)
    compiled = compile_packing_tuples(CompileRequest(f, nums, "jvp", True, functions=functions))
    params = compiled.params
    args = fill_defaults(f, params, list(primals), "jvp")
    for i in nums:
        args[i] = as_array_or_float(args[i], i, params[i], "jvp")
    tans = [as_tangent(tangents[i], args[i], i, params[i]) for i in nums]
    out, tangent_out = compiled.function(*args, *tans)
    return out, shaped_like(tangent_out, out)


class _Jacobian:
    """Common machinery of jacfwd and jacrev: argument checks, the tuple convention, and
    a Jacobian of a Jacobian (`jacobians.SecondJacobian`)."""

    mode = "jacfwd"
    # what parse.py says when grad, jvp, vjp or hessian is asked to read one again
    __chainrule_refused__ = (
        "{name} is a Jacobian, computed one element at a time rather than by one function "
        "chainrule can read again; take jacfwd or jacrev of it for second derivatives, or "
        "transform the original function instead (hessian(f), hvp(f, ...), jvp(f, ...))"
    )

    def __init__(self, f: Callable, argnums: Argnums) -> None:
        check_callable(f, self.mode)
        self.fun = f
        self._argnums = argnums  # as given, for pickling
        self.argnums, self.as_tuple = normalize_argnums(argnums, self.mode)
        self._functions: tuple[tuple[int, Any], ...] = ()  # passed at the latest call
        inner = inner_jacobian(f, self.mode, _Jacobian, HessianFunction)
        self._second = (
            None
            if inner is None
            else SecondJacobian(type(self), inner, self.argnums, {"grad": grad, "jvp": jvp})
        )
        self.__name__ = f"{self.mode}_{getattr(f, '__name__', 'function')}"
        self.__qualname__ = self.__name__
        self.__wrapped__ = f
        self.__module__ = getattr(f, "__module__", None)  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        return _by_reference(self, (type(self), (self.fun, self._argnums)))

    def _args(self, compiled: Compiled, args: tuple, kwargs: dict) -> list:
        if kwargs:
            args = bind_keywords(self.fun, compiled.params, args, kwargs)
        args = fill_defaults(self.fun, compiled.params, list(args), self.mode)
        for i in self.argnums:
            if i >= len(args):
                raise TypeError(f"{self.mode}: argnums={i} refers to an argument not passed")
            args[i] = as_array_or_float(args[i], i, compiled.params[i], self.mode)
        return args

    def _result(self, out: Any, per_item: list[list]) -> Any:
        """Jacobians per output item and argnum, in JAX's nesting: the output's tuple
        (when it is one), then the argnums' tuple (when asked for one)."""
        results = [tuple(js) if self.as_tuple else js[0] for js in per_item]
        return results[0] if pieces(out, self.mode) is None else repacked(out, results)

    def _second_derivative(self, args: tuple, kwargs: dict) -> Any:
        second = self._second
        assert second is not None
        compiled = second.inner.compiled()  # f's own refusals, at the user's line
        args = second.inner._args(compiled, args, kwargs)
        for i in self.argnums:
            if i >= len(args):
                raise TypeError(f"{self.mode}: argnums={i} refers to an argument not passed")
            args[i] = as_array_or_float(args[i], i, compiled.params[i], self.mode)
        return second(args, second.f(*args), self.as_tuple)

    def __repr__(self) -> str:
        return f"<chainrule {self.mode} of {getattr(self.fun, '__qualname__', self.fun)!r}>"

    generated_mode = "jvp"  # the generated code a Jacobian runs: forward (jvp) or vjp

    def compiled(self) -> Compiled:
        """The generated code this Jacobian runs (of the outer Jacobian's first function,
        for a Jacobian of a Jacobian)."""
        if self._second is not None:
            return self._second.first().compiled()
        request = CompileRequest(
            self.fun, self.argnums, self.generated_mode, True, functions=self._functions
        )
        return compile_packing_tuples(request)

    @property
    def source(self) -> str:
        """The generated source this Jacobian runs (jvp code for jacfwd, vjp for jacrev)."""
        return self.compiled().source


class JacfwdFunction(_Jacobian):
    """The Jacobian by forward mode: one jvp pass per element of each input."""

    mode = "jacfwd"
    generated_mode = "jvp"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        reject_containers(args, self.mode)
        if self._second is not None:
            return self._second_derivative(args, kwargs)
        self._functions = passed_functions(args, self.argnums)
        bind_functions(self.fun, args)
        compiled = self.compiled()
        args = self._args(compiled, args, kwargs)
        return self._result(*forward_jacobians(compiled.function, args, self.argnums, self.mode))


class JacrevFunction(_Jacobian):
    """The Jacobian by reverse mode: one backward pass per element of the output."""

    mode = "jacrev"
    generated_mode = "vjp"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        reject_containers(args, self.mode)
        if self._second is not None:
            return self._second_derivative(args, kwargs)
        self._functions = passed_functions(args, self.argnums)
        bind_functions(self.fun, args)
        compiled = self.compiled()
        args = self._args(compiled, args, kwargs)
        return self._result(*reverse_jacobians(compiled.function, args, self.argnums, self.mode))


def jacfwd(f: Callable, argnums: Argnums = 0) -> JacfwdFunction:
    """The Jacobian of `f` with respect to argument(s) `argnums`, by forward mode.

    The result has the output's shape followed by the input's shape (JAX's
    convention); a tuple `argnums` gives a tuple of Jacobians.  Cost: one pass
    of the forward-mode code per element of the inputs.
    """
    return JacfwdFunction(f, argnums)


def jacrev(f: Callable, argnums: Argnums = 0) -> JacrevFunction:
    """The Jacobian of `f` with respect to argument(s) `argnums`, by reverse mode.

    Same layout as `jacfwd`.  Cost: one forward pass and one backward pass per
    element of the output.
    """
    return JacrevFunction(f, argnums)


class HessianFunction:
    """Forward over reverse: jacfwd of the generated gradient."""

    __chainrule_refused__ = _Jacobian.__chainrule_refused__.replace("a Jacobian", "a Hessian")

    def __init__(self, f: Callable, argnums: Argnums) -> None:
        check_callable(f, "hessian")
        self.fun = f
        self._argnums = argnums  # as given, for pickling
        self.argnums, self.as_tuple = normalize_argnums(argnums, "hessian")
        self.grads = {i: grad(f, argnums=i) for i in self.argnums}
        self.rows = {i: jacfwd(self.grads[i], argnums=argnums) for i in self.argnums}
        self.__name__ = f"hessian_{getattr(f, '__name__', 'function')}"
        self.__qualname__ = self.__name__
        self.__wrapped__ = f
        self.__module__ = getattr(f, "__module__", None)  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        return _by_reference(self, (HessianFunction, (self.fun, self._argnums)))

    @property
    def source(self) -> str:
        """The forward-mode code of the generated gradient (the first argnum's)."""
        return self.rows[self.argnums[0]].source

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        reject_containers(args, "hessian")
        if not self.as_tuple:
            return self.rows[self.argnums[0]](*args, **kwargs)
        return tuple(self.rows[i](*args, **kwargs) for i in self.argnums)

    def __repr__(self) -> str:
        return f"<chainrule hessian of {getattr(self.fun, '__qualname__', self.fun)!r}>"


def hessian(f: Callable, argnums: Argnums = 0) -> HessianFunction:
    """The Hessian of the scalar-valued `f`: jacfwd(grad(f)), forward over reverse.

    An int `argnums` gives an array shaped (input shape + input shape); a
    tuple gives a tuple of tuples of blocks, `H[i][j]` = d2f / dx_i dx_j.
    """
    return HessianFunction(f, argnums)


_hvp_grads: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hvp(f: Callable, primals: Sequence, tangents: Sequence) -> Any:
    """The Hessian-vector product of the scalar-valued `f` along `tangents`, without the Hessian.

    Forward over reverse: the jvp of the generated gradient, one pass per
    differentiated argument.  With one primal it returns an array shaped like
    it; with several, a tuple (one block row of H @ v per argument).
    """
    check_callable(f, "hvp")
    primals, tangents = tuple(primals), tuple(tangents)
    reject_containers(primals, "hvp")
    nums = [i for i, t in enumerate(tangents) if t is not None]
    try:
        per_function = _hvp_grads.setdefault(f, {})
    except TypeError:
        per_function = {}
    out = []
    for i in nums:
        g = per_function.get(i)
        if g is None:
            g = per_function[i] = grad(f, argnums=i)
        out.append(jvp(g, primals, tangents)[1])
    return out[0] if len(primals) == 1 else tuple(out)


_CARRY_SOURCE: tuple = (JacfwdFunction, JacrevFunction, HessianFunction)


def _by_reference(made: Any, recipe: tuple) -> Any:
    """How `made` (grad(f) and the like) pickles: as the recipe that makes it again
    from `f`, which pickle saves by reference (module and name); as a name itself when
    the module holds `made` under f's name (`@grad` on a module-level def).  A
    function pickle cannot find by name is refused here, with what to do instead."""
    f = made.fun
    if not isinstance(f, types.FunctionType):
        return recipe  # a method, another transformation...: pickle decides
    qualname = getattr(f, "__qualname__", "")
    found: Any = sys.modules.get(getattr(f, "__module__", None) or "")
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is made:
        return qualname
    if found is not f:
        raise pickle.PicklingError(
            f"cannot pickle {made!r}: chainrule pickles it by reference to the function it "
            f"differentiates, and {qualname!r} cannot be found by name in its module "
            f"{f.__module__!r} (a lambda, a function defined inside another, or one "
            "replaced since); define it with `def` at the top level of an importable module"
        )
    return recipe


# How a differentiated function that calls these is inlined (calls.py): grad and
# value_and_grad make a transformation of a function named at compile time, jvp's
# forward-mode code is inlined where it is called.
setattr(grad, NESTED, NESTED_MAKER)
setattr(value_and_grad, NESTED, NESTED_MAKER)
setattr(jvp, NESTED, NESTED_JVP)
