"""A blocking call run on a thread and joined later: sandbox runs block, and an evaluation overlaps several."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """`fn()` on a daemon thread; `join()` returns its result or raises its exception."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._result: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), name="evolve-sandbox", daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], T]) -> None:
        try:
            self._result = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the joining thread
            self._error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout_s: float | None = None) -> T:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise TimeoutError("the background call is still running")
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]
