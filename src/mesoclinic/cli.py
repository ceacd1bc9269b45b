"""The operator's command line: serve, worker, demo, db upgrade, user create, audit verify, backup,
restore, analyze."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic import backup as backups
from mesoclinic import demo as demo_data
from mesoclinic.audit import service as audit
from mesoclinic.audit.service import SYSTEM_ACTOR
from mesoclinic.auth import service as auth
from mesoclinic.db import make_engine, make_session_factory, transaction
from mesoclinic.errors import ConfigurationError, MesoClinicError
from mesoclinic.migrations import upgrade_database
from mesoclinic.models import Clinic, Role
from mesoclinic.settings import get_settings

app = typer.Typer(help="MesoClinic operator commands.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")

P = ParamSpec("P")


@contextmanager
def _unit_of_work() -> Iterator[Session]:
    """One transaction on a short-lived engine, disposed afterwards."""
    engine = make_engine(get_settings().database_url)
    try:
        with transaction(make_session_factory(engine)) as db:
            yield db
    finally:
        engine.dispose()


def _operator_errors(command: Callable[P, None]) -> Callable[P, None]:
    """Unusable configuration (weak key in production, missing backup file…) is one clear line
    and exit status 2, not a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except ConfigurationError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from error

    return run


def _prepare_storage() -> None:
    settings = get_settings()
    for directory in (settings.var_dir, settings.media_path):
        # Owner-only: the SQLite file, the key and photos live here.
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory.chmod(0o700)
    settings.secret  # noqa: B018 - creates var/secret.key on first run, refuses weak keys in production


@db_app.command("upgrade")
@_operator_errors
def db_upgrade() -> None:
    """Apply all migrations."""
    _prepare_storage()
    upgrade_database(get_settings().database_url)
    typer.echo("database is up to date")


def _log_config() -> dict[str, Any]:
    """uvicorn's logging plus our own ``mesoclinic`` loggers (access lines without query strings)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["mesoclinic"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


@app.command()
@_operator_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int, typer.Option(help="Server processes")] = 1,
) -> None:
    """Migrate, then serve the web application and API."""
    import uvicorn

    settings = get_settings()
    _prepare_storage()
    upgrade_database(settings.database_url)
    uvicorn.run(
        "mesoclinic.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        proxy_headers=settings.trust_proxy_headers,
        log_level="info",
        log_config=_log_config(),
        access_log=False,  # uvicorn's line carries query strings (names, birth dates); ours does not
    )


@app.command()
@_operator_errors
def demo(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Seed only a database with no clinic")] = False,
) -> None:
    """Seed the demo clinic (refused in production) and print its logins."""
    settings = get_settings()
    if settings.production:
        typer.echo("refusing to seed demo data in production mode", err=True)
        raise typer.Exit(2)
    _prepare_storage()
    upgrade_database(settings.database_url)
    logins_file = settings.var_dir / "demo-logins.json"
    new_logins: list[demo_data.DemoLogin] = []
    with _unit_of_work() as db:
        seeded = demo_data.is_seeded(db)
        if seeded and not if_empty:
            typer.echo("the database already holds data; demo not seeded", err=True)
            raise typer.Exit(1)
        if not seeded:
            new_logins = demo_data.seed(db)
    if new_logins:  # written only once the accounts are committed
        demo_data.save_logins(logins_file, new_logins)
        typer.echo("seeded the demo clinic")
    logins = demo_data.load_logins(logins_file)
    typer.echo(f"\nDemo logins (also in {logins_file}):")
    for login in logins:
        typer.echo(f"  {login.role:<13} {login.email:<34} {login.password}   ({login.note})")
    typer.echo(f"\nOpen http://{settings.host}:{settings.port}/ and sign in.\n")


@user_app.command("create")
@_operator_errors
def user_create(
    email: Annotated[str, typer.Option(help="Login email")],
    name: Annotated[str, typer.Option(help="Full name")],
    role: Annotated[Role, typer.Option(help="admin, practitioner, receptionist or patient")],
    clinic: Annotated[list[str] | None, typer.Option(help="Clinic slug (repeat for several)")] = None,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Create a user account."""
    with _unit_of_work() as db:
        slugs = clinic or []
        clinics = {c.slug: c.id for c in db.scalars(select(Clinic).where(Clinic.slug.in_(slugs)))}
        if missing := sorted(set(slugs) - set(clinics)):
            typer.echo(f"unknown clinic slug(s): {', '.join(missing)}", err=True)
            raise typer.Exit(2)
        try:
            user = auth.create_user(
                db,
                SYSTEM_ACTOR,
                email=email,
                full_name=name,
                role=role,
                password=password,
                clinic_ids=list(clinics.values()),
            )
        except MesoClinicError as error:
            typer.echo(f"refused: {error.detail}", err=True)
            raise typer.Exit(2) from error
        typer.echo(f"created user {user.id} <{user.email}> as {role.value}")


