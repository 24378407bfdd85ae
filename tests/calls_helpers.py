"""A helper module for test_calls.py: functions imported into the differentiated code.

Its global names deliberately clash with names in test_calls.py (`scale`,
`squash`) but mean different things here, so inlining must keep them apart.
"""

import numpy as numpy_alias

scale = 3.0
squash = numpy_alias.tanh


def dense(W, b, x, gain=1.0):
    return squash(x @ W + b) * gain * scale


def split(x):
    return x * scale, numpy_alias.sin(x)


def as_dict(x):
    return {"double": x * 2.0, "cube": x**3}


def polynomial(x, *, degree=3, shift=0.5):
    total = 0.0 * x
    for k in range(degree + 1):
        total = total + (x - shift) ** k
    return total
