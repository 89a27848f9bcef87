"""The console's alert sound (``static/alert.wav``), made here from two sine
tones rather than taken from anywhere: ``python -m agents_ui.alert_sound``
writes it again, byte for byte (tests/agents_ui/test_signals_page.py checks)."""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path

RATE = 16_000
# a rising two-note chime: short enough not to annoy, distinct from a message's click
NOTES = ((880.0, 0.12), (1318.5, 0.18))
VOLUME = 0.35
PATH = Path(__file__).parent / "static" / "alert.wav"


def _samples() -> list[int]:
    out: list[int] = []
    for frequency, seconds in NOTES:
        count = int(RATE * seconds)
        for i in range(count):
            # 5 ms fade in, exponential decay: no click at either end
            envelope = min(1.0, i / (RATE * 0.005)) * math.exp(-4.0 * i / count)
            out.append(round(32767 * VOLUME * envelope * math.sin(2 * math.pi * frequency * i / RATE)))
    return out


def render() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        samples = _samples()
        wav.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buffer.getvalue()


if __name__ == "__main__":
    PATH.write_bytes(render())
    print(f"{PATH}: {PATH.stat().st_size} bytes")
