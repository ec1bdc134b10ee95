"""The ``aarshjul`` command line. Each command parses its arguments, calls one use case and prints."""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import getpass
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from aarshjul.clock import ManualClock
from aarshjul.db.migrate import SchemaNotCurrent
from aarshjul.domain.errors import DomainError, ImportProblem
from aarshjul.runtime import Runtime
from aarshjul.settings import ConfigurationError, Settings, get_settings

log = logging.getLogger("aarshjul")


def _runtime(settings: Settings | None = None, migrate: bool = True) -> Runtime:
    from aarshjul.db.migrate import upgrade

    runtime = Runtime.from_settings(settings or get_settings())
    if migrate:
        upgrade(runtime.engine)
    return runtime


def _parse_moment(text: str, zone: dt.tzinfo) -> dt.datetime:
    """An ISO date or datetime; without a zone it is read as local time in the organisation's zone."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date or datetime: {text!r} (use 2027-03-01T08:00)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from exc


# --- commands ------------------------------------------------------------------------------------


def _listening_on(settings: Settings, host: str, port: int) -> Settings:
    """Links follow the port the service listens on, unless AARSHJUL_BASE_URL says where it is reached."""
    if "base_url" in settings.model_fields_set:
        return settings
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return settings.model_copy(update={"base_url": f"http://{shown}:{port}"})


def cmd_serve(args: argparse.Namespace) -> int:
    if args.web_only:
        return _serve_web_only(args)
    if args.workers != 1:
        raise ConfigurationError("--workers is for --web-only; the one-machine service runs one web process")
    import uvicorn

    settings = _listening_on(get_settings(), args.host, args.port)
    if args.demo:
        settings = settings.model_copy(update={"demo": True})
    settings.check_for_start()
    from aarshjul.usecases.cycle.definitions import check_definition

    # A broken cycle definition is found now, not when HR starts the year.
    check_definition(Runtime.cycle_definition_of(settings), str(settings.cycle_definition_path or "standard.yaml"))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    runtime = _runtime(settings)
    if settings.demo:
        _prepare_demo(runtime)
    from flows.serve import start_prefect
    from service.app import create_app
    from service.logs import redacted_log_config
    from service.triggers import PrefectTriggers

    # SIGTERM stops the service as Ctrl-C does: uvicorn hands the signal on once it has shut down,
    # and this handler turns it into SystemExit, so the ``finally`` below stops Prefect; a signal
    # during start-up (or an error after Prefect started) is covered by the same ``finally``.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    prefect = start_prefect(settings)
    triggers: PrefectTriggers | None = None
    try:
        # With its own Prefect server on this machine the service advances a submission's unit and
        # sends at once (service/triggers.py); on a shared server the workers do it.
        triggers = PrefectTriggers(runtime, prefect.api_url, run_here=prefect.owns_server)
        runtime.triggers = triggers
        app = create_app(runtime)
        # Everything imported and built so far lives as long as the process; moving it out of the
        # collector's view keeps full collections short on the board's large answers.
        gc.freeze()
        print(f"Årshjul is running at {settings.base_url}  (Prefect UI: {prefect.ui_url})", flush=True)
        # Årshjul reads X-Forwarded-For itself, from AARSHJUL_TRUSTED_PROXIES only (service/rate_limit.py).
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_level="info",
            proxy_headers=False,
            log_config=redacted_log_config(),
        )
    finally:
        if triggers is not None:
            triggers.wait(timeout=2.0)
        prefect.stop()
    return 0


def _serve_web_only(args: argparse.Namespace) -> int:
    """Only HTTP: no Prefect server, no runner, no migration. Flow runs go to the configured Prefect
    server, where the work pool's workers take them (docs/operations.md)."""
    import uvicorn

    from aarshjul.db.migrate import check_current
    from service.logs import redacted_log_config

    if args.demo or get_settings().demo:
        raise ConfigurationError(
            "--demo runs everything in one process; leave it (and AARSHJUL_DEMO) out with --web-only"
        )
    if not os.environ.get("PREFECT_API_URL"):
        raise ConfigurationError(
            "--web-only starts no Prefect server: set PREFECT_API_URL to the server the workers take runs from"
        )
    settings = _listening_on(get_settings(), args.host, args.port)
    settings.check_for_start()
    # The web processes (one per --workers) build their settings from the environment: tell them too.
    os.environ["AARSHJUL_BASE_URL"] = settings.base_url
    engine = Runtime.from_settings(settings).engine
    try:
        check_current(engine)
    finally:
        engine.dispose()
    print(
        f"Årshjul (web only, {args.workers} process{'es' if args.workers > 1 else ''}) is running at "
        f"{settings.base_url}; flow runs go to {os.environ['PREFECT_API_URL']}",
        flush=True,
    )
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        proxy_headers=False,
        log_config=redacted_log_config(),
    )
    return 0


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _prepare_demo(runtime: Runtime) -> None:
    """Seed an empty database; refuse one that --demo did not create, and change nothing in it."""
    from aarshjul.demo import seed_demo
    from aarshjul.usecases.admin.hr_access import ensure_demo_hr_password
    from aarshjul.usecases.admin.org_import import created_by_demo

    if not created_by_demo(runtime):
        raise ConfigurationError(
            "--demo runs only on an empty database or one that --demo created; this one holds an organisation "
            f"it did not load ({runtime.engine.url.render_as_string(hide_password=True)}). Start without --demo, "
            "or point AARSHJUL_DATA_DIR or AARSHJUL_DATABASE_URL elsewhere."
        )
    if seed_demo(runtime):
        print("Loaded the demo organisation (Fjordvik kommune), its strategy 2025–2028 and its year 2025.")
    email, password = ensure_demo_hr_password(runtime)
    shown = password or "(the one you chose)"
    print(f"HR sign-in: {runtime.settings.base_url}/hr/login  e-post/email: {email}  passord/password: {shown}")
    print(f"Local mail outbox: {runtime.settings.base_url}/dev/outbox")


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """The release step: migrate under a lock (two hosts released together take turns)."""
    runtime = _runtime()
    print(f"Database is up to date: {runtime.engine.url.render_as_string(hide_password=True)}")
    return 0


