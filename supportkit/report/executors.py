"""Where the report pipeline runs its per-account jobs: a local process pool, or a Dask cluster.

The pipeline only knows :class:`Executor`: it submits one function call per account and reads the
outcomes back as they finish, each with its result or the error that ended it. Engines register by
name in :data:`EXECUTORS`, so another one (Ray, say) is a class and a line here, not a change to the
pipeline. ``--executor NAME`` or ``--executor NAME=ADDRESS`` picks one (:func:`parse_executor`).
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

from supportkit.errors import SupportkitError

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """One finished job: its position in the submitted sequence, and its result or the error that ended it."""

    index: int
    result: R | None
    error: BaseException | None


@dataclass(frozen=True)
class ExecutorSpec:
    """An engine's name and, for engines that connect to a running cluster, its address."""

    name: str
    address: str | None = None

    def __str__(self) -> str:
        return self.name if self.address is None else f"{self.name}={self.address}"


class Executor(ABC):
    """Runs picklable functions on workers. Use as a context manager: leaving it releases the workers."""

    name: ClassVar[str]

    def __init__(self, workers: int, initializer: Callable[[], None] | None = None, address: str | None = None):
        self.workers = workers
        self.initializer = initializer
        self.address = address

    @abstractmethod
    def __enter__(self) -> Self: ...

    @abstractmethod
    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None: ...

    @abstractmethod
    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``function`` of each item, in order (for short jobs whose errors the function itself catches)."""

    @abstractmethod
    def stream(self, function: Callable[[T], R], items: Sequence[T]) -> Iterator[Outcome[R]]:
        """Run ``function`` on each item; yield each outcome as soon as it finishes, in no particular order."""

    @abstractmethod
    def cancel(self) -> None:
        """Drop the jobs not started yet (on Ctrl-C, so that the queued accounts do not still run)."""

    def terminate(self) -> None:
        """Stop every job now, the running ones too (a signal ended the run); by default, :meth:`cancel`."""
        self.cancel()

    def results(self, function: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R | None, BaseException | None]]:
        """:meth:`stream` as plain tuples: the ``runner`` :func:`supportkit.analysis.organization.analyse_organization` takes."""
        for outcome in self.stream(function, items):
            yield outcome.index, outcome.result, outcome.error


class LocalExecutor(Executor):
    """A pool of worker processes on this machine (processes, not threads: papermill changes the working folder).

    A worker that dies (killed, or by the out-of-memory killer) breaks a ``ProcessPoolExecutor`` and every
    job still in it. The pool is then made anew and the unfinished jobs resubmitted: those that were
    running get one more try; a job whose worker dies twice ends with that error. After a death the pool
    runs one job at a time, the suspects first: a second death then names its job alone, and fewer
    kernels side by side is also what a machine short of memory needs.
    """

    name = "local"
    ATTEMPTS = 2

    def __enter__(self) -> Self:
        if self.address is not None:
            raise SupportkitError(f"the local executor takes no address, not {self.address!r}")
        self._pool = self._new_pool(self.workers)
        return self

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        self._pool_workers = workers
        return ProcessPoolExecutor(max_workers=workers, initializer=self.initializer)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        # On an error the run has ended: its running jobs too, at once (the run removes what their workers
        # leave). Waiting for them, the error waited unseen, and a Ctrl-C meanwhile replaced it.
        if kind is not None:
            self.terminate()
        self._pool.shutdown(wait=True)

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return list(self._pool.map(function, items))

    def stream(self, function: Callable[[T], R], items: Sequence[T]) -> Iterator[Outcome[R]]:
        deaths = [0] * len(items)
        pending = list(range(len(items)))
        while pending:
            futures: dict[Future[R], int] = {self._pool.submit(function, items[i]): i for i in pending}
            finished: set[int] = set()
            broken = False
            for future in as_completed(futures):
                error = future.exception()
                if isinstance(error, BrokenProcessPool):
                    broken = True
                    break
                finished.add(futures[future])
                yield Outcome(futures[future], None if error else future.result(), error)
            if not broken:
                return
            unfinished = [i for i in pending if i not in finished]
            suspects = unfinished[:self._pool_workers]  # submitted first: those the dead workers were running
            for i in suspects:
                deaths[i] += 1
            for i in (i for i in suspects if deaths[i] >= self.ATTEMPTS):
                yield Outcome(i, None, SupportkitError(
                    f"its worker process died {deaths[i]} times (killed, or out of memory?); not tried again"))
            pending = [i for i in unfinished if deaths[i] < self.ATTEMPTS]
            self._pool.shutdown(wait=True, cancel_futures=True)
            retried = any(deaths[i] for i in pending)
            self._pool = self._new_pool(1 if retried else self.workers)
            pending.sort(key=lambda i: -deaths[i])  # the suspects first, one at a time

    def cancel(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def terminate(self) -> None:
        """Kill the workers: a job already running would otherwise go on after the command has ended.

        The pool's manager thread is then waited for, as it closes its wake-up pipe on seeing the workers
        gone: Python 3.11's exit hook writes to that pipe without the lock it is closed under, and a thread
        still winding down at exit loses that race ("OSError: [Errno 9] Bad file descriptor" on stderr).
        """
        # The pool has no public way to stop its workers, nor to wait for its thread after shutdown(wait=False).
        processes = list((self._pool._processes or {}).values())
        manager = cast("threading.Thread | None", self._pool._executor_manager_thread)  # typeshed: a _ThreadWakeup
        self.cancel()
        for process in processes:
            process.kill()
        for process in processes:
            process.join(10)
        if manager is not None:
            manager.join(10)


class InProcessExecutor(Executor):
    """This process, one job at a time: for a single account, where a pool would only add its start-up.

    Not offered by ``--executor``: the pipeline picks it for one account on the local engine. The
    initializer runs here, once, on entering. Jobs run in a thread of their own, never in the main
    thread: jupyter_core keeps an event loop for each thread name, and the main thread of a process
    forked later (the pool of a next run in the same program) would inherit the loop of this one's
    main thread without the thread that runs it, and wait on it forever.
    """

    name = "in-process"

    def __enter__(self) -> Self:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supportkit-in-process")
        if self.initializer is not None:
            self.initializer()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if kind is None:
            self._thread.submit(close_thread_event_loop)
        self._thread.shutdown(wait=kind is None, cancel_futures=True)

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return list(self._thread.map(function, items))

    def stream(self, function: Callable[[T], R], items: Sequence[T]) -> Iterator[Outcome[R]]:
        for index, item in enumerate(items):
            future = self._thread.submit(function, item)
            error = future.exception()
            yield Outcome(index, None if error else future.result(), error)

    def cancel(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


def close_thread_event_loop() -> None:
    """Close the asyncio event loop a job left set for its thread (papermill's nbclient sets one), before the
    thread ends: a loop left to the garbage collector complains on stderr ("Exception ignored in ...")."""
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:  # none was set in this thread
        return
    if not loop.is_running():
        loop.close()


class DaskExecutor(Executor):
    """Dask distributed: a cluster at ``address`` (``tcp://HOST:8786``), or a LocalCluster of ``workers`` processes.

    A worker runs one job at a time (one thread), as a pool process does: a report's kernel already
    keeps a core busy. Every worker must see the snapshots and the output folder at the same paths as
    this machine (a shared file system), since jobs read and write files by path.

    The LocalCluster's worker processes are forked, as the local pool's are, not spawned (Dask's default):
    a spawned worker starts a fresh interpreter and imports Dask, pandas and the job's modules again, which
    made a 2-worker cluster take 17 s to start on a loaded machine against 0.2 s for the pool (2.7 s of
    CPU). Each worker still has its nanny, which restarts it if it dies. The scheduler serves HTTP even
    without a dashboard (its health and metrics routes), by default on port 8787: it gets a free port
    on the loopback interface instead, so that runs side by side neither collide nor listen outside. The
    scheduler's and workers' scratch space is a temporary folder of the run's, removed with the cluster:
    Dask's default, ``dask-scratch-space`` in the temporary folder, stayed behind after every run.
    """

    name = "dask"

    def __enter__(self) -> Self:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise SupportkitError("--executor dask needs Dask distributed: pip install 'supportkit[dask]'") from None
        self._cluster = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        try:
            if self.address is None:
                self._scratch = tempfile.TemporaryDirectory(prefix="supportkit-dask-", ignore_cleanup_errors=True)
                with dask.config.set({"distributed.worker.multiprocessing-method": "fork",
                                      "temporary-directory": self._scratch.name}):
                    self._cluster = LocalCluster(
                        n_workers=self.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, scheduler_port=0,
                        host="127.0.0.1", silence_logs=40,
                    )
                self._client = Client(self._cluster)
            else:
                self._client = Client(self.address, timeout="30s")
        except BaseException as error:  # its scratch folder too, whatever stopped it
            self._close_cluster()
            if self.address is not None and isinstance(error, (OSError, TimeoutError)):
                raise SupportkitError(f"cannot reach the Dask scheduler at {self.address}: {error}") from None
            if self.address is None and isinstance(error, Exception):  # e.g. "Nanny failed to start."
                raise SupportkitError(f"the local Dask cluster did not start: {error}") from None
            raise
        if self.initializer is not None:
            self._client.register_plugin(_initializer_plugin(self.initializer))
        self._futures: list[Any] = []
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if kind is not None:
            self.cancel()
        self._client.close()
        self._close_cluster()

    def _close_cluster(self) -> None:
        if self._cluster is not None:
            self._cluster.close()
        if self._scratch is not None:
            self._scratch.cleanup()

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        futures = self._client.map(function, items, pure=False)
        self._futures.extend(futures)
        return list(self._client.gather(futures))

    def stream(self, function: Callable[[T], R], items: Sequence[T]) -> Iterator[Outcome[R]]:
        from distributed import as_completed as dask_completed

        futures = self._client.map(function, items, pure=False)
        self._futures.extend(futures)
        index = {future.key: i for i, future in enumerate(futures)}
        for future in dask_completed(futures):
            if future.status == "finished":
                yield Outcome(index[future.key], future.result(), None)
            else:  # "error" (the job raised, or its worker died too often: KilledWorker) or "cancelled"
                error = future.exception() if future.status == "error" else None
                yield Outcome(index[future.key], None, error or SupportkitError(f"job {future.status}"))

    def cancel(self) -> None:
        self._client.cancel(self._futures, force=True)


def _initializer_plugin(function: Callable[[], None]) -> Any:
    """A Dask worker plugin running the pipeline's per-process set-up, as the process pool's initializer does."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class Initializer(WorkerPlugin):
        name = "supportkit-initializer"

        def setup(self, worker: Any) -> None:
            function()

    return Initializer()


EXECUTORS: dict[str, type[Executor]] = {executor.name: executor for executor in (LocalExecutor, DaskExecutor)}
"""The engines by the name ``--executor`` takes."""


def parse_executor(text: str) -> ExecutorSpec:
    """``local``, ``dask`` or ``dask=tcp://HOST:8786``; a clear error for anything else."""
    name, _, address = text.partition("=")
    name = name.strip().lower()
    if name not in EXECUTORS:
        raise SupportkitError(f"unknown executor {name!r}: expected {', '.join(EXECUTORS)} (dask=ADDRESS too)")
    if "=" in text and not address.strip():
        raise SupportkitError(f"--executor {text!r}: give an address after '=', e.g. dask=tcp://127.0.0.1:8786")
    return ExecutorSpec(name, address.strip() or None)


def make_executor(spec: ExecutorSpec | str, workers: int, initializer: Callable[[], None] | None = None) -> Executor:
    """The engine ``spec`` names, not yet started (enter it with ``with``)."""
    spec = parse_executor(spec) if isinstance(spec, str) else spec
    return EXECUTORS[spec.name](workers, initializer, spec.address)


__all__ = [
    "EXECUTORS", "DaskExecutor", "Executor", "ExecutorSpec", "InProcessExecutor", "LocalExecutor", "Outcome",
    "close_thread_event_loop", "make_executor", "parse_executor",
]
