"""docs/architecture.md matches the code: every module, file and name it mentions exists.

The document names code in backticks: files and folders (`parse.py`,
`normalize/jumps.py`, `runtime/`: under src/chainrule, or from the
repository root for `tests/...` and `tools/...`) and qualified names
(`pipeline.compile_function`, `ir.Facts`, `reverse.reverser.Reverser`,
`chainrule.testing`).  A qualified name whose first part is a module of the
package must resolve to a module or an attribute.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from test_layers import FUTURE

import chainrule

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(chainrule.__file__).resolve().parent
DOC = ROOT / "docs" / "architecture.md"


def _mentions() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", lambda m: _diagram_names(m.group(0)), text, flags=re.S)
    return re.findall(r"`([^`\n]+)`", text)


def _diagram_names(block: str) -> str:
    """The code block of the stages names code without backticks: quote what it names."""
    names = re.findall(r"\b[a-z_]+(?:\.[A-Za-z_]+)+\b|\b[a-z_]+/[a-z_/]*(?:\.py)?", block)
    return " ".join(f"`{n}`" for n in names)


def _modules() -> set[str]:
    out = set()
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            out.add(".".join(parts))
    return out


def _resolve(name: str) -> bool:
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module("chainrule." + ".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def _exists(mention: str) -> bool:
    if (ROOT / mention).exists() or (PACKAGE / mention).exists():
        return True
    if "/" not in mention.rstrip("/"):  # a file of a subpackage, named in its section
        return any(PACKAGE.rglob(mention.rstrip("/")))
    return False


def test_every_file_the_document_names_exists():
    future = {f"{name}.py" for name in FUTURE}
    missing = [
        mention
        for mention in _mentions()
        if re.fullmatch(r"[\w./]+(\.py|/)", mention)
        and not mention.startswith(".")
        and mention not in future
        and not _exists(mention)
    ]
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


def test_every_qualified_name_the_document_uses_exists():
    modules = _modules()
    tops = {m.split(".")[0] for m in modules}
    unknown = []
    for mention in _mentions():
        name = mention.removeprefix("chainrule.")
        if not re.fullmatch(r"[A-Za-z_]\w*(\.\w+)+", name) or name.endswith(".py"):
            continue
        if name.split(".")[0] not in tops:
            continue  # np.linalg.norm, os.replace, ast.FunctionDef: not ours
        if not _resolve(name):
            unknown.append(mention)
    assert not unknown, f"docs/architecture.md names what the code does not have: {unknown}"


def test_the_document_names_every_module():
    mentioned = " ".join(_mentions())
    missing = [
        m
        for m in sorted(_modules())
        if f"{m.split('.')[-1]}.py" not in mentioned
        and f"{m.replace('.', '/')}/" not in mentioned
        and f"{m}." not in mentioned
    ]
    assert not missing, f"docs/architecture.md does not say where these are: {missing}"
