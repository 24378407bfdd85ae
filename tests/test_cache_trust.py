"""Whether the persistent cache trusts what it finds (cache_trust.py, cache_disk.py).

Planted entries carry code that writes a marker file when it runs: whatever
is wrong with them (their mode, their owner, the directory's, their
signature, their depth), the marker must never appear, the gradient must be
right, and the entry must be replaced by a good one.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_cli import run as run_cli

import chainrule
from chainrule import cache, cache_disk, cache_trust, pipeline
from chainrule.cache_trust import directory_problem, entry_problem, key_file_problem
from chainrule.pipeline import CompileRequest

POSIX = hasattr(os, "geteuid")
needs_posix = pytest.mark.skipif(not POSIX, reason="ownership checks need user ids")
ME = 1000
OTHER = 1001


def fake_stat(mode: int, uid: int = ME) -> os.stat_result:
    return os.stat_result((mode, 1, 1, 1, uid, uid, 100, 0, 0, 0))


# -- the predicates, on made-up stat results -------------------------------------------------


@pytest.mark.parametrize(
    "mode, uid, trouble",
    [
        (stat.S_IFDIR | 0o700, ME, None),
        (stat.S_IFDIR | 0o755, ME, None),
        (stat.S_IFDIR | 0o775, ME, "writable by other users (mode 0775)"),
        (stat.S_IFDIR | 0o707, ME, "writable by other users"),
        (stat.S_IFDIR | 0o1777, ME, "writable by other users (mode 1777)"),
        (stat.S_IFDIR | 0o700, OTHER, "owned by user id 1001, not by you (user id 1000)"),
        (stat.S_IFREG | 0o700, ME, "not a directory"),
    ],
)
def test_directory_predicate(mode, uid, trouble):
    problem = directory_problem(fake_stat(mode, uid), ME, "/c")
    if trouble is None:
        assert problem is None
    else:
        assert trouble in problem
        assert "chmod go-w /c" in problem or "CHAINRULE_CACHE_DIR" in problem or "not a" in problem


@pytest.mark.parametrize(
    "mode, uid, trouble",
    [
        (stat.S_IFREG | 0o600, ME, None),
        (stat.S_IFREG | 0o644, ME, None),
        (stat.S_IFREG | 0o620, ME, "mode 0620"),
        (stat.S_IFREG | 0o602, ME, "mode 0602"),
        (stat.S_IFREG | 0o666, ME, "mode 0666"),
        (stat.S_IFREG | 0o600, OTHER, "owned by user id 1001"),
        (stat.S_IFREG | 0o666, OTHER, "owned by user id 1001"),
        (stat.S_IFLNK | 0o777, ME, "not a regular file"),
        (stat.S_IFDIR | 0o700, ME, "not a regular file"),
    ],
)
def test_entry_predicate(mode, uid, trouble):
    problem = entry_problem(fake_stat(mode, uid), ME, "/c/e.json")
    assert problem is None if trouble is None else trouble in problem


@pytest.mark.parametrize(
    "mode, uid, trouble",
    [
        (stat.S_IFREG | 0o600, ME, None),
        (stat.S_IFREG | 0o400, ME, None),
        (stat.S_IFREG | 0o640, ME, "read or written by other users"),
        (stat.S_IFREG | 0o604, ME, "read or written by other users"),
        (stat.S_IFREG | 0o600, OTHER, "owned by user id 1001"),
    ],
)
def test_key_file_predicate(mode, uid, trouble):
    problem = key_file_problem(fake_stat(mode, uid), ME, "/k")
    assert problem is None if trouble is None else trouble in problem


def test_without_user_ids_only_the_kind_of_file_is_checked():
    assert directory_problem(fake_stat(stat.S_IFDIR | 0o777, OTHER), None) is None
    assert entry_problem(fake_stat(stat.S_IFREG | 0o666, OTHER), None) is None
    assert entry_problem(fake_stat(stat.S_IFDIR | 0o700), None) is not None


# -- planted entries ---------------------------------------------------------------------------


def cubed(x):
    return np.sum(np.sin(x) * x**3)


# what grad(cubed)(x) compiles for a 1-D x: the variant specialised on its ndim
OPTIONS = CompileRequest(cubed, (0,), "grad", False, ((0, 1),))


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A cache directory and key of this test's own; nothing remembered in memory."""
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CHAINRULE_CACHE_KEY_FILE", str(tmp_path / "config" / "cache-key"))
    monkeypatch.setattr(cache_disk, "_warned", set())
    monkeypatch.setattr(cache_disk, "_keys", {})
    monkeypatch.setattr(cache_disk, "_usage", {})
    pipeline._cache.clear()
    yield tmp_path
    pipeline._cache.clear()


