"""data.scale, data.resize, data.channels: raw pixels, Fashion-MNIST as
32x32x3, errors for settings that would change nothing, and a saved model
that preprocesses new raw inputs exactly as training did."""
import types

import numpy as np
import pytest

import dlexp
from dlexp import data
from dlexp.data import synthetic, transforms
from dlexp.errors import ConfigError, DataError


def cfg(**overrides):
  c = types.SimpleNamespace(**data.defaults().to_dict())
  for key, value in overrides.items():
    setattr(c, key, value)
  return c


def raw_images(n=12, size=4, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.integers(0, 256, (n, size, size, 1), dtype=np.uint8)
  return data.RawData(x, np.arange(n) % 2, x[:4], np.arange(4) % 2, ('a', 'b'))


def test_raw_scale_keeps_pixel_values():
  raw = raw_images()
  ds = data.make_dataset('t', raw, cfg(val_size=2, standardize=False,
                                       scale='raw'))
  train_idx, _ = data.split_indices(12, 2, 0)
  np.testing.assert_array_equal(ds.train_x, raw.train_x[train_idx])
  assert ds.train_x.dtype == np.float32 and ds.train_x.max() > 1
  unit = data.make_dataset('t', raw, cfg(val_size=2, standardize=False))
  np.testing.assert_allclose(unit.train_x * 255, ds.train_x, rtol=1e-6)


def test_resize_and_channels_make_rgb_32px():
  """A constant image stays constant under bilinear resizing; a gradient
  keeps its range; the gray channel is repeated three times."""
  x = np.tile(np.linspace(0, 255, 28, dtype=np.float32)[None, :], (28, 1))
  x = np.stack([x, np.full((28, 28), 128.0, np.float32)])[..., None]
  out = transforms.apply(x.astype(np.uint8),
                         cfg(resize=32, channels=3, scale='raw'))
  assert out.shape == (2, 32, 32, 3)
  np.testing.assert_array_equal(out[..., 0], out[..., 2])
  np.testing.assert_allclose(out[1], 128.0, atol=1e-3)
  assert 0 <= out[0].min() < 10 and 245 < out[0].max() <= 255
  assert np.all(np.diff(out[0, 5, :, 0]) >= -1e-3)  # still increasing
  assert transforms.output_shape((28, 28, 1), cfg(resize=32, channels=3)) == (
      32, 32, 3)


def test_resized_dataset_shape_and_statistics():
  ds = data.load(cfg(name='synthetic', val_size=50, resize=12, channels=3))
  assert ds.input_shape == (12, 12, 3) and ds.train_x.shape[1:] == (12, 12, 3)
  assert ds.mean.shape == (3,)
  assert data.input_shape(cfg(name='synthetic', resize=12, channels=3)) == (
      12, 12, 3)


@pytest.mark.parametrize('overrides,pattern', [
    (dict(scale='bytes'), r"data.scale='bytes' not allowed; allowed: unit, raw"),
    (dict(scale='raw'), r"scale='raw' .* set data.standardize=False"),
    (dict(resize=-1), r'data.resize=-1 must be >= 0'),
    (dict(channels=2), r'data.channels=2 not allowed; allowed: 0'),
    (dict(name='mnist1d', resize=32), r'data.resize=32 needs images; .*'
     'sequences'),
])
def test_validate_rejects(overrides, pattern):
  with pytest.raises(ConfigError, match=pattern) as info:
    data.validate(cfg(**overrides))
  assert '\n' not in str(info.value)


def test_raw_scale_of_float_inputs_is_an_error():
  with pytest.raises(ConfigError, match=r"scale='raw'.*float32"):
    data.load(cfg(name='synthetic', scale='raw', standardize=False))


def test_colour_images_cannot_become_gray():
  with pytest.raises(DataError, match='only 1-channel'):
    transforms.set_channels(np.zeros((1, 2, 2, 3), np.float32), 1)


def test_trained_model_applies_the_transforms_to_new_inputs():
  """A model trained on the 8x8x1 synthetic images seen as 12x12x3 predicts
  raw 8x8x1 (or (N, 8, 8)) inputs: its logits equal those of the test split
  as training prepared it."""
  trained = dlexp.fit({'data.name': 'synthetic', 'data.val_size': 100,
                       'data.train_limit': 256, 'data.resize': 12,
                       'data.channels': 3, 'model.hidden': (8,), 'epochs': 1,
                       'batch_size': 32, 'diagnostics.every_epochs': 0},
                      out=False)
  assert trained.input_shape == (12, 12, 3)
  prepared = data.load(trained.config.data)
  raw = synthetic.make_synthetic()
  expect = trained.logits(prepared.test_x[:5], standardized=True)
  np.testing.assert_allclose(trained.logits(raw.test_x[:5]), expect,
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(trained.logits(raw.test_x[:5, ..., 0]), expect,
                             rtol=1e-5, atol=1e-6)
  with pytest.raises(DataError, match=r'takes \(N,\) \+ \(12, 12, 3\)'):
    trained.predict(np.zeros((2, 64), np.float32))


def test_label_noise_replaces_training_labels_only():
  """A fraction of the training labels becomes uniformly random: with 10
  classes about 90% of the replaced ones change; validation and test labels
  are untouched; the same split_seed gives the same noise."""
  clean = data.load(cfg(name='synthetic', val_size=500))
  noisy = data.load(cfg(name='synthetic', val_size=500, label_noise=0.4))
  changed = np.mean(noisy.train_y != clean.train_y)
  assert abs(changed - 0.4 * 0.9) < 0.02
  np.testing.assert_array_equal(noisy.val_y, clean.val_y)
  np.testing.assert_array_equal(noisy.test_y, clean.test_y)
  np.testing.assert_array_equal(noisy.train_x, clean.train_x)
  again = data.load(cfg(name='synthetic', val_size=500, label_noise=0.4))
  np.testing.assert_array_equal(again.train_y, noisy.train_y)
  assert set(np.unique(noisy.train_y)) <= set(range(10))
  with pytest.raises(ConfigError, match=r'label_noise=1.5 must be a fraction'):
    data.validate(cfg(label_noise=1.5))
