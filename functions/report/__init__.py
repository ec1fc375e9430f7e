"""Reporting back: commit statuses, signed completion callbacks, notifications.

A :class:`Reporter` (a lifecycle listener) queues deliveries in a durable
:class:`Outbox`; a :class:`Courier` thread sends them with retries.
:func:`reporting` builds the three for one data dir.
"""

from __future__ import annotations

from functions.report.courier import Courier, signature
from functions.report.outbox import Delivery, Outbox
from functions.report.reporter import Reporter, run_url
from functions.report.wiring import Reporting, reporting

__all__ = [
    "Courier",
    "Delivery",
    "Outbox",
    "Reporter",
    "Reporting",
    "reporting",
    "run_url",
    "signature",
]