def disk_key() -> str:
    return cache.key_for(cubed, pipeline.compile_key(OPTIONS))


def entry_file() -> Path:
    return cache.directory() / f"{disk_key()}.json"


def fill() -> dict:
    """Compile `cubed` (storing its entry); return the entry's payload."""
    pipeline._cache.clear()
    pipeline.compile_function(OPTIONS)
    pipeline._cache.clear()
    body = entry_file().read_text().partition("\n")[2]
    return json.loads(body)


def with_marker(payload: dict, marker: Path) -> str:
    """The payload's JSON with code that writes `marker` when the gradient runs."""
    planted = dict(payload)
    source = planted["source"]
    assert "    return " in source
    planted["source"] = source.replace(
        "    return ",
        f"    return __import__('pathlib').Path({str(marker)!r}).write_text('ran') and ",
        1,
    )
    return json.dumps(planted, sort_keys=True, indent=1)


def signed(body: str) -> bytes:
    store = cache_disk.open_store(create=True)
    signature = cache_trust.seal(store.key, body)
    return f"{cache_disk.MAGIC} {cache_disk.FORMAT} {signature}\n{body}".encode()


def gradient_is_right() -> None:
    x = np.linspace(-1.0, 1.5, 4)
    got = chainrule.grad(cubed)(x)
    np.testing.assert_allclose(got, np.cos(x) * x**3 + 3 * np.sin(x) * x**2, rtol=1e-12)
    chainrule.check_grad(cubed, x)


def run_collecting_warnings() -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):  # three processes' worth of lookups: still one warning
            pipeline._cache.clear()
            gradient_is_right()
    return [str(w.message) for w in caught if w.category is cache.UntrustedCacheWarning]


def test_a_planted_entry_signed_with_the_key_does_run(fresh):
    """The control experiment: the marker mechanism works when the entry is trusted."""
    marker = fresh / "marker"
    planted = with_marker(fill(), marker)
    entry_file().write_bytes(signed(planted))
    os.chmod(entry_file(), 0o600)
    pipeline._cache.clear()
    chainrule.grad(cubed)(np.ones(3))
    assert marker.exists()


@needs_posix
@pytest.mark.parametrize("mode", [0o666, 0o660, 0o620, 0o602, 0o622])
def test_entries_writable_by_others_are_never_run(fresh, mode):
    marker = fresh / "marker"
    planted = with_marker(fill(), marker)
    entry_file().write_bytes(signed(planted))  # even with a good signature
    os.chmod(entry_file(), mode)
    messages = run_collecting_warnings()
    assert not marker.exists()
    assert len(messages) == 1, messages
    assert f"mode {mode:04o}" in messages[0] and "chmod go-w" in messages[0]
    assert stat.S_IMODE(entry_file().stat().st_mode) == 0o600  # replaced by a good one
    assert "write_text('ran')" not in entry_file().read_text()


@needs_posix
@pytest.mark.skipif(not POSIX or os.geteuid() != 0, reason="chown needs root")
def test_entries_owned_by_another_user_are_never_run(fresh):
    marker = fresh / "marker"
    planted = with_marker(fill(), marker)
    entry_file().write_bytes(signed(planted))
    os.chmod(entry_file(), 0o600)
    os.chown(entry_file(), 4321, 4321)
    messages = run_collecting_warnings()
    assert not marker.exists()
    assert len(messages) == 1 and "owned by user id 4321" in messages[0]
    assert entry_file().stat().st_uid == os.geteuid()


@needs_posix
@pytest.mark.parametrize("mode", [0o777, 0o770, 0o707, 0o1777])
def test_a_directory_writable_by_others_is_not_used(fresh, mode):
    marker = fresh / "marker"
    planted = with_marker(fill(), marker)
    entry_file().write_bytes(signed(planted))
    os.chmod(entry_file(), 0o600)
    folder = cache.directory()
    os.chmod(folder, mode)
    before = sorted(p.name for p in folder.iterdir())
    messages = run_collecting_warnings()
    assert not marker.exists()
    assert len(messages) == 1, messages
    assert "does not use its cache" in messages[0] and f"chmod go-w {folder}" in messages[0]
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written either
    os.chmod(folder, 0o700)  # fixed as the warning says: used again
    entry_file().unlink()
    pipeline._cache.clear()
    gradient_is_right()
    assert entry_file().exists()


@needs_posix
@pytest.mark.skipif(not POSIX or os.geteuid() != 0, reason="chown needs root")
def test_a_directory_owned_by_another_user_is_not_used(fresh):
    marker = fresh / "marker"
    planted = with_marker(fill(), marker)
    entry_file().write_bytes(signed(planted))
    os.chmod(entry_file(), 0o600)
    os.chown(cache.directory(), 4321, 4321)
    messages = run_collecting_warnings()
    assert not marker.exists()
    assert len(messages) == 1 and "owned by user id 4321" in messages[0]


