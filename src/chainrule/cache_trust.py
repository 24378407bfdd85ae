"""Whether the persistent cache may be trusted, and the key that signs its entries.

The cache (cache.py) executes the code it finds in its entries, so it reads
them only when nobody else can have written them:

* the directory must be owned by the current user and not writable by group
  or others (`directory_problem`), and so must each entry (`entry_problem`).
  Both are pure functions of an `os.stat_result` and a user id, so that they
  can be tested on made-up stat results;
* each entry is signed with HMAC-SHA256 under a per-user secret key (`seal`,
  `unseal`).  The key lives in a file outside the cache directory
  (`key_path`: `CHAINRULE_CACHE_KEY_FILE`, by default
  `$XDG_CONFIG_HOME/chainrule/cache-key`, that is
  `~/.config/chainrule/cache-key`; `%APPDATA%\\chainrule\\cache-key` on
  Windows), readable by its owner only (mode 0600), and created on first use
  (`load_key`) through a temporary file and a hard link, so that two processes
  creating it at once agree on one key and no process reads half a key.

On systems without user ids (Windows) the ownership checks are skipped; the
signature still applies.  Nothing here raises: problems come back as one
sentence saying what is wrong and how to fix it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import tempfile
from pathlib import Path

KEY_BYTES = 32
SIGNATURE_LENGTH = 64  # hexadecimal digits of an HMAC-SHA256


def current_user() -> int | None:
    """The effective user id, or None where there are none (Windows)."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid() if geteuid is not None else None


def _problem(st: os.stat_result, uid: int | None, path: str, directory: bool) -> str | None:
    kind, is_kind = ("a directory", stat.S_ISDIR) if directory else ("a regular file", stat.S_ISREG)
    if not is_kind(st.st_mode):
        return f"{path} is not {kind}"
    if uid is None:
        return None
    if st.st_uid != uid:
        return (
            f"{path} is owned by user id {st.st_uid}, not by you (user id {uid}); "
            f"remove it or point CHAINRULE_CACHE_DIR at a directory of your own"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.S_IMODE(st.st_mode)
        return f"{path} is writable by other users (mode {mode:04o}); run `chmod go-w {path}`"
    return None


def directory_problem(st: os.stat_result, uid: int | None, path: str = "the cache") -> str | None:
    """Why a cache directory with this stat result must not be used, or None if it may."""
    return _problem(st, uid, path, directory=True)


def entry_problem(st: os.stat_result, uid: int | None, path: str = "a cache entry") -> str | None:
    """Why a cache entry with this stat result must not be read, or None if it may."""
    return _problem(st, uid, path, directory=False)


def key_file_problem(st: os.stat_result, uid: int | None, path: str) -> str | None:
    """Why a key file with this stat result must not be used: the key is a secret."""
    if not stat.S_ISREG(st.st_mode):
        return f"the cache key {path} is not a regular file; remove it (a new key is made)"
    if uid is None:
        return None
    if st.st_uid != uid:
        return (
            f"the cache key {path} is owned by user id {st.st_uid}, not by you (user id {uid}); "
            "remove it (a new key is made) or set CHAINRULE_CACHE_KEY_FILE"
        )
    if st.st_mode & 0o077:
        mode = stat.S_IMODE(st.st_mode)
        return (
            f"the cache key {path} can be read or written by other users (mode {mode:04o}); "
            f"remove it (a new key is made, and the cache starts afresh)"
        )
    return None


def key_path() -> Path:
    """Where the signing key is kept: never inside the cache directory."""
    configured = os.environ.get("CHAINRULE_CACHE_KEY_FILE")
    if configured:
        return Path(configured).expanduser()
    if os.name == "nt" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "chainrule" / "cache-key"
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "chainrule" / "cache-key"


def inside(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies under it (both resolved as far as they exist)."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))
    except (OSError, ValueError):
        return False


def load_key(path: Path, create: bool) -> tuple[bytes | None, str | None]:
    """(the key, None), or (None, why not).  With `create`, a missing key is made.

    A missing key without `create` is (None, None): nothing is wrong yet, there
    is simply nothing signed to trust.
    """
    uid = current_user()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        if not create:
            return None, None
        made = _create_key(path)
        if made is not None:
            return None, made
        return load_key(path, create=False)
    except OSError as exc:
        return None, f"the cache key {path} cannot be read ({exc.strerror})"
    try:
        problem = key_file_problem(os.fstat(fd), uid, str(path))
        if problem is not None:
            return None, problem
        text = os.read(fd, 4 * KEY_BYTES).decode("ascii", "replace").strip()
    except OSError as exc:
        return None, f"the cache key {path} cannot be read ({exc.strerror})"
    finally:
        os.close(fd)
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        return None, f"the cache key {path} is damaged; remove it (a new key is made)"
    return key, None


def _create_key(path: Path) -> str | None:
    """Write a new random key at `path` unless one appears there first; None if done."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".cache-key-", dir=path.parent)  # mode 0600
    except OSError as exc:
        return f"cannot create the cache key {path} ({exc.strerror})"
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
        try:
            os.link(tmp, path)  # fails if another process made the key first: use theirs
        except FileExistsError:
            pass
        except OSError:  # no hard links on this file system
            if not os.path.exists(path):
                os.replace(tmp, path)
    except OSError as exc:
        return f"cannot create the cache key {path} ({exc.strerror})"
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    return None


def seal(key: bytes, body: str) -> str:
    """The signature of an entry's text."""
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def unseal(key: bytes, body: str, signature: str) -> bool:
    """Whether `signature` is the signature of `body` under `key` (in constant time)."""
    return len(signature) == SIGNATURE_LENGTH and hmac.compare_digest(seal(key, body), signature)
