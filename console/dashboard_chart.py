"""The geometry of the dashboard's per-hour bar chart, rendered as SVG by the template (no
JavaScript, no chart library). Heights are proportional to the counts; a non-zero count is
never drawn thinner than MIN_BAR_HEIGHT so that it stays visible."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from console.dashboard import HourCount

WIDTH = 400.0  # about the card's width at 1024-1400 px, so that 11 px text stays 11 px
HEIGHT = 170.0
LEFT, RIGHT, TOP, BOTTOM = 36.0, 8.0, 10.0, 34.0
BAR_FILL = 0.75  # of each hour's slot
MIN_BAR_HEIGHT = 1.5
X_LABEL_EVERY = 6  # hours


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str  # "14:00–15:00"


@dataclass(frozen=True)
class AxisLabel:
    position: float  # x for the hour axis, y for the count axis
    text: str


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    x_labels: list[AxisLabel]
    y_labels: list[AxisLabel]
    total: int
    peak: HourCount | None
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    baseline: float = HEIGHT - BOTTOM
    right: float = WIDTH - RIGHT

    @property
    def description(self) -> str:
        if self.peak is None:
            return f"No instances received in the last {len(self.bars)} hours."
        start = timezone.localtime(self.peak.start)
        return (f"{self.total} instances received in the last {len(self.bars)} hours; "
                f"most ({self.peak.count}) between {start:%H}:00 and the next hour.")


def hour_label(hour: HourCount) -> str:
    start = timezone.localtime(hour.start)
    return f"{start:%H}:00–{(start.hour + 1) % 24:02d}:00"


def y_ticks(peak: int) -> list[int]:
    """0, the middle (when it is a whole number) and the peak."""
    if peak <= 0:
        return [0]
    ticks = [0, peak]
    if peak >= 2 and peak % 2 == 0:
        ticks.insert(1, peak // 2)
    return ticks


def bar_chart(hours: list[HourCount]) -> BarChart:
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = HEIGHT - BOTTOM
    peak = max(hours, key=lambda h: h.count, default=None)
    top = peak.count if peak is not None else 0
    slot = plot_width / max(1, len(hours))
    bars, x_labels = [], []
    for index, hour in enumerate(hours):
        height = plot_height * hour.count / top if top else 0.0
        if hour.count:
            height = max(height, MIN_BAR_HEIGHT)
        x = LEFT + index * slot + slot * (1 - BAR_FILL) / 2
        bars.append(Bar(round(x, 2), round(baseline - height, 2), round(slot * BAR_FILL, 2),
                        round(height, 2), hour.count, hour_label(hour)))
        if index % X_LABEL_EVERY == 0:
            x_labels.append(AxisLabel(round(LEFT + index * slot, 2),
                                      f"{timezone.localtime(hour.start):%H}:00"))
    y_labels = [AxisLabel(round(baseline - plot_height * tick / top if top else baseline, 2),
                          str(tick)) for tick in y_ticks(top)]
    return BarChart(bars, x_labels, y_labels, total=sum(h.count for h in hours),
                    peak=peak if top else None)
