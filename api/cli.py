"""`kezek` command line (docs/api.md §4)."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from api.config_files import (
    ConfigFileError,
    load_channels,
    load_places,
    load_policy,
    load_sandbox,
)
from api.settings import Profile, Settings
from domain.model import Role


def _fail(message: str) -> None:
    print(f"kezek: {message}", file=sys.stderr)
    raise SystemExit(2)


def database_url(settings: Settings) -> str:
    """The configured URL; in development without one, the embedded server under KEZEK_DATA_DIR."""
    if settings.database_url:
        return settings.database_url
    if not settings.development:
        _fail("KEZEK_DATABASE_URL is required in the production profile")
    from api.embedded import ensure_database_sync, start_embedded

    server, url = start_embedded(settings.data_dir)
    _EMBEDDED.append(server)
    return ensure_database_sync(url, "kezek")


# The embedded server this process started; stopped when the command ends.
_EMBEDDED: list[Any] = []


def _stop_embedded() -> None:
    while _EMBEDDED:
        with contextlib.suppress(Exception):
            _EMBEDDED.pop().cleanup()


def check_files(settings: Settings) -> None:
    """A malformed file stops start-up, naming the file and the field (docs/api.md §2)."""
    try:
        channels = settings.resolved_channels_file()
        if channels:
            load_channels(channels)
        load_policy(settings.policy_file)
        if settings.places_file:
            load_places(settings.places_file)
        if settings.sandbox_file:
            load_sandbox(settings.sandbox_file)
    except ConfigFileError as exc:
        _fail(str(exc))


async def _import(url: str, places: Any = None, sandbox: Any = None) -> dict[str, Any]:
    from sqlalchemy.exc import IntegrityError

    from persistence.db import make_engine
    from persistence.importers import import_sandbox, upsert_places

    engine = make_engine(url, pool_size=1)
    counts: dict[str, Any] = {}
    try:
        async with engine.begin() as conn:
            if places is not None:
                counts["places"] = await upsert_places(conn, places)
            if sandbox is not None:
                counts["sandbox"] = await import_sandbox(conn, sandbox)
    except IntegrityError as exc:
        # Nothing was imported: the whole file is one transaction.
        _fail(f"import refused by the database, nothing imported: {exc.orig}")
    finally:
        await engine.dispose()
    return counts


def _schema_ready(settings: Settings, url: str) -> None:
    """Development migrates on its own; elsewhere an unmigrated database is a clear refusal."""
    from persistence.db import make_engine, migrate, ready

    if settings.development:
        migrate(settings.migration_database_url or url)
        return

    async def check() -> tuple[bool, str]:
        engine = make_engine(url, pool_size=1)
        try:
            return await ready(engine)
        finally:
            await engine.dispose()

    ok, reason = asyncio.run(check())
    if not ok:
        _fail(f"the database is not ready ({reason}); run `kezek migrate` first")


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> None:
    from persistence.db import migrate

    migrate(settings.migration_database_url or database_url(settings))
    print("migrated to head")


def cmd_import(settings: Settings, args: argparse.Namespace) -> None:
    try:
        url = database_url(settings)
        _schema_ready(settings, url)
        if args.kind == "places":
            counts = asyncio.run(_import(url, places=load_places(Path(args.file))))
        else:
            counts = asyncio.run(_import(url, sandbox=load_sandbox(Path(args.file))))
    except ConfigFileError as exc:
        _fail(str(exc))
    print(json.dumps(counts))


def cmd_seed(settings: Settings, args: argparse.Namespace) -> None:
    """Seeds an empty database with the demo; `--reset` (development only) drops and recreates it first."""
    if not args.demo:
        _fail("only `kezek seed --demo` exists")
    if args.reset and not settings.development:
        _fail("`kezek seed --demo --reset` drops the database: it runs in the development profile only")
    from api.seeding import seed_demo

    url = database_url(settings)
    if args.reset:
        from persistence.db import DatabaseInUse, database_name, recreate_unused_database

        try:
            asyncio.run(recreate_unused_database(url))
        except DatabaseInUse:
            _fail(f"database {database_name(url)} is in use: stop the server on it (`make run`) first")
    _schema_ready(settings, url)
    counts = asyncio.run(seed_demo(settings, url))
    if not counts["seeded"]:
        print(
            "kezek: the database holds data already: demo seeding left it as it is "
            "(`kezek seed --demo --reset` starts the demo afresh)",
            file=sys.stderr,
        )
    print(json.dumps(counts))


def _startup_imports(settings: Settings, url: str) -> None:
    places = load_places(settings.places_file) if settings.places_file else None
    sandbox = load_sandbox(settings.sandbox_file) if settings.sandbox_file else None
    if places is not None or sandbox is not None:
        asyncio.run(_import(url, places=places, sandbox=sandbox))


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from persistence.db import migrate

    check_files(settings)
    url = database_url(settings)
    if settings.development:
        migrate(settings.migration_database_url or url)
        if args.demo:
            cmd_seed(settings, argparse.Namespace(demo=True, reset=False))
    _startup_imports(settings, url)
    os.environ["KEZEK_DATABASE_URL"] = url
    os.environ["KEZEK_PROFILE"] = settings.profile.value
    os.environ["KEZEK_RUN_WORKER"] = "0" if args.no_worker else "1"
    # uvicorn re-raises the signal that stopped it once it has shut down; exiting through SystemExit
    # instead lets the embedded database stop with us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        "api.main:create",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        proxy_headers=False,
    )


def cmd_worker(settings: Settings, _: argparse.Namespace) -> None:
    from api.container import build_container
    from api.logging_setup import configure
    from api.worker import dispatch_allocations, run_forever

    check_files(settings)
    configure(settings.log_level)
    url = database_url(settings)

    async def main() -> None:
        container = build_container(settings, url)
        stop = asyncio.Event()
        try:
            await asyncio.gather(
                run_forever(container, settings.worker_interval, stop), dispatch_allocations(container, stop)
            )
        finally:
            await container.aclose()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def cmd_dev_token(settings: Settings, args: argparse.Namespace) -> None:
    """Prints a token only if the server would accept it; otherwise says why, on stderr, and exits 2."""
    from api.auth import Authenticator, Unauthenticated, mint

    configured = settings.resolved_channels_file()
    # Without a channels file of its own, the server that takes the token is a development one (`make run`).
    server = settings if configured else settings.model_copy(update={"profile": Profile.DEVELOPMENT})
    path = server.resolved_channels_file()
    assert path is not None
    channels = load_channels(path)
    channel = next((c for c in channels if c.id == args.channel), None)
    if channel is None:
        _fail(f"no channel {args.channel!r} in {path}")
    assert channel is not None
    try:
        role = Role(args.role.lower())
    except ValueError:
        _fail(f"unknown role {args.role!r}; one of {', '.join(r.value for r in Role)}")
        return
    try:
        token = mint(
            channel,
            role,
            args.sub,
            region=args.region,
            district=args.district,
            kindergarten=args.kindergarten,
        )
    except ValueError as exc:
        _fail(str(exc))
        return

    async def region_of(external_id: str) -> str | None:
        # A staff token of a channel limited to regions: its kindergarten is looked up as the server does.
        from persistence.pg import Pools
        from persistence.readers import Reader

        # Off the event loop: without a configured URL this starts the embedded server, which runs its own loop.
        pools = Pools(await asyncio.to_thread(database_url, server), size=1)
        try:
            return await Reader(pools).kindergarten_region(external_id)
        finally:
            await pools.close()

    authenticator = Authenticator(channels, allow_development=server.development, kindergarten_region=region_of)
    try:
        asyncio.run(authenticator.authenticate(f"Bearer {token}"))
    except Unauthenticated as exc:
        _fail(f"the server would refuse this token: {exc.reason.value} ({exc.args[0]})")
    except Exception as exc:  # the database that would tell the kindergarten's region did not answer
        _fail(f"cannot check the kindergarten {args.kindergarten!r} in the database ({exc}); is it migrated?")
    print(token)


def cmd_documents(settings: Settings, args: argparse.Namespace) -> None:
    """Registers an operation document for channels that accept only registered documents."""
    from graphql import GraphQLError, parse

    from persistence.db import make_engine
    from persistence.documents import TrustedDocuments

    path = Path(args.file)
    try:
        document = path.read_text(encoding="utf-8")
        parse(document)
    except OSError as exc:
        _fail(f"{path}: {exc.strerror}")
    except GraphQLError as exc:
        _fail(f"{path}: not a GraphQL document: {exc.message}")
    url = database_url(settings)

    async def add() -> str:
        engine = make_engine(url, pool_size=1)
        try:
            return await TrustedDocuments(engine).add(document, args.name or path.name)
        finally:
            await engine.dispose()

    print(asyncio.run(add()))


def cmd_export_schema(_: Settings, __: argparse.Namespace) -> None:
    from graph.schema import build_schema

    sys.stdout.write(build_schema(production=False).as_str() + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kezek", description="Kezek — the unified kindergarten queue")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API (and the background worker unless --no-worker)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-worker", action="store_true")
    serve.add_argument("--demo", action="store_true", help="development: seed the demo data into an empty database")
    serve.set_defaults(run=cmd_serve)
    sub.add_parser("worker", help="run the background worker").set_defaults(run=cmd_worker)
    sub.add_parser("migrate", help="migrate the database to head").set_defaults(run=cmd_migrate)
    seed = sub.add_parser("seed", help="load the demo data into an empty database")
    seed.add_argument("--demo", action="store_true")
    seed.add_argument(
        "--reset", action="store_true", help="development: drop and recreate the database first, then seed it"
    )
    seed.set_defaults(run=cmd_seed)
    imp = sub.add_parser("import", help="import a places or sandbox file")
    imp.add_argument("kind", choices=["places", "sandbox"])
    imp.add_argument("file")
    imp.set_defaults(run=cmd_import)
    tok = sub.add_parser("dev-token", help="mint a token with a development channel's key")
    tok.add_argument("--channel", required=True)
    tok.add_argument("--role", required=True)
    tok.add_argument("--sub", required=True)
    tok.add_argument("--region")
    tok.add_argument("--district")
    tok.add_argument("--kindergarten")
    tok.set_defaults(run=cmd_dev_token)
    docs = sub.add_parser("documents", help="trusted documents of bank apps")
    docs.add_argument("action", choices=["add"])
    docs.add_argument("file")
    docs.add_argument("--name")
    docs.set_defaults(run=cmd_documents)
    sub.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(run=cmd_export_schema)
    args = parser.parse_args(argv)
    atexit.register(_stop_embedded)
    try:
        settings = Settings()
    except Exception as exc:  # pydantic names the variable and the problem
        _fail(f"bad settings: {exc}")
        return
    args.run(settings, args)


if __name__ == "__main__":
    main()
