"""The Chat pane's history: the channel's messages on screen, following the newest one.

While the view is at the bottom, new messages keep it there. Once the operator has scrolled up (to
read, or to reach a button of an older reply) new messages do not pull the view away; ``unseen``
turns on instead, and the pane shows a "new messages below" marker until the view is back at the
bottom.
"""

from __future__ import annotations

from collections.abc import Set

from textual.containers import VerticalScroll
from textual.reactive import var
from textual.widget import Widget

from tui_bot.sandbox.world import Message

from .chat_render import fingerprint, is_ephemeral
from .chat_widgets import ChatMessage, ChatNotice, MessageView


class ChatLog(VerticalScroll, can_focus=False):
    """The messages of the channel shown, in id order, and the pane's notices."""

    unseen: var[bool] = var(False)
    """Messages arrived below the view while it was scrolled up."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # Whether the operator left the view at the bottom. Kept from the last scroll rather than
        # measured when a message arrives: by then the layout has grown and the view, still where
        # the operator left it, no longer looks "at the bottom".
        self._following = True

    def on_mount(self) -> None:
        self.anchor()

    @property
    def following(self) -> bool:
        """Whether new messages keep the view at the bottom (it was left there)."""
        return self._following

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._following = new_value >= self.max_scroll_y
        if self._following:
            self.unseen = False

    def jump_to_newest(self) -> None:
        """Scroll to the newest message and follow new ones again."""
        self._following = True
        self.unseen = False
        self.scroll_end(animate=False)

    def shown_messages(self) -> dict[int, ChatMessage]:
        """The message widgets on screen, by message id."""
        return {w.message_id: w for w in self.query_children(ChatMessage)}

    async def show_messages(
        self,
        wanted: list[Message],
        view: MessageView,
        *,
        deleted: Set[int],
        channel_id: int,
        viewer_changed: bool = False,
    ) -> None:
        """Show ``wanted`` (oldest first) as they are now: mount new ones in order, re-render changed
        ones in place, remove the others. ``deleted``: ids of messages shown as deleted.
        ``viewer_changed``: the member changed, so ephemeral messages are re-rendered too. Notices
        of other channels go."""
        wanted_ids = {m.id for m in wanted}
        shown = self.shown_messages()
        # The newest message that stays: what "new" is measured against (0 for a channel shown afresh).
        newest_before = max((mid for mid in shown if mid in wanted_ids), default=0)
        stale: list[Widget] = [w for mid, w in shown.items() if mid not in wanted_ids]
        stale += [n for n in self.query_children(ChatNotice) if n.channel_id != channel_id]
        if stale:
            await self.remove_children(stale)
        # New messages are mounted in runs, each before the next message already shown (the log is
        # in id order): one mount for a whole channel, not one per message.
        run: list[Widget] = []
        arrived = False
        for message in wanted:
            gone = message.id in deleted
            widget = shown.get(message.id)
            if widget is None:
                run.append(ChatMessage(message, view, deleted=gone))
                arrived = arrived or message.id > newest_before
                continue
            if run:
                await self.mount_all(run, before=widget)
                run = []
            if (
                (viewer_changed and is_ephemeral(message))
                or widget.fingerprint != fingerprint(message, deleted=gone)
                or widget.message is not message
            ):
                await widget.show(message, view, deleted=gone)
        if run:
            await self.mount_all(run)
        if not arrived:
            return
        if self._following:
            # Also when focus on a reply's button released the anchor without moving the view.
            self.scroll_end(animate=False)
        elif newest_before:
            self.unseen = True
