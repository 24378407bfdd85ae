"""The `chainrule` command line (also `python -m chainrule`).

    chainrule demo                         differentiate and train a small network
    chainrule show FILE.py:FUNC [options]  print the code chainrule generates for FUNC

Errors the user can fix (a missing file, an unknown function, code outside
the supported subset) are reported as one short message on stderr, never as
a traceback: exit status 2 for a bad command line (missing file, unknown
function, malformed options), 1 when the code itself cannot be imported or
differentiated.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import os
import re
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from . import __version__
from .errors import CompileError

USAGE_ERROR = 2  # the command line names something that does not exist or is malformed
FAILURE = 1  # the user's code could not be imported or differentiated


class CliError(Exception):
    """A problem to report as one line on stderr, with an exit status."""

    def __init__(self, message: str, status: int = USAGE_ERROR) -> None:
        super().__init__(message)
        self.status = status


# -- `show` ---------------------------------------------------------------------------


def split_target(target: str) -> tuple[str, str]:
    """`path/to/file.py:func` -> (path, func)."""
    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        raise CliError(f"expected FILE.py:FUNCTION (for example model.py:loss), got {target!r}")
    if not name.isidentifier():
        raise CliError(f"{name!r} is not a function name (in {target!r})")
    return path, name


def load_module(path: str) -> ModuleType:
    """Import a .py file by path, as `python path` would see its neighbours."""
    if not os.path.exists(path):
        raise CliError(f"no such file: {path}")
    if os.path.isdir(path):
        raise CliError(f"{path} is a directory; name a .py file")
    full = os.path.abspath(path)
    stem = os.path.splitext(os.path.basename(full))[0]
    name = re.sub(r"\W", "_", stem) or "module"
    if name[0].isdigit():
        name = "_" + name
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise CliError(f"cannot import {path}: it is not a Python source file")
    module = importlib.util.module_from_spec(spec)
    # Let the file import its siblings, and let dataclasses & co. find it.
    sys.path.insert(0, os.path.dirname(full))
    sys.modules[name] = module
    try:
        # Whatever the file prints while it is imported goes to stderr, so that
        # `chainrule show f.py:g > g.py` captures only the generated code.
        with contextlib.redirect_stdout(sys.stderr):
            spec.loader.exec_module(module)
    except SyntaxError as exc:
        where = f"{exc.filename or path}:{exc.lineno}" if exc.lineno else path
        raise CliError(f"{where}: syntax error: {exc.msg}", FAILURE) from None
    except CompileError:
        raise  # the file differentiates something at import time
    except SystemExit as exc:
        raise CliError(f"importing {path} called sys.exit({exc.code!r})", FAILURE) from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise CliError(f"importing {path} failed: {_describe(exc, full)}", FAILURE) from None
    return module


def _describe(exc: BaseException, filename: str) -> str:
    """`file.py:LINE: ErrorType: message`, naming the last line of `filename` involved."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    if frames:
        return f"{os.path.basename(filename)}:{frames[-1].lineno}: {text}"
    return text


def find_function(module: ModuleType, name: str, path: str) -> Any:
    if not hasattr(module, name):
        functions = sorted(
            n
            for n, v in vars(module).items()
            if inspect.isfunction(v) and getattr(v, "__module__", None) == module.__name__
        )
        hint = f"; functions defined there: {', '.join(functions)}" if functions else ""
        raise CliError(f"{path} has no function named {name!r}{hint}")
    obj = getattr(module, name)
    if not callable(obj):
        kind = type(obj).__name__
        article = "an" if kind[0] in "aeiou" else "a"
        raise CliError(f"{name!r} in {path} is {article} {kind}, not a function")
    return obj


def parse_argnums(text: str | None, func: Any) -> int | tuple[int, ...]:
    """`0` -> 0, `0,1` -> (0, 1); parameter names are accepted too (`W1,b1`)."""
    if text is None:
        return 0
    try:
        params = list(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        params = []
    nums = []
    for part in (p.strip() for p in text.split(",")):
        if re.fullmatch(r"\d+", part):
            if params and int(part) >= len(params):
                raise CliError(
                    f"--argnums: {func.__name__} has {len(params)} parameter(s) "
                    f"({', '.join(params)}), so there is no argument {part}"
                )
            nums.append(int(part))
        elif part in params:
            nums.append(params.index(part))
        else:
            known = f" (parameters: {', '.join(params)})" if params else ""
            raise CliError(
                f"--argnums: {part!r} is neither an argument position nor a parameter name{known}"
            )
    if len(nums) == 1 and "," not in text:
        return nums[0]
    return tuple(nums)


def cmd_show(args: argparse.Namespace) -> int:
    from .api import highlight, source

    path, name = split_target(args.target)
    if args.mode == "vjp" and args.argnums is not None:
        raise CliError(
            "--argnums does not apply to --mode vjp, which differentiates every argument"
        )
    module = load_module(path)
    func = find_function(module, name, path)
    argnums = parse_argnums(args.argnums, func)
    try:
        text = source(func, argnums=argnums, mode=args.mode)
    except (TypeError, ValueError) as exc:  # argnums out of range, not a Python function...
        raise CliError(str(exc), FAILURE) from None
    sys.stdout.write(highlight(text, sys.stdout))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import main as demo_main

    return demo_main()


# -- the parser -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="chainrule: a source-to-source gradient compiler for Python and NumPy.",
        epilog="Run 'chainrule COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="differentiate a two-layer network, print its gradient code and train it",
        description="Print the gradient code chainrule generates for a small two-layer "
        "ReLU network, then train the network with SGD on a synthetic regression problem "
        "and print the falling loss.",
    )
    demo.set_defaults(handler=cmd_demo)

    show = sub.add_parser(
        "show",
        help="print the generated gradient code of a function in a file",
        description="Import FILE.py and print the Python code chainrule generates for one\n"
        "of its functions. The code is syntax-highlighted when printed to a terminal\n"
        "(set NO_COLOR to turn that off).",
        epilog="Examples:  chainrule show model.py:loss --argnums 0,1\n"
        "           chainrule show model.py:loss --argnums W1,b1 --mode value_and_grad",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("target", metavar="FILE.py:FUNCTION", help="the function to differentiate")
    show.add_argument(
        "--argnums",
        metavar="N[,N...]",
        help="which arguments to differentiate with respect to: positions counted from 0 or "
        "parameter names, comma-separated (default: 0). One position gives one gradient, a "
        "list gives a tuple",
    )
    show.add_argument(
        "--mode",
        choices=("grad", "value_and_grad", "vjp"),
        default="grad",
        help="which function to generate (default: grad); vjp differentiates every argument",
    )
    show.set_defaults(handler=cmd_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return USAGE_ERROR
    try:
        status = args.handler(args)
        sys.stdout.flush()  # a closed pipe fails here, inside the try, not at exit
        return status
    except CliError as exc:
        print(f"chainrule {args.command}: error: {exc}", file=sys.stderr)
        return exc.status
    except CompileError as exc:
        print(f"chainrule {args.command}: cannot differentiate this code\n{exc}", file=sys.stderr)
        return FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `chainrule demo | head`: the reader left, which is fine
        # Point stdout at /dev/null so that the flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
