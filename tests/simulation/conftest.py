import pytest

from app.simulation.latent import SimulationConfig
from app.simulation.shopping import Simulation, simulate

END_MS = 1_764_700_000_000


@pytest.fixture(scope="session")
def simulation() -> Simulation:
    return simulate(SimulationConfig(users=400, items=300, categories=10), END_MS)
