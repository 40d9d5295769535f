"""Discord JSON shapes of the world's objects.

They follow Discord's real payloads (snowflakes as strings, ISO-8601 timestamps with microseconds,
permissions as strings) because discord.py parses them as Discord sends them.
"""

from __future__ import annotations

import copy
import hashlib

from .component_ids import with_component_ids
from .reactions import reactions_payload
from .world import Channel, DMChannel, Guild, Json, Member, Message, Role, User, World, iso

GUILD_PRESENCES = 1 << 8
LARGE_THRESHOLD = 250  # members above which a guild is large (what discord.py sends in IDENTIFY)


def user_payload(user: User, *, me: bool = False) -> Json:
    """A user object; ``me`` adds the private fields GET users/@me and READY carry."""
    payload: Json = {
        "id": str(user.id),
        "username": user.username,
        "discriminator": "0",
        "global_name": user.global_name,
        "avatar": user.avatar,
        "avatar_decoration_data": None,
        "banner": None,
        "accent_color": None,
        "public_flags": 0,
        "flags": 0,
        "primary_guild": None,
        "collectibles": None,
    }
    if user.bot:
        payload["bot"] = True  # Discord omits the key for humans
    if me:
        payload.update(verified=True, mfa_enabled=False, email=None, locale="en-US", premium_type=0)
    return payload


def application_payload(world: World) -> Json:
    """The bot's application, as GET oauth2/applications/@me describes it (``approximate_guild_count``
    counts the guilds its bot is in). Every key Discord's OpenAPI description (PrivateApplicationResponse)
    requires is present, with Discord's values for a new bot-only application."""
    app = world.application
    bot = world.users[app.bot_id]
    return {
        "id": str(app.id),
        "name": app.name,
        "icon": None,
        "description": app.description,
        "summary": "",
        "type": None,
        "hook": True,
        "bot_public": app.bot_public,
        "bot_require_code_grant": False,
        "verify_key": hashlib.sha256(str(app.id).encode()).hexdigest(),
        "owner": user_payload(world.users[app.owner_id]),
        "team": None,
        "flags": app.flags,
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "tags": [],
        "integration_types_config": {"0": {}},
        "approximate_guild_count": sum(bot.id in g.members for g in world.guilds.values()),
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "explicit_content_filter": 0,
        "event_webhooks_url": None,
        "event_webhooks_status": 1,  # disabled (Discord's default)
        "rpc_origins": [],
        "is_monetized": False,
        "bot": user_payload(bot),
    }


def role_payload(role: Role) -> Json:
    payload: Json = {
        "id": str(role.id),
        "name": role.name,
        "description": None,
        "color": role.colour,
        "colors": {"primary_color": role.colour, "secondary_color": None, "tertiary_color": None},
        "hoist": role.hoist,
        "icon": None,
        "unicode_emoji": None,
        "position": role.position,
        "permissions": str(role.permissions),
        "managed": role.managed,
        "mentionable": role.mentionable,
        "flags": 0,
    }
    if role.bot_id is not None:
        payload["tags"] = {"bot_id": str(role.bot_id)}
    return payload


def channel_payload(channel: Channel, *, with_guild_id: bool = True) -> Json:
    """A channel object; GUILD_CREATE's channel list omits ``guild_id``, REST includes it."""
    payload: Json = {
        "id": str(channel.id),
        "type": channel.type,
        "name": channel.name,
        "position": channel.position,
        "permission_overwrites": [
            {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in channel.permission_overwrites
        ],
        "parent_id": None if channel.parent_id is None else str(channel.parent_id),
        "topic": channel.topic,
        "nsfw": channel.nsfw,
        "rate_limit_per_user": channel.rate_limit_per_user,
        "last_message_id": None if channel.last_message_id is None else str(channel.last_message_id),
        "flags": 0,
    }
    if with_guild_id:
        payload["guild_id"] = str(channel.guild_id)
    return payload


def dm_channel_payload(channel: DMChannel) -> Json:
    """A DM channel object (type 1), as ``POST users/@me/channels`` and ``GET channels/{id}`` return it."""
    return {
        "id": str(channel.id),
        "type": channel.type,
        "last_message_id": None if channel.last_message_id is None else str(channel.last_message_id),
        "flags": 0,
        "recipients": [user_payload(channel.recipient)],
    }


def member_payload(member: Member, *, with_user: bool = True) -> Json:
    """A guild member; messages embed it without ``user`` (the author is beside it)."""
    payload: Json = {
        "nick": member.nick,
        "avatar": None,
        "banner": None,
        "roles": [str(r) for r in member.role_ids],
        "joined_at": iso(member.joined_at),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }
    if with_user:
        payload["user"] = user_payload(member.user)
    return payload


def guild_payload(guild: Guild) -> Json:
    """A guild object as GET guilds/{id} returns it (roles, no members or channels).

    Every key Discord's OpenAPI description (GuildResponse) requires is present (``region`` is the
    literal ``"deprecated"``, ``nsfw`` the deprecated flag beside ``nsfw_level``); ``approximate_*`` only
    with ``with_counts`` (added by the route).
    """
    system_channel = next(iter(guild.channels), None)
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": guild.description,
        "owner_id": str(guild.owner_id),
        "region": "deprecated",
        "afk_channel_id": None,
        "afk_timeout": 300,
        "widget_enabled": False,
        "widget_channel_id": None,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw": False,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "features": [],
        "roles": [role_payload(r) for r in guild.roles.values()],
        "emojis": [],
        "stickers": [],
        "application_id": None,
        "system_channel_id": None if system_channel is None else str(system_channel),
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "max_presences": None,  # "null is always returned, apart from the largest of guilds"
        "max_members": 500000,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "incidents_data": None,
        "home_header": None,
    }


