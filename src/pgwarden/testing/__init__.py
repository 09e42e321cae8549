"""Helpers for testing pgwarden features, pgwarden's own and third parties' alike.

:func:`check_feature_contract` runs the contract every feature must keep on a real database
(see ``docs/architecture.md``): apply, then an empty plan; every kind of object it owns,
dropped by hand, shows as drift and is repaired; and removing the declaration gives back the
schema exactly as it was.
"""

from pgwarden.testing._contract import ContractCase, check_feature_contract, schema_snapshot

__all__ = ["ContractCase", "check_feature_contract", "schema_snapshot"]
