"""Fixtures shared by the core tests: the OSS world (moto behind the OSS-refusing proxy)."""

from __future__ import annotations

from oss_support import oss_world

__all__ = ["oss_world"]
