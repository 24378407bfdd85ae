"""Stage 7, codegen: from AST to readable source, and from source to a function.

Rendering uses astor, as designed; when astor cannot render a node (or the
environment variable CHAINRULE_RENDERER=unparse asks for it) we fall back to
`ast.unparse`.  astor's import-time DeprecationWarnings on Python 3.12+ are
kept away from users.

Comments do not exist in Python's AST, so the other stages insert marker
statements (`ir.comment(text)`) that are turned into `# text` lines after
rendering.

The function we hand back is built from the rendered text itself, so what
the user reads is what runs:

* names the user's function reads from its module (np, data, helpers) are
  looked up in the *live* module dict, exactly as in the original function;
* helpers that derivative templates use (unbroadcast, ...) and the user's
  closure variables reach it as closure cells, which are as fast to read as
  locals;
* the text is registered with linecache, so tracebacks and debuggers show
  the generated lines.
"""

from __future__ import annotations

import ast
import hashlib
import linecache
import os
import types
import warnings
from dataclasses import dataclass, field
from typing import Any

from .ir import COMMENT_MARK, GENERATED_ORIGINS, Parsed, facts_of, is_comment, user_location
from .version import __version__

_astor: Any = None


def _load_astor() -> Any:
    global _astor
    if _astor is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ast.Num & co. are deprecated on 3.12+
            try:
                import astor  # noqa: PLC0415
            except ImportError:  # pragma: no cover - astor is a dependency
                astor = False
        _astor = astor
    return _astor


def renderer() -> str:
    """Which renderer is in use: "astor" or "unparse"."""
    if os.environ.get("CHAINRULE_RENDERER", "").lower() == "unparse" or not _load_astor():
        return "unparse"
    return "astor"


def _to_source(node: ast.AST) -> str:
    if renderer() == "astor":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return _astor.to_source(node)
        except Exception:  # astor does not know every node of newer Pythons
            pass
    return ast.unparse(ast.fix_missing_locations(node)) + "\n"


def _fill_empty_blocks(node: ast.AST) -> None:
    """A block holding only comments is empty to Python: give it a `pass`."""
    for sub in ast.walk(node):
        for block_field in ("body", "orelse", "finalbody"):
            block = getattr(sub, block_field, None)
            if isinstance(block, list) and block and all(is_comment(s) for s in block):
                block.append(ast.Pass())


def render(module: ast.Module) -> str:
    """Render a module, turning comment markers into comments."""
    _fill_empty_blocks(module)
    texts: list[str] = []
    for node in ast.walk(module):
        text = facts_of(node).comment_text
        if text is not None and isinstance(node, ast.Expr) and isinstance(node.value, ast.Name):
            node.value.id = f"{COMMENT_MARK}{len(texts)}"
            texts.append(text)
    source = _to_source(module)
    lines = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(COMMENT_MARK):
            indent = line[: len(line) - len(line.lstrip())]
            index = int(stripped[len(COMMENT_MARK) :])
            lines.append(f"{indent}# {texts[index]}")
        else:
            lines.append(line)
    return _tidy("\n".join(lines)) + "\n"


def _tidy(source: str) -> str:
    """Blank line before each comment that opens a block of the backward pass."""
    out: list[str] = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if (
            stripped.startswith("# ")
            and out
            and not out[-1].lstrip().startswith("#")
            and not out[-1].rstrip().endswith(":")
            and out[-1].strip()
        ):
            out.append("")
        out.append(line)
    return "\n".join(out)


def from_import_lines(grouped: dict[str, list[str] | set[str]]) -> list[str]:
    """`from module import a, b as c` lines, sorted, wrapped when long."""
    lines = []
    for module in sorted(grouped):
        names = sorted(grouped[module])
        line = f"from {module} import {', '.join(names)}"
        if len(line) > 88:
            line = f"from {module} import (\n" + "".join(f"    {n},\n" for n in names) + ")"
        lines.append(line)
    return lines


