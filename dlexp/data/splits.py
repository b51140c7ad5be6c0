"""From a loader's raw arrays to a Dataset: validation split, limits, float32,
standardization with training statistics only."""
from typing import Tuple

import numpy as np

from dlexp.data.base import Dataset, RawData
from dlexp.errors import ConfigError, DataError

# Rows of the (rows, C) view per chunk when accumulating statistics in
# float64: bounds the float64 temporaries (8 MiB per channel) instead of
# converting a whole split at once.
_CHUNK_ROWS = 1 << 20

# data.val_size sentinel: a validation split sized for the dataset.
AUTO_VAL_SIZE = -1
_AUTO_VAL_FRACTION = 0.1
_AUTO_VAL_CAP = 5000


def resolve_val_size(val_size: int, num_train: int) -> int:
  """The validation size used: `val_size` as given, or for AUTO_VAL_SIZE
  min(5000, 10% of the official training split `num_train`): Fashion-MNIST
  5000 of 60000, MNIST-1D 400 of 4000."""
  if val_size != AUTO_VAL_SIZE:
    return val_size
  return min(_AUTO_VAL_CAP, int(num_train * _AUTO_VAL_FRACTION))


def split_indices(num_train: int, val_size: int, split_seed: int,
                  train_limit: int = 0) -> Tuple[np.ndarray, np.ndarray]:
  """(train indices, validation indices) into the official training split.

  One fixed permutation per split_seed: the first val_size indices are the
  validation set, the rest (in permuted order, so train_limit keeps a random
  subset rather than a possibly ordered prefix) the training set.
  """
  perm = np.random.default_rng(split_seed).permutation(num_train)
  train, val = perm[val_size:], perm[:val_size]
  if train_limit:
    train = train[:train_limit]
  return train, val


def _to_float32(x: np.ndarray) -> np.ndarray:
  """float32 copy; uint8 pixels are scaled to [0, 1]."""
  out = x.astype(np.float32)
  if x.dtype == np.uint8:
    out *= np.float32(1 / 255)
  return out


def _stat_view(x: np.ndarray) -> np.ndarray:
  """x as (rows, C): per channel for multi-channel images/sequences, one
  column (a scalar statistic) for one channel or flat vectors."""
  if x.ndim >= 3 and x.shape[-1] > 1:
    return x.reshape(-1, x.shape[-1])
  return x.reshape(-1, 1)


def train_statistics(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """(mean, std) of x, float32, shape () or (C,); accumulated in float64
  chunk by chunk (two passes, so no cancellation and no float64 copy)."""
  rows = _stat_view(x)
  n = len(rows)
  total = np.zeros(rows.shape[1], np.float64)
  for start in range(0, n, _CHUNK_ROWS):
    total += rows[start:start + _CHUNK_ROWS].sum(0, dtype=np.float64)
  mean = total / max(n, 1)
  sq = np.zeros_like(total)
  for start in range(0, n, _CHUNK_ROWS):
    d = rows[start:start + _CHUNK_ROWS].astype(np.float64) - mean
    sq += np.einsum('ij,ij->j', d, d)
  std = np.sqrt(sq / max(n, 1))
  # A constant channel would divide by zero; leave its scale alone.
  std = np.where(std > 1e-12, std, 1.0)
  if rows.shape[1] == 1:
    mean, std = mean[0], std[0]
  return np.asarray(mean, np.float32), np.asarray(std, np.float32)


def _readonly(a: np.ndarray) -> np.ndarray:
  a.setflags(write=False)
  return a


def make_dataset(name: str, raw: RawData, data_cfg) -> Dataset:
  """Splits, limits, converts and standardizes `raw` as `data_cfg` says."""
  for split in ('train', 'test'):
    x, y = getattr(raw, f'{split}_x'), getattr(raw, f'{split}_y')
    if len(x) != len(y):
      raise DataError(f'{name}: {split} split has {len(x)} inputs but '
                      f'{len(y)} labels')
    if len(y) and (y.min() < 0 or y.max() >= len(raw.class_names)):
      raise DataError(f'{name}: {split} labels span {y.min()}..{y.max()}, '
                      f'outside 0..{len(raw.class_names) - 1}')
  num_train = len(raw.train_y)
  if not num_train:
    raise DataError(f'{name}: the training split is empty')
  val_size = resolve_val_size(data_cfg.val_size, num_train)
  if val_size >= num_train:
    raise ConfigError(f'data.val_size={data_cfg.val_size} must be < '
                      f'{num_train}, the number of {name} training examples')
  train_idx, val_idx = split_indices(num_train, val_size,
                                     data_cfg.split_seed,
                                     data_cfg.train_limit)
  test_idx = slice(0, data_cfg.test_limit or None)

  # Index the raw (often uint8) arrays first, so the float32 copies are the
  # only full-size float arrays made.
  xs = {'train': _to_float32(raw.train_x[train_idx]),
        'val': _to_float32(raw.train_x[val_idx]),
        'test': _to_float32(raw.test_x[test_idx])}
  ys = {'train': raw.train_y[train_idx], 'val': raw.train_y[val_idx],
        'test': raw.test_y[test_idx]}
  if data_cfg.standardize:
    mean, std = train_statistics(xs['train'])
  else:
    channels = _stat_view(xs['train'][:0]).shape[1]
    shape = (channels,) if channels > 1 else ()
    mean, std = np.zeros(shape, np.float32), np.ones(shape, np.float32)
  for x in xs.values():
    if data_cfg.standardize:
      x -= mean  # in place: no second copy of each split
      x /= std
    _readonly(x)
  return Dataset(
      name=name,
      train_x=xs['train'], train_y=_readonly(ys['train'].astype(np.int32)),
      val_x=xs['val'], val_y=_readonly(ys['val'].astype(np.int32)),
      test_x=xs['test'], test_y=_readonly(ys['test'].astype(np.int32)),
      class_names=tuple(raw.class_names),
      num_classes=len(raw.class_names),
      input_shape=tuple(int(d) for d in raw.train_x.shape[1:]),
      mean=_readonly(mean), std=_readonly(std))
