"""Checkout into a workspace through the mirror cache, against real repositories in tmp dirs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from factories import commit, make_repo
from test_worker_support import GitHttp, git

from functions.worker.checkout import CheckoutError, checkout, mirror_path

TOKEN = "ghp_testtoken0123456789abcdef"


def run_checkout(
    url: str, dest: Path, cache: Path, *, commit_sha: str | None, ref: str | None, **kw: object
) -> tuple[str, list[str]]:
    lines: list[str] = []
    sha = checkout(
        url,
        commit=commit_sha,
        ref=ref,
        dest=dest,
        cache_dir=cache,
        token=kw.get("token"),  # type: ignore[arg-type]
        log=lines.append,
    )
    return sha, lines


def test_checks_out_the_exact_commit_not_the_branch_tip(tmp_path: Path) -> None:
    repo, first = make_repo(tmp_path / "src", {"version.txt": "one\n"})
    commit(repo, {"version.txt": "two\n"}, "second")
    sha, _ = run_checkout(
        f"file://{repo}",
        tmp_path / "ws",
        tmp_path / "cache",
        commit_sha=first,
        ref="refs/heads/main",
    )
    assert sha == first
    assert (tmp_path / "ws" / "version.txt").read_text() == "one\n"
    assert git("rev-parse", "HEAD", cwd=tmp_path / "ws") == first
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=tmp_path / "ws") == "main"


def test_second_checkout_reuses_the_mirror_and_fetches_only_the_new_objects(
    tmp_path: Path,
) -> None:
    repo, first = make_repo(tmp_path / "src", {"a.txt": "a\n", "big.txt": "x" * 50_000})
    cache, url = tmp_path / "cache", str(repo)  # a plain path works like file://
    run_checkout(url, tmp_path / "ws1", cache, commit_sha=first, ref="refs/heads/main")
    mirror = mirror_path(cache, url)
    assert (mirror / "HEAD").exists()
    git("config", "fetch.unpackLimit", "1", cwd=mirror)  # keep what arrives as a pack to inspect
    packs_before = set((mirror / "objects" / "pack").glob("*.idx"))
    second = commit(repo, {"b.txt": "b\n"}, "second")
    sha, lines = run_checkout(
        url, tmp_path / "ws2", cache, commit_sha=second, ref="refs/heads/main"
    )
    assert sha == second
    assert any(line.startswith("Reused mirror") for line in lines)
    assert (tmp_path / "ws2" / "b.txt").read_text() == "b\n"
    assert (tmp_path / "ws2" / "big.txt").stat().st_size == 50_000
    git("cat-file", "-e", f"{first}^{{commit}}", cwd=mirror)  # the first commit is still there
    (new_pack,) = set((mirror / "objects" / "pack").glob("*.idx")) - packs_before
    listed = git("show-index", cwd=mirror, stdin=new_pack.read_bytes())
    # The new commit, its tree and b.txt's blob: a.txt and big.txt were not sent again.
    assert len(listed.splitlines()) == 3


def test_a_commit_already_in_the_mirror_needs_no_fetch(tmp_path: Path) -> None:
    repo, first = make_repo(tmp_path / "src", {"a.txt": "a\n"})
    url = f"file://{repo}"
    run_checkout(url, tmp_path / "ws1", tmp_path / "cache", commit_sha=first, ref=None)
    git("update-ref", "-d", "refs/heads/main", cwd=repo)  # the server no longer has it
    git("gc", "--quiet", "--prune=now", cwd=repo)
    sha, _ = run_checkout(url, tmp_path / "ws2", tmp_path / "cache", commit_sha=first, ref=None)
    assert sha == first
    assert (tmp_path / "ws2" / "a.txt").read_text() == "a\n"


def test_pull_request_heads_and_merge_request_heads_are_fetched_by_ref(tmp_path: Path) -> None:
    repo, _ = make_repo(tmp_path / "src", {"a.txt": "main\n"})
    git("checkout", "--quiet", "-b", "feature", cwd=repo)
    head = commit(repo, {"a.txt": "feature\n"}, "feature")
    git("update-ref", "refs/pull/7/head", head, cwd=repo)
    git("update-ref", "refs/merge-requests/3/head", head, cwd=repo)
    git("checkout", "--quiet", "main", cwd=repo)
    git("branch", "--quiet", "-D", "feature", cwd=repo)
    for i, ref in enumerate(["refs/pull/7/head", "refs/merge-requests/3/head"]):
        dest = tmp_path / f"ws{i}"
        sha, _ = run_checkout(f"file://{repo}", dest, tmp_path / "cache", commit_sha=None, ref=ref)
        assert sha == head
        assert (dest / "a.txt").read_text() == "feature\n"


def test_an_annotated_tag_checks_out_its_commit(tmp_path: Path) -> None:
    repo, first = make_repo(tmp_path / "src", {"a.txt": "v1\n"})
    git("tag", "-a", "v1.0", "-m", "release", cwd=repo)
    commit(repo, {"a.txt": "later\n"}, "later")
    sha, _ = run_checkout(
        f"file://{repo}", tmp_path / "ws", tmp_path / "cache", commit_sha=None, ref="refs/tags/v1.0"
    )
    assert sha == first
    assert (tmp_path / "ws" / "a.txt").read_text() == "v1\n"


def test_a_server_refusing_shas_gets_the_ref_fetched_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, first = make_repo(tmp_path / "src", {"a.txt": "one\n"})
    commit(repo, {"a.txt": "two\n"}, "second")
    home = tmp_path / "home"
    home.mkdir()
    # Protocol v0 servers only hand out advertised objects (ref tips), as GitHub once did.
    (home / ".gitconfig").write_text("[protocol]\n\tversion = 0\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    sha, lines = run_checkout(
        f"file://{repo}",
        tmp_path / "ws",
        tmp_path / "cache",
        commit_sha=first,
        ref="refs/heads/main",
    )
    assert sha == first
    assert any("fetching the ref instead" in line for line in lines)
    assert (tmp_path / "ws" / "a.txt").read_text() == "one\n"


def test_an_unknown_commit_fails_with_gits_message(tmp_path: Path) -> None:
    repo, _ = make_repo(tmp_path / "src", {"a.txt": "a\n"})
    with pytest.raises(CheckoutError, match="git fetch failed"):
        run_checkout(
            f"file://{repo}", tmp_path / "ws", tmp_path / "cache", commit_sha="0" * 40, ref=None
        )


def test_two_checkouts_of_one_repository_at_once_both_succeed(tmp_path: Path) -> None:
    repo, first = make_repo(tmp_path / "src", {"a.txt": "a\n"})
    results: list[str] = []
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            sha, _ = run_checkout(
                f"file://{repo}",
                tmp_path / f"ws{i}",
                tmp_path / "cache",
                commit_sha=first,
                ref=None,
            )
            results.append(sha)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [first] * 4


def test_private_repository_over_http_is_cloned_with_the_token_which_is_never_printed(
    tmp_path: Path,
) -> None:
    repo, first = make_repo(tmp_path / "src", {"secret.txt": "private\n"})
    served = tmp_path / "served"
    served.mkdir()
    git("clone", "--quiet", "--bare", str(repo), str(served / "app.git"))
    with GitHttp(served, token=TOKEN) as server:
        lines: list[str] = []
        sha = checkout(
            f"{server.url}/app.git",
            commit=first,
            ref="refs/heads/main",
            dest=tmp_path / "ws",
            cache_dir=tmp_path / "cache",
            token=TOKEN,
            log=lines.append,
        )
        with pytest.raises(CheckoutError) as failed:
            checkout(
                f"{server.url}/app.git",
                commit=first,
                ref="refs/heads/main",
                dest=tmp_path / "ws2",
                cache_dir=tmp_path / "cache2",
                token=TOKEN + "-wrong",
                log=lines.append,
            )
    assert sha == first
    assert (tmp_path / "ws" / "secret.txt").read_text() == "private\n"
    assert any(header.startswith("Basic ") for header in server.authorizations)
    text = "\n".join(lines) + str(failed.value)
    assert "Authentication failed" in text or "401" in text
    assert TOKEN not in text
    config = (tmp_path / "ws" / ".git" / "config").read_text()
    assert TOKEN not in config


def test_a_token_or_url_password_in_a_failing_fetch_is_masked(tmp_path: Path) -> None:
    password = "hunter2-very-secret"
    url = f"http://user:{password}@127.0.0.1:9/repo.git"  # nothing listens on the discard port
    lines: list[str] = []
    with pytest.raises(CheckoutError) as failed:
        checkout(
            url,
            commit="a" * 40,
            ref="refs/heads/main",
            dest=tmp_path / "ws",
            cache_dir=tmp_path / "cache",
            token=TOKEN,
            log=lines.append,
        )
    text = "\n".join(lines) + str(failed.value)
    assert "unable to access" in text or "Failed to connect" in text
    assert TOKEN not in text
    assert password not in text


def test_a_commit_missing_from_the_named_branch_is_reported_as_such(tmp_path: Path) -> None:
    repo, _ = make_repo(tmp_path / "src", {"a.txt": "a\n"})
    with pytest.raises(CheckoutError, match="is not reachable from refs/heads/main"):
        run_checkout(
            f"file://{repo}",
            tmp_path / "ws",
            tmp_path / "cache",
            commit_sha="0" * 40,
            ref="refs/heads/main",
        )


@pytest.mark.parametrize(
    ("url", "commit_sha", "ref", "message"),
    [
        ("--upload-pack=touch /tmp/pwned", "a" * 40, None, "not a repository URL"),
        ("ext::sh -c touch% /tmp/pwned", "a" * 40, None, "not a repository URL"),
        ("https://example.com/r.git", "--output=/tmp/x", None, "not a hexadecimal sha"),
        ("https://example.com/r.git", None, "--upload-pack=x", "not a valid git ref"),
        ("https://example.com/r.git", None, "refs/heads/../../x", "not a valid git ref"),
    ],
)
def test_values_git_could_read_as_options_or_commands_are_refused(
    tmp_path: Path, url: str, commit_sha: str | None, ref: str | None, message: str
) -> None:
    with pytest.raises(CheckoutError, match=message):
        run_checkout(url, tmp_path / "ws", tmp_path / "cache", commit_sha=commit_sha, ref=ref)
    assert not (tmp_path / "cache").exists()
