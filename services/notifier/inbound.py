"""What the notifier's HTTP endpoints accept, checked at the edge before anything acts on it.

Two gates, in this order, for `POST /interactions`:

1. `signature_ok`: the Ed25519 signature over timestamp + raw body, and a timestamp recent enough
   that a replay is refused. Any header that is malformed in any way (non-ASCII digits such as '²',
   a 4,301-digit number that `int()` refuses, a signature that is not 128 hex characters, bytes that
   are not UTF-8) is simply *not a valid signature*: 401, as Discord's routine probes must get.
2. `parse_interaction`: the signed body parsed straight from bytes into strict pydantic models
   (pydantic-core's JSON parser refuses nesting deeper than its recursion limit with a normal
   validation error, so a body nested 10,000 deep is a 400, not a RecursionError). A field of the
   wrong type (`data` a string, `member` a list, `roles` an int...) is a 400: Discord signed it, so it
   is a bug or a format change worth one log line, never a 500.

Only the fields CloudThrift reads are modelled; the rest of Discord's payload is ignored, so a new
field Discord adds tomorrow changes nothing. `POST /scan` bodies get the same treatment (`ScanBody`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

PING, MESSAGE_COMPONENT = 1, 3
_STAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: str.isdigit() also accepts '²' and '٣'
_SIGNATURE = re.compile(r"[0-9a-fA-F]{128}")

# Text Discord or a script sends us: bounded, without control characters (an ANSI escape in a name
# would reach a terminal through the logs). Lone surrogates ("\udc80" in JSON) are refused by the
# JSON parser itself: nothing downstream (botocore, SQS, the console) could encode them.
Snowflake = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,20}$")]
Text = Annotated[str, StringConstraints(max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")]
# An interaction's token: the credential of its follow-ups for 15 minutes. Secret (never in a repr or a
# log), bounded, and not otherwise shaped: its format is Discord's business, a click must not fail on it.
Token = Annotated[SecretStr, Field(min_length=1, max_length=4096)]


class _Strict(BaseModel):
    """No coercion ("1" is not 1), unknown fields ignored, immutable."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class User(_Strict):
    id: Snowflake
    username: Text | None = None
    global_name: Text | None = None


class Member(_Strict):
    user: User | None = None
    roles: list[Snowflake] = Field(default_factory=list, max_length=500)


class Button(_Strict):
    """A component of the clicked message: echoed back, greyed out, when the card is updated."""

    type: int
    style: int | None = None
    label: Text | None = None
    custom_id: Text | None = None
    url: Text | None = None
    disabled: bool | None = None


class Row(_Strict):
    type: int
    components: list[Button] = Field(default_factory=list, max_length=5)


class Message(_Strict):
    id: Snowflake | None = None
    components: list[Row] = Field(default_factory=list, max_length=5)


class ComponentData(_Strict):
    custom_id: Text
    component_type: int | None = None


class Ping(_Strict):
    type: Literal[1]


class Click(_Strict):
    """A MESSAGE_COMPONENT interaction: someone pressed a button on a card."""

    type: Literal[3]
    data: ComponentData
    id: Snowflake | None = None
    application_id: Snowflake | None = None
    token: Token | None = None  # edits the card after a deferred answer (services/notifier/followup.py)
    member: Member | None = None
    user: User | None = None  # in a DM, instead of member
    message: Message | None = None

    @property
    def clicker(self) -> User | None:
        """The user (from member.user in a guild, user in a DM)."""
        return (self.member.user if self.member else None) or self.user

    @property
    def roles(self) -> list[str]:
        return list(self.member.roles) if self.member else []

    def rows(self) -> list[dict[str, Any]]:
        """The clicked message's buttons as Discord wants them back (empty when not sent)."""
        if self.message is None:
            return []
        return [row.model_dump(exclude_none=True) for row in self.message.components]


Interaction = Annotated[Ping | Click, Field(discriminator="type")]
_INTERACTION: TypeAdapter[Ping | Click] = TypeAdapter(Interaction)


def signature_ok(verify_key: VerifyKey | None, headers: Mapping[str, str], body: bytes, max_age: int) -> bool:
    """Ed25519 over timestamp + raw body, with a timestamp within `max_age` seconds of now.

    Never raises: every malformed header is a failed check (the caller answers 401).
    """
    signature = headers.get("X-Signature-Ed25519", "")
    stamp = headers.get("X-Signature-Timestamp", "")
    if verify_key is None or not _SIGNATURE.fullmatch(signature) or not _STAMP.fullmatch(stamp):
        return False
    if abs(time.time() - int(stamp)) > max_age:
        return False
    try:
        verify_key.verify(stamp.encode() + body, bytes.fromhex(signature))
    except BadSignatureError:
        return False
    return True


def parse_interaction(body: bytes) -> Ping | Click | str:
    """The interaction, or a short reason it is not one CloudThrift handles (the caller answers 400)."""
    try:
        return _INTERACTION.validate_json(body)
    except ValidationError as exc:
        return short_reason(exc)


def short_reason(exc: ValidationError) -> str:
    """The first problem pydantic found, in one short line (no input values: they may be huge)."""
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}"[:200] + more


# --- POST /scan --------------------------------------------------------------------------------

Region = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")]
Kind = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]


class ScanBody(_Strict):
    """What a scan request over HTTP may ask for; the shapes only (ScanRequested checks the rest)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    regions: list[Region] = Field(default_factory=list, max_length=40)
    kinds: list[Kind] = Field(default_factory=list, max_length=20)
    account_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")] | None = None
    role_arn: Annotated[str, StringConstraints(max_length=2048)] | None = None
    requested_by: Text | None = None


def parse_scan(body: bytes) -> ScanBody | str:
    """The scan request (an empty body asks for the default scan), or a short reason it is refused."""
    if not body.strip():
        return ScanBody()
    try:
        return ScanBody.model_validate_json(body)
    except ValidationError as exc:
        return short_reason(exc)
