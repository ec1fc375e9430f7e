"""The thread that keeps a run's lease alive and notices cancel requests.

Contract: :class:`Heartbeat` renews the task's lease (``lease_key(run, task)``,
``task:<run>:<task>``) every third of its ttl and reads the run's control
request every ``poll_s`` (0.25 s), so a cancel recorded in the store sets
``cancel`` within about a quarter of a second. If the lease is lost (it expired,
or a reaper or another worker took it) ``lost`` is set along with ``cancel``: the
holder must stop and must not record an ending, since the task now belongs to
someone else. A store error is retried at the next
tick and never kills the thread. ``stop()`` ends the thread and waits for it.
"""

from __future__ import annotations

import logging
import threading
import time

from scd_core.errors import ScdError
from scd_core.lifecycle_keys import lease_key
from scd_core.models import DEFAULT_TASK
from scd_core.store import RunStore

__all__ = ["Heartbeat", "lease_key"]

_log = logging.getLogger("scd.worker")


class Heartbeat(threading.Thread):
    """Renews a task's lease and turns a ``cancel`` control request into ``cancel.set()``."""

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        owner: str,
        ttl_s: float,
        cancel: threading.Event,
        *,
        task: str = DEFAULT_TASK,
        poll_s: float = 0.25,
    ) -> None:
        super().__init__(name=f"scd-heartbeat-{run_id}", daemon=True)
        self.store = store
        self.run_id = run_id
        self.task = task
        self.owner = owner
        self.ttl_s = ttl_s
        self.cancel = cancel
        self.lost = threading.Event()
        self._poll_s = min(poll_s, ttl_s / 3)
        self._stop_event = threading.Event()

    def stop(self) -> None:
        """End the thread and wait for it; idempotent."""
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join()

    def run(self) -> None:
        renew_every, key = self.ttl_s / 3, lease_key(self.run_id, self.task)
        next_renew = time.monotonic() + renew_every
        while not self._stop_event.wait(self._poll_s):
            try:
                if time.monotonic() >= next_renew:
                    next_renew = time.monotonic() + renew_every
                    if not self.store.renew_lease(key, self.owner, self.ttl_s):
                        _log.warning("run %s: lease lost; stopping the run", self.run_id)
                        self.lost.set()
                        self.cancel.set()
                        return
                if not self.cancel.is_set() and self.store.get_control(self.run_id) == "cancel":
                    _log.info("run %s: cancel requested", self.run_id)
                    self.cancel.set()
            except ScdError as exc:  # a busy or briefly unreachable store: try again next tick
                _log.warning("run %s: heartbeat store error: %s", self.run_id, exc)
