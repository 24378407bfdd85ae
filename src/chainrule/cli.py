"""The `chainrule` command line (also `python -m chainrule`).

    chainrule demo                          differentiate and train a small network
    chainrule show FILE.py:FUNC [options]   print the code chainrule generates for FUNC
    chainrule compile FILE.py [-o OUT.py]   write the gradients as a module without chainrule
    chainrule check FILE.py:FUNC --shape .. compare with finite differences at random inputs
    chainrule graph FILE.py:FUNC --shape .. draw the gradient's circuit (-o loss.svg)
    chainrule cache [info|clear]            the persistent cache (cli_cache.py)
    chainrule verify OUT.py ...             is an exported module stale or edited? (cli_cache.py)

Errors the user can fix (a missing file, an unknown function, code outside
the supported subset) are reported as one short message on stderr, never as
a traceback: exit status 2 for a bad command line (missing file, unknown
function, malformed options), 1 when the code itself cannot be imported or
differentiated.
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from .api import source
from .cli_cache import add_commands as add_cache_and_verify_commands
from .cli_inputs import (
    FAILURE,
    USAGE_ERROR,
    CliError,
    add_input_options,
    describe,
    find_function,
    load_module,
    nonnegative,
    random_inputs,
    split_target,
)
from .demo import main as demo_main
from .errors import CompileError
from .exporting import ExportError, export, export_source, public_functions
from .highlight import highlight
from .testing import check_grad
from .version import __version__

# -- `show` ---------------------------------------------------------------------------


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
    path, name = split_target(args.target)
    if args.mode == "vjp" and args.argnums is not None:
        raise CliError(
            "--argnums does not apply to --mode vjp, which differentiates every argument"
        )
    example = None
    if args.shape or args.value:  # an example call: show the variant it would run
        func, _, example, _ = random_inputs(args)
    else:
        func = find_function(load_module(path), name, path)
    argnums = parse_argnums(args.argnums, func)
    mode = "grad" if args.mode == "reverse" else args.mode
    try:
        text = source(func, argnums=argnums, mode=mode, example=example)
    except (TypeError, ValueError) as exc:  # argnums out of range, not a Python function...
        raise CliError(str(exc), FAILURE) from None
    sys.stdout.write(highlight(text, sys.stdout))
    return 0


# -- `compile` ----------------------------------------------------------------------------


def cmd_compile(args: argparse.Namespace) -> int:
    if args.mode == "vjp" and args.argnums is not None:
        raise CliError(
            "--argnums does not apply to --mode vjp, which differentiates every argument"
        )
    if args.output not in (None, "-") and not args.output.endswith(".py"):
        raise CliError(f"-o: the output must be a .py file, got {args.output!r}")
    module = load_module(args.file)
    targets: list[tuple[Any, Any]] = []
    if args.function:
        for name in args.function:
            func = find_function(module, name, args.file)
            targets.append((func, parse_argnums(args.argnums, func)))
    else:
        for func in public_functions(module):
            try:
                targets.append((func, parse_argnums(args.argnums, func)))
            except CliError as exc:  # --argnums names a parameter this function lacks
                print(f"chainrule compile: note: skipped {func.__name__}: {exc}", file=sys.stderr)
        if not targets:
            raise CliError(f"{args.file} defines no public function to differentiate")
    output = args.output or default_output(args.file)
    options = dict(
        mode=args.mode,
        skip_failures=not args.function,
        command=_command(args, output),
        examples=_example_call(args),
    )
    try:
        if output == "-":
            result = export_source(targets, **options)
        else:
            result = export(targets, output, force=args.force, **options)
    except ExportError as exc:
        raise CliError(str(exc), FAILURE) from None
    except (TypeError, ValueError) as exc:  # argnums out of range...
        raise CliError(str(exc), FAILURE) from None
    for note in result.notes:
        print(f"chainrule compile: note: {note}", file=sys.stderr)
    if output == "-":
        sys.stdout.write(result.text)
    else:
        print(f"wrote {output}: {', '.join(result.names)}")
    return 0


def _example_call(args: argparse.Namespace) -> dict[str, tuple] | None:
    """`--shape` and `--value` of `compile`: one example call of the one function named
    with -f, for which grad_F and value_and_grad_F get a variant (export_variants.py)."""
    if not (args.shape or args.value):
        return None
    if not args.function or len(args.function) != 1:
        raise CliError(
            "--shape and --value describe an example call of one function: name it with "
            "-f NAME (export the others with a second command)"
        )
    name = args.function[0]
    example = argparse.Namespace(**vars(args), target=f"{args.file}:{name}")
    _, _, call, _ = random_inputs(example)
    return {name: tuple(call)}


def default_output(path: str) -> str:
    """model.py -> model_grad.py, next to it."""
    root, _ = os.path.splitext(path)
    return f"{root}_grad.py"


def _command(args: argparse.Namespace, output: str) -> str:
    """The command line that regenerates the module (recorded in its header)."""
    words = ["chainrule", "compile", args.file, "-o", output]
    for name in args.function or ():
        words += ["-f", name]
    if args.argnums is not None:
        words += ["--argnums", args.argnums]
    if args.mode != "reverse":
        words += ["--mode", args.mode]
    for option in ("shape", "value"):
        for given in getattr(args, option) or ():
            words += [f"--{option}", given]
    return " ".join(shlex.quote(w) for w in words)


# -- `check` ------------------------------------------------------------------------------


MAX_CHECKED = 1_000_000  # elements checked by finite differences: two calls each


def cmd_check(args: argparse.Namespace) -> int:
    rtol, atol = nonnegative("--rtol", args.rtol), nonnegative("--atol", args.atol)
    func, params, call, points = random_inputs(args)
    name = split_target(args.target)[1]
    if args.argnums is not None:
        nums = parse_argnums(args.argnums, func)
        nums = (nums,) if isinstance(nums, int) else nums
    else:
        nums = tuple(i for i, p in enumerate(params) if p in points)
    size = sum(_size(call[i]) for i in nums)
    if size > MAX_CHECKED:
        raise CliError(
            f"the arguments to check have {size:,} elements, and finite differences call "
            f"{name} twice for each (at most {MAX_CHECKED:,}); check smaller shapes"
        )
    _check_value(func, call, name)
    rows = []
    failed = 0
    for i in nums:
        try:
            worst = check_grad(func, *call, argnums=(i,), rtol=rtol, atol=atol)
            rows.append((i, f"worst |difference| {worst:.2e}  ok"))
        except AssertionError as exc:
            failed += 1
            rows.append((i, f"FAILED: {exc}"))
        except (CompileError, KeyboardInterrupt):
            raise
        except Exception as exc:
            where = describe(exc, func.__code__.co_filename)
            raise CliError(f"calling {name} at these inputs failed: {where}", FAILURE) from None
    print(
        f"{name}: chainrule's gradient against central finite differences at random "
        f"inputs (seed {args.seed}, rtol {rtol:g}, atol {atol:g})"
    )
    width = max(len(params[i]) for i in nums)
    for i, text in rows:
        print(f"  {params[i]:<{width}}  {_describe_shape(call[i]):<16}  {text}")
    if failed:
        print(f"{failed} of {len(nums)} gradient(s) disagree with finite differences")
        return FAILURE
    return 0


def _size(value: Any) -> int:
    import numpy as np

    if isinstance(value, dict):
        return sum(_size(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_size(v) for v in value)
    return int(np.size(value))


def _describe_shape(value: Any) -> str:
    import numpy as np

    if isinstance(value, dict):
        return f"dict of {len(value)}"
    return f"shape {np.shape(value)}"


def _check_value(func: Any, call: list, name: str) -> None:
    """The function's value at the inputs, which finite differences need to be finite."""
    import numpy as np

    try:
        value = func(*call)
    except (CompileError, KeyboardInterrupt):
        raise
    except Exception as exc:
        where = describe(exc, func.__code__.co_filename)
        raise CliError(f"calling {name} at these inputs failed: {where}", FAILURE) from None
    try:
        finite = bool(np.all(np.isfinite(value)))
    except TypeError:
        return  # not numbers: check_grad says what it needs
    if not finite:
        raise CliError(
            f"{name} is not finite (nan or inf) at these random inputs; draw arguments "
            "with a restricted domain from inside it, with --positive NAME (for log, "
            "sqrt, 1/x) or --range NAME=LOW:HIGH",
            FAILURE,
        )


