"""``[roles]``: the owner, app, read-only and admin roles pgwarden creates or adopts.

The model (``RolesSection``) is the contract other modules read: ``tenancy`` targets its
policies at ``app`` (and lets ``admin`` through), ``serve`` and the blueprints connect as
``app``. What the roles are granted, and how they are created, adopted and removed, lives in
this package's private modules.
"""

from pgwarden.roles._config import RoleSpec, RolesSection, declared_roles

__all__ = ["RoleSpec", "RolesSection", "declared_roles"]