def cmd_db_repair(args: argparse.Namespace) -> int:
    from aarshjul.usecases.admin.repair import repair_stored_values

    report = repair_stored_values(_runtime())
    print(f"Repaired stored values: {report}")
    return 0


def cmd_org_import(args: argparse.Namespace) -> int:
    from aarshjul.usecases.admin.org_import import import_org

    report = import_org(_runtime(), Path(args.file), actor="cli", organisation_name=args.organisation)
    print(f"Imported {args.file}: {report.summary()}")
    return 0


def cmd_org_talk_sign_in(args: argparse.Namespace) -> int:
    from aarshjul.usecases.admin.single_sign_on import set_talk_forms_sign_in

    required = args.setting == "on"
    set_talk_forms_sign_in(_runtime(), required, actor="cli")
    if required:
        print("Talk forms now open only for their assignee, signed in through single sign-on, with the link.")
    else:
        print("Talk forms open with the link alone.")
    return 0


def cmd_strategy_load(args: argparse.Namespace) -> int:
    from aarshjul.usecases.admin.org_import import load_strategy

    report = load_strategy(_runtime(), Path(args.file), actor="cli")
    verb = "Loaded" if report.created else "Updated"
    print(f"{verb} strategy period (id {report.period_id}): {report.goals} main goals, {report.areas} competence areas")
    return 0


def cmd_competences_load(args: argparse.Namespace) -> int:
    from aarshjul.usecases.admin.competences import load_competences

    report = load_competences(_runtime(), Path(args.file), actor="cli", period_id=args.period)
    print(f"Loaded the competence catalogue of strategy period {report.period_id}: {report.summary()}")
    return 0


