"""The biases the generator can plant against the naive attribution methods, and how a person's pace drives
whether they take the AI (`events` draws with them; `truth` records them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Biases:
    """What real data does to the naive methods, planted on purpose (truth.json records it).

    - `trend_seconds_per_month`: ACW and letter staff time (acw_seconds, work_seconds) rise by this many
      seconds with each calendar month of the window, in every unit, AI or not (pre_go_live books it as saving);
    - `self_selection`: a person's own pace drives how often they take the AI: the log-odds of an AI summary or
      draft rise by this much per standard deviation of the person's pace (slow people, long ACW, take it most;
      0: at random, as `org.OFFER_PROBABILITY` and `org.AI_DRAFT_PROBABILITY`); it biases every comparison
      across people (concurrent_control, pre_go_live);
    - `never_live`: a team (with a go-live in `org.GO_LIVE`) that never goes live: a control for every month.
    """

    trend_seconds_per_month: float = 0.0
    self_selection: float = 0.0
    never_live: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"trend_seconds_per_month": self.trend_seconds_per_month, "self_selection": self.self_selection,
                "never_live": self.never_live}


def take_probability(base: float, pace: np.ndarray, pace_sd: float, strength: float) -> np.ndarray:
    """P(the person takes the AI on an item): `base` for everyone without self-selection, else
    1 / (1 + exp(−(logit(base) + strength × pace / pace_sd)))."""
    if strength == 0:
        return np.full(pace.shape, base)
    return 1 / (1 + np.exp(-(np.log(base / (1 - base)) + strength * pace / pace_sd)))


NO_BIASES = Biases()  # an organization without them
