"""Child processes that do not outlive the process that started them.

A worker or a training run whose parent is killed (SIGKILL, out of memory) has nobody left to read what
it computes, yet would go on holding cores and memory: :func:`exit_with_parent` ends it.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time

__all__ = ["PARENT_ENV", "exit_with_parent"]

#: Environment variable holding the process id of a parent that is not a ``multiprocessing`` parent
#: (a server that started ``python -m mp_core.train`` with :mod:`subprocess`).
PARENT_ENV = "MP_EXIT_WITH_PARENT"


def exit_with_parent(parent_id: int | None = None, *, grace: float = 0.0) -> None:
    """End this process when its parent dies; a daemon thread checks twice a second.

    A pool's workers wait for work on a queue whose writing end they hold themselves, so they would wait
    forever, one process per core, after the parent is killed (seen here). A ``multiprocessing`` parent's
    sentinel becomes ready when it ends; on POSIX an orphan also gets a new parent id, which is checked
    too (the only check for a parent given by ``parent_id``).

    Args:
        parent_id: the parent's process id, for a process not started by ``multiprocessing``. Without it
            and without a ``multiprocessing`` parent (a Ray actor: Ray watches its own workers), nothing
            is watched.
        grace: > 0: first send this process SIGTERM (its handler can clean up) and exit only if it is
            still running ``grace`` seconds later.
    """
    parent = multiprocessing.parent_process()
    if parent_id is None:
        if parent is None:
            return
        parent_id = os.getppid()
    sentinel = parent.sentinel if parent is not None else None

    def watch() -> None:
        while os.getppid() == parent_id:
            if sentinel is None:
                time.sleep(0.5)
            elif multiprocessing.connection.wait([sentinel], timeout=0.5):
                break
        if grace > 0:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(grace)
        os._exit(1)  # the parent is gone: nobody will read what this process computes

    threading.Thread(target=watch, name="exit with parent", daemon=True).start()
