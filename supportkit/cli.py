"""The ``supportkit`` command line. Bad input ends with a one-line error, never a traceback."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from supportkit import __version__
from supportkit.errors import SupportkitError


def _simulate(args: argparse.Namespace) -> int:
    from supportkit.simulate import read_requests, simulate

    if args.file in (None, "-"):
        text = sys.stdin.read()
    else:
        text = _read_text(Path(args.file))
    failed = False
    out = sys.stdout
    for result in simulate(read_requests(text)):
        failed = failed or "error" in result
        out.write(json.dumps(result, separators=(",", ":")) + "\n")
    return 1 if failed else 0


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise SupportkitError(f"{path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise SupportkitError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="supportkit",
        description="Who in an AWS account can open, read, answer and resolve AWS Support cases, "
        "use Trusted Advisor, or change the support plan, and why.",
    )
    parser.add_argument("--version", action="version", version=f"supportkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    simulate = commands.add_parser(
        "simulate", help="evaluate JSON requests (one JSON object, or JSON Lines) and print one result per line"
    )
    simulate.add_argument("file", nargs="?", help="request file (standard input when absent or '-')")
    simulate.set_defaults(run=_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except SupportkitError as error:
        print(f"supportkit {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
