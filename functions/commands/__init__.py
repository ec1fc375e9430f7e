"""Subcommands of ``scd``; each module exposes ``register(app)``."""
