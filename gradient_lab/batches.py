"""The mini-batches of an epoch on JAX and PyTorch, each seed with its own shuffle.

On TensorFlow the epoch call shuffles inside the graph (`tf_speed.whole_epochs.epoch_order`).
On the other backends the order is drawn in NumPy, so that seed k's single run and member k of
the stacked seeds (`stacked_ops`) see the same batches: both draw from `epoch_orders(k)`.
"""

import keras
import numpy as np


def epoch_orders(seed, num_samples):
    """Yields a new random order of `num_samples` points every epoch, from a generator seeded with `seed` alone."""
    generator = np.random.default_rng(seed)
    while True:
        yield generator.permutation(num_samples)


class ShuffledBatches(keras.utils.PyDataset):
    """`(x, y)` in mini-batches of `batch_size`, reshuffled every epoch by `seed`; the last batch holds the rest.

    What `model.fit(x, y, batch_size=batch_size, shuffle=True)` feeds, with the shuffle
    drawn from `seed` alone (not from Keras's global random state).
    """

    def __init__(self, x, y, batch_size, seed):
        super().__init__()
        self.x, self.y, self.batch_size = np.asarray(x), np.asarray(y).reshape(len(x), -1), batch_size
        self.orders = epoch_orders(seed, len(x))
        self.order = next(self.orders)

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[rows], self.y[rows]

    def on_epoch_end(self):
        self.order = next(self.orders)


class MemberBatches(ShuffledBatches):
    """The stacked seeds' mini-batches: member k's batch `[members, batch, ...]` in seed `seeds[k]`'s order."""

    def __init__(self, x, y, batch_size, seeds):
        super().__init__(x, y, batch_size, seeds[0])
        self.member_orders = [epoch_orders(seed, len(x)) for seed in seeds]
        self.order = np.stack([next(orders) for orders in self.member_orders])

    def __getitem__(self, index):
        rows = self.order[:, index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[rows], self.y[rows]

    def on_epoch_end(self):
        self.order = np.stack([next(orders) for orders in self.member_orders])
