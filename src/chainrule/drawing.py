"""Drawing a gradient's circuit: nodes and edges to Graphviz DOT text, and rendering it.

`graph.py` decides what the picture shows (`Node`, `Edge`); this module only
writes it down: labels (values and gradients printed, arrays as shape and
range unless they are small), gate colours and the legend (`GATES`), the
DOT text (`to_dot`), and the `Graph` object that renders it with the
optional `graphviz` package and Graphviz's `dot` program.  It depends on
NumPy only.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

INSTALL_HINT = (
    "install Graphviz's `dot` program (apt-get install graphviz, brew install graphviz, "
    "conda install graphviz, or https://graphviz.org/download/) and the Python package "
    "(pip install 'chainrule[graph]'); meanwhile save the picture as .dot and render it "
    "with `dot -Tsvg picture.dot -o picture.svg`"
)

# gate kind -> (fill colour, what the legend says)
GATES: dict[str, tuple[str, str]] = {
    "add": ("#cfe3ff", "add gate: hands its gradient to every input unchanged"),
    "mul": ("#ffd9a8", "mul gate: each input gets the gradient times the other input"),
    "max": ("#c8efc8", "max gate: routes the gradient to the winning input"),
    "function": ("#e6d5f5", "function: multiplies by its local derivative"),
    "shape": ("#e8e8e8", "shape: moves each gradient back to where its value came from"),
    "input": ("#fff3b0", "input (bold: differentiated)"),
    "loss": ("#ffc2c2", "the loss: its gradient starts at 1"),
}
COPY_LEGEND = "copy gate (red border): a value used k times sums its k gradients"
GRADIENT_COLOUR = "#c0392b"


class GraphError(RuntimeError):
    """The picture cannot be made or saved (Graphviz missing, an unsupported format...)."""


@dataclass
class Node:
    """One operation (or input) of the picture, possibly several evaluations folded."""

    id: str
    text: str  # the operation as the user wrote it (`W1 @ x`), or the input's name
    rule: str  # the rule's name (`add gate`, `matmul`...); "" for inputs
    gate: str  # a key of GATES
    name: str | None  # the user variable it assigns, if any
    value: Any  # its output (the last evaluation when folded)
    grad: Any  # the total gradient of its output (summed when folded); None: none reaches it
    line: int | None = None
    runs: int = 1
    uses: int = 0  # outgoing edges: two or more make it a copy gate
    loss: bool = False
    wrt: bool = False
    cluster: tuple = ()


@dataclass
class Edge:
    """One use of a value: the forward value on the wire, and the partial gradient the
    consumer sends back along it (summed over folded evaluations)."""

    source: str
    target: str
    slot: str  # the rule parameter it binds (x, y, a...)
    value: Any
    grad: Any
    runs: int = 1


def fmt(value: Any, max_elements: int) -> str:
    if value is None:
        return "none"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufc":
        return type(value).__name__
    if arr.ndim == 0:
        v = arr.item()
        return str(v) if isinstance(v, int) else _num(v)
    if arr.size <= max_elements and arr.dtype.kind != "c":
        return _nested(arr.tolist())
    shape = "×".join(str(n) for n in arr.shape)
    if arr.dtype.kind == "c":
        return f"{shape} array"
    return f"{shape} values in [{_num(arr.min())}, {_num(arr.max())}]"


def _nested(items: Any) -> str:
    if isinstance(items, list):
        return "[" + ", ".join(_nested(i) for i in items) + "]"
    return str(items) if isinstance(items, (bool, int)) else _num(items)


def _num(v: Any) -> str:
    v = float(v)
    return "0" if v == 0 else f"{v:.3g}"


# -- DOT -----------------------------------------------------------------------------------


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _node_label(node: Node, max_elements: int) -> str:
    lines = []
    if node.gate == "input":
        lines.append(f"<B>{_esc(node.text)}</B>" + (" (input)" if node.wrt else " (data)"))
    else:
        head = f"<B>{_esc(node.name)}</B> = " if node.name else ""
        lines.append(head + _esc(node.text))
        lines.append(f'<FONT POINT-SIZE="9">{_esc(node.rule)}</FONT>')
    if node.loss:
        lines.insert(0, "<B>loss</B>")
    if node.loss or not node.uses:
        lines.append("value " + _esc(fmt(node.value, max_elements)))
    if node.uses > 1:
        lines.append(f'<FONT POINT-SIZE="9">copy gate: sums {node.uses} gradients</FONT>')
    if node.runs > 1:
        lines.append(f'<FONT POINT-SIZE="9">×{node.runs}</FONT>')
    grad = _esc(fmt(node.grad, max_elements))
    lines.append(f'<FONT COLOR="{GRADIENT_COLOUR}">grad {grad}</FONT>')
    return "<" + "<BR/>".join(lines) + ">"


def _node_line(node: Node, max_elements: int) -> str:
    fill = GATES["loss" if node.loss else node.gate][0]
    attrs = [f"label={_node_label(node, max_elements)}", f'fillcolor="{fill}"']
    if node.uses > 1:
        attrs.append(f'color="{GRADIENT_COLOUR}"')
        attrs.append("penwidth=2")
    elif node.wrt:
        attrs.append("penwidth=2")
    if node.loss:
        attrs.append("peripheries=2")
    return f"{node.id} [{', '.join(attrs)}];"


def _edge_line(edge: Edge, max_elements: int) -> str:
    value = _esc(fmt(edge.value, max_elements))
    grad = _esc(fmt(edge.grad, max_elements))
    runs = f" ×{edge.runs}" if edge.runs > 1 else ""
    label = f'<{value}{runs}<BR/><FONT COLOR="{GRADIENT_COLOUR}">{grad}</FONT>>'
    return f"{edge.source} -> {edge.target} [label={label}];"


def to_dot(
    nodes: list[Node],
    edges: list[Edge],
    clusters: dict[tuple, str],
    title: str,
    max_elements: int,
    legend: bool,
) -> str:
    out = [
        "digraph chainrule {",
        f'  graph [rankdir=LR, fontname="Helvetica", fontsize=12, labelloc=t, '
        f"nodesep=0.3, ranksep=0.45, label=<{_esc(title)}>];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, '
        'margin="0.08,0.04"];',
        '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];',
    ]
    by_cluster: dict[tuple, list[Node]] = {}
    for node in nodes:
        by_cluster.setdefault(node.cluster, []).append(node)

    def emit(prefix: tuple, indent: str) -> None:
        for node in by_cluster.get(prefix, []):
            out.append(indent + _node_line(node, max_elements))
        children = sorted(
            {
                c[: len(prefix) + 1]
                for c in by_cluster
                if len(c) > len(prefix) and c[: len(prefix)] == prefix
            },
            key=lambda p: [(-1 if i is None else i) for _, i in p],
        )
        for child in children:
            number = sum(1 for _ in out if "subgraph cluster_" in _)
            out.append(f"{indent}subgraph cluster_{number} {{")
            out.append(
                f'{indent}  label="{_esc(clusters[child])}"; style="dashed,rounded"; fontsize=10;'
            )
            emit(child, indent + "  ")
            out.append(indent + "}")

    emit((), "  ")
    for edge in edges:
        out.append("  " + _edge_line(edge, max_elements))
    if legend:
        used = {"loss" if n.loss else n.gate for n in nodes}
        rows = [
            f'<TR><TD BGCOLOR="{colour}" ALIGN="LEFT">{_esc(text)}</TD></TR>'
            for kind, (colour, text) in GATES.items()
            if kind in used
        ]
        if any(n.uses > 1 for n in nodes):
            rows.append(f'<TR><TD ALIGN="LEFT">{_esc(COPY_LEGEND)}</TD></TR>')
        rows.append(
            '<TR><TD ALIGN="LEFT">wires: forward value (black), gradient sent back '
            f'<FONT COLOR="{GRADIENT_COLOUR}">(red)</FONT></TD></TR>'
        )
        out.append(
            '  legend [shape=plaintext, style="", fontsize=9, label=<<TABLE BORDER="0" '
            'CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">' + "".join(rows) + "</TABLE>>];"
        )
    out.append("}")
    return "\n".join(out) + "\n"


# -- the object graph() returns ----------------------------------------------------------------


class Graph:
    """A picture of one evaluation of a function and its gradient (see `graph`)."""

    def __init__(
        self, nodes: list[Node], edges: list[Edge], dot: str, value: Any, grads: Any
    ) -> None:
        self.nodes = nodes
        self.edges = edges
        self.dot = dot  # the Graphviz source
        self.value = value  # f(*args)
        self.grads = grads  # what value_and_grad returns for the gradient

    def __repr__(self) -> str:
        return f"<chainrule.Graph: {len(self.nodes)} nodes, {len(self.edges)} edges>"

    def render(self, format: str = "svg") -> bytes:
        """The picture rendered by Graphviz's `dot` in `format` (svg, png, pdf...)."""
        try:
            import graphviz
        except ImportError:
            raise GraphError(
                f"rendering a graph as {format} needs the graphviz Python package and "
                f"Graphviz itself: {INSTALL_HINT}"
            ) from None
        try:
            return graphviz.Source(self.dot).pipe(format=format)
        except graphviz.ExecutableNotFound:
            raise GraphError(
                f"rendering a graph as {format} needs Graphviz's `dot` program, which was "
                f"not found: {INSTALL_HINT}"
            ) from None
        except (graphviz.CalledProcessError, ValueError) as exc:
            raise GraphError(f"Graphviz could not render the graph as {format}: {exc}") from None

    def save(self, path: str | os.PathLike) -> str:
        """Write the picture to `path`; its extension picks the format (.svg, .png, .pdf,
        or .dot/.gv for the Graphviz source, which needs no Graphviz).  Returns the path."""
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lower().lstrip(".")
        if ext in ("dot", "gv"):
            with open(path, "w", encoding="utf-8") as out:
                out.write(self.dot)
            return path
        if ext not in ("svg", "png", "pdf", "jpg", "jpeg", "gif"):
            raise GraphError(
                f"cannot save a graph as {path!r}: use a name ending in .svg, .png, .pdf or .dot"
            )
        data = self.render(ext)
        with open(path, "wb") as out:
            out.write(data)
        return path

    def _repr_svg_(self) -> str | None:
        """Inline display in Jupyter (None, so the text repr shows, without Graphviz)."""
        try:
            return self.render("svg").decode("utf-8")
        except GraphError:
            return None
