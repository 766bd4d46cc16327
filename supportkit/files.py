"""Writing output files whole: a reader never sees half a report, half a snapshot or half a matrix.

Each file is written to a temporary name beside its target and renamed over it once complete, so a
full disk or a killed process leaves the previous file (or none), never a truncated one. The file
gets the permissions a plain ``open`` would give (0666 less the umask), not mkstemp's private 0600.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_umask_lock = threading.Lock()


def _umask() -> int:
    """The process umask (reading it means setting it: the lock keeps threads from seeing the 0 in between)."""
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


@contextlib.contextmanager
def open_atomically(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """A file to write ``path`` through: ``mode`` "w" (UTF-8 text) or "wb"; renamed over ``path`` on success."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # POSIX; on Windows the mode bits mean little
            os.fchmod(handle, 0o666 & ~_umask())
        out: IO[Any] = os.fdopen(handle, mode) if "b" in mode else os.fdopen(handle, mode, encoding="utf-8")
        with out:
            yield out
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    with open_atomically(path) as out:
        out.write(text)
