"""The seed's learning and codebase-analysis modules, kept small: models and evolution runs
registered per organization; repositories and their analysis runs, with the quality trend."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb

from pgwarden.blueprints.workspace.services._core import Caller, Core, Row, one, rows


class Insights:
    def __init__(self, core: Core):
        self.core = core

    def register_model(
        self,
        caller: Caller,
        name: str,
        model_type: str,
        algorithm: str,
        *,
        accuracy: Decimal | float | None = None,
        target_modules: list[str] | None = None,
    ) -> Row:
        return self.core.run(
            caller,
            lambda db: one(
                db,
                "insert into workspace.learning_models (organization_id, name, model_type,"
                " algorithm, accuracy, target_modules) values (%s, %s, %s, %s, %s, %s)"
                " returning *",
                [
                    caller.organization_id,
                    name,
                    model_type,
                    algorithm,
                    accuracy,
                    target_modules or [],
                ],
            ),
        )

    def models(self, caller: Caller) -> list[Row]:
        return self.core.run(
            caller,
            lambda db: rows(db, "select * from workspace.learning_models order by model_id"),
        )

    def record_evaluation(
        self,
        caller: Caller,
        evaluation_type: str,
        *,
        population_size: int = 50,
        generations: int = 100,
        best_solution: dict[str, Any] | None = None,
    ) -> Row:
        return self.core.run(
            caller,
            lambda db: one(
                db,
                "insert into workspace.evaluations (organization_id, evaluation_type,"
                " population_size, generations, best_solution) values (%s, %s, %s, %s, %s)"
                " returning *",
                [
                    caller.organization_id,
                    evaluation_type,
                    population_size,
                    generations,
                    Jsonb(best_solution) if best_solution is not None else None,
                ],
            ),
        )

    def add_repository(self, caller: Caller, name: str, url: str = "") -> Row:
        return self.core.run(
            caller,
            lambda db: one(
                db,
                "insert into workspace.repositories (organization_id, name, url)"
                " values (%s, %s, %s) returning *",
                [caller.organization_id, name, url],
            ),
        )

    def record_analysis(
        self,
        caller: Caller,
        repository_id: int,
        commit_sha: str,
        *,
        quality_score: Decimal | float | None = None,
        summary: dict[str, Any] | None = None,
    ) -> Row:
        return self.core.run(
            caller,
            lambda db: one(
                db,
                "insert into workspace.analysis_runs (organization_id, repository_id,"
                " commit_sha, quality_score, summary) values (%s, %s, %s, %s, %s) returning *",
                [
                    caller.organization_id,
                    repository_id,
                    commit_sha,
                    quality_score,
                    Jsonb(summary or {}),
                ],
            ),
        )

    def quality_trend(self, caller: Caller, repository_id: int, *, last: int = 20) -> list[Row]:
        """The repository's latest analysis runs, oldest first, with the change in quality
        since the run before (the seed's historical comparison)."""
        return self.core.run(
            caller,
            lambda db: rows(
                db,
                "select run_id, commit_sha, quality_score, analyzed_at, quality_score -"
                " lag(quality_score) over (order by analyzed_at, run_id) as change from"
                " (select * from workspace.analysis_runs where repository_id = %s"
                " order by analyzed_at desc, run_id desc limit %s) r"
                " order by analyzed_at, run_id",
                [repository_id, max(1, min(last, 500))],
            ),
        )
