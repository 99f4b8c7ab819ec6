"""The contract layer: what may leave the source, checked before anything is synthesized.

- ``pii``: value detectors (email, phone, IBAN, cards, ...), pure functions.
- ``scan``: classify the columns of live tables and suggest ``meta.synthdb`` YAML.
- ``lint``: column lineage of compiled contract SQL against the classification.
- ``drift``: a lock file of the sources' columns, compared with the live database.
"""

CLASSES = ("direct_identifier", "quasi_identifier", "sensitive", "other")
POLICIES = ("drop", "mask", "generalize", "synthesize", "keep")
