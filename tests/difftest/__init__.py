"""A differential tester for chainrule: random programs over the documented subset, many oracles.

Issue 10: hand-written tests pass while users meet wrong gradients, because
nobody writes the shapes that fail.  This package writes them at random, over
the whole subset the docs promise, and asks several independent oracles.

    constructs.py   the constructs generated, and what the docs promise for each
    scope.py        what a program has in scope while it is generated
    expressions.py  expressions of a requested shape with a magnitude bound
    statements.py   assignments, array writes, lists, containers, documented refusals
    control.py      if / for / while, jumps, returns, helpers and lambdas
    programs.py     whole programs (signature, helpers, entry point) and their inputs
    loading.py      programs as real module files (chainrule reads source files)
    oracles.py      finite differences with a smoothness test, autograd, comparisons
    check.py        one program through every mode, classified into an outcome
    variants.py     the shape-specialised variant of grad against the general code
    minimize.py     shrinking a failing program while it fails the same way
    report.py       per-construct counts, failure groups, the Markdown report
    runner.py       many programs, in parallel, then minimization per group

Entry points: tools/difftest.py (command line) and tests/test_differential.py (CI).
"""
