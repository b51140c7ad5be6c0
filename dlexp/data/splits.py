"""From a loader's raw arrays to a Dataset: validation split, limits, the
input transforms (float32 pixel scale, resize, channels: transforms.py),
standardization with training statistics only."""
from typing import Dict, Tuple

import numpy as np

from dlexp.data import transforms
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


def resolve_val_size(val_size: int, num_train: int, cv_folds: int = 0) -> int:
  """The validation size used: `val_size` as given, or for AUTO_VAL_SIZE
  min(5000, 10% of the official training split `num_train`): Fashion-MNIST
  5000 of 60000, MNIST-1D 400 of 4000; 0 under cross-validation, where the
  held-out fold validates."""
  if val_size != AUTO_VAL_SIZE:
    return val_size
  if cv_folds:
    return 0
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


def check_classes(classes) -> None:
  """data.classes: distinct class ids >= 0, none or at least two."""
  ok = all(isinstance(c, int) and not isinstance(c, bool) and c >= 0
           for c in classes)
  if not ok or len(set(classes)) != len(classes) or len(classes) == 1:
    raise ConfigError(f'data.classes={classes!r} must be empty (all classes) '
                      'or at least two distinct class ids >= 0')


def check_train_part(part) -> None:
  """data.train_part: empty, or (i, k) with k >= 2 and 0 <= i < k."""
  ok = all(isinstance(v, int) and not isinstance(v, bool) for v in part)
  if part and not (ok and len(part) == 2 and part[1] >= 2
                   and 0 <= part[0] < part[1]):
    raise ConfigError(f'data.train_part={part!r} must be empty (all) or '
                      '(i, k): part i of k, with k >= 2 and 0 <= i < k')


# The partition of data.train_part: one fixed permutation, independent of
# split_seed, so that parts stay disjoint whatever else differs.
_PART_SEED = 0x70617274


def keep_part(raw: RawData, part) -> RawData:
  """Only part i of k (`part` = (i, k)) of raw's official training split:
  a fixed random partition into k parts whose sizes differ by at most one,
  kept in their original order; the test split is unchanged."""
  part = tuple(part)
  if not part:
    return raw
  i, k = part
  n = len(raw.train_y)
  perm = np.random.default_rng(_PART_SEED).permutation(n)
  kept = np.sort(np.array_split(perm, k)[i])
  return RawData(raw.train_x[kept], raw.train_y[kept], raw.test_x,
                 raw.test_y, raw.class_names)


# Random streams of split_seed for the training-split changes.
_IMBALANCE_STREAM, _OUTLIER_STREAM = 0x696d62, 0x6f7574


def check_training_changes(cfg) -> None:
  """data.imbalance_* and data.target_outlier*: the values alone (the
  dataset decides the rest in make_dataset)."""
  classes = tuple(cfg.imbalance_classes)
  ratio, frac = float(cfg.imbalance_ratio), float(cfg.target_outliers)
  if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0
             for c in classes) or len(set(classes)) != len(classes):
    raise ConfigError(f'data.imbalance_classes={classes!r} must be distinct '
                      'class ids >= 0 (empty = balanced)')
  if not ratio >= 1:
    raise ConfigError(f'data.imbalance_ratio={ratio!r} must be >= 1 '
                      '(1 = balanced)')
  if bool(classes) != (ratio > 1):
    raise ConfigError(f'data.imbalance_classes={classes!r} and '
                      f'data.imbalance_ratio={ratio!r} go together: set both '
                      '(classes and a ratio > 1) or neither')
  if not 0 <= frac < 1:
    raise ConfigError(f'data.target_outliers={frac!r} must be in [0, 1)')
  if not cfg.target_outlier_scale > 0:
    raise ConfigError(f'data.target_outlier_scale={cfg.target_outlier_scale!r}'
                      ' must be > 0')


def subsample_classes(train_idx: np.ndarray, labels: np.ndarray, classes,
                      ratio: float, seed: int) -> np.ndarray:
  """`train_idx` keeping round(n_c / ratio) (at least 1) of the n_c examples
  of each class c in `classes`, a random choice drawn from `seed`; the
  order of the kept indices is unchanged."""
  rng = np.random.default_rng([seed, _IMBALANCE_STREAM])
  y = labels[train_idx]
  keep = np.ones(len(train_idx), bool)
  for c in classes:
    where = np.flatnonzero(y == c)
    kept = max(1, int(round(len(where) / ratio)))
    keep[rng.permutation(where)[kept:]] = False
  return train_idx[keep]


