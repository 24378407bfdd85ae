"""The constructs the generator produces, and what the docs promise for each.

Every generated program is tagged with the names of the constructs it uses, so
that a run can be tallied per construct and so that a refusal can be judged:
a `CompileError` is only acceptable when the program contains a construct the
docs (docs/subset.md, docs/control-flow.md, docs/functions-and-containers.md,
docs/forward-mode.md) say may or must be refused.  The status lives here, in
one table, so that the generator and the classifier cannot disagree about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Status(Enum):
    """What the docs promise for a construct."""

    SUPPORTED = "supported"  # must compile and agree with the oracles
    MAY_REFUSE = "may-refuse"  # agree, or a located CompileError: both are fine
    MUST_REFUSE = "must-refuse"  # a documented refusal: a located CompileError is expected


@dataclass(frozen=True)
class Construct:
    status: Status
    doc: str
    # Second derivatives (hessian, hvp, jacfwd/jacrev of grad) may be refused
    # where docs/forward-mode.md says so, even for first-order-supported constructs.
    second_order: Status | None = None

    def status_for(self, second_order: bool) -> Status:
        if second_order and self.second_order is not None:
            return self.second_order
        return self.status


S, MAY, MUST = Status.SUPPORTED, Status.MAY_REFUSE, Status.MUST_REFUSE

CONSTRUCTS: dict[str, Construct] = {
    # straight-line code
    "arith": Construct(S, "+ - * / between values, with broadcasting"),
    "neg": Construct(S, "unary minus"),
    "pow-int": Construct(S, "integer powers ** 2, ** 3"),
    "pow-at-zero": Construct(S, "x ** 0, x ** 1, x ** 2 of an argument drawn with exact zeros"),
    "elementwise": Construct(S, "np.sin/cos/tanh/exp/square"),
    "log-sqrt": Construct(S, "np.log and np.sqrt of positive values"),
    "abs-max-min": Construct(S, "np.abs, np.maximum, np.minimum (kinks)"),
    "where": Construct(S, "np.where with a comparison"),
    "reduce": Construct(S, "np.sum, np.mean, .sum(), .mean(), axis sums"),
    "max-reduce": Construct(S, "np.max of an array"),
    "dot": Construct(S, "@, np.dot, x.dot, np.matmul, np.outer"),
    "transpose": Construct(S, ".T"),
    "reshape": Construct(S, "np.reshape / .reshape / np.ravel"),
    "concat-stack": Construct(
        S, "np.concatenate((a, b)), np.r_[a, b], np.stack([a, b]) inside a call"
    ),
    "index": Construct(S, "x[0], x[-1], M[i, j], M[i], M[:, j]"),
    "slice": Construct(S, "x[1:], x[:k]"),
    "fancy-read": Construct(S, "x[[0, 0, 2]]: integer-array indices, repeated"),
    "mask-read": Construct(S, "x[x > c]: boolean masks"),
    "reuse": Construct(S, "one value read several times in an expression"),
    "ifexp": Construct(S, "conditional expressions a if c else b"),
    "name-clash": Construct(S, "user names that generated code also uses (dx, stack, t1...)"),
    # assignment
    "reassign": Construct(S, "a local name assigned again"),
    "reassign-arg": Construct(S, "an argument assigned again (x = x * 2)"),
    "augassign": Construct(S, "+= -= *= on a name"),
    "chain-assign": Construct(S, "a = b = expr"),
    "annotated": Construct(S, "r: np.ndarray = expr"),
    "swap": Construct(S, "a, b = b, a"),
    "unpack-array": Construct(S, "a, b = x: the rows of an array"),
    "list-slot-carry": Construct(
        S, "a list slot written in a loop, read by the next iteration only (or a recurrence)"
    ),
    "list-comprehension": Construct(S, "[f(e) for e in x]: written out as the loop it is"),
    "sum-generator": Construct(S, "sum(f(e) for e in x if c): an accumulation loop"),
    "list-unpack": Construct(S, "u, w = hs: a list of differentiated values unpacked"),
    "nested-unpack-array": Construct(S, "(a, b), r = m: rows of a computed array unpacked again"),
    "assert-pass": Construct(S, "assert and pass statements"),
    "walrus": Construct(S, "(y := expr) in an if test or an assignment"),
    # control flow
    "if": Construct(S, "if statement"),
    "elif-else": Construct(S, "elif / else branches"),
    "if-defines": Construct(S, "a name first assigned in every branch of an if"),
    "early-return": Construct(S, "if c: return ... before the end of the function"),
    "if-return-chain": Construct(S, "if/elif/else at the end, every branch returning"),
    "for-range": Construct(S, "for i in range(k)"),
    "range-step": Construct(S, "range(a, b, step), negative steps, len(...) bounds"),
    "range-empty": Construct(S, "a range loop with zero iterations"),
    "iter-array": Construct(S, "for v in x over the elements of a vector"),
    "iter-rows": Construct(S, "for row in M over the rows of a matrix"),
    "iter-expr": Construct(S, "for r in <computed array>"),
    "enumerate": Construct(S, "for i, v in enumerate(x)"),
    "zip": Construct(S, "for a, b in zip(x, y)"),
    "while": Construct(S, "while loop with a counter"),
    "while-true": Construct(S, "while True: ... break"),
    "loop-carried": Construct(S, "a value updated from its previous iteration"),
    "loop-overwrite": Construct(S, "a name assigned in a loop without reading it, read after"),
    "index-loopvar": Construct(S, "x[i] with a loop index"),
    "index-arith": Construct(S, "a loop index used in float arithmetic"),
    "nested-loop": Construct(S, "a loop inside a loop"),
    "loop-depth-3": Construct(S, "three nested loops"),
    "break": Construct(S, "break"),
    "continue": Construct(S, "continue"),
    "return-in-loop": Construct(S, "return inside a loop"),
    # arrays the function made
    "array-write-int": Construct(S, "out[i] = v into an array the function made"),
    "array-write-2d": Construct(S, "out[i, j] = v"),
    "array-write-slice": Construct(S, "out[1:] = v"),
    "array-write-fancy": Construct(S, "out[[0, 0, 2]] = v with a repeated index"),
    "array-write-loop": Construct(S, "out[i] = v in a loop"),
    "array-write-add-at": Construct(S, "np.add.at(out, [0, 0, 2], v): repeats accumulate"),
    "array-write-fill-diagonal": Construct(S, "np.fill_diagonal(out, v): a write of the diagonal"),
    "array-write-arith": Construct(S, "writing into the result of arithmetic (y = x * 2)"),
    "array-write-copy": Construct(S, "writing into x.copy()"),
    "array-write-aug": Construct(S, "out[i] += v (reads before writing)", second_order=MAY),
    "array-write-after-read": Construct(
        S, "a write into an array already read (docs/forward-mode.md: no hessian)", second_order=MAY
    ),
    "view-inplace": Construct(MAY, "a view (reshape, .T, y[1:]) written or updated in place"),
    "int-array-write": Construct(MAY, "floats written into an integer array"),
    "list-reference": Construct(
        MAY, "hs.append(h), then h or hs[-1] changed in place: the list holds the same array"
    ),
    "alias-update": Construct(
        MAY, "v = a (or a if c else a), then v += e, a used later: docs refuse z = y; z += 1"
    ),
    "element-read-alias": Construct(
        MAY, "s = out[1, 2] or y = out[[0, 0]] (copies), then s or out updated in place"
    ),
    # lists
    "list-append": Construct(S, "hs = [] and hs.append(v)"),
    "list-index": Construct(S, "hs[0], hs[-1], hs[i]"),
    "list-setitem": Construct(S, "hs[i] = v"),
    "list-stack": Construct(S, "np.stack(hs), np.array(hs)"),
    "list-len": Construct(S, "len(hs)"),
    "list-iter": Construct(S, "for h in hs"),
    # functions
    "local-def": Construct(S, "a def inside the function"),
    "module-def": Construct(S, "a module-level helper"),
    "helper-chain": Construct(S, "a helper calling a helper"),
    "helper-loop": Construct(S, "a loop inside a helper"),
    "helper-return": Construct(S, "an early return inside a helper"),
    "helper-tuple": Construct(S, "a helper returning a tuple, unpacked"),
    "call-keyword": Construct(S, "a helper called with a keyword argument"),
    "call-default": Construct(S, "a helper called relying on a default"),
    "closure": Construct(S, "a local def reading the enclosing function's argument"),
    "lambda": Construct(S, "a lambda assigned to a name and called"),
    "lambda-const": Construct(S, "a lambda called with a constant"),
    "lambda-in-test": Construct(S, "a lambda called in an if test"),
    "lambda-default": Construct(S, "a lambda with a default parameter"),
    "module-lambda": Construct(S, "a module-level lambda called by the function"),
    "lambda-entry": Construct(S, "the differentiated function is a lambda"),
    "nested-lambda": Construct(S, "the differentiated function is a lambda made by a lambda"),
    "method-entry": Construct(S, "the differentiated function is a bound method"),
    # containers
    "dict-param": Construct(S, "a dict argument p['w']"),
    "tuple-param": Construct(S, "a tuple argument, indexed or unpacked"),
    "nested-param": Construct(S, "a dict of dicts argument"),
    "tuple-build": Construct(S, "a tuple built in the function, indexed or unpacked"),
    "nested-unpack": Construct(S, "(u, w), z = pr: nested unpacking of a built tuple"),
    "dict-build": Construct(S, "a dict built in the function, indexed"),
    # generated with the documented refusals below; supported since (issue 15)
    "write-arg": Construct(S, "writing into an argument, x[0] = v (on a private copy)"),
    "write-other-arg": Construct(
        S,
        "writing into an argument that second-order checks (argnums=0) do not differentiate",
        second_order=MAY,  # refused: only differentiated arguments are copied (docs/subset.md)
    ),
    "list-display": Construct(S, "parts = [a, b] stored in a variable"),
    # documented refusals, generated on purpose: a located CompileError is expected
    "dict-comprehension": Construct(MUST, "a dict comprehension over differentiated values"),
    "for-else": Construct(MUST, "for ... else"),
    "walrus-conditional": Construct(MUST, "(w := expr) inside a conditional expression"),
}


def status_of(constructs: frozenset[str] | set[str], second_order: bool = False) -> Status:
    """The strictest promise a program can be held to: any MUST beats any MAY beats SUPPORTED."""
    statuses = {CONSTRUCTS[c].status_for(second_order) for c in constructs}
    for status in (Status.MUST_REFUSE, Status.MAY_REFUSE):
        if status in statuses:
            return status
    return Status.SUPPORTED
