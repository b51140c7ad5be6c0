"""Your own data: numpy arrays as a Dataset that `runner.run(dataset=...)`
and `dlexp.fit(data=...)` accept, split and standardized exactly as the named
datasets are (dlexp.data.splits.make_dataset).

Layouts of x (the batch axis first): images (N, H, W, C), sequences (N, L, C)
or vectors (N, D); uint8 values are scaled to [0, 1], floats are taken as
they are. Labels are integer class ids 0..K-1 (shape (N,) or (N, 1)), or
float regression targets (N,) or (N, d) (train with loss mse, mae or huber).
"""
from typing import Optional, Sequence, Union

import ml_collections
import numpy as np

from dlexp.data.base import Dataset, RawData
from dlexp.data.splits import make_dataset
from dlexp.errors import DataError


def _labels(y, what: str) -> np.ndarray:
  y = np.asarray(y)
  if np.issubdtype(y.dtype, np.floating):  # regression targets
    if y.ndim not in (1, 2):
      raise DataError(f'{what} has shape {y.shape}; regression targets need '
                      '(N,) or (N, d)')
    return y.astype(np.float32)
  if y.ndim == 2 and y.shape[1] == 1:
    y = y[:, 0]  # Keras-style (N, 1) labels
  if y.ndim != 1:
    raise DataError(f'{what} has shape {y.shape}; need (N,) class ids')
  if not np.issubdtype(y.dtype, np.integer):
    raise DataError(f'{what} has dtype {y.dtype}; need integer class ids '
                    'or float regression targets')
  if len(y) and y.min() < 0:
    raise DataError(f'{what} holds {y.min()}; class ids start at 0')
  return y


def _inputs(x, what: str) -> np.ndarray:
  x = np.asarray(x)
  if x.ndim < 2:
    raise DataError(f'{what} has shape {x.shape}; need (N, ...) with the '
                    'examples on the first axis')
  if not (x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating)):
    raise DataError(f'{what} has dtype {x.dtype}; need uint8 or float')
  return x


def _val_count(val_size: Union[int, float], num_train: int) -> int:
  if isinstance(val_size, float) and 0 < val_size < 1:
    return max(1, int(round(val_size * num_train)))
  if (isinstance(val_size, (int, np.integer)) and not isinstance(val_size, bool)
      and 1 <= val_size < num_train):
    return int(val_size)
  raise DataError(f'val_size={val_size!r} not allowed; need a fraction in '
                  f'(0, 1) or a count in 1..{num_train - 1} (the validation '
                  'split drives early stopping and the best epoch)')


def from_arrays(x_train, y_train, x_test=None, y_test=None, *,
                val_size: Union[int, float] = 0.1, split_seed: int = 0,
                standardize: bool = True,
                class_names: Optional[Sequence[str]] = None,
                name: str = 'arrays') -> Dataset:
  """A Dataset from numpy arrays.

  The validation split (`val_size`: a fraction of the training examples, or
  a count) is carved from the training arrays with `split_seed`; the
  standardization statistics come from what remains for training. Without
  x_test/y_test the test split is empty and no test metrics are computed.
  `class_names` defaults to '0'..'K-1' with K = the largest label + 1
  (none for regression targets).
  """
  x_train = _inputs(x_train, 'x_train')
  y_train = _labels(y_train, 'y_train')
  if (x_test is None) != (y_test is None):
    raise DataError('x_test and y_test go together: pass both or neither')
  if x_test is None:
    x_test = x_train[:0]
    y_test = y_train[:0]
  x_test, y_test = _inputs(x_test, 'x_test'), _labels(y_test, 'y_test')
  if x_test.shape[1:] != x_train.shape[1:]:
    raise DataError(f'x_test examples have shape {x_test.shape[1:]}, x_train '
                    f'ones {x_train.shape[1:]}')
  if (y_train.dtype.kind == 'f') != (y_test.dtype.kind == 'f') or (
      y_train.shape[1:] != y_test.shape[1:]):
    raise DataError(f'y_test ({y_test.dtype}, {y_test.shape[1:]} per example) '
                    f'does not match y_train ({y_train.dtype}, '
                    f'{y_train.shape[1:]})')
  regression = y_train.dtype.kind == 'f'
  if regression and class_names is not None:
    raise DataError('class_names given for float regression targets')
  num_classes = 0 if regression else int(
      max(y_train.max(initial=0), y_test.max(initial=0))) + 1
  if class_names is None:
    class_names = tuple(str(i) for i in range(num_classes))
  elif len(class_names) < num_classes:
    raise DataError(f'class_names has {len(class_names)} names; the labels '
                    f'need {num_classes}')
  cfg = ml_collections.ConfigDict(dict(
      val_size=_val_count(val_size, len(y_train)), split_seed=int(split_seed),
      standardize=bool(standardize), train_limit=0, test_limit=0,
      classes=()))
  raw = RawData(x_train, y_train, x_test, y_test, tuple(class_names))
  return make_dataset(name, raw, cfg)