def add_target_outliers(y: np.ndarray, fraction: float, scale: float,
                        seed: int) -> np.ndarray:
  """A copy of targets `y` with round(fraction * N) of them, drawn from
  `seed`, shifted up by `scale` standard deviations of y (per output)."""
  rng = np.random.default_rng([seed, _OUTLIER_STREAM])
  y = np.array(y, np.float32)
  count = int(round(fraction * len(y)))
  chosen = rng.choice(len(y), size=count, replace=False)
  y[chosen] += np.float32(scale) * y.std(axis=0)
  return y


def _change_training_split(name: str, raw: RawData, train_idx, data_cfg,
                           regression: bool):
  """(train indices, train targets) after data.imbalance_* and
  data.target_outliers (the validation and test splits never change)."""
  classes = tuple(getattr(data_cfg, 'imbalance_classes', ()))
  fraction = float(getattr(data_cfg, 'target_outliers', 0.0))
  if classes and regression:
    raise ConfigError(f'data.imbalance_classes={classes!r} needs class '
                      f'labels; {name} has float regression targets')
  if fraction and not regression:
    raise ConfigError(f'data.target_outliers={fraction!r} needs float '
                      f'regression targets; {name} has class labels')
  if classes:
    bad = [c for c in classes if c >= len(raw.class_names)]
    if bad:
      raise ConfigError(f'data.imbalance_classes={classes!r}: class {bad[0]} '
                        f'is not one of the ids 0..{len(raw.class_names) - 1}')
    train_idx = subsample_classes(train_idx, raw.train_y, classes,
                                  float(data_cfg.imbalance_ratio),
                                  data_cfg.split_seed)
  train_y = raw.train_y[train_idx]
  if fraction:
    train_y = add_target_outliers(train_y, fraction,
                                  float(data_cfg.target_outlier_scale),
                                  data_cfg.split_seed)
  return train_idx, train_y


def keep_classes(name: str, raw: RawData, classes) -> RawData:
  """Only the examples of `classes`, relabelled 0..k-1 in that order (before
  the validation split and the statistics, which then see only them)."""
  classes = tuple(classes)
  if not classes:
    return raw
  missing = [c for c in classes if c >= len(raw.class_names)]
  if missing:
    raise ConfigError(f'data.classes={classes!r}: class {missing[0]} is not '
                      f'one of {name}\'s ids 0..{len(raw.class_names) - 1}')
  relabel = np.full(len(raw.class_names), -1, np.int64)
  relabel[list(classes)] = np.arange(len(classes))

  def keep(x, y):
    new = relabel[np.asarray(y, np.int64)]
    kept = np.flatnonzero(new >= 0)
    return x[kept], new[kept].astype(np.int32)

  train_x, train_y = keep(raw.train_x, raw.train_y)
  test_x, test_y = keep(raw.test_x, raw.test_y)
  return RawData(train_x, train_y, test_x, test_y,
                 tuple(raw.class_names[c] for c in classes))


def noisy_labels(y: np.ndarray, fraction: float, num_classes: int,
                 seed: int) -> np.ndarray:
  """A copy of `y` with round(fraction * N) labels, chosen at random,
  replaced by uniformly random classes (which may be the true one: at
  fraction 1 every label is random, as in Zhang et al. 2017)."""
  rng = np.random.default_rng([seed, 0x6e6f6973])  # its own stream
  y = np.array(y)
  chosen = rng.permutation(len(y))[:int(round(fraction * len(y)))]
  y[chosen] = rng.integers(0, num_classes, len(chosen))
  return y


def _stat_view(x: np.ndarray) -> np.ndarray:
  """x as (rows, C): per channel for multi-channel images/sequences, one
  column (a scalar statistic) for one channel or flat vectors."""
  if x.ndim >= 3 and x.shape[-1] > 1:
    return x.reshape(-1, x.shape[-1])
  return x.reshape(-1, 1)


def train_statistics(x: np.ndarray, per_feature: bool = False
                     ) -> Tuple[np.ndarray, np.ndarray]:
  """(mean, std) of x, float32, shape () or (C,), or with `per_feature`
  x.shape[1:] (one per input feature); accumulated in float64 chunk by
  chunk (two passes, so no cancellation and no float64 copy)."""
  rows = x.reshape(len(x), -1) if per_feature else _stat_view(x)
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
  if per_feature:
    mean, std = mean.reshape(x.shape[1:]), std.reshape(x.shape[1:])
  elif rows.shape[1] == 1:
    mean, std = mean[0], std[0]
  return np.asarray(mean, np.float32), np.asarray(std, np.float32)


def _readonly(a: np.ndarray) -> np.ndarray:
  a.setflags(write=False)
  return a


