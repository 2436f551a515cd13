"""The understanding stage: a message and the chat's context in, one immutable Interpretation out.

    interpretation.py  the Interpretation (kind, intent, relations, subject, language, parts, verdict)
    interpreter.py     the ordered, registered steps that build it
    questions.py       the question map (intents/questions.yml): which relation the words ask about
    names.py           names that read like ours but are someone else's ("Wayne Rooney", "Underworld 2")
    resolution.py      whom a question is about (a name, a pronoun, "the lead", the context, the film)
    language.py        which other language a message is in (lingua-language-detector)
    replies.py         the replies the stage settles by itself (map answers, false premises, languages)
"""
