"""The market messages: what parties send to the register (inbound) and what the outbox sends them.

Rules:
- every message names its ``type`` and schema ``version`` (now 1); one JSON Schema per message type and
  version lives in ``market/schemas/v<version>/<type>.json``, generated from these models
  (:func:`json_schemas`) and checked to be current by a test;
- an inbound message is refused as a whole when it does not follow its schema: an unknown field, a
  missing one, a date that does not exist, an EAN-18 or GLN-13 with a wrong GS1 check digit, a
  timestamp without offset (:func:`parse_inbound` raises :class:`MalformedMessageError` saying why);
- ``message_id`` identifies a message for idempotency: the same id again is answered with the first
  answer, never processed twice;
- an index maps a register (``<channel>/<tariff>``, e.g. ``offtake/day``) to its cumulative value in Wh
  (dm³ for gas), the unit of the meter-data store.
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache, lru_cache
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from kwartier.domain.ean import check_digit, validate_ean
from kwartier.market.codes import Action, ProcessKind, ProcessState, RejectionCode
from kwartier.registry.codes import InstallationKind, MeterKind, Regime

VERSION: Final = 1
SCHEMAS_DIR: Final = Path(__file__).parent / "schemas"


@lru_cache(maxsize=4096)  # a market has few parties, each named in many messages
def _gln(code: str) -> str:
    """A GLN-13 party code with a correct GS1 check digit (same rule as the EAN, see domain.ean)."""
    if check_digit(code[:-1]) != int(code[-1]):
        raise ValueError(f"{code!r}: GLN check digit is {code[-1]}, GS1 gives {check_digit(code[:-1])}")
    return code


Ean = Annotated[str, StringConstraints(pattern=r"^[0-9]{18}$"), AfterValidator(validate_ean)]
KnownEan = Annotated[str, StringConstraints(pattern=r"^[0-9]{18}$")]
Gln = Annotated[str, StringConstraints(pattern=r"^[0-9]{13}$"), AfterValidator(_gln)]
MessageId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/-]{1,80}$")]
OutboundId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/-]{1,160}$")]
CustomerRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
RegisterName = Annotated[str, StringConstraints(pattern=r"^[a-z_]+/[a-z_]+$")]
MAX_INDEX: Final = 2**53 - 1
"""The largest register index a message may carry: the largest integer every JSON reader keeps exactly
(RFC 8259 §6), and far beyond any meter's register (a 9-digit kWh register with three decimals, in Wh:
10^12). A larger number is malformed, not stored."""
Index: TypeAlias = Annotated[
    dict[RegisterName, Annotated[int, Field(ge=0, le=MAX_INDEX)]], Field(min_length=1)
]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    message_id: MessageId


class InboundBase(_Message):
    sender: Gln
    received_at: AwareDatetime
    ean: Ean


class SwitchRequest(InboundBase):
    """A supplier asks to supply the access point's grid user from ``effective_date`` on, with the
    customer's consent of ``consent_date`` (seed 000 §3.1, no retroactive switch)."""

    type: Literal["switch_request"]
    customer: CustomerRef
    consent_date: date
    effective_date: date
    brp: Gln


class MoveIn(InboundBase):
    """A supplier reports that ``customer`` occupies the access point from ``move_date`` on (seed 000 §4.5).

    ``index`` is used only when the meter is not read remotely; a digital meter's reading always wins."""

    type: Literal["move_in"]
    customer: CustomerRef
    move_date: date
    brp: Gln
    index: Index | None = None


class MoveOut(InboundBase):
    """The supplier of ``customer`` reports that the customer leaves on ``move_date`` ("initiate leaving
    customer", seed 000 §4.5)."""

    type: Literal["move_out"]
    customer: CustomerRef
    move_date: date
    index: Index | None = None


class EndOfSupply(InboundBase):
    """The supplier ends supply on ``end_date`` with no successor: the access point is deactivated on that
    day unless a switch or move-in comes first (seed 000 §4.5)."""

    type: Literal["end_of_supply"]
    end_date: date


