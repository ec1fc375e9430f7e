"""The failure handler: FC's ``onFailure`` destination, which ends a run FC gave up on."""

from __future__ import annotations

__all__: list[str] = []
