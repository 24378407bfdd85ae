"""The rule registry: derivative templates, keyed by the primitive they differentiate.

`adjoint` (reverse mode) and `tangent` (forward mode) register a template
for one or more primitives, after checking it against the primitive's
signature (`RuleError` when it cannot match); `nondifferentiable` declares
primitives whose results carry no derivative.  `lookup`, `lookup_tangent`
and `is_nondifferentiable` answer the stages' questions, by the identity of
the primitive.  Every registration bumps `generation()`, which is part of
the compile key, so gradients compiled before it are compiled again.  The
template notation is described in rules/__init__.py and docs/rules.md.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def numpy_attrs(*names: str) -> list:
    """The NumPy objects with these names that this NumPy version has (asin: 2.0+)."""
    return [getattr(np, n) for n in names if hasattr(np, n)]


class RuleError(ValueError):
    """A derivative template that cannot be registered (raised at registration)."""


@dataclass
class Rule:
    """One derivative template for one or more primitives."""

    template: Callable
    name: str  # how comments and errors name the primitive, e.g. "np.tanh"
    result: str  # the template's name for the primitive's result
    signature: inspect.Signature  # the primitive's parameters (result removed)
    note: str  # first line of the docstring: the comment shown in generated code
    _body: list[ast.stmt] | None = field(default=None, repr=False)
    _diff: frozenset[str] | None = field(default=None, repr=False)

    @property
    def params(self) -> list[str]:
        return list(self.signature.parameters)

    @property
    def body(self) -> list[ast.stmt]:
        if self._body is None:
            self._parse()
        return self._body  # type: ignore[return-value]

    @property
    def differentiable(self) -> frozenset[str]:
        """Parameters that receive a gradient (the `dp = ...` assignments)."""
        if self._diff is None:
            self._parse()
        return self._diff  # type: ignore[return-value]

    @property
    def globals(self) -> dict:
        return self.template.__globals__

    def bind(self, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Match a call's arguments to the rule's parameters, defaults filled in
        (raises TypeError when they do not match)."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    def _parse(self) -> None:
        source = textwrap.dedent(inspect.getsource(self.template))
        fn = ast.parse(source).body[0]
        assert isinstance(fn, ast.FunctionDef)
        body = list(fn.body)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring is the note, not code
        assigned = {
            node.id
            for stmt in body
            for node in ast.walk(stmt)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
        }
        self._diff = frozenset(p for p in self.params if "d" + p in assigned)
        self._body = body


# primitive -> Rule.  Keys are the primitive objects themselves (ufuncs,
# builtins, method descriptors); unhashable primitives are keyed by id.
ADJOINTS: dict[Any, Rule] = {}
# primitive -> forward-mode (tangent) Rule, same keys
TANGENTS: dict[Any, Rule] = {}
# primitives whose output carries no gradient (argmax, floor, shape, ...)
NONDIFFERENTIABLE: dict[Any, str] = {}
_keepalive: list[Any] = []
# bumped by every registration: compiled gradients made before it are stale
GENERATION = [0]  # a list, so that the API can read it without a call


def generation() -> int:
    """How many registrations have happened (part of the compile cache key)."""
    return GENERATION[0]


def _key(primitive: Any) -> Any:
    try:
        hash(primitive)
    except TypeError:
        _keepalive.append(primitive)
        return ("id", id(primitive))
    return primitive


# public modules searched for the name a user writes (scipy.special.erf, np.fft.fftshift)
_PUBLIC_MODULES = (
    ("np.fft", "numpy.fft"),
    ("np.linalg", "numpy.linalg"),
    ("scipy.special", "scipy.special"),
    ("scipy.linalg", "scipy.linalg"),
    ("scipy.signal", "scipy.signal"),
    ("scipy.integrate", "scipy.integrate"),
    ("scipy.stats", "scipy.stats"),
)
_public_names: dict[str, dict[int, str]] = {}


def _public_name(primitive: Any) -> str | None:
    """The name a user writes for a library primitive, found in the public modules that
    are imported: scipy.special.erf for a SciPy ufunc, scipy.stats.chi2.pdf for a method
    of a SciPy distribution, np.fft.fftshift; None if it is not found."""
    owner = getattr(primitive, "__self__", None)
    if owner is not None and type(owner).__module__.startswith("scipy.stats"):
        dist = getattr(owner, "name", None)
        if not isinstance(dist, str):  # multivariate_normal & co.: the module's name for it
            public = vars(sys.modules.get("scipy.stats") or object)
            dist = next((k for k, v in public.items() if v is owner), None)
        if isinstance(dist, str):
            return f"scipy.stats.{dist}.{getattr(primitive, '__name__', '?')}"
    for shown, module_name in _PUBLIC_MODULES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        names = _public_names.get(module_name)
        if names is None:
            names = {}
            for attr in dir(module):
                if not attr.startswith("_"):
                    names.setdefault(id(getattr(module, attr, None)), attr)
            _public_names[module_name] = names
        attr = names.get(id(primitive))
        if attr is not None:
            return f"{shown}.{attr}"
    return None


def display_name(primitive: Any) -> str:
    """A readable name for a primitive: np.tanh, math.exp, ndarray.sum, abs, scipy.special.erf."""
    module = getattr(primitive, "__module__", None) or ""
    name = getattr(primitive, "__qualname__", None) or getattr(primitive, "__name__", None)
    if name is None:
        return repr(primitive)
    if getattr(np, str(name), None) is not primitive and not name.startswith("ndarray."):
        public = _public_name(primitive)
        if public is not None:
            return public
    if isinstance(primitive, type(abs)) and module == "builtins":
        return name
    if module.startswith("numpy") or type(primitive).__name__ == "ufunc":
        prefix = "np.linalg." if "linalg" in module else "np."
        return prefix + name if not name.startswith("ndarray.") else name
    if module in ("math", "_operator", "operator"):
        return f"{module.strip('_')}.{name}"
    if module and module != "builtins":
        return f"{module}.{name}"
    return name


def rule_example(primitive: Any, mode: str = "adjoint") -> str:
    """Advice for a primitive without a rule: where the notation is described
    (docs/extending.md) and a three-line template for that very function."""
    name = display_name(primitive)
    try:
        if isinstance(primitive, np.ufunc):
            nin = primitive.nin
            params = ["x"] if nin == 1 else [f"x{i + 1}" for i in range(nin)]
        else:
            params = [
                p.name
                for p in inspect.signature(primitive).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
    except (TypeError, ValueError):
        params = ["x"]
    params = [p for p in params if p != "self"] or ["x"]
    result = "y" if "y" not in params else "out"
    short = name.rsplit(".", 1)[-1]
    first = params[0]
    if mode == "tangent":
        body = f"d{result} = d{first} * ...  # the derivative of {short} in {first}, times d{first}"
    else:
        body = f"d{first} = d{result} * ...  # d{result} times the derivative of {short} in {first}"
    return (
        f"; see docs/extending.md, for example:\n"
        f"    @chainrule.{mode}({name})\n"
        f"    def {short}_{mode}({result}, {', '.join(params)}):\n"
        f"        {body}"
    )


def _template_signature(template: Callable) -> tuple[str, inspect.Signature]:
    sig = inspect.signature(template)
    params = list(sig.parameters.values())
    if not params:
        raise RuleError(
            f"derivative template {template.__name__!r} needs at least one parameter: "
            "the name of the primitive's result, followed by the primitive's parameters"
        )
    for p in params:
        if p.kind == p.VAR_KEYWORD:
            raise RuleError(
                f"derivative template {template.__name__!r} uses **{p.name}; name each "
                "keyword parameter of the primitive instead"
            )
    return params[0].name, sig.replace(parameters=params[1:])


def _check_against_primitive(primitive: Any, sig: inspect.Signature, template: Callable) -> None:
    """Reject a template whose parameters cannot match the primitive's signature.

    The template lists the primitive's positional parameters in order (names
    may differ), then optionally some of its keyword-only parameters by name.
    """
    try:
        prim_sig = inspect.signature(primitive)
    except (TypeError, ValueError):
        return  # ufuncs and many builtins have no inspectable signature
    values = list(prim_sig.parameters.values())
    positional = [p for p in values if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword_only = {p.name for p in values if p.kind == p.KEYWORD_ONLY}
    has_varargs = any(p.kind == p.VAR_POSITIONAL for p in values)
    required = [p for p in positional if p.default is p.empty]
    tmpl = [p for p in sig.parameters.values() if p.kind != p.VAR_POSITIONAL]
    extra = tmpl[len(positional) :]
    if len(tmpl) < len(required) or (
        not has_varargs and any(p.name not in keyword_only for p in extra)
    ):
        raise RuleError(
            f"derivative template {template.__name__!r} takes parameters "
            f"{[p.name for p in tmpl]} after the result, but {display_name(primitive)} "
            f"takes {[p.name for p in positional]}"
            + (f" and keyword-only {sorted(keyword_only)}" if keyword_only else "")
            + "; list the primitive's parameters in order after the result name"
        )


def _registrar(
    table: dict[Any, Rule], who: str, primitives: tuple, check_signature: bool
) -> Callable[[Callable], Callable]:
    """The decorator `adjoint` and `tangent` return: check the template, then file it."""
    if not primitives:
        raise RuleError(f"{who}() needs at least one primitive to register the rule for")

    def register(template: Callable) -> Callable:
        if not inspect.isfunction(template):
            raise RuleError("a derivative template must be a plain Python function")
        result, sig = _template_signature(template)
        doc = inspect.getdoc(template) or ""
        for primitive in primitives:
            if check_signature:
                _check_against_primitive(primitive, sig, template)
            GENERATION[0] += 1
            table[_key(primitive)] = Rule(
                template=template,
                name=display_name(primitive),
                result=result,
                signature=sig,
                note=doc.splitlines()[0] if doc else "",
            )
        return template

    return register


def adjoint(*primitives: Any, check_signature: bool = True) -> Callable[[Callable], Callable]:
    """Register a reverse-mode derivative template for one or more primitives.

    See the module docstring for the notation.  Registering again replaces the
    previous rule, so users can override a built-in rule.
    """
    return _registrar(ADJOINTS, "adjoint", primitives, check_signature)


def literal(value: Any) -> bool:
    """Marker for template `if` tests: is this parameter a literal at the call site?

    Only meaningful inside a derivative template, where the compiler replaces
    it before the test is evaluated; calling it anywhere else is a mistake.
    """
    raise RuleError("literal() may only be used in the `if` tests of derivative templates")


def nondifferentiable(*primitives: Any, why: str = "") -> None:
    """Declare primitives whose outputs carry no gradient (their inputs get none)."""
    for primitive in primitives:
        GENERATION[0] += 1
        NONDIFFERENTIABLE[_key(primitive)] = why


# arguments with a derivative chainrule does not provide: primitive -> parameter names
WITHOUT_DERIVATIVE: dict[Any, frozenset[str]] = {}


def no_derivative(*primitives: Any, params: tuple[str, ...]) -> None:
    """Declare arguments of primitives whose derivative exists but has no rule (a
    distribution's degrees of freedom, a count): a differentiated value reaching one
    is refused, naming the argument, instead of being given a gradient of zero."""
    for primitive in primitives:
        GENERATION[0] += 1
        WITHOUT_DERIVATIVE[_key(primitive)] = frozenset(params)


def arguments_without_derivative(primitive: Any) -> frozenset[str]:
    try:
        return WITHOUT_DERIVATIVE.get(_key(primitive), frozenset())
    except TypeError:  # pragma: no cover - _key handles unhashables
        return frozenset()


def tangent(*primitives: Any, check_signature: bool = True) -> Callable[[Callable], Callable]:
    """Register a forward-mode (tangent) template for one or more primitives.

    Same notation as `adjoint`, but the body assigns the result's tangent
    `d<result>` from the parameters' tangents `d<param>` (see the module
    docstring).  Registering again replaces the previous rule.
    """
    return _registrar(TANGENTS, "tangent", primitives, check_signature)


def lookup_tangent(primitive: Any) -> Rule | None:
    """The forward-mode rule of a primitive, or None."""
    try:
        return TANGENTS.get(_key(primitive))
    except TypeError:  # pragma: no cover - _key handles unhashables
        return None


def lookup(primitive: Any) -> Rule | None:
    try:
        return ADJOINTS.get(_key(primitive))
    except TypeError:  # pragma: no cover - _key handles unhashables
        return None


def is_nondifferentiable(primitive: Any) -> bool:
    try:
        return _key(primitive) in NONDIFFERENTIABLE
    except TypeError:  # pragma: no cover
        return False
