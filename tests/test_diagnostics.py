"""Diagnostics: each unit-state fraction measures what its name says, on a
layer whose units are put in known states by hand; the probe they are
measured on takes the size asked for, or fails before anything compiles."""
import dataclasses

import jax
from jax.sharding import Mesh
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from conftest import tiny_config
from dlexp import config as config_lib
from dlexp import data as data_lib
from dlexp import models
from dlexp.errors import ConfigError
from dlexp.train import device_data, diagnostics


def _loss(logits, labels, hp):
  del hp
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def _diag(activation, bias, unit_masks=False):
  """Diagnostics of a 1-hidden-layer MLP of 4 units whose pre-activations
  are the bias on every example (zero kernel)."""
  cfg = models.tiny_config('mlp')
  cfg.depth, cfg.width, cfg.activation = 1, 4, activation
  model = models.build_model(cfg, 3, (5,))
  x = jax.random.normal(jax.random.key(0), (16, 5))
  params = dict(model.init(jax.random.key(1), x, train=False)['params'])
  params['dense1'] = {'kernel': jnp.zeros((5, 4)),
                      'bias': jnp.asarray(bias, jnp.float32)}
  y = jnp.arange(16) % 3
  out = diagnostics.compute(model, params, {}, _loss,
                            {'model.dropout_rate': jnp.float32(0)}, x, y,
                            unit_masks=unit_masks)
  return {k: float(v) if np.ndim(v) == 0 else np.asarray(v)
          for k, v in out.items()}


@pytest.mark.parametrize('activation,dead,never_positive', [
    ('relu', 0.5, 0.5),  # output 0, derivative 0: no gradient, dead
    ('leaky_relu', 0.0, 0.5),  # negative but slope 0.01: alive
    ('elu', 0.0, 0.5),  # negative but derivative exp(-1): alive
    ('selu', 0.0, 0.5),
    ('softplus', 0.0, 0.0),
])
def test_dead_means_no_output_and_no_gradient(activation, dead,
                                              never_positive):
  d = _diag(activation, [-1.0, -1.0, 1.0, 1.0])
  assert d['diag/act1/dead_fraction'] == dead
  assert d['diag/act1/never_positive_fraction'] == never_positive
  assert d['diag/dead_fraction'] == dead
  assert d['diag/never_positive_fraction'] == never_positive
  assert 'diag/act1/saturated_fraction' not in d
  for key in ('act_mean', 'act_std', 'weight_zero_fraction',
              'weight_small_fraction'):
    assert f'diag/act1/{key}' in d or f'diag/dense1/{key}' in d, key
  assert 'diag/dense1/grad_norm' in d


def test_unit_abs_mean_sees_what_the_layer_mean_hides():
  # Units of constant output -tanh(1), +tanh(1), ...: the layer's mean is
  # 0, each unit's |mean| is tanh(1).
  d = _diag('tanh', [-1.0, 1.0, -1.0, 1.0])
  assert abs(d['diag/act1/act_mean']) < 1e-7
  assert d['diag/act1/unit_abs_mean'] == pytest.approx(np.tanh(1.0))
  # Constant units: |mean| / rms is 1 whatever their scale.
  assert d['diag/act1/unit_mean_rms'] == pytest.approx(1.0)
  # ReLU units at -1 output exactly 0 (rms 0): left out, not counted as 0.
  d = _diag('relu', [-1.0, -1.0, 2.0, 2.0])
  assert d['diag/act1/unit_mean_rms'] == pytest.approx(1.0)
  # No unit with any output: nothing to measure (NaN, not a perfect 0).
  assert np.isnan(_diag('relu', [-1.0] * 4)['diag/act1/unit_mean_rms'])


@pytest.mark.parametrize('activation,bias', [('tanh', -4.0),
                                             ('sigmoid', -8.0)])
def test_saturated_units(activation, bias):
  # tanh'(-4) = 1.3e-3 < 1% of 1; sigmoid'(-8) = 3.4e-4 < 1% of 0.25.
  d = _diag(activation, [bias, -bias, 0.0, 0.5])
  assert d['diag/act1/saturated_fraction'] == 0.5
  assert d['diag/saturated_fraction'] == 0.5
  assert d['diag/act1/dead_fraction'] == 0.0
  d = _diag(activation, [-1.0, 1.0, 0.0, 0.5])
  assert d['diag/act1/saturated_fraction'] == 0.0


@pytest.mark.parametrize('activation,bias,inactive,dead,never_positive', [
    # ELU's derivative exp(x): exp(-8) = 3.4e-4 <= 1e-3 of the layer's
    # largest (1, from the units at +1): effectively inactive, never dead.
    ('elu', [-8.0, -8.0, 1.0, 1.0], 0.5, 0.0, 0.5),
    # exp(-6) = 2.5e-3 > 1e-3: negative, yet still passing gradient.
    ('elu', [-6.0, -6.0, 1.0, 1.0], 0.0, 0.0, 0.5),
    ('selu', [-9.0, 1.0, 1.0, 1.0], 0.25, 0.0, 0.25),
    # A dead ReLU unit (derivative 0) is inactive too.
    ('relu', [-1.0, -1.0, 1.0, 1.0], 0.5, 0.5, 0.5),
    # Every derivative 0: every unit inactive (the reference is 0 too).
    ('relu', [-1.0, -1.0, -1.0, -1.0], 1.0, 1.0, 1.0),
    # Leaky ReLU's slope 0.01 > 1e-3: never inactive.
    ('leaky_relu', [-50.0, -1.0, 1.0, 1.0], 0.0, 0.0, 0.5),
    # Relative to the layer's largest derivative (sigmoid's is 1/4 at 0):
    # sigmoid'(-10) = 4.5e-5 <= 2.5e-4, sigmoid'(-7) = 9.1e-4 is not.
    ('sigmoid', [-10.0, -7.0, 0.0, 0.0], 0.25, 0.0, 0.0),
])
def test_inactive_means_next_to_no_derivative(activation, bias, inactive,
                                              dead, never_positive):
  d = _diag(activation, bias)
  assert d['diag/act1/inactive_fraction'] == inactive
  assert d['diag/inactive_fraction'] == inactive
  assert d['diag/act1/dead_fraction'] == dead
  assert d['diag/act1/never_positive_fraction'] == never_positive
  # Dead units are inactive ones.
  assert d['diag/act1/dead_fraction'] <= d['diag/act1/inactive_fraction']


