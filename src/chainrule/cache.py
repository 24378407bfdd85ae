"""The persistent cache: generated functions survive the process that made them.

`pipeline.compile_function` asks `load` before running the pipeline and hands
each new result to `store`.  An entry is one file, `<key>.json`, in the cache
directory:

* the *key* is a SHA-256 over everything the generated text depends on that
  can be known before compiling: chainrule's own code (a hash of its source
  files, not only its version number), the Python and NumPy versions, the
  renderer, the options (argnums, mode, specialisation), the function's file
  (its path and a hash of its content), its module's name, its name, first
  line and code, a description of everything compiling resolves
  (guards.resolutions: globals, attribute chains such as `cfg.act`, closure
  cells, defaults, and the code, defaults and globals of the helpers it
  inlines; so that `cfg.act = np.tanh` changing to `np.sin` is a different
  key), and the derivative rules users registered (each template's file is
  hashed too);
* the entry records a hash of the files the transformation read besides the
  function's own (`Compiled.dependencies`: files of inlined helpers), checked
  again at each load, so editing one of them invalidates the entry;
* the first line of the file is `chainrule-cache 2 <signature>`, an
  HMAC-SHA256 of the rest of the file under a per-user secret key.

cache_disk.py keeps the files (signing, atomic writes, pruning) and
cache_trust.py decides whether they may be trusted: the directory and each
entry must be the user's own and not writable by others, and the signature
must check out.  An entry that fails any check (not ours, truncated, edited,
forged, garbage, nested too deep to decode) is ignored, never compiled, and
rewritten; any failure to read or write the cache falls back to compiling:
the cache can only save time, never change a result.

Environment variables:

* `CHAINRULE_CACHE_DIR`: the directory (default `$XDG_CACHE_HOME/chainrule`,
  i.e. `~/.cache/chainrule`; `%LOCALAPPDATA%\\chainrule` on Windows);
* `CHAINRULE_CACHE=0` (or `off`, `false`, `no`): do not read or write it;
* `CHAINRULE_CACHE_MAX_MB`: the size cap (default 200);
* `CHAINRULE_CACHE_KEY_FILE`: the signing key (default
  `~/.config/chainrule/cache-key`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import json
import os
import sys
import types
from pathlib import Path
from typing import Any

import numpy

from . import cache_disk, guards
from .cache_disk import FORMAT, MAGIC, UntrustedCacheWarning, clear, directory, info
from .codegen import build_from_text
from .compiled import Compiled
from .rules import ADJOINTS, NONDIFFERENTIABLE, display_name
from .version import __version__

__all__ = ["FORMAT", "MAGIC", "UntrustedCacheWarning", "clear", "directory", "info"]
_OFF = {"0", "off", "false", "no"}

# What happened in this process: entries used, looked for in vain, written, and
# found but refused (not ours, bad signature, truncated, a dependency changed).
stats = {"hits": 0, "misses": 0, "stores": 0, "rejected": 0}


# -- where, and whether ------------------------------------------------------------


def enabled() -> bool:
    return os.environ.get("CHAINRULE_CACHE", "1").strip().lower() not in _OFF


# -- hashing ------------------------------------------------------------------------


_file_hashes: dict[str, tuple[tuple[int, ...], str]] = {}


def file_hash(path: str) -> str | None:
    """SHA-256 of a file's bytes, or None if unreadable.  Memoized on the file's size,
    times and inode: a rewrite that keeps the size and the modification time still
    changes the status change time (ctime), which no program can set."""
    try:
        st = os.stat(path)
        stamp = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        known = _file_hashes.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None
    _file_hashes[path] = (stamp, digest)
    return digest


_own_hash: str | None = None


def chainrule_hash() -> str:
    """A hash of chainrule's own source files: a development edit is a new version."""
    global _own_hash
    if _own_hash is None:
        package = Path(__file__).resolve().parent
        h = hashlib.sha256(__version__.encode())
        for path in sorted(package.rglob("*.py")):
            h.update(str(path.relative_to(package)).encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
        _own_hash = h.hexdigest()
    return _own_hash


def describe(obj: Any) -> str:
    """What a global or closure name denotes, as far as the generated code can tell."""
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    if obj is None or isinstance(obj, (bool, int, float, complex)):
        return f"{type(obj).__name__} {obj!r}"
    if isinstance(obj, str):
        return f"str {obj!r}" if len(obj) <= 200 else f"str sha256 {_sha(obj)}"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if isinstance(name, str) and (callable(obj) or isinstance(obj, type)):
        module = getattr(obj, "__module__", None) or ""
        return f"{type(obj).__name__} {module}.{name}"
    return f"instance of {type(obj).__module__}.{type(obj).__qualname__}"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _code_fingerprint(code: types.CodeType) -> str:
    """Tell apart two functions on one line (lambdas): bytecode, constants, columns."""
    h = hashlib.sha256(code.co_code)
    h.update(repr((code.co_names, code.co_varnames, code.co_freevars)).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            text = _code_fingerprint(const)
        elif isinstance(const, frozenset):  # `x in {"a", "b"}`: order varies by process
            text = repr(sorted(map(repr, const)))
        else:
            text = repr(const)
        h.update(text.encode() + b"\0")
    positions = getattr(code, "co_positions", None)  # columns, on Python 3.11+
    if positions is not None:
        h.update(repr(list(positions())).encode())
    return h.hexdigest()


def _user_rules() -> list[list[str]]:
    """Derivative rules and non-differentiable declarations made outside chainrule."""
    out: list[list[str]] = []
    for rule in ADJOINTS.values():
        module = getattr(rule.template, "__module__", "") or ""
        if not module.startswith("chainrule."):
            code = rule.template.__code__
            out.append(
                [
                    rule.name,
                    f"{module}.{rule.template.__qualname__}",
                    code.co_filename,
                    file_hash(code.co_filename) or "?",
                    str(code.co_firstlineno),
                ]
            )
    names = sorted(
        display_name(p) if not isinstance(p, tuple) else "<unhashable>" for p in NONDIFFERENTIABLE
    )
    out.append(["nondifferentiable", _sha("\n".join(names))])
    return out


def key_for(func: Any, options: tuple, found: list | None = None) -> str | None:
    """The cache key of `func` compiled with `options`, or None if it cannot be cached.

    `found` are the resolutions compiling makes (guards.resolutions(func), computed
    here when not given): every one is described in the key, those of inlined
    helpers too, so a process where one of them differs never reads the entry.
    """
    if not enabled():
        return None
    try:
        return _key_for(func, options, guards.resolutions(func) if found is None else found)
    except Exception:  # an object that resists description: do without the cache
        return None


def _key_for(func: Any, options: tuple, found: list) -> str | None:
    if hasattr(func, "__chainrule_generated__"):
        return None  # grad(f) & co. transformed again: their code lives in memory only
    if hasattr(func, "__wrapped__"):
        return None  # a decorator's wrapper: the cache would rebuild it around the inner one
    if not isinstance(func, types.FunctionType):
        return None
    code = func.__code__
    filename = code.co_filename
    if not os.path.isfile(filename):
        return None  # an interactive session, exec'd text: nothing to hash
    digest = file_hash(filename)
    if digest is None:
        return None
    environment = sorted([r.label, _described(r.value)] for r in found)
    material = [
        FORMAT,
        chainrule_hash(),
        list(sys.version_info[:2]),
        numpy.__version__,
        _encode(options),
        filename,
        os.path.abspath(filename),
        digest,
        func.__globals__.get("__name__"),  # the shown source imports globals from it
        func.__qualname__,
        code.co_firstlineno,
        _code_fingerprint(code),
        environment,
        _user_rules(),
    ]
    return _sha(json.dumps(material, sort_keys=True, default=repr))


def _described(value: Any) -> Any:
    """What a resolution found, for the key: code by fingerprint, defaults item by item."""
    if isinstance(value, types.CodeType):
        return f"code {_code_fingerprint(value)} in {value.co_filename}"
    if isinstance(value, (tuple, list)):
        return [_described(v) for v in value]
    if isinstance(value, dict):
        return sorted([str(k), _described(v)] for k, v in value.items())
    return describe(value)


# -- entries ------------------------------------------------------------------------


class Unstorable(Exception):
    """A value the cache cannot write down faithfully: such results are not cached."""


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return {"list": [_encode(v) for v in value]}
    if isinstance(value, frozenset):
        return {"frozenset": sorted((_encode(v) for v in value), key=repr)}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: _encode(v) for k, v in value.items()}}
    raise Unstorable(f"cannot store a {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        ((kind, inner),) = value.items()
        if kind == "tuple":
            return tuple(_decode(v) for v in inner)
        if kind == "list":
            return [_decode(v) for v in inner]
        if kind == "frozenset":
            return frozenset(_decode(v) for v in inner)
        if kind == "dict":
            return {k: _decode(v) for k, v in inner.items()}
        raise ValueError(f"unknown tag {kind!r}")
    return value


def _cell_reference(obj: Any) -> list:
    """How to find a template cell's object again in another process."""
    if isinstance(obj, types.ModuleType):
        return ["module", obj.__name__]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return ["value", obj]
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if module is None and hasattr(obj, "__objclass__"):  # method descriptors: ndarray.sum
        owner = obj.__objclass__
        module, qualname = owner.__module__, f"{owner.__qualname__}.{obj.__name__}"
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        try:
            if _resolve(["object", module, qualname]) is obj:
                return ["object", module, qualname]
        except Exception:
            pass
    raise Unstorable(f"cannot find {obj!r} by name")


def _resolve(reference: list) -> Any:
    kind = reference[0]
    if kind == "module":
        return importlib.import_module(reference[1])
    if kind == "value":
        return reference[1]
    if kind == "object":
        obj: Any = importlib.import_module(reference[1])
        for part in reference[2].split("."):
            obj = getattr(obj, part)
        return obj
    raise ValueError(f"unknown reference {kind!r}")


def store(func: Any, key: str | None, compiled: Compiled) -> bool:
    """Write `compiled` under `key`; False if it was not stored."""
    if key is None or not enabled():
        return False
    func = inspect.unwrap(func)
    function = compiled.function
    own_cells = set(func.__code__.co_freevars)
    try:
        cells = {
            name: _cell_reference(cell.cell_contents)
            for name, cell in zip(function.__code__.co_freevars, function.__closure__ or ())
            if name not in own_cells
        }
        fields = {
            f.name: _encode(getattr(compiled, f.name))
            for f in dataclasses.fields(compiled)
            if f.name not in ("function", "source")
        }
        dependencies = {}
        for path in compiled.dependencies:
            digest = file_hash(path)
            if digest is None:
                return False
            dependencies[path] = digest
    except (Unstorable, ValueError):
        return False
    source = compiled.source
    header = _header_length(source, function.__name__)
    if header is None:
        return False
    payload = {
        "key": key,
        "name": function.__name__,
        "header": header,
        "source": source,
        "cells": cells,
        "fields": fields,
        "dependencies": dependencies,
    }
    body = json.dumps(payload, sort_keys=True, indent=1)
    store_ = cache_disk.open_store(create=True)
    written = store_ is not None and cache_disk.write(store_, key, body)
    stats["stores"] += written
    return written


def _header_length(source: str, name: str) -> int | None:
    for i, line in enumerate(source.splitlines()):
        if line.startswith(f"def {name}("):
            return i
    return None


def read_entry(key: str) -> dict | None:
    """The payload stored under `key` if it may be trusted and decodes, else None."""
    store_ = cache_disk.open_store(create=False)
    if store_ is None:
        stats["misses"] += 1
        return None
    outcome, body = cache_disk.read(store_, key)
    payload = None
    if body is not None:
        try:
            payload = json.loads(body)
        except Exception:  # RecursionError from a deeply nested payload too
            payload = None
        if not isinstance(payload, dict) or payload.get("key") != key:
            payload, outcome = None, "rejected"
    stats["misses" if outcome == "miss" else "rejected"] += payload is None
    return payload


def load(func: Any, key: str | None) -> Compiled | None:
    """The Compiled stored under `key`, rebuilt for `func`, or None."""
    if key is None or not enabled():
        return None
    payload = read_entry(key)
    if payload is None:
        return None
    try:
        for path, digest in payload["dependencies"].items():
            if file_hash(path) != digest:  # an inlined helper's file changed
                stats["rejected"] += 1
                return None
        func = inspect.unwrap(func)
        cells = {name: _resolve(ref) for name, ref in payload["cells"].items()}
        user_cells = dict(zip(func.__code__.co_freevars, func.__closure__ or ()))
        fields = {name: _decode(value) for name, value in payload["fields"].items()}
        built = build_from_text(
            payload["source"],
            payload["header"],
            payload["name"],
            cells,
            user_cells,
            func.__globals__,
            func.__defaults__,
            {line: tuple(place) for line, *place in fields.get("line_map", ())},
        )
        compiled = Compiled(built.function, built.source, **fields)
    except Exception:  # anything unexpected: compile afresh instead
        stats["rejected"] += 1
        return None
    stats["hits"] += 1
    return compiled
