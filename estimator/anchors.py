"""Published serving results (``data/serving_anchors.csv``) next to this planner's prediction for the same
setup: one typed row shared by the serving-technique modules (``disagg``, ``speculative``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["AnchorCheck"]


class AnchorCheck(BaseModel):
    """A published figure of ``data/serving_anchors.csv`` next to the model's prediction for its setup."""

    model_config = ConfigDict(frozen=True)

    anchor_id: str
    metric: str
    published: float
    predicted: float
    source: str

    @property
    def ratio(self) -> float:
        """predicted / published."""
        return self.predicted / self.published
