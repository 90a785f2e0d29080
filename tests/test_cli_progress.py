"""`slack-scribe transcribe`'s progress bar: parts done of total, elapsed time, an estimate.

It is fed by the transcription's progress events (the Slack status message's feed) and
draws on a terminal only; in a pipe stderr stays empty.
"""

from __future__ import annotations

import io
import itertools
import re
import time
from pathlib import Path

from bot.gemini.progress import Progress
from bot.ops.local_transcribe import transcribe_files
from bot.ops.progress import ProgressBar
from tests.conftest import make_settings
from tests.emulators.gemini import GeminiEmulator, Truncated
from tests.emulators.slack import SlackEmulator
from tests.test_long_recordings import chunk_requests, long_clip

ELAPSED = r"(\d\d):(\d\d) elapsed"
LEFT = r"~(\d\d):(\d\d) left"


class FakeTerminal(io.StringIO):
    """What the bar writes, as if stderr were a terminal."""

    def isatty(self) -> bool:
        return True


def drawn(shown: str) -> list[str]:
    """Each state of the bar (it redraws its line with a carriage return)."""
    return [line.strip() for line in re.split(r"[\r\n]", shown) if line.strip()]


def test_events_move_the_bar_with_elapsed_time_and_an_estimate() -> None:
    terminal = FakeTerminal()
    bar = ProgressBar(terminal)
    bar.start("panel.mp3")
    bar.prepared(uploading=lambda: False)
    bar.on_progress(Progress("transcribing", 0, 4))
    time.sleep(1.05)  # the estimate is shown in whole seconds
    bar.on_progress(Progress("transcribing", 1, 4))
    bar.on_progress(Progress("transcribing", 2, 4))
    bar.on_progress(Progress("combining", 4, 4))
    bar.note("panel.mp3: a summary line")
    bar.clear()

    lines = drawn(terminal.getvalue())
    assert lines[0].startswith("panel.mp3: preparing audio |")
    assert re.search(ELAPSED, lines[0]) and "parts" not in lines[0]  # no parts planned yet
    one = next(line for line in lines if "1/4 parts" in line)
    assert one.startswith("panel.mp3: transcribing |")
    elapsed = re.search(ELAPSED, one)
    left = re.search(LEFT, one)
    assert elapsed and left, one
    assert elapsed.groups() == ("00", "01")
    # 1 part took ~1 s, 3 are left: about 3 s (a slow machine may make it 4).
    assert left.group(1) == "00" and 3 <= int(left.group(2)) <= 5, one
    assert any("2/4 parts" in line and re.search(LEFT, line) for line in lines)
    done = next(line for line in lines if "4/4 parts" in line)
    assert done.startswith("panel.mp3: combining |") and "left" not in done
    assert "panel.mp3: a summary line" in lines
    assert terminal.getvalue().endswith("\r")  # the bar's line is erased at the end


def test_the_upload_is_a_step_until_it_is_done() -> None:
    terminal = FakeTerminal()
    uploaded = False
    bar = ProgressBar(terminal)
    bar.start("memo.m4a")
    bar.prepared(uploading=lambda: not uploaded)
    bar.on_progress(Progress("transcribing", 0, 1))
    uploaded = True
    bar.on_progress(Progress("transcribing", 1, 1))
    bar.clear()

    lines = drawn(terminal.getvalue())
    steps = [step for step, _ in itertools.groupby(line.split(" |")[0] for line in lines)]
    assert steps == [
        "memo.m4a: preparing audio",
        "memo.m4a: uploading audio",
        "memo.m4a: transcribing",
    ]
    # The single part's request waits for the upload.
    assert any(
        line.startswith("memo.m4a: uploading audio |") and "0/1 parts" in line for line in lines
    )
    assert "1/1 parts" in lines[-1]


def test_nothing_on_stderr_when_it_is_not_a_terminal() -> None:
    pipe = io.StringIO()
    bar = ProgressBar(pipe)
    bar.start("panel.mp3")
    bar.prepared(uploading=lambda: True)
    for done in range(5):
        bar.on_progress(Progress("transcribing", done, 4))
    bar.on_progress(Progress("combining", 4, 4))
    bar.note("panel.mp3: a summary line")
    bar.clear()
    assert pipe.getvalue() == ""


async def test_a_chunked_recording_shows_parts_done_of_total_on_a_terminal(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    """The whole CLI path against the Gemini emulator: a truncated answer, then chunks."""
    clip = long_clip(tmp_path / "five-min.mp3", minutes=5)
    gemini.script(Truncated({"summary": "x", "segments": []}))
    settings = make_settings(slack, gemini, tmp_path, scribe_log_level="INFO")
    out, terminal = io.StringIO(), FakeTerminal()

    status = await transcribe_files(settings, [str(clip)], fmt="text", out=out, err=terminal)

    shown = terminal.getvalue()
    assert status == 0, shown
    assert out.getvalue().startswith("Summary\n")
    assert "five-min" not in out.getvalue() and "parts" not in out.getvalue()
    total = len(chunk_requests(gemini))
    assert total >= 2
    lines = drawn(shown)
    assert lines[0].startswith("five-min.mp3: preparing audio |")
    for done in range(total + 1):
        assert any(f" {done}/{total} parts, " in line for line in lines), (done, lines)
    assert all(re.search(ELAPSED, line) for line in lines if " parts, " in line), lines
    assert any(re.search(LEFT, line) for line in lines if f"1/{total} parts" in line), lines
    assert any(line.startswith("five-min.mp3: combining |") for line in lines), lines
    assert any(re.match(r"five-min\.mp3: \d+ s of audio, ", line) for line in lines), lines
    assert shown.endswith("\r")
