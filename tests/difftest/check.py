"""Run one program through chainrule in every mode and classify what happened.

Outcomes:

- `agree`: every oracle that applies agrees;
- `refused`: a located `CompileError`, for a program that uses a construct the
  docs allow (or require) to be refused;
- `wrong`: a mismatch with an oracle (which one, and by how much, is in the detail);
- `crash`: any other exception, and any `CompileError` that points into generated
  code, has no location, or says "internal";
- `refused-supported`: a located `CompileError` for a program whose constructs
  are all documented as supported;
- `unrefused`: a program that uses a documented refusal compiled anyway;
- `skipped`: no point away from kinks, branch boundaries and overflows was found;
- `invalid`: the program itself does not run (a generator bug; should not happen).

The stages run in a fixed order (grad first, then the other first-order modes,
then autograd, then second order on a sample); the first failure decides.
"""

from __future__ import annotations

import re
import signal
import traceback
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import chainrule
from chainrule import CompileError

from .constructs import CONSTRUCTS, Status, status_of
from .loading import Loaded, loaded
from .oracles import (
    FD_TOL,
    HESSIAN_TOL,
    SYMMETRY_TOL,
    TIGHT_TOL,
    FiniteDifferences,
    ShapeMismatch,
    autograd_gradient,
    copy_args,
    describe,
    evaluate,
    fd_jacobian,
    finite_differences,
    flat,
    mismatch,
    same_args,
    unflat,
)
from .programs import Program, draw_inputs, line_key
from .variants import variant_and_general, variant_mismatch

FAILURES = ("wrong", "crash", "refused-supported", "unrefused")
OUTCOMES = ("agree", "refused", *FAILURES, "skipped", "invalid")
SECOND_ORDER = ("hessian", "jacfwd(grad)", "jacrev(grad)", "hvp")


@dataclass
class Result:
    label: str
    outcome: str
    constructs: frozenset[str]
    source: str
    stage: str = ""  # the chainrule call that failed
    oracle: str = ""  # for `wrong`: what it disagreed with
    detail: str = ""
    checks: tuple[str, ...] = ()  # optional oracles that ran: autograd, second order

    @property
    def failed(self) -> bool:
        return self.outcome in FAILURES

    @property
    def signature(self) -> str:
        """What makes two failures the same failure, for grouping and for minimizing."""
        if self.outcome == "wrong":
            return f"wrong: {self.stage} vs {self.oracle}"
        first = self.detail.splitlines()[0] if self.detail else ""
        return f"{self.outcome}: {self.stage}: {_normalized(first)}"


def _normalized(message: str) -> str:
    """A message with names, numbers and positions blurred, so that repeats group together."""
    message = re.sub(r"<chainrule [^>]*>", "<chainrule>", message)
    message = re.sub(r"\S+\.py\b", "FILE", message)
    message = re.sub(r"^FILE:\d+:\d+: ", "", message)
    message = re.sub(r"'[^']*'", "'_'", message)
    message = re.sub(r"`[^`]*`", "`_`", message)
    message = re.sub(r"\b[A-Za-z_]*\d+\b", "N", message)
    return message[:110]


class Failure(Exception):
    """Raised inside a stage to stop with an outcome."""

    def __init__(self, outcome: str, oracle: str = "", detail: str = "") -> None:
        super().__init__(detail)
        self.outcome, self.oracle, self.detail = outcome, oracle, detail


class Timeout(Exception):
    pass


