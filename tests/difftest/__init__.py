"""A differential tester for chainrule: random programs over the documented subset, many oracles.

See tools/difftest.py for the command line and tests/test_differential.py for the CI run.
"""
