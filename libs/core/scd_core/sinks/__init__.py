"""LogSink backends: ``file`` (a directory or NAS mount) and ``memory`` (in-process, for tests)."""

from __future__ import annotations

from scd_core.sinks.file import FileLogSink
from scd_core.sinks.memory import MemoryLogSink

__all__ = ["FileLogSink", "MemoryLogSink"]
