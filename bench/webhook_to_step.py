"""Webhook received → first step's process started, through a real ``scd serve``.

What it measures: ``scd serve`` runs as a subprocess (2 worker processes, a tmp
data dir); a small local repository (30 files) has a pipeline whose first
command writes the time (``date +%s.%N``) to a file named by the run id. The
client notes the time just before posting the signed GitHub push webhook; the
latency is the file's time minus that. Runs go one at a time (each waits for the
previous one to end), 50 by default, in two series, after one run per worker
process (the first job of a fresh worker pays its imports; printed apart):

- **cold**: every run comes from a fresh copy of the repository at another path,
  so the worker creates a new mirror and fetches everything (checkout included);
- **warm**: every run is a new commit of one repository whose mirror exists,
  so only the new commit is fetched (the mirror's steady state).

Each series is printed twice: checkout included, and checkout excluded (the
latency less the run's ``setup`` step, which checks out and loads the pipeline,
as the run API reports its start and end).

Baseline, measured in the same run: ``git clone --depth 1 file://<repo>`` of the
same repository plus ``bash -c true``, as one would do by hand.

Needs: ``git``, GNU ``date`` (``%N``). Usage:
``uv run python bench/webhook_to_step.py [--runs 50] [--workers 2]``.
Prints p50 and p95 of each series and the ratios to the baseline.

This module also defines ``Serve`` (an ``scd serve`` subprocess for benchmarks),
which ``burst.py`` uses.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from factories import commit, pipeline_repo, scd_yaml, token_entry  # noqa: E402
from netutil import free_port  # noqa: E402

from functions.serve.demo import DemoPush, push_webhook  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
TOKEN = "bench-token-0123456789abcdef"
FINAL = {"success", "failure", "cancelled", "error", "skipped"}
CONFIG = scd_yaml(tokens=[token_entry("bench", TOKEN, "admin")])


class Serve:
    """``scd serve`` on a free port over ``root`` (config, data dir, log)."""

    def __init__(self, root: Path, workers: int = 2) -> None:
        self.root = root
        self.data_dir = root / "data"
        root.mkdir(parents=True, exist_ok=True)
        (root / "scd.yaml").write_text(CONFIG, encoding="utf-8")
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCD_")}
        cmd = [sys.executable, "-c", "from functions.cli import main; main()", "serve"]
        cmd += ["--config", str(root / "scd.yaml"), "--port", port]
        cmd += ["--data-dir", str(self.data_dir), "--workers", str(workers)]
        self.log = (root / "serve.log").open("wb")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=self.url, timeout=60.0)
        self.auth = {"authorization": f"Bearer {TOKEN}"}
        self.apps: set[str] = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"scd serve exited: see {root / 'serve.log'}")
            try:
                if self.client.get("/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit("scd serve did not start within 60 s")

    def app_for(self, repo: Path) -> str:
        """The app that builds ``repo`` (a job clones its app's repository), made once."""
        name = "repo-" + hashlib.sha256(str(repo).encode()).hexdigest()[:12]
        if name not in self.apps:
            spec = {"repo": repo.resolve().as_uri(), "secret": SECRET, "trigger": {"push": {}}}
            answer = self.client.put(f"/api/v1/apps/{name}", json=spec, headers=self.auth)
            if answer.status_code not in (200, 201):
                raise SystemExit(f"app refused: {answer.status_code} {answer.text}")
            self.apps.add(name)
        return name

    def post(self, push: DemoPush) -> str:
        body, headers = push_webhook(push, SECRET)
        app = self.app_for(push.repo)
        answer = self.client.post(f"/webhooks/{app}", content=body, headers=headers)
        if answer.status_code != 202:
            raise SystemExit(f"webhook refused: {answer.status_code} {answer.text}")
        run_id: str = answer.json()["run_id"]
        return run_id

    def run(self, run_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get(f"/api/v1/runs/{run_id}", headers=self.auth).json()
        return body

    def wait_final(self, run_id: str, timeout_s: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run["status"] in FINAL:
                return run
            time.sleep(0.01)
        raise SystemExit(f"run {run_id} did not end within {timeout_s} s")

    def stop(self) -> None:
        self.proc.send_signal(2)  # SIGINT, as Ctrl-C
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.client.close()
        self.log.close()


def git(repo: Path, *args: str) -> str:
    ident = ["-c", "user.name=bench", "-c", "user.email=bench@scd.invalid"]
    done = subprocess.run(
        ["git", *ident, *args], cwd=repo, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def make_repo(path: Path, pipeline: str, files: int = 30) -> str:
    """A repository with ``pipeline`` and ``files`` small modules; the head sha."""
    sources = {f"src/m{i}.py": f"# module {i}\n" + "x = 1\n" * 40 for i in range(files)}
    return pipeline_repo(path, pipeline, sources)[1]


def new_commit(repo: Path, n: int) -> tuple[str, str]:
    before = git(repo, "rev-parse", "HEAD")
    return before, commit(repo, {"CHANGES": f"change {n}\n"}, f"change {n}")


def push_of(repo: Path, before: str, after: str) -> DemoPush:
    return DemoPush(repo, before, after, "bench", ["CHANGES"], [])


def wait_mark(path: Path, timeout_s: float = 120.0) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            text = ""
        if text:
            return float(text)
        time.sleep(0.001)
    raise SystemExit(f"no timestamp at {path}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def setup_seconds(run: dict[str, Any]) -> float:
    """How long the run's set-up step (checkout and pipeline load) took."""
    for step in run["steps"]:
        if step["id"] == "setup" and step["started_at"] and step["finished_at"]:
            started = datetime.fromisoformat(step["started_at"].replace("Z", "+00:00"))
            finished = datetime.fromisoformat(step["finished_at"].replace("Z", "+00:00"))
            return (finished - started).total_seconds()
    raise SystemExit(f"run {run['id']} has no finished set-up step")


def one_run(scd: Serve, marks: Path, push: DemoPush) -> tuple[float, float]:
    """(webhook -> first step started, the same less the set-up step's checkout time)."""
    scd.app_for(push.repo)  # registering the app is set-up, not part of the latency
    started = time.time()
    run_id = scd.post(push)
    first_step = wait_mark(marks / run_id)
    run = scd.wait_final(run_id)
    if run["status"] != "success":
        raise SystemExit(f"run {run_id} ended {run['status']}: {run.get('message')}")
    latency = first_step - started
    return latency, latency - setup_seconds(run)


def series_cold(
    scd: Serve, marks: Path, work: Path, template: Path, runs: int
) -> list[tuple[float, float]]:
    work.mkdir(exist_ok=True)
    out = []
    head = git(template, "rev-parse", "HEAD")
    for i in range(runs):
        copy = work / f"cold-{i}"
        shutil.copytree(template, copy)
        out.append(one_run(scd, marks, push_of(copy, "0" * 40, head)))
    return out


def series_warm(scd: Serve, marks: Path, repo: Path, runs: int) -> list[tuple[float, float]]:
    one_run(scd, marks, push_of(repo, "0" * 40, git(repo, "rev-parse", "HEAD")))  # the mirror
    out = []
    for i in range(runs):
        before, after = new_commit(repo, i)
        out.append(one_run(scd, marks, push_of(repo, before, after)))
    return out


def series_baseline(work: Path, repo: Path, runs: int) -> list[float]:
    out = []
    for i in range(runs):
        dest = work / f"clone-{i}"
        started = time.perf_counter()
        subprocess.run(
            ["git", "clone", "-q", "--depth", "1", repo.as_uri(), str(dest)],
            check=True,
            capture_output=True,
        )
        subprocess.run(["bash", "-c", "true"], check=True, cwd=dest)
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("git") is None:
        print("skipped: git is not installed")
        return
    if subprocess.run(["date", "+%N"], capture_output=True, text=True).stdout.strip() in ("", "N"):
        print("skipped: date +%N is not supported here (GNU date needed)")
        return
    with tempfile.TemporaryDirectory(prefix="scd-bench-") as tmp:
        work = Path(tmp)
        marks = work / "marks"
        marks.mkdir()
        pipeline = f'steps:\n  - run: date +%s.%N > "{marks}/$SCD_RUN_ID"\n'
        template = work / "template"
        make_repo(template, pipeline)
        warm_repo = work / "warm"
        shutil.copytree(template, warm_repo)
        baseline = series_baseline(work, template, args.runs)
        scd = Serve(work / "scd", workers=args.workers)
        try:
            # The first job of each worker process pays its imports: measured apart.
            first = series_cold(scd, marks, work / "first", template, args.workers)
            cold = series_cold(scd, marks, work, template, args.runs)
            warm = series_warm(scd, marks, warm_repo, args.runs)
        finally:
            scd.stop()
    base50 = percentile(baseline, 0.5)
    firsts = ", ".join(f"{v * 1000:.0f} ms" for v, _ in first)
    print(f"first job of each fresh worker process: {firsts}")
    print(f"webhook -> first step started, {args.runs} runs each, {args.workers} workers")
    print(f"{'series':<44}{'p50 ms':>10}{'p95 ms':>10}{'p50 / baseline':>16}")
    for name, values in (
        ("baseline: git clone --depth 1 + bash", baseline),
        ("scd, cold mirror, checkout included", [total for total, _ in cold]),
        ("scd, cold mirror, checkout excluded", [rest for _, rest in cold]),
        ("scd, warm mirror, checkout included", [total for total, _ in warm]),
        ("scd, warm mirror, checkout excluded", [rest for _, rest in warm]),
    ):
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        print(f"{name:<44}{p50 * 1000:>10.1f}{p95 * 1000:>10.1f}{p50 / base50:>15.2f}x")


if __name__ == "__main__":
    main()
