"""The hooks a model may define, in one place: the engine and the kernel call them, on
every path that writes — forms, inline rows, bulk actions, workflow steps, imports and
loaders alike. None is required; each is an ordinary method on the model.

================  ==========================================================================
hook              when, and what it does
================  ==========================================================================
``clean()``       after a write is applied and before it is committed (models.kernel.rules):
                  raise ``Invalid({"field": "原因"})`` to refuse it, naming the field. It may
                  ask what the row was (``locks.was``) and what changed (``locks.changed``).
``clean_delete()`` before a row is deleted or moved to the recycle bin, on every path
                  (delete screen, bulk delete, inline removal, cascade): raise ``Refused``.
``on_create(user)`` once, when a row is created on a screen, before its rules run: fill in
                  who received it, and the like.
``guard_<step>(…)`` a workflow step's guard (``Transition(guard="guard_file")``): return
                  ``None`` or the Chinese reason the step is refused. A guard taking no
                  parameters also explains a disabled button before it is pressed.
``<step>(**params)`` a workflow step's effect: the method of the step's name, called with
                  the step's params (or ``Transition(run="module:function")``, which receives
                  ``[row]`` and the params).
``<action>()``    a bulk action's effect on one row (or ``Action(run="module:function")``,
                  which receives all selected rows at once).
================  ==========================================================================

A refusal anywhere rolls the whole write back: nothing is half-written. The checks
(models.kernel.checks) verify at start-up that named guards, effects and params exist.
"""

from __future__ import annotations

from typing import Any, Protocol


class Hooks(Protocol):
    """For readers and type checkers: the optional methods above, with their signatures."""

    def clean(self) -> None: ...

    def clean_delete(self) -> None: ...

    def on_create(self, user: Any) -> None: ...
