"""What the console's live signals serve besides the API: the alert sound is
the one ``agents_ui.alert_sound`` makes (no borrowed asset), a short WAV the
page may fetch."""

from __future__ import annotations

import io
import wave

from agents_ui.alert_sound import PATH, RATE, render
from tests.agents_ui.conftest import Client


def _frames(data: bytes) -> tuple[wave._wave_params, bytes]:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getparams(), wav.readframes(wav.getnframes())


def test_the_alert_sound_is_the_one_made_here() -> None:
    shipped, made = _frames(PATH.read_bytes()), _frames(render())
    assert shipped[0] == made[0]
    # a libm's last bit may differ from machine to machine: the samples agree within one step
    pairs = zip(memoryview(shipped[1]).cast("h"), memoryview(made[1]).cast("h"), strict=True)
    assert all(abs(a - b) <= 1 for a, b in pairs)
    params = shipped[0]
    assert params.nchannels == 1 and params.framerate == RATE and params.nframes / RATE < 0.5  # short


async def test_the_console_serves_it(client: Client) -> None:
    resp = await client.get("/console/alert.wav")
    assert resp.status == 200 and resp.headers["Content-Type"] == "audio/x-wav"
    assert await resp.read() == PATH.read_bytes()