def cmd_cycle_start(args: argparse.Namespace) -> int:
    from aarshjul.usecases.cycle.advance import advance_cycle
    from aarshjul.usecases.cycle.start import start_cycle

    runtime = _runtime()
    cycle_id = start_cycle(runtime, year=args.year, starts_on=args.starts_on, actor="cli")
    report = advance_cycle(runtime, cycle_id)
    print(f"Started cycle {cycle_id} for {args.year}. {report}")
    return 0


def cmd_cycle_status(args: argparse.Namespace) -> int:
    from aarshjul.usecases.reporting.board import cycle_status
    from aarshjul.usecases.reporting.cycles import latest_cycle_id

    runtime = _runtime()
    with runtime.sessions() as session:
        cycle_id = args.cycle or latest_cycle_id(session)
        if cycle_id is None:
            print("No cycle has been started yet (aarshjul cycle start --year YEAR).", file=sys.stderr)
            return 1
        status = cycle_status(session, cycle_id, today=runtime.clock().astimezone(runtime.settings.zone).date())
    if args.json:
        print(status.model_dump_json(indent=2))
    else:
        print(status.as_text())
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from aarshjul.usecases.cycle.sweep import sweep

    runtime = _runtime()
    if args.now is not None:
        runtime.clock = ManualClock(args.now)
    report = sweep(runtime)
    print(f"Sweep as of {runtime.clock().isoformat()}: {report}")
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    from notifications.dev_outbox import format_outbox, list_outbox

    runtime = _runtime()
    messages = list_outbox(runtime)
    if args.json:
        print(json.dumps(messages, ensure_ascii=False, indent=2, default=str))
    else:
        print(format_outbox(messages))
    return 0


def cmd_hr_token(args: argparse.Namespace) -> int:
    from aarshjul.usecases.admin.hr_access import issue_api_token, revoke_api_token_by_id

    if args.revoke is not None:
        revoke_api_token_by_id(_runtime(), args.revoke, actor="cli")
        print(f"Revoked API token {args.revoke}; calls with it are refused from now on.")
        return 0
    token = issue_api_token(_runtime(), email=args.email, label=args.label, days=args.days)
    print(
        f"API token for HR (send as 'Authorization: Bearer <token>'), good for {args.days} days; it is shown only once:"
    )
    print(token)
    return 0


def cmd_scim_token(args: argparse.Namespace) -> int:
    from aarshjul.usecases.admin.scim_access import issue_scim_token, revoke_scim_token, scim_tokens

    runtime = _runtime()
    if args.revoke is not None:
        revoke_scim_token(runtime, args.revoke, actor="cli")
        print(f"Revoked SCIM token {args.revoke}; requests with it are refused from now on.")
        return 0
    if args.list:
        with runtime.sessions() as session:
            for info in scim_tokens(session):
                state = f"revoked {info.revoked_at.isoformat()}" if info.revoked_at else "live"
                print(f"{info.id}\t{info.created_at.isoformat()}\t{state}\t{info.label}")
        return 0
    token = issue_scim_token(runtime, label=args.label, actor="cli")
    print(f"SCIM token for {runtime.settings.base_url}/scim/v2 (Entra ID: 'Secret Token'); it is shown only once:")
    print(token)
    return 0


def cmd_sms(args: argparse.Namespace) -> int:
    from aarshjul.domain.enums import SmsMode
    from aarshjul.usecases.admin.sms_settings import set_sms_mode, sms_settings

    if args.template is not None and args.mode is None:
        print("error: say what to send: with_email, instead_of_email or email_only", file=sys.stderr)
        return 2
    runtime = _runtime()
    if args.template is not None:
        mode = None if args.mode == "email_only" else SmsMode(args.mode)
        set_sms_mode(runtime, args.template, mode, actor="cli")
    with runtime.sessions() as session:
        for template, chosen in sms_settings(session).items():
            print(f"{template:<18} {chosen.value if chosen else 'email_only'}")
    return 0


