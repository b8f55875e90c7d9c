"""The ``ninestep`` command: the nine steps on built-in or CSV data.

Commands::

    ninestep train      [--data NAME|FILE.csv|X.npy --target COL ...]  the nine steps, printed; saves a model
    ninestep reproduce  [--epochs N | --full]   the article's notebook run, exactly, with a diagnosis
    ninestep predict    --model FILE (--data FILE.csv | --input 30,70)
    ninestep evaluate   --model FILE --data FILE.csv [--target COL]
    ninestep summary    --model FILE
    ninestep gradcheck  [--layers 5,4 --activation tanh --loss mse]   back-propagation vs central differences
    ninestep sweep      --data NAME --layers 8,8 16,16 --lr 0.01 0.03 --seeds 4   a grid x seeds, as ensembles
    ninestep export     --model FILE --format onnx --out model.onnx
    ninestep playground [--port N] [--host H] [--no-browser]   the live page that trains the network

Exit codes: 0 success, 2 usage error (a bad option), 1 any other error
(bad data, missing file, divergence), 130 interrupted with Ctrl-C (the last
good model is saved first). An error is one line on stderr; ``--debug``
shows the traceback. ``--json`` prints one JSON object on stdout instead of
the human-readable report.

Layout: this module holds the one parser and the one place where errors
become exit codes; ``_common`` the shared output and option helpers; each
command is a module with ``register(subparsers, common_parent)`` (adds its
subparser, with ``run`` as the default ``args.run``) and ``run(args, out)``.
A new command is a new module plus one entry in :data:`COMMANDS`.

This package is a convenience on top of the core: it uses tqdm (progress
bar) and matplotlib (the loss curve and the pictures) when installed and
works without them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
import warnings

from .. import __version__
from . import export, gradcheck, inspect, playground, reproduce, sweep, train
from ._common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Out, UsageError, show_warning

__all__ = ["main", "build_parser", "COMMANDS"]

#: The command modules, in the order ``--help`` lists them.
COMMANDS = [train, reproduce, inspect, gradcheck, sweep, export, playground]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + error
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help').")


def build_parser() -> argparse.ArgumentParser:
    """The ``ninestep`` parser, with every command of :data:`COMMANDS`."""
    common = _Parser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="print nothing but errors")
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of the report")
    common.add_argument("--debug", action="store_true", help="show the traceback of an error")

    parser = _Parser(prog="ninestep", description="Neural networks from scratch in NumPy, in nine steps.",
                     epilog="Exit codes: 0 success, 1 error, 2 usage error, 130 interrupted.")
    parser.add_argument("--version", action="version", version=f"ninestep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        out = Out(quiet=args.quiet, as_json=args.json)
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = show_warning
            return args.run(args, out)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:
        print("interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`ninestep summary ... | head`): nothing left to say
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_OK
    except UsageError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # one line, not a traceback, unless --debug
        if debug:
            traceback.print_exc()
        text = str(exc).replace("\n", " ") or type(exc).__name__
        if not isinstance(exc, (ValueError, TypeError, OSError, ImportError)):
            text = f"{type(exc).__name__}: {text} (rerun with --debug for the traceback)"
        print(f"error: {text}", file=sys.stderr)
        return EXIT_ERROR
