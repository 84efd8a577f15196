from sqlalchemy import select

from app.db import Database
from app.models import Job, JobStatus
from app.models.base import utcnow
from app.worker import queue


async def add_jobs(database: Database, kind: str, *keys: str, dead: bool = False):
    """Queue jobs; with `dead`, leave them dead as a refused job would be."""
    async with database.write() as session:
        await queue.enqueue(session, kind, keys)
    if not dead:
        return
    async with database.write() as session:
        live = select(Job).where(
            Job.kind == kind, Job.key.in_(keys), Job.status != JobStatus.dead
        )
        for job in await session.scalars(live):
            job.status = JobStatus.dead
            job.attempts = 8
            job.last_error = f"PermanentJobError: {kind} {job.key} refused"
            job.updated_at = utcnow()