def import_lines(
    cells: dict[str, Any], free_globals: dict[str, Any], user_module: str | None
) -> list[str]:
    """Import lines that make the displayed source a standalone module."""
    plain: list[str] = []
    grouped: dict[str, list[str]] = {}
    notes: list[str] = []
    for name, obj in list(cells.items()) + list(free_globals.items()):
        if isinstance(obj, types.ModuleType):
            module = obj.__name__
            plain.append(f"import {module}" if module == name else f"import {module} as {name}")
            continue
        module = getattr(obj, "__module__", None)
        qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
        if name in free_globals and user_module and user_module != "__main__":
            module, qual = user_module, name
        if (
            module
            and qual
            and "<" not in qual
            and "." not in qual
            and (module == "chainrule.runtime" or not module.startswith("chainrule"))
        ):
            grouped.setdefault(module, []).append(name if qual == name else f"{qual} as {name}")
            continue
        notes.append(f"# {name}: a global of the differentiated function's module")
    return sorted(plain) + from_import_lines(grouped) + notes


def _free_globals(node: ast.AST, cells: dict[str, Any], parsed: Parsed) -> dict[str, Any]:
    local: set[str] = set()
    loaded: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            (loaded if isinstance(sub.ctx, ast.Load) else local).add(sub.id)
        elif isinstance(sub, ast.arg):
            local.add(sub.arg)
        elif isinstance(sub, ast.FunctionDef):
            local.add(sub.name)
    out = {}
    for name in sorted(loaded - local - set(cells) - set(parsed.cells)):
        if name in parsed.globals:
            out[name] = parsed.globals[name]
    return out


def _shown_cells(parsed: Parsed, used: set[str]) -> dict[str, Any]:
    """Closure cells holding modules or chainrule's helpers (code chainrule generated,
    transformed again): they get import lines like the bindings of templates."""
    out = {}
    for name, cell in parsed.cells.items():
        try:
            obj = cell.cell_contents
        except ValueError:
            continue
        module = getattr(obj, "__module__", None) or ""
        if name in used and (isinstance(obj, types.ModuleType) or module == "chainrule.runtime"):
            out[name] = obj
    return out


def generate(
    parsed: Parsed,
    funcdef: ast.FunctionDef,
    cells: dict[str, Any],
    label: str,
    defaults: tuple | None,
    note: str = "",
) -> Built:
    """Render a generated `def` and build the function, for any transformation.

    `cells` are the objects the generated code may reach by name (inlined
    helpers' bindings, then the templates'); those it uses become closure
    cells and import lines.  `label` says what the code is ("grad",
    "forward mode (jvp)"), for the header line; `note` (lines) follows it as
    comments (what a variant is specialised on).
    """
    module = ast.Module(body=[funcdef], type_ignores=[])
    ast.fix_missing_locations(module)
    used = {n.id for n in ast.walk(funcdef) if isinstance(n, ast.Name)}
    cells = {name: obj for name, obj in cells.items() if name in used}
    globals_used = _free_globals(funcdef, cells, parsed)
    header = (
        f"Generated by chainrule {__version__}: {label} of {parsed.func.__name__} "
        f"({parsed.filename}:{parsed.node.lineno}). Edit the original, not this."
    )
    if note:
        header += "\n" + note
    imports = import_lines(
        {**cells, **_shown_cells(parsed, used)}, globals_used, parsed.globals.get("__name__")
    )
    return build_function(
        module, funcdef.name, imports, cells, parsed.cells, parsed.globals, defaults, header, parsed
    )


@dataclass
class Built:
    function: Any
    source: str
    filename: str
    # generated line -> the user's (file, line, column, text) it came from
    line_map: dict[int, tuple[str, int, int, str]] = field(default_factory=dict)


