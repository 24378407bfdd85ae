"""Run many programs, in parallel if asked, then minimize one program per failure group.

Programs are rebuilt in the worker from (seed, index), so nothing but the
results crosses process boundaries.  Filters choose which programs run: only
those with some construct (`--construct`), or none with an excluded one (the CI
test's NOT_YET_FIXED); the first `runs` programs that pass the filter run, so
a filtered run is as large as asked.
"""

from __future__ import annotations

import multiprocessing
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from .check import SECOND_ORDER, Result, check_program
from .minimize import minimize
from .programs import Program, generate
from .report import Group, Repro, Tally, group_failures


@dataclass
class Config:
    runs: int = 1000
    seed: int = 0
    jobs: int = 1
    only: frozenset[str] = frozenset()  # run only programs with one of these constructs
    exclude: frozenset[str] = frozenset()  # skip programs with any of these
    second_order_every: int = 10  # hessian, hvp, jacfwd/jacrev of grad on every n-th program
    autograd: bool = True
    time_limit: float = 60.0

    def wanted(self, program: Program) -> bool:
        if self.exclude & program.constructs:
            return False
        return not self.only or bool(self.only & program.constructs)


@dataclass
class Run:
    results: list[Result] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)
    groups: list[Group] = field(default_factory=list)
    seconds: float = 0.0


def indices(config: Config) -> Iterator[int]:
    """The indices of the programs to run: the first `runs` that pass the filters."""
    if not config.only and not config.exclude:
        yield from range(config.runs)
        return
    found = 0
    for index in range(config.runs * 200):
        if found == config.runs:
            return
        if config.wanted(generate(config.seed, index)):
            found += 1
            yield index


def check_index(config: Config, index: int) -> Result:
    warnings.simplefilter("ignore")
    program = generate(config.seed, index)
    second = config.second_order_every > 0 and index % config.second_order_every == 0
    return check_program(program, config.seed, config.autograd, second, config.time_limit)


def _check_task(task: tuple[Config, int]) -> Result:
    return check_index(*task)


def _minimize_task(task: tuple[Config, Result, int, float]) -> tuple[str, str]:
    config, failure, max_checks, max_seconds = task
    warnings.simplefilter("ignore")
    seed, index = (int(part) for part in failure.label.split(":"))
    program = generate(seed, index)
    text = minimize(program, failure, config.seed, max_checks, max_seconds)
    second = failure.stage in SECOND_ORDER
    again = check_program(program.with_source(text), config.seed, config.autograd, second)
    return text, f"{again.signature}\n{again.detail}"


def _map(jobs: int, fn: Callable, tasks: Iterable) -> Iterator:
    if jobs <= 1:
        yield from map(fn, tasks)
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(jobs, maxtasksperchild=200) as pool:
        yield from pool.imap(fn, tasks, chunksize=4)


def run(
    config: Config,
    progress: Callable[[int, Tally], None] | None = None,
    minimize_groups: int = 30,
    minimize_seconds: float = 40.0,
    examples_per_group: int = 3,
    on_result: Callable[[Result], None] | None = None,
) -> Run:
    """Check the programs, tally them, group the failures and minimize one per group.
    `on_result` sees each program's result as soon as it is checked."""
    start = time.monotonic()
    out = Run()
    for k, result in enumerate(
        _map(config.jobs, _check_task, ((config, i) for i in indices(config)))
    ):
        out.results.append(result)
        out.tally.add(result)
        if on_result is not None:
            on_result(result)
        if progress is not None:
            progress(k + 1, out.tally)
    out.groups = group_failures(out.results)
    tasks = []
    for group in out.groups[:minimize_groups]:
        for example in group.examples(out.tally, examples_per_group):
            tasks.append((group, (config, example, 400, minimize_seconds)))
    minimized = _map(config.jobs, _minimize_task, [task for _, task in tasks])
    for (group, (_, example, _, _)), (text, detail) in zip(tasks, minimized):
        if all(r.source != text for r in group.repros):
            group.repros.append(Repro(example.label, text, detail))
    out.seconds = time.monotonic() - start
    return out
