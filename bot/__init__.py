"""A trivia chatbot that answers from a YAML knowledge base: one Brain, many fronts."""
__version__ = "0.1.0"
