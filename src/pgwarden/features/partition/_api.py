"""``warden.partitions``: partitioned tables at a glance, and converting a live table."""

from __future__ import annotations

from collections.abc import Callable

from pgwarden._names import QualifiedName
from pgwarden.features._base import FeatureAPI
from pgwarden.features.partition._convert import ConversionResult, convert
from pgwarden.features.partition._report import TableReport, report


class PartitionsAPI(FeatureAPI):
    """Partitioned tables of a :class:`~pgwarden.Warden`'s database: ``warden.partitions``."""

    attribute = "partitions"

    def report(self, table: str | None = None) -> list[TableReport]:
        """Partitioned tables (or ``table``): partitions, bounds, rows, sizes, gaps, rows
        in the default partition; tables pg_partman manages are flagged and left alone."""
        name = QualifiedName.parse(table) if table else None
        with self.warden.connect(autocommit=True) as conn:
            return report(conn, self.warden.spec, name)

    def convert(
        self,
        table: str,
        *,
        batch: int = 10_000,
        progress: Callable[[str, int, int | None], None] | None = None,
        dry_run: bool = False,
    ) -> ConversionResult:
        """Convert plain ``table`` to the partitioned table its ``partition`` declaration
        describes, while it stays writable; resumable (run it again after a crash). See
        ``docs/partitions.md``. ``dry_run`` returns the steps and checks, changing nothing."""
        with self.warden.connect(autocommit=True) as conn:
            return convert(
                conn,
                self.warden.spec,
                QualifiedName.parse(table),
                features=self.warden.features,
                batch=batch,
                progress=progress,
                dry_run=dry_run,
            )
