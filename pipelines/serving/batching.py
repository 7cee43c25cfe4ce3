"""Dynamic batching: concurrent requests grouped into one model call.

A request submits its items (sentences, or audio segments) with a key (the decoding settings:
items of one call must share them). One asyncio task collects requests: the first one waits
at most `max_wait` seconds for others, until `max_items` items are gathered; the requests of
each key then go to the model in one call, run in a worker thread so the event loop keeps
answering (health checks, uploads, other requests queueing up for the next batch). While a
batch runs, new requests queue, so under load the next batch is fuller: this is how batching
multiplies throughput (TF Serving's and Triton's dynamic batchers work the same way).

A call that raises is retried request by request, so one bad request fails alone; a request
whose client has gone (its future cancelled by a timeout or a disconnect) is left out.
"""

import asyncio
import dataclasses
import logging
import time
from concurrent.futures import ThreadPoolExecutor

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class _Request:
    key: object
    items: list
    future: asyncio.Future


class DynamicBatcher:
    """Groups concurrent `submit`s into calls of `run(key, items) -> results` (one result per
    item, in order), made in one worker thread.

    Args:
        run: the model call.
        max_items: the most items of one call (a request with more runs alone, whole).
        max_wait: seconds the first request of a batch waits for company (0 with max_items 1:
            no batching, every request its own call).
        observe: called with (requests, items) of each model call (metrics).
        name: the worker thread's name.
    """

    def __init__(self, run, max_items=64, max_wait=0.005, observe=None, name="model"):
        self.run, self.max_items, self.max_wait = run, max_items, max_wait
        self.observe = observe or (lambda requests, items: None)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=name)
        self.queue, self.task = None, None

    def start(self):
        """Starts the collecting task on the running event loop."""
        self.queue = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._collect())

    async def stop(self):
        """Cancels the collecting task (requests still queued fail) and the worker thread."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        while self.queue is not None and not self.queue.empty():
            request = self.queue.get_nowait()
            if not request.future.done():
                request.future.set_exception(RuntimeError("the server is shutting down"))
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, key, items: list) -> list:
        """The results of `items` (one per item), from a call shared with other requests."""
        if self.queue is None:
            raise RuntimeError("the batcher is not started")
        future = asyncio.get_running_loop().create_future()
        await self.queue.put(_Request(key, list(items), future))
        return await future

    async def _collect(self):
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            count = len(batch[0].items)
            deadline = loop.time() + self.max_wait
            while count < self.max_items:
                if self.queue.empty() and loop.time() >= deadline:
                    break
                try:
                    if self.queue.empty():
                        request = await asyncio.wait_for(self.queue.get(), deadline - loop.time())
                    else:
                        request = self.queue.get_nowait()
                except TimeoutError:
                    break
                if count + len(request.items) > self.max_items:
                    await self._call(request.key, [request])  # too big to join: alone
                    continue
                batch.append(request)
                count += len(request.items)
            keys = list(dict.fromkeys(r.key for r in batch))
            for key in keys:
                await self._call(key, [r for r in batch if r.key == key])

    async def _call(self, key, requests):
        requests = [r for r in requests if not r.future.done()]  # not timed out or cancelled
        if not requests:
            return
        items = [item for r in requests for item in r.items]
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        try:
            results = await loop.run_in_executor(self.executor, self.run, key, items)
            if len(results) != len(items):
                raise RuntimeError(f"{len(results)} results for {len(items)} items")
        except Exception as err:
            if len(requests) > 1:  # find the request at fault: each one alone
                for request in requests:
                    await self._call(key, [request])
                return
            logger.exception("model call failed")
            if not requests[0].future.done():
                requests[0].future.set_exception(err)
            return
        self.observe(len(requests), len(items))
        logger.debug(
            "%d requests, %d items in %.3f s",
            len(requests),
            len(items),
            time.perf_counter() - start,
        )
        position = 0
        for request in requests:
            part = results[position : position + len(request.items)]
            position += len(request.items)
            if not request.future.done():
                request.future.set_result(part)
