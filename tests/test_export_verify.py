"""Exported modules check themselves at import (export_check.py), and `chainrule verify`.

The module is imported in a subprocess in which `import chainrule` fails: the
check must run where chainrule is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from helpers import NO_CHAINRULE
from test_cli import run as run_cli

from chainrule import export, export_check

MODEL = """\
import numpy as np

SCALE = 0.5


def loss(w, b, X, y):
    p = np.tanh(X @ w + b)
    return SCALE * np.mean((p - y) ** 2)
"""

# Import the module with chainrule blocked; print the warnings it gave, as JSON.
IMPORTER = (
    NO_CHAINRULE
    + """\
import json
import warnings

sys.path.insert(0, sys.argv[1])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    module = __import__(sys.argv[2])
import numpy as np
w, X, y = np.ones(3), np.ones((4, 3)), np.zeros(4)
module.grad_loss(w, 0.1, X, y)
print(json.dumps([[w.category.__name__, w.category.__module__, str(w.message)] for w in caught]))
"""
)


def chainrule_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd)


def import_warnings(folder: Path, module: str = "model_grad", *options: str) -> list:
    runner = folder.parent / "importer.py"
    runner.write_text(IMPORTER)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # not even the source tree
    proc = subprocess.run(
        [sys.executable, *options, str(runner), str(folder), module],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=120,
    )
    if proc.returncode != 0:
        return [["import failed", "", proc.stderr]]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "model.py").write_text(MODEL)
    done = chainrule_cli("compile", "model.py", "-f", "loss", "--argnums", "0,1", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


COMMAND = "chainrule compile model.py -o model_grad.py -f loss --argnums 0,1"


def test_an_up_to_date_module_imports_silently_and_verifies(project):
    assert import_warnings(project) == []
    done = chainrule_cli("verify", "model_grad.py", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "model_grad.py: up to date\n"
    header = (project / "model_grad.py").read_text().splitlines()[:4]
    assert header[1].startswith("# source: model.py (sha256 ")
    assert header[2] == f"# command: {COMMAND}"
    assert header[3].startswith("# content sha256: ")


def test_an_edited_source_is_reported_at_import_and_by_verify(project):
    source = project / "model.py"
    source.write_text(MODEL.replace("0.5", "0.25"))
    caught = import_warnings(project)
    assert len(caught) == 1
    category, module, message = caught[0]
    assert (category, module) == ("StaleExportWarning", "model_grad")  # its own class
    assert "model.py changed since model_grad.py was generated" in message
    assert f"Regenerate it with: {COMMAND}" in message
    assert "edited" not in message
    done = chainrule_cli("verify", "model_grad.py", cwd=project)
    assert done.returncode == 1
    assert "model.py changed since model_grad.py was generated" in done.stdout
    assert f"regenerate it with: {COMMAND}" in done.stdout
    regenerated = chainrule_cli(*COMMAND.split()[1:], cwd=project)
    assert regenerated.returncode == 0, regenerated.stderr
    assert chainrule_cli("verify", "model_grad.py", cwd=project).returncode == 0
    assert import_warnings(project) == []


def test_a_hand_edit_of_the_module_is_reported(project):
    target = project / "model_grad.py"
    text = target.read_text()
    assert "    p = np.tanh(t2)\n" in text
    target.write_text(text.replace("    p = np.tanh(t2)\n", "    p = np.tanh(t2) * 1.0\n", 1))
    caught = import_warnings(project)
    assert (
        len(caught) == 1
        and "model_grad.py was edited after chainrule generated it" in (caught[0][2])
    )
    done = chainrule_cli("verify", "model_grad.py", cwd=project)
    assert done.returncode == 1 and "was edited" in done.stdout
    # editing the recorded hashes themselves is an edit too
    lines = text.splitlines(keepends=True)
    lines[1] = lines[1].replace("sha256 ", "sha256 0", 1)[:-2] + ")\n"
    target.write_text("".join(lines))
    assert chainrule_cli("verify", "model_grad.py", cwd=project).returncode == 1


def test_the_warning_can_be_made_an_error(project):
    (project / "model.py").write_text(MODEL + "\n# changed\n")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-W", "error::UserWarning:model_grad", "-c", "import model_grad"],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "model_grad.StaleExportWarning: model_grad.py is out of date" in proc.stderr


def test_paths_are_relative_to_the_module(project, tmp_path):
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(project, moved)
    assert chainrule_cli("verify", str(moved / "model_grad.py"), cwd=tmp_path).returncode == 0
    (moved / "model.py").write_text(MODEL + "\n# changed\n")
    done = chainrule_cli("verify", str(moved / "model_grad.py"), cwd=tmp_path)
    assert done.returncode == 1 and "model.py changed" in done.stdout
    assert chainrule_cli("verify", "model_grad.py", cwd=project).returncode == 0


def test_a_module_without_its_sources_checks_only_itself(project, tmp_path):
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(project / "model_grad.py", alone)
    problems, command = export_check.stale(str(alone / "model_grad.py"))
    assert problems == [] and command == COMMAND


def test_converted_line_endings_are_not_an_edit(project):
    for name in ("model.py", "model_grad.py"):
        path = project / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert chainrule_cli("verify", "model_grad.py", cwd=project).returncode == 0


def test_verify_refuses_what_it_cannot_check(project):
    (project / "notes.py").write_text("x = 1\n")
    done = chainrule_cli("verify", "notes.py", cwd=project)
    assert done.returncode == 2 and "not generated by chainrule" in done.stderr
    done = chainrule_cli("verify", "missing_grad.py", cwd=project)
    assert done.returncode == 2 and "cannot read missing_grad.py" in done.stderr
    # a module from before the content hash: cannot be trusted to be unedited
    text = (project / "model_grad.py").read_text()
    old = "".join(
        line for line in text.splitlines(True) if not line.startswith("# content sha256: ")
    )
    (project / "old_grad.py").write_text(old)
    done = chainrule_cli("verify", "model_grad.py", "old_grad.py", cwd=project)
    assert done.returncode == 1
    assert "model_grad.py: up to date" in done.stdout and "records no hash" in done.stdout


def test_export_from_python_is_checked_too(tmp_path, monkeypatch):
    folder = tmp_path / "py"
    folder.mkdir()
    (folder / "pymodel.py").write_text(MODEL)
    monkeypatch.syspath_prepend(str(folder))
    import importlib

    sys.modules.pop("pymodel", None)
    module = importlib.import_module("pymodel")
    try:
        export(module.loss, folder / "pymodel_grad.py")
        assert import_warnings(folder, "pymodel_grad") == []
        (folder / "pymodel.py").write_text(MODEL + "\n")
        (message,) = [m for _, _, m in import_warnings(folder, "pymodel_grad")]
        assert "pymodel.py changed" in message
        assert "the chainrule.export call that wrote it" in message
    finally:
        sys.modules.pop("pymodel", None)


def test_the_check_never_breaks_an_import(tmp_path):
    """No file behind the module (exec'd text): the check says nothing."""
    namespace: dict = {}
    texts, _ = export_check.embedded_text()
    exec("\n\n".join(texts) + "\n" + export_check.CALL, namespace)
    namespace["_chainrule_check"](str(tmp_path / "missing.py"))
    compiled = tmp_path / "shipped.pyc"  # a module shipped compiled: no text to compare
    compiled.write_bytes(b"\x00\x01 not text")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        namespace["_chainrule_check"](str(compiled))
        namespace["_chainrule_check"](None)
