"""The `slack-scribe` command: serve, socket, worker, transcribe, check."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from bot.settings import Settings, SettingsError, load_settings

logger = logging.getLogger("slack-scribe")

EXPORT_FORMATS = ("text", "markdown", "json", "srt", "vtt")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slack-scribe",
        description="Transcribe audio and video shared in Slack with Gemini.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="HTTP mode: /slack/events, /healthz, /metrics")
    serve.add_argument("--host", default="0.0.0.0", help="interface to bind (default 0.0.0.0)")  # noqa: S104
    serve.add_argument("--port", type=int, default=None, help="port (default $PORT, else 3000)")
    sub.add_parser("socket", help="Socket Mode (needs SLACK_APP_TOKEN)")
    sub.add_parser("worker", help="Redis mode: process queued jobs, no Slack listener")
    tr = sub.add_parser("transcribe", help="transcribe local files; result on stdout")
    tr.add_argument("files", nargs="+", metavar="FILE")
    tr.add_argument("--format", choices=EXPORT_FORMATS, default="text")
    tr.add_argument("--language", default=None, metavar="CODE", help="spoken language hint")
    tr.add_argument("--translate-to", default=None, metavar="CODE", help="translation target")
    sub.add_parser("check", help="validate settings and reach Slack and Gemini")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        _require_for(args.command, settings)
    except SettingsError as exc:
        for line in str(exc).splitlines():
            print(f"slack-scribe: {line}", file=sys.stderr)
        return 2
    from bot.ops.logs import setup_logging

    setup_logging(settings.scribe_log_level, settings.scribe_log_format, _secrets(settings))
    try:
        if args.command == "serve":
            port = args.port or int(os.environ.get("PORT", "3000"))  # Heroku sets PORT
            return asyncio.run(_serve(settings, args.host, port))
        if args.command == "socket":
            return asyncio.run(_socket(settings))
        if args.command == "worker":
            from bot.worker import run_worker

            return asyncio.run(run_worker(settings))
        if args.command == "transcribe":
            from bot.ops.local_transcribe import transcribe_files

            return asyncio.run(
                transcribe_files(
                    settings,
                    args.files,
                    fmt=args.format,
                    language=args.language,
                    translate_to=args.translate_to,
                )
            )
        if args.command == "check":
            from bot.ops.check import run_check

            return asyncio.run(run_check(settings))
    except KeyboardInterrupt:
        return 130
    return 2


def _require_for(command: str, settings: Settings) -> None:
    needs = {
        "serve": ("slack_bot_token", "slack_signing_secret", "gemini_api_key"),
        "socket": ("slack_bot_token", "slack_app_token", "gemini_api_key"),
        "worker": ("redis_url", "slack_bot_token", "gemini_api_key"),
        "transcribe": ("gemini_api_key",),
        "check": (),
    }[command]
    settings.require(*needs)


def _secrets(settings: Settings) -> list[str]:
    values = (
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.gemini_api_key,
    )
    return [v.get_secret_value() for v in values if v is not None]


async def _wait_for_signal() -> None:
    """Block until SIGTERM (Heroku's stop) or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logger.info("stopping: finishing running jobs, leaving the rest queued")


async def _serve(settings: Settings, host: str, port: int) -> int:
    from aiohttp import web

    from bot.app import Runtime
    from bot.web import build_web_app

    runtime = await Runtime.create(settings)
    runner = web.AppRunner(build_web_app(runtime), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    logger.info("listening on http://%s:%d (POST /slack/events)", host, port)
    try:
        await _wait_for_signal()
    finally:
        await runner.cleanup()  # stops workers gracefully, closes clients
    return 0


async def _socket(settings: Settings) -> int:
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    from bot.app import Runtime

    runtime = await Runtime.create(settings)
    app = runtime.bolt_app()
    assert settings.slack_app_token is not None  # checked by _require_for
    handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    await runtime.start_workers()
    await handler.connect_async()  # type: ignore[no-untyped-call]
    logger.info("connected in Socket Mode")
    try:
        await _wait_for_signal()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await runtime.close()
    return 0
