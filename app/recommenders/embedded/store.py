"""Model snapshots in the database: save the newest, find it, load it, prune."""

from dataclasses import dataclass

from sqlalchemy import delete, select

from app.db import Database
from app.models import ModelSnapshot
from app.models.base import utcnow
from app.privacy import repository as privacy
from app.recommenders.embedded import snapshot
from app.recommenders.embedded.model import EmbeddedModel

# Older snapshots are deleted; one spare lets a replica still loading the
# previous one finish.
SNAPSHOTS_KEPT = 2


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    id: int
    trained_through_id: int
    interaction_count: int


async def save(
    database: Database,
    model: EmbeddedModel,
    trained_through_id: int,
    training_seconds: float,
    trained_by: str,
    erasures_before_training: int,
) -> SnapshotInfo | None:
    """Save the model, unless a user was erased since its data was read
    (`erasure_watermark` before training): then it is not saved, and None."""
    payload = snapshot.dump(model)
    row = ModelSnapshot(
        format_version=snapshot.FORMAT_VERSION,
        trained_through_id=trained_through_id,
        interaction_count=model.interaction_count,
        item_count=model.item_count,
        training_seconds=training_seconds,
        trained_by=trained_by[:128],
        created_at=utcnow(),
        payload=payload,
    )
    async with database.write() as session:
        if await privacy.erasure_watermark(session) != erasures_before_training:
            return None
        session.add(row)
        await session.flush()
        await _prune(session, row.id)
    return SnapshotInfo(row.id, trained_through_id, model.interaction_count)


async def erasure_watermark(database: Database) -> int:
    async with database.read() as session:
        return await privacy.erasure_watermark(session)


async def newest(database: Database) -> SnapshotInfo | None:
    """The newest readable snapshot's id and watermark, without its payload."""
    async with database.read() as session:
        row = (
            await session.execute(
                select(
                    ModelSnapshot.id,
                    ModelSnapshot.trained_through_id,
                    ModelSnapshot.interaction_count,
                )
                .where(ModelSnapshot.format_version == snapshot.FORMAT_VERSION)
                .order_by(ModelSnapshot.id.desc())
                .limit(1)
            )
        ).first()
    return SnapshotInfo(*row) if row is not None else None


async def load_payload(database: Database, snapshot_id: int) -> bytes | None:
    async with database.read() as session:
        return await session.scalar(
            select(ModelSnapshot.payload).where(ModelSnapshot.id == snapshot_id)
        )


async def _prune(session, newest_id: int) -> None:
    keep = (
        select(ModelSnapshot.id)
        .where(ModelSnapshot.id <= newest_id)
        .order_by(ModelSnapshot.id.desc())
        .limit(SNAPSHOTS_KEPT)
    )
    kept = list((await session.scalars(keep)).all())
    await session.execute(delete(ModelSnapshot).where(ModelSnapshot.id.not_in(kept)))
