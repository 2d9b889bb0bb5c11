"""Training mode's trainer control: "Simuleer een terugbelactie" (dialer.simulated_callbacks).

A simulated participant phones the call-back line now about a running training action, through
the real call-back flow, saying the trainer's words or a sighting made from the description.
Only in training mode (elsewhere the route does not exist); login, CSRF and the audit trail as
every console form.
"""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from actions.errors import ActionError
from actions.request import clean_text
from db.models import Operator
from dialer.simulated_callbacks import TRAINER_CHOICES, trainer_callback
from web.auth import current_operator, login_required
from web.common import current_clock
from web.console.blueprint import bp
from web.console.common import action_or_404
from web.runtime import current_db, current_settings

MAX_WORDS_CHARS = 300
# What the trainer may ask the caller to do (dialer.simulated_callbacks.TRAINER_CHOICES), in Dutch.
CHOICE_LABELS = {
    "record": "spreekt een melding in",
    "transfer": "wil de centralist spreken (wordt doorverbonden)",
    "transfer_unanswered": "wil de centralist spreken, niemand neemt op (spreekt daarna in)",
    "hang_up": "hangt op voordat er iets is ingesproken",
}
assert set(CHOICE_LABELS) == set(TRAINER_CHOICES)

RESULT_TEXT = {
    "record": "De gesimuleerde beller heeft een melding ingesproken.",
    "transfer": "De gesimuleerde beller is doorverbonden met de meldkamer.",
    "transfer_unanswered": "De gesimuleerde beller kreeg geen gehoor en heeft een melding ingesproken.",
    "hang_up": "De gesimuleerde beller heeft opgehangen.",
}


@bp.post("/actions/<int:action_id>/training/callback")
@login_required
def simulate_callback(action_id: int):
    settings = current_settings()
    if not settings.training_mode:
        abort(404)  # outside training mode nothing is ever simulated
    operator = current_operator()
    back = url_for("console.action_page", action_id=action_id)
    errors: dict[str, str] = {}
    raw_words = request.form.get("text", "")
    words = clean_text(
        raw_words, label="Wat de beller zegt", max_chars=MAX_WORDS_CHARS, errors=errors, key="text"
    )
    choice = request.form.get("choice", "record")
    if choice not in TRAINER_CHOICES:
        errors["choice"] = "Kies wat de gesimuleerde beller doet."
    if errors:
        for message in errors.values():
            flash(message, "error")
        # the trainer's words come back in the form: nothing typed is lost
        return redirect(url_for("console.action_page", action_id=action_id, beller_tekst=raw_words[:2000]))
    with current_db().session() as s:
        action_or_404(s, action_id, operator)
        try:
            trainer = s.get(Operator, operator.id)
            trainer_callback(s, action_id, trainer, current_clock(), settings, choice=choice, text=words)
            s.commit()
        except ActionError as error:
            s.rollback()
            flash(error.user_message, "error")
            return redirect(back)
    flash(RESULT_TEXT[choice] + " Zie de meldingen.", "success")
    return redirect(back + "#meldingen")


@bp.context_processor
def _training_context() -> dict:
    return {"training_choices": CHOICE_LABELS}
