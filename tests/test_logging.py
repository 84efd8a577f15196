"""Structured logs: JSON in production, dotted events, no secrets."""

import json
import logging

import pytest
import structlog

from app.config import Settings
from app.logging import configure_logging
from app.main import create_app


@pytest.fixture
def restore_logging():
    yield
    structlog.reset_defaults()
    configure_logging("WARNING")


def test_json_logs_are_one_object_per_line(capsys, restore_logging) -> None:
    configure_logging("INFO", json=True)
    structlog.get_logger("app.test").info("ingest.batch_accepted", batches=1)

    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["event"] == "ingest.batch_accepted"
    assert record["batches"] == 1
    assert record["level"] == "info"
    assert "timestamp" in record


def test_standard_library_loggers_use_the_same_format(capsys, restore_logging):
    configure_logging("INFO", json=True)
    logging.getLogger("uvicorn.error").info("Started server process")
    record = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert record["event"] == "Started server process"


def test_starting_open_ingest_warns_and_logs_no_secret(capsys, restore_logging):
    create_app(
        Settings(
            _env_file=None,
            log_json=True,
            mparticle_api_key="mp-key-visible-nowhere",
            mparticle_api_secret="mp-secret-visible-nowhere",
        )
    )
    output = capsys.readouterr().err
    assert "config.ingest_open" in output
    assert "visible-nowhere" not in output
