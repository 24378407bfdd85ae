"""What the cache's trust checks and its size cap cost (issue 16).

In one process, on a temporary cache directory:

* per cache hit: `cache.load` (a whole hit: read, checks, JSON, rebuilding the
  function), `cache_disk.read` (open without following links, fstat, owner
  and mode, read, HMAC-SHA256), the HMAC alone, and, for comparison, what the
  previous format did (read the file, SHA-256 of the body), for the entry of
  a small function and of a 2,000-line one (padded to about 100 kB);
* pruning: listing a directory of N entries (what a process does at its first
  store), and pruning it from N entries to half (one-off, median of rounds).

Prints medians and the ratios that matter: the HMAC check as a fraction of a
whole hit, and the new read against the old one.  It reports, never asserts.

    python benchmarks/bench_cache_trust.py [--quick] [--entries N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from _timing import Contender, measure  # noqa: E402

from chainrule import cache, cache_disk, cache_trust, pipeline  # noqa: E402
from chainrule.pipeline import CompileRequest  # noqa: E402


def loss(W, b, x):
    return np.sum(np.tanh(W @ x + b) ** 2)


def old_read(path: Path) -> bool:
    """The format-1 check: a bare SHA-256 of the body."""
    first, _, body = path.read_text(encoding="utf-8").partition("\n")
    return first.split(" ")[2] == hashlib.sha256(body.encode()).hexdigest()


def per_hit(rounds: int, batch: float) -> None:
    request = CompileRequest(loss, (0, 1), "grad", True)
    pipeline.compile_function(request)
    key = cache.key_for(loss, pipeline.compile_key(request))
    store = cache_disk.open_store(create=False)
    assert store is not None and cache.load(loss, key) is not None
    small = cache_disk.read(store, key)[1]
    payload = json.loads(small)
    payload["source"] += "\n" + "# padding to the size of a 2,000-line function\n" * 2000
    big_body = json.dumps(payload, sort_keys=True, indent=1)
    big_key = "f" * 64
    cache_disk.write(store, big_key, big_body)
    for name, body, k in (("small", small, key), ("100 kB", big_body, big_key)):
        path = cache_disk.entry_path(store, k)
        old = path.with_name(f"old-{k}.txt")
        old.write_text(f"chainrule-cache 1 {hashlib.sha256(body.encode()).hexdigest()}\n{body}")
        signature = cache_trust.seal(store.key, body)
        contenders = [
            Contender("cache_disk.read (checks + HMAC)", cache_disk.read, (store, k)),
            Contender("format 1 read (SHA-256)", old_read, (old,)),
            Contender("HMAC alone", cache_trust.unseal, (store.key, body, signature)),
        ]
        if k == key:
            contenders.append(Contender("whole hit (cache.load)", cache.load, (loss, key)))
        stats = measure(contenders, rounds, batch)
        size = path.stat().st_size
        print(f"== per cache hit, {name} entry ({size / 1024:.1f} kB)")
        for s in stats.values():
            print(f"  {s.name:<34} median {s.median * 1e6:8.1f} us   min {s.best * 1e6:8.1f} us")
        read = stats["cache_disk.read (checks + HMAC)"]
        old_median = stats[contenders[1].name].median
        print(f"  read now / format 1 read:         {read.median / old_median:.2f}")
        if k == key:
            hit = stats["whole hit (cache.load)"]
            print(
                f"  HMAC / whole hit:                 {stats['HMAC alone'].median / hit.median:.3f}"
            )
            print(f"  read now / whole hit:             {read.median / hit.median:.3f}")


def pruning(entries: int, rounds: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-prune-"))
    store = cache_disk.Store(folder, b"k" * 32)
    body = json.dumps({"pad": "x" * 3000})
    listing, prune = [], []
    for _ in range(rounds):
        for i in range(entries):
            cache_disk.write(store, f"{i:064x}", body)
        start = time.perf_counter()
        total = cache_disk.listing_size(folder)
        listing.append(time.perf_counter() - start)
        start = time.perf_counter()
        cache_disk.prune(folder, total // 2)
        prune.append(time.perf_counter() - start)
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    print(f"== size cap, {entries} entries of {len(body) / 1024:.1f} kB")
    listed, pruned = statistics.median(listing) * 1e3, statistics.median(prune) * 1e3
    print(f"  listing the directory (first store of a process): {listed:.1f} ms")
    print(f"  pruning to half ({entries // 2} unlinks):            {pruned:.1f} ms")
    per = statistics.median(prune) / (entries // 2) * 1e6
    print(f"  per entry removed:                                  {per:.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--entries", type=int, default=2000)
    args = parser.parse_args()
    rounds, batch = (3, 0.02) if args.quick else (15, 0.1)
    with tempfile.TemporaryDirectory(prefix="bench-trust-") as tmp:
        os.environ["CHAINRULE_CACHE_DIR"] = os.path.join(tmp, "cache")
        os.environ["CHAINRULE_CACHE_KEY_FILE"] = os.path.join(tmp, "config", "cache-key")
        per_hit(rounds, batch)
        pruning(200 if args.quick else args.entries, 1 if args.quick else 5)


if __name__ == "__main__":
    main()
