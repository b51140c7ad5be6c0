"""Datasets: the `config.data` section and `load(data_cfg) -> Dataset`.

Names (see DATASETS):
  fashion_mnist       Fashion-MNIST from its IDX files (local, or downloaded
                      with data.download=True); 28x28x1 images.
  mnist1d             MNIST-1D generated offline; (40, 1) sequences.
  mnist, cifar10, cifar100, tfds/fashion_mnist
                      TensorFlow Datasets (prepared ArrayRecord data); the
                      'tfds/' prefix only where a non-TFDS loader has the name.
  synthetic           seeded Gaussian clusters, 8x8x1 images (tests).
  synthetic_vector    the same as flat (64,) vectors.
  diabetes            regression: 442 patients x 10 variables, disease
                      progression (scikit-learn's copy; dlexp[regression]).

Training-split changes for ablations (validation and test stay as they
are): `imbalance_classes` / `imbalance_ratio` keep 1 in `imbalance_ratio`
training examples of those classes; `target_outliers` shifts that fraction
of the training targets (regression) by `target_outlier_scale` standard
deviations. Both are drawn with `split_seed`.
"""
import functools

import ml_collections

from dlexp.data import diabetes, fashion_mnist, mnist1d, synthetic, transforms
from dlexp.data import tfds as tfds_data
from dlexp.data.base import Dataset, DatasetSpec, RawData, cache_dir
from dlexp.data.arrays import from_arrays
from dlexp.data.splits import (AUTO_VAL_SIZE, check_classes,
                               check_train_part, check_training_changes,
                               make_dataset, resolve_val_size, split_indices,
                               train_statistics)
from dlexp.errors import ConfigError
from dlexp.registry import Registry, did_you_mean

__all__ = ('AUTO_VAL_SIZE', 'DATASETS', 'Dataset', 'DatasetSpec', 'RawData',
           'cache_dir', 'defaults', 'from_arrays', 'input_shape', 'load',
           'load_raw', 'make_dataset',
           'resolve_val_size', 'split_indices', 'train_statistics', 'validate')

DATASETS = Registry('dataset')
DATASETS.register('fashion_mnist', DatasetSpec(
    fashion_mnist.load_raw, 60000, 'image',
    'Fashion-MNIST from IDX files (apt, data_dir, $DLEXP_DATA_DIR, download)',
    input_shape=(28, 28, 1)))
DATASETS.register('mnist1d', DatasetSpec(
    mnist1d.load_raw, 4000, 'sequence', 'MNIST-1D, generated offline',
    input_shape=(40, 1), reads_files=False))
DATASETS.register('synthetic', DatasetSpec(
    synthetic.load_images, synthetic.NUM_TRAIN, 'image',
    'Gaussian class clusters, 8x8x1', input_shape=synthetic.IMAGE_SHAPE,
    reads_files=False))
DATASETS.register('synthetic_vector', DatasetSpec(
    synthetic.load_vectors, synthetic.NUM_TRAIN, 'vector',
    'Gaussian class clusters, (64,) vectors',
    input_shape=synthetic.VECTOR_SHAPE, reads_files=False))

DATASETS.register('diabetes', DatasetSpec(
    diabetes.load_raw, diabetes.NUM_TRAIN, 'vector',
    'Diabetes progression regression (scikit-learn copy; target in std '
    'units)', input_shape=diabetes.INPUT_SHAPE, num_classes=0,
    reads_files=False))


def _register_tfds(name: str, tfds_name: str, num_train: int,
                   input_shape, num_classes: int) -> None:
  DATASETS.register(name, DatasetSpec(
      functools.partial(tfds_data.load_raw, tfds_name), num_train, 'image',
      f'TFDS {tfds_name} (prepared ArrayRecord)', input_shape=input_shape,
      num_classes=num_classes))


_register_tfds('mnist', 'mnist', 60000, (28, 28, 1), 10)
_register_tfds('cifar10', 'cifar10', 50000, (32, 32, 3), 10)
_register_tfds('cifar100', 'cifar100', 50000, (32, 32, 3), 100)
_register_tfds('tfds/fashion_mnist', 'fashion_mnist', 60000, (28, 28, 1), 10)


def defaults() -> ml_collections.ConfigDict:
  """The `config.data` section."""
  c = ml_collections.ConfigDict()
  c.name = 'fashion_mnist'  # A dataset.
  c.data_dir = ''  # Folder of the data files; '' = the default search places;
                   # set = the only place looked in.
  c.val_size = AUTO_VAL_SIZE  # Validation examples carved from train; -1 =
                              # min(5000, 10% of train); 0 = none.
  c.split_seed = 0  # Fixes the train/validation permutation.
  c.standardize = True  # Standardize with mean/std of the training split only.
  c.per_feature = False  # With standardize: each input feature (pixel, step)
                         # its own training mean and std (Klambauer et al.
                         # 2017); False = one per channel.
  c.download = False  # Network access (download) only when True.
  c.train_limit = 0  # 0 = all; else the first N train examples after the
                     # split.
  c.train_part = ()  # (i, k): only part i of k disjoint random parts of the
                     # official training split, before data.classes and the
                     # validation split; one fixed partition for every
                     # split_seed, so configs with different parts share no
                     # training or validation example (e.g. a source and a
                     # target task); empty = all.
  c.test_limit = 0  # 0 = all; else the first N test examples.
  c.cv_folds = 0  # k-fold cross-validation: each member trains on k - 1
                  # folds of the training split and validates on the other
                  # (folds are members, like seeds); 0 = off (validation split).
  c.classes = ()  # Keep these class ids, relabelled 0..k-1 in this order
                  # (e.g. (0, 6): a binary task); empty = all.
  c.imbalance_classes = ()  # Class ids (after data.classes) kept at 1 in
                            # data.imbalance_ratio in the training split
                            # (after data.train_limit).
  c.imbalance_ratio = 1.0  # 1 = balanced; e.g. 50: those classes keep 1 in
                           # 50 of their training examples.
  c.target_outliers = 0.0  # Regression: fraction of training targets made
                           # outliers (validation and test stay clean).
  c.target_outlier_scale = 10.0  # Outliers are shifted up by this many
                                 # standard deviations of the targets.
  c.label_noise = 0.0  # Fraction of training labels (not validation or
                       # test) replaced by uniformly random classes.
  c.scale = 'unit'  # uint8 pixels: 'unit' = /255 into [0, 1]; 'raw' = 0..255
                    # as stored (needs standardize=False).
  c.resize = 0  # Images resized (bilinear) to resize x resize; 0 = as stored.
  c.channels = 0  # Image channels: 0 = as stored; 3 = grayscale repeated
                  # into RGB.
  c.shuffle_steps = False  # Each example's steps (an image's rows) in a
                           # random order of its own, fixed by split_seed and
                           # the example: values kept, order destroyed.
  c.permute_pixels = 0  # Images' pixel positions shuffled by one fixed
                        # permutation drawn from this seed, the same for
                        # every image and split: spatial structure destroyed,
                        # pixel values kept; 0 = off.
  return c


