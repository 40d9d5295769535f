"""An example extension: one hybrid command (works as !hello and /hello) and one listener.

Copy it to start your own: any module in extensions/ with an ``async def setup(bot)`` is loaded at start-up.
"""

import logging

import discord
from discord.ext import commands

log = logging.getLogger("extensions.example")


class Example(commands.Cog):
    """Greets people."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    @commands.hybrid_command(help="Say hello")
    async def hello(self, ctx: commands.Context) -> None:
        await ctx.send(f"Hello, {ctx.author.display_name}!")

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        log.info("%s joined %s", member, member.guild)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Example(bot))
