"""Suite-wide set-up: tests commit to real git repositories, so give git an identity
where the machine has none (a fresh CI machine), without overriding one that exists."""

from __future__ import annotations

import os

for _name, _value in {
    "GIT_AUTHOR_NAME": "scd tests",
    "GIT_AUTHOR_EMAIL": "tests@scd.invalid",
    "GIT_COMMITTER_NAME": "scd tests",
    "GIT_COMMITTER_EMAIL": "tests@scd.invalid",
}.items():
    os.environ.setdefault(_name, _value)
