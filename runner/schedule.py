"""The one orchestration of a run: the setup spec once, then the files, one after another or
several at a time (``--jobs``), with an optional early stop (``--fail-fast``) and the
selection of ``--tag``/``--step``. The command, the Python API (``runner.run_specs``) and the
pytest plugin all run specs through ``run_specs``.

Each file keeps its own HTTP session and its own step order whichever thread runs it, and
files share nothing, so a run with ``--jobs`` gives the same results as a serial one. Threads
suffice: a run waits on the network, not on the CPU.
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


def run_specs(
    specs: Iterable[Spec],
    options: RunOptions | None = None,
    listener: Listener | None = None,
    setup: Spec | FileResult | None = None,
    *,
    jobs: int = 1,
    fail_fast: bool = False,
    listener_for: ListenerFactory | None = None,
    on_finished: Finished | None = None,
) -> RunResult:
    """Run spec files; the result lists them in the given order, whatever order they ran in.

    A ``setup`` spec runs first, once, alone and whole (``--tag``/``--step`` select among
    the files' steps only); its captures are given to every file. A setup already run (its
    FileResult: the pytest plugin runs it once per process) is used as it is. If the setup
    failed, no file runs (each is reported with its steps skipped).
    Files that ``options.selection`` leaves out entirely are not run (nor reported).
    With ``fail_fast``, no file starts after one has failed (files already running finish);
    the files that never started are in ``RunResult.not_run``.
    ``listener`` hears the setup, and every file unless ``listener_for`` gives each its own.
    """
    options = options or RunOptions()
    selection = options.selection
    specs = [spec for spec in specs if selection is None or selection.selects(spec)]
    started = time.perf_counter()
    results: list[FileResult | None] = [None] * len(specs)

    def listener_of(index: int) -> Listener | None:
        return listener_for(index, specs[index]) if listener_for else listener

    def finished(index: int, result: FileResult) -> None:
        results[index] = result
        if on_finished:
            on_finished(index, result)

    def outcome(prelude: list[FileResult]) -> RunResult:
        return RunResult(
            files=[*prelude, *(result for result in results if result is not None)],
            duration_ms=(time.perf_counter() - started) * 1000.0,
            not_run=[spec for spec, result in zip(specs, results, strict=True) if result is None],
        )

    prelude: list[FileResult] = []
    if setup is not None:
        done = setup if isinstance(setup, FileResult) else run_setup(setup, options, listener)
        prelude.append(done)
        if not done.passed:
            for index, spec in enumerate(specs):
                reason = f"the setup {done.spec.path} failed"
                finished(index, not_run(spec, reason, listener_of(index)))
            return outcome(prelude)
        options = with_captures(options, done)

    def run(index: int) -> FileResult:
        return run_spec(specs[index], options, listener_of(index))

    def stops(result: FileResult) -> bool:
        return fail_fast and not result.passed

    if jobs <= 1 or len(specs) <= 1:
        for index in range(len(specs)):
            if options.stop is not None and options.stop.requested:
                break  # interrupted: no file starts; those that did ran their finally steps
            result = run(index)
            finished(index, result)
            if stops(result):
                break
    else:
        stop = options.stop

        def stopping(result: FileResult | None) -> bool:
            return (stop is not None and stop.requested) or (result is not None and stops(result))

        _run_concurrently(len(specs), min(jobs, len(specs)), run, stopping, finished)
    return outcome(prelude)


def run_setup(setup: Spec, options: RunOptions, listener: Listener | None = None) -> FileResult:
    """The setup spec, whole: --tag / --step select among the files' steps."""
    return run_spec(setup, replace(options, selection=None), listener)


def with_captures(options: RunOptions, setup: FileResult) -> RunOptions:
    """The options of the files: the given variables and what the setup captured, with
    the setup's secrets (a token it captured under any name stays masked in every file)."""
    variables = {**options.variables, **setup.captured}
    return replace(options, variables=variables, secrets=options.secrets | setup.secrets)


def _run_concurrently(
    count: int,
    jobs: int,
    run: Callable[[int], FileResult],
    stops: Callable[[FileResult | None], bool],
    finished: Callable[[int, FileResult], None],
) -> None:
    """Workers take files in order; results are handed to ``finished`` in this thread.

    A worker decides to stop the run itself, before it could take another file: had it
    left that to this thread, it might start one more file after a failure.
    ``stops(None)``: whether to stop before taking a file (a stop signal).
    """
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(count):
        todo.put(index)
    done: queue.SimpleQueue[tuple[int, FileResult | BaseException]] = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set() and not stops(None):
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
