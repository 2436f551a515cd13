"""Parts that make several workers on one shared database one bot (issue #13)."""