@audit_app.command("verify")
@_operator_errors
def audit_verify() -> None:
    """Check the audit trail's hash chain; exit 1 and name the first tampered row if it is broken."""
    with _unit_of_work() as db:
        broken = audit.verify_chain(db)
        total = audit.count_events(db)
    if broken is not None:
        typer.echo(f"TAMPERED: audit row {broken.row_id}: {broken.reason}", err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {total} audit events, chain intact")


@app.command("backup")
@_operator_errors
def backup_command(
    destination: Annotated[Path, typer.Argument(help="File to write")],
) -> None:
    """Write a consistent backup of the database while the application runs."""
    written = backups.backup(get_settings().database_url, destination)
    typer.echo(f"backup written to {written}")


@app.command("restore")
@_operator_errors
def restore_command(
    source: Annotated[Path, typer.Argument(help="Backup file written by 'mesoclinic backup'")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm replacing the current data")] = False,
) -> None:
    """Replace the database with a backup. Stop the server first."""
    if not yes:
        typer.echo("restore replaces all current data; re-run with --yes to confirm", err=True)
        raise typer.Exit(2)
    backups.restore(get_settings().database_url, source)
    typer.echo(f"restored from {source}")


@app.command("worker")
@_operator_errors
def worker_command(
    once: Annotated[
        bool, typer.Option("--once", help="One pass (queue reminders, send a batch), then exit")
    ] = False,
) -> None:
    """Run the outbox worker: queue reminders and deliver due email and SMS until stopped."""
    import logging
    import signal
    import threading

    from mesoclinic.messaging import worker

    settings = get_settings()
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    try:
        if once:
            report = worker.run_once(factory, settings)
            queued = sum(len(job.queued) for job in report.jobs)
            typer.echo(
                f"queued {queued}, sent {len(report.sent)}, "
                f"retrying {len(report.retrying)}, failed {len(report.failed)}"
            )
            return
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())  # finish the current pass, then exit
        worker.run_forever(factory, settings, stop)
    finally:
        engine.dispose()


@app.command("analyze")
def analyze_command(
    photo: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JPEG, PNG or HEIC face photo")],
    before: Annotated[
        Path | None,
        typer.Option("--before", exists=True, dir_okay=False, help="Earlier photo to compare with"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    annotate: Annotated[
        Path | None,
        typer.Option("--annotate", dir_okay=False, help="Write the aligned photo with zones, lines, spots"),
    ] = None,
) -> None:
    """Measure a face photo per zone (landmarks, alignment, zones, skin metrics) and, with --before,
    compare it with an earlier one. Works on files only; the database is not touched."""
    import json

    from mesoclinic.imaging.commands import analyse_files

    try:
        report = analyse_files(photo, before, annotate)
    except MesoClinicError as error:
        typer.echo(f"refused: {error.detail} ({error.code})", err=True)
        raise typer.Exit(1) from error
    if as_json:
        typer.echo(json.dumps(report, sort_keys=True))
        return
    for zone, values in report["zones"].items():
        typer.echo(f"{zone}: " + ", ".join(f"{metric} {value:g}" for metric, value in values.items()))
    typer.echo(f"quality flags: {', '.join(report['quality']['flags']) or 'none'}")
    if "comparison" in report:
        comparison = report["comparison"]
        typer.echo(f"comparison reliable: {comparison['reliable']} {comparison['flags'] or ''}".rstrip())
        for zone, changes in comparison["zones"].items():
            called = [
                f"{metric} {c['verdict']}"
                for metric, c in changes.items()
                if c["verdict"] in ("improved", "worsened")
            ]
            if called:
                typer.echo(f"{zone}: " + ", ".join(called))


bench_app = typer.Typer(help="Benchmarks.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("schedule")
def bench_schedule(
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    requests: Annotated[int, typer.Option(min=1, help="Timed requests of each kind")] = 200,
    days: Annotated[int, typer.Option(min=1, help="Days of existing bookings")] = 120,
    practitioners: Annotated[int, typer.Option(min=1, help="Practitioners")] = 20,
    rooms: Annotated[int, typer.Option(min=1, help="Rooms")] = 8,
) -> None:
    """Time 5-session course slot proposals and practitioner week views on a busy synthetic clinic
    (a temporary SQLite database; the configured database is not touched)."""
    import json

    from mesoclinic.bench import schedule

    result = schedule.run(days=days, requests=requests, practitioners=practitioners, rooms=rooms)
    if as_json:
        typer.echo(json.dumps(result))
        return
    for name in ("propose_course", "week_view"):
        typer.echo(f"{name}: p50 {result[name]['p50_ms']} ms, p95 {result[name]['p95_ms']} ms")
    typer.echo(f"n={result['n']}, setup {result['setup_s']} s, clinic {result['clinic']}")


@bench_app.command("imaging")
def bench_imaging(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    size: Annotated[str, typer.Option(help="small (seconds, used by the tests) or full")] = "full",
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic features")] = 5,
) -> None:
    """Validate the skin metrics on synthetic wrinkles, spots, redness and tone painted onto the
    bundled public-domain portrait (F1 vs plain Frangi, linearity, repeatability under simulated
    re-captures) and time the analysis at 3 and 12 MP. No database is touched."""
    import json

    from mesoclinic.bench import imaging

    if size not in imaging.SIZES:
        typer.echo(f"size must be one of {', '.join(imaging.SIZES)}", err=True)
        raise typer.Exit(2)
    report = imaging.run(size=size, seed=seed)
    if as_json:
        typer.echo(json.dumps(report))
        return
    for contrast, scores in report["wrinkle_f1_2px"].items():
        typer.echo(
            f"wrinkles at {contrast}: F1 {scores['mesoclinic_f1']} (plain Frangi {scores['frangi_f1']})"
        )
    typer.echo(f"spots: precision {report['spots']['precision']}, recall {report['spots']['recall']}")
    for name, fit in report["colour_linearity"].items():
        typer.echo(f"{name}: slope {fit['slope']}, r2 {fit['r2']}")
    for timing in report["speed"]:
        typer.echo(
            f"{timing['megapixels']} MP: analysis {timing['analysis_s']} s, decode {timing['decode_s']} s, "
            f"peak {timing['peak_traced_mb']} MB"
        )