def _check_labels(name: str, raw: RawData, data_cfg, regression: bool) -> None:
  """DataError unless each split has one label per input and class ids in
  range; ConfigError for data.classes on regression targets."""
  for split in ('train', 'test'):
    x, y = getattr(raw, f'{split}_x'), getattr(raw, f'{split}_y')
    if len(x) != len(y):
      raise DataError(f'{name}: {split} split has {len(x)} inputs but '
                      f'{len(y)} labels')
    if not regression and len(y) and (y.min() < 0 or
                                      y.max() >= len(raw.class_names)):
      raise DataError(f'{name}: {split} labels span {y.min()}..{y.max()}, '
                      f'outside 0..{len(raw.class_names) - 1}')
  if regression and tuple(getattr(data_cfg, 'classes', ())):
    raise ConfigError(f'data.classes={tuple(data_cfg.classes)!r} needs class '
                      f'labels; {name} has float regression targets')


def _train_val_indices(name: str, raw: RawData, data_cfg
                       ) -> Tuple[np.ndarray, np.ndarray]:
  """(train, validation) indices into raw's training split, as data_cfg's
  val_size, split_seed and train_limit say."""
  num_train = len(raw.train_y)
  if not num_train:
    raise DataError(f'{name}: the training split is empty')
  val_size = resolve_val_size(data_cfg.val_size, num_train,
                              getattr(data_cfg, 'cv_folds', 0))
  if val_size >= num_train:
    raise ConfigError(f'data.val_size={data_cfg.val_size} must be < '
                      f'{num_train}, the number of {name} training examples')
  return split_indices(num_train, val_size, data_cfg.split_seed,
                       data_cfg.train_limit)


def _standardize(xs: Dict[str, np.ndarray], data_cfg
                 ) -> Tuple[np.ndarray, np.ndarray]:
  """Standardizes every split of `xs` in place with the training split's
  (mean, std) when data_cfg.standardize (else mean 0, std 1), makes the
  splits read-only and returns (mean, std)."""
  if data_cfg.standardize:
    mean, std = train_statistics(xs['train'],
                                 getattr(data_cfg, 'per_feature', False))
  else:
    channels = _stat_view(xs['train'][:0]).shape[1]
    shape = (channels,) if channels > 1 else ()
    mean, std = np.zeros(shape, np.float32), np.ones(shape, np.float32)
  for x in xs.values():
    if data_cfg.standardize:
      x -= mean  # in place: no second copy of each split
      x /= std
    _readonly(x)
  return mean, std


def make_dataset(name: str, raw: RawData, data_cfg) -> Dataset:
  """Keeps data_cfg.train_part and data_cfg.classes, then splits, limits,
  changes the training split (data.imbalance_*, data.target_outliers),
  converts and standardizes `raw` as `data_cfg` says. Float labels are
  regression targets (kept as float32; num_classes 0), integer ones class
  ids (int32)."""
  regression = np.issubdtype(np.asarray(raw.train_y).dtype, np.floating)
  _check_labels(name, raw, data_cfg, regression)
  raw = keep_part(raw, getattr(data_cfg, 'train_part', ()))
  raw = keep_classes(name, raw, getattr(data_cfg, 'classes', ()))
  transforms.check_raw(name, raw.train_x, data_cfg)
  train_idx, val_idx = _train_val_indices(name, raw, data_cfg)
  train_idx, train_y = _change_training_split(name, raw, train_idx, data_cfg,
                                               regression)
  test_idx = slice(0, data_cfg.test_limit or None)

  # Index the raw (often uint8) arrays first, so the float32 copies are the
  # only full-size float arrays made.
  xs = {'train': transforms.apply(raw.train_x[train_idx], data_cfg),
        'val': transforms.apply(raw.train_x[val_idx], data_cfg),
        'test': transforms.apply(raw.test_x[test_idx], data_cfg)}
  ys = {'train': train_y, 'val': raw.train_y[val_idx],
        'test': raw.test_y[test_idx]}
  noise = float(getattr(data_cfg, 'label_noise', 0.0))
  if noise:
    if regression:
      raise ConfigError(f'data.label_noise={noise} needs class labels; '
                        f'{name} has float regression targets')
    ys['train'] = noisy_labels(ys['train'], noise, len(raw.class_names),
                               data_cfg.split_seed)
  mean, std = _standardize(xs, data_cfg)
  y_type = np.float32 if regression else np.int32
  return Dataset(
      name=name,
      train_x=xs['train'], train_y=_readonly(ys['train'].astype(y_type)),
      val_x=xs['val'], val_y=_readonly(ys['val'].astype(y_type)),
      test_x=xs['test'], test_y=_readonly(ys['test'].astype(y_type)),
      class_names=tuple(raw.class_names),
      num_classes=0 if regression else len(raw.class_names),
      input_shape=tuple(int(d) for d in xs['train'].shape[1:]),
      mean=_readonly(mean), std=_readonly(std))
