"""The ``supportkit`` command line. Bad input ends with a one-line error, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from supportkit import __version__
from supportkit.iam.context import context_from_arguments
from supportkit.errors import SupportkitError

if TYPE_CHECKING:
    from supportkit.snapshot import Account


def _simulate(args: argparse.Namespace) -> int:
    from supportkit.heap import no_collection
    from supportkit.iam.simulate import Simulator, decode_requests, read_requests, simulate
    from supportkit.support.catalog import load_catalog
    from supportkit.support.plans import ROOT_PLAN_CHANGE_NOT_RESTRICTED_BY_SCPS
    from supportkit.support.rcps import rcp_services

    if args.file in (None, "-"):
        stdin = sys.stdin
        data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode("utf-8", "surrogateescape")
    else:
        data = _read_bytes(Path(args.file))
    failed = False
    out = sys.stdout
    encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode  # json.dumps builds one per call
    simulator = Simulator(rcp_services=rcp_services(), scp_exempt=ROOT_PLAN_CHANGE_NOT_RESTRICTED_BY_SCPS,
                          known_actions=load_catalog().known_actions)
    # The parsed policies live as long as the run and hold no garbage cycles: rescanning them at each
    # collection was about a sixth of the run on requests that carry their own policies (a request's own
    # objects are freed as it ends, by reference counting).
    with no_collection():
        for result in simulate(read_requests(decode_requests(data)), simulator):
            failed = failed or "error" in result
            out.write(encode(result) + "\n")
    return 1 if failed else 0


CONTEXT_HELP = ("a condition key added to every request, e.g. aws:MultiFactorAuthPresent=true; repeat a key, or "
                'give a JSON list (aws:TagKeys=["a","b"]), for a multivalued one')


def _analysis_context(pairs: Sequence[str]) -> dict[str, object]:
    """``--context`` pairs, checked before anything is read: a bad key fails in a line of its own."""
    from supportkit.iam.keys import check_analyst_context

    context = context_from_arguments(pairs)
    check_analyst_context(context)
    return context


def _load_snapshot(args: argparse.Namespace) -> Account:
    """The snapshot of ``args`` (with its --scps, --rcps, --management-account); warnings and problems on stderr."""
    from supportkit.snapshot import load_account

    account = load_account(args.snapshot, scps=args.scps, rcps=args.rcps,
                           management_account=args.management_account or None)
    for warning in account.warnings:
        print(f"supportkit {args.command}: warning: {warning}", file=sys.stderr)
    for identity in account.identities:
        for problem in identity.problems:
            print(f"supportkit {args.command}: incomplete: {identity.arn}: {problem}", file=sys.stderr)
    return account


def _add_snapshot_arguments(parser: argparse.ArgumentParser) -> None:
    """The snapshot argument and the options that complete it, as matrix and who-can take them."""
    parser.add_argument("snapshot", help="account snapshot folder, or an authorization-details JSON file (.gz too)")
    parser.add_argument("--scps", help="SCPs in force, from the organization root to the account (scps.json shape)")
    parser.add_argument("--rcps", help="RCPs in force, from the organization root to the account (same shape; "
                        "RCPFullAWSAccess need not be listed)")
    parser.add_argument("--management-account", action="store_true",
                        help="the account is the organization's management account: SCPs do not apply")
    parser.add_argument("--context", action="append", default=[], metavar="KEY=VALUE", help=CONTEXT_HELP)


def _matrix(args: argparse.Namespace) -> int:
    from supportkit.analysis.matrix import build_matrix, write_matrix

    context = _analysis_context(args.context)
    account = _load_snapshot(args)
    matrix = build_matrix(account, context=context)
    write_matrix(matrix, args.format, args.output)
    return 0


def _who_can(args: argparse.Namespace) -> int:
    from supportkit.analysis.paths import resolve_target, who_can_target
    from supportkit.support.catalog import load_catalog

    context = _analysis_context(args.context)
    target = resolve_target(load_catalog(), args.target)
    paths = who_can_target(_load_snapshot(args), target, context=context, depth=args.depth)
    out = sys.stdout
    for path in paths:
        if args.format == "json":
            out.write(json.dumps(path.to_json(), separators=(",", ":")) + "\n")
        else:
            caveats = "".join(f"  [caveat: {c}]" for c in path.all_caveats)
            out.write(f"{path.kind.value:<14} {path.decision.value:<11} {path.text()}{caveats}\n")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from supportkit.snapshot import load_account
    from supportkit.analysis.diff import diff_accounts

    context = _analysis_context(args.context)
    before, after = load_account(args.before), load_account(args.after)
    changes = diff_accounts(before, after, context=context)
    out = sys.stdout
    for row in changes.rows():
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    if args.organization:
        return _fetch_organization(args)
    for option in ("role_name", "accounts", "workers", "resume"):
        if getattr(args, option):
            raise SupportkitError(f"--{option.replace('_', '-')} goes with --organization")
    from supportkit.snapshot.fetch import fetch_snapshot

    folder = fetch_snapshot(Path(args.output), profile=args.profile, region=args.region)
    print(folder)
    return 0


def _fetch_organization(args: argparse.Namespace) -> int:
    from supportkit.snapshot.fetch_organization import DEFAULT_ROLE, DEFAULT_WORKERS, fetch_organization

    accounts = [part.strip() for part in args.accounts.split(",") if part.strip()] if args.accounts else None
    result = fetch_organization(
        Path(args.output), profile=args.profile, region=args.region, role_name=args.role_name or DEFAULT_ROLE,
        accounts=accounts, workers=args.workers or DEFAULT_WORKERS, resume=args.resume,
    )
    for account in result.failed:
        print(f"supportkit fetch: {account.account_id}: {account.error}", file=sys.stderr)
    print(result.organization_file)
    return 1 if result.failed else 0


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise SupportkitError(f"{path}: {error.strerror or error}") from None


class _CommandParser(argparse.ArgumentParser):
    """A command's parser; ``arguments`` (when given) adds the command's arguments when the command is parsed.

    The report's arguments come from the report layer, whose import (pandas, the executors: about half a
    second) no other command needs.
    """

    def __init__(self, *args: Any, arguments: Callable[[argparse.ArgumentParser], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._arguments = arguments

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        if self._arguments is not None:
            arguments, self._arguments = self._arguments, None
            arguments(self)
        return super().parse_known_args(args, namespace)


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    from supportkit.report.pipeline import add_report_arguments

    add_report_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="supportkit",
        description="Who in an AWS account can open, read, answer and resolve AWS Support cases, "
        "use Trusted Advisor, or change the support plan, and why.",
    )
    parser.add_argument("--version", action="version", version=f"supportkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_CommandParser)

    simulate = commands.add_parser(
        "simulate", help="evaluate JSON requests (one JSON object, or JSON Lines) and print one result per line"
    )
    simulate.add_argument("file", nargs="?", help="request file (standard input when absent or '-')")
    # what it compiled (the module caches of actions, resources and conditions) lives until the exit, where the
    # interpreter's last collections scanned it all
    simulate.set_defaults(run=_simulate, one_build=True)

    matrix = commands.add_parser(
        "matrix", help="every identity of an account snapshot against every Support action, in long form"
    )
    _add_snapshot_arguments(matrix)
    matrix.add_argument("--format", choices=("csv", "json", "parquet"), default="csv",
                        help="csv (default), json (JSON Lines, one row per line) or parquet (needs -o)")
    matrix.add_argument("-o", "--output", help="output file (standard output when absent)")
    matrix.set_defaults(run=_matrix, one_build=True)

    who_can = commands.add_parser(
        "who-can", help="every principal (users, roles, root, other accounts, identity providers, Identity Center "
        "permission sets, services) that can perform an action or capability, directly or through a path"
    )
    who_can.add_argument("target", metavar="ACTION_OR_CAPABILITY",
                         help="a catalog action (support:ResolveCase), an action pattern (support:Describe*), or a "
                         "capability, by name (RESOLVE) or label ('Resolve support cases')")
    _add_snapshot_arguments(who_can)
    who_can.add_argument("--depth", type=int, default=3, choices=range(0, 6), metavar="N",
                         help="role assumptions followed at most (0 to 5, default 3)")
    who_can.add_argument("--format", choices=("table", "json"), default="table",
                         help="table (default: one line per principal) or json (JSON Lines)")
    who_can.set_defaults(run=_who_can, one_build=True)

    commands.add_parser(
        "report", help="one self-contained HTML report per account (papermill), and an index linking them",
        arguments=_report_arguments,
    )

    diff = commands.add_parser(
        "diff", help="what changed between two snapshots of one account: identities added or removed, then "
        "every cell whose decision changed, as JSON Lines"
    )
    diff.add_argument("before", help="the older snapshot (folder or authorization-details file)")
    diff.add_argument("after", help="the newer snapshot")
    diff.add_argument("--context", action="append", default=[], metavar="KEY=VALUE",
                      help=CONTEXT_HELP)
    diff.set_defaults(run=_diff, one_build=True)

    fetch = commands.add_parser(
        "fetch", help="write an account snapshot folder for the current AWS credentials, or with --organization one "
        "per member account (read-only calls; extra 'aws')"
    )
    fetch.add_argument("-o", "--output", required=True, help="a new or empty folder to write the snapshot into")
    fetch.add_argument("--profile", help="AWS profile name (default: the usual credential chain)")
    fetch.add_argument("--region", help="AWS region for the API calls (default: the profile's, else us-east-1)")
    fetch.add_argument("--organization", action="store_true",
                       help="with management or delegated-administrator credentials: organization.json (tree, "
                       "SCPs, RCPs) and a folder per member account, read through a role assumed in it")
    fetch.add_argument("--role-name", metavar="NAME",
                       help="the role assumed in each member account (default: OrganizationAccountAccessRole)")
    fetch.add_argument("--accounts", metavar="ID,...", help="only these accounts (comma-separated ids)")
    fetch.add_argument("--workers", type=int, metavar="N", help="accounts fetched at once (default: 8)")
    fetch.add_argument("--resume", action="store_true",
                       help="go on with an earlier --organization fetch into the same folder: skip accounts done")
    fetch.set_defaults(run=_fetch)
    return parser


def main(argv: Sequence[str] | None = None, *, own_process: bool = False) -> int:
    """The command line; ``own_process``: the process ends with the command (see :func:`run`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    if own_process and getattr(args, "one_build", False):
        from supportkit.heap import no_collection_until_exit

        no_collection_until_exit()
    try:
        return run(args)
    except SupportkitError as error:
        print(f"supportkit {args.command}: error: {error}", file=sys.stderr)
        return 2
    except RecursionError:  # a last resort: readers turn input nested thousands of levels deep into errors
        source = getattr(args, "file", None)
        where = f"{source}: " if source not in (None, "-") else "standard input: "
        print(f"supportkit {args.command}: error: {where}the input is nested too deeply to read", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `supportkit matrix ... | head`: the reader has all it wanted
        _silence_stdout()
        return 0


def run() -> int:
    """The ``supportkit`` program: :func:`main` in a process that ends with the command, so that a command that
    builds one analysis and writes it leaves its objects to the exit instead of the garbage collector."""
    return main(own_process=True)


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's last flush finds no closed pipe either."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
