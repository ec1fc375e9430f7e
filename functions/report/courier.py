"""The courier: a background thread that sends the outbox's due deliveries.

Contract: ``start()`` runs a daemon thread; ``wake()`` (what a ``Reporter`` calls)
makes it look at once, else it looks when the next delivery is due (at most every
``idle_s``). ``send_due()`` sends what is due now in the caller's thread (tests);
``flush()`` also waits for deliveries other couriers have in flight (a worker at
the end of a job). Each delivery is sent with the
credentials resolved now from the app (``load_app`` and ``environ``: the
``status_token`` secret, a callback's secret, a notifier's inputs), so nothing
secret is ever stored; its outcome goes to the outbox (the delivery log), and a
failure is logged (status code or error class only). Sending never raises.
``stop()`` ends the thread; idempotent. Several couriers (processes) may share
one outbox: a claimed delivery is leased to one of them.

Callbacks carry ``X-Scd-Event``, ``X-Scd-Delivery`` (the delivery id, the same
on every retry) and, with a secret, ``X-Scd-Signature-256: sha256=<hex HMAC-SHA256
of the raw body>`` (GitHub's scheme).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from scd_core.errors import BackendError, ScdError

from functions.report.outbox import Delivery, Outbox

if TYPE_CHECKING:
    import httpx
    from scd_trigger_spec import App

__all__ = ["Courier", "signature"]

log = logging.getLogger("scd.report")
_TIMEOUT_S = 10.0
_PRUNE_EVERY_S = 3600.0


def signature(secret: str, body: bytes) -> str:
    """The ``X-Scd-Signature-256`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _unset(value: object) -> bool:
    """Whether ``value`` is a ``${env:VAR}`` the worker could not resolve."""
    from functions.worker.secrets import UNSET_MARK

    return isinstance(value, str) and UNSET_MARK in value


class Courier:
    """Sends the due deliveries of ``outbox``; see the module docstring."""

    def __init__(
        self,
        outbox: Outbox,
        load_app: Callable[[str], App | None],
        environ: Mapping[str, str],
        idle_s: float = 5.0,
    ) -> None:
        self.outbox = outbox
        self.load_app = load_app
        self.environ = environ
        self.idle_s = idle_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None

    def start(self) -> None:
        """Start the sending thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="scd-courier", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Look for due deliveries now."""
        self._wake.set()

    def stop(self) -> None:
        """End the thread and wait for it; idempotent."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def _loop(self) -> None:
        pruned = 0.0
        while not self._stop.is_set():
            self.send_due()
            if time.monotonic() - pruned > _PRUNE_EVERY_S:
                pruned = time.monotonic()
                try:
                    self.outbox.prune()
                except Exception:  # a busy file: next time
                    log.exception("outbox: could not prune")
            due = self.outbox.next_due()
            wait = self.idle_s if due is None else min(self.idle_s, max(0.05, due - time.time()))
            self._wake.wait(wait)
            self._wake.clear()

    def send_due(self) -> int:
        """Send every delivery due now, each once (a retry waits for a later call);
        how many were attempted."""
        total, start = 0, time.time()
        while True:
            try:
                batch = self.outbox.claim_due(due_by=start)
            except Exception:  # a locked or broken file: try again later
                log.exception("outbox: could not claim deliveries")
                return total
            if not batch:
                return total
            for delivery in batch:
                self._send(delivery)
            total += len(batch)
        return total

    def flush(self, timeout_s: float = 30.0) -> None:
        """Send what is due now and wait for what other couriers have in flight, for
        at most ``timeout_s`` (a retry after a backoff is left for later)."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.send_due()
            due = self.outbox.next_due()
            waiting = self.outbox.in_flight() or (due is not None and due <= time.time())
            if not waiting or time.monotonic() >= deadline:
                return
            time.sleep(0.05)

    def _send(self, delivery: Delivery) -> None:
        code: int | None = None
        try:
            app = self.load_app(delivery.app)
            if app is None:
                raise BackendError(f"app {delivery.app!r} is gone")
            code = self._dispatch(app, delivery)
            error = None
        except ScdError as exc:
            error = str(exc)[:300]
        except Exception as exc:  # a sender's bug must not stop the courier
            error = f"{type(exc).__name__}"
            log.exception("delivery %s failed unexpectedly", delivery.id)
        try:
            state = self.outbox.record(delivery.id, code=code, error=error)
        except Exception:
            log.exception("outbox: could not record delivery %s", delivery.id)
            return
        if error is not None:
            log.warning(
                "run %s: %s %s not delivered (%s); %s",
                delivery.run_id, delivery.kind, delivery.target, error,
                "will retry" if state == "pending" else "giving up",
            )  # fmt: skip

    def _dispatch(self, app: App, delivery: Delivery) -> int | None:
        if delivery.kind == "status":
            return self._status(app, delivery.payload)
        if delivery.kind == "callback":
            return self._callback(app, delivery)
        if delivery.kind == "notify":
            return self._notify(app, delivery.payload)
        raise BackendError(f"unknown delivery kind {delivery.kind!r}")

    def _http(self) -> httpx.Client:
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=_TIMEOUT_S, follow_redirects=False)
        return self._client

    def _status(self, app: App, payload: dict[str, Any]) -> int:
        from scd_trigger_spec.providers.status import (
            CommitStatus,
            report_status,
            repository_path,
        )

        from functions.worker.secrets import resolve_secrets

        found = resolve_secrets(app, self.environ)
        # the app's own secret, else the machine-wide SCD_SECRET_STATUS_TOKEN
        token = found.get("status_token") or found.get("STATUS_TOKEN")
        if not token:
            raise BackendError("the app's status_token secret is not set here")
        status = CommitStatus(
            provider=payload["provider"],
            repository=payload["repository"] or repository_path(payload["repo_url"]),
            sha=payload["sha"],
            status=payload["status"],
            context=payload["context"],
            target_url=payload["target_url"],
            description=payload["description"],
            api=payload["api"],
        )
        return report_status(self._http(), status, token, payload["repo_url"])

    def _callback(self, app: App, delivery: Delivery) -> int:
        index, url = delivery.payload["index"], delivery.payload["url"]
        match = [cb for i, cb in enumerate(app.callbacks) if cb.url == url]
        callback = app.callbacks[index] if index < len(app.callbacks) else None
        if callback is None or callback.url != url:
            callback = match[0] if match else None
        if callback is None:
            raise BackendError("the callback is no longer configured")
        body = json.dumps(delivery.payload["body"], separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "scd",
            "X-Scd-Event": delivery.event,
            "X-Scd-Delivery": delivery.id,
        }
        if callback.secret is not None:
            secret = callback.secret.get_secret_value()
            if _unset(secret):
                raise BackendError("the callback's secret: variable unset here")
            headers["X-Scd-Signature-256"] = signature(secret, body)
        return self._post(url, body, headers, delivery.target)

    def _post(self, url: str, body: bytes, headers: dict[str, str], shown: str) -> int:
        import httpx

        try:
            response = self._http().post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise BackendError(f"{shown}: {type(exc).__name__}") from None
        if not 200 <= response.status_code < 300:
            raise BackendError(f"{shown} answered {response.status_code}")
        return response.status_code

    def _notify(self, app: App, payload: dict[str, Any]) -> int | None:
        index = int(payload["index"])
        if index >= len(app.notify) or app.notify[index].uses != payload["uses"]:
            raise BackendError("the notification is no longer configured")
        inputs = {
            name: value.get_secret_value() if isinstance(value, SecretStr) else value
            for name, value in app.notify[index].inputs.items()
        }
        unset = sorted(name for name, value in inputs.items() if _unset(value))
        if unset:
            raise BackendError(f"notify input(s) {', '.join(unset)}: variable unset here")
        kind = "feishu" if payload["uses"] == "lark" else payload["uses"]
        if kind == "notify-webhook":
            url = str(inputs.get("url") or inputs.get("webhook") or "")
            body = json.dumps(payload["run"]).encode()
            headers = {"Content-Type": "application/json", "User-Agent": "scd"}
            return self._post(url, body, headers, url.split("?", 1)[0])
        from scd_engine.plugins.notify import Message, send

        send(kind, inputs, Message(payload["title"], payload["text"]))
        return None
