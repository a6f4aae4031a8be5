"""Offloaded: a stream produced in a forked child arrives whole, in order, errors and all."""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import signal
import threading
import time
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest

from digest.errors import ChildError, SubscribersError
from digest.sending.offload import CHUNK, Later, Offloaded


def test_the_items_arrive_in_order_and_the_result_after_them() -> None:
    seen: list[int] = []

    def produce() -> Iterator[int]:
        for number in range(3 * CHUNK + 7):
            seen.append(os.getpid())
            yield number

    with Offloaded(
        produce, lambda: {"pid": os.getpid(), "count": len(seen)}, doing="counting"
    ) as stream:
        assert list(stream) == list(range(3 * CHUNK + 7))
    assert stream.result is not None
    assert stream.result["count"] == 3 * CHUNK + 7, "finish() ran after produce(), in the child"
    assert stream.result["pid"] != os.getpid()
    assert seen == [], "nothing was produced in this process"


def test_an_error_in_the_child_is_raised_here_after_the_items_before_it() -> None:
    def produce() -> Iterator[int]:
        yield 1
        raise SubscribersError("subscribers.csv: line 1 has no `email` column", "add one")

    received: list[int] = []
    with (
        pytest.raises(SubscribersError, match="no `email` column; add one"),
        Offloaded(produce, lambda: None, doing="counting") as stream,
    ):
        for item in stream:
            received.append(item)
    assert received == [1]


def test_an_error_raised_by_finish_comes_after_every_item_exactly_once() -> None:
    def finish() -> None:
        raise SubscribersError("cannot count")

    received: list[int] = []
    with (
        pytest.raises(SubscribersError, match="cannot count"),
        Offloaded(lambda: range(CHUNK + 3), finish, doing="counting") as stream,
    ):
        for item in stream:
            received.append(item)
    assert received == list(range(CHUNK + 3))


def test_an_error_that_cannot_be_pickled_arrives_in_words() -> None:
    class Unpicklable(Exception):
        def __reduce__(self) -> tuple[object, ...]:
            raise TypeError("no")

    def produce() -> Iterator[int]:
        raise Unpicklable("local trouble")
        yield 0

    with (
        pytest.raises(ChildError, match="Unpicklable: local trouble"),
        Offloaded(produce, lambda: None, doing="counting") as stream,
    ):
        list(stream)


def test_a_child_that_dies_is_an_error_not_a_short_stream() -> None:
    def produce() -> Iterator[int]:
        yield from range(CHUNK)
        os._exit(3)

    with (
        pytest.raises(ChildError, match="counting: the child process died \\(exit code 3\\)"),
        Offloaded(produce, lambda: None, doing="counting") as stream,
    ):
        list(stream)


def test_leaving_the_stream_early_stops_the_child() -> None:
    def produce() -> Iterator[int]:
        number = 0
        while True:  # endless: only the parent can stop it
            yield number
            number += 1

    with Offloaded(produce, lambda: None, doing="counting") as stream:
        assert next(iter(stream)) == 0
        [child] = multiprocessing.active_children()
    # It saw the pipe close and ended by itself, rather than block until killed.
    assert child.exitcode == 0


def test_the_child_starts_producing_on_entry_before_anyone_iterates(tmp_path: Path) -> None:
    started = tmp_path / "started"

    def produce() -> Iterator[int]:
        started.touch()
        yield 1

    with Offloaded(produce, lambda: None, doing="counting") as stream:
        deadline = time.monotonic() + 10
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert started.exists(), "the child began while this process did other work"
        assert list(stream) == [1]


def test_the_child_never_waits_for_this_process_to_read(tmp_path: Path) -> None:
    """Items far beyond a pipe's capacity are produced while nobody iterates."""
    finished = tmp_path / "finished"

    def finish() -> int:
        finished.touch()
        return 0

    def produce() -> Iterator[str]:
        for number in range(20 * CHUNK):
            yield f"{number:0>500}"  # 20 MB in all

    with Offloaded(produce, finish, doing="counting") as stream:
        deadline = time.monotonic() + 20
        while not finished.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert finished.exists(), "the child produced everything before the first read"
        assert [int(item) for item in stream] == list(range(20 * CHUNK))


def test_a_value_given_after_the_fork_reaches_the_child() -> None:
    later: Later[str] = Later()

    with Offloaded(lambda: [later.get()], lambda: None, doing="waiting") as stream:
        later.give("tokens")
        assert list(stream) == ["tokens"]


def test_giving_a_value_the_child_never_asked_for_is_harmless() -> None:
    """The child may end before the value is given: the give must not fail."""
    later: Later[str] = Later()

    with Offloaded(lambda: [1], lambda: None, doing="counting") as stream:
        assert list(stream) == [1]
        [child] = multiprocessing.active_children() or [None]
        if child is not None:
            child.join(timeout=10)
        later.give("tokens")


class CtrlCAtFork:
    """While alive: every multiprocessing child gets SIGINT the instant it is forked,
    before its own code runs, as from a Ctrl-C pressed just then."""

    def __init__(self) -> None:
        multiprocessing.util.register_after_fork(self, CtrlCAtFork.interrupt)

    def interrupt(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)


def test_a_ctrl_c_at_the_instant_of_the_fork_does_not_kill_the_child() -> None:
    ctrl_c = CtrlCAtFork()
    try:
        with Offloaded(lambda: range(5), lambda: "done", doing="counting") as stream:
            assert list(stream) == [0, 1, 2, 3, 4]
        assert stream.result == "done"
    finally:
        del ctrl_c


def test_a_ctrl_c_during_the_fork_stops_the_child_it_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[BaseProcess] = []
    start = BaseProcess.start

    def start_then_ctrl_c(process: BaseProcess) -> None:
        start(process)
        started.append(process)
        os.kill(os.getpid(), signal.SIGINT)  # held back until the fork is done

    monkeypatch.setattr(BaseProcess, "start", start_then_ctrl_c)
    forever = Offloaded(lambda: iter(int, 1), lambda: None, doing="counting forever")
    with pytest.raises(KeyboardInterrupt), forever:
        pytest.fail("the block ran though Ctrl-C came during the fork")

    [child] = started
    # Killed by digest (left alone it would run on, or die of the pipe closed under it).
    assert child.exitcode == -signal.SIGKILL, "the child was left running"
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_a_ctrl_c_another_thread_takes_during_the_fork_waits_as_well(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kernel may hand a process's SIGINT to any thread that does not block it (a
    running test suite has several): Python then runs the handler in the main thread at
    once, mid-fork, unless the handler too is held back."""
    stop = threading.Event()
    bystander = threading.Thread(target=stop.wait, daemon=True)
    bystander.start()
    started: list[BaseProcess] = []
    start = BaseProcess.start

    def start_then_ctrl_c_to_the_bystander(process: BaseProcess) -> None:
        start(process)
        started.append(process)
        assert bystander.ident is not None
        signal.pthread_kill(bystander.ident, signal.SIGINT)
        time.sleep(0.5)  # the bystander takes it, and Python runs the handler here

    monkeypatch.setattr(BaseProcess, "start", start_then_ctrl_c_to_the_bystander)
    forever = Offloaded(lambda: iter(int, 1), lambda: None, doing="counting forever")
    try:
        with pytest.raises(KeyboardInterrupt), forever:
            pytest.fail("the block ran though Ctrl-C came during the fork")
    finally:
        stop.set()
        bystander.join()

    [child] = started
    # Killed by digest (left alone it would run on, or die of the pipe closed under it).
    assert child.exitcode == -signal.SIGKILL, "the child was left running"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
