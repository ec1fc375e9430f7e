"""Printing a run's logs: every step in order, read once or followed live.

Contract: :func:`show_run_logs` prints each recorded step of a run under a
header, in the order the API lists them (the set-up step first), and returns
the run's status. With ``live``, a step still running is followed through the
server-sent events endpoint and steps recorded later are waited for, until the
run is final; a step not started yet is waited for in its place, so the output
keeps the run's order. :func:`follow_step` follows one step and returns its
final status. Log text goes to the ``Printer``'s ``write`` unchanged (ANSI
colours included), headers through its ``header``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scd_core.models import FINAL_STATUSES

from functions.client.api import ApiClient, LogEnd

__all__ = ["Printer", "follow_step", "show_run_logs", "step_label"]

_POLL_S = 0.5
_NOT_STARTED = frozenset({"pending", "queued"})


@dataclass
class Printer:
    """Where log text, step headers and notes about the run (stderr, say) go."""

    write: Callable[[str], None]
    header: Callable[[str], None]
    note: Callable[[str], None] = lambda text: None


def step_label(step: dict[str, Any]) -> str:
    """``name (id)``, or the id alone when the step has no other name; prefixed with
    its task instance (``build (18) › test``) when the run has tasks."""
    name, key = step.get("name"), str(step.get("id"))
    label = f"{name} ({key})" if name and name != key else key
    task = _task(step)
    return label if task is None else f"{task} › {label}"


def _task(step: dict[str, Any]) -> str | None:
    task = step.get("task")
    return None if task in (None, "default") else str(task)


def _key(step: dict[str, Any]) -> tuple[str, str]:
    return str(step.get("task") or "default"), str(step.get("id"))


def follow_step(
    client: ApiClient,
    run_id: str,
    step: str,
    printer: Printer,
    *,
    timestamps: bool = False,
    task: str | None = None,
) -> str:
    """Print a step's log (of ``task``) live until it is closed; its final status."""
    for item in client.follow_log(run_id, step, task=task):
        if isinstance(item, LogEnd):
            return item.status
        printer.write(f"{item.t} {item.text}\n" if timestamps and item.t else f"{item.text}\n")
    return "unknown"  # pragma: no cover - follow_log always ends with LogEnd or raises


def show_run_logs(
    client: ApiClient,
    run_id: str,
    printer: Printer,
    *,
    live: bool = False,
    timestamps: bool = False,
    poll_s: float = _POLL_S,
) -> str:
    """Print every step's log of the run; its status (final when ``live``)."""
    shown: set[tuple[str, str]] = set()
    said = ""
    while True:
        run = client.get_run(run_id)
        status = str(run.get("status"))
        ended = status in FINAL_STATUSES
        new = [s for s in run.get("steps", []) if _key(s) not in shown]
        if not live or (ended and not new):
            if not live:
                for step in new:
                    _show_stored(client, run_id, step, printer, timestamps)
            if (live and status != said) or (not live and not new):
                printer.note(_run_note(run))  # the final status line, said once
            return status
        if status != said:
            said = status
            printer.note(_run_note(run))
        for step in new:
            step_status = str(step.get("status"))
            if not ended and step_status in _NOT_STARTED:
                break  # keep the run's order: wait for this one to start
            if not ended and step_status not in FINAL_STATUSES:
                printer.header(f"{step_label(step)} · running")
                final = follow_step(
                    client,
                    run_id,
                    str(step["id"]),
                    printer,
                    timestamps=timestamps,
                    task=_task(step),
                )
                printer.header(f"{step_label(step)} · {final}")
            else:
                _show_stored(client, run_id, step, printer, timestamps)
            shown.add(_key(step))
        else:
            if new:
                continue  # every new step shown: look again at once
        time.sleep(poll_s)


def _run_note(run: dict[str, Any]) -> str:
    reason = f" ({run['message']})" if run.get("message") else ""
    return f"run {run.get('id')}: {run.get('status')}{reason}"


def _show_stored(
    client: ApiClient, run_id: str, step: dict[str, Any], printer: Printer, timestamps: bool
) -> None:
    printer.header(f"{step_label(step)} · {step.get('status')}")
    lines = client.iter_log(run_id, str(step.get("id")), timestamps=timestamps, task=_task(step))
    for text in lines:
        printer.write(text if text.endswith("\n") else text + "\n")
