"""The member's side of interactions: what a Discord client sends when a member uses the bot.

:class:`InteractionSender` turns a slash command, an autocomplete keystroke, a button click, a select
pick or a modal submission into an INTERACTION_CREATE payload (``commands_resolver`` for command
options, ``interaction_components`` for components, ``forms_submit`` for modals), records it in the
:class:`~.interaction_model.InteractionStore` and sends it to the bot's gateway session for the guild's
shard. Refusals the Discord client would make raise :class:`InteractionError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .commands_resolver import build_command_data
from .component_types import BUTTON, SELECTS
from .events import EventKind
from .forms_submit import modal_submit_data
from .gateway import GatewayHub
from .interaction_components import find_component, select_values
from .interaction_model import (
    ATTACHMENT_SIZE_LIMIT,
    CallbackType,
    InteractionHandle,
    InteractionRecord,
    InteractionStore,
    InteractionType,
    new_token,
)
from .interaction_refs import InteractionError, Resolved, find_channel, find_user
from .payloads import channel_payload, member_payload, message_payload
from .rest_http import VIEW_CHANNEL
from .world import Channel, Guild, Json, Member, Message, WorldError


class InteractionSender:
    """Builds and sends interactions as members; each call returns once the bot's socket has it."""

    def __init__(self, store: InteractionStore, hub: GatewayHub, base_url: Callable[[], str]) -> None:
        self.store = store
        self.world = store.world
        self.events = store.events
        self.hub = hub
        self._base_url = base_url

    # -- references --

    def _channel(self, channel: Any, guild: Any = None) -> tuple[Guild, Channel]:
        if isinstance(channel, Channel):
            found: Channel | None = channel
        elif guild is not None:
            guild_obj = self._guild(guild)
            return guild_obj, find_channel(guild_obj, channel)
        elif hasattr(channel, "id") and not isinstance(channel, str | int):
            found = self.world.channel(channel.id)
        else:
            try:
                found = self.world.find_channel(channel)
            except WorldError as exc:
                raise InteractionError(str(exc)) from None
        if found is None:
            raise InteractionError(f"no channel {channel!r} in the sandbox world")
        return self.world.guilds[found.guild_id], found

    def _guild(self, ref: Any) -> Guild:
        if isinstance(ref, Guild):
            return ref
        ref_id = getattr(ref, "id", ref)
        for guild in self.world.guilds.values():
            if str(guild.id) == str(ref_id) or guild.name == ref:
                return guild
        raise InteractionError(f"no guild {ref!r} in the sandbox world")

    def _member(self, guild: Guild, channel: Channel, author: Any) -> Member:
        user, member = find_user(self.world, guild, getattr(author, "user", author))
        if member is None:
            raise InteractionError(f"{user.username} is not a member of {guild.name!r}")
        if not self.world.permissions_in(channel, member.id) & VIEW_CHANNEL:
            raise InteractionError(f"{user.username} cannot see #{channel.name}")
        return member

    def _message_ref(self, message: Any) -> Message:
        message_id = message if isinstance(message, int) else getattr(message, "id", None)
        found = self.store.find_message(message_id) if isinstance(message_id, int) else None
        if found is None:
            raise InteractionError(f"no message {message!r} in the sandbox world (deleted?)")
        return found

    # -- sending interactions (the member's side) --

    async def invoke_slash(
        self, author: Any, channel: Any, command: str, *, guild: Any = None, options: Mapping[str, Any]
    ) -> InteractionHandle:
        """Run ``/command`` (``"config set"`` for subcommands) as ``author`` in ``channel``."""
        guild_obj, channel_obj = self._channel(channel, guild)
        member = self._member(guild_obj, channel_obj, author)
        data, name = build_command_data(
            self.world, guild_obj, channel_obj, member, command, options, base_url=self._base_url
        )
        record = self._new_record(InteractionType.APPLICATION_COMMAND, member, channel_obj, name, data)
        record.command_type = data.get("type", 1)
        return await self._send(record, guild_obj, channel_obj, member)

    async def autocomplete(
        self,
        author: Any,
        channel: Any,
        command: str,
        focused: str,
        *,
        options: Mapping[str, Any],
        timeout: float = 5.0,  # noqa: ASYNC109 - test API
    ) -> list[Json]:
        """The choices the bot offers while ``author`` types ``options[focused]`` into ``/command``."""
        guild_obj, channel_obj = self._channel(channel)
        member = self._member(guild_obj, channel_obj, author)
        data, name = build_command_data(
            self.world,
            guild_obj,
            channel_obj,
            member,
            command,
            options,
            base_url=self._base_url,
            focused=focused,
        )
        record = self._new_record(
            InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE, member, channel_obj, name, data
        )
        handle = await self._send(record, guild_obj, channel_obj, member)
        response = await handle.response(timeout)
        return response.choices

    async def click_button(
        self, author: Any, message: Any, custom_id: str | None = None, *, label: str | None = None
    ) -> InteractionHandle:
        """Click a button on ``message`` (a Message or its id) by ``custom_id`` or ``label``."""
        target = self._message_ref(message)
        component = find_component(target, custom_id, label=label, types=(BUTTON,))
        data = {"custom_id": component["custom_id"], "component_type": BUTTON}
        return await self._component(author, target, component, data)

    async def select(
        self, author: Any, message: Any, custom_id: str | None, values: Sequence[Any]
    ) -> InteractionHandle:
        """Pick ``values`` in a select menu on ``message`` (``custom_id=None``: its only select)."""
        target = self._message_ref(message)
        component = find_component(target, custom_id, types=SELECTS)
        guild_obj, channel_obj = self._channel(target.channel_id)
        member = self._member(guild_obj, channel_obj, author)
        resolved = Resolved(self.world, guild_obj, channel_obj, member, self._base_url)
        picked = select_values(self.world, guild_obj, component, list(values), resolved)
        data: Json = {
            "custom_id": component["custom_id"],
            "component_type": component["type"],
            "values": picked,
        }
        if component["type"] != 3 and (resolved_payload := resolved.payload()):
            data["resolved"] = resolved_payload
        return await self._component(author, target, component, data)

    async def _component(
        self, author: Any, target: Message, component: Json, data: Json
    ) -> InteractionHandle:
        guild_obj, channel_obj = self._channel(target.channel_id)
        member = self._member(guild_obj, channel_obj, author)
        viewer = self.store.ephemeral_viewer.get(target.id)
        if viewer is not None and viewer != member.id:
            raise InteractionError(f"message {target.id} is ephemeral: only its recipient can use it")
        record = self._new_record(
            InteractionType.MESSAGE_COMPONENT, member, channel_obj, component["custom_id"], data
        )
        record.source_message_id = target.id
        return await self._send(record, guild_obj, channel_obj, member, message=target)

    async def submit_modal(self, author: Any, opened_by: Any, values: Mapping[str, Any]) -> InteractionHandle:
        """Submit the modal a bot answered ``opened_by`` (a handle or its response) with."""
        interaction_id = getattr(opened_by, "interaction_id", None) or getattr(opened_by, "id", None)
        trigger = self.store.records.get(interaction_id) if isinstance(interaction_id, int) else None
        if trigger is None:
            raise InteractionError(f"{opened_by!r} is not an interaction the sandbox sent")
        if trigger.response is None or trigger.response.type is not CallbackType.MODAL:
            raise InteractionError(f"the bot did not open a modal for {trigger.name!r}")
        if trigger.modal_submitted:
            raise InteractionError(f"the modal opened for {trigger.name!r} was already submitted")
        guild_obj, channel_obj = self._channel(trigger.channel_id)
        member = self._member(guild_obj, channel_obj, author)
        if member.id != trigger.user.id:
            raise InteractionError(
                f"the modal was shown to {trigger.user.username}, not {member.user.username}"
            )
        modal = trigger.response.data
        resolved = Resolved(self.world, guild_obj, channel_obj, member, self._base_url)
        data = modal_submit_data(self.world, guild_obj, modal, values, resolved)
        trigger.modal_submitted = True
        record = self._new_record(InteractionType.MODAL_SUBMIT, member, channel_obj, modal["custom_id"], data)
        record.triggering = trigger
        record.source_message_id = trigger.source_message_id
        source = self.store.find_message(trigger.source_message_id) if trigger.source_message_id else None
        return await self._send(record, guild_obj, channel_obj, member, message=source)

    def _new_record(
        self, kind: InteractionType, member: Member, channel: Channel, name: str, data: Json
    ) -> InteractionRecord:
        interaction_id = self.world.snowflakes()
        return InteractionRecord(
            id=interaction_id,
            token=new_token(interaction_id),
            type=kind,
            user=member.user,
            guild_id=channel.guild_id,
            channel_id=channel.id,
            name=name,
            data=data,
        )

    def interaction_payload(
        self,
        record: InteractionRecord,
        guild: Guild,
        channel: Channel,
        member: Member,
        message: Message | None,
    ) -> Json:
        """INTERACTION_CREATE's ``d``, with what discord.py 2.7 reads (``attachment_size_limit``, etc.)."""
        perms = str(self.world.permissions_in(channel, member.id))
        app = self.world.application
        payload: Json = {
            "id": str(record.id),
            "application_id": str(app.id),
            "type": int(record.type),
            "data": record.data,
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "guild_id": str(guild.id),
            "channel": {**channel_payload(channel), "permissions": perms},
            "channel_id": str(channel.id),
            "member": {**member_payload(member), "permissions": perms},
            "token": record.token,
            "version": 1,
            "app_permissions": str(self.world.permissions_in(channel, app.bot_id)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        if message is not None:
            payload["message"] = message_payload(self.world, message)
        return payload

    async def _send(
        self,
        record: InteractionRecord,
        guild: Guild,
        channel: Channel,
        member: Member,
        *,
        message: Message | None = None,
    ) -> InteractionHandle:
        bot_id = self.world.application.bot_id
        if bot_id not in guild.members:
            raise InteractionError(f"the bot is not a member of {guild.name!r}")
        # One session gets each interaction: the bot's session for the guild's shard (the newest, if a
        # second connection with the same token and shard exists).
        sessions = [s for s in self.hub.targets(guild.id) if s.user is not None and s.user.id == bot_id]
        if not sessions:
            raise InteractionError(
                "no bot gateway session is connected to receive the interaction: start the bot and "
                "await sandbox.wait_until_ready() first"
            )
        record.payload = self.interaction_payload(record, guild, channel, member, message)
        self.store.add(record)
        self.events.record(
            EventKind.INTERACTION_CREATE,
            {
                "interaction_id": record.id,
                "type": int(record.type),
                "name": record.name,
                "user_id": member.id,
                "channel_id": channel.id,
                "guild_id": guild.id,
                "session_id": sessions[-1].session_id,
                "shard": list(sessions[-1].shard),
            },
        )
        record.dispatched_at = time.monotonic()
        payload = record.payload
        await self.hub.send_to(sessions[-1:], "INTERACTION_CREATE", lambda _s: payload)
        return InteractionHandle(self.store, record)
