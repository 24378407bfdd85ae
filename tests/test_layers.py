"""The package is a pipeline of layers, and every module imports only from lower layers.

`LAYERS` lists every module of src/chainrule, lowest layer first.  The test
reads every `import` in the package (function bodies and conditional imports
included), and fails on an import from the same or a higher layer, on a
module missing from the table, and on a cycle.  A new module goes into the
table where its imports put it; `FUTURE` holds the places kept for modules
other branches are adding.
"""

from __future__ import annotations

import ast
from pathlib import Path

import chainrule

PACKAGE = Path(chainrule.__file__).resolve().parent

LAYERS: list[tuple[str, list[str]]] = [
    ("foundations: no imports from the package", ["errors", "version", "recording"]),
    ("the runtime helpers of generated code", ["runtime.gradients", "runtime.shapes"]),
    ("the runtime helpers of linear algebra", ["runtime.linalg"]),
    ("the runtime helpers of forward mode", ["runtime.tangents"]),
    (
        "the runtime helpers of factorizations, signals and banded matrices",
        ["runtime.decompositions", "runtime.signals", "runtime.banded"],
    ),
    ("the runtime", ["runtime"]),
    ("the data the stages pass each other", ["ir"]),
    ("data-flow facts", ["flow"]),
    ("the rule registry", ["rules.registry"]),
    (
        "the rules",
        [
            "rules.arithmetic",
            "rules.elementary",
            "rules.builtin_math",
            "rules.decompositions",
            "rules.helpers",
            "rules.indexing",
            "rules.linalg",
            "rules.reductions",
            "rules.shapes",
            "rules.signals",
            "rules.scipy_special",
            "rules.scipy_stats",
            "rules.scipy_multivariate",
            "rules.scipy_linalg",
        ],
    ),
    ("the rule library", ["rules"]),
    ("parse", ["parse"]),
    ("analysis: activity, aliasing, dims", ["activity", "aliasing", "dims"]),
    ("analysis: shape facts", ["shapes"]),
    (
        "normalize: the shared state, refusals, jumps",
        ["normalize.core", "normalize.advice", "normalize.jumps"],
    ),
    ("normalize: comprehensions as loops", ["normalize.comprehensions"]),
    (
        "normalize: the collaborators",
        [
            "normalize.statements",
            "normalize.loops",
            "normalize.assignments",
            "normalize.writes",
            "normalize.expressions",
            "normalize.containers",
            "normalize.inlining",
        ],
    ),
    ("normalize", ["normalize"]),
    ("templates", ["templates"]),
    ("the transformation interface", ["transformation"]),
    ("what derivative transformations share", ["derivatives"]),
    ("reverse mode: gradients", ["reverse.gradients"]),
    ("reverse mode: in-place changes", ["reverse.writes"]),
    ("reverse mode: the interpreter", ["reverse.reverser"]),
    ("reverse mode: the generated function", ["reverse.emit"]),
    ("reverse mode: the transformations", ["reverse.modes"]),
    ("transformations", ["reverse", "forward"]),
    ("optimize", ["optimize", "saved_values"]),
    ("optimize: textbook forms", ["fusions"]),
    ("codegen", ["codegen"]),
    ("the compiled record", ["compiled"]),
    ("guards", ["guards"]),
    ("cache trust, exported modules' self-check", ["cache_trust", "export_check"]),
    ("the persistent cache: files", ["cache_disk"]),
    ("the persistent cache", ["cache"]),
    ("the pipeline", ["pipeline"]),
    ("argument checks, highlighting", ["arguments", "highlight"]),
    ("Jacobians: tuple outputs, a Jacobian of a Jacobian", ["jacobians"]),
    ("compiling functions that return tuples", ["packing"]),
    ("the public transformations", ["api"]),
    ("testing", ["testing"]),
    ("drawing pictures (DOT text)", ["drawing"]),
    (
        "exported modules: the runtime copied, variants and their dispatch",
        ["export_runtime", "export_variants"],
    ),
    ("export, demo, pictures of gradients", ["exporting", "demo", "graph"]),
    ("the cache and verify commands, the inputs of check", ["cli_cache", "cli_inputs"]),
    ("the command line, Dask's worker side", ["cli", "dask_tasks"]),
    ("scale-out with Dask", ["dask"]),
    ("entry points", ["__main__", ""]),
]

# modules other branches are adding, with their place kept in the table
FUTURE: set[str] = set()


def module_names() -> set[str]:
    """Every module of the package, dotted, relative to it ("" is the package itself)."""
    out = set()
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.add(".".join(parts))
    return out


def imports_of(name: str, modules: set[str]) -> set[str]:
    """The modules of the package that module `name` imports, anywhere in its text."""
    folder = PACKAGE.joinpath(*name.split(".")) if name else PACKAGE
    is_package = (folder / "__init__.py").exists()
    path = folder / "__init__.py" if is_package else folder.with_suffix(".py")
    here = name.split(".") if name else []
    if not is_package:
        here = here[:-1]  # the package the module is in
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "chainrule" or alias.name.startswith("chainrule."):
                    found.add(alias.name[len("chainrule.") :] if "." in alias.name else "")
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module is None or not (
                    node.module == "chainrule" or node.module.startswith("chainrule.")
                ):
                    continue
                base = node.module.split(".")[1:]
            else:
                base = here[: len(here) - (node.level - 1)] + (
                    node.module.split(".") if node.module else []
                )
            target = ".".join(base)
            for alias in node.names:  # `from . import runtime` imports the module runtime
                sub = ".".join([*base, alias.name])
                found.add(sub if sub in modules else target)
    return found - {name}


def layer_of() -> dict[str, int]:
    out: dict[str, int] = {}
    for i, (_, names) in enumerate(LAYERS):
        for name in names:
            assert name not in out, f"{name!r} is listed twice in LAYERS"
            out[name] = i
    return out


def test_every_module_has_a_layer():
    layers = layer_of()
    modules = module_names()
    missing = sorted(modules - set(layers))
    assert not missing, f"modules missing from LAYERS (add them where they belong): {missing}"
    stale = sorted(set(layers) - modules - FUTURE)
    assert not stale, f"LAYERS names modules that do not exist: {stale}"


def test_modules_import_only_from_lower_layers():
    layers = layer_of()
    modules = module_names()
    wrong = []
    for name in sorted(modules):
        for target in sorted(imports_of(name, modules)):
            if layers[target] >= layers[name]:
                wrong.append(
                    f"{name or 'chainrule'} (layer {layers[name]}: {LAYERS[layers[name]][0]}) "
                    f"imports {target or 'chainrule'} (layer {layers[target]}: "
                    f"{LAYERS[layers[target]][0]})"
                )
    assert not wrong, "imports that do not go down:\n" + "\n".join(wrong)


def test_the_import_graph_has_no_cycle():
    modules = module_names()
    graph = {name: imports_of(name, modules) for name in modules}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target] if target in path else [name, target]
                shown = " -> ".join(n or "chainrule" for n in cycle)
                raise AssertionError(f"import cycle: {shown}")
            if target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(modules):
        if name not in state:
            visit(name, [name])


def test_imports_are_found_in_function_bodies_too():
    """The reader sees imports anywhere: the old cycle hid behind function-local imports."""
    modules = module_names()
    assert "templates" in imports_of("reverse.reverser", modules)
    assert "ir" in imports_of("rules.arithmetic", modules)
