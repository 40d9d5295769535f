"""Moderation: ``ban``, ``kick`` and ``purge``, as a model for extension authors.

Every command here is *hybrid*: one function serves ``!kick @bob`` and ``/kick member:bob``. The
decorators do most of the work, and the framework builds on them:

* ``@commands.guild_only()``: the command makes no sense in DMs (and the slash command is hidden there).
* ``@commands.has_permissions(...)``: the invoker needs this Discord permission in the channel. The
  framework's error handler turns a refusal into a friendly reply, and ``/help`` hides the command
  from members who lack it and lists the permission in ``help kick``.
* ``@commands.bot_has_permissions(...)``: the bot itself needs it; checked before Discord is asked.
* Server admins can further restrict any command to roles (``command_permissions`` in config.json or
  ``!config``): that is the framework's global check, nothing to write here.
* A ``discord.Member`` argument needs no member cache (config.json's ``cache.members`` keeps none by
  default): discord.py's converter takes a mention's member from the message, and asks Discord for an id
  or a name (the gateway's member request, or REST when that is rate limited), so ``!kick @bob`` works for a
  bob who never spoke.

A command's docstring is what ``help <command>`` shows, so it is written for members (Discord
markdown: single backticks); its ``description`` is the one-line summary slash commands display.

What decorators cannot know (the role hierarchy) is checked in :func:`hierarchy_problem`, and
Discord's own refusal (HTTP 403, code 50013) is still caught: the bot's view of roles can be stale.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterable

import discord
from discord.ext import commands

from tui_bot.core.replies import send_reply
from tui_bot.core.responses import error_embed, success_embed

# Shown when Discord refuses an action the checks allowed (403 / 50013 Missing Permissions).
FORBIDDEN_HINT = (
    "Discord refused: I am missing the **{permission}** permission, or my highest role is not above "
    "{target}'s. Move my role higher in Server Settings → Roles."
)


# Discord bulk-deletes messages under 14 days old only; older ones are deleted one by one.
BULK_DELETE_MAX_AGE = datetime.timedelta(days=14)
MAX_FIELD_VALUE = 1024  # Discord refuses an embed whose field value is longer
PurgeableChannel = discord.TextChannel | discord.Thread | discord.VoiceChannel


def hierarchy_problem(ctx: commands.Context, member: discord.Member, action: str) -> str | None:
    """Why ``ctx.author`` may not ``action`` ``member``, or None when the role hierarchy allows it.

    Discord lets nobody act on the server owner, and a member only on members whose highest role is
    strictly lower than their own (the owner excepted). The bot is bound by the same rule.
    """
    guild = ctx.guild
    assert guild is not None and isinstance(ctx.author, discord.Member)  # guild_only guarantees it
    if member.id == ctx.author.id:
        return f"You can't {action} yourself."
    if ctx.bot.user is not None and member.id == ctx.bot.user.id:
        return f"I can't {action} myself."
    if member.id == guild.owner_id:
        return f"{member.display_name} owns this server: nobody can {action} them."
    if ctx.author.id != guild.owner_id and member.top_role >= ctx.author.top_role:
        return (
            f"{member.display_name}'s highest role ({member.top_role.name}) is equal to or higher than "
            f"yours ({ctx.author.top_role.name})."
        )
    if member.top_role >= guild.me.top_role:
        return (
            f"My highest role ({guild.me.top_role.name}) is not above {member.display_name}'s "
            f"({member.top_role.name}). Move my role higher in Server Settings → Roles."
        )
    return None


def audit_reason(ctx: commands.Context, reason: str | None) -> str:
    """The reason recorded in the server's audit log: who did it, and why."""
    return f"{ctx.author} ({ctx.author.id}): {reason or 'no reason given'}"[:512]


