"""The diabetes regression data (Efron et al. 2004, "Least Angle
Regression"): 442 patients, 10 baseline variables (age, sex, body mass
index, blood pressure, six blood serum measurements), and a quantitative
measure of disease progression one year later.

Read from the copy shipped inside scikit-learn (`load_diabetes`: no network,
no files of ours), the one well-kept package that installs offline with a
real regression target. It has no official test split, so a fixed one is
drawn here (TEST_SIZE patients, seed 0). The target is given in units of the
training split's standard deviation around its mean (progression: mean
151.4, std 77.0 over those 354 patients), so regression losses start at
the scale of 1 whatever the optimizer; multiply errors by 77.0 for the
original units.
"""
import functools

import numpy as np

from dlexp.data.base import RawData
from dlexp.errors import DataError

NUM_EXAMPLES = 442
TEST_SIZE = 88
NUM_TRAIN = NUM_EXAMPLES - TEST_SIZE
INPUT_SHAPE = (10,)


@functools.lru_cache(maxsize=1)
def _arrays():
  try:
    from sklearn.datasets import load_diabetes  # pylint: disable=g-import-not-at-top; optional: the dev extra
  except ImportError:
    raise DataError("dataset 'diabetes' is read from scikit-learn, which is "
                    "not installed: pip install 'dlexp[regression]' (or "
                    'scikit-learn)') from None
  x, y = load_diabetes(return_X_y=True, scaled=False)
  return np.asarray(x, np.float64), np.asarray(y, np.float64)


def split():
  """(train indices, test indices) of the fixed test split."""
  perm = np.random.default_rng(0).permutation(NUM_EXAMPLES)
  return np.sort(perm[TEST_SIZE:]), np.sort(perm[:TEST_SIZE])


def load_raw(data_cfg) -> RawData:
  """354 train / 88 test patients; x float32 (N, 10) in the variables' own
  units, y float32 (N,) progression standardized with the training split's
  mean and std."""
  del data_cfg  # Shipped with scikit-learn: nothing to locate or download.
  x, y = _arrays()  # cached: read-only use below
  train, test = split()
  mean, std = y[train].mean(), y[train].std()
  y = (y - mean) / std
  return RawData(train_x=x[train].astype(np.float32),
                 train_y=y[train].astype(np.float32),
                 test_x=x[test].astype(np.float32),
                 test_y=y[test].astype(np.float32), class_names=())
