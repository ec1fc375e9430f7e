"""FC timer triggers for the apps' schedules, and writing them into s.yaml.

On FC one timer, the minute tick (``scd-tick`` in s.yaml), makes the trigger fire
every app's due schedules, so a schedule that fires at most once a minute needs
no timer of its own. A schedule finer than that (a 6-field cron whose seconds
field is not a single number, such as ``*/15 * * * * *``) does: ``timer_entries``
names each one ``<app>--<index>`` (its 0-based index in the app's
``trigger.schedule``) with the cron as written and the payload
``{"app": "<app>", "cron": "<cron>"}``, which ``functions.trigger.schedules.
resolve_timer`` maps back to the app and schedule. ``every=True`` gives an entry
for every schedule (a deployment without the minute tick).

``write_timers`` replaces what lies between the ``# BEGIN scd fc timers`` and
``# END scd fc timers`` lines of s.yaml, at the BEGIN line's indentation, and
leaves every other byte (comments included) as it was; writing twice is a no-op.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from scd_core.errors import ConfigError
from scd_trigger_spec import App
from scd_trigger_spec.cron import parse_cron

__all__ = [
    "BEGIN",
    "END",
    "TICK_PAYLOAD",
    "TimerEntry",
    "finer_than_a_minute",
    "render_entries",
    "timer_entries",
    "write_timers",
]

BEGIN = "# BEGIN scd fc timers"
END = "# END scd fc timers"
# the minute tick's payload in s.yaml: the trigger fires every app's due schedules
TICK_PAYLOAD = '{"scd": "tick"}'
_SINGLE_SECOND = re.compile(r"\d{1,2}")


@dataclass(frozen=True)
class TimerEntry:
    """One schedule of one app; ``own_timer`` when the minute tick cannot serve it."""

    app: str
    index: int
    cron: str
    own_timer: bool

    @property
    def name(self) -> str:
        return f"{self.app}--{self.index}"

    @property
    def payload(self) -> str:
        return json.dumps({"app": self.app, "cron": self.cron})


def finer_than_a_minute(cron: str) -> bool:
    """True when ``cron`` can fire more than once in a minute (``ValueError`` if invalid)."""
    schedule = parse_cron(cron)
    if schedule.fields is None:
        return False  # @every: at least one minute apart
    seconds = schedule.fields.split()[0]
    return _SINGLE_SECOND.fullmatch(seconds) is None


def timer_entries(apps: Iterable[App]) -> list[TimerEntry]:
    """Every schedule of every app, in scd.yaml's order."""
    return [
        TimerEntry(app.name, index, entry.cron, finer_than_a_minute(entry.cron))
        for app in apps
        for index, entry in enumerate(app.trigger.schedule)
    ]


def render_entries(entries: Iterable[TimerEntry], indent: int = 0) -> str:
    """The entries as s.yaml ``triggers:`` list items, each line indented by ``indent``."""
    lines: list[str] = []
    for entry in entries:
        lines += [
            f"- triggerName: {entry.name}",
            "  triggerType: timer",
            "  qualifier: LATEST",
            f"  description: {json.dumps(f'schedule {entry.index} of app {entry.app}')}",
            "  triggerConfig:",
            f"    cronExpression: {json.dumps(entry.cron)}",
            "    enable: true",
            f"    payload: {json.dumps(entry.payload)}",
        ]
    pad = " " * indent
    return "".join(f"{pad}{line}\n" for line in lines)


def write_timers(text: str, entries: Iterable[TimerEntry]) -> str:
    """``text`` (an s.yaml) with its generated block replaced by ``entries``."""
    lines = text.splitlines(keepends=True)
    begin = [i for i, line in enumerate(lines) if line.strip().startswith(BEGIN)]
    end = [i for i, line in enumerate(lines) if line.strip().startswith(END)]
    if len(begin) != 1 or len(end) != 1 or end[0] < begin[0]:
        raise ConfigError(
            f"s.yaml: expected one '{BEGIN}' line followed by one '{END}' line "
            "in the trigger's triggers list"
        )
    first, last = begin[0], end[0]
    indent = len(lines[first]) - len(lines[first].lstrip(" "))
    block = render_entries(entries, indent)
    return "".join([*lines[: first + 1], block, *lines[last:]])