def test_inactive_fraction_of_a_non_finite_derivative_is_nan():
  grad = jnp.array([[1.0, 0.0], [jnp.nan, 0.0]])
  assert np.isnan(float(diagnostics.inactive_fraction(grad)))
  assert float(diagnostics.inactive_fraction(grad[:1])) == 0.5


@pytest.mark.parametrize('activation,mask', [('relu', [1, 0, 1, 0]),
                                             ('elu', [0, 0, 0, 0])])
def test_unit_masks_name_the_dead_units(activation, mask):
  """Off by default; on, one 0/1 per unit, whose mean is dead_fraction."""
  # Bias 0: output 0, but jnp.maximum's derivative at the tie is 1/2, so the
  # unit still passes gradient: not dead.
  bias = [-1.0, 1.0, -0.5, 0.0]
  assert 'diag/act1/dead_units' not in _diag(activation, bias)
  d = _diag(activation, bias, unit_masks=True)
  units = d['diag/act1/dead_units']
  assert units.dtype == np.uint8
  np.testing.assert_array_equal(units, mask)
  assert units.mean() == d['diag/act1/dead_fraction']


def test_train_mode_normalizes_with_the_probe_statistics():
  """At init BatchNorm's running averages are the identity (inference mode
  sees the raw scale); train_mode normalizes with the probe's statistics:
  mean 0, std 1 after BN (a linear activation shows them as they are)."""
  cfg = models.tiny_config('mlp')
  cfg.depth, cfg.width, cfg.activation, cfg.norm = 1, 8, 'linear', 'batch'
  model = models.build_model(cfg, 3, (5,))
  x = 3.0 + 5.0 * jax.random.normal(jax.random.key(0), (64, 5))
  variables = model.init(jax.random.key(1), x, train=False)
  y = jnp.arange(64) % 3
  hp = {'model.dropout_rate': jnp.float32(0)}
  stats = {}
  for train_mode in (False, True):
    out = diagnostics.compute(model, variables['params'],
                              variables['batch_stats'], _loss, hp, x, y,
                              train_mode=train_mode)
    stats[train_mode] = (float(out['diag/act1/act_mean']),
                         float(out['diag/act1/act_std']))
  assert stats[True][0] == pytest.approx(0.0, abs=1e-5)
  assert stats[True][1] == pytest.approx(1.0, abs=1e-3)
  assert abs(stats[False][0]) > 0.1 or abs(stats[False][1] - 1) > 0.5
  assert diagnostics.options(_diag_cfg(train_mode=True)) == dict(
      unit_masks=False, train_mode=True)


def _diag_cfg(**values):
  from dlexp import config as config_lib  # pylint: disable=g-import-not-at-top
  section = config_lib.default_config().diagnostics
  section.update(values)
  return section



def _split_data(num_val):
  """1000 examples from arrays, `num_val` of them carved for validation;
  0: none, as under cross-validation (the probe then comes from train)."""
  x = np.arange(1000, dtype=np.float32).reshape(1000, 1)
  ds = data_lib.from_arrays(x, np.arange(1000) % 2, val_size=num_val or 100)
  return ds if num_val else dataclasses.replace(
      ds, val_x=ds.val_x[:0], val_y=ds.val_y[:0])


@pytest.mark.parametrize('num_val,probe_size,expected', [
    (100, -1, 100),  # the default on a small split: all of it
    (600, -1, 512),  # the default on a large one: the first 512
    (100, 100, 100),  # an explicit size that fits: that size
    (600, 7, 7),
])
def test_probe_takes_its_size_from_the_validation_split(
    num_val, probe_size, expected):
  ds = _split_data(num_val)
  config = tiny_config(diagnostics__probe_size=probe_size)
  config_lib.validate_against_data(config, ds, 1)
  mesh = Mesh(np.array(jax.devices()[:1]), ('data',))
  placed = device_data.to_device(ds, config, mesh)
  assert placed.probe_x.shape == (expected, 1)
  np.testing.assert_array_equal(placed.probe_x, ds.val_x[:expected])


@pytest.mark.parametrize('num_val,probe_size,split,n', [
    (100, 101, 'validation', 100),
    (0, 901, 'training', 900),  # no validation split: probed on train
])
def test_explicit_probe_larger_than_its_split_is_an_error(
    num_val, probe_size, split, n):
  ds = _split_data(num_val)
  config = tiny_config(diagnostics__probe_size=probe_size)
  with pytest.raises(ConfigError, match=(
      f'diagnostics.probe_size={probe_size} is larger than the {split} '
      fr'split \({n} examples\)')):
    device_data.probe_size(config, ds)  # runner checks it before compiling
