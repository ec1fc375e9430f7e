"""``scd package``: one code directory per FC function, ready for ``s deploy``.

Builds ``<out>/trigger``, ``<out>/worker`` and ``<out>/failure-handler``
(``--function`` picks some) as
``functions.fc.package`` describes, with the lock's dependencies as linux x86_64
wheels for the runtime's Python, and prints each directory's size. Bytecode is
compiled when a Python of the runtime's version is on this machine; otherwise
it says so (the functions then compile their modules at every cold start).
Exit codes: 0 built, 2 a bad input or a failed build (the reason on stderr).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["package", "register"]


def package(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the code directories go.")] = Path(
        "dist/fc"
    ),
    config: Annotated[
        Path, typer.Option("--config", "-c", envvar="SCD_CONFIG", help="scd.yaml to ship.")
    ] = Path("scd.yaml"),
    function: Annotated[
        list[str] | None,
        typer.Option("--function", "-f", help="Build only this function (repeatable)."),
    ] = None,
    python_version: Annotated[
        str | None, typer.Option("--python-version", help="Target Python (default: the runtime's).")
    ] = None,
) -> None:
    """Build the functions' code directories for Function Compute (s.yaml's code:)."""
    import tempfile

    from scd_core.errors import ScdError

    from functions.fc.package import build_package, find_python, lock_constraints
    from functions.fc.runtime import FUNCTIONS, PYTHON_VERSION

    root = _project_root()
    version = python_version or PYTHON_VERSION
    names = {f.name for f in FUNCTIONS}
    unknown = sorted(set(function or ()) - names)
    if unknown:
        typer.echo(f"scd package: no function {unknown[0]!r} (known: {sorted(names)})", err=True)
        raise typer.Exit(2)
    chosen = [f for f in FUNCTIONS if not function or f.name in function]
    compiler = find_python(version)
    if compiler is None:
        typer.echo(
            f"scd package: no Python {version} here (set SCD_PACKAGE_PYTHON): "
            "building without bytecode, the functions will compile at every cold start",
            err=True,
        )
    try:
        with tempfile.TemporaryDirectory(prefix="scd-package-") as tmp:
            constraints = lock_constraints(root, Path(tmp) / "constraints.txt")
            for code in chosen:
                built = build_package(
                    code,
                    root,
                    out,
                    config=config,
                    constraints=constraints,
                    python_version=version,
                    compiler=compiler,
                )
                typer.echo(f"{built.name:<16} {built.size / 1e6:6.1f} MB  {built.path}")
    except ScdError as exc:
        typer.echo(f"scd package: {exc}", err=True)
        raise typer.Exit(2) from None


def _project_root() -> Path:
    """The repository the ``functions`` package was loaded from (it holds uv.lock)."""
    import functions

    root = Path(functions.__file__).resolve().parent.parent
    if not (root / "uv.lock").is_file():
        typer.echo(f"scd package: run from a checkout of scd (no uv.lock in {root})", err=True)
        raise typer.Exit(2)
    return root


def register(app: typer.Typer) -> None:
    """Add ``package`` to ``app``."""
    app.command("package")(package)
