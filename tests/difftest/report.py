"""Counting results per construct, grouping failures, and writing it all down as Markdown.

Counts, not impressions: for every construct, how many programs used it and
how each of those ended.  Failures are grouped by signature (same outcome, same
stage, same oracle or normalized message); for each group the report names the
constructs that are over-represented in it compared with the whole run, which
points at the cause faster than any single program does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .check import FAILURES, OUTCOMES, Result
from .constructs import CONSTRUCTS

COLUMNS = ("agree", "refused", "wrong", "crash", "refused-supported", "unrefused", "skipped")


@dataclass
class Tally:
    total: int = 0
    outcomes: Counter = field(default_factory=Counter)
    per_construct: dict[str, Counter] = field(default_factory=dict)
    programs_with: Counter = field(default_factory=Counter)
    checks: Counter = field(default_factory=Counter)

    def add(self, result: Result) -> None:
        self.total += 1
        self.outcomes[result.outcome] += 1
        self.checks.update(result.checks)
        for c in result.constructs:
            self.programs_with[c] += 1
            self.per_construct.setdefault(c, Counter())[result.outcome] += 1

    @property
    def failures(self) -> int:
        return sum(self.outcomes[o] for o in FAILURES)


@dataclass
class Repro:
    label: str  # the program it was shrunk from
    source: str  # minimized
    detail: str  # the minimized program's failure


@dataclass
class Group:
    signature: str
    results: list[Result]
    repros: list[Repro] = field(default_factory=list)

    @property
    def example(self) -> Result:
        return min(self.results, key=lambda r: len(r.source))

    def examples(self, tally: Tally, count: int) -> list[Result]:
        """Up to `count` programs to minimize: the smallest, then the smallest without the
        group's most over-represented construct, then without the top two, and so on, so
        that one signature hiding several defects shows more than one of them."""
        chosen = [self.example]
        top = [c for _, _, _, c in _lifts(self, tally)]
        for k in range(1, count):
            rest = [r for r in self.results if not set(top[:k]) & r.constructs]
            rest = [r for r in rest if r not in chosen]
            if rest:
                chosen.append(min(rest, key=lambda r: len(r.source)))
        return chosen


def group_failures(results: list[Result]) -> list[Group]:
    groups: dict[str, list[Result]] = {}
    for r in results:
        if r.failed:
            groups.setdefault(r.signature, []).append(r)
    return sorted((Group(s, rs) for s, rs in groups.items()), key=lambda g: -len(g.results))


def _lifts(group: Group, tally: Tally) -> list[tuple[float, float, float, str]]:
    inside = Counter(c for r in group.results for c in r.constructs)
    n = len(group.results)
    rows = []
    for c, k in inside.items():
        share = k / n
        overall = tally.programs_with[c] / max(tally.total, 1)
        if share >= 0.5 and overall > 0:
            rows.append((share / overall, share, overall, c))
    return sorted(rows, reverse=True)


def associated(group: Group, tally: Tally, top: int = 6) -> list[str]:
    """Constructs used by at least half of the group's programs, most over-represented first."""
    rows = _lifts(group, tally)[:top]
    return [f"{c} ({share:.0%} here, {overall:.0%} overall)" for _, share, overall, c in rows]


def construct_table(tally: Tally) -> str:
    head = "| construct | status | programs | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 3)]
    for name, construct in CONSTRUCTS.items():
        counts = tally.per_construct.get(name, Counter())
        status = construct.status.value
        if construct.second_order is not None:
            status += f" (2nd order: {construct.second_order.value})"
        cells = [str(counts[o]) if counts[o] else "." for o in COLUMNS]
        lines.append(
            f"| {name} | {status} | {tally.programs_with[name]} | " + " | ".join(cells) + " |"
        )
    cells = [str(tally.outcomes[o]) for o in COLUMNS]
    lines.append(f"| **all programs** | | {tally.total} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(tally: Tally, seconds: float, seed: int, jobs: int) -> str:
    outcomes = ", ".join(f"{o} {tally.outcomes[o]}" for o in OUTCOMES if tally.outcomes[o])
    return (
        f"{tally.total} programs, seed {seed}, {seconds:.0f} s with {jobs} job(s).\n\n"
        f"Outcomes: {outcomes}.\n\n"
        f"Failures (wrong + crash + refused-supported + unrefused): {tally.failures} "
        f"({tally.failures / max(tally.total, 1):.1%}).  Autograd was an oracle in "
        f"{tally.checks['autograd']} programs; second order was checked in "
        f"{tally.checks['hessian']}; a shape-specialised variant was compared with the "
        f"general code in {tally.checks['variant']}."
    )


def render(tally: Tally, groups: list[Group], seconds: float, seed: int, jobs: int) -> str:
    parts = [
        "# chainrule differential test",
        "",
        summary(tally, seconds, seed, jobs),
        "",
        "## Per construct",
        "",
        "Each row counts the programs that contain the construct, by how they ended.",
        "",
        construct_table(tally),
        "",
        "## Failures, grouped",
    ]
    if not groups:
        parts += ["", "None."]
    for k, g in enumerate(groups, 1):
        labels = ", ".join(r.label for r in g.results[:6])
        parts += [
            "",
            f"### {k}. {g.signature}",
            "",
            f"{len(g.results)} programs ({len(g.results) / max(tally.total, 1):.1%}); "
            f"e.g. {labels}",
            "(`python tools/difftest.py --show LABEL` rebuilds and checks one).",
            "",
            "Constructs over-represented: " + ("; ".join(associated(g, tally)) or "none"),
        ]
        if not g.repros:
            e = g.example
            parts += ["", f"Smallest failing program ({e.label}):", ""]
            parts += ["```python", e.source.rstrip(), "```", "", "Outcome:", "", "```text"]
            parts += [e.detail.strip()[:2500], "```"]
        for n, r in enumerate(g.repros, 1):
            parts += ["", f"Minimized program {n} (from {r.label}):", "", "```python"]
            parts += [r.source.rstrip(), "```", "", "Outcome:", "", "```text"]
            parts += [r.detail.strip()[:2500], "```"]
    return "\n".join(parts) + "\n"
