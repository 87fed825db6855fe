"""The pack's pages rendered on two cores: this process and one worker process take the pages from one queue, in
the order given (costliest first), until it is empty.

Rendering is CPU work that holds the GIL (Altair, great_tables, WeasyPrint; vl-convert too, while it draws), so
the second core needs a process. The worker is spawned, not forked (a fork would not carry vl-convert's converter
thread or the caller's threads), once per process: it imports the renderer and warms vl-convert and WeasyPrint
up, then serves every pack this process writes. `start()` starts it ahead of time (the demo does, while it
generates); otherwise the first `run` starts it and this process renders alone until it is ready. With one core,
or `UPTAKE_REPORT_WORKER=0`, everything is rendered here. As with any spawned process, a script that writes a
pack runs its work under `if __name__ == "__main__":` (the worker imports the script's module).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

P = TypeVar("P")
T = TypeVar("T")
R = TypeVar("R")

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def wanted() -> bool:
    return os.environ.get("UPTAKE_REPORT_WORKER", "1") != "0" and len(os.sched_getaffinity(0)) > 1


def _warm_up() -> None:
    """In the worker, once: the renderer imported, vl-convert's JavaScript runtime and WeasyPrint's fonts loaded."""
    import altair as alt
    import weasyprint

    from report import charts, tables

    charts.render("warm-up", "", "", alt.Chart(alt.Data(values=[{"x": 1}])).mark_point().encode(x="x:Q"))
    tables.stylesheet()
    weasyprint.HTML(string="<p>warm</p>").write_pdf()


def start() -> ProcessPoolExecutor | None:
    """The worker, started if it is not (returns at once: it warms up on its own); None when not wanted."""
    global _pool
    if not wanted():
        return None
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_warm_up)
            _pool.submit(int)  # the executor spawns its process on the first submission
        return _pool


def submit(fn: Callable[..., R], *args: Any) -> Future[R]:
    """fn(*args) in the worker; here, done at once, when there is no worker or it is broken."""
    pool = start()
    if pool is not None:
        try:
            return pool.submit(fn, *args)
        except RuntimeError:  # broken by an earlier death
            _forget(pool)
    done: Future[R] = Future()
    try:
        done.set_result(fn(*args))
    except Exception as exc:
        done.set_exception(exc)
    return done


def run(fn: Callable[[P, T], R], shared: P, tasks: Sequence[T]) -> list[R]:
    """fn(shared, task) for every task, here and in the worker, each taking the next task when done with one;
    the results in the tasks' order. A failure on either side stops the handing out and is raised here once the
    worker is done with its task (so it never writes into a folder the caller is removing). A task the worker
    could not finish because it died is done here."""
    pool = start()
    queue = deque(range(len(tasks)))
    lock = threading.Lock()
    theirs: dict[int, Future[R]] = {}
    ours: dict[int, R] = {}

    def take() -> int | None:
        with lock:
            return queue.popleft() if queue else None

    def feed() -> None:  # on a thread of this process: hands the worker its next task when it is done with one
        assert pool is not None
        while (i := take()) is not None:
            try:
                theirs[i] = fut = pool.submit(fn, shared, tasks[i])
            except RuntimeError:  # shut down, or broken by an earlier death: this process goes on alone
                with lock:
                    queue.appendleft(i)
                return
            if fut.exception() is not None:  # waits for it
                with lock:
                    queue.clear()
                return

    feeder = threading.Thread(target=feed, name="report-worker-feeder", daemon=True) if pool else None
    if feeder:
        feeder.start()
    try:
        while (i := take()) is not None:
            ours[i] = fn(shared, tasks[i])
    finally:
        with lock:
            queue.clear()
        if feeder:
            feeder.join()
    broken = [i for i, fut in theirs.items() if isinstance(fut.exception(), BrokenProcessPool)]
    for i, fut in theirs.items():
        if i not in broken:
            ours[i] = fut.result()  # raises the worker's failure
    if broken:
        _forget(pool)
    for i in range(len(tasks)):  # the worker's unfinished task and what it left (it died, or never started)
        if i not in ours:
            ours[i] = fn(shared, tasks[i])
    return [ours[i] for i in range(len(tasks))]


def _forget(pool: ProcessPoolExecutor | None) -> None:
    """A broken worker is not used again: the next `start()` spawns a new one."""
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    if pool is not None:
        pool.shutdown(wait=False)