class RegimeChangeRequest(InboundBase):
    """The supplier asks measurement regime ``regime`` from ``effective_date`` on; ``requested_by`` says
    whose wish it is (seed 002: a customer's request for SMR3 cannot be refused)."""

    type: Literal["regime_change_request"]
    regime: Regime
    effective_date: date
    requested_by: Literal["customer", "supplier"]


class ProductionRegistration(InboundBase):
    """The DSO registers a production installation notified to it on ``notified_on`` (seed 000 §4.3)."""

    type: Literal["production_registration"]
    kind: InstallationKind
    kva: Annotated[float, Field(gt=0, le=10_000)]
    commissioned_on: date
    notified_on: date


class MeterExchange(InboundBase):
    """The DSO replaced meter ``old_serial`` by ``new_serial`` on ``exchange_date``, with the closing index
    of the old and the opening index of the new meter."""

    type: Literal["meter_exchange"]
    exchange_date: date
    old_serial: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    closing_index: Index
    new_serial: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    new_kind: MeterKind
    opening_index: Index


class CancelProcess(InboundBase):
    """The sender of a pending process withdraws it before its effective date."""

    type: Literal["cancel"]
    process_id: MessageId


class ResolveProcess(InboundBase):
    """The DSO's market-operations team takes ``action`` on a process that needs attention."""

    type: Literal["resolve"]
    process_id: MessageId
    action: Action
    index: Index | None = None


Inbound: TypeAlias = Annotated[
    SwitchRequest
    | MoveIn
    | MoveOut
    | EndOfSupply
    | RegimeChangeRequest
    | ProductionRegistration
    | MeterExchange
    | CancelProcess
    | ResolveProcess,
    Field(discriminator="type"),
]
INBOUND: Final[TypeAdapter[Inbound]] = TypeAdapter(Inbound)


class OutboundBase(_Message):
    message_id: OutboundId
    recipient: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    created_at: AwareDatetime
    ean: KnownEan | None  # taken from a validated inbound message
    process_id: OutboundId | None


class Rejection(OutboundBase):
    """Message ``ref_message_id`` was rejected: nothing changed."""

    type: Literal["rejection"] = "rejection"
    ref_message_id: OutboundId
    code: RejectionCode
    text: str


class Confirmation(OutboundBase):
    """Message ``ref_message_id`` was accepted: process ``process_id`` is in ``state``."""

    type: Literal["confirmation"] = "confirmation"
    ref_message_id: MessageId
    kind: ProcessKind
    state: ProcessState
    effective_date: date


class SupplyStarted(OutboundBase):
    """The recipient supplies ``customer`` on the access point from ``start_date`` on."""

    type: Literal["supply_started"] = "supply_started"
    reason: ProcessKind
    start_date: date
    customer: CustomerRef
    brp: Gln


class SupplyEnded(OutboundBase):
    """The recipient's supply on the access point ends before ``end_date``."""

    type: Literal["supply_ended"] = "supply_ended"
    reason: ProcessKind
    end_date: date


class HandoverIndex(OutboundBase):
    """The index of meter ``meter_serial`` at 00:00 (Europe/Brussels) of ``index_date``, from which each
    party bills."""

    type: Literal["handover_index"] = "handover_index"
    index_date: date
    meter_serial: str
    index: Index
    source: Literal["remote_reading", "message", "entered"]


class RegisterChanged(OutboundBase):
    """An attribute of the access register changes from ``valid_from`` on (null ``value``: ends)."""

    type: Literal["register_changed"] = "register_changed"
    attribute: str
    value: Any
    valid_from: date
    lead_time_days: int | None = None


class DeactivationOrder(OutboundBase):
    """The head-end deactivates the digital meter remotely at 00:00 of ``deactivation_date``."""

    type: Literal["deactivation_order"] = "deactivation_order"
    deactivation_date: date
    meter_serial: str