def test_a_forged_entry_without_the_key_is_never_run(fresh):
    """A correct SHA-256 (the old format's check) or a signature under another key."""
    marker = fresh / "marker"
    payload = fill()
    planted = with_marker(payload, marker)
    sha = hashlib.sha256(planted.encode()).hexdigest()
    import hmac

    other_key = hmac.new(b"not the key" * 3, planted.encode(), hashlib.sha256).hexdigest()
    forgeries = [
        f"chainrule-cache 1 {sha}\n{planted}",
        f"chainrule-cache 2 {sha}\n{planted}",
        f"chainrule-cache 2 {other_key}\n{planted}",
        f"chainrule-cache 2 {sha[:10]}\n{planted}",
    ]
    for forged in forgeries:
        entry_file().write_text(forged)
        os.chmod(entry_file(), 0o600)
        before = cache.stats["rejected"]
        pipeline._cache.clear()
        gradient_is_right()
        assert not marker.exists(), forged.splitlines()[0]
        assert cache.stats["rejected"] == before + 1
        assert cache.read_entry(disk_key()) == payload  # rewritten


def test_an_entry_copied_from_another_key_is_a_miss(fresh, monkeypatch):
    fill()
    monkeypatch.setenv("CHAINRULE_CACHE_KEY_FILE", str(fresh / "elsewhere" / "cache-key"))
    assert cache.read_entry(disk_key()) is None


@needs_posix
def test_a_symbolic_link_as_an_entry_is_not_followed(fresh):
    marker = fresh / "marker"
    planted = with_marker(fill(), marker)
    elsewhere = fresh / "planted.json"
    elsewhere.write_bytes(signed(planted))
    os.chmod(elsewhere, 0o600)
    entry_file().unlink()
    entry_file().symlink_to(elsewhere)
    pipeline._cache.clear()
    gradient_is_right()
    assert not marker.exists()
    assert not entry_file().is_symlink()


def test_a_payload_nested_too_deep_is_a_miss_and_rewritten(fresh):
    payload = fill()
    nested = "[" * 100_000 + "]" * 100_000
    deep = json.dumps({"key": disk_key(), "x": 0}).replace("0}", nested + "}")
    entry_file().write_bytes(signed(deep))
    os.chmod(entry_file(), 0o600)
    before = dict(cache.stats)
    pipeline._cache.clear()
    gradient_is_right()
    assert cache.stats["rejected"] == before["rejected"] + 1
    assert cache.read_entry(disk_key()) == payload


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],
        lambda text: "",
        lambda text: "\x00\xff garbage",
        lambda text: text.replace("chainrule-cache 2", "chainrule-cache 9", 1),
    ],
)
def test_any_damage_is_a_miss_and_rewritten(fresh, damage):
    payload = fill()
    entry_file().write_text(damage(entry_file().read_text()), errors="surrogateescape")
    pipeline._cache.clear()
    gradient_is_right()
    assert cache.read_entry(disk_key()) == payload


@needs_posix
def test_a_key_readable_by_others_turns_the_cache_off(fresh):
    fill()
    key_file = cache_trust.key_path()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    os.chmod(key_file, 0o644)
    cache_disk._keys.clear()
    messages = run_collecting_warnings()
    assert len(messages) == 1 and "read or written by other users" in messages[0]


