"""Training-split changes for ablations (class imbalance, regression target
outliers) and the diabetes regression dataset."""
import types

import numpy as np
import pytest

from dlexp import data
from dlexp.data import diabetes, splits
from dlexp.data.base import RawData
from dlexp.errors import ConfigError


def cfg(**overrides):
  c = types.SimpleNamespace(**data.defaults().to_dict())
  for key, value in overrides.items():
    setattr(c, key, value)
  return c


def test_imbalance_keeps_one_in_ratio_of_the_training_split_only():
  # Unstandardized: the statistics follow the (changed) training split.
  base = data.load(cfg(name='synthetic', val_size=1000, standardize=False))
  ds = data.load(cfg(name='synthetic', val_size=1000, standardize=False,
                     imbalance_classes=(2, 7), imbalance_ratio=50.0))
  before = np.bincount(base.train_y, minlength=10)
  after = np.bincount(ds.train_y, minlength=10)
  for c in range(10):
    expected = round(before[c] / 50) if c in (2, 7) else before[c]
    assert after[c] == expected, (c, before[c], after[c])
  # Validation and test splits are untouched.
  np.testing.assert_array_equal(ds.val_y, base.val_y)
  np.testing.assert_array_equal(ds.test_y, base.test_y)
  # The kept examples are a subset of the balanced training split, and the
  # choice is fixed by split_seed.
  rows = {r.tobytes() for r in base.train_x.reshape(len(base.train_y), -1)}
  assert all(r.tobytes() in rows
             for r in ds.train_x.reshape(len(ds.train_y), -1))
  again = data.load(cfg(name='synthetic', val_size=1000, standardize=False,
                        imbalance_classes=(2, 7), imbalance_ratio=50.0))
  np.testing.assert_array_equal(again.train_x, ds.train_x)
  # Another split_seed draws other examples (and another validation split).
  other = data.load(cfg(name='synthetic', val_size=1000, split_seed=1,
                        standardize=False, imbalance_classes=(2, 7),
                        imbalance_ratio=50.0))
  assert not np.array_equal(other.train_x[other.train_y == 2],
                            ds.train_x[ds.train_y == 2])


def test_subsample_keeps_at_least_one_and_the_order():
  labels = np.array([0, 1, 0, 1, 1, 0, 2])
  idx = np.arange(7)
  kept = splits.subsample_classes(idx, labels, (1, 2), 10.0, seed=0)
  assert np.all(np.diff(kept) > 0)
  assert sorted(labels[kept].tolist()) == [0, 0, 0, 1, 2]


def test_target_outliers_shift_a_fraction_of_training_targets():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(1000, 3)).astype(np.float32)
  y = rng.normal(size=1000).astype(np.float32)
  raw = RawData(x[:800], y[:800], x[800:], y[800:], ())
  clean = splits.make_dataset('r', raw, cfg(val_size=100))
  noisy = splits.make_dataset('r', raw, cfg(val_size=100, target_outliers=0.1,
                                            target_outlier_scale=10.0))
  shift = noisy.train_y - clean.train_y
  moved = shift != 0
  assert moved.sum() == round(0.1 * 700)
  np.testing.assert_allclose(shift[moved], 10.0 * clean.train_y.std(),
                             rtol=1e-5)
  np.testing.assert_array_equal(noisy.val_y, clean.val_y)
  np.testing.assert_array_equal(noisy.test_y, clean.test_y)


@pytest.mark.parametrize('overrides,message', [
    (dict(imbalance_classes=(1,)), 'go together'),
    (dict(imbalance_ratio=5.0), 'go together'),
    (dict(imbalance_classes=(1, 1), imbalance_ratio=5.0), 'distinct'),
    (dict(imbalance_classes=(1,), imbalance_ratio=0.5), 'must be >= 1'),
    (dict(target_outliers=1.0), r'target_outliers=1.0 must be in \[0, 1\)'),
    (dict(target_outlier_scale=0.0), 'must be > 0'),
])
def test_bad_training_changes_are_one_line_errors(overrides, message):
  with pytest.raises(ConfigError, match=message) as e:
    data.validate(cfg(name='synthetic', **overrides))
  assert '\n' not in str(e.value)


def test_changes_that_do_not_fit_the_data_are_errors():
  with pytest.raises(ConfigError, match='needs float regression targets'):
    data.load(cfg(name='synthetic', target_outliers=0.1))
  with pytest.raises(ConfigError, match='class 12 is not one of'):
    data.load(cfg(name='synthetic', imbalance_classes=(12,),
                  imbalance_ratio=5.0))
  rng = np.random.default_rng(0)
  raw = RawData(rng.normal(size=(50, 2)), rng.normal(size=50),
                rng.normal(size=(5, 2)), rng.normal(size=5), ())
  with pytest.raises(ConfigError, match='needs class labels'):
    splits.make_dataset('r', raw, cfg(val_size=5, imbalance_classes=(0,),
                                      imbalance_ratio=2.0))


def test_diabetes_is_a_standardized_regression_target():
  pytest.importorskip('sklearn', reason='diabetes is read from scikit-learn '
                      "(the 'regression' extra)")
  ds = data.load(cfg(name='diabetes'))
  assert ds.num_classes == 0 and ds.input_shape == (10,)
  assert (ds.num_train + ds.num_val, ds.num_test) == (354, 88)
  assert ds.num_val == 35  # auto: 10% of the official training split
  y = np.concatenate([ds.train_y, ds.val_y])
  assert abs(y.mean()) < 1e-5 and abs(y.std() - 1) < 1e-5
  assert ds.train_y.dtype == np.float32 and ds.train_x.dtype == np.float32
  # Inputs standardized with the training split's statistics.
  assert abs(ds.train_x.mean()) < 1e-4
