"""Helpers for testing pgwarden features, pgwarden's own and third parties' alike.

:func:`check_feature_contract` runs the contract every feature must keep on a real database
(see ``docs/architecture.md``): apply, then an empty plan; every kind of object it owns,
dropped by hand, shows as drift and is repaired; and removing the declaration gives back the
schema exactly as it was.

:func:`standby_pair` starts a throwaway primary and streaming standby (reads on replicas).
"""

from pgwarden.testing._contract import ContractCase, check_feature_contract, schema_snapshot
from pgwarden.testing._standby import StandbyPair, standby_pair, until

__all__ = [
    "ContractCase",
    "StandbyPair",
    "check_feature_contract",
    "schema_snapshot",
    "standby_pair",
    "until",
]
