"""Dutch texts of the fixed prompts the alert and call-back flows use, by key.

The prompts package (`prompts.ivr_prompts.IVR_PROMPTS`) is the owner of IVR texts and audio;
where it defines a key, its text wins (see `ivr.flow.ivr_prompt_texts`). These texts keep the
flows complete and speakable when a key is not (yet) there.
"""
from __future__ import annotations

FLOW_PROMPTS: dict[str, str] = {
    # alert flow
    "alert_menu": (
        "Toets 1 om het bericht nogmaals te horen. "
        "Toets 2 om nu doorverbonden te worden met de meldkamer. "
        "Toets 3 als u gaat uitkijken. "
        "Toets 9 als u geen oproepen van Burgernet meer wilt ontvangen."
    ),
    "invalid_choice": "Deze keuze is niet geldig.",
    "no_input": "Wij hebben geen keuze ontvangen.",
    "alert_acknowledged": "Dank u wel dat u uitkijkt. Tot ziens.",
    "transfer_connecting": "U wordt nu doorverbonden met de meldkamer. Een ogenblik geduld.",
    "transfer_failed": (
        "De meldkamer is op dit moment niet bereikbaar. Ziet u iets, bel dan het gratis "
        "Burgernet-nummer uit het bericht. Bij spoed belt u 1 1 2."
    ),
    "opt_out_confirm": (
        "U wilt geen oproepen van Burgernet meer ontvangen. Toets 1 om dit te bevestigen. "
        "Toets 2 om terug te gaan naar het menu."
    ),
    "opt_out_done": (
        "U ontvangt geen oproepen van Burgernet meer. Bedankt voor uw deelname. Tot ziens."
    ),
    "goodbye": "Dank u wel voor uw hulp. Tot ziens.",
    # call-back flow
    "callback_welcome": "Welkom bij Burgernet.",
    "callback_no_action": (
        "Er is op dit moment geen Burgernet-actie actief. Bij spoed belt u 1 1 2."
    ),
    "callback_offer_control_room": (
        "Toets 1 als u toch met de meldkamer wilt spreken. Hang anders op."
    ),
    "callback_one_action": "U belt over de volgende Burgernet-actie.",
    "callback_choose_action": "Er zijn meerdere Burgernet-acties actief.",
    "callback_record": (
        "Spreek na de piep uw waarneming in. Zeg wat u zag, waar en wanneer. "
        "Toets een hekje of zwijg als u klaar bent."
    ),
    "callback_thanks": "Dank u wel. Uw melding is opgeslagen.",
    "callback_transfer": "U wordt nu doorverbonden met de meldkamer. Een ogenblik geduld.",
    "callback_transfer_failed": (
        "De meldkamer is op dit moment niet bereikbaar. Uw melding is opgeslagen en "
        "wordt zo snel mogelijk bekeken. Bij spoed belt u 1 1 2. Tot ziens."
    ),
}
