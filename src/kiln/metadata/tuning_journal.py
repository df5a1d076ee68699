"""The journal of a tuning job's Optuna study, one ordered entry per row.

Optuna's journal storage replays these entries to rebuild a study, so a restarted server resumes
every tuning job exactly where it was. Entries are numbered from 0 per tuning job; the unique
(tuning job, number) pair makes a second writer fail instead of interleaving.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select

from kiln.metadata.database import Database
from kiln.metadata.tables import TuningJournalRow

__all__ = ["append_journal_entries", "list_journal_entries"]


def list_journal_entries(db: Database, tuning_job_id: int, *, from_seq: int = 0) -> list[dict[str, Any]]:
    """Entries numbered ``from_seq`` and up, in order."""
    with db.session() as session:
        rows = session.scalars(
            select(TuningJournalRow.entry)
            .where(TuningJournalRow.tuning_job_id == tuning_job_id, TuningJournalRow.seq >= from_seq)
            .order_by(TuningJournalRow.seq)
        )
        return list(rows)


def append_journal_entries(db: Database, tuning_job_id: int, entries: Sequence[dict[str, Any]]) -> None:
    if not entries:
        return
    with db.session() as session:
        last = session.scalar(
            select(func.max(TuningJournalRow.seq)).where(TuningJournalRow.tuning_job_id == tuning_job_id)
        )
        first = 0 if last is None else int(last) + 1
        session.execute(
            insert(TuningJournalRow),
            [
                {"tuning_job_id": tuning_job_id, "seq": first + i, "entry": entry}
                for i, entry in enumerate(entries)
            ],
        )
