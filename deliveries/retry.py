"""Retry policy by result: a pure function from (result, earlier results, cause) to a delay.

Busy and unanswered calls are retried after configured delays; invalid numbers never; transient
failures (congestion, a refused originate) a few times; answering machines by policy: the
message is left after the beep (final) or the call is retried.
"""

from __future__ import annotations

from config.settings import DialerSettings
from db.models import DeliveryState

# Hangup causes that mean the number itself is wrong: never retried (Q.850 names and codes,
# the spellings Asterisk and Twilio use, and the originate-time checks of the dialer).
PERMANENT_CAUSES = frozenset(
    {
        "UNALLOCATED",
        "UNALLOCATED_NUMBER",
        "NO_ROUTE_DESTINATION",
        "INVALID_NUMBER_FORMAT",
        "NUMBER_CHANGED",
        "CALL_REJECTED",
        "INCOMPATIBLE_DESTINATION",
        "INVALID_NUMBER",
        "1",
        "3",
        "21",
        "22",
        "28",
        "88",
    }
)


# Set by the dialer itself: the call may have reached the phone, so it is never redialled.
OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
MESSAGE_INVALID = "MESSAGE_INVALID"  # the text could not be composed
NOT_RETRIED_CAUSES = PERMANENT_CAUSES | {OUTCOME_UNKNOWN, MESSAGE_INVALID}


def is_permanent_cause(cause: str | None) -> bool:
    return cause is not None and cause.strip().upper() in NOT_RETRIED_CAUSES


def retry_delay_s(
    result: DeliveryState, earlier_same_results: int, cause: str | None, policy: DialerSettings
) -> int | None:
    """Seconds until the next attempt, or None when this result is final.

    `earlier_same_results` counts earlier attempts of this delivery that ended the same way.
    """
    if result == DeliveryState.BUSY:
        delays = policy.busy_retry_delays_s
    elif result == DeliveryState.NO_ANSWER:
        delays = policy.no_answer_retry_delays_s
    elif result == DeliveryState.FAILED:
        if is_permanent_cause(cause):
            return None
        delays = policy.failed_retry_delays_s
    elif result == DeliveryState.MACHINE:
        if policy.machine_policy != "retry":
            return None
        delays = policy.machine_retry_delays_s
    else:
        return None
    if earlier_same_results < len(delays):
        return delays[earlier_same_results]
    return None