@dataclass
class Checker:
    program: Program
    mods: Loaded
    args: list[Any]
    value: float
    fd: np.ndarray
    rng: np.random.Generator
    grad: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hessian: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    checks: list[str] = field(default_factory=list)

    @property
    def argnums(self) -> tuple[int, ...]:
        return tuple(range(len(self.args)))

    def call(self, thunk: Callable[[list[Any]], Any]) -> Any:
        """Run chainrule on a copy of the arguments, and check it left them alone."""
        args = copy_args(self.args)
        out = thunk(args)
        if not same_args(self.args, args):
            raise Failure("wrong", "arguments unchanged", "chainrule changed its input arrays")
        return out

    def expect(self, got: Any, expected: Any, oracle: str, tol=TIGHT_TOL, full=False) -> None:
        problem = mismatch(got, expected, tol)
        if problem is not None:
            extra = f"\n{describe(got, expected)}" if full else ""
            raise Failure("wrong", oracle, problem + extra + self._referee(got, expected, oracle))

    def _referee(self, got: Any, expected: Any, oracle: str) -> str:
        """When two of chainrule's own modes disagree, say which one finite differences back."""
        if oracle != "grad" or self.fd.size != self.grad.size:
            return ""
        got = np.asarray(got, dtype=float).reshape(-1)
        if got.shape != self.fd.shape:
            return ""
        k = int(np.argmax(np.abs(got - self.grad)))
        side = "grad" if abs(self.grad[k] - self.fd[k]) < abs(got[k] - self.fd[k]) else "this mode"
        return (
            f"\nat [{k}]: finite differences {self.fd[k]:.10g}, grad {self.grad[k]:.10g}, "
            f"this mode {got[k]:.10g}: finite differences side with {side}"
        )

    def flat(self, tree: Any, template: Any = None) -> np.ndarray:
        try:
            return flat(list(self.args) if template is None else template, tree)
        except ShapeMismatch as error:
            raise Failure("wrong", "gradient structure", str(error)) from None

    # -- stages ---------------------------------------------------------------------------

    def stage_grad(self) -> None:
        tree = self.call(lambda a: chainrule.grad(self.mods.f, argnums=self.argnums)(*a))
        self.grad = self.flat(list(tree))
        if status_of(self.program.constructs) is Status.MUST_REFUSE:
            raise Failure("unrefused", "", "a documented refusal compiled without a CompileError")
        if self.fd.size == self.grad.size:  # (no finite differences when minimizing a crash)
            self.expect(self.grad, self.fd, "finite differences", FD_TOL, full=True)

    def stage_variant(self) -> None:
        """The shape-specialised variant against the general code (variants.py)."""
        found = variant_and_general(self.mods.f, self.argnums, self.call)
        if found is not None:
            self.checks.append("variant")
            problem = variant_mismatch(list(self.args), *found, self.fd)
            if problem is not None:
                raise Failure("wrong", "general code", problem)

    def stage_value_and_grad(self) -> None:
        vg = chainrule.value_and_grad(self.mods.f, argnums=self.argnums)
        value, tree = self.call(lambda a: vg(*a))
        self.expect(value, self.value, "f(x)")
        self.expect(self.flat(list(tree)), self.grad, "grad")

    def stage_vjp(self) -> None:
        out, backward = self.call(lambda a: chainrule.vjp(self.mods.f, *a))
        self.expect(out, self.value, "f(x)")
        self.expect(self.flat(list(backward(1.0))), self.grad, "grad")
        self.expect(self.flat(list(backward(1.0))), self.grad, "grad (backward called again)")
        self.expect(self.flat(list(backward(2.0))), 2 * self.grad, "2 * grad (cotangent 2)")

    def stage_jacrev(self) -> None:
        tree = self.call(lambda a: chainrule.jacrev(self.mods.f, argnums=self.argnums)(*a))
        self.expect(self.flat(list(tree)), self.grad, "grad")

    def stage_jacfwd(self) -> None:
        tree = self.call(lambda a: chainrule.jacfwd(self.mods.f, argnums=self.argnums)(*a))
        self.expect(self.flat(list(tree)), self.grad, "grad")

    def stage_jvp(self) -> None:
        v = self.rng.normal(size=self.grad.size)
        tangents = unflat(list(self.args), v)
        out, t = self.call(lambda a: chainrule.jvp(self.mods.f, tuple(a), tuple(tangents)))
        self.expect(out, self.value, "f(x)")
        self.expect(t, float(self.grad @ v), "grad . tangent")

    def stage_autograd(self) -> None:
        if self.mods.f_autograd is None:
            return
        reference = autograd_gradient(self.mods.f_autograd, self.args)
        if reference is None:
            return
        value, g = reference
        if mismatch(value, self.value, TIGHT_TOL) or mismatch(g, self.fd, FD_TOL):  # (or no fd)
            return  # autograd runs it differently (in-place writes on views...): not an oracle
        if self._finite_differences_side_with_grad(np.asarray(g, dtype=float).reshape(-1)):
            return  # a gradient so small that autograd's error passed FD_TOL (seed 8, 1956)
        self.checks.append("autograd")
        self.expect(self.grad, g, "autograd", full=True)

    def _finite_differences_side_with_grad(self, other: np.ndarray) -> bool:
        """Whether, where grad and `other` differ most, finite differences are ten times
        nearer grad than `other` (their own error is far below FD_TOL where f is smooth)."""
        if other.shape != self.grad.shape or self.fd.shape != self.grad.shape or not other.size:
            return False
        k = int(np.argmax(np.abs(other - self.grad)))
        return 10 * abs(self.grad[k] - self.fd[k]) < abs(other[k] - self.fd[k])

    # second order: with respect to the first argument
    def _first(self) -> tuple[np.ndarray, Callable[[np.ndarray], list[Any]]]:
        x0 = flat(self.args[0], self.args[0])

        def at(x: np.ndarray) -> list[Any]:
            return [unflat(self.args[0], x), *copy_args(self.args[1:])]

        return x0, at

    def hessian_matrix(self) -> np.ndarray:
        h = self.call(lambda a: chainrule.hessian(self.mods.f, argnums=0)(*a))
        shape = np.shape(self.args[0])
        n = int(np.size(self.args[0]))
        return self.flat(h, np.zeros(shape + shape)).reshape(n, n)

    def stage_hessian(self) -> None:
        self.checks.append("hessian")
        H = self.hessian_matrix()
        x0, at = self._first()
        g = chainrule.grad(self.mods.f, argnums=0)
        fd = fd_jacobian(lambda x: flat(self.args[0], g(*at(x))), x0)
        if _gradient_is_smooth(lambda x: flat(self.args[0], g(*at(x))), x0, fd):
            self.expect(H, fd, "finite differences of grad", HESSIAN_TOL, full=True)
        # (else the gradient has a kink at the point, where f's does not: a tie of
        # np.minimum at a zero argument; finite differences of it judge nothing there)
        self.expect(H, H.T, "its transpose (symmetry)", SYMMETRY_TOL)
        self.hessian = H

    def _square(self) -> np.ndarray:
        shape = np.shape(self.args[0])
        return np.zeros(shape + shape)

    def stage_jacfwd_grad(self) -> None:
        g = chainrule.grad(self.mods.f, argnums=0)
        J = self.call(lambda a: chainrule.jacfwd(g, argnums=0)(*a))
        self.expect(self.flat(J, self._square()), self.hessian.reshape(-1), "hessian")

    def stage_jacrev_grad(self) -> None:
        g = chainrule.grad(self.mods.f, argnums=0)
        J = self.call(lambda a: chainrule.jacrev(g, argnums=0)(*a))
        self.expect(self.flat(J, self._square()), self.hessian.reshape(-1), "hessian", HESSIAN_TOL)

    def stage_hvp(self) -> None:
        x0, _ = self._first()
        v = self.rng.normal(size=x0.size)
        tangents = [unflat(self.args[0], v)] + [None] * (len(self.args) - 1)
        out = self.call(lambda a: chainrule.hvp(self.mods.f, tuple(a), tuple(tangents)))
        if len(self.args) > 1:  # one block row per tangent that is not None: one here
            if not isinstance(out, tuple) or len(out) != 1:
                raise Failure("wrong", "hvp structure", f"expected a 1-tuple, got {out!r:.80}")
            out = out[0]
        expected = self.hessian @ v
        self.expect(self.flat(out, self.args[0]), expected, "hessian @ v", HESSIAN_TOL)