def _line_origins(
    module: ast.Module, source: str, parsed: Parsed
) -> dict[int, tuple[str, int, int, str]]:
    """Which user line each generated statement came from, by generated line number.

    The rendered text is parsed again and its statements paired, in order, with
    the ones we rendered (comments are not statements in the text); if the two
    do not pair up, no map (errors then point at the generated line itself).
    """
    try:
        rendered = ast.parse(source)
    except SyntaxError:  # pragma: no cover - we rendered it
        return {}
    ours = [n for n in ast.walk(module) if isinstance(n, ast.stmt) and not is_comment(n)]
    theirs = [n for n in ast.walk(rendered) if isinstance(n, ast.stmt)]
    theirs = [n for n in theirs if not isinstance(n, (ast.Import, ast.ImportFrom))]
    if len(ours) != len(theirs) or any(type(a) is not type(b) for a, b in zip(ours, theirs)):
        return {}
    found: dict[int, tuple[str, int, int, str]] = {}
    for mine, shown in zip(ours, theirs):
        record = facts_of(mine)
        origin, scope = record.origin, record.scope
        if origin is None and record.derived_from is not None:
            origin = facts_of(record.derived_from).origin
            scope = facts_of(record.derived_from).scope
        lineno = getattr(origin, "lineno", None)
        if not lineno or shown.lineno in found:
            continue
        scope = scope or parsed
        place = user_location(scope.filename, lineno)  # code generated from generated code
        if place is None:
            text = scope.lines[lineno - 1] if 0 < lineno <= len(scope.lines) else ""
            place = (scope.filename, lineno, getattr(origin, "col_offset", 0), text)
        found[shown.lineno] = place
    return found


def build_function(
    module: ast.Module,
    name: str,
    imports: list[str],
    cells: dict[str, Any],
    user_cells: dict[str, Any],
    user_globals: dict,
    defaults: tuple | None,
    label: str,
    parsed: Parsed | None = None,
) -> Built:
    """Render `module` (one FunctionDef named `name`) and turn it into a function,
    below the comment lines of `label` and the import lines.

    `imports` are the lines that make the displayed source a standalone
    module; in the executed version they are replaced by closure cells
    (`cells`, objects by name) so that names keep their meaning.
    """
    body = render(module)
    display = [*(f"# {line}" for line in label.splitlines()), *"\n".join(imports).splitlines()]
    display += ["", ""]
    source = "\n".join(display) + "\n" + body
    line_map = _line_origins(module, source, parsed) if parsed is not None else {}
    return build_from_text(
        source, len(display), name, cells, user_cells, user_globals, defaults, line_map
    )


def build_from_text(
    source: str,
    header: int,
    name: str,
    cells: dict[str, Any],
    user_cells: dict[str, Any],
    user_globals: dict,
    defaults: tuple | None,
    line_map: dict[int, tuple[str, int, int, str]] | None = None,
) -> Built:
    """Turn displayed source (`header` lines of comments and imports, then the
    `def name`) into a function, with the same closure cells as `build_function`.

    The persistent cache rebuilds functions through here from stored text.
    """
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    filename = f"<chainrule {name} {digest}>"
    free = list(cells) + list(user_cells)
    # The executed text: line 1 becomes the factory's `def`, the import lines
    # become `pass` (their names arrive as factory parameters, i.e. closure
    # cells), and everything else is indented once.  Line numbers match the
    # displayed source, so tracebacks point at the right generated line.
    lines = source.splitlines()
    factory = [f"def __chainrule_factory__({', '.join(free)}):"]
    for i, line in enumerate(lines[1:], start=1):
        if i < header:
            factory.append("    pass")
        else:
            factory.append("    " + line if line.strip() else "")
    factory_source = "\n".join(factory) + "\n"
    code = compile(factory_source, filename, "exec")
    factory_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    inner = next(
        c for c in factory_code.co_consts if isinstance(c, types.CodeType) and c.co_name == name
    )
    closure = []
    for var in inner.co_freevars:
        if var in cells:
            closure.append(types.CellType(cells[var]))
        else:
            closure.append(user_cells[var])
    fn = types.FunctionType(inner, user_globals, name, defaults, tuple(closure))
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    if line_map:
        GENERATED_ORIGINS[filename] = line_map
    return Built(fn, source, filename, line_map or {})
