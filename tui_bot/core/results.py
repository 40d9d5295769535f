"""The one result type of the operator's actions: :class:`ActionResult`.

Every ``bot.actions`` method returns one, whoever asked: a console key, the command palette or a
Discord owner command. The console shows ``describe()`` as a notification, the owner commands turn the
same object into an embed, and the action layer has logged it already. Subclasses carry what a fuller
view needs (an extension's traceback, a sync plan's added/changed/removed commands, a backup's file).

A leaf module (it imports nothing of the bot) so that the core's own outcome types
(:class:`~tui_bot.core.extensions.ExtensionResult`, :class:`~tui_bot.core.sync.SyncPlan`,
:class:`~tui_bot.core.sync.SyncResult`) can be action results without an import cycle.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

# The extension name that means "every loaded extension" in `reload all` (the owner command, the cluster bus).
ALL_EXTENSIONS = "all"


class ActionResult(abc.ABC):
    """The outcome of one operator action: whether it worked (``ok``) and one line saying what happened.

    An expected failure (a bad extension name, a sync Discord refused, a full disk) is a result with
    ``ok`` false, never an exception.
    """

    if TYPE_CHECKING:
        # Declared for the type checker only: subclasses provide ``ok`` as a dataclass field, a class
        # attribute or a property. A real attribute here would become the default value of a
        # subclass's ``ok`` dataclass field.
        @property
        @abc.abstractmethod
        def ok(self) -> bool:
            """Whether the action did what was asked."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line for a notification, a log line or the summary of a Discord reply."""
