"""`rapport`: run, train, chat with and look after a Rapport bot.

Every command turns the errors it can name into one clear line on stderr and a non-zero
exit code; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from bot.errors import RapportError
from bot.settings import Settings

EXIT_ERROR = 2
LOCAL_INTEGRATION = "terminal"  # the REST integration `rapport run` makes when none is set
LOCAL_TOKEN_FILE = "terminal-token"  # under var/, owner-only


class CliError(RapportError, RuntimeError):
    """A failure the user can act on; printed as one line."""


def _say(text: str) -> None:
    print(text, flush=True)


# --------------------------------------------------------------------------- content checks

def build_spacy_pipeline(settings: Settings, quiet: bool = False) -> None:
    from bot.brand import load_brand
    from bot.ops.spacy_pipeline import build_pipeline, is_up_to_date

    brand = load_brand(settings.home / "brand")
    if is_up_to_date(brand, settings.spacy_model_dir):
        if not quiet:
            _say(f"spaCy pipeline is up to date: {settings.spacy_model_dir}")
        return
    build_pipeline(brand, settings.spacy_model_dir)
    _say(f"built spaCy pipeline: {settings.spacy_model_dir}")


def fetch_static_embeddings(settings: Settings, quiet: bool = False) -> None:
    """WordLlama's two files for the intent classifier, fetched once (pip, pinned, checked)."""
    from bot.nlu.static_embeddings import StaticEmbeddingsError, fetch, is_fetched

    directory = settings.static_embeddings_dir
    if is_fetched(directory):
        if not quiet:
            _say(f"WordLlama embeddings are in place: {directory}")
        return
    try:
        fetch(directory)
    except StaticEmbeddingsError as error:
        raise CliError(str(error)) from error
    _say(f"fetched WordLlama embeddings: {directory}")


def cmd_nlp_build(settings: Settings, args: argparse.Namespace) -> int:
    build_spacy_pipeline(settings, quiet=args.quiet)
    fetch_static_embeddings(settings, quiet=args.quiet)
    return 0


def cmd_validate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ops.content_checks import validate_content

    problems = validate_content(settings, rasa_validation=not args.quick)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    _say("content is valid: brand data, YAML files and Rasa's data validation")
    return 0


