"""Running many spec files: one after another, or several at a time (``--jobs``), with an
optional early stop (``--fail-fast``).

Each file keeps its own HTTP session and its own step order whichever thread runs it, and
files share nothing, so a run with ``--jobs`` gives the same results as a serial one. Threads
suffice: a run waits on the network, not on the CPU. Workers are daemon threads, so Ctrl-C
ends the run at once instead of waiting for the requests in flight.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from .engine import Listener, RunOptions, not_run, run_spec
from .model import Spec
from .results import FileResult, RunResult

# Called for each file before it runs, in the thread that runs it.
ListenerFactory = Callable[[int, Spec], Listener | None]
# Called for each file when it is done, in the calling thread, in the order files finish.
Finished = Callable[[int, FileResult], None]


def run_files(
    specs: Iterable[Spec],
    options: RunOptions | None = None,
    *,
    jobs: int = 1,
    fail_fast: bool = False,
    listener_for: ListenerFactory | None = None,
    on_finished: Finished | None = None,
    setup: Spec | None = None,
    setup_listener: Listener | None = None,
) -> RunResult:
    """Run spec files; the result lists them in the given order, whatever order they ran in.

    A ``setup`` spec runs first, once, alone; its captures are given to every file. If it
    fails, no file runs (each is reported with its steps skipped).
    With ``fail_fast``, no file starts after one has failed (files already running finish);
    the files that never started are in ``RunResult.not_run``.
    """
    specs = list(specs)
    started = time.perf_counter()
    results: list[FileResult | None] = [None] * len(specs)
    prelude: list[FileResult] = []
    if setup is not None:
        # The setup always runs whole: --tag / --step select among the files' steps.
        setup_options = replace(options, selection=None) if options else None
        done = run_spec(setup, setup_options, setup_listener)
        prelude.append(done)
        if not done.passed:
            for index, spec in enumerate(specs):
                listener = listener_for(index, spec) if listener_for else None
                results[index] = not_run(spec, f"the setup {setup.path} failed", listener)
                if on_finished:
                    on_finished(index, results[index])  # type: ignore[arg-type]
            return RunResult(
                files=[*prelude, *(r for r in results if r is not None)],
                duration_ms=(time.perf_counter() - started) * 1000.0,
            )
        base = options or RunOptions()
        options = replace(base, variables={**base.variables, **done.captured})

    def run(index: int) -> FileResult:
        listener = listener_for(index, specs[index]) if listener_for else None
        return run_spec(specs[index], options, listener)

    def stops(result: FileResult) -> bool:
        return fail_fast and not result.passed

    def finished(index: int, result: FileResult) -> None:
        results[index] = result
        if on_finished:
            on_finished(index, result)

    if jobs <= 1 or len(specs) <= 1:
        for index in range(len(specs)):
            result = run(index)
            finished(index, result)
            if stops(result):
                break
    else:
        _run_concurrently(len(specs), min(jobs, len(specs)), run, stops, finished)
    return RunResult(
        files=[*prelude, *(result for result in results if result is not None)],
        duration_ms=(time.perf_counter() - started) * 1000.0,
        not_run=[spec for spec, result in zip(specs, results, strict=True) if result is None],
    )


def _run_concurrently(
    count: int,
    jobs: int,
    run: Callable[[int], FileResult],
    stops: Callable[[FileResult], bool],
    finished: Callable[[int, FileResult], None],
) -> None:
    """Workers take files in order; results are handed to ``finished`` in this thread.

    A worker decides to stop the run itself, before it could take another file: had it
    left that to this thread, it might start one more file after a failure.
    """
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(count):
        todo.put(index)
    done: queue.SimpleQueue[tuple[int, FileResult | BaseException]] = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                result = run(index)
            except BaseException as exc:  # a bug in a worker must not hang the run
                stop.set()
                done.put((index, exc))
                return
            if stops(result):
                stop.set()
            done.put((index, result))

    workers = [
        threading.Thread(target=work, name=f"apirun-job-{n + 1}", daemon=True) for n in range(jobs)
    ]
    for worker in workers:
        worker.start()
    received = 0
    while received < count:
        try:
            index, outcome = done.get(timeout=0.1)
        except queue.Empty:
            if not any(worker.is_alive() for worker in workers) and done.empty():
                return  # stopped early: the files never taken have no result
            continue
        received += 1
        if isinstance(outcome, BaseException):
            raise outcome
        finished(index, outcome)
