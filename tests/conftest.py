"""pytest's configuration of the test run (hooks only; shared helpers are in helpers.py).

* Every test, and every subprocess a test starts (they inherit the
  environment), uses a fresh persistent-cache directory and signing key of
  this session, so the suite never writes into the user's home and never
  reads entries a previous run left; they are removed at the end.  Tests of the cache itself
  point CHAINRULE_CACHE_DIR at their own tmp_path.
* Subprocesses (the CLI, the docs, exported modules) import the same
  chainrule as this process, even when they run in another directory and
  PYTHONPATH was relative.
* While the generated code is being recorded (tools/golden.py), hypothesis
  draws the same examples every run, so that two recordings compare.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_CACHE_DIR = pytest.StashKey[str]()
_KEY_DIR = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    import chainrule

    cache = tempfile.mkdtemp(prefix="chainrule-test-cache-")
    config.stash[_CACHE_DIR] = cache
    os.environ["CHAINRULE_CACHE_DIR"] = cache
    key_dir = tempfile.mkdtemp(prefix="chainrule-test-key-")
    config.stash[_KEY_DIR] = key_dir
    os.environ["CHAINRULE_CACHE_KEY_FILE"] = os.path.join(key_dir, "cache-key")
    os.environ.pop("CHAINRULE_CACHE", None)

    src = os.path.dirname(os.path.dirname(os.path.abspath(chainrule.__file__)))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [src, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    )

    if os.environ.get("CHAINRULE_RECORD"):
        from hypothesis import settings

        settings.register_profile("chainrule-golden", derandomize=True, database=None)
        settings.load_profile("chainrule-golden")


@pytest.fixture(scope="session")
def module_dir(tmp_path_factory: pytest.TempPathFactory):
    """A directory for the modules tests write (chainrule reads a function's source from
    its file), shared by the session so that hypothesis tests can use it."""
    return tmp_path_factory.mktemp("modules")


def pytest_unconfigure(config: pytest.Config) -> None:
    for stashed in (_CACHE_DIR, _KEY_DIR):
        folder = config.stash.get(stashed, None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
