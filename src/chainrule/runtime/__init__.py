"""Small helpers that generated gradient code calls.

Derivative templates use these where a rule needs more than one NumPy
expression.  Each helper depends on NumPy alone and is self-contained, so an
exported gradient module can carry a copy of the ones it uses and run
without chainrule installed.  They never modify their arguments.

The helpers are written in four modules, by the rules that use them
(`MODULES`, in the order an exported module lists their definitions), and
all of them live here: generated code imports them from `chainrule.runtime`,
and `__all__` lists them.
"""

from __future__ import annotations

from . import gradients, linalg, shapes, tangents
from .gradients import (
    add_lists,
    cumprod_grad,
    expand_to,
    index_grad,
    kept_writes,
    old_value,
    power_term,
    prod_grad,
    record_grad,
    reduce_extreme_grad,
    restore_axes,
    seed_gradient,
    select_grad,
    stored_tangent,
    unbroadcast,
    unpack_grad,
    zeros_like_item,
    zeros_like_list,
)
from .linalg import (
    diag_grad,
    diagonal_grad,
    dot_grad_left,
    dot_grad_right,
    einsum_grad,
    inner_grad_left,
    inner_grad_right,
    matmul_grad_left,
    matmul_grad_right,
    norm_grad,
    solve_grad_a,
    solve_transposed,
    tensordot_grad_left,
    tensordot_grad_right,
)
from .shapes import (
    cast_grad,
    join_like,
    split_like,
    stop_gradient,
    take_grad,
    unrepeat,
    untile,
    untranspose,
)
from .tangents import (
    broadcast_like,
    cumprod_jvp,
    einsum_grad_jvp,
    einsum_jvp,
)

__all__ = [
    "stop_gradient",
    "unbroadcast",
    "seed_gradient",
    "add_lists",
    "old_value",
    "kept_writes",
    "stored_tangent",
    "unpack_grad",
    "record_grad",
    "join_like",
    "zeros_like_item",
    "zeros_like_list",
    "power_term",
    "restore_axes",
    "expand_to",
    "index_grad",
    "select_grad",
    "reduce_extreme_grad",
    "prod_grad",
    "cumprod_grad",
    "matmul_grad_left",
    "matmul_grad_right",
    "tensordot_grad_left",
    "tensordot_grad_right",
    "dot_grad_left",
    "dot_grad_right",
    "inner_grad_left",
    "inner_grad_right",
    "einsum_grad",
    "diagonal_grad",
    "diag_grad",
    "solve_transposed",
    "solve_grad_a",
    "norm_grad",
    "untranspose",
    "split_like",
    "untile",
    "unrepeat",
    "cast_grad",
    "take_grad",
    "broadcast_like",
    "cumprod_jvp",
    "einsum_jvp",
    "einsum_grad_jvp",
]

MODULES = (gradients, linalg, shapes, tangents)

# Their home is this package: generated code imports them from chainrule.runtime
# (codegen names a helper's module in its import line), and the cache finds them here.
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
