"""`slack-scribe transcribe FILE…`: a real m4a through the Gemini emulator, every export format."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import logging
import os
import pty
import re
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.ops.local_transcribe import transcribe_files
from tests.conftest import make_settings
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.media_factory import make_audio

FORMATS = ("text", "markdown", "json", "srt", "vtt")

ANSWER = {
    "summary": "Two people plan a release.",
    "segments": [
        {"speaker": "Speaker 1", "timestamp": "00:00", "content": "Shall we ship on Friday?"},
        {
            "speaker": "Speaker 2",
            "timestamp": "00:03",
            "content": "Only if tests <pass> & CI --> green.",
        },
        {"speaker": "Speaker 1", "timestamp": "00:03", "content": "Agreed."},
        {"speaker": "Speaker 2", "timestamp": "00:08", "content": "Friday it is."},
    ],
}
SRT_TIME = r"(\d\d):(\d\d):(\d\d),(\d\d\d)"
VTT_TIME = r"(\d\d):(\d\d):(\d\d)\.(\d\d\d)"


def _env(gemini: GeminiEmulator, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "GEMINI_API_KEY": gemini.api_key,
        "GEMINI_BASE_URL": gemini.base_url,
        "SCRIBE_GEMINI_INITIAL_DELAY_S": "0.01",
        **extra,
    }


async def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "transcribe", *args,
        env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _seconds(match: tuple[str, ...]) -> float:
    h, m, s, ms = (int(x) for x in match)
    return h * 3600 + m * 60 + s + ms / 1000


def _check_cues(times: list[tuple[float, float]], duration_s: float) -> None:
    assert len(times) == len(ANSWER["segments"])
    assert times[0][0] == 0.0
    for (start, end), (next_start, _) in itertools.pairwise(times):
        assert start < end <= next_start
    assert times[-1][1] <= duration_s + 0.5


def check_srt(text: str, duration_s: float) -> None:
    blocks = text.strip("\n").split("\n\n")
    times = []
    for index, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        assert lines[0] == str(index)
        timing = re.fullmatch(f"{SRT_TIME} --> {SRT_TIME}", lines[1])
        assert timing, lines[1]
        times.append((_seconds(timing.groups()[:4]), _seconds(timing.groups()[4:])))
        assert len(lines) >= 3 and "-->" not in "\n".join(lines[2:])
    assert blocks[1].split("\n")[2] == "Speaker 2: Only if tests <pass> & CI -> green."
    _check_cues(times, duration_s)


def check_vtt(text: str, duration_s: float) -> None:
    assert text.startswith("WEBVTT\n\n")
    cues = text.removeprefix("WEBVTT\n\n").strip("\n").split("\n\n")
    times = []
    for cue in cues:
        lines = cue.split("\n")
        timing = re.fullmatch(f"{VTT_TIME} --> {VTT_TIME}", lines[0])
        assert timing, lines[0]
        times.append((_seconds(timing.groups()[:4]), _seconds(timing.groups()[4:])))
        assert lines[1].startswith("<v Speaker ")
        assert "-->" not in "\n".join(lines[1:])
    assert (
        cues[1].split("\n")[1] == "<v Speaker 2>Only if tests &lt;pass&gt; &amp; CI --&gt; green."
    )
    _check_cues(times, duration_s)


async def test_every_format_on_a_real_m4a(
    gemini: GeminiEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real CLI entry point (argparse, settings from the environment), in-process for speed."""
    clip = make_audio(tmp_path / "meeting.m4a", duration_s=12.0, codec="aac")
    gemini.script(*[ANSWER] * len(FORMATS))
    for name, value in _env(gemini, tmp_path).items():
        monkeypatch.setenv(name, value)
    by_format = {}
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # cli.main installs its own logging
    try:
        for fmt in FORMATS:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                # cli.main runs its own event loop; the emulator keeps serving on this one.
                status = await asyncio.to_thread(main, ["transcribe", str(clip), "--format", fmt])
            assert status == 0, (fmt, err.getvalue())
            assert err.getvalue() == "", (fmt, err.getvalue())  # not a terminal: quiet
            by_format[fmt] = out.getvalue()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert len(gemini.interaction_requests) == len(FORMATS)

    text = by_format["text"]
    assert text.startswith("Summary\nTwo people plan a release.\n")
    assert "[00:03] Speaker 2: Only if tests <pass> & CI --> green." in text
    markdown = by_format["markdown"]
    assert "## Summary" in markdown and "## Transcript" in markdown
    assert "**Speaker 2** `00:08`: Friday it is." in markdown
    data = json.loads(by_format["json"])
    assert 11.5 < data["duration_s"] < 12.5
    assert [s["content"] for s in data["segments"]] == [s["content"] for s in ANSWER["segments"]]
    check_srt(by_format["srt"], data["duration_s"])
    check_vtt(by_format["vtt"], data["duration_s"])