def cmd_graph(args: argparse.Namespace) -> int:
    """`chainrule graph FILE.py:FUNC --shape ...`: draw the function's gradient circuit."""
    from .graph import GraphError, graph

    func, params, call, shapes = random_inputs(args)
    name = split_target(args.target)[1]
    if args.argnums is not None:
        nums = parse_argnums(args.argnums, func)
    else:
        nums = tuple(i for i, p in enumerate(params) if p in shapes)
    output = args.output or f"{name}.svg"
    try:
        picture = graph(func, *call, argnums=nums, unroll=args.unroll, max_elements=args.elements)
        picture.save(output)
    except GraphError as exc:
        raise CliError(str(exc), FAILURE) from None
    except (CompileError, KeyboardInterrupt):
        raise
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror or exc}", FAILURE) from None
    except Exception as exc:
        where = describe(exc, func.__code__.co_filename)
        raise CliError(f"calling {name} at these inputs failed: {where}", FAILURE) from None
    print(f"wrote {output}: {len(picture.nodes)} nodes, {len(picture.edges)} edges")
    return 0


def add_graph_parser(sub: Any) -> None:
    """The `graph` subcommand's options (the inputs are those of `check`)."""
    parser = sub.add_parser(
        "graph",
        help="draw a function's computation as a circuit with values and gradients",
        description="Import FILE.py, call FUNCTION at random normal inputs of the given\n"
        "shapes (as `check` does), and draw its computation with chainrule.graph: one\n"
        "node per operation, each wire labelled with its value and the gradient sent\n"
        "back along it.  .svg and .png need Graphviz; .dot is Graphviz's source.",
        epilog="Example:  chainrule graph model.py:loss --shape W=3x4 --shape x=4 -o loss.svg",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", metavar="FILE.py:FUNCTION", help="the function to draw")
    add_input_options(parser, "the arguments to differentiate")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write: .svg, .png, .pdf or .dot (default: FUNCTION.svg)",
    )
    parser.add_argument(
        "--unroll",
        type=int,
        default=0,
        metavar="N",
        help="draw the first N loop iterations one by one (default: 0, every loop folded)",
    )
    parser.add_argument(
        "--elements",
        type=int,
        default=4,
        metavar="N",
        help="print arrays of at most N elements in full (default: 4)",
    )
    parser.set_defaults(handler=cmd_graph)


