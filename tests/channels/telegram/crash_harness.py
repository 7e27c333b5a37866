"""A process running the real Telegram channel with a slow scripted Rasa, for kill -9 tests.

    python -m tests.channels.telegram.crash_harness --port P --db URL --api URL --delay S

It serves /webhooks/telegram/webhook (secret: conftest.SECRET) and answers each text with
"echo: <text>" after `delay` seconds, writing "handling <update message id>" to stdout first.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.settings import Settings
from channels.telegram.channel import TelegramInput
from channels.telegram.runtime import Tuning
from tests.channels.telegram.conftest import SECRET
from tests.channels.telegram.fake_bot_api import TOKEN
from tests.support.stack import PROJECT


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--api", required=True)
    parser.add_argument("--delay", type=float, default=3.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)

    settings = Settings.from_env({
        "RAPPORT_HOME": str(PROJECT), "RAPPORT_TELEGRAM_TOKEN": TOKEN,
        "RAPPORT_TELEGRAM_WEBHOOK_SECRET": SECRET, "RAPPORT_TELEGRAM_API_URL": args.api,
        "RAPPORT_TELEGRAM_DB_URL": args.db,
    })

    async def slow_echo(message: UserMessage) -> None:
        print(f"handling {message.message_id}", flush=True)
        await asyncio.sleep(args.delay)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")

    # Production leases (30 s): a restart resumes at once only because the dead owner is seen.
    channel = TelegramInput(settings, Tuning())
    app = Sanic("telegram-crash-harness", configure_logging=False)
    app.blueprint(channel.blueprint(slow_echo), url_prefix="/webhooks/telegram")
    app.run(host="127.0.0.1", port=args.port, access_log=False)


if __name__ == "__main__":
    main()
