"""The dynamic batcher: concurrent requests share model calls, errors stay with their request."""

import asyncio
import time

import pytest

from pipelines.serving.batching import DynamicBatcher
from pipelines.serving.http_parts import Batching, Limits


def _run(coroutine):
    return asyncio.run(coroutine)


class Recorder:
    """A model call that upper-cases its items and records each call's (key, items)."""

    def __init__(self, delay=0.0, fail_on=None):
        self.calls, self.delay, self.fail_on = [], delay, fail_on

    def __call__(self, key, items):
        self.calls.append((key, list(items)))
        time.sleep(self.delay)
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"cannot decode {self.fail_on!r}")
        return [f"{key}:{item.upper()}" for item in items]


async def _many(batcher, requests):
    batcher.start()
    try:
        return await asyncio.gather(
            *(batcher.submit(key, items) for key, items in requests), return_exceptions=True
        )
    finally:
        await batcher.stop()


def test_concurrent_requests_share_one_call_and_get_their_own_results():
    model = Recorder()
    requests = [(1, [f"s{i}a", f"s{i}b"]) for i in range(8)]
    results = _run(_many(DynamicBatcher(model, max_items=64, max_wait=0.2), requests))
    assert results == [[f"1:S{i}A", f"1:S{i}B"] for i in range(8)]
    assert len(model.calls) == 1 and len(model.calls[0][1]) == 16


def test_requests_with_other_settings_go_to_other_calls():
    model = Recorder()
    requests = [(1, ["a"]), (5, ["b"]), (1, ["c"]), (5, ["d"])]
    results = _run(_many(DynamicBatcher(model, max_wait=0.2), requests))
    assert results == [["1:A"], ["5:B"], ["1:C"], ["5:D"]]
    assert sorted(model.calls) == [(1, ["a", "c"]), (5, ["b", "d"])]


def test_a_call_holds_at_most_max_items():
    model = Recorder()
    requests = [(1, [f"{i}"] * 3) for i in range(6)]
    _run(_many(DynamicBatcher(model, max_items=7, max_wait=0.2), requests))
    assert all(len(items) <= 7 for _, items in model.calls)
    assert sum(len(items) for _, items in model.calls) == 18


def test_without_batching_every_request_is_its_own_call():
    model = Recorder()
    requests = [(1, ["a", "b"]), (1, ["c"]), (1, ["d"])]
    results = _run(_many(DynamicBatcher(model, max_items=1, max_wait=0.0), requests))
    assert results == [["1:A", "1:B"], ["1:C"], ["1:D"]]
    assert len(model.calls) == 3


def test_a_failing_request_fails_alone():
    model = Recorder(fail_on="bad")
    requests = [(1, ["a"]), (1, ["bad", "x"]), (1, ["c"])]
    results = _run(_many(DynamicBatcher(model, max_wait=0.2), requests))
    assert results[0] == ["1:A"] and results[2] == ["1:C"]
    assert isinstance(results[1], ValueError) and "bad" in str(results[1])


def test_the_event_loop_keeps_running_during_a_model_call():
    model = Recorder(delay=0.5)

    async def main():
        batcher = DynamicBatcher(model, max_wait=0.0)
        batcher.start()
        call = asyncio.ensure_future(batcher.submit(1, ["a"]))
        ticks, start = 0, time.perf_counter()
        while not call.done():
            await asyncio.sleep(0.01)
            ticks += 1
        await batcher.stop()
        return ticks, time.perf_counter() - start, call.result()

    ticks, seconds, result = _run(main())
    assert result == ["1:A"] and seconds >= 0.5
    assert ticks >= 10  # the loop ran while the call slept in its thread


def test_a_timed_out_request_is_left_out_of_the_next_call():
    model = Recorder(delay=0.3)

    async def main():
        batcher = DynamicBatcher(model, max_wait=0.0)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit(1, ["a"]))
        await asyncio.sleep(0.05)  # "a" is being decoded; "b" waits for the next call
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(batcher.submit(1, ["b"]), 0.1)
        assert await first == ["1:A"]
        await asyncio.sleep(0.4)
        await batcher.stop()

    _run(main())
    assert [items for _, items in model.calls] == [["a"]]


def test_settings_out_of_range_are_refused_naming_the_flag():
    with pytest.raises(ValueError, match="--max-sentences 0: must be positive"):
        Limits(max_sentences=0)
    with pytest.raises(ValueError, match="--timeout -1"):
        Limits(timeout=-1)
    with pytest.raises(ValueError, match="--batch-items 0"):
        Batching(max_items=0)