class AttentionNeeded(OutboundBase):
    """Process ``process_id`` needs attention: ``reason``, the ``actions`` possible, by ``deadline``."""

    type: Literal["attention_needed"] = "attention_needed"
    reason: str
    actions: list[Action]
    deadline: AwareDatetime


class SharingTotals(BaseModel):
    """One tariff period of a participant's monthly sharing result [Wh] (docs/sharing.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tariff: Literal["day", "night"]
    offtake_wh: NonNegativeInt
    injection_wh: NonNegativeInt
    shared_wh: NonNegativeInt
    net_offtake_wh: NonNegativeInt
    net_injection_wh: NonNegativeInt
    given_wh: NonNegativeInt  # injection taken by the other participants (P2P seller: sold)
    estimated_quarters: NonNegativeInt
    missing_quarters: NonNegativeInt


class SharingResult(OutboundBase):
    """The energy-sharing result of access point ``ean`` in group ``group`` for the local calendar month
    ``month``, settled on the data as known at ``as_of`` (issue 5: to the participants' suppliers and the
    group manager through this outbox). A later run of the same month sends a new message."""

    type: Literal["sharing_result"] = "sharing_result"
    group: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    month: date
    as_of: AwareDatetime
    periods: Annotated[list[SharingTotals], Field(min_length=1)]


Outbound: TypeAlias = (
    Rejection
    | Confirmation
    | SupplyStarted
    | SupplyEnded
    | HandoverIndex
    | RegisterChanged
    | DeactivationOrder
    | AttentionNeeded
    | SharingResult
)

INBOUND_TYPES: Final[tuple[type[InboundBase], ...]] = (
    SwitchRequest,
    MoveIn,
    MoveOut,
    EndOfSupply,
    RegimeChangeRequest,
    ProductionRegistration,
    MeterExchange,
    CancelProcess,
    ResolveProcess,
)
OUTBOUND_TYPES: Final[tuple[type[OutboundBase], ...]] = (
    Rejection,
    Confirmation,
    SupplyStarted,
    SupplyEnded,
    HandoverIndex,
    RegisterChanged,
    DeactivationOrder,
    AttentionNeeded,
    SharingResult,
)


class MalformedMessageError(ValueError):
    """An inbound message that does not follow its schema; the text names the fields and why."""


def parse_inbound(document: object) -> Inbound:
    """The inbound message ``document`` (parsed JSON), or :class:`MalformedMessageError`."""
    try:
        return INBOUND.validate_python(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or '(message)'}: {problem['msg']}"
            for problem in error.errors(include_url=False)
        )
        raise MalformedMessageError(problems) from None


def parse_inbound_json(text: str) -> Inbound:
    """The inbound message in JSON ``text``, or :class:`MalformedMessageError` (bad JSON included)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise MalformedMessageError(f"not JSON: {error}") from None
    return parse_inbound(document)


@cache
def message_type(model: type[BaseModel]) -> str:
    """The ``type`` tag of a message model."""
    field = model.model_fields["type"]
    annotation = field.annotation
    return str(annotation.__args__[0]) if annotation is not None else ""


def json_schemas() -> dict[str, dict[str, Any]]:
    """One JSON Schema per message type of the current version, keyed by ``v<version>/<type>.json``."""
    schemas: dict[str, dict[str, Any]] = {}
    for model in (*INBOUND_TYPES, *OUTBOUND_TYPES):
        name = message_type(model)
        schema = model.model_json_schema()
        schema["$id"] = f"https://kwartier.example/market/v{VERSION}/{name}.json"
        schemas[f"v{VERSION}/{name}.json"] = schema
    return schemas


def write_json_schemas(directory: Path = SCHEMAS_DIR) -> list[Path]:
    """Write :func:`json_schemas` under ``directory``; return the paths written."""
    paths = []
    for relative, schema in json_schemas().items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        paths.append(path)
    return paths
