"""Records of the code chainrule generates, to show that a change leaves it unchanged.

With the environment variable `CHAINRULE_RECORD` set to a directory, the
compile driver calls `record` for every function it compiles or loads from
the persistent cache: one JSON line per function is appended to
`<directory>/<pid>.jsonl`, naming what was compiled (the function's
qualified name and a hash of its source text, so that two different
functions of one name never meet, and the options) and what came out (the
generated source, or the text of the CompileError).  Paths are shortened to
file names (`canonical`), so records made in different temporary directories
compare equal, and the function's own file and module are placeholders, with
line numbers counted from its first line (`relative_to_function`), so that
editing the code above it, or writing it to a differently named module,
does not change its record.

`tools/golden.py` and the tests compare such records with the golden copies
in `tests/golden/`: a refactoring of the pipeline must leave every generated
text byte-identical.  Without the variable, `record` returns at once.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
from typing import Any

ENVIRONMENT_VARIABLE = "CHAINRULE_RECORD"

_PATH = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\s:()'\"<>\\/]+[\\/])+([^\s:()'\"<>\\/]+)")
_GENERATED_FILE = re.compile(r"<chainrule (\S+) [0-9a-f]{10}>")


def enabled() -> bool:
    return bool(os.environ.get(ENVIRONMENT_VARIABLE))


def canonical(text: str) -> str:
    """`text` with every absolute path shortened to its last component, and without the
    digest in the names of generated code's files (`<chainrule grad_f 3f2a9c01b7>`),
    which hashes a text that holds such a path."""
    text = _PATH.sub(lambda m: m.group(1), text)
    return _GENERATED_FILE.sub(lambda m: f"<chainrule {m.group(1)}>", text)


def _defined_at(func: Any) -> tuple[str, int, str] | None:
    """The file name, first line and module name of `func`'s definition, in a file."""
    func = inspect.unwrap(func)
    func = getattr(func, "__func__", func)
    code = getattr(func, "__code__", None)
    if code is None or code.co_filename.startswith("<"):
        return None
    module = getattr(func, "__module__", None) or ""
    return os.path.basename(code.co_filename), code.co_firstlineno, module


def relative_to_function(text: str, func: Any) -> str:
    """`text` with the function's own file and module replaced by placeholders, and line
    numbers in that file counted from the function's first line (`model.py:12` becomes
    `<file>:+2`, `from model import W` becomes `from <module> import W`): where a
    function is defined is the transformation's input, not its output, and editing the
    code above it, or a test writing it to a differently named module, does not change
    its record."""
    where = _defined_at(func)
    if where is None:
        return text
    name, first, module = where
    lines = re.compile(rf"(?<![\w.]){re.escape(name)}:(\d+)")
    text = lines.sub(lambda m: f"<file>:+{int(m.group(1)) - first}", text)
    if module:
        text = re.sub(rf"(?<![\w.]){re.escape(module)}(?!\w)", "<module>", text)
    return text


def code_hash(func: Any) -> str:
    """A hash of the text of `func`'s definition (of the code chainrule generated, for
    a callable chainrule returned), or of its bytecode when the text is unavailable."""
    generated = getattr(func, "__chainrule_generated__", None)
    if generated is not None:
        try:
            func = generated()
        except Exception:  # it does not compile: the error is what gets recorded
            return "?"
    func = inspect.unwrap(func)
    func = getattr(func, "__func__", func)
    try:
        text = inspect.getsource(func)
    except (OSError, TypeError):
        code = getattr(func, "__code__", None)
        text = repr(code.co_code) if code is not None else repr(func)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def key(func: Any, options: dict[str, Any]) -> str:
    """What was compiled, as one string (the golden copies are keyed by it)."""
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
    fields = {"function": name, "code": code_hash(func), **options}
    return json.dumps(fields, sort_keys=True, default=repr)


def record(func: Any, options: dict[str, Any], source: str | None, error: str | None) -> None:
    """Append one record (a generated source, or the error raised instead) if enabled."""
    directory = os.environ.get(ENVIRONMENT_VARIABLE)
    if not directory:
        return
    entry = {
        "key": key(func, options),
        "source": relative_to_function(canonical(source), func) if source is not None else None,
        "error": relative_to_function(canonical(error), func) if error is not None else None,
    }
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"{os.getpid()}.jsonl"), "a", encoding="utf-8") as out:
        out.write(json.dumps(entry, sort_keys=True) + "\n")


def load(directory: str) -> dict[str, list[dict[str, str | None]]]:
    """The records in `directory`: key -> its distinct outcomes, sorted."""
    outcomes: dict[str, set[tuple[str | None, str | None]]] = {}
    if not os.path.isdir(directory):
        return {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".jsonl"):
            continue
        with open(os.path.join(directory, name), encoding="utf-8") as lines:
            for line in lines:
                entry = json.loads(line)
                outcomes.setdefault(entry["key"], set()).add((entry["source"], entry["error"]))
    return {
        k: [{"source": s, "error": e} for s, e in sorted(v, key=lambda p: (p[0] or "", p[1] or ""))]
        for k, v in sorted(outcomes.items())
    }
