"""Suite-wide set-up: tests commit to real git repositories, so give git an identity
where the machine has none (a fresh CI machine), without overriding one that exists.
The CLI reads and writes ``$XDG_CONFIG_HOME/scd``: every test process (and the
processes it starts) gets a private one, so no test reads or changes the user's."""

from __future__ import annotations

import os
import tempfile

os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="scd-tests-config-")

for _name, _value in {
    "GIT_AUTHOR_NAME": "scd tests",
    "GIT_AUTHOR_EMAIL": "tests@scd.invalid",
    "GIT_COMMITTER_NAME": "scd tests",
    "GIT_COMMITTER_EMAIL": "tests@scd.invalid",
}.items():
    os.environ.setdefault(_name, _value)
