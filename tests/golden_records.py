"""Golden copies of the generated code: reading, writing and comparing them.

A record set maps what was compiled (`chainrule.recording.key`: the
function's name, a hash of its text, the options) to the distinct outcomes
seen for it: the generated source, or the CompileError's text.  The golden
copies live in tests/golden/ as gzip-compressed JSON, one file per corpus
(a document, an example, the whole test suite).  `differences` lists what
changed, with a unified diff per changed source.
"""

from __future__ import annotations

import difflib
import gzip
import json
import os
from pathlib import Path

from chainrule import recording

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE_VARIABLE = "CHAINRULE_UPDATE_GOLDEN"

Records = dict[str, list[dict[str, str | None]]]


def updating() -> bool:
    """Whether the golden copies are being refreshed deliberately."""
    return os.environ.get(UPDATE_VARIABLE) == "1"


def path_for(corpus: str) -> Path:
    return GOLDEN / (corpus.replace("/", "__") + ".json.gz")


def read(corpus: str) -> Records | None:
    path = path_for(corpus)
    if not path.exists():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def write(corpus: str, records: Records) -> None:
    """Write deterministically (no time stamp in the gzip header), so that an
    unchanged record set leaves the file byte-identical."""
    GOLDEN.mkdir(exist_ok=True)
    text = json.dumps(records, sort_keys=True, indent=0)
    with open(path_for(corpus), "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as handle:
            handle.write(text.encode("utf-8"))


def load_records(directory: str | os.PathLike) -> Records:
    return recording.load(str(directory))


def differences(
    expected: Records, actual: Records, limit: int = 5, changed_only: bool = False
) -> list[str]:
    """What differs between two record sets, one message per key (diffs for the
    first `limit` changed sources).  With `changed_only`, keys compiled in one
    set only are left out: a corpus whose functions were edited (the test
    suite's) is compared where it still overlaps."""
    out: list[str] = []
    shown = 0
    for key in sorted(set(expected) | set(actual)):
        if key not in actual:
            if not changed_only:
                out.append(f"not compiled any more: {key}")
            continue
        if key not in expected:
            if not changed_only:
                out.append(f"compiled, but not in the golden copies: {key}")
            continue
        if expected[key] == actual[key]:
            continue
        message = f"generated code changed: {key}"
        if shown < limit:
            shown += 1
            before = _text(expected[key])
            after = _text(actual[key])
            diff = difflib.unified_diff(
                before.splitlines(), after.splitlines(), "golden", "now", lineterm="", n=2
            )
            message += "\n" + "\n".join(diff)
        out.append(message)
    return out


def _text(outcomes: list[dict[str, str | None]]) -> str:
    parts = []
    for outcome in outcomes:
        if outcome["error"] is not None:
            parts.append("CompileError: " + outcome["error"])
        else:
            parts.append(outcome["source"] or "")
    return "\n----\n".join(parts)


def check(corpus: str, directory: str | os.PathLike) -> list[str]:
    """Compare the records in `directory` with the golden copy of `corpus` (or, with
    CHAINRULE_UPDATE_GOLDEN=1, make them the golden copy).  Returns the differences."""
    actual = load_records(directory)
    if updating():
        write(corpus, actual)
        return []
    expected = read(corpus)
    if expected is None:
        return [
            f"no golden copy for {corpus}; record one with {UPDATE_VARIABLE}=1 "
            f"(it would be {path_for(corpus).relative_to(GOLDEN.parent.parent)})"
        ]
    return differences(expected, actual)
