"""A local Discord on loopback: REST and gateway servers the unmodified discord.py client connects to.

``world`` holds the state and its Discord JSON shapes, ``rest`` and ``gateway`` speak the two
protocols, ``server`` runs them and offers the Python API tests and the console use. Nothing here
imports Textual.
"""

from .events import (
    EventKind,
    EventLog,
    SandboxEvent,
)
from .faults import Fault, FaultInjector
from .gateway import GatewayHub
from .gateway_protocol import CloseCode, Op
from .gateway_session import GatewaySession
from .interactions import (
    CallbackType,
    InteractionError,
    InteractionHandle,
    InteractionResponse,
    InteractionType,
)
from .limits import LIMITS, CommandLimits, Limit
from .membership import Membership, create_guild
from .ratelimits import RateLimiter, RoutePattern
from .rest import ApiError, RestApi
from .server import Sandbox
from .world import (
    DISCORD_EPOCH_MS,
    SANDBOX_TOKEN,
    Application,
    Channel,
    Guild,
    Member,
    Message,
    PermissionOverwrite,
    Role,
    SnowflakeGenerator,
    User,
    World,
    WorldError,
    snowflake_time,
)
from .world_file import (
    demo_world,
    load_world,
    world_from_dict,
)

__all__ = [
    "DISCORD_EPOCH_MS",
    "LIMITS",
    "SANDBOX_TOKEN",
    "ApiError",
    "Application",
    "CallbackType",
    "Channel",
    "CloseCode",
    "CommandLimits",
    "EventKind",
    "EventLog",
    "Fault",
    "FaultInjector",
    "GatewayHub",
    "GatewaySession",
    "Guild",
    "InteractionError",
    "InteractionHandle",
    "InteractionResponse",
    "InteractionType",
    "Limit",
    "Member",
    "Membership",
    "Message",
    "Op",
    "PermissionOverwrite",
    "RateLimiter",
    "RestApi",
    "Role",
    "RoutePattern",
    "Sandbox",
    "SandboxEvent",
    "SnowflakeGenerator",
    "User",
    "World",
    "WorldError",
    "create_guild",
    "demo_world",
    "load_world",
    "snowflake_time",
    "world_from_dict",
]
