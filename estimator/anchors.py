"""Published serving results (``data/serving_anchors.csv``) next to this planner's prediction for the same
setup: one typed row shared by the serving-technique modules (``disagg``, ``speculative``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ANCHOR_TOLERANCE", "AnchorCheck", "anchor_table"]

ANCHOR_TOLERANCE = 0.25
"""Issue 14: each technique reproduces its published results within 25%."""


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

    def within(self, tolerance: float = ANCHOR_TOLERANCE) -> bool:
        """Whether the prediction is within ``tolerance`` of the published figure (``|ratio - 1| <= tol``)."""
        return abs(self.ratio - 1.0) <= tolerance


def anchor_table(checks: tuple[AnchorCheck, ...] | list[AnchorCheck], tolerance: float = ANCHOR_TOLERANCE) -> list[str]:
    """The bench scripts' text table: one line per anchor (published, ours, ratio, within tolerance) and a count."""
    lines = [f"{'anchor':32s} {'metric':38s} {'published':>12s} {'ours':>12s} {'ratio':>6s}  within {tolerance:.0%}"]
    lines += [f"{c.anchor_id:32s} {c.metric:38s} {c.published:12.4g} {c.predicted:12.4g} {c.ratio:6.2f}  "
              f"{'yes' if c.within(tolerance) else 'NO'}" for c in checks]
    lines.append(f"\n{sum(c.within(tolerance) for c in checks)} of {len(checks)} anchors within {tolerance:.0%}.")
    return lines
