"""The messages a bot's interaction answers make: replies, deferral placeholders, follow-ups, edits.

Non-ephemeral messages are real channel messages (stored, in history) from the bot with
``application_id``, ``webhook_id``, ``interaction_metadata`` and the deprecated ``interaction``.
Ephemeral ones (flag 64) are kept in the :class:`~.interaction_model.InteractionStore`, outside the
channel, visible to the member who interacted. Dispatching and recording are the routes' business
(``interaction_routes``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .attachments import store_attachments
from .interaction_components import walk
from .interaction_model import (
    EPHEMERAL,
    LOADING,
    MESSAGE_CHAT_INPUT_COMMAND,
    MESSAGE_CONTEXT_MENU_COMMAND,
    SUPPRESS_EMBEDS,
    InteractionRecord,
    InteractionStore,
    InteractionType,
)
from .payloads import member_payload, user_payload
from .rest_http import MAX_CONTENT, ApiError, invalid_form, message_content
from .validation import check_message
from .world import Json, Message, World


def interaction_metadata(record: InteractionRecord) -> Json:
    """Discord's ``interaction_metadata`` of a message answering ``record`` (nested for a modal's)."""
    meta: Json = {
        "id": str(record.id),
        "type": int(record.type),
        "user": user_payload(record.user),
        "authorizing_integration_owners": {"0": str(record.guild_id)},
    }
    if record.type is InteractionType.APPLICATION_COMMAND:
        meta["command_type"] = record.command_type
    elif record.type is InteractionType.MESSAGE_COMPONENT and record.source_message_id is not None:
        meta["interacted_message_id"] = str(record.source_message_id)
    elif record.type is InteractionType.MODAL_SUBMIT and record.triggering is not None:
        meta["triggering_interaction_metadata"] = interaction_metadata(record.triggering)
    return meta


def create_reply(
    store: InteractionStore,
    record: InteractionRecord,
    request: web.Request,
    body: Json,
    files: list[web.FileField],
    flags: int,
) -> Message:
    """A message answering ``record``: stored in its channel unless ``flags`` has EPHEMERAL."""
    world = store.world
    channel = world.channel(record.channel_id)
    if channel is None:
        raise ApiError(404, 10003, "Unknown Channel")
    check_message(body, flags=flags)  # Discord's limits (validation.py)
    content = message_content(body)
    check_components(body.get("components"))
    ephemeral = bool(flags & EPHEMERAL)
    attachments = store_attachments(world, request, channel, body, files)
    loading = bool(flags & LOADING)
    if not (
        loading or content or body.get("embeds") or body.get("components") or attachments or body.get("poll")
    ):
        raise ApiError(400, 50006, "Cannot send an empty message")
    source = record.source_message_id
    reference = (
        {
            "type": 0,
            "channel_id": str(channel.id),
            "message_id": str(source),
            "guild_id": str(channel.guild_id),
        }
        if source is not None
        else None
    )
    message = world.create_message(
        channel,
        world.bot_user,
        content,
        embeds=body.get("embeds"),
        components=body.get("components"),
        attachments=attachments,
        allowed_mentions=body.get("allowed_mentions"),
        message_reference=reference,
        tts=bool(body.get("tts", False)),
        flags=flags,
        store=not ephemeral,
    )
    if reference is None:
        # Replies to commands are typed by the command's kind; replies to components stay REPLY (19).
        message.type = (
            MESSAGE_CHAT_INPUT_COMMAND if record.command_type == 1 else MESSAGE_CONTEXT_MENU_COMMAND
        )
    app_id = world.application.id
    message.application_id = message.webhook_id = app_id
    message.interaction_metadata = interaction_metadata(record)
    guild = world.guilds[record.guild_id]
    legacy: Json = {
        "id": str(record.id),
        "type": int(record.type),
        "name": record.name,
        "user": user_payload(record.user),
    }
    if record.user.id in guild.members:
        legacy["member"] = member_payload(guild.members[record.user.id], with_user=False)
    message.interaction = legacy
    if ephemeral:
        store.keep_ephemeral(message, record.user.id)
    return message


def apply_edit(
    world: World,
    message: Message,
    request: web.Request,
    body: Json,
    files: list[web.FileField],
    *,
    finish_loading: bool,
) -> Message:
    """Apply an edit body; flags keep what the bot cannot change (EPHEMERAL stays, LOADING may end)."""
    check_message(body, flags=message.flags if body.get("flags") is None else int(body["flags"]))
    if len(body.get("content") or "") > MAX_CONTENT:
        raise invalid_form("content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
    check_components(body.get("components"))
    changes = dict(body)
    flags = message.flags
    if changes.get("flags") is not None:
        flags = (flags & ~SUPPRESS_EMBEDS) | (int(changes["flags"]) & SUPPRESS_EMBEDS)
    if finish_loading:
        flags &= ~LOADING
    changes["flags"] = flags
    channel = world.channel(message.channel_id)
    new_files = store_attachments(world, request, channel, body, files) if files and channel else []
    world.edit_message(message, changes)
    message.attachments.extend(new_files)
    return message


def check_components(components: Any) -> None:
    """Refuse what Discord refuses outright: custom_ids repeated within one message or modal."""
    if not components:
        return
    if not isinstance(components, list):
        raise invalid_form("components", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
    seen: set[str] = set()
    for component in walk(components):
        custom_id = component.get("custom_id")
        if custom_id is None:
            continue
        if custom_id in seen:
            raise invalid_form(
                "components",
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                f"Component custom id {custom_id!r} is duplicated",
            )
        seen.add(custom_id)
