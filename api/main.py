"""ASGI factory for uvicorn (`kezek serve` with several worker processes imports this)."""

from __future__ import annotations

import gc
import os

from starlette.applications import Starlette

from api.app import create_app
from api.container import build_container
from api.logging_setup import configure
from api.settings import Settings


def create() -> Starlette:
    settings = Settings()
    configure(settings.log_level)
    if not settings.database_url:
        raise SystemExit("KEZEK_DATABASE_URL is not set (kezek serve sets it before starting workers)")
    container = build_container(settings, settings.database_url)
    app = create_app(container, run_worker=os.environ.get("KEZEK_RUN_WORKER") == "1")
    tune_gc()
    return app


def tune_gc() -> None:
    """What start-up built (modules, the schema, the container) lives as long as the process: frozen, the
    collector no longer walks it on each full collection, which halved the collector's share of a status
    query's CPU (bench/README.md)."""
    gc.freeze()
