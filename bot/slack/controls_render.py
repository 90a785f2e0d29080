"""Block Kit for the controls on a transcript's first message: Download, Translate, Rename
speakers, Delete (the action ids are the operations contract's).

Pure functions; the listeners are in `handlers/actions.py` and `handlers/removal.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.slack.text import language_name

DOWNLOAD_ACTION = "transcript_download"
TRANSLATE_ACTION = "transcript_translate"
RENAME_ACTION = "transcript_rename_speakers"
DELETE_ACTION = "transcript_delete"
#: The Retry button on `:warning:` replies (`render_failure`); its value is the job id.
RETRY_ACTION = "job_retry"

#: The Download menu: option value (the contract's) → what the menu says.
DOWNLOAD_OPTIONS: dict[str, str] = {
    "txt": "Text (.txt)",
    "srt": "Subtitles, SRT (.srt)",
    "vtt": "Subtitles, WebVTT (.vtt)",
    "json": "JSON (.json)",
    "md": "Markdown (.md)",
}

#: The Translate menu: a short list of widely used languages (BCP-47 codes). A longer list
#: is one /transcribe translate <code> away; a menu of 100 languages is hard to scan.
TRANSLATE_LANGUAGES: tuple[str, ...] = (
    "en",
    "es",
    "fr",
    "de",
    "pt",
    "it",
    "nl",
    "pl",
    "uk",
    "ru",
    "tr",
    "ar",
    "hi",
    "ja",
    "ko",
    "zh",
)


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _plain(label), "value": value}


def translate_targets(spoken: Sequence[str]) -> list[str]:
    """The menu's languages, less the one language a recording is all in (if just one)."""
    primary = {code.split("-")[0].lower() for code in spoken if code}
    if len(primary) != 1:
        return list(TRANSLATE_LANGUAGES)
    return [code for code in TRANSLATE_LANGUAGES if code not in primary]


def transcript_controls(spoken: Sequence[str] = ()) -> dict[str, Any]:
    """The actions block of a transcript's first message; `spoken`: its languages."""
    return {
        "type": "actions",
        "elements": [
            {
                "type": "static_select",
                "action_id": DOWNLOAD_ACTION,
                "placeholder": _plain("Download…"),
                "options": [_option(v, label) for v, label in DOWNLOAD_OPTIONS.items()],
            },
            {
                "type": "static_select",
                "action_id": TRANSLATE_ACTION,
                "placeholder": _plain("Translate…"),
                "options": [
                    _option(code, language_name(code) or code) for code in translate_targets(spoken)
                ],
            },
            {
                "type": "button",
                "action_id": RENAME_ACTION,
                "text": _plain("Rename speakers"),
            },
            {
                "type": "button",
                "action_id": DELETE_ACTION,
                "text": _plain("Delete"),
                "style": "danger",
                "confirm": {
                    "title": _plain("Delete this transcript?"),
                    "text": _plain(
                        "The transcript's messages and files leave this thread, and the "
                        "stored transcript is deleted."
                    ),
                    "confirm": _plain("Delete"),
                    "deny": _plain("Keep it"),
                    "style": "danger",
                },
            },
        ],
    }