async def test_quiet_in_pipes(gemini: GeminiEmulator, tmp_path: Path) -> None:
    """A real process with stdout and stderr as pipes: the result and nothing else."""
    clip = make_audio(tmp_path / "memo.m4a", duration_s=6.0, codec="aac")
    status, out, err = await _run([str(clip), "--format", "json"], _env(gemini, tmp_path), tmp_path)
    assert status == 0, err
    assert err == ""
    assert json.loads(out)["segments"]


async def test_progress_bar_when_stderr_is_a_terminal(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    clip = make_audio(tmp_path / "memo.m4a", duration_s=12.0, codec="aac")
    # A tiny inline limit sends the audio through the Files API: the "upload" step shows.
    settings = make_settings(
        slack, gemini, tmp_path, scribe_log_level="INFO", scribe_inline_limit_mb=0.01
    )
    master, slave = pty.openpty()
    terminal = os.fdopen(slave, "w", encoding="utf-8")
    reading = asyncio.create_task(asyncio.to_thread(_read_all, master))
    out = io.StringIO()
    try:
        assert terminal.isatty()
        status = await transcribe_files(settings, [str(clip)], fmt="text", out=out, err=terminal)
    finally:
        terminal.close()
    shown = (await asyncio.wait_for(reading, 10)).decode()
    os.close(master)
    assert status == 0, shown
    assert "Transcript\n[00:00] Speaker 1:" in out.getvalue()
    states = [line.strip() for line in re.split(r"[\r\n]", shown) if line.strip()]
    for step in ("preparing audio", "uploading audio", "transcribing"):
        assert any(line.startswith(f"memo.m4a: {step} ") for line in states), shown
    assert any("1/1 parts, " in line and " elapsed" in line for line in states), shown
    assert "memo.m4a: 12 s of audio, 1 Gemini request(s)" in shown
    assert gemini.deleted_files  # the upload really happened (and was cleaned up)


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


async def test_errors_are_one_line_each_and_the_rest_still_runs(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    settings = make_settings(slack, gemini, tmp_path, scribe_log_level="INFO")
    good = make_audio(tmp_path / "good.m4a", duration_s=6.0, codec="aac")
    broken = tmp_path / "broken.m4a"
    broken.write_bytes(b"\x00\x00\x00\x18ftypM4A " + b"garbage" * 200)
    out, err = io.StringIO(), io.StringIO()
    status = await transcribe_files(
        settings,
        [str(tmp_path / "missing.wav"), str(broken), str(good)],
        fmt="text",
        out=out,
        err=err,
    )
    assert status == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == f"slack-scribe: {tmp_path / 'missing.wav'}: no such file"
    assert lines[1].startswith(f"slack-scribe: {broken}: ")
    assert out.getvalue().startswith(f"==> {good} <==\nSummary\n")
    assert len(gemini.interaction_requests) == 1


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
async def test_subtitles_take_one_file(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, fmt: str
) -> None:
    settings = make_settings(slack, gemini, tmp_path, scribe_log_level="INFO")
    err = io.StringIO()
    status = await transcribe_files(settings, ["a.m4a", "b.m4a"], fmt=fmt, err=err)
    assert status == 2
    assert err.getvalue() == f"slack-scribe: --format {fmt} takes one FILE at a time\n"
    assert gemini.requests == []


async def test_several_files_as_json_are_one_array(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    settings = make_settings(slack, gemini, tmp_path, scribe_log_level="INFO")
    a = make_audio(tmp_path / "a.m4a", duration_s=4.0, codec="aac")
    b = make_audio(tmp_path / "b.mp3", duration_s=5.0, codec="mp3")
    out = io.StringIO()
    status = await transcribe_files(settings, [str(a), str(b)], fmt="json", out=out)
    assert status == 0
    data = json.loads(out.getvalue())
    assert [d["file"] for d in data] == [str(a), str(b)]
    assert all(d["segments"] for d in data)
