"""Keep the garbage collector from rescanning what is being built, while it is built.

Loading a 10,000-identity snapshot and its matrix creates millions of objects that live as long as the
account, and each full collection rescans all of them: a tenth of the run, growing faster than the input.
These objects form no garbage cycles to collect, so the collector pauses meanwhile; what existed before
is frozen (``gc.freeze``) so that a collection after the build does not rescan it either. What the build
made joins the oldest generation at the end (frozen, then everything unfrozen there), so the first young
collection after it does not scan all of it at once (about a tenth of ``supportkit simulate``'s run).
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0
_was_enabled = True


@contextmanager
def no_collection() -> Iterator[None]:
    """No automatic garbage collection inside (nested uses are fine); collection resumes after."""
    global _depth, _was_enabled
    if _depth == 0:
        _was_enabled = gc.isenabled()
        gc.disable()
        gc.freeze()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.freeze()
            gc.unfreeze()
            if _was_enabled:
                gc.enable()


def no_collection_until_exit() -> None:
    """For a process that ends once its one build is written (``supportkit matrix``, ``who-can``, ``diff``, and
    ``simulate``, whose build is what it compiled).

    What it builds lives until the exit, which frees it all: collecting is wasted work. At 10,000 identities
    the collection after each build and the interpreter's last one at exit rescanned the account and its
    matrix, about a sixth of the run's CPU time. The collector stays off, and at exit what is left is
    frozen, out of the interpreter's last collection.
    """
    gc.disable()
    atexit.register(gc.freeze)