def action_embed(
    title: str, member: discord.abc.User, ctx: commands.Context, reason: str | None
) -> discord.Embed:
    """The green confirmation that says who was affected, by whom and why."""
    embed = success_embed(title)
    embed.add_field(name="Member", value=f"{member} (`{member.id}`)", inline=True)
    embed.add_field(name="By", value=ctx.author.mention, inline=True)
    if reason and len(reason) > MAX_FIELD_VALUE:  # a 2,000-character reason would lose the whole reply
        reason = reason[: MAX_FIELD_VALUE - 1] + "…"
    embed.add_field(name="Reason", value=reason or "No reason given.", inline=False)
    return embed


class PurgeRun:
    """One ``purge``: the messages it deletes, and those someone else deleted while it ran.

    Discord's bulk delete skips ids that no longer exist and answers 204 all the same, so only the
    gateway tells which messages vanished: a MESSAGE_DELETE (or someone else's MESSAGE_DELETE_BULK) for
    one of them that is not this purge's own request. A single delete of a vanished one gets 404.
    """

    def __init__(self, channel_id: int, message_ids: Iterable[int]) -> None:
        self.channel_id = channel_id
        self.targets = set(message_ids)
        self.deleted: set[int] = set()  # confirmed deleted by this purge
        self.gone: set[int] = set()  # deleted by someone else meanwhile
        self._in_flight: tuple[bool, set[int]] = (False, set())  # (bulk?, ids) of the request under way

    def saw_deleted(self, channel_id: int, message_ids: Iterable[int], *, bulk: bool) -> None:
        """A gateway delete event: note which of this purge's messages someone else deleted."""
        if channel_id != self.channel_id:
            return
        ids = self.targets.intersection(message_ids)
        in_flight_bulk, in_flight = self._in_flight
        if bulk == in_flight_bulk and ids <= in_flight:
            return  # the event of our own request
        self.gone |= ids - self.deleted

    async def delete(self, channel: PurgeableChannel, messages: list[discord.Message], reason: str) -> None:
        """Delete ``messages`` (at most 100) minus the vanished ones: in bulk, or one by one if alone."""
        batch = [m for m in messages if m.id not in self.gone]
        if not batch:
            return
        bulk = len(batch) >= 2
        ids = {m.id for m in batch}
        self._in_flight = (bulk, ids)
        try:
            if bulk:
                await channel.delete_messages(batch, reason=reason)
            else:
                await batch[0].delete()
        except discord.NotFound:
            if bulk:
                raise  # unknown ids do not fail a bulk delete: this is the channel itself
            self.gone |= ids  # deleted by someone else before our request reached Discord
            return
        finally:
            self._in_flight = (False, set())
        self.deleted |= ids - self.gone


