"""The `slack-scribe` command: serve, socket, worker, transcribe, check."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.ops.lifecycle import secrets_of, wait_for_signal
from bot.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.ops.job_process import JobProcess

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

    setup_logging(settings.scribe_log_level, settings.scribe_log_format, secrets_of(settings))
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


async def _serve(settings: Settings, host: str, port: int) -> int:
    from aiohttp import web

    from bot.web import build_web_app

    runtime, job_process = await _runtime_and_jobs(settings)
    runner = web.AppRunner(build_web_app(runtime), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    logger.info("listening on http://%s:%d (POST /slack/events)", host, port)
    try:
        if job_process is not None:
            await job_process.start()
        await wait_for_signal()
    finally:
        # The jobs first (Slack events meanwhile are still acked and journaled), then HTTP.
        if job_process is not None:
            await job_process.stop(settings.scribe_shutdown_grace_s)
        await runner.cleanup()  # stops workers gracefully, closes clients
    return 0


async def _runtime_and_jobs(settings: Settings) -> tuple[Runtime, JobProcess | None]:
    """The serving runtime, and (embedded mode) the job process that runs its jobs."""
    from bot.app import Runtime
    from bot.ops.job_process import JobProcess
    from bot.queue.local import LocalQueue

    if settings.redis_url or not settings.scribe_job_process:
        return await Runtime.create(settings), None
    runtime = await Runtime.create(settings, embedded_jobs="job_process")
    job_process = JobProcess()
    if isinstance(consumer := runtime.queue, LocalQueue):
        consumer.consumer_check = job_process.check
    return runtime, job_process


async def _socket(settings: Settings) -> int:
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    runtime, job_process = await _runtime_and_jobs(settings)
    app = runtime.bolt_app()
    assert settings.slack_app_token is not None  # checked by _require_for
    handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    await runtime.start_workers()
    if job_process is not None:
        await job_process.start()
    await handler.connect_async()  # type: ignore[no-untyped-call]
    logger.info("connected in Socket Mode")
    try:
        await wait_for_signal()
    finally:
        if job_process is not None:
            await job_process.stop(settings.scribe_shutdown_grace_s)
        await handler.close_async()  # type: ignore[no-untyped-call]
        await runtime.close()
    return 0
