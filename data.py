"""The two-circles dataset: two noisy concentric rings that no straight line separates.

Run `python data.py` to draw the data to `figures/circles.png` and print the split
sizes and class balance. The experiment scripts import `load_circles` from here.

Reference setup (Brownlee, 2019): 1,000 points, noise 0.1, random_state 1, inputs
scaled to [-1, 1], first 500 rows for training and the last 500 for testing.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import make_circles
from sklearn.preprocessing import MinMaxScaler

from gradient_lab import cli


@dataclass
class DataConfig:
    num_samples: int = 1000  # Total points; half are used for training.
    noise: float = 0.1  # Standard deviation of the Gaussian noise on each point.
    data_seed: int = 1  # Seed of the data alone, so every model sees the same points.


def load_circles(num_samples=DataConfig.num_samples, noise=DataConfig.noise, data_seed=DataConfig.data_seed):
    """Generates, scales and splits the two-circles data.

    Args:
        num_samples: total number of points; the first half trains, the second half tests.
        noise: standard deviation of the Gaussian noise added to each point.
        data_seed: `random_state` of `make_circles`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: float32 inputs of shape `(n, 2)` scaled
        to [-1, 1], and float32 labels of shape `(n,)` holding 0 (outer) or 1 (inner).
    """
    x, y = make_circles(n_samples=num_samples, noise=noise, random_state=data_seed)
    # Scaling uses the whole set, as in the reference; the rings are symmetric anyway.
    x = MinMaxScaler(feature_range=(-1, 1)).fit_transform(x).astype("float32")
    y = y.astype("float32")
    num_train = num_samples // 2
    return (x[:num_train], y[:num_train]), (x[num_train:], y[num_train:])


def class_balance(y):
    """Returns the fraction of label 1 in `y`."""
    return float(np.mean(y))


def add_data_flags(parser):
    """Adds the dataset flags of `DataConfig` to an argparse parser."""
    defaults = DataConfig()
    parser.add_argument(
        "--num-samples",
        type=cli.positive_int(minimum=4),
        default=defaults.num_samples,
        help="total number of points (default: %(default)s)",
    )
    parser.add_argument(
        "--noise",
        type=cli.non_negative_float(),
        default=defaults.noise,
        help="noise standard deviation (default: %(default)s)",
    )
    parser.add_argument(
        "--data-seed",
        type=cli.non_negative_int(),
        default=defaults.data_seed,
        help="random_state of make_circles (default: %(default)s)",
    )


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_flags(parser)
    parser.add_argument("--figure-dir", default="figures", help="where to write circles.png (default: %(default)s)")
    args = parser.parse_args(argv)
    figure_dir = cli.writable_dir(args.figure_dir)

    (x_train, y_train), (x_test, y_test) = load_circles(args.num_samples, args.noise, args.data_seed)
    for name, x, y in [("train", x_train, y_train), ("test", x_test, y_test)]:
        print(f"{name:5s} {len(x)} points, {class_balance(y):.1%} inner circle (class 1)")

    from gradient_lab.figures import training as training_figures  # Imported here so that `import data` stays light.

    path = training_figures.save_circles(x_train, y_train, x_test, y_test, figure_dir / "circles.png", args.noise)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
