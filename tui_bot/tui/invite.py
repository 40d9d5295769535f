"""The bot's invite link in the console: the same OAuth2 URL ``tui-bot invite`` prints, for the running
bot's application (against the sandbox, the sandbox bot's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui_bot.scaffold import invite_permissions, invite_url

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot

MODERATION = "moderation"  # the starter extension whose commands need kick, ban and manage messages


def invite_link(bot: TuiBot) -> str | None:
    """The link that adds ``bot`` to a server, with the permissions its enabled extensions need; None
    until the bot has logged in (the application id comes with the login)."""
    if bot.application_id is None:
        return None
    manager = bot.extension_manager
    moderation = MODERATION in manager.discover() and not manager.is_blacklisted(MODERATION)
    return invite_url(bot.application_id, invite_permissions(moderation=moderation))
