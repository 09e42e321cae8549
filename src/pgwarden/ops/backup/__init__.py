"""Backups that count only once restored.

Two engines write to a repository directory: ``builtin`` (PostgreSQL's ``pg_basebackup``,
``pg_receivewal``, ``pg_combinebackup``, ``pg_verifybackup``: only a replication connection
needed, no server restart) and ``pgbackrest``. On top of both, pgwarden keeps a catalog
(mirrored in ``warden.backups``), runs restore drills (:meth:`Backups.verify`), restores to a
point in time choosing the backup itself (:meth:`Backups.restore`) and prunes by
grandfather-father-son retention (:meth:`Backups.prune`). :func:`health` reads what status and
monitoring show: newest backup age, last verified age, WAL archive lag.
"""

from pgwarden.ops.backup._catalog import BackupFile, BackupRecord, Repository, Verification
from pgwarden.ops.backup._config import BackupSection, Encryption, Keep
from pgwarden.ops.backup._drill import DrillReport
from pgwarden.ops.backup._health import BackupHealth, health
from pgwarden.ops.backup._instance import Instance
from pgwarden.ops.backup._restore import Point, Restored
from pgwarden.ops.backup._retention import Decision, Item, plan_retention
from pgwarden.ops.backup._service import Backups, Pruned

__all__ = [
    "BackupFile",
    "BackupHealth",
    "BackupRecord",
    "BackupSection",
    "Backups",
    "Decision",
    "DrillReport",
    "Encryption",
    "Instance",
    "Item",
    "Keep",
    "Point",
    "Pruned",
    "Repository",
    "Restored",
    "Verification",
    "health",
    "plan_retention",
]