def _refusal(error: CompileError, path: str, second_order: bool, program: Program) -> Failure:
    """Classify a CompileError: internal (crash), excused by a documented refusal, or not."""
    message = error.message or str(error)
    if error.filename.startswith("<chainrule") or "internal" in message.lower():
        return Failure("crash", "", f"CompileError inside chainrule: {error}")
    if error.filename != path or error.lineno <= 0 or not error.source_line.strip():
        return Failure("crash", "", f"CompileError not located in the program: {error}")
    if status_of(program.constructs, second_order) is Status.SUPPORTED:
        return Failure("refused-supported", "", str(error))
    if second_order and any(
        CONSTRUCTS[c].status_for(True) is not CONSTRUCTS[c].status for c in program.constructs
    ):
        return Failure("refused", "", str(error))  # a second-order limitation the docs state
    if line_key(error.source_line) not in program.excusable:
        detail = f"{error}\n(the line refused is not one of a may- or must-refuse construct)"
        return Failure("refused-supported", "", detail)
    return Failure("refused", "", str(error))


def _on_alarm(signum: int, frame: Any) -> None:
    raise Timeout("the program took too long")


def check_program(
    program: Program,
    seed: int = 0,
    autograd: bool = True,
    second_order: bool = False,
    time_limit: float = 60.0,
    *,
    until: str | None = None,
    smooth: bool = True,
) -> Result:
    """Check one program at a smooth random point; see the module docstring for outcomes.

    The minimizer, which only needs to know whether a failure persists, stops
    after the stage that failed (`until`), and skips finite differences
    (`smooth=False`) when the failure is not a wrong value.
    """
    result = Result(program.label, "agree", program.constructs, program.source)
    rng = np.random.default_rng([seed, zlib.crc32(program.label.encode())])
    use_alarm = _install_alarm(time_limit)
    try:
        with loaded(program, autograd) as mods:
            return _check(program, mods, rng, result, autograd, second_order, until, smooth)
    except Timeout as error:
        result.outcome, result.detail = "crash", f"timeout: {error}"
        return result
    except Exception as error:
        result.outcome, result.stage = "invalid", "import"
        result.detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        return result
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _gradient_is_smooth(
    g: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, jacobian: np.ndarray
) -> bool:
    """Whether the gradient is differentiable at x0, so that its finite differences
    (`jacobian`) are a Hessian to compare with.

    The one-sided differences along each coordinate must agree: they differ by the
    jump in slope where the gradient has a kink at x0 itself.  And the differences
    along two random directions must be the jacobian times the direction: at a tie
    of np.max over products of exact zeros (max(x * sum(x)) at x = 0) the gradient is
    linear along every line through x0, but with a slope that depends on the line.
    """
    h = 1e-5
    here = g(x0)
    scale = 1.0 + float(np.max(np.abs(here), initial=0.0))
    for d in np.random.default_rng(x0.size).normal(size=(2, x0.size)):
        step = (h * d).reshape(x0.shape)
        along = (g(x0 + step) - g(x0 - step)) / (2 * h)
        if np.max(np.abs(along - jacobian @ d), initial=0.0) > 1e-2 * scale * np.linalg.norm(d):
            return False
    for j in range(x0.size):
        plus, minus = x0.copy(), x0.copy()
        plus[j] += h
        minus[j] -= h
        forward, backward = (g(plus) - here) / h, (here - g(minus)) / h
        if np.max(np.abs(forward - backward), initial=0.0) > 1e-2 * scale:
            return False
    return True


