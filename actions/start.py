"""Starting an action: the one function the console, the JSON API and `burgernet action start`
all call, so every door enforces the same rules.

In order: the action is a draft; the circle still holds participants and, when the centralist
confirmed a number, still that number; the Burgernet norms were confirmed with the draft; above
the configured radius or number of recipients a supervisor of the control room confirms. Then
the texts are frozen and the wave is planned (actions.wave, one commit).

`override=True` is for scripted drills only (the CLI's `--override`): it skips the norms and
the supervisor rule, and says so in the audit trail (`action.rules_overridden`, with what it
skipped) before anything is sent.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from actions.errors import ActionError, NormsNotMet, RecipientsChanged
from actions.norms import confirmed_norms, missing_norms, norms_message
from actions.preview import Preview, preview_action
from actions.request import request_from_action
from actions.supervisor import confirming_supervisor
from actions.wave import launch_wave
from config.clock import Clock
from config.logging import log_event
from config.settings import Settings
from db.audit import record_audit
from db.models import Action, ActionStatus, Operator

logger = logging.getLogger(__name__)


def start_action(
    session: Session,
    action: Action,
    operator: Operator | None,
    clock: Clock,
    settings: Settings,
    *,
    expected_total: int | None = None,
    supervisor: Operator | None = None,
    override: bool = False,
    ip: str | None = None,
) -> Preview:
    """Start a draft under the Burgernet rules; returns the preview it was started on.

    Raises ActionError (or one of its kinds: NormsNotMet, SupervisorRequired, RecipientsChanged)
    or InvalidActionRequest, each with a Dutch `user_message`, and then changes nothing the
    caller need keep: roll the session back. On success the session is committed (the wave
    exists completely or not at all), so pass a plain session, not `Database.transaction()`.
    """
    if action.status != ActionStatus.DRAFT:
        raise ActionError(
            f"action {action.id} is {action.status.value}, not a draft",
            "Deze actie is al gestart of beëindigd.",
        )
    operator = session.get(Operator, operator.id) if operator is not None else None
    current = preview_action(
        session, request_from_action(action), action.control_room_id, clock.now(), settings
    )
    if current.total == 0:
        raise ActionError(
            "no recipients in the circle",
            "Er zijn geen deelnemers binnen de cirkel. Vergroot de straal of kies een ander kanaal.",
        )
    if expected_total is not None and expected_total != current.total:
        raise RecipientsChanged(
            f"recipient count changed from {expected_total} to {current.total}",
            f"Het aantal ontvangers is intussen veranderd ({expected_total} → {current.total}). "
            "Controleer de aantallen en bevestig opnieuw.",
        )
    missing = missing_norms(current.request.incident_type, confirmed_norms(action))
    if override:
        record_audit(
            session,
            "action.rules_overridden",
            operator=operator,
            target_type="action",
            target_id=action.id,
            ip=ip,
            missing_norms=missing,
            supervisor_required=current.needs_supervisor,
            total=current.total,
            radius_m=action.radius_m,
        )
        log_event(
            logger,
            "action.rules_overridden",
            action_id=action.id,
            missing_norms=missing,
            supervisor_required=current.needs_supervisor,
            level=logging.WARNING,
        )
    else:
        if missing:
            raise NormsNotMet(f"norms not confirmed: {', '.join(missing)}", norms_message(missing))
        if current.needs_supervisor:
            confirmer = confirming_supervisor(operator, supervisor, action.control_room_id)
            action.supervisor_confirmed_by_id = confirmer.id
            record_audit(
                session,
                "action.supervisor_confirmed",
                operator=confirmer,
                target_type="action",
                target_id=action.id,
                ip=ip,
                total=current.total,
                radius_m=action.radius_m,
            )
    launch_wave(session, action, operator, clock, settings)
    return current
