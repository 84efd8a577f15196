"""Writing a simulation to files: JSON Lines batches, Personalize CSV, ground truth."""

import csv
import json
from pathlib import Path

from app.evaluation.dataset import write_personalize_csv
from app.simulation.batches import Shape, session_batches
from app.simulation.shopping import Simulation


def write_batches(simulation: Simulation, path: Path, shape: Shape) -> int:
    """One batch per line; returns how many were written."""
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for batch in session_batches(simulation, shape):
            handle.write(json.dumps(batch, separators=(",", ":")) + "\n")
            count += 1
    return count


def write_interactions_csv(simulation: Simulation, path: Path) -> int:
    rows = (
        (str(e.mpid), simulation.item_id(e), e.action, e.time_ms // 1000)
        for e in simulation.events
    )
    return write_personalize_csv(path, rows)


def write_ground_truth(simulation: Simulation, path: Path) -> int:
    """USER_ID, ITEM_ID, RANK: what each shopper would want next, best first."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["USER_ID", "ITEM_ID", "RANK"])
        for mpid, items in simulation.ground_truth.items():
            for rank, item in enumerate(items, start=1):
                writer.writerow([mpid, simulation.catalog.item_ids[item], rank])
                count += 1
    return count
