"""Every ```python block in README.md and docs/*.md runs, and every example runs.

chainrule reads a function's source from its file, so a doc's code cannot be
exec'd from a string: the blocks of one document are written to a real .py
file, each at the same line numbers it has in the markdown (everything else
blank), and run in a subprocess.  Blocks of one document therefore share one
namespace and run in order, and a traceback's line numbers are the
markdown's.

A ```text block right after a `<!-- output -->` line is the expected stdout
of the nearest python block above it, and is compared with what the block
really prints (ignoring the temporary file's path and line numbers in it).
After a deliberate change to the generated code, refresh those blocks with

    CHAINRULE_UPDATE_DOCS=1 pytest tests/test_docs_and_examples.py

Every function a document or an example compiles is also recorded
(chainrule.recording) and compared with its golden copy in tests/golden/:
the generated code must stay byte-identical.  After a deliberate change,
refresh the golden copies with

    CHAINRULE_UPDATE_GOLDEN=1 pytest tests/test_docs_and_examples.py
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from golden_records import check as check_golden

from chainrule import recording

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
OUTPUT_MARK = "<!-- output -->"
SENTINEL = "\x1e--chainrule-doc-block-{}--"
SHOWN_PATH = "example.py"  # how the temporary file's path is shown in output blocks
UPDATE = os.environ.get("CHAINRULE_UPDATE_DOCS") == "1"


@dataclass
class Block:
    lang: str
    start: int  # index of the opening fence line
    end: int  # index of the closing fence line
    lines: list[str]  # without the fence's indentation (fences may sit in list items)
    indent: str = ""
    output_of: int | None = None  # for output blocks: index of the python block


def blocks_of(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```\s*([\w+-]*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        assert j < len(lines), f"unclosed code fence at line {i + 1}"
        indent = m.group(1)
        body = [
            line[len(indent) :] if line.startswith(indent) else line.lstrip()
            for line in lines[i + 1 : j]
        ]
        blocks.append(Block(m.group(2).lower(), i, j, body, indent))
        i = j + 1
    python = [k for k, b in enumerate(blocks) if b.lang == "python"]
    for k, b in enumerate(blocks):
        if b.start > 0 and lines[b.start - 1].strip() == OUTPUT_MARK:
            assert b.lang == "text", f"line {b.start + 1}: an output block must be ```text"
            before = [p for p in python if p < k]
            assert before, f"line {b.start + 1}: an output block needs a python block above it"
            b.output_of = before[-1]
    return blocks


def script_for(text: str, blocks: list[Block]) -> str:
    """The python blocks at their markdown line numbers; a marker print at each fence."""
    out = [""] * len(text.splitlines())
    for k, b in enumerate(blocks):
        if b.lang != "python":
            continue
        out[b.start] = f"print({SENTINEL.format(k)!r}, flush=True)"
        out[b.start + 1 : b.end] = b.lines
    return "\n".join(out) + "\n"


def normalize(text: str) -> str:
    text = re.sub(rf"{re.escape(SHOWN_PATH)}:\d+", f"{SHOWN_PATH}:N", text)
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    return "\n".join(lines)


def run_doc(doc: Path, tmp_path: Path) -> None:
    text = doc.read_text()
    blocks = blocks_of(text)
    if not any(b.lang == "python" for b in blocks):
        return  # bash and text only (docs/cli.md): the fences were checked above
    script = tmp_path / (doc.stem.replace("-", "_") + "_md.py")
    script.write_text(script_for(text, blocks))
    records = tmp_path / "records"
    env = dict(
        os.environ,
        NO_COLOR="1",
        PYTHONDONTWRITEBYTECODE="1",
        **{recording.ENVIRONMENT_VARIABLE: str(records)},
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    rel = doc.relative_to(ROOT)
    assert proc.returncode == 0, (
        f"a python block of {rel} failed (line numbers below are {rel}'s):\n{proc.stderr}"
    )
    # stdout of each python block, keyed by block index
    printed: dict[int, str] = {}
    current = None
    for chunk in re.split("(" + SENTINEL.format(r"\d+") + ")\n", proc.stdout):
        m = re.fullmatch(SENTINEL.format(r"(\d+)"), chunk)
        if m:
            current = int(m.group(1))
        elif current is not None:
            printed[current] = chunk.replace(str(script), SHOWN_PATH)
    lines = text.splitlines()
    stale = []
    for b in blocks:
        if b.output_of is None:
            continue
        actual = printed.get(b.output_of, "")
        if normalize(actual) != normalize("\n".join(b.lines)):
            stale.append((b, actual))
    changed = check_golden(str(rel), records)
    assert not changed, "\n".join(changed)
    if stale and UPDATE:
        for b, actual in reversed(stale):
            lines[b.start + 1 : b.end] = [
                (b.indent + line).rstrip() for line in actual.rstrip("\n").splitlines()
            ]
        doc.write_text("\n".join(lines) + "\n")
        return
    for b, actual in stale:
        diff = difflib.unified_diff(
            normalize("\n".join(b.lines)).splitlines(),
            normalize(actual).splitlines(),
            "documented",
            "printed now",
            lineterm="",
        )
        pytest.fail(
            f"{rel}:{b.start + 1}: the output block differs from what the code prints now:\n"
            + "\n".join(diff)
            + "\n(if the change is intended, refresh the blocks with "
            "CHAINRULE_UPDATE_DOCS=1 pytest tests/test_docs_and_examples.py)"
        )


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_code_runs(doc, tmp_path):
    run_doc(doc, tmp_path)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(example, tmp_path):
    records = tmp_path / "records"
    proc = subprocess.run(
        [sys.executable, str(example)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ, NO_COLOR="1", **{recording.ENVIRONMENT_VARIABLE: str(records)}),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip(), "an example should show what it does"
    changed = check_golden(f"examples/{example.name}", records)
    assert not changed, "\n".join(changed)


def test_there_are_docs_and_examples():
    names = {p.name for p in DOCS}
    assert {
        "README.md",
        "subset.md",
        "how-it-works.md",
        "rules.md",
        "architecture.md",
        "cli.md",
    } <= names
    assert {"seed_network.py", "logistic_regression.py"} <= {p.name for p in EXAMPLES}


def test_quickstart_commands():
    """The README's first Quickstart block is exactly the two commands CI relies on."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Quickstart", 1)[1]
    block = blocks_of(section)[0]
    assert block.lines == [
        "pip install . && python -m chainrule demo",
        'pip install ".[test]" && pytest',
    ]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc):
    text = doc.read_text()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


def test_blocks_are_parsed_with_their_line_numbers():
    text = "intro\n```python\nx = 1\nprint(x)\n```\n<!-- output -->\n```text\n1\n```\n"
    blocks = blocks_of(text)
    assert [(b.lang, b.start, b.end) for b in blocks] == [("python", 1, 4), ("text", 6, 8)]
    assert blocks[1].output_of == 0
    script = script_for(text, blocks).splitlines()
    assert script[2:4] == ["x = 1", "print(x)"]
    assert len(script) == len(text.splitlines())
