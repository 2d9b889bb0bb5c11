"""The supervisor rule: above the configured radius or number of recipients, an action starts
only when a supervisor of its control room confirms it (the operator themself when they are one).
"""

from __future__ import annotations

from actions.errors import SupervisorRequired
from db.models import Operator, Role


def needs_supervisor(radius_m: int, recipients: int, *, max_radius_m: int, max_recipients: int) -> bool:
    """Above either configured limit an action needs a supervisor's confirmation."""
    return radius_m > max_radius_m or recipients > max_recipients


def is_supervisor(operator: Operator | None) -> bool:
    return (
        operator is not None
        and operator.active is not False
        and Role(operator.role).includes(Role.SUPERVISOR)
    )


def confirming_supervisor(
    operator: Operator | None, supervisor: Operator | None, control_room_id: int
) -> Operator:
    """Who confirms an oversized action of `control_room_id`: the starting operator when they
    have the role, else `supervisor` (who authenticated on the spot, or was named on the CLI).

    Raises SupervisorRequired with the Dutch reason otherwise."""
    if is_supervisor(operator) and operator is not None and operator.control_room_id == control_room_id:
        return operator
    if supervisor is None:
        raise SupervisorRequired(
            "supervisor confirmation required",
            "Deze actie is groter dan de grens: een supervisor moet bevestigen.",
        )
    if not is_supervisor(supervisor) or supervisor.control_room_id != control_room_id:
        raise SupervisorRequired(
            "confirming operator is not a supervisor of this control room",
            "Alleen een supervisor van deze meldkamer kan deze actie bevestigen.",
        )
    return supervisor