def test_the_key_is_never_inside_the_cache(fresh, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE_KEY_FILE", str(cache.directory() / "cache-key"))
    messages = run_collecting_warnings()
    assert len(messages) == 1 and "inside the cache directory" in messages[0]
    assert not (cache.directory() / "cache-key").exists()


def test_the_key_file_is_private_and_made_once(fresh):
    key_file = cache_trust.key_path()
    assert not key_file.exists()
    fill()
    text = key_file.read_text()
    assert len(text.strip()) == 64
    if POSIX:
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    cache_disk._keys.clear()
    fill()
    assert key_file.read_text() == text
    assert [p.name for p in key_file.parent.iterdir()] == ["cache-key"]  # no temporary left


# -- size --------------------------------------------------------------------------------------


def body_for(name: str, size: int) -> str:
    pad = "x" * size
    return json.dumps({"key": name, "pad": pad, "sha": hashlib.sha256(pad.encode()).hexdigest()})


def test_pruning_removes_the_least_recently_used(fresh, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE_MAX_MB", str(40_000 / 2**20))
    store = cache_disk.open_store(create=True)
    names = [f"{i:064x}" for i in range(12)]
    for i, name in enumerate(names[:8]):
        assert cache_disk.write(store, name, body_for(name, 4000))
        os.utime(cache_disk.entry_path(store, name), (1000.0 + i, 1000.0 + i))
    assert cache_disk.read(store, names[0])[0] == "hit"  # used: now the most recent
    for name in names[8:]:
        cache_disk.write(store, name, body_for(name, 4000))
    left = {p.stem for p in store.folder.glob("*.json")}
    assert names[0] in left and names[1] not in left and names[-1] in left
    assert cache_disk.listing_size(store.folder) <= 40_000


def test_stale_temporary_files_are_pruned(fresh, monkeypatch):
    store = cache_disk.open_store(create=True)
    crashed = store.folder / ".tmp-crashed.json"
    crashed.write_text("half")
    os.utime(crashed, (1000.0, 1000.0))
    writing = store.folder / ".tmp-writing.json"
    writing.write_text("being written")
    cache_disk.prune(store.folder, 10**9)
    assert not crashed.exists() and writing.exists()


PRUNER = """\
import json, hashlib, random, sys
from chainrule import cache_disk

seed = int(sys.argv[1])
rng = random.Random(seed)
store = cache_disk.open_store(create=True)
assert store is not None
names = [f"{i:064x}" for i in range(60)]
counts = {"hit": 0, "miss": 0, "rejected": 0, "broken": 0}
for step in range(400):
    name = rng.choice(names)
    pad = "x" * rng.randrange(500, 6000)
    body = json.dumps({"key": name, "pad": pad, "sha": hashlib.sha256(pad.encode()).hexdigest()})
    cache_disk.write(store, name, body)
    for _ in range(3):
        name = rng.choice(names)
        outcome, body = cache_disk.read(store, name)
        counts[outcome] += 1
        if body is not None:
            payload = json.loads(body)
            if payload["key"] != name or payload["sha"] != hashlib.sha256(
                payload["pad"].encode()
            ).hexdigest():
                counts["broken"] += 1
print(json.dumps(counts))
"""


def test_pruning_under_four_processes_never_yields_a_partial_read(tmp_path):
    script = tmp_path / "pruner.py"
    script.write_text(PRUNER)
    cap = 60_000
    env = {
        **os.environ,
        "CHAINRULE_CACHE_DIR": str(tmp_path / "cache"),
        "CHAINRULE_CACHE_KEY_FILE": str(tmp_path / "config" / "cache-key"),  # made by the race
        "CHAINRULE_CACHE_MAX_MB": str(cap / 2**20),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for seed in range(4)
    ]
    totals = {"hit": 0, "miss": 0, "rejected": 0, "broken": 0}
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        for k, v in json.loads(out.strip().splitlines()[-1]).items():
            totals[k] += v
    assert totals["rejected"] == 0 and totals["broken"] == 0, totals
    assert totals["hit"] > 0 and totals["miss"] > 0, totals  # misses: pruned entries
    folder = tmp_path / "cache"
    assert len(list(folder.glob("*.json"))) < 60
    assert not list(folder.glob(".tmp-*"))
    # each process prunes what it counts: the directory ends near the cap
    assert cache_disk.listing_size(folder) <= cap + 4 * 6200


# -- the command line --------------------------------------------------------------------------


def test_cache_info_and_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CHAINRULE_CACHE_KEY_FILE", str(tmp_path / "config" / "cache-key"))
    (tmp_path / "m.py").write_text(
        textwrap.dedent("""\
        import numpy as np

        def f(x):
            return np.sum(np.tanh(x) ** 2)
        """)
    )
    info = run_cli("cache", "info")
    assert info.returncode == 0, info.stderr
    assert str(tmp_path / "cache") in info.stdout and "0 entries" in info.stdout
    assert "200 MB" in info.stdout and "cache-key" in info.stdout
    shown = run_cli("show", f"{tmp_path / 'm.py'}:f")
    assert shown.returncode == 0, shown.stderr
    info = run_cli("cache", "info")
    assert "1 entry" in info.stdout, info.stdout
    cleared = run_cli("cache", "clear")
    assert cleared.returncode == 0 and "removed 1 entry" in cleared.stdout
    assert not list((tmp_path / "cache").glob("*.json"))
    if POSIX:
        os.chmod(tmp_path / "cache", 0o777)
        info = run_cli("cache", "info")
        assert "not used" in info.stdout and "chmod go-w" in info.stdout
        assert info.returncode == 1


def test_bench_cache_trust_runs():
    bench = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_cache_trust.py"
    proc = subprocess.run(
        [sys.executable, str(bench), "--quick"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "HMAC / whole hit" in proc.stdout and "pruning to half" in proc.stdout
