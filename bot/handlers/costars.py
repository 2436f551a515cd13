"""Who someone worked with in a film: the film's other cast (it.company, the co_stars step)."""
from __future__ import annotations

from ..answers import join_list
from ..knowledge import KnowledgeBase
from ..rendering import Renderer
from ..reply import Reply
from ..understanding.interpretation import Interpretation

MAX_FACTS = 8


def handle(it: Interpretation, kb: KnowledgeBase, out: Renderer) -> Reply:
    """ "In No Time To Die, Ana de Armas worked alongside Daniel Craig as James Bond"; when the facts name
    no one else in that film, it says so (the person may be its director: "which Transporter stars did
    he work with?" lists the Transporter cast)."""
    company = it.company
    assert company is not None
    person, film = kb.entities[company.person], kb.entities[company.film]
    cast = [f for r in company.relations for f in kb.facts_about(film.id, r)]
    others = [f for f in cast if f.object != person.id][:MAX_FACTS]
    if not others:
        return out.reply("utter_co_stars_none", "ask_cast", it.confidence, kind="unknown", entity=person.name,
                         film=film.name, entities=[person.id, film.id])
    answer = join_list([kb.name(f.object) + kb.as_role(f) for f in others])
    acted = any(f.object == person.id for f in cast)  # else they worked on it otherwise: its cast, plainly
    return out.reply("utter_co_stars" if acted else "utter_co_stars_crew", "ask_cast", max(it.confidence, 0.9), facts=others, entity=person.name,
                     film=film.name, answer=answer, according_to=kb.attribution(others[0]),
                     entities=[film.id, person.id, *(f.object for f in others)])
