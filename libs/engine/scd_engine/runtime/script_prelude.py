"""The prelude that runs a ``script`` step: inline Python in its own process.

Contract: the runner writes :data:`PRELUDE` to a file once per run and starts
``python -u PRELUDE CONTEXTS_JSON SCRIPT_FILE`` with the step's environment.
The script sees these names:

- ``git event env secrets steps inputs matrix needs task app``: the contexts,
  with attribute access (``steps.test.outcome``, ``git.branch``); a missing
  attribute raises ``AttributeError`` naming the keys there are.
- ``sh(cmd, check=True, env=None) -> Result(code, output)``: runs ``cmd`` with
  ``bash -e -o pipefail``, streams its output to the step log and returns it;
  raises ``ShError`` on a non-zero exit unless ``check=False``.
- ``outputs``: a dict; what it holds at the end becomes ``steps.<id>.outputs``
  (``True``/``False`` become ``true``/``false``, lists and dicts JSON).
- ``set_env(name, value)``: exports a variable to the later steps.

An uncaught ``ShError`` ends the step with the command's exit code and a
one-line message; any other exception shows its traceback from the script's
own lines (named ``<script>``).
"""

from __future__ import annotations

__all__ = ["PRELUDE"]

PRELUDE = r'''
import json as _json
import os as _os
import subprocess as _subprocess
import sys as _sys
import uuid as _uuid


class _Context(dict):
    """A context: a dict whose keys are also attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"no {name!r} here; there is: {', '.join(sorted(self)) or 'nothing'}"
            ) from None


def _wrap(value):
    if isinstance(value, dict):
        return _Context((k, _wrap(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class Result:
    """What ``sh`` returns: the exit code and the merged output."""

    def __init__(self, code, output):
        self.code = code
        self.output = output

    @property
    def ok(self):
        return self.code == 0

    def __repr__(self):
        return f"Result(code={self.code}, output={self.output!r})"


class ShError(Exception):
    """A command run by ``sh`` exited with a non-zero code."""

    def __init__(self, cmd, result):
        super().__init__(f"command failed with exit code {result.code}: {cmd}")
        self.cmd = cmd
        self.code = result.code
        self.output = result.output


def sh(cmd, check=True, env=None):
    """Run ``cmd`` in bash, stream its output to the log, return a Result."""
    _sys.stdout.flush()
    full_env = None if env is None else {**_os.environ, **{k: str(v) for k, v in env.items()}}
    proc = _subprocess.Popen(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", cmd],
        stdout=_subprocess.PIPE, stderr=_subprocess.STDOUT, stdin=_subprocess.DEVNULL,
        env=full_env,
    )
    chunks = []
    out = _sys.stdout.buffer
    for chunk in iter(lambda: proc.stdout.read1(65536), b""):
        chunks.append(chunk)
        out.write(chunk)
        out.flush()
    code = proc.wait()
    result = Result(code, b"".join(chunks).decode("utf-8", "replace"))
    if check and code != 0:
        raise ShError(cmd, result)
    return result


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return _json.dumps(value)
    return str(value)


def _append(path_var, name, value):
    delimiter = f"ghadelimiter_{_uuid.uuid4()}"
    with open(_os.environ[path_var], "a", encoding="utf-8") as f:
        f.write(f"{name}<<{delimiter}\n{_text(value)}\n{delimiter}\n")


def set_env(name, value):
    """Export ``name=value`` to the later steps (through ``$SCD_ENV``)."""
    _append("SCD_ENV", name, value)


def _main():
    with open(_sys.argv[1], encoding="utf-8") as f:
        contexts = _json.load(f)
    _os.unlink(_sys.argv[1])  # it holds secret values: gone as soon as read
    with open(_sys.argv[2], encoding="utf-8") as f:
        source = f.read()
    outputs = {}
    scope = {name: _wrap(value) for name, value in contexts.items()}
    scope.update(
        __name__="__main__", sh=sh, Result=Result, ShError=ShError,
        outputs=outputs, set_env=set_env,
    )
    code = compile(source, "<script>", "exec")
    try:
        exec(code, scope)
    except ShError as exc:
        _sys.stdout.flush()
        print(f"error: {exc}", file=_sys.stderr)
        _sys.exit(exc.code or 1)
    except SystemExit:
        raise
    except BaseException:
        import traceback

        _sys.stdout.flush()
        kind, exc, tb = _sys.exc_info()
        # Drop the prelude's own frame: the user wrote only <script>.
        traceback.print_exception(kind, exc, tb.tb_next)
        _sys.exit(1)
    finally:
        for name, value in outputs.items():
            _append("SCD_OUTPUT", name, value)


_main()
'''