class Moderation(commands.Cog):
    """Keep the server tidy: ban, kick and bulk-delete messages."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self._purges: set[PurgeRun] = set()

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        for run in self._purges:
            run.saw_deleted(payload.channel_id, (payload.message_id,), bulk=False)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        for run in self._purges:
            run.saw_deleted(payload.channel_id, payload.message_ids, bulk=True)

    async def _purge(
        self, channel: PurgeableChannel, amount: int, before: discord.Message | None, reason: str
    ) -> PurgeRun:
        """Delete the ``amount`` messages before ``before`` (None: the newest), tolerating any that
        someone else deletes meanwhile; the run says how many this purge deleted and how many vanished."""
        messages = [m async for m in channel.history(limit=amount, before=before) if m.type.is_deletable()]
        run = PurgeRun(channel.id, (m.id for m in messages))
        self._purges.add(run)
        try:
            oldest_bulk = discord.utils.time_snowflake(discord.utils.utcnow() - BULK_DELETE_MAX_AGE)
            await run.delete(channel, [m for m in messages if m.id >= oldest_bulk], reason)
            for message in (m for m in messages if m.id < oldest_bulk):
                await run.delete(channel, [message], reason)
        finally:
            self._purges.discard(run)
        return run

    async def _refuse(self, ctx: commands.Context, title: str, reason: str) -> None:
        # kind="error": ephemeral in a slash invocation, cleaned up after a while as a prefix reply.
        await send_reply(ctx, embed=error_embed(title, reason), kind="error")

    @commands.hybrid_command(description="Ban a member from the server")
    @commands.guild_only()
    @commands.has_permissions(ban_members=True)
    @commands.bot_has_permissions(ban_members=True)
    async def ban(self, ctx: commands.Context, member: discord.Member, *, reason: str | None = None) -> None:
        """Ban `member` (their recent messages stay); the reason goes to the audit log."""
        problem = hierarchy_problem(ctx, member, "ban")
        if problem:
            await self._refuse(ctx, f"Can't ban {member.display_name}", problem)
            return
        try:
            await member.ban(reason=audit_reason(ctx, reason), delete_message_seconds=0)
        except discord.Forbidden:
            hint = FORBIDDEN_HINT.format(permission="Ban Members", target=member.display_name)
            await self._refuse(ctx, f"Can't ban {member.display_name}", hint)
            return
        await send_reply(
            ctx, embed=action_embed(f"Banned {member.display_name}", member, ctx, reason), kind="success"
        )

    @commands.hybrid_command(description="Kick a member out of the server")
    @commands.guild_only()
    @commands.has_permissions(kick_members=True)
    @commands.bot_has_permissions(kick_members=True)
    async def kick(self, ctx: commands.Context, member: discord.Member, *, reason: str | None = None) -> None:
        """Kick `member`: they can come back with an invite."""
        problem = hierarchy_problem(ctx, member, "kick")
        if problem:
            await self._refuse(ctx, f"Can't kick {member.display_name}", problem)
            return
        try:
            await member.kick(reason=audit_reason(ctx, reason))
        except discord.Forbidden:
            hint = FORBIDDEN_HINT.format(permission="Kick Members", target=member.display_name)
            await self._refuse(ctx, f"Can't kick {member.display_name}", hint)
            return
        await send_reply(
            ctx, embed=action_embed(f"Kicked {member.display_name}", member, ctx, reason), kind="success"
        )

    @commands.hybrid_command(description="Delete the last 1-100 messages of this channel")
    @commands.guild_only()
    @commands.has_permissions(manage_messages=True)
    @commands.bot_has_permissions(manage_messages=True, read_message_history=True)
    async def purge(self, ctx: commands.Context, amount: commands.Range[int, 1, 100]) -> None:
        """Delete the `amount` (1-100) messages before this command, and the command itself."""
        # commands.Range bounds the number for both forms: the slash option gets min/max values, and
        # a prefix invocation out of range is refused with a clear message by the error handler.
        if ctx.interaction is not None:
            # Deleting can take longer than the 3 s Discord gives an interaction: acknowledge first.
            await ctx.defer(ephemeral=True)
        channel = ctx.channel
        assert isinstance(channel, PurgeableChannel)
        # Not channel.purge(): it fails with 404 when a message it deletes alone was deleted meanwhile,
        # and counts the vanished ones in bulk as its own.
        before = ctx.message if ctx.interaction is None else None
        try:
            run = await self._purge(channel, amount, before, audit_reason(ctx, "purge"))
        except discord.Forbidden:
            hint = "Discord refused: I need **Manage Messages** and **Read Message History** in this channel."
            await self._refuse(ctx, "Can't delete messages", hint)
            return
        if ctx.interaction is None:
            with contextlib.suppress(discord.HTTPException):  # already gone is fine
                await ctx.message.delete()
        count, plural = len(run.deleted), "" if len(run.deleted) == 1 else "s"
        where = f"In {channel.mention}."
        if run.gone:
            where += f" {len(run.gone)} more had already been deleted by someone else."
        embed = success_embed(f"Deleted {count} message{plural}", where)
        await send_reply(ctx, embed=embed, kind="success")


async def setup(bot: commands.Bot) -> None:
    """Called by the framework when it loads this file (at start-up, ``!reload`` or hot reload)."""
    await bot.add_cog(Moderation(bot))
