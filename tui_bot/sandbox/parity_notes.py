"""Kept by hand for the parity table (``parity``): how routes are grouped, and what partial routes lack."""

from __future__ import annotations

# (marker, area): a route belongs to the first area whose marker is in its path; the table follows this
# order.
AREA_RULES: tuple[tuple[str, str], ...] = (
    ("/gateway", "Gateway and session"),
    ("/auth/", "Gateway and session"),
    ("/oauth2/", "Application"),
    ("/applications/@me", "Application"),
    ("/commands", "Application commands"),
    ("/interactions/", "Interactions and webhooks"),
    ("/webhooks", "Interactions and webhooks"),
    ("/users/", "Users and DMs"),
    ("/reactions", "Reactions"),
    ("/pins", "Pins"),
    ("/polls", "Polls"),
    ("/thread", "Threads"),
    ("/messages", "Messages"),
    ("/typing", "Messages"),
    ("/members", "Members"),
    ("/bans", "Bans"),
    ("/bulk-ban", "Bans"),
    ("/roles", "Roles"),
    ("/channels", "Channels"),
    ("/emojis", "Emojis and stickers"),
    ("/sticker", "Emojis and stickers"),
    ("/scheduled-events", "Scheduled events"),
    ("/auto-moderation", "Auto moderation"),
    ("/invites", "Invites"),
    ("/templates", "Templates"),
    ("/integrations", "Integrations"),
    ("/voice", "Voice and stage"),
    ("/stage-instances", "Voice and stage"),
    ("soundboard", "Soundboard"),
    ("/entitlements", "Monetization"),
    ("/skus", "Monetization"),
    ("/guilds", "Guilds"),
    ("/applications", "Application"),
)

# "METHOD /path as discord.py writes it" -> what the sandbox's route lacks. A route named here must be
# one discord.py calls and the sandbox serves (parity.compute checks).
_INTERACTION_WEBHOOKS_ONLY = (
    "interaction tokens only (application id + interaction token); channel webhooks are not modelled"
)
PARTIAL: dict[str, str] = {
    "POST /interactions/{webhook_id}/{webhook_token}/callback": (
        "types 10 (premium required) and 12 (launch activity) are not modelled"
    ),
    "POST /webhooks/{webhook_id}/{webhook_token}": _INTERACTION_WEBHOOKS_ONLY,
    "GET /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}": _INTERACTION_WEBHOOKS_ONLY,
    "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}": _INTERACTION_WEBHOOKS_ONLY,
    "DELETE /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}": _INTERACTION_WEBHOOKS_ONLY,
    "POST /channels/{channel_id}/messages": (
        "polls, stickers and forwards (`message_reference` type 1) are not modelled"
    ),
    "PATCH /channels/{channel_id}/messages/{message_id}": (
        "new files uploaded with an edit are ignored (keeping or dropping attachments works)"
    ),
    "GET /channels/{channel_id}/messages/{message_id}/reactions/{emoji}": (
        "super reactions (`type=1`) are not modelled: that list is empty"
    ),
    "GET /guilds/{guild_id}/members": (
        "the GUILD_MEMBERS privileged intent is not required; a bad `limit` is not a 50035"
    ),
}
