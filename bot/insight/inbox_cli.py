"""`rapport inbox list|label|dismiss`: the NLU inbox from the terminal, as in /console/inbox.

`bot.ops.cli` calls `add_inbox_commands(subparsers, rasa_api=model_loader)` and then
`args.handler(settings, args)`. `rasa_api` (bot/hub/rasa_api.py's `model_loader`) is handed in
because the hub imports this package: with it, `--retrain` loads the new model into the
running bot; without it (or without RAPPORT_RASA_JWT_SECRET) the model is trained and the
bot picks it up when `rapport run` restarts. Errors are one `rapport: error:` line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, Awaitable, Callable, Optional, TypeVar

from bot.errors import RapportError
from bot.settings import Settings

T = TypeVar("T")
CLI_USER = "cli"  # who labelled, in insight_inbox_labels, when it was this command
RasaApiFactory = Callable[..., Any]  # model_loader(session, servers, jwt_secret)


class InboxCliError(RapportError, ValueError):
    """The command line asks for something the inbox cannot do."""


def add_inbox_commands(subparsers: Any,
                       rasa_api: Optional[RasaApiFactory] = None) -> argparse.ArgumentParser:
    """Add `inbox` with its `list`, `label` and `dismiss` subcommands."""
    inbox = subparsers.add_parser("inbox", help="messages the bot did not understand: label "
                                                "them and retrain")
    inbox.set_defaults(rasa_api=rasa_api)
    commands = inbox.add_subparsers(dest="inbox_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="the inbox, grouped by similarity, with "
                                               "suggested intents")
    listing.add_argument("--limit", type=int, default=20, metavar="N",
                         help="show at most N groups (default 20)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_list)

    label = commands.add_parser("label", help="label messages with an intent (written to "
                                              "data/nlu and validated)",
                                usage="rapport inbox label (TURN_ID... | --group KEY) INTENT "
                                      "[--retrain]")
    label.add_argument("words", nargs="+", metavar="TURN_ID... INTENT",
                       help="the message ids from `rapport inbox list`, then the intent")
    label.add_argument("--group", type=int, metavar="KEY",
                       help="every message of the group with this key (`rapport inbox list`)")
    label.add_argument("--retrain", action="store_true",
                       help="then retrain and load the new model into the running bot")
    label.set_defaults(handler=run_label)

    dismiss = commands.add_parser("dismiss", help="take messages out of the inbox unlabelled",
                                  usage="rapport inbox dismiss (TURN_ID... | --group KEY)")
    dismiss.add_argument("turn_ids", nargs="*", type=int, metavar="TURN_ID")
    dismiss.add_argument("--group", type=int, metavar="KEY")
    dismiss.set_defaults(handler=run_dismiss)
    return inbox


def _with_inbox(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from bot.database import make_engine
    from bot.insight.nlu_inbox import NluInbox

    async def main() -> T:
        inbox = NluInbox(make_engine(settings.hub_db_url), settings.inbox_confidence,
                         dispose_engine=True)
        try:
            return await work(inbox)
        finally:
            await inbox.close()
    return asyncio.run(main())


def run_list(settings: Settings, args: argparse.Namespace) -> int:
    groups = _with_inbox(settings, lambda inbox: inbox.groups(settings.home))
    shown = groups[:max(0, args.limit)]
    if args.json:
        print(json.dumps({"groups": [group.to_json() for group in shown],
                          "total_groups": len(groups)}, indent=2, ensure_ascii=False))
        return 0
    if not groups:
        print("the inbox is empty: every message was understood, labelled or dismissed")
        return 0
    for group in shown:
        hints = ", ".join(f"{s.intent} ({s.score:.2f}, {s.source})" for s in group.suggestions)
        print(f"group {group.key}: {group.count} message{'s' if group.count != 1 else ''}"
              f"   suggested: {hints or 'none'}")
        for message in group.messages:
            guess = f"{message.intent} {message.confidence:.2f}" \
                if message.intent and message.confidence is not None else message.intent or "-"
            print(f"  {message.turn_id:>8}  {message.text}   [{guess}]")
    if len(groups) > len(shown):
        print(f"({len(groups) - len(shown)} more groups: --limit)")
    print("label: rapport inbox label --group KEY INTENT   or   rapport inbox label TURN_ID "
          "INTENT")
    return 0


async def _chosen_ids(inbox: Any, settings: Settings, group: Optional[int],
                      turn_ids: list[int]) -> list[int]:
    from bot.insight.nlu_inbox import find_group

    if group is not None and turn_ids:
        raise InboxCliError("give either --group or message ids, not both")
    if group is not None:
        return find_group(await inbox.groups(settings.home), group).turn_ids
    if not turn_ids:
        raise InboxCliError("say which messages: their ids, or --group KEY")
    return turn_ids


def _label_targets(args: argparse.Namespace) -> tuple[list[int], str]:
    *ids, intent = args.words
    try:
        return [int(turn_id) for turn_id in ids], intent
    except ValueError as error:
        raise InboxCliError("message ids are numbers (see `rapport inbox list`), and the "
                            "intent comes last") from error


def run_label(settings: Settings, args: argparse.Namespace) -> int:
    from bot.insight.nlu_inbox import label_messages

    turn_ids, intent = _label_targets(args)

    async def work(inbox: Any):
        chosen = await _chosen_ids(inbox, settings, args.group, turn_ids)
        return await label_messages(inbox, settings.home, chosen, intent, CLI_USER)

    result = _with_inbox(settings, work)
    examples = result.examples
    print(f"labelled {len(result.turn_ids)} message(s) {examples.intent}; "
          f"{len(examples.added)} new example(s) in {examples.file}"
          + (" (a new intent, added to domain.yml)" if examples.new_intent and examples.added
             else ""))
    for skipped in examples.skipped:
        print(f"  not added: {skipped.text!r}: {skipped.reason}")
    if not args.retrain:
        return 0
    return _retrain(settings, args.rasa_api)


def run_dismiss(settings: Settings, args: argparse.Namespace) -> int:
    async def work(inbox: Any) -> list[int]:
        chosen = await _chosen_ids(inbox, settings, args.group, args.turn_ids)
        return await inbox.dismiss(chosen, CLI_USER)

    print(f"dismissed {len(_with_inbox(settings, work))} message(s)")
    return 0


def _retrain(settings: Settings, rasa_api: Optional[RasaApiFactory]) -> int:
    import aiohttp

    from bot.insight.retrain import DONE, RetrainJob

    def show(progress: Any) -> None:
        print(f"retrain: {progress.state}: {progress.message}", flush=True)

    async def main() -> Any:
        async with aiohttp.ClientSession() as session:
            load = None
            if rasa_api is not None and settings.rasa_jwt_secret:
                load = rasa_api(session, settings.model_servers, settings.rasa_jwt_secret)
            job = RetrainJob(settings, load, on_change=show)
            job.start()
            return await job.wait()

    progress = asyncio.run(main())
    if progress.state != DONE:
        print("rapport: the running bot keeps its current model", file=sys.stderr)
        return 1
    return 0
