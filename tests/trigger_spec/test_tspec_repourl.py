"""App repositories are what git reads as a repository: no options, no command transports."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from scd_trigger_spec import App
from scd_trigger_spec.repourl import is_local_repo, repo_url_problem


@pytest.mark.parametrize(
    "url",
    [
        "--upload-pack=touch /tmp/pwned",
        "-oProxyCommand=id",
        "ext::sh -c touch% /tmp/pwned",
        "fd::17",
        "transport::anything",
        "http://github.com/acme/web.git",
        "ftp://example.com/web.git",
        "https://example.com/web.git\n--upload-pack=id",
        "",
    ],
)
def test_repository_urls_git_would_misread_are_refused_at_registration(url: str) -> None:
    assert repo_url_problem(url) is not None
    with pytest.raises(ValidationError, match="repo "):
        App.model_validate({"name": "web", "repo": url, "insecure_no_secret": True})


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("https://github.com/acme/web.git", False),
        ("ssh://git@github.com/acme/web.git", False),
        ("git@github.com:acme/web.git", False),
        ("git://example.com/web.git", False),
        ("http://127.0.0.1:8080/web.git", False),
        ("file:///srv/git/web.git", True),
        ("/srv/git/web.git", True),
        ("relative/repo", True),
    ],
)
def test_repository_urls_of_real_transports_are_accepted(url: str, local: bool) -> None:
    assert repo_url_problem(url) is None
    app = App.model_validate({"name": "web", "repo": url, "insecure_no_secret": True})
    assert app.repo == url
    assert is_local_repo(url) is local
