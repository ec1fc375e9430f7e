"""Check out the exact commit of a job into a fresh workspace, through a local mirror cache.

Contract: :func:`checkout` leaves ``dest`` a git repository whose work tree is the
wanted commit and returns its sha. Per repository URL there is one bare mirror
under ``<cache_dir>/mirrors/<sha256 of the URL>``; a fetch asks the server for
exactly the commit (``git fetch --depth=1 <url> <sha>``; servers that refuse
unadvertised shas get the ref fetched instead), so a second run of a repository
transfers only objects the mirror lacks. The mirror keeps one ref per ref name
fetched (branch, tag, ``refs/pull/N/head``, ``refs/merge-requests/N/head``) so
the next fetch can tell the server what it already has.

The workspace borrows the mirror's objects (``objects/info/alternates``) instead
of copying them: nothing is copied but the checked-out files. The mirror is
never garbage-collected (``gc.auto=0``), so borrowed objects stay.

A per-mirror ``fcntl`` lock serialises fetches of one repository between
processes on one machine; checkouts take it shared. A token reaches git only as
an ``http.extraHeader`` in ``GIT_CONFIG_*`` environment variables (never in the
URL or the command line) and every line git prints is masked before ``log``
sees it, as are the messages of :class:`CheckoutError`.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from scd_core.errors import ScdError
from scd_core.masking import Masker

__all__ = ["CheckoutError", "checkout", "credential_values", "git_ref_ok", "mirror_path"]

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_HEX = re.compile(r"[0-9a-fA-F]{4,64}")  # a full sha or an abbreviation of one
_GIT_TIMEOUT_S = 900.0  # a fetch that has not finished in 15 minutes is stuck
_TAIL = 8  # lines of git's output logged for a failure
# What servers say when they refuse to send an unadvertised commit (then the ref is fetched).
_REFUSALS = ("unadvertised object", "not our ref", "allow-reachable-sha1", "allowReachableSHA1")


class CheckoutError(ScdError):
    """Checking the code out failed (git's message, masked, is in ``str(exc)``)."""

    code = "checkout_error"


def mirror_path(cache_dir: Path, clone_url: str) -> Path:
    """Where the bare mirror of ``clone_url`` lives under ``cache_dir``."""
    digest = hashlib.sha256(clone_url.encode("utf-8")).hexdigest()
    return Path(cache_dir) / "mirrors" / digest


def credential_values(token: str | None, clone_url: str = "") -> tuple[str, ...]:
    """What to mask for a checkout: the token, the credentials in its header, a URL password."""
    values: list[str] = []
    if token:
        values += [token, _basic_credentials(token)]
    password = urlsplit(clone_url).password if "://" in clone_url else None
    if password:
        values.append(password)
    return tuple(values)


def checkout(
    clone_url: str,
    *,
    commit: str | None,
    ref: str | None,
    dest: Path,
    cache_dir: Path,
    token: str | None,
    log: Callable[[str], None],
    cancel: threading.Event | None = None,
) -> str:
    """Check ``commit`` (or the tip of ``ref``) of ``clone_url`` out into ``dest``; its sha.

    ``dest`` must not exist or be empty. ``ref`` names a branch, tag, PR or MR head
    (``refs/...`` or a short name); without ``commit`` its tip is checked out. ``log``
    receives masked progress lines. ``CheckoutError`` when git fails (its masked
    message) or ``cancel`` is set; ``ValueError`` when neither commit nor ref is given.
    """
    if not commit and not ref:
        raise ValueError("checkout needs a commit or a ref")
    _check_target(clone_url, commit, ref)
    masker = Masker(credential_values(token, clone_url))
    env = _git_env(token)
    git = _Git(env, masker, log, cancel)
    mirror = mirror_path(cache_dir, clone_url)
    mirror.parent.mkdir(parents=True, exist_ok=True)
    log(f"Fetching {masker.mask(clone_url)} ({commit or ref})")
    started = time.monotonic()
    with _locked(mirror, fcntl.LOCK_EX):
        reused = (mirror / "HEAD").exists()
        if not reused:
            git.run("init", "--quiet", "--template=", "--bare", str(mirror))
            git.run("-C", str(mirror), "config", "gc.auto", "0")
        sha = _fetch(git, mirror, clone_url, commit, ref)
    log(f"{'Reused' if reused else 'Created'} mirror; fetched in {time.monotonic() - started:.2f}s")
    with _locked(mirror, fcntl.LOCK_SH):
        _populate(git, mirror, dest, clone_url, sha, ref)
    log(f"Checked out {sha}")
    return sha


def _fetch(git: _Git, mirror: Path, url: str, commit: str | None, ref: str | None) -> str:
    """Make ``commit`` (or the tip of ``ref``) present in the mirror; the commit's sha."""
    target = _mirror_ref(ref, commit)
    if commit and _SHA.fullmatch(commit):
        if git.ok("-C", str(mirror), "cat-file", "-e", f"{commit}^{{commit}}"):
            git.run("-C", str(mirror), "update-ref", target, commit)
            return commit
        refused = git.attempt(
            "-C", str(mirror), "fetch", "--quiet", "--depth=1", url, f"+{commit}:{target}"
        )
        if refused is None:
            return commit
        if not ref or not any(sign in refused for sign in _REFUSALS):
            raise CheckoutError(f"git fetch failed: {_headline(refused)}")
        git.log("The server refused to send a commit by sha; fetching the ref instead")
    if not ref:
        raise CheckoutError(f"commit {commit!r} is not a full sha and the job names no ref")
    depth = [] if commit else ["--depth=1"]  # the wanted commit may lie below the tip
    git.run("-C", str(mirror), "fetch", "--quiet", *depth, url, f"+{ref}:{target}")
    wanted = f"{commit}^{{commit}}" if commit else f"{target}^{{commit}}"
    sha = git.output("-C", str(mirror), "rev-parse", "--verify", "--quiet", wanted)
    if not sha:
        raise CheckoutError(f"commit {commit} is not reachable from {ref}")
    return sha


def _check_target(clone_url: str, commit: str | None, ref: str | None) -> None:
    """``CheckoutError`` for values git could read as options or command-running transports.

    The clone URL, ref and commit come from a webhook payload: a leading ``-`` would be
    an option to git, and ``ext::``/``fd::`` URLs run commands.
    """
    scheme = clone_url.partition("::")[0] if "::" in clone_url.split("/", 1)[0] else ""
    if not clone_url or clone_url.startswith("-") or scheme or "\n" in clone_url:
        raise CheckoutError("the clone URL is not a repository URL or path")
    if ref is not None and not git_ref_ok(ref):
        raise CheckoutError("the ref is not a valid git ref name")
    if commit is not None and not _HEX.fullmatch(commit):
        raise CheckoutError("the commit is not a hexadecimal sha")


def _mirror_ref(ref: str | None, commit: str | None) -> str:
    """The mirror ref a fetch lands in: the job's ref, or a shared one for bare shas."""
    if ref and ref.startswith("refs/") and git_ref_ok(ref):
        return ref
    if ref and git_ref_ok(f"refs/heads/{ref}"):
        return f"refs/scd/named/{ref}"
    return "refs/scd/commit" if commit else "refs/scd/tip"


def git_ref_ok(ref: str) -> bool:
    """A cheap check that ``ref`` is a well-formed ref name (no option, no ``..``)."""
    return (
        not ref.startswith("-")
        and ".." not in ref
        and re.fullmatch(r"[A-Za-z0-9._/+@-]+", ref) is not None
        and not ref.endswith(("/", ".lock"))
    )


def _populate(git: _Git, mirror: Path, dest: Path, url: str, sha: str, ref: str | None) -> None:
    """Make ``dest`` a repository borrowing the mirror's objects, at ``sha``."""
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise CheckoutError(f"workspace {dest} is not empty")
    git.run("init", "--quiet", "--template=", str(dest))
    dot_git = dest / ".git"
    (dot_git / "objects" / "info" / "alternates").write_text(f"{mirror / 'objects'}\n")
    if (mirror / "shallow").exists():
        shutil.copyfile(mirror / "shallow", dot_git / "shallow")
    git.run("-C", str(dest), "remote", "add", "origin", _without_credentials(url))
    branch = ref.removeprefix("refs/heads/") if ref and ref.startswith("refs/heads/") else None
    if branch and git_ref_ok(f"refs/heads/{branch}"):
        git.run("-C", str(dest), "checkout", "--quiet", "-B", branch, sha)
    else:
        git.run("-C", str(dest), "-c", "advice.detachedHead=false", "checkout", "--quiet", sha)


def _headline(output: str) -> str:
    """The line of git's output that says what went wrong (the first fatal or error)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line
    return lines[-1] if lines else ""


def _without_credentials(url: str) -> str:
    """``url`` without a user name or password (they must not land in .git/config)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _basic_credentials(token: str) -> str:
    # "user:password" tokens (Codeup) are used as given; GitHub and GitLab take any user name.
    return token if ":" in token else f"x-access-token:{token}"


def _git_env(token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(LC_ALL="C", GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true", GIT_CONFIG_NOSYSTEM="1")
    if token:
        header = base64.b64encode(_basic_credentials(token).encode()).decode("ascii")
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Basic {header}",
        )
    return env


@contextmanager
def _locked(mirror: Path, mode: int) -> Iterator[None]:
    with open(mirror.with_name(mirror.name + ".lock"), "a+b") as handle:
        fcntl.flock(handle.fileno(), mode)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class _Git:
    """Runs git with the masked-output, cancel and timeout rules of this module."""

    def __init__(
        self,
        env: dict[str, str],
        masker: Masker,
        log: Callable[[str], None],
        cancel: threading.Event | None,
    ) -> None:
        self.env = env
        self.masker = masker
        self._log = log
        self.cancel = cancel

    def log(self, line: str) -> None:
        self._log(self.masker.mask(line))

    def run(self, *args: str) -> str:
        """git's stdout; ``CheckoutError`` with its masked output if it fails."""
        code, out, err = self._call(args)
        if code != 0:
            tail = [line for line in err.splitlines() if line.strip()][-_TAIL:]
            for line in tail:
                self.log(line)
            command = args[2] if args[0] == "-C" else args[0]
            raise CheckoutError(f"git {command} failed: {_headline(err) or f'exit {code}'}")
        return out

    def ok(self, *args: str) -> bool:
        """True if git succeeds."""
        return self._call(args)[0] == 0

    def attempt(self, *args: str) -> str | None:
        """None if git succeeds, else its last lines of complaint (masked), also logged."""
        code, _, err = self._call(args)
        if code == 0:
            return None
        tail = [line for line in err.splitlines() if line.strip()][-_TAIL:]
        for line in tail:
            self.log(line)
        return "\n".join(tail) or f"exit status {code}"

    def output(self, *args: str) -> str:
        code, out, _ = self._call(args)
        return out.strip() if code == 0 else ""

    def _call(self, args: tuple[str, ...]) -> tuple[int, str, str]:
        if self.cancel is not None and self.cancel.is_set():
            raise CheckoutError("checkout cancelled")
        proc = subprocess.Popen(
            ["git", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
        )
        deadline = time.monotonic() + _GIT_TIMEOUT_S
        while True:
            try:
                out, err = proc.communicate(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                stop = self.cancel is not None and self.cancel.is_set()
                if stop or time.monotonic() > deadline:
                    proc.kill()
                    proc.communicate()
                    raise CheckoutError("checkout cancelled" if stop else "git timed out") from None
        decode = self.masker.mask
        return (
            proc.returncode,
            decode(out.decode(errors="replace")),
            decode(err.decode(errors="replace")),
        )
