"""Per-step overhead of serverless-cd plugins through the Node bridge.

Baseline, measured in the same run: N steps of `run: node -e "..."` (one Node
process per step, what the bridge costs at least). Ours: N steps of a local
JavaScript plugin (`plugin: ./plugins/echo.js`, returning an output), N steps of
a plugin that requires `@serverless-cd/core` from the warm plugin cache, and one
cold install of that dependency into an empty cache (npm from the registry).
Prints ms per step of each, the ratios against the baseline, and the cold
install's seconds. Each pipeline runs --repeat times; the best run counts.

Needs: node and npm on PATH, the npm registry reachable, and scd's engine in the
running interpreter (`uv run python bench/npm_bridge.py`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from scd_core.sinks.memory import MemoryLogSink
from scd_engine.runtime import Runner
from scd_engine.spec import load_pipeline

ECHO = "exports.run = async (inputs) => ({ echoed: inputs.n });\n"
CORE = (
    "const core = require('@serverless-cd/core');\n"
    "exports.run = async (inputs, context) => ({ ref: core.parseRef('refs/heads/x').value });\n"
)
MANIFEST = {
    "name": "bench-core",
    "private": True,
    "dependencies": {"@serverless-cd/core": "0.0.26"},
}


def workspace(root: Path) -> Path:
    ws = root / "ws"
    (ws / "plugins" / "core").mkdir(parents=True)
    (ws / "plugins" / "echo.js").write_text(ECHO)
    (ws / "plugins" / "core" / "index.js").write_text(CORE)
    (ws / "plugins" / "core" / "package.json").write_text(json.dumps(MANIFEST))
    return ws


def pipeline(ws: Path, step: str, n: int) -> Path:
    path = ws / f"p-{abs(hash(step))}-{n}.yaml"
    path.write_text("steps:\n" + "".join(step.replace("{i}", str(i)) for i in range(n)))
    return path


def run(ws: Path, path: Path, cache: Path) -> float:
    """Seconds to run the pipeline at ``path``; exits when a step fails."""
    spec = load_pipeline(path)
    started = time.perf_counter()
    result = Runner(ws, sink=MemoryLogSink(), run_id="bench", cache_dir=cache).run(spec)
    elapsed = time.perf_counter() - started
    if result.status != "success":
        sys.exit(f"{path.name}: {[s.message for s in result.steps if s.message]}")
    return elapsed


def best(ws: Path, path: Path, cache: Path, repeat: int) -> float:
    return min(run(ws, path, cache) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("node") is None or shutil.which("npm") is None:
        sys.exit("node and npm are needed (Debian: apt-get install nodejs npm)")
    n = args.steps
    with tempfile.TemporaryDirectory(prefix="scd-bench-npm-") as tmp:
        ws, cache = workspace(Path(tmp)), Path(tmp) / "cache"
        node_e = "  - run: node -e \"process.stdout.write('{i}')\"\n"
        bridge = "  - plugin: ./plugins/echo.js\n    inputs: {n: {i}}\n"
        core = "  - plugin: ./plugins/core\n"
        cold = run(ws, pipeline(ws, core, 1), cache)  # the empty cache: npm installs
        baseline = best(ws, pipeline(ws, node_e, n), cache, args.repeat) / n
        echo = best(ws, pipeline(ws, bridge, n), cache, args.repeat) / n
        warm = best(ws, pipeline(ws, core, n), cache, args.repeat) / n
    print(
        f"baseline `run: node -e`   {baseline * 1000:8.1f} ms/step  (N={n}, best of {args.repeat})"
    )
    print(f"bridge, local .js plugin  {echo * 1000:8.1f} ms/step  {echo / baseline:5.2f}x baseline")
    print(f"bridge, warm npm cache    {warm * 1000:8.1f} ms/step  {warm / baseline:5.2f}x baseline")
    print(f"bridge, cold npm install  {cold:8.1f} s (one step) {cold / baseline:7.0f}x baseline")


if __name__ == "__main__":
    main()