def _overflows(f: Callable, args: list[Any]) -> bool:
    """Whether computing f at args overflows somewhere (`np.exp` of a large value) even
    though its value is finite (`np.tanh(np.exp(...))`): the derivative there is inf * 0,
    nan in every AD tool, while finite differences see a flat function.  Such a point
    is re-drawn, like a branch boundary."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(over="raise", divide="ignore", invalid="ignore", under="ignore"):
            try:
                f(*copy_args(args))
            except FloatingPointError:
                return True
            except Exception:
                return False
    return False


def _on_a_branch_boundary(mods, args: list[Any]) -> bool:
    """Whether a comparison of floats came out exactly at its boundary (x ** 2 > 0.0 at
    x = 0): there the point takes another branch than every point beside it.  A
    comparison exactly at its boundary whatever the inputs (`np.linspace(-1, 1, 3) > 0`)
    is not one: the gaps are compared with those at a point moved by 1e-7."""
    if mods.f_probed is None:
        return False

    def gaps(at: list[Any]) -> list[float] | None:
        del mods.probe_gaps[:]
        try:
            evaluate(mods.f_probed, at)
        except Timeout:
            raise
        except Exception:
            return None
        return list(mods.probe_gaps)

    here = gaps(args)
    if not here or min(here) >= 1e-9:
        return False
    x0 = flat(list(args), list(args))
    moved = np.random.default_rng(0).uniform(0.5, 1.0, x0.size) * 1e-7
    there = gaps(unflat(list(args), x0 + moved))
    if there is None or len(there) != len(here):
        return True  # the branches taken change within 1e-7
    return any(a < 1e-9 and b != a for a, b in zip(here, there))


def _install_alarm(seconds: float) -> bool:
    try:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        return True
    except (ValueError, AttributeError):  # not the main thread, or no SIGALRM
        return False


def _check(program, mods, rng, result, autograd, second_order, until, smooth) -> Result:
    fd = None
    args: list[Any] = []
    for attempt in range(8 if smooth else 1):
        zeros = bool(program.zero_args) and attempt < 4
        args = draw_inputs(program, rng, zeros)
        try:
            value = evaluate(mods.f, args)
        except Timeout:
            raise
        except Exception as error:
            result.outcome, result.stage = "invalid", "f(x)"
            result.detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            return result
        if not np.isfinite(value):
            continue
        if _overflows(mods.f, args):
            fd = FiniteDifferences(value, np.full(0, np.nan), False, "a value overflows")
            continue
        if smooth and _on_a_branch_boundary(mods, args):
            fd = FiniteDifferences(value, np.full(0, np.nan), False, "on a branch boundary")
            continue
        if not smooth:
            fd = FiniteDifferences(value, np.full(0, np.nan), True)
            break
        fd = finite_differences(mods.f, args)
        if fd.smooth:
            break
    if fd is None or not fd.smooth:
        result.outcome, result.detail = "skipped", fd.reason if fd else "no finite value"
        return result
    checker = Checker(program, mods, args, fd.value, fd.grad, rng)
    stages: list[tuple[str, Callable[[], None]]] = [
        ("grad", checker.stage_grad),
        ("variant", checker.stage_variant),
        ("value_and_grad", checker.stage_value_and_grad),
        ("vjp", checker.stage_vjp),
    ]
    if not program.has_containers:
        stages += [
            ("jacrev", checker.stage_jacrev),
            ("jacfwd", checker.stage_jacfwd),
            ("jvp", checker.stage_jvp),
        ]
    if autograd:
        stages.append(("autograd", checker.stage_autograd))
    if second_order and not program.has_containers:
        stages += [
            ("hessian", checker.stage_hessian),
            ("jacfwd(grad)", checker.stage_jacfwd_grad),
            ("jacrev(grad)", checker.stage_jacrev_grad),
            ("hvp", checker.stage_hvp),
        ]
    for name, stage in stages:
        failure = _run_stage(stage, mods.path, name in SECOND_ORDER, program)
        if failure is not None:
            result.outcome, result.stage = failure.outcome, name
            result.oracle, result.detail = failure.oracle, failure.detail
            break
        if name == until:
            break
    result.checks = tuple(checker.checks)
    return result


def _run_stage(stage, path: str, second_order: bool, program: Program) -> Failure | None:
    try:
        stage()
    except Failure as failure:
        return failure
    except CompileError as error:
        return _refusal(error, path, second_order, program)
    except Timeout:
        raise
    except Exception as error:
        frames = traceback.format_tb(error.__traceback__)[-3:]
        head = "".join(traceback.format_exception_only(type(error), error)).strip()
        return Failure("crash", "", head + "\n" + "".join(frames).rstrip())
    return None
