"""What a generated program has in scope at one point: values, lists, functions, loop indices.

The generator never emits a name it has not put here first, with its shape and
a bound on its magnitude, so every program it writes runs, and the values stay
small enough that finite differences are accurate.  Child scopes (loop bodies,
branches) copy the dicts; `Value` objects are replaced, never changed, except
for the `read` flag, which is shared on purpose so that a read inside a loop
counts for the enclosing block too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

Shape = tuple[int, ...]

# Arguments are drawn uniformly in [-ARG_BOUND, ARG_BOUND].
ARG_BOUND = 1.2
# Arguments of helpers are squashed below this before the call.
PARAM_BOUND = 2.0


@dataclass
class Value:
    """A name (or a read of a container argument, p["w"]) bound to a float or an array."""

    text: str
    shape: Shape
    bound: float
    fresh: bool = False  # owns its array: an in-place update touches no other name
    arg: bool = False  # an argument (or a leaf of one): never written into
    made: bool = False  # an array the function made (np.zeros, x.copy(), arithmetic)
    read: bool = False  # `made` and read since: a later write is "write after read"
    fixed: bool = False  # not a plain name (a container read): cannot be assigned
    # NumPy copies on x[0] and x[[0, 0]]; chainrule may count `s = out[0]` as sharing `out`
    copied: bool = False  # another name holds a copy of some of its elements
    copied_from: str | None = None  # this name holds a copy of elements of that one
    integer: bool = False  # an integer array (np.arange): never copied into a float workspace
    held: bool = False  # another name, a list or a tuple holds (a view of) this array


@dataclass
class ListValue:
    name: str
    elem: Shape
    min_len: int  # how many elements it certainly has here
    bound: float


@dataclass
class Func:
    """A helper the program can call: a lambda, a local def or a module-level def."""

    name: str
    params: list[tuple[str, Shape | None]]  # None: any shape (an elementwise body)
    default: tuple[str, float] | None  # a trailing scalar parameter with its default
    result: Shape | None  # None: the shape of the first argument
    bound: float
    kind: str  # "lambda", "local-def", "module-def", "module-lambda"
    tuple_result: tuple[Shape, Shape] | None = None  # a helper returning a pair
    tags: set[str] = field(default_factory=set)  # constructs its body uses: counted when called


@dataclass
class Scope:
    values: dict[str, Value] = field(default_factory=dict)
    lists: dict[str, ListValue] = field(default_factory=dict)
    funcs: dict[str, Func] = field(default_factory=dict)
    ints: dict[str, list[int]] = field(default_factory=dict)  # loop index -> values it takes

    def child(self) -> Scope:
        return Scope(dict(self.values), dict(self.lists), dict(self.funcs), dict(self.ints))

    def of_shape(self, shape: Shape) -> list[Value]:
        return [v for v in self.values.values() if v.shape == shape]

    def assignable(self) -> list[Value]:
        return [v for v in self.values.values() if not v.fixed]

    def set(self, value: Value) -> None:
        self.values[value.text] = value

    def merge_branch(self, branch: Scope) -> None:
        """After a branch or a loop: keep this scope's names, with the worst bounds seen."""
        for name, value in list(self.values.items()):
            other = branch.values.get(name)
            if other is not None and other is not value:
                self.values[name] = replace(
                    value,
                    bound=max(value.bound, other.bound),
                    fresh=value.fresh and other.fresh,
                    arg=value.arg and other.arg,
                    made=value.made and other.made and other.text == value.text,
                    copied=value.copied or other.copied,
                    held=value.held or other.held,
                    copied_from=value.copied_from or other.copied_from,
                )
        for name, lst in list(self.lists.items()):
            other_list = branch.lists.get(name)
            if other_list is not None and other_list is not lst:
                self.lists[name] = replace(
                    lst,
                    bound=max(lst.bound, other_list.bound),
                    min_len=min(lst.min_len, other_list.min_len),
                )


@dataclass
class Context:
    """Per-program generation state: the random source, the dimensions, the tags used."""

    rng: random.Random
    n: int  # length of the main vector argument
    m: int  # rows of the matrix argument
    tags: set[str] = field(default_factory=set)
    counter: int = 0
    may_refuse: bool = False  # this program may use constructs the docs allow to be refused
    # lines of may- or must-refuse constructs: the only lines a refusal may point at
    excusable: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)  # every name handed out: names never repeat
    # the names holding the first argument (or its leaves): the only one second-order checks
    # differentiate (argnums=0), so the only one they copy before a write into it
    first_arg: set[str] = field(default_factory=set)

    def fresh_name(self, prefix: str = "v") -> str:
        """A name not used anywhere else in the program (sometimes one generated code uses)."""
        self.counter += 1
        clash = self.rng.choice(CLASH_NAMES)
        if self.rng.random() < 0.04 and clash not in self.used:
            self.tags.add("name-clash")
            name = clash
        else:
            name = f"{prefix}{self.counter}"
        self.used.add(name)
        return name

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, items: list):
        return self.rng.choice(items)

    def const(self) -> str:
        return self.rng.choice(["0.5", "0.3", "1.5", "2.0", "0.7", "-0.4", "0.25"])


# Names the generated code uses for itself: a user's variable of the same name must not collide.
CLASH_NAMES = [
    "dx",
    "stack",
    "result",
    "returned",
    "t1",
    "t2",
    "t3",
    "broke",
    "iterations",
    "value",
    "dt1",
]
