"""Fun: ``roll``, ``coinflip``, ``choose`` and ``8ball``, small hybrid commands (``!roll 2d6`` or ``/roll``).

Randomness comes from ``self.rng`` (a :class:`random.Random`), so a test can swap in a seeded one.
Bad input gets a red reply that says what to type instead, rather than an exception.
"""

from __future__ import annotations

import random
import re
import shlex

from discord.ext import commands

from tui_bot.core.replies import send_reply
from tui_bot.core.responses import error_embed

MAX_DICE = 100
MAX_SIDES = 1000
MAX_CHOICE_SHOWN = 1900  # characters of the chosen option shown in the reply
SHOWN_ROLLS = 20  # beyond this many dice only the total is shown: the message stays short
DICE = re.compile(r"^(?P<count>\d*)d(?P<sides>\d+)$|^(?P<plain>\d+)$", re.IGNORECASE)
DICE_HELP = (
    f"Write dice as `NdM`: N dice (1-{MAX_DICE}) with M sides (2-{MAX_SIDES}), e.g. `2d6`, `d20` or `20`."
)

EIGHT_BALL_ANSWERS = (
    "It is certain.",
    "Without a doubt.",
    "Yes, definitely.",
    "You may rely on it.",
    "Most likely.",
    "Outlook good.",
    "Signs point to yes.",
    "Reply hazy, try again.",
    "Ask again later.",
    "Better not tell you now.",
    "Cannot predict now.",
    "Don't count on it.",
    "My reply is no.",
    "My sources say no.",
    "Outlook not so good.",
    "Very doubtful.",
)


def parse_dice(text: str) -> tuple[int, int] | None:
    """``"2d6"`` -> ``(2, 6)``; ``"d20"`` and ``"20"`` -> ``(1, 20)``; None when invalid or out of range."""
    match = DICE.match(text.strip())
    if match is None:
        return None
    # Python refuses to read integers of more than 4,300 digits (and none that long is in range anyway).
    if any(len(group or "") > 6 for group in match.groups()):
        return None
    if match["plain"]:
        count, sides = 1, int(match["plain"])
    else:
        count, sides = int(match["count"] or 1), int(match["sides"])
    if not (1 <= count <= MAX_DICE and 2 <= sides <= MAX_SIDES):
        return None
    return count, sides


def split_options(text: str) -> list[str]:
    """Options separated by commas or ``|`` (``pizza, sushi``), else by spaces (``"ice cream" cake``)."""
    if "," in text or "|" in text:
        parts = re.split(r"[,|]", text)
    else:
        try:
            parts = shlex.split(text)
        except ValueError:  # an unbalanced quote: fall back to plain words
            parts = text.split()
    return [part.strip() for part in parts if part.strip()]


class Fun(commands.Cog):
    """Dice, coins, decisions and a magic 8-ball."""

    def __init__(self, bot: commands.Bot, rng: random.Random | None = None) -> None:
        self.bot = bot
        self.rng = rng or random.Random()

    @commands.hybrid_command(description="Roll dice, e.g. 2d6 or d20")
    async def roll(self, ctx: commands.Context, dice: str = "1d6") -> None:
        """Roll `NdM` dice (default `1d6`) and show each roll and the total."""
        parsed = parse_dice(dice)
        if parsed is None:
            shown = dice.replace("`", "'")[:40]
            title = f"Can't roll `{shown}`" if shown.strip() else "Nothing to roll"
            await send_reply(ctx, embed=error_embed(title, DICE_HELP), kind="error")
            return
        count, sides = parsed
        rolls = [self.rng.randint(1, sides) for _ in range(count)]
        total = sum(rolls)
        if count == 1:
            text = f"🎲 **{count}d{sides}**: **{total}**"
        elif count <= SHOWN_ROLLS:
            text = f"🎲 **{count}d{sides}**: {' + '.join(map(str, rolls))} = **{total}**"
        else:
            text = f"🎲 **{count}d{sides}**: **{total}**"
        await send_reply(ctx, content=text)

    @commands.hybrid_command(description="Flip a coin")
    async def coinflip(self, ctx: commands.Context) -> None:
        """Heads or tails."""
        await send_reply(ctx, content=f"🪙 **{self.rng.choice(('Heads', 'Tails'))}!**")

    @commands.hybrid_command(description="Pick one of several options")
    async def choose(self, ctx: commands.Context, *, options: str) -> None:
        """Choose between options separated by commas or spaces: `choose pizza, sushi, tacos`."""
        choices = split_options(options)
        if len(choices) < 2:
            await send_reply(
                ctx,
                embed=error_embed(
                    "Give me at least two options",
                    "Separate them with commas or spaces, e.g. `choose pizza, sushi` or "
                    '`choose "ice cream" cake`.',
                ),
                kind="error",
            )
            return
        choice = self.rng.choice(choices)
        if len(choice) > MAX_CHOICE_SHOWN:  # Discord refuses messages over 2,000 characters
            choice = choice[: MAX_CHOICE_SHOWN - 1] + "…"
        await send_reply(ctx, content=f"🤔 I choose **{choice}**")

    @commands.hybrid_command(name="8ball", description="Ask the magic 8-ball a yes/no question")
    async def eight_ball(self, ctx: commands.Context, *, question: str) -> None:
        """Answer a yes/no question the way a magic 8-ball would."""
        if not question.strip():  # a slash option of spaces only
            await send_reply(
                ctx,
                embed=error_embed("Ask me something", "Write a yes/no question, e.g. `8ball will it rain?`"),
                kind="error",
            )
            return
        await send_reply(ctx, content=f"🎱 {self.rng.choice(EIGHT_BALL_ANSWERS)}")


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Fun(bot))
