"""Golden copies of the generated code, for changes that must not change it.

The documents and examples are checked on every test run
(tests/test_docs_and_examples.py).  This script checks two larger corpora,
which take longer to record:

    python tools/golden.py suite       # every function the test suite compiles
    python tools/golden.py functions   # every module-level function of tests/ and
                                       # examples/, in every mode

Each records the generated source of every compiled function (or the
CompileError's text) through chainrule.recording, then compares it with
tests/golden/<corpus>.json.gz and prints what changed.  `--update` makes the
new records the golden copy.  While recording the suite, hypothesis draws
the same examples every run (tests/conftest.py), so random programs repeat.
The exit status is 1 when something changed.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
sys.path[:0] = [str(ROOT / "src"), str(TESTS)]

import golden_records  # noqa: E402

from chainrule import recording  # noqa: E402


def record_suite(directory: str, pytest_args: list[str]) -> int:
    env = dict(os.environ, **{recording.ENVIRONMENT_VARIABLE: directory})
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env.pop(golden_records.UPDATE_VARIABLE, None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args]
    return subprocess.run(command, cwd=ROOT, env=env).returncode


MODES = (
    ("grad", "first"),
    ("grad", "all"),
    ("value_and_grad", "all"),
    ("vjp", "all"),
    ("jvp", "all"),
)


def record_functions(directory: str) -> int:
    """Compile every module-level function of the test modules and the examples."""
    os.environ[recording.ENVIRONMENT_VARIABLE] = directory
    os.environ["CHAINRULE_CACHE"] = "0"
    import chainrule

    sys.path.insert(0, str(ROOT / "examples"))
    names = [p.stem for p in sorted(TESTS.glob("test_*.py"))]
    names += [p.stem for p in sorted((ROOT / "examples").glob("*.py"))]
    count = 0
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = importlib.import_module(name)
        for fname, f in sorted(vars(module).items()):
            if not inspect.isfunction(f) or f.__module__ != module.__name__:
                continue
            if fname.startswith(("test_", "_")):
                continue
            try:
                n = len(inspect.signature(f).parameters)
            except (TypeError, ValueError):
                continue
            if n == 0:
                continue
            for mode, which in MODES:
                argnums = 0 if which == "first" else tuple(range(n))
                try:
                    if mode == "jvp":
                        chainrule.source(f, argnums, mode="forward")
                    elif mode == "vjp":
                        chainrule.source(f, mode="vjp")
                    else:
                        chainrule.source(f, argnums, mode=mode)
                except Exception:  # CompileErrors are recorded; anything else is not ours
                    pass
                count += 1
    print(f"compiled {count} (function, mode) pairs", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", choices=("suite", "functions"))
    parser.add_argument("--update", action="store_true", help="make the records the golden copy")
    parser.add_argument("--keep", help="keep the records in this directory")
    parser.add_argument("pytest_args", nargs="*", help="for `suite`: passed to pytest")
    args = parser.parse_intermixed_args(argv)
    with tempfile.TemporaryDirectory(prefix="chainrule-golden-") as scratch:
        directory = args.keep or scratch
        if args.corpus == "suite":
            status = record_suite(directory, args.pytest_args)
            if status != 0:
                print(f"the test suite failed (exit status {status})", file=sys.stderr)
        else:
            status = record_functions(directory)
        records = golden_records.load_records(directory)
        print(f"{len(records)} compiled functions recorded", file=sys.stderr)
        if args.update:
            golden_records.write(args.corpus, records)
            return status
        expected = golden_records.read(args.corpus)
        if expected is None:
            print(f"no golden copy for {args.corpus}: run with --update", file=sys.stderr)
            return 1
        # the test suite's own functions change as its files are edited: only the
        # functions compiled both times are compared
        changed = golden_records.differences(expected, records, changed_only=True)
        for message in changed:
            print(message)
        same = len(set(expected) & set(records))
        missing, new = len(set(expected) - set(records)), len(set(records) - set(expected))
        print(
            f"{same} in both, {len(changed)} changed ({missing} not compiled any more, {new} new)",
            file=sys.stderr,
        )
        return 1 if changed or status else 0


if __name__ == "__main__":
    sys.exit(main())
