"""The persistent cache's files: where they are, reading, writing, pruning, clearing.

cache.py decides what an entry holds; this module keeps entries on disk:

* `open_store` returns the cache directory and the signing key when the
  directory may be trusted (cache_trust.py), and otherwise None after one
  `UntrustedCacheWarning` per problem and process, saying why and how to fix
  it;
* `read` opens an entry without following symbolic links, checks its owner
  and mode on the open file, reads it whole and checks its signature; it
  returns the text only when all of that holds;
* `write` signs an entry, writes it to a temporary file in the directory and
  moves it into place with `os.replace`, so a reader sees the old entry, the
  new one or none, never part of one;
* entries are pruned least recently used first when the directory exceeds
  `max_bytes()` (200 MB unless `CHAINRULE_CACHE_MAX_MB` says otherwise): a
  hit sets the entry's modification time (at most once a minute), and the
  oldest entries are removed, each with one `os.unlink`, until the cache is
  back under 80% of the cap.  A process counts the directory at its first
  write and then adds what it writes itself, so that the directory is listed
  again only when the count passes the cap.  A reader that has already opened
  an entry still reads all of it after the entry is removed.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from .cache_trust import (
    current_user,
    directory_problem,
    entry_problem,
    inside,
    key_path,
    load_key,
    seal,
    unseal,
)

FORMAT = 2  # 1: signed with a bare SHA-256, which anyone could recompute
MAGIC = "chainrule-cache"
DEFAULT_MAX_MB = 200.0
LOW_WATER = 0.8  # pruning goes down to this fraction of the cap
TOUCH_AFTER = 60.0  # seconds: a hit refreshes an entry's time at most this often
STALE_TEMPORARY = 3600.0  # seconds: a temporary file this old was left by a crash
ENTRY_NAME = re.compile(r"^[0-9a-f]{64}\.json$")
TEMPORARY_NAME = re.compile(r"^\.tmp-.*\.json$")


class UntrustedCacheWarning(UserWarning):
    """The cache (or one entry of it) is not used: someone else could have written it."""


def directory() -> Path:
    """The cache directory (not created until something is stored)."""
    configured = os.environ.get("CHAINRULE_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "chainrule"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "chainrule"


def max_bytes() -> int:
    """The size cap, from CHAINRULE_CACHE_MAX_MB (megabytes of 2**20 bytes; default 200)."""
    text = os.environ.get("CHAINRULE_CACHE_MAX_MB", "").strip()
    try:
        megabytes = float(text) if text else DEFAULT_MAX_MB
    except ValueError:
        megabytes = DEFAULT_MAX_MB
    if not megabytes >= 0:  # nan
        megabytes = DEFAULT_MAX_MB
    return int(megabytes * 2**20)


# -- trust ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    """A cache directory that may be trusted, and the key its entries are signed with."""

    folder: Path
    key: bytes


_warned: set[str] = set()
_keys: dict[str, bytes] = {}


def warn_once(message: str) -> None:
    """Warn once per process, at the first line outside chainrule that led here."""
    if message in _warned:
        return
    _warned.add(message)
    package = os.path.dirname(os.path.abspath(__file__))
    level, frame = 1, sys._getframe(0)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, UntrustedCacheWarning, stacklevel=level)


def check(create: bool) -> tuple[Path, bytes | None, str | None]:
    """(directory, key, problem): the key when the cache may be used, else why not.

    With `create`, a missing directory and a missing key are made; without,
    a missing directory is (directory, None, None): simply nothing to read.
    """
    folder = directory()
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        if not create:
            return folder, None, None
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = os.stat(folder)
        except OSError:  # cannot be made (a file in the way, read-only): no cache, silently
            return folder, None, None
    except OSError:
        return folder, None, None
    problem = directory_problem(st, current_user(), str(folder))
    if problem is not None:
        return folder, None, problem
    where = key_path()
    if inside(where, folder):
        return (
            folder,
            None,
            (
                f"the cache key {where} is inside the cache directory; set "
                "CHAINRULE_CACHE_KEY_FILE to a file elsewhere"
            ),
        )
    key = _keys.get(str(where))
    if key is None:
        key, problem = load_key(where, create)
        if key is None:
            return folder, None, problem
        _keys[str(where)] = key
    return folder, key, None


def open_store(create: bool) -> Store | None:
    """The trusted cache directory and its key, or None (with one warning if untrusted)."""
    try:
        folder, key, problem = check(create)
    except Exception:  # an environment chainrule cannot make sense of: no cache
        return None
    if problem is not None:
        warn_once(
            f"chainrule does not use its cache: {problem}. Until then every function is "
            "transformed again in each process (CHAINRULE_CACHE=0 silences this)."
        )
    if key is None:
        return None
    return Store(folder, key)


# -- entries ----------------------------------------------------------------------------


def entry_path(store: Store, name: str) -> Path:
    return store.folder / f"{name}.json"


def read(store: Store, name: str) -> tuple[str, str | None]:
    """("hit", body), ("miss", None) when there is no entry, or ("rejected", None).

    Rejected: not ours (owner, mode), a symbolic link, unreadable, not
    signed with our key.  Whatever goes wrong is a rejection, never an error.
    """
    path = entry_path(store, name)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return "miss", None
    except Exception:
        return "rejected", None
    try:
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            problem = entry_problem(st, current_user(), str(path))
            if problem is not None:
                warn_once(
                    f"chainrule ignored a cache entry: {problem}; it is being replaced. "
                    f"If you did not change it, check who can write to {store.folder}."
                )
                return "rejected", None
            data = handle.read()
            if time.time() - st.st_mtime > TOUCH_AFTER:  # least recently used: keep it
                _touch(handle.fileno(), path)
        first, newline, body = data.decode("utf-8").partition("\n")
        parts = first.split(" ")
        if not newline or len(parts) != 3 or parts[0] != MAGIC or parts[1] != str(FORMAT):
            return "rejected", None
        if not unseal(store.key, body, parts[2]):
            return "rejected", None  # altered, truncated, forged or from another key
    except Exception:
        return "rejected", None
    return "hit", body


def _touch(fd: int, path: Path) -> None:
    try:
        os.utime(fd if os.utime in os.supports_fd else path)
    except OSError:
        pass


def write(store: Store, name: str, body: str) -> bool:
    """Sign `body` and put it in place atomically; False if it could not be written."""
    text = f"{MAGIC} {FORMAT} {seal(store.key, body)}\n{body}".encode()
    try:
        replace_atomically(entry_path(store, name), text, ".tmp-", ".json")
    except OSError:
        return False
    _account(store.folder, len(text))
    return True


def replace_atomically(
    path: Path, data: bytes, prefix: str, suffix: str, mode: int | None = None
) -> None:
    """Write `data` to a temporary file beside `path` (private, mode 0600, unless
    `mode` says otherwise), then rename it over `path`: a reader sees the old file
    or the new one, never part of one.  Raises OSError; leaves no temporary file."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# -- size --------------------------------------------------------------------------------


