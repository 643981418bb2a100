"""Code lists and deadlines of the supply market (seed 000 §3.1, §4.2, §4.5; seed 002).

The deadlines are the rules the seeds leave open; ``docs/market.md`` says why each value was chosen.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Final


class ProcessKind(StrEnum):
    """The market processes that change the access register."""

    SWITCH = "switch"
    MOVE_IN = "move_in"
    MOVE_OUT = "move_out"
    END_OF_SUPPLY = "end_of_supply"
    REGIME_CHANGE = "regime_change"
    PRODUCTION = "production"
    METER_EXCHANGE = "meter_exchange"


class ProcessState(StrEnum):
    """The states of a market process (see :data:`kwartier.market.processes.TRANSITIONS`)."""

    PENDING = "pending"  # accepted, waiting for its effective date
    AWAITING_INDEX = "awaiting_index"  # register changed, waiting for the meter's remote reading
    NOTICE = "notice"  # end of supply: the notice period before deactivation runs
    NEEDS_ATTENTION = "needs_attention"  # a step failed or a deadline passed: in the work queue
    COMPLETED = "completed"
    CANCELLED = "cancelled"


OPEN_STATES: Final = frozenset(
    {ProcessState.PENDING, ProcessState.AWAITING_INDEX, ProcessState.NOTICE, ProcessState.NEEDS_ATTENTION}
)


class Attribute(StrEnum):
    """What the access register says about an access point, each as a step function of the market day.

    A production installation is the attribute ``installation:<kind>:<commissioned_on>``; a handover
    index (meter reading handed to the market at a process date) is ``index:<date>``.
    """

    GRID_USER = "grid_user"
    SUPPLIER = "supplier"
    BRP = "brp"
    STATUS = "status"
    REGIME = "regime"
    METER = "meter"
    CAPACITY = "capacity"


INSTALLATION_PREFIX: Final = "installation:"
INDEX_PREFIX: Final = "index:"


class Status(StrEnum):
    """Status of an access point on a day; ``in_process`` is shown while a market process is open."""

    CONNECTED = "connected"
    DEACTIVATED = "deactivated"
    IN_PROCESS = "in_process"


class RejectionCode(StrEnum):
    """Why a message was rejected; :data:`REJECTION_TEXT` gives the default text."""

    MALFORMED = "malformed"
    DUPLICATE_MESSAGE_ID = "duplicate_message_id"
    UNKNOWN_SENDER = "unknown_sender"
    NOT_AUTHORISED = "not_authorised"
    UNKNOWN_EAN = "unknown_ean"
    UNKNOWN_BRP = "unknown_brp"
    OVERLAPPING_PROCESS = "overlapping_process"
    EFFECTIVE_DATE_IN_PAST = "effective_date_in_past"
    EFFECTIVE_DATE_TOO_FAR = "effective_date_too_far"
    CONSENT_AFTER_REQUEST = "consent_after_request"
    EFFECTIVE_BEFORE_CONSENT = "effective_before_consent"
    CUSTOMER_MISMATCH = "customer_mismatch"
    NOT_SUPPLIER = "not_supplier"
    ALREADY_SUPPLIER = "already_supplier"
    NO_GRID_USER = "no_grid_user"
    DEACTIVATED = "deactivated"
    DATE_BEFORE_LAST_READING = "date_before_last_reading"
    DATE_IN_FUTURE = "date_in_future"
    REGIME_UNCHANGED = "regime_unchanged"
    REGIME_NEEDS_DIGITAL_METER = "regime_needs_digital_meter"
    REGIME_CUSTOMER_CHOICE = "regime_customer_choice"
    METER_MISMATCH = "meter_mismatch"
    INSTALLATION_EXISTS = "installation_exists"
    UNKNOWN_PROCESS = "unknown_process"
    PROCESS_NOT_CANCELLABLE = "process_not_cancellable"
    ACTION_NOT_POSSIBLE = "action_not_possible"


REJECTION_TEXT: Final[dict[RejectionCode, str]] = {
    RejectionCode.MALFORMED: "the message does not follow its schema",
    RejectionCode.DUPLICATE_MESSAGE_ID: "this message id was already used for another message",
    RejectionCode.UNKNOWN_SENDER: "the sender is no market party known to the register",
    RejectionCode.NOT_AUTHORISED: "the sender does not hold the role this message needs",
    RejectionCode.UNKNOWN_EAN: "no access point with this EAN in the register",
    RejectionCode.UNKNOWN_BRP: "the balance responsible party is not known with that role",
    RejectionCode.OVERLAPPING_PROCESS: "another market process holds a reservation on this access point",
    RejectionCode.EFFECTIVE_DATE_IN_PAST: (
        "the effective date lies before the day of receipt (no retroactive change)"
    ),
    RejectionCode.EFFECTIVE_DATE_TOO_FAR: "the effective date lies too far ahead",
    RejectionCode.CONSENT_AFTER_REQUEST: "the customer's consent is dated after the request",
    RejectionCode.EFFECTIVE_BEFORE_CONSENT: "the effective date lies before the customer's consent",
    RejectionCode.CUSTOMER_MISMATCH: "the customer does not match the grid user in the register",
    RejectionCode.NOT_SUPPLIER: "the sender does not supply this access point on that date",
    RejectionCode.ALREADY_SUPPLIER: "the sender already supplies this access point on that date",
    RejectionCode.NO_GRID_USER: "the access point has no grid user on that date (a move-in is needed)",
    RejectionCode.DEACTIVATED: "the access point is deactivated on that date (a move-in reactivates it)",
    RejectionCode.DATE_BEFORE_LAST_READING: "the date lies before the last reading handed to the market",
    RejectionCode.DATE_IN_FUTURE: "field work cannot be reported for a future date",
    RejectionCode.REGIME_UNCHANGED: "the access point already has this measurement regime on that date",
    RejectionCode.REGIME_NEEDS_DIGITAL_METER: "measurement regime 3 needs a digital meter",
    RejectionCode.REGIME_CUSTOMER_CHOICE: (
        "the customer chose measurement regime 3; a supplier cannot undo it"
    ),
    RejectionCode.METER_MISMATCH: "the meter is not the one installed on that date",
    RejectionCode.INSTALLATION_EXISTS: "this installation is already in the register",
    RejectionCode.UNKNOWN_PROCESS: "no market process with this id on this access point",
    RejectionCode.PROCESS_NOT_CANCELLABLE: "only a pending process of the sender can be cancelled",
    RejectionCode.ACTION_NOT_POSSIBLE: "this action is not one the process offers in its state",
}


class AttentionReason(StrEnum):
    """Why a process needs attention (it is then in the work queue, never silently stuck)."""

    NO_REMOTE_READING = "no_remote_reading"  # no reading of the meter at the process date by the deadline
    INDEX_NEEDED = "index_needed"  # not a digital meter, and no index came with the message
    FIELD_DEACTIVATION = "field_deactivation"  # a classic meter cannot be deactivated remotely
    DEADLINE_PASSED = "deadline_passed"  # still not done at its reservation's deadline


class Action(StrEnum):
    """What the market-operations team can do with a process that needs attention."""

    RETRY_READING = "retry_reading"
    ENTER_INDEX = "enter_index"
    DEACTIVATED_IN_FIELD = "deactivated_in_field"
    CANCEL = "cancel"


ACTIONS: Final[dict[AttentionReason, tuple[Action, ...]]] = {
    AttentionReason.NO_REMOTE_READING: (Action.RETRY_READING, Action.ENTER_INDEX),
    AttentionReason.INDEX_NEEDED: (Action.ENTER_INDEX,),
    AttentionReason.FIELD_DEACTIVATION: (Action.DEACTIVATED_IN_FIELD, Action.CANCEL),
    AttentionReason.DEADLINE_PASSED: (Action.RETRY_READING, Action.ENTER_INDEX),
}

DSO_QUEUE: Final = "dso:market-operations"
"""Owner of an escalated reservation: the DSO's market-operations work queue."""
HEAD_END: Final = "dso:head-end"
"""Recipient of remote (de)activation orders for digital meters."""

READING_GRACE: Final = timedelta(days=3)
"""How long a process waits for the remote reading of its date: the D+3 timeliness of seed 000 §6.2.4."""
ESCALATION_PERIOD: Final = timedelta(days=5)
"""Deadline of an escalated reservation, renewed (one level up) each time it passes unresolved."""
LOCK_PERIOD_DAYS: Final = 10
"""A block counts from its 10th calendar day on (the lock period of seed 000 §4.2.1, footnote 22)."""
LONG_BLOCK_MONTHS: Final = 6
INFLOW_BLOCK_MONTHS: Final = 3
COMPENSATION_FROM_DAY: Final = 180
COMPENSATION_CENTS_PER_DAY: Final = 150
"""€1.50 per access point per day from day 180 of a block (seed 000 §4.2.3)."""
MAX_SWITCH_AHEAD_DAYS: Final = 90
"""A switch or regime change may be asked at most this many days ahead (a rule the seeds leave open)."""
NOTICE_DAYS: Final = 30
"""Notice period between the end of supply without successor and the remote deactivation."""
MAX_MOVE_BACK_DAYS: Final = 30
"""A move may be reported at most this many days after it happened (a rule the seeds leave open)."""
