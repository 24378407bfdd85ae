"""`python -m chainrule ...`: the same command line as the `chainrule` script."""

from .cli import main

raise SystemExit(main())
