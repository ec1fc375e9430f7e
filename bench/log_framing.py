"""Log framing throughput: LogWriter -> FileLogSink with 10 secrets, against a plain file.write.

Feeds the same 64 KiB chunks of 40-byte lines (chunk edges fall mid-line, as
pipe reads do) to (a) ``file.write`` on a plain file: the baseline, and (b) a
LogWriter with 10 registered secrets (about 60 masked forms) appending to a
FileLogSink. Prints MB/s of raw output for each and the ratio b/a, by wall clock and by this
process's CPU time (the steadier figure on a shared machine).

In-process only: the pipe read and scd's start-up are left out (bench/log_throughput.py
has them). Note that building the chunks frees a block large enough to raise glibc's
malloc thresholds, which LogWriter now does itself (``_settle_heap``); before it did,
this bench hid the page faults that cost ``scd run`` half its CPU time.

Usage: ``uv run python bench/log_framing.py [MEGABYTES]`` (default 256).
Needs nothing beyond scd_core; writes under a temporary directory it removes.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from pathlib import Path

from scd_core.logs import LogWriter
from scd_core.masking import Masker
from scd_core.sinks.file import FileLogSink

__all__ = ["main"]

CHUNK = 64 * 1024


def _chunks(total: int) -> list[bytes]:
    """Distinct 64 KiB chunks of 40-byte lines, enough to cycle through."""
    lines = b"".join(
        b"%08d build step output: compiling m\n" % i for i in range(4 * CHUNK // 40 + 1)
    )
    assert all(len(line) == 40 for line in lines.splitlines(keepends=True)[:3])
    return [lines[i : i + CHUNK] for i in range(0, 4 * CHUNK, CHUNK)]


def _baseline(chunks: list[bytes], count: int, path: Path) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    with path.open("wb") as out:
        for i in range(count):
            out.write(chunks[i % len(chunks)])
    return time.perf_counter() - wall, time.process_time() - cpu


def _ours(chunks: list[bytes], count: int, root: Path) -> tuple[float, float]:
    masker = Masker(secrets.token_urlsafe(24) for _ in range(10))
    wall, cpu = time.perf_counter(), time.process_time()
    writer = LogWriter(FileLogSink(root), "bench", "step", masker=masker)
    for i in range(count):
        writer.write(chunks[i % len(chunks)])
    writer.close()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    count = megabytes * 1024 * 1024 // CHUNK
    chunks = _chunks(count)
    size = count * CHUNK / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        base = _baseline(chunks, count, Path(tmp) / "plain.log")
        ours = _ours(chunks, count, Path(tmp) / "logs")
        stored = (Path(tmp) / "logs" / "bench" / "step.log").stat().st_size
    print(f"input: {size:.0f} MB of 40-byte lines in 64 KiB chunks; stored {stored / 1e6:.0f} MB")
    print(f"{'':38} wall MB/s   CPU MB/s")
    print(f"{'baseline file.write':38} {size / base[0]:9.0f} {size / base[1]:10.0f}")
    print(f"{'LogWriter+FileLogSink, 10 secrets':38} {size / ours[0]:9.0f} {size / ours[1]:10.0f}")
    print(f"{'ratio ours/baseline':38} {base[0] / ours[0]:9.2f} {base[1] / ours[1]:10.2f}")


if __name__ == "__main__":
    main()
