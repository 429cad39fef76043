"""Writing a figure as a PNG, for every figure module; importing it selects matplotlib's file-only backend."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Write files; never open a window.
import matplotlib.pyplot as plt  # noqa: E402

DPI = 110  # Readable at README size.


def save(figure, path):
    """Writes `figure` to `path` as a PNG and closes it; returns the path, or None when `figure` is None."""
    if figure is None:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    return path
