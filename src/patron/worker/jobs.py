"""Scheduled jobs: each runs once per program and period, whatever the number of workers.

A run claims its key `(program, job, period)` in `job_runs` and does its work in the same
transaction. On PostgreSQL a second worker's claim of the same key waits for the first
transaction and then finds the row: it skips. If the first one fails, its claim is rolled
back with its work, so the period is retried by the next run: never applied twice, never
lost. A worker that was down catches up on its next run, since each job acts on
everything due by then, not only on what fell due in the last period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from patron.db.insert_or_nothing import insert_or_nothing
from patron.db.tables import job_runs, programs
from patron.db.uow import UnitOfWork
from patron.domain.calendar import Period, period_key
from patron.domain.errors import NotFound
from patron.domain.program import Program
from patron.services import segments, tiers
from patron.worker import birthdays, campaigns, lots, memberships, referrals

JobStep = Callable[[UnitOfWork, Program, datetime, str], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    #: The period a run covers, in the program's time zone: one run per period.
    every: Period | None
    step: JobStep
    description: str


def _hour_key(at: datetime, program: Program) -> str:
    return at.astimezone(program.zone).strftime("%Y-%m-%dT%H")


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job("release", None, lots.release_pending, "pending points whose window ended"),
        Job("credit", None, lots.issue_store_credit, "scheduled store-credit issuance"),
        Job("referrals", None, referrals.run_referrals, "referral qualification and rewards"),
        Job("expire", Period.DAY, lots.expire_points, "points past their expiry"),
        Job("remind", Period.DAY, lots.remind_expiring, "points.expiring reminders"),
        Job("memberships", None, memberships.settle_subscriptions, "lapse and expire plans"),
        Job("membership_credits", None, memberships.give_credits, "monthly credits, dividends"),
        Job("tiers", Period.DAY, tiers.evaluate_due, "tier retention and downgrade"),
        Job("birthdays", Period.DAY, birthdays.award_birthdays, "birthday events and rewards"),
        Job("rfm", Period.DAY, segments.refresh_rfm, "RFM scores for segments"),
        Job("campaigns", Period.DAY, campaigns.grant_due, "campaign grants due"),
    )
}


@dataclass(frozen=True, slots=True)
class JobRun:
    job: str
    program: str
    period: str
    ran: bool
    result: dict[str, Any]


def register(job: Job) -> None:
    """Add a job (modules that own a feature register theirs, e.g. tiers)."""
    JOBS[job.name] = job


def run_job(engine: Engine, name: str, at: datetime) -> list[JobRun]:
    """Run job `name` as of `at` for every program; one transaction per program."""
    job = JOBS.get(name)
    if job is None:
        raise NotFound(f"no job {name!r}; jobs: {', '.join(sorted(JOBS))}", field="job")
    with UnitOfWork(engine, write=False) as uow:
        query = select(programs.c.id).order_by(programs.c.id)
        ids = [int(row[0]) for row in uow.connection.execute(query)]
    return [_run_for(engine, job, program_id, at) for program_id in ids]


def run_all(engine: Engine, at: datetime) -> list[JobRun]:
    """Every job, in dependency order (release before expiry before reminders)."""
    return [run for name in list(JOBS) for run in run_job(engine, name, at)]


def _run_for(engine: Engine, job: Job, program_id: int, at: datetime) -> JobRun:
    with UnitOfWork(engine) as uow:
        program = uow.programs.get(program_id)
        assert program is not None
        period = period_key(at, job.every, program.zone) if job.every else _hour_key(at, program)
        claim = insert_or_nothing(
            job_runs,
            ("tenant_id", "program_id", "job", "period", "started_at", "result"),
            ("program_id", "job", "period"),
            "id",
        )
        claimed = uow.connection.execute(
            claim,
            {
                "tenant_id": program.tenant_id,
                "program_id": program.id,
                "job": job.name,
                "period": period,
                "started_at": at,
                "result": {},
            },
        ).first()
        if claimed is None:
            return JobRun(job.name, program.code, period, False, {})
        reason = f"job {job.name} {period} run {claimed.id}"
        result = job.step(uow, program, at, reason)
        uow.connection.execute(
            job_runs.update().where(job_runs.c.id == claimed.id).values(result=result)
        )
        uow.commit()
        return JobRun(job.name, program.code, period, True, result)