def _read_new_password(args: argparse.Namespace) -> str:
    """From the terminal (asked twice), or the first line of standard input for scripts."""
    if args.stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise ConfigurationError("the two passwords differ; nothing was changed")
    return first


def cmd_hr_add(args: argparse.Namespace) -> int:
    from aarshjul.usecases.admin.hr_access import add_hr_person

    runtime = _runtime()
    person_id = add_hr_person(runtime, args.email, args.name or "", _read_new_password(args), args.unit)
    print(f"Added {args.email} as HR (person {person_id}); they can sign in at {runtime.settings.base_url}/hr/login")
    print("Add them to the organisation file too: an import deactivates people who are not in it.")
    return 0


def cmd_hr_set_password(args: argparse.Namespace) -> int:
    from aarshjul.usecases.admin.hr_access import set_password

    set_password(_runtime(), args.email, _read_new_password(args))
    print(f"Set a new password for {args.email}; their earlier sessions have ended.")
    return 0


# --- parser --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    zone = get_settings().zone
    parser = argparse.ArgumentParser(
        prog="aarshjul",
        description="Årshjul: run the yearly strategic competence cycle. Settings come from AARSHJUL_* variables.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help_: str, sub: argparse._SubParsersAction
    ) -> argparse.ArgumentParser:  # type: ignore[type-arg]
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    serve = add("serve", cmd_serve, "Run the web service, the local Prefect server and the flows", commands)
    serve.add_argument("--demo", action="store_true", help="seed the demo organisation if the database is empty")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument(
        "--web-only",
        action="store_true",
        help="serve HTTP only: no Prefect server, runner or migration (needs PREFECT_API_URL; docs/operations.md)",
    )
    serve.add_argument("--workers", type=int, default=1, help="with --web-only: web processes on this port (default 1)")

    db = add("db", lambda a: 2, "Database commands", commands)
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    add("upgrade", cmd_db_upgrade, "Create or upgrade the database schema", db_sub)
    add(
        "repair",
        cmd_db_repair,
        "Clean stored values no page can show (NaN, Infinity, lone surrogates, NULs) so their tasks open again",
        db_sub,
    )

    org = add("org", lambda a: 2, "Organisation commands", commands)
    org_sub = org.add_subparsers(dest="org_command", required=True, metavar="COMMAND")
    imp = add("import", cmd_org_import, "Import units and people from a CSV or YAML file (see README)", org_sub)
    imp.add_argument("file", help="org file (.csv or .yaml)")
    imp.add_argument("--organisation", help="the organisation's name")
    talk = add(
        "talk-sign-in",
        cmd_org_talk_sign_in,
        "Require single sign-on, as well as the link, for the private talk forms (on), or the link alone (off)",
        org_sub,
    )
    talk.add_argument("setting", choices=["on", "off"])

    strategy = add("strategy", lambda a: 2, "Strategy commands", commands)
    strategy_sub = strategy.add_subparsers(dest="strategy_command", required=True, metavar="COMMAND")
    load = add(
        "load", cmd_strategy_load, "Load the strategy period, main goals and competence areas (YAML)", strategy_sub
    )
    load.add_argument("file", help="strategy file (.yaml)")

    competences = add("competences", lambda a: 2, "Competence catalogue commands", commands)
    competences_sub = competences.add_subparsers(dest="competences_command", required=True, metavar="COMMAND")
    catalogue = add(
        "load",
        cmd_competences_load,
        "Load the competence catalogue (CSV or YAML; see README): competences under the strategy's areas",
        competences_sub,
    )
    catalogue.add_argument("file", help="catalogue file (.csv or .yaml)")
    catalogue.add_argument("--period", type=int, help="strategy period id (default: the newest)")

    cycle = add("cycle", lambda a: 2, "Cycle commands", commands)
    cycle_sub = cycle.add_subparsers(dest="cycle_command", required=True, metavar="COMMAND")
    start = add("start", cmd_cycle_start, "Start the year's cycle and open its first steps", cycle_sub)
    start.add_argument("--year", type=int, required=True, help="the cycle's year (inside the strategy period)")
    start.add_argument("--starts-on", type=_parse_date, help="first day (YYYY-MM-DD); default today")
    status = add("status", cmd_cycle_status, "Show where every unit stands (the board)", cycle_sub)
    status.add_argument("--cycle", type=int, help="cycle id (default: the newest)")
    status.add_argument("--json", action="store_true", help="print the same JSON as GET /api/cycles/{id}/status")

    sweep = add("sweep", cmd_sweep, "Send due reminders and escalations, open due evaluations", commands)
    sweep.add_argument(
        "--now",
        type=lambda t: _parse_moment(t, zone),
        help=f"run as of this moment (ISO date or datetime, {zone.key} unless a zone is given)",
    )

    outbox = add("outbox", cmd_outbox, "Show the local mail outbox", commands)
    outbox.add_argument("--json", action="store_true", help="print JSON")

    hr = add("hr", lambda a: 2, "HR access commands", commands)
    hr_sub = hr.add_subparsers(dest="hr_command", required=True, metavar="COMMAND")
    token = add("token", cmd_hr_token, "Create an API token for an HR person (printed alone on the last line)", hr_sub)
    token.add_argument("--email", help="the HR person's email (default: the first HR person)")
    token.add_argument("--label", default="cli", help="a note on what the token is for")
    token.add_argument("--revoke", type=int, metavar="ID", help="revoke the token with this id instead")
    token.add_argument("--days", type=int, default=90, help="how many days the token works (1-366, default 90)")
    add_hr = add("add", cmd_hr_add, "Add an HR person who signs in with a password (asked for, or stdin)", hr_sub)
    add_hr.add_argument("email", help="their work email")
    add_hr.add_argument("--name", help="their name (default: the email)")
    add_hr.add_argument("--unit", help="the code of their unit (default: the top unit)")
    add_hr.add_argument("--stdin", action="store_true", help="read the password from standard input")
    set_pw = add("set-password", cmd_hr_set_password, "Set or reset an HR person's password", hr_sub)
    set_pw.add_argument("email", help="the HR person's email")
    set_pw.add_argument("--stdin", action="store_true", help="read the password from standard input")

    scim = add("scim", lambda a: 2, "SCIM provisioning commands", commands)
    scim_sub = scim.add_subparsers(dest="scim_command", required=True, metavar="COMMAND")
    scim_token = add(
        "token", cmd_scim_token, "Create a SCIM bearer token (printed alone on the last line), list or revoke", scim_sub
    )
    scim_token.add_argument("--label", default="scim", help="a note on what the token is for (e.g. 'Entra ID')")
    scim_token.add_argument("--list", action="store_true", help="list the tokens (id, created, state, label)")
    scim_token.add_argument("--revoke", type=int, metavar="ID", help="revoke the token with this id instead")

    sms = add("sms", cmd_sms, "Show, or choose per kind of message, SMS with or instead of email", commands)
    sms.add_argument("template", nargs="?", help="a kind of message (task_invitation, task_reminder, ...)")
    sms.add_argument(
        "mode", nargs="?", choices=["with_email", "instead_of_email", "email_only"], help="what to send for it"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # The SQLite file, its journal, the logs and the demo secret are for this user alone.
    os.umask(0o077)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.verbose:
            logging.getLogger().setLevel(logging.INFO)
        return int(args.func(args))
    except ImportProblem as problem:
        print("Nothing was changed. Fix these problems and import again:", file=sys.stderr)
        for line in problem.problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    except (DomainError, ConfigurationError, SchemaNotCurrent) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
