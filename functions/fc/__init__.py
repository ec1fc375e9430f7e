"""Deployment to Function Compute: the runtime facts, code packages and timer triggers.

Modules: ``runtime`` (the FC runtime and Python the functions run on, what each
function's code directory holds), ``package`` (``build_packages``, which ``scd
package`` runs), ``timers`` (the timer trigger entries ``scd fc timers`` prints or
writes into s.yaml). Nothing is imported here: the functions themselves never
import this package.
"""

from __future__ import annotations

__all__: list[str] = []
