"""What a :class:`~scd_engine.runtime.runner.Runner` is told: one options object.

Contract: :class:`RunnerOptions` is frozen configuration, read when the Runner
is built; one options object may build several Runners (each gets its own
cancel Event and masker unless the options name them). ``cancel`` is the one
live part: the Event the run watches (set it from any thread to cancel).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scd_core.logsink import LogSink
    from scd_core.masking import Masker
    from scd_core.models import Event, StepState

    from scd_engine.runtime.sandbox import Sandbox

__all__ = ["Observer", "RunnerOptions"]

Observer = Callable[["StepState"], None]
"""Called with a copy of each StepState change (see :mod:`scd_engine.runtime.observers`)."""


@dataclass(frozen=True)
class RunnerOptions:
    """Where and how one task runs.

    ``workspace``: the checkout, where steps run. ``sink`` and ``run_id``: where
    each step's log goes (under its key). ``event``: the normalised event
    (``git``/``event`` contexts), None for a plain local run. ``secrets``: values
    masked everywhere and offered as ``secrets``. ``inputs``: over the event's.
    ``env``: extra variables, under the pipeline's. ``cancel``: set it from any
    thread to cancel (the Runner makes one when None). ``observers``: each gets a
    copy of every StepState change. ``grace``: seconds from SIGTERM to SIGKILL.
    ``cache_dir``: the ``cache`` plugin's store (default: a temp dir).
    ``app``/``task``: those contexts (``task.id`` is the run id). ``masker``:
    share one (the secrets are added to it). ``tmp_root``: where the run's
    private temp dir goes (default /dev/shm when writable). ``instance``: the
    task instance this is (``build (18, linux)``; None: the plan task's id), which
    keys its steps' records and logs (``scd_core`` ``log_key``); ``matrix`` and
    ``needs``: those contexts (a matrix instance's values; each needed task's
    ``result`` and ``outputs``). ``environ``: where the
    ``sts`` credentials come from (default ``os.environ``; ``{}`` withholds them, as for
    a fork's pull request). ``sandbox``: confines each ``run`` and ``script`` step to
    its workspace and temp dir (None: steps share the caller's view of the disk);
    ``hidden``: paths it must never show, whatever else it shows (scd's data dir).
    """

    workspace: Path
    sink: LogSink
    run_id: str
    event: Event | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)
    inputs: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    cancel: threading.Event | None = None
    observers: Sequence[Observer] = ()
    grace: float = 10.0
    cache_dir: Path | None = None
    app: Mapping[str, Any] | None = None
    task: Mapping[str, Any] | None = None
    masker: Masker | None = None
    tmp_root: Path | None = None
    environ: Mapping[str, str] | None = None
    sandbox: Sandbox | None = None
    hidden: tuple[Path, ...] = ()
    instance: str | None = None
    matrix: Mapping[str, Any] = field(default_factory=dict)
    needs: Mapping[str, Any] = field(default_factory=dict)
