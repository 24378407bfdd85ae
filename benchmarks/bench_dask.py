"""chainrule.dask: per-partition overhead, throughput against NumPy, 1 and 2 worker processes.

The workload is a mean logistic loss with an L2 penalty (parameters in a
dict), the loss of examples/dask_logistic_regression.py.  Three measurements:

1. overhead: a fixed, small number of rows split into more and more
   partitions; the time of one evaluation against the number of partitions
   is fitted by a line, whose slope is the cost of one partition (a task, its
   scheduling, the generated code's call and one combine input) and whose
   intercept is the fixed cost of one evaluation (building the graph, the
   round trip to the scheduler);
2. throughput: rows per second of one evaluation on a large data set, for the
   in-memory NumPy gradient (`chainrule.value_and_grad` on the whole arrays),
   Dask's threaded scheduler, and a LocalCluster of 1 and of 2 worker
   processes (one thread each) holding the data in memory (`persist`);
3. scaling: the ratio of the 1-process and 2-process times.

BLAS runs one thread per Dask thread (set below before NumPy is imported),
as Dask's worker processes do; pass --blas-threads N to change that for this
process.  The figures depend on what else the machine is doing, so the load
average is printed with them.  Run `python benchmarks/bench_dask.py [--quick]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def _blas_threads() -> str:
    for i, arg in enumerate(sys.argv):
        if arg == "--blas-threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith("--blas-threads="):
            return arg.split("=", 1)[1]
    return "1"


for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _blas_threads()

import numpy as np  # noqa: E402

import chainrule  # noqa: E402

FEATURES = 20
L2 = 1e-4


def logistic_loss(params, X, y):
    z = X @ params["w"] + params["b"]
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * L2 * np.sum(params["w"] ** 2)


def make_block(rows, index):
    """One block of rows: features, then a 0/1 label from a fixed logistic model."""
    rng = np.random.default_rng([0, index])
    X = rng.standard_normal((rows, FEATURES))
    w = np.linspace(-1.0, 1.0, FEATURES)
    y = (rng.random(rows) < 1 / (1 + np.exp(-(X @ w)))).astype(float)
    return np.column_stack([X, y])


def chunk_sizes(rows, chunk_rows):
    return (chunk_rows,) * (rows // chunk_rows) + (
        (rows % chunk_rows,) if rows % chunk_rows else ()
    )


def dask_table(rows, chunk_rows):
    """The same rows as a Dask array whose blocks are made where they are stored."""
    import dask.array as da

    def block(block_info=None):
        info = block_info[None]
        return make_block(info["chunk-shape"][0], info["chunk-location"][0])

    chunks = (chunk_sizes(rows, chunk_rows), (FEATURES + 1,))
    return da.map_blocks(block, chunks=chunks, dtype=float, meta=np.empty((0, 0)))


def timed(fn, repeat):
    """Median and minimum wall time of `repeat` calls, after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples)


