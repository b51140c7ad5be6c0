"""Diagnostics: each unit-state fraction measures what its name says, on a
layer whose units are put in known states by hand."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dlexp import models
from dlexp.train import diagnostics


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
