"""One process's reporting: outbox, reporter and courier, opened together.

Contract: :func:`reporting` opens ``<data_dir>/outbox.db`` and returns a
:class:`Reporting` whose ``reporter`` is to be registered on the process's one
lifecycle (``lifecycle.listen(r.reporter)``) and whose courier is started;
``close()`` stops the courier and closes the file (idempotent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scd_core.store import RunStore

from functions.report.courier import Courier
from functions.report.outbox import Outbox
from functions.report.reporter import Reporter

if TYPE_CHECKING:
    from scd_trigger_spec import App

__all__ = ["OUTBOX_FILE", "Reporting", "reporting"]

OUTBOX_FILE = "outbox.db"


@dataclass
class Reporting:
    """The outbox, the listener filling it and the courier emptying it."""

    outbox: Outbox
    reporter: Reporter
    courier: Courier

    def close(self) -> None:
        """Stop sending and close the outbox."""
        self.courier.stop()
        self.outbox.close()


def reporting(
    data_dir: Path,
    store: RunStore,
    load_app: Callable[[str], App | None],
    environ: Mapping[str, str],
    public_url: str | None,
    *,
    start: bool = True,
) -> Reporting:
    """Open the outbox in ``data_dir`` and start a courier on it."""
    outbox = Outbox(Path(data_dir) / OUTBOX_FILE)
    courier = Courier(outbox, load_app, environ)
    reporter = Reporter(outbox, store, load_app, public_url, wake=courier.wake, environ=environ)
    if start:
        courier.start()
    return Reporting(outbox, reporter, courier)
