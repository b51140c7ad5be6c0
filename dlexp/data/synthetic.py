"""A small, learnable, seeded dataset for tests and smoke runs: Gaussian class
clusters around random class centres."""
from typing import Tuple

import numpy as np

from dlexp.data.base import RawData

NUM_TRAIN = 10000
NUM_TEST = 2000
IMAGE_SHAPE = (8, 8, 1)
VECTOR_SHAPE = (64,)


def make_synthetic(shape: Tuple[int, ...] = IMAGE_SHAPE,
                   num_train: int = NUM_TRAIN, num_test: int = NUM_TEST,
                   num_classes: int = 10, seed: int = 0,
                   noise: float = 1.0) -> RawData:
  """Class c's inputs are centre_c + noise * N(0, I); same seed, same data.

  With unit-variance centres in 64 dimensions the classes are far apart
  relative to the noise, so a linear model already learns them.
  """
  rng = np.random.default_rng(seed)
  dim = int(np.prod(shape))
  centres = rng.standard_normal((num_classes, dim), dtype=np.float32)

  def sample(n):
    y = rng.integers(0, num_classes, size=n).astype(np.int32)
    x = centres[y] + np.float32(noise) * rng.standard_normal(
        (n, dim), dtype=np.float32)
    return x.reshape((n,) + tuple(shape)), y

  train_x, train_y = sample(num_train)
  test_x, test_y = sample(num_test)
  return RawData(train_x=train_x, train_y=train_y, test_x=test_x,
                 test_y=test_y,
                 class_names=tuple(str(i) for i in range(num_classes)))


def load_images(data_cfg) -> RawData:
  """'synthetic': (8, 8, 1) images, seed 0."""
  del data_cfg  # Fixed data: split_seed only chooses the validation split.
  return make_synthetic(IMAGE_SHAPE)


def load_vectors(data_cfg) -> RawData:
  """'synthetic_vector': flat (64,) vectors, seed 0."""
  del data_cfg
  return make_synthetic(VECTOR_SHAPE)
