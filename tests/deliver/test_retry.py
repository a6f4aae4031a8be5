"""The retry loop: backoff bounds, server-timed waits, budgets, and what is never retried."""

from __future__ import annotations

import random

import pytest

from digest.deliver.retry import (
    RetriesExhausted,
    Retry,
    RetryPolicy,
    backoff_delay,
    call_with_retries,
)


class Attempts:
    """An attempt function that plays a script: exceptions to raise, then a result."""

    def __init__(self, *script: BaseException, result: str = "done") -> None:
        self.script = list(script)
        self.result = result
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.script:
            raise self.script.pop(0)
        return self.result


def run(attempt: Attempts, policy: RetryPolicy, seed: int = 7) -> tuple[str, list[float]]:
    waits: list[float] = []
    result = call_with_retries(attempt, policy, sleep=waits.append, rng=random.Random(seed))
    return result, waits


def test_backoff_stays_between_zero_and_the_capped_exponential() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    rng = random.Random(1)
    for retry_number in range(12):
        ceiling = min(8.0, 0.5 * 2**retry_number)
        draws = [backoff_delay(retry_number, policy, rng) for _ in range(300)]
        assert all(0.0 <= d <= ceiling for d in draws)
        # full jitter: the draws spread over the whole range, not just near the ceiling
        assert min(draws) < ceiling * 0.1
        assert max(draws) > ceiling * 0.9


def test_backoff_of_a_huge_retry_number_is_capped_not_an_overflow() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0)
    assert 0.0 <= backoff_delay(10_000, policy, random.Random(3)) <= 30.0


def test_success_on_the_first_try_never_sleeps() -> None:
    attempt = Attempts()
    assert run(attempt, RetryPolicy()) == ("done", [])
    assert attempt.calls == 1


def test_retries_with_backoff_until_success() -> None:
    attempt = Attempts(Retry("500"), Retry("503"))
    policy = RetryPolicy(max_retries=3, base_delay=1.0, max_delay=30.0)
    result, waits = run(attempt, policy)
    assert result == "done"
    assert attempt.calls == 3
    assert len(waits) == 2
    assert 0.0 <= waits[0] <= 1.0
    assert 0.0 <= waits[1] <= 2.0


def test_same_seed_same_delays() -> None:
    policy = RetryPolicy(max_retries=3)
    first = run(Attempts(Retry("a"), Retry("b"), Retry("c")), policy, seed=42)[1]
    second = run(Attempts(Retry("a"), Retry("b"), Retry("c")), policy, seed=42)[1]
    assert first == second


def test_gives_up_after_max_retries_with_the_last_reason() -> None:
    attempt = Attempts(*(Retry(f"failure {n}") for n in range(10)))
    with pytest.raises(RetriesExhausted) as caught:
        run(attempt, RetryPolicy(max_retries=2))
    assert attempt.calls == 3
    assert caught.value.attempts == 3
    assert caught.value.last.reason == "failure 2"


def test_zero_retries_means_one_attempt() -> None:
    attempt = Attempts(Retry("nope"))
    with pytest.raises(RetriesExhausted):
        run(attempt, RetryPolicy(max_retries=0))
    assert attempt.calls == 1


def test_server_timed_waits_are_kept_in_full() -> None:
    attempt = Attempts(Retry("429", after=2.5), Retry("429", after=-4.0), Retry("429", after=60))
    result, waits = run(attempt, RetryPolicy(max_wait=60.0))
    assert result == "done"
    assert waits == [2.5, 0.0, 60.0]


def test_a_server_timed_wait_too_long_gives_up_at_once_saying_why() -> None:
    attempt = Attempts(Retry("429", after=1.0), Retry("429", after=900))
    waits: list[float] = []
    with pytest.raises(RetriesExhausted) as caught:
        call_with_retries(
            attempt, RetryPolicy(max_wait=60.0), sleep=waits.append, rng=random.Random(1)
        )
    assert waits == [1.0], "no early retry: the second wait is never started"
    assert caught.value.attempts == 2
    assert "900 s, is longer than the 60 s a run waits" in str(caught.value)


def test_server_timed_waits_have_their_own_budget() -> None:
    # Three rate-limit waits and two backoffs fit a policy of 2 retries and 3 waits.
    script = [Retry("429", after=1.0), Retry("500"), Retry("429", after=1.0)]
    script += [Retry("500"), Retry("429", after=1.0)]
    attempt = Attempts(*script)
    result, waits = run(attempt, RetryPolicy(max_retries=2, max_waits=3))
    assert result == "done"
    assert len(waits) == 5
    attempt = Attempts(*(Retry("429", after=1.0) for _ in range(5)))
    with pytest.raises(RetriesExhausted) as caught:
        run(attempt, RetryPolicy(max_retries=2, max_waits=3))
    assert caught.value.attempts == 4


def test_other_errors_stop_at_once() -> None:
    attempt = Attempts(Retry("500"), KeyError("refused"))
    with pytest.raises(KeyError):
        run(attempt, RetryPolicy(max_retries=5))
    assert attempt.calls == 2


def test_on_retry_hears_each_signal_and_delay_before_the_sleep() -> None:
    heard: list[tuple[str, float]] = []
    slept: list[float] = []

    def sleep(delay: float) -> None:
        assert len(heard) == len(slept) + 1  # told first, then slept
        slept.append(delay)

    attempt = Attempts(Retry("429", after=3.0), Retry("500"))
    call_with_retries(
        attempt,
        RetryPolicy(),
        sleep=sleep,
        rng=random.Random(0),
        on_retry=lambda signal, delay: heard.append((signal.reason, delay)),
    )
    assert [reason for reason, _ in heard] == ["429", "500"]
    assert [delay for _, delay in heard] == slept