def cmd_demo(args: argparse.Namespace) -> int:
    return demo_main()


# -- the parser -------------------------------------------------------------------------


def add_example_options(parser: argparse.ArgumentParser, shape_help: str) -> None:
    """--shape and --value, which describe an example call (show, compile)."""
    parser.add_argument("--shape", action="append", metavar="NAME=SHAPE", help=shape_help)
    parser.add_argument(
        "--value",
        action="append",
        metavar="NAME=LITERAL",
        help="a fixed value of a parameter in the example call (--value n=5)",
    )


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
        "           chainrule show model.py:loss --argnums W1,b1 --mode value_and_grad\n"
        "           chainrule show model.py:loss --shape W=3x4 --shape b=3 --shape x=4",
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
        choices=("grad", "value_and_grad", "vjp", "reverse", "forward"),
        default="grad",
        help="which function to generate (default: grad; reverse is the same); vjp "
        "differentiates every argument; forward prints the forward-mode (jvp) function",
    )
    add_example_options(
        show,
        "describe an example call, one option per parameter (3x4, 5, or scalar for a "
        "Python float): show the variant specialised for it (grad and value_and_grad)",
    )
    show.set_defaults(handler=cmd_show, seed=0)

    comp = sub.add_parser(
        "compile",
        help="write the generated functions as a module that runs without chainrule",
        description="Import FILE.py and write a Python module with the gradient functions\n"
        "of its functions: grad_F, value_and_grad_F and vjp_F for each function F\n"
        "(vjp_F is left out, with a note, when F cannot be differentiated with respect\n"
        "to every argument). The module needs only NumPy, plus FILE's own module for\n"
        "the globals the code reads. An existing file is replaced only if chainrule\n"
        "wrote it, unless --force.",
        epilog="Examples:  chainrule compile model.py -o model_grad.py -f loss --argnums 0,1\n"
        "           chainrule compile model.py            (every function, to model_grad.py)\n"
        "           chainrule compile model.py -f loss --shape W=3x4 --shape x=4  (with a "
        "variant)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    comp.add_argument("file", metavar="FILE.py", help="the file whose functions to differentiate")
    comp.add_argument(
        "-o",
        "--output",
        metavar="OUT.py",
        help="the module to write (default: FILE_grad.py next to FILE.py; - for stdout)",
    )
    comp.add_argument(
        "-f",
        "--function",
        action="append",
        metavar="NAME",
        help="a function to export; repeat for several (default: every public function "
        "of the file that chainrule can differentiate)",
    )
    comp.add_argument(
        "--argnums",
        metavar="N[,N...]",
        help="the arguments to differentiate, as for show (default: 0)",
    )
    comp.add_argument(
        "--mode",
        choices=("reverse", "forward", "grad", "value_and_grad", "vjp"),
        default="reverse",
        help="reverse (default): grad_F, value_and_grad_F and vjp_F; forward: the "
        "forward-mode functions; or just one of grad, value_and_grad, vjp",
    )
    comp.add_argument(
        "--force", action="store_true", help="overwrite OUT.py even if chainrule did not write it"
    )
    add_example_options(
        comp,
        "describe an example call of the function given with -f, one option per "
        "parameter (as for show): grad_F and value_and_grad_F then run a variant "
        "specialised for arguments of its kinds, and the general code for others",
    )
    comp.set_defaults(handler=cmd_compile, seed=0)

    check = sub.add_parser(
        "check",
        help="compare a function's gradient with finite differences at random inputs",
        description="Import FILE.py, call FUNCTION at random normal inputs of the given\n"
        "shapes, and compare chainrule's gradient with central finite differences\n"
        "(chainrule.check_grad), printing the largest difference for each argument.\n"
        "Exit status 1 when some gradient disagrees.",
        epilog="Example:  chainrule check model.py:loss --shape W=3x4 --shape b=3 --shape x=4",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("target", metavar="FILE.py:FUNCTION", help="the function to check")
    add_input_options(check, "which arguments to check")
    check.add_argument("--rtol", default="1e-5", help="relative tolerance (1e-5)")
    check.add_argument("--atol", default="1e-6", help="absolute tolerance (1e-6)")
    check.set_defaults(handler=cmd_check)
    add_graph_parser(sub)
    add_cache_and_verify_commands(sub)
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
