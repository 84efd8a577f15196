"""Settings for a `recloop` command: checked, with logging configured."""

import click

from app.config import InvalidSettings, Settings, load_settings
from app.logging import configure_logging


def command_settings() -> Settings:
    """The environment's settings, or exit with a message naming what is wrong."""
    try:
        settings = load_settings()
    except InvalidSettings as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(settings.log_level, json=settings.json_logs)
    return settings
