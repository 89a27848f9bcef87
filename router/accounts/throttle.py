"""The console's login throttle: after ``attempts`` failed logins of one
(username, address) within ``lockout`` seconds, that pair is refused for
``lockout`` seconds. An attempt counts before its password is checked, so
parallel guesses cannot slip past the limit while argon2 is busy; a
success clears it.

The rule is here; where the attempts are counted is the backend's: in
memory on one node (``agents_ui.sessions.LoginThrottle``), in the database
for a cluster (``router.cluster.postgres_throttle``), so that N nodes do
not allow N times the guesses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

LoginKey = tuple[str, str]  # (username in lower case, the client's address)


class LoginAttempts(Protocol):
    async def attempt(self, key: LoginKey) -> float | None:
        """Count an attempt of ``key``, or refuse it: the seconds until it
        may try again (then nothing is counted)."""
        ...

    async def succeeded(self, key: LoginKey) -> None:
        """The password was right: the key's failures are forgotten."""
        ...


@dataclass(frozen=True, slots=True)
class Failures:
    """A key's recent attempts (seconds on one clock) and its lock-out."""

    times: tuple[float, ...] = ()
    locked_until: float | None = None


def count_attempt(state: Failures, now: float, attempts: int, lockout: float) -> tuple[Failures, float | None]:
    """The key's state after an attempt at ``now``, and None; or, while it
    is locked out, its state unchanged and the seconds left."""
    if state.locked_until is not None:
        if state.locked_until > now:
            return state, state.locked_until - now
        state = Failures()  # served its time: a clean slate
    recent = [t for t in state.times if t > now - lockout]
    times = (*recent, now)[-attempts:]
    return Failures(times, now + lockout if len(times) >= attempts else None), None