def guild_create_payload(guild: Guild, *, me: int, intents: int) -> Json:
    """GUILD_CREATE for the bot ``me`` connected with ``intents``.

    As Discord does: ``member_count`` is always the real count, but ``members`` lists everyone only to a
    session with GUILD_PRESENCES in a guild that is not large; otherwise only the bot's own member (and
    members in voice, which the sandbox does not simulate). GUILD_MEMBERS alone does not add anyone: a bot
    gets the rest by REQUEST_GUILD_MEMBERS (discord.py's chunking) or REST.
    """
    large = len(guild.members) > LARGE_THRESHOLD
    everyone = bool(intents & GUILD_PRESENCES) and not large
    members = [m for m in guild.members.values() if everyone or m.id == me]
    payload = guild_payload(guild)
    payload.update(
        joined_at=iso(guild.members[me].joined_at) if me in guild.members else None,
        large=large,
        unavailable=False,
        member_count=len(guild.members),
        members=[member_payload(m) for m in members],
        channels=[channel_payload(c, with_guild_id=False) for c in guild.channels.values()],
        threads=[],
        presences=[],
        voice_states=[],
        stage_instances=[],
        guild_scheduled_events=[],
        soundboard_sounds=[],
        lazy=True,
    )
    return payload


def _copy_json(items: list[Json]) -> list[Json]:
    # Payloads must not share lists with the world (the gateway buffers them for replay); most are empty.
    return copy.deepcopy(items) if items else []


def message_payload(world: World, message: Message, *, gateway: bool = False, depth: int = 0) -> Json:
    """A message object. Gateway dispatches add ``guild_id`` and the author's partial ``member``."""
    guild = world.guilds.get(message.guild_id) if message.guild_id else None
    mentions = []
    for uid in message.mentions:
        entry = user_payload(world.users[uid])
        if gateway and guild is not None and uid in guild.members:
            entry["member"] = member_payload(guild.members[uid], with_user=False)
        mentions.append(entry)
    payload: Json = {
        "type": message.type,
        "content": message.content,
        "mentions": mentions,
        "mention_roles": [str(r) for r in message.mention_roles],
        "attachments": _copy_json(message.attachments),
        "embeds": _copy_json(message.embeds),
        "timestamp": iso(message.timestamp),
        "edited_timestamp": iso(message.edited_timestamp),
        "flags": message.flags,
        "components": with_component_ids(message.components),
        "id": str(message.id),
        "channel_id": str(message.channel_id),
        "author": user_payload(message.author),
        "pinned": message.pinned,
        "mention_everyone": message.mention_everyone,
        "tts": message.tts,
    }
    if message.nonce is not None:
        payload["nonce"] = message.nonce
    if message.reactions:  # Discord omits the key when there are none
        payload["reactions"] = reactions_payload(message, me=world.application.bot_id)
    if message.application_id is not None:  # interaction responses (see interactions.py)
        payload["application_id"] = str(message.application_id)
        payload["webhook_id"] = str(message.webhook_id or message.application_id)
        if message.interaction_metadata is not None:
            payload["interaction_metadata"] = copy.deepcopy(message.interaction_metadata)
        if message.interaction is not None:
            payload["interaction"] = copy.deepcopy(message.interaction)
    if message.message_reference is not None:
        payload["message_reference"] = dict(message.message_reference)
        if depth == 0:
            ref_id = int(message.message_reference.get("message_id", 0) or 0)
            referenced = world.get_message(int(message.message_reference.get("channel_id", 0)), ref_id)
            payload["referenced_message"] = (
                None if referenced is None else message_payload(world, referenced, depth=1)
            )
    if gateway and guild is not None:
        payload["guild_id"] = str(guild.id)
        if message.author.id in guild.members:
            payload["member"] = member_payload(guild.members[message.author.id], with_user=False)
    return payload