def cmd_train(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ops.content_checks import check_yaml_files
    from bot.ops.training import current_model, train

    check_yaml_files(settings)
    build_spacy_pipeline(settings, quiet=True)
    if current_model(settings) and not args.force:
        _say(f"model is up to date: {current_model(settings)}")
        return 0
    _say("training a model for the current content (this takes a minute or two)...")
    _say(f"trained: {train(settings, force=args.force)}")
    return 0


# --------------------------------------------------------------------------- run

def prepare_databases(settings: Settings) -> None:
    """Create the PostgreSQL databases the settings name (the scale-out profile's)."""
    from bot.deployment_profile import ensure_database

    urls = {settings.crm_url, settings.hub_db_url, settings.telegram_db_url,
            settings.tracker_db_url}
    for url in sorted(url for url in urls if url and url.startswith("postgresql")):
        if ensure_database(url):
            _say(f"created the PostgreSQL database {url.rsplit('/', 1)[-1]}")


def prepare_crm(settings: Settings) -> None:
    """Bring the SQL CRM to the newest schema; fill an empty one with the demo data set."""
    if settings.crm_backend != "sql":
        return
    from sqlalchemy import func, select

    from bot.brand import load_brand
    from bot.database import make_engine
    from bot.crm.models import CustomerRow
    from bot.crm.upgrade import upgrade_schema
    from bot.crm.seed import seed_demo

    upgrade_schema(settings.crm_url)
    engine = make_engine(settings.crm_url)
    try:
        with engine.connect() as connection:
            customers = connection.scalar(select(func.count()).select_from(CustomerRow.__table__))
        if not customers:
            summary = seed_demo(engine, load_brand(settings.home / "brand"))
            _say(f"the CRM was empty: seeded the demo data set ({summary.customers} customers, "
                 f"{summary.orders} orders); `rapport crm seed --force` resets it")
    finally:
        engine.dispose()


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ops.content_checks import check_startup_content
    from bot.log_redaction import Redactor, secrets_of
    from bot.ops.supervisor import Service, Supervisor, check_ports_free, python_command
    from bot.ops.training import current_model, train_in_child

    check_startup_content(settings)
    prepare_databases(settings)
    check_ports_free(settings.host, {"actions": settings.actions_port,
                                     "rasa": settings.rasa_port, "hub": settings.hub_port})
    build_spacy_pipeline(settings, quiet=True)
    prepare_crm(settings)
    if args.telegram_polling:
        settings = settings.with_changes(telegram_polling=True)
    # Fresh secrets per run for those not set: Rasa's API is usable by the hub and nobody
    # else, the action server answers only Rasa, and verification attempts are counted under
    # contact hashes nobody can compute.
    generated = {name: secrets.token_urlsafe(32) for name in
                 ("rasa_jwt_secret", "actions_secret", "verification_secret")
                 if not getattr(settings, name)}
    settings = settings.with_changes(**generated)
    local_token = not settings.rest_tokens
    if local_token:  # a local integration, so `rapport chat` works out of the box
        settings = settings.with_changes(rest_tokens=((LOCAL_INTEGRATION,
                                                       local_rest_token(settings)),))
    model = current_model(settings)
    if model is None:
        _say("no model matches the current config, domain and data: training one now...")
        model = train_in_child(settings)  # in-process, TensorFlow would stay for the run's life
    env = settings.child_env()
    supervised = ("--supervised-by", str(os.getpid()))  # each stops if this process is gone
    services = [
        Service("actions", python_command("-m", "bot.ops.cli", "serve", "actions", *supervised),
                f"{settings.actions_url}/health", settings.actions_port, env),
        # no --model: `serve rasa` picks the current model at each (re)start
        Service("rasa", python_command("-m", "bot.ops.cli", "serve", "rasa", *supervised),
                f"{settings.rasa_url}/", settings.rasa_port, env),
        Service("hub", python_command("-m", "bot.ops.cli", "serve", "hub", *supervised),
                f"{settings.hub_url}/health", settings.hub_port, env),
    ]
    supervisor = Supervisor(services, settings.host, settings.logs_dir, say=_say,
                            redact=Redactor(secrets_of(settings)))
    _say(f"starting Rapport (model {model.name})")
    try:
        supervisor.start()
        _say("")
        _say("Rapport is running:")
        _say(f"  chat (REST)   POST {settings.rasa_url}/webhooks/rest/webhook")
        _say(f"  hub           {settings.hub_url}/")
        _say(f"  web chat demo {settings.hub_url}/demo")
        _say(f"  agent console {settings.hub_url}/console   (accounts: rapport agent add NAME)")
        _say(f"  actions       {settings.actions_url}")
        _say("  talk to it:   rapport chat      stop: Ctrl-C")
        if local_token:
            _say(f"  REST token    {settings.var_dir / LOCAL_TOKEN_FILE} "
                 "(Authorization: Bearer ...; set RAPPORT_REST_TOKENS to choose your own)")
        supervisor.watch()
    except KeyboardInterrupt:
        pass  # Ctrl-C during start-up: stop whatever started, below
    finally:
        _say("stopping Rapport...")
        supervisor.stop()
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from bot import log_redaction
    from bot.ops import orphan_watch

    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log_redaction.install(settings)  # no token or secret in var/logs (httpx logs URLs)
    orphan_watch.watch_supervisor(args.supervised_by)
    if args.service == "rasa":
        from bot.ops.rasa_server import serve

        from bot.ops.training import model_to_serve

        model = Path(args.model) if args.model else model_to_serve(settings)
        if model is None:
            raise CliError("no trained model in RAPPORT_VAR_DIR/models: run `rapport train`")
        serve(settings, model)
    elif args.service == "actions":
        from bot.ops.action_server import serve

        serve(settings)
    else:
        from bot.hub.app import serve

        serve(settings)
    return 0


def local_rest_token(settings: Settings) -> str:
    """The `terminal` integration's token when none is configured: made once, kept private.

    Stored in `var/` readable by its owner only, so `rapport chat` and a developer's curl on
    this machine can use it; a deployment sets RAPPORT_REST_TOKENS instead.
    """
    path = settings.var_dir / LOCAL_TOKEN_FILE
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
        if len(token) >= 24:
            return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token


def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ops.terminal_chat import chat

    tokens = dict(settings.rest_tokens)
    token_file = settings.var_dir / LOCAL_TOKEN_FILE
    if not tokens and token_file.exists():  # the one `rapport run` made for this machine
        tokens = {LOCAL_INTEGRATION: token_file.read_text(encoding="utf-8").strip()}
    name = args.integration or ("terminal" if "terminal" in tokens else next(iter(tokens), None))
    if name not in tokens:
        raise CliError("rapport chat talks over the REST channel, which needs an integration "
                       "token: set RAPPORT_REST_TOKENS (e.g. terminal=<24+ random characters>) "
                       "for both `rapport run` and `rapport chat`")
    return chat(settings.rasa_url, sender=args.sender, token=tokens[name])


# --------------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rapport", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train if needed, start all services, stop on Ctrl-C")
    run.add_argument("--telegram-polling", action="store_true",
                     help="receive Telegram updates by polling (development, no public URL)")
    run.set_defaults(handler=cmd_run)

    train = sub.add_parser("train", help="train a model unless one matches the content")
    train.add_argument("--force", action="store_true", help="train even if a model matches")
    train.set_defaults(handler=cmd_train)

    chat = sub.add_parser("chat", help="talk to the running bot from the terminal")
    chat.add_argument("--sender", default=None, help="conversation id (default: a new one)")
    chat.add_argument("--integration", default=None,
                      help="REST integration whose token to use (RAPPORT_REST_TOKENS; default: "
                           "terminal, else the first)")
    chat.set_defaults(handler=cmd_chat)

    validate = sub.add_parser("validate", help="check brand data, YAML and training data")
    validate.add_argument("--quick", action="store_true", help="skip Rasa's data validation")
    validate.set_defaults(handler=cmd_validate)

    nlp = sub.add_parser("nlp", help="the project's spaCy pipeline")
    nlp_sub = nlp.add_subparsers(dest="nlp_command", required=True)
    build = nlp_sub.add_parser(
        "build", help="build var/spacy/en_rapport from brand/; fetch WordLlama's embeddings")
    build.add_argument("--quiet", action="store_true")
    build.set_defaults(handler=cmd_nlp_build)

    serve = sub.add_parser("serve", help="run one service in the foreground (used by run)")
    serve.add_argument("service", choices=["rasa", "actions", "hub"])
    serve.add_argument("--model", help="model archive (rasa only; default: the one matching "
                                       "the current content, else the newest)")
    serve.add_argument("--supervised-by", type=int, metavar="PID",
                       help="stop when this process (rapport run's supervisor) is gone")
    serve.set_defaults(handler=cmd_serve)

    for register in _plugin_commands():
        register(sub)
    return parser


def _plugin_commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Command groups that live next to their concern (crm, agent, and each channel's)."""
    from bot.channel_registry import ChannelRegistry
    from bot.crm.cli import add_crm_commands
    from bot.handoff.cli import add_agent_commands
    from bot.hub.rasa_api import model_loader
    from bot.insight.cli import add_privacy_commands
    from bot.insight.inbox_cli import add_inbox_commands
    from bot.insight.report_cli import add_insight_commands

    channel_commands = [plugin.add_commands for plugin in ChannelRegistry.installed().plugins
                        if plugin.add_commands is not None]
    def add_inbox(sub: argparse._SubParsersAction) -> None:  # the inbox retrains via Rasa's API
        add_inbox_commands(sub, rasa_api=model_loader)

    return [add_crm_commands, add_agent_commands, add_privacy_commands, add_insight_commands,
            add_inbox, *channel_commands]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        return args.handler(settings, args)
    except RapportError as error:
        print(f"rapport: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