def fit_line(xs, ys):
    slope, intercept = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)
    return float(slope), float(intercept)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=None)
    parser.add_argument("--chunk-rows", type=lambda s: int(s.replace("_", "")), default=None)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--blas-threads", default="1", help="BLAS threads (default 1)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    import dask
    import dask.array as da
    from distributed import Client, LocalCluster, wait

    import chainrule.dask as crd

    quick = args.quick
    rows = args.rows or (200_000 if quick else 4_000_000)
    chunk_rows = args.chunk_rows or (25_000 if quick else 250_000)
    repeat = args.repeat or (3 if quick else 7)
    partition_counts = [1, 4, 16, 64] if quick else [1, 4, 16, 64, 256]
    small_rows = 4_096

    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
        f"BLAS threads per process: {os.environ['OPENBLAS_NUM_THREADS']}"
    )
    print(
        f"workload: mean logistic loss + L2, {FEATURES} features, params in a dict; "
        f"median of {repeat} evaluations after a warm-up\n"
    )

    sizes = chunk_sizes(rows, chunk_rows)
    table = np.concatenate([make_block(n, i) for i, n in enumerate(sizes)])
    X, y = table[:, :FEATURES], table[:, FEATURES]
    params = {"w": np.linspace(-0.5, 0.5, FEATURES), "b": 0.1}
    local = chainrule.value_and_grad(logistic_loss)
    want_value, want_grads = local(params, X, y)
    vg = crd.value_and_grad(logistic_loss, reduction="mean")
    results = {"rows": rows, "chunk_rows": chunk_rows, "features": FEATURES, "overhead": {}}

    def agree(got):
        value, grads = got
        return bool(
            np.isclose(value, want_value, rtol=1e-10)
            and np.allclose(grads["w"], want_grads["w"], rtol=1e-9, atol=1e-12)
            and np.isclose(grads["b"], want_grads["b"], rtol=1e-9, atol=1e-12)
        )

    # -- 1. per-partition overhead ------------------------------------------------------
    Xs, ys = X[:small_rows], y[:small_rows]

    def overhead(label, make):
        """Fit time = per_evaluation + per_partition * partitions, for chainrule.dask and,
        as the reference for what the scheduler costs, Dask's own X.sum(axis=0)."""
        times, reference = [], []
        for count in partition_counts:
            chunks = small_rows // count
            Xd, yd = make(da.from_array(Xs, chunks=(chunks, -1)), da.from_array(ys, chunks=chunks))
            times.append(timed(lambda Xd=Xd, yd=yd: vg(params, Xd, yd), repeat)[0])
            reference.append(timed(lambda Xd=Xd: Xd.sum(axis=0).compute(), repeat)[0])
        entry = {"partitions": partition_counts}
        for name, series in (("chainrule.dask", times), ("Dask's X.sum(axis=0)", reference)):
            slope, intercept = fit_line(partition_counts, series)
            cells = "  ".join(
                f"{c:>3}: {t * 1e3:6.1f} ms" for c, t in zip(partition_counts, series)
            )
            print(f"  {label + ', ' + name:<50} {cells}")
            print(f"  {'':<50} per partition {slope * 1e3:.2f} ms, fixed {intercept * 1e3:.1f} ms")
            entry[name] = {
                "seconds": series,
                "per_partition_ms": slope * 1e3,
                "per_evaluation_ms": intercept * 1e3,
            }
        results["overhead"][label] = entry

    # -- 2. throughput ------------------------------------------------------------------
    throughput = {}

    def rate(label, fn, check=True):
        median, best = timed(fn, repeat)
        throughput[label] = {"seconds": median, "min_seconds": best, "rows_per_s": rows / median}
        ok = "" if not check else ("  gradients agree: yes" if agree(fn()) else "  MISMATCH")
        print(f"  {label:<50} {median * 1e3:9.1f} ms  {rows / median / 1e6:7.2f} M rows/s{ok}")

    print(
        f"== per-partition overhead: {small_rows:,} rows in 1 to {partition_counts[-1]} "
        "partitions, time of one evaluation"
    )
    with dask.config.set(scheduler="threads"):
        overhead("threads (2)", lambda a, b: (a, b))

    print(
        f"\n== throughput: {rows:,} rows in chunks of {chunk_rows:,} "
        f"({-(-rows // chunk_rows)} partitions)"
    )
    rate("NumPy in memory (1 process)", lambda: local(params, X, y), check=False)
    Xd = da.from_array(X, chunks=(chunk_rows, -1))
    yd = da.from_array(y, chunks=chunk_rows)
    with dask.config.set(scheduler="threads"):
        rate("Dask threads (2)", lambda: vg(params, Xd, yd))

    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            client.wait_for_workers(workers)
            stored = dask_table(rows, chunk_rows)
            Xp, yp = client.persist([stored[:, :FEATURES], stored[:, FEATURES]])
            wait([Xp, yp])
            rate(f"LocalCluster, {workers} process(es)", lambda Xp=Xp, yp=yp: vg(params, Xp, yp))
            if workers == 2:
                print(f"\n== per-partition overhead on the LocalCluster of {workers} processes")
                overhead(
                    f"LocalCluster ({workers} processes)",
                    lambda a, b, client=client: tuple(client.persist([a, b])),
                )
    one = throughput["LocalCluster, 1 process(es)"]["seconds"]
    two = throughput["LocalCluster, 2 process(es)"]["seconds"]
    numpy_time = throughput["NumPy in memory (1 process)"]["seconds"]
    print("\n== scaling")
    print(f"  1 -> 2 worker processes: {one / two:.2f}x faster")
    print(f"  2 worker processes against NumPy in memory: {numpy_time / two:.2f}x")
    print(f"  load average now: {os.getloadavg()[0]:.2f}")
    results["throughput"] = throughput
    results["speedup_1_to_2_processes"] = one / two
    results["load_average"] = os.getloadavg()[0]
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