_usage: dict[str, int] = {}  # directory -> bytes this process believes it holds


def _account(folder: Path, added: int) -> None:
    """Count a write; prune when the count passes the cap."""
    cap = max_bytes()
    known = _usage.get(str(folder))
    total = listing_size(folder) if known is None else known + added
    if total > cap:
        total = prune(folder, int(cap * LOW_WATER))
    _usage[str(folder)] = total


def _listing(folder: Path) -> list[tuple[float, int, str, bool]]:
    """(modification time, size, path, is an entry) of the cache's files."""
    out = []
    try:
        with os.scandir(folder) as it:
            for item in it:
                entry = ENTRY_NAME.match(item.name) is not None
                if not entry and not TEMPORARY_NAME.match(item.name):
                    continue
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:
                    continue  # removed meanwhile
                out.append((st.st_mtime, st.st_size, item.path, entry))
    except OSError:
        pass
    return out


def listing_size(folder: Path) -> int:
    return sum(size for _, size, _, _ in _listing(folder))


def prune(folder: Path, target: int) -> int:
    """Remove least recently used entries until at most `target` bytes remain; the total."""
    files = sorted(_listing(folder))
    total = sum(size for _, size, _, _ in files)
    now = time.time()
    for mtime, size, path, entry in files:
        left_by_a_crash = not entry and now - mtime >= STALE_TEMPORARY
        if not left_by_a_crash and (total <= target or not entry):
            continue  # a recent temporary file: another process is writing it
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass  # another process pruned it first
        except OSError:
            continue
        total -= size
    return total


def info() -> dict:
    """What `chainrule cache info` prints."""
    folder, key, problem = check(create=False)
    files = _listing(folder)
    entries = [f for f in files if f[3]]
    return {
        "directory": str(folder),
        "exists": folder.is_dir(),
        "problem": problem,
        "key_file": str(key_path()),
        "entries": len(entries),
        "bytes": sum(size for _, size, _, _ in files),
        "max_bytes": max_bytes(),
        "oldest": min((m for m, _, _, _ in entries), default=None),
        "newest": max((m for m, _, _, _ in entries), default=None),
    }


def clear() -> int:
    """Delete every cache entry (and leftover temporary files); return how many entries."""
    removed = 0
    folder = directory()
    for _, _, path, entry in _listing(folder):
        try:
            os.unlink(path)
        except OSError:
            continue
        removed += entry
    _usage.pop(str(folder), None)
    return removed