def _check(ok: bool, message: str) -> None:
  if not ok:
    raise ConfigError(message)


def validate(cfg) -> None:
  """Raises ConfigError (one line) for a bad `config.data` value."""
  spec = DATASETS.get(cfg.name)  # unknown names: did-you-mean + allowed list
  for key in ('val_size', 'split_seed', 'train_limit', 'test_limit'):
    value = getattr(cfg, key)
    _check(isinstance(value, int) and not isinstance(value, bool),
           f'data.{key}={value!r} must be an int')
    if key == 'val_size':
      _check(value >= AUTO_VAL_SIZE, f'data.val_size={value} must be >= 0, '
             f'or {AUTO_VAL_SIZE} for auto (min(5000, 10% of train))')
    else:
      _check(value >= 0, f'data.{key}={value} must be >= 0'
             + (' (0 = all)' if key.endswith('limit') else ''))
  _check(cfg.val_size < spec.num_train,
         f'data.val_size={cfg.val_size} must be < {spec.num_train}, the '
         f'number of {cfg.name} training examples; allowed: '
         f'0..{spec.num_train - 1}, or {AUTO_VAL_SIZE} for auto')
  _check(isinstance(cfg.data_dir, str),
         f'data.data_dir={cfg.data_dir!r} must be a string (\'\' = not set)')
  _check(not cfg.data_dir or spec.reads_files,
         f'data.data_dir={cfg.data_dir!r} not allowed with data.name='
         f'{cfg.name!r}: that dataset is generated and reads no files; leave '
         'data.data_dir unset')
  for key in ('standardize', 'download', 'per_feature'):
    value = getattr(cfg, key)
    _check(isinstance(value, bool), f'data.{key}={value!r} must be a bool')
  _check(cfg.standardize or not cfg.per_feature,
         'data.per_feature=True needs data.standardize=True (it says how to '
         'standardize)')
  check_classes(tuple(cfg.classes))
  check_train_part(tuple(getattr(cfg, 'train_part', ())))
  check_training_changes(cfg)
  _check(cfg.cv_folds == 0 or cfg.cv_folds >= 2,
         f'data.cv_folds={cfg.cv_folds} not allowed; need 0 (off) or >= 2')
  _check(not cfg.cv_folds or cfg.val_size in (0, AUTO_VAL_SIZE),
         f'data.val_size={cfg.val_size} with data.cv_folds={cfg.cv_folds}: '
         'cross-validation validates on the held-out fold; set data.val_size '
         f'to 0 or {AUTO_VAL_SIZE}')
  noise = getattr(cfg, 'label_noise', 0.0)
  _check(isinstance(noise, (int, float)) and 0.0 <= noise <= 1.0,
         f'data.label_noise={noise!r} must be a fraction in [0, 1]')
  transforms.validate(cfg, spec.layout)


def input_shape(data_cfg):
  """The model input shape (no batch axis) of `data_cfg`'s dataset, without
  loading it: the registered shape after data.resize and data.channels."""
  spec = DATASETS.get(data_cfg.name)
  return transforms.output_shape(spec.input_shape, data_cfg)


def load(data_cfg) -> Dataset:
  """Loads the dataset `data_cfg.name` (see module docstring) as a Dataset.

  Raises:
    ConfigError: a bad config value.
    DataError: the data could not be found, fetched or read.
  """
  validate(data_cfg)
  raw = DATASETS.get(data_cfg.name).loader(data_cfg)
  return make_dataset(data_cfg.name, raw, data_cfg)


def load_raw(name: str = 'fashion_mnist', **fields) -> RawData:
  """The official train/test splits of dataset `name` as its loader reads
  them: not split, scaled or standardized (uint8 pixels for image sets), as
  `Trained.predict` takes them. `fields`: other `config.data` fields, e.g.
  data_dir='...'.

  Raises:
    ConfigError: an unknown name or field, or a bad value.
    DataError: the data could not be found or read.
  """
  cfg = defaults()
  cfg.name = name
  for key, value in fields.items():
    if key not in cfg:
      raise ConfigError(f'unknown data field {key!r}'
                        f'{did_you_mean(key, list(cfg))}; allowed: '
                        f'{", ".join(sorted(cfg))}')
    cfg[key] = value
  validate(cfg)
  return DATASETS.get(name).loader(cfg)
