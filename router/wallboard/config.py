"""The wallboard's settings: ``wallboard:`` in ``config/omnirouter.yaml``."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class ValuableConfig(BaseModel):
    """Who counts as a valuable customer on the wallboard: the same two facts
    the rules read (``customer_tier``: the ``tier`` attribute; ``customer_ltv``:
    ``lifetime_value``, 0 when unset or not a number). Set it to the condition
    of the rule that sends valuable customers ahead; empty: nobody."""

    model_config = ConfigDict(extra="forbid")
    # in lower case, as the rules' customer_tier reads a customer's tier: 'Gold' here is 'gold'
    tiers: Annotated[list[str], AfterValidator(lambda tiers: [t.lower() for t in tiers])] = Field(
        default_factory=list, description="a customer whose tier is one of these")
    min_ltv: float | None = Field(None, ge=0, description="or whose lifetime value is at least this")


class WallboardConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # the most often a node computes the board while someone watches it
    interval: float = Field(1.0, ge=0.1, le=10.0, description="seconds between two computations at most")
    # computed again after this long without an event (a snooze that ran out); also the heartbeat of the screens
    refresh: float = Field(15.0, ge=1.0, le=300.0, description="seconds between computations without any event")
    valuable: ValuableConfig = ValuableConfig()
