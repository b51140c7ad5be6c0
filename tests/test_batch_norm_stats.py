"""The batch-norm diagnostics that experiments/batch_norm.py's claims read:
each batch's mean and variance after the normalization step (before gamma
and beta), and accuracy with gamma and beta reset to 1 and 0."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from conftest import tiny_config
from dlexp import analysis
from dlexp.analysis import batch_norm as bn_lib
from dlexp.train import runner

QUIET = runner.Printer(quiet=True)


def test_normalized_stats_undo_gamma_and_beta():
  x = np.random.default_rng(0).normal(3.0, 2.0, (64, 5)).astype(np.float32)
  x[:, 4] = 1.5  # a constant unit: variance 0 / (0 + eps), not 1
  scale = jnp.array([1.0, 2.0, -0.5, 1e-5, 1.0])
  bias = jnp.array([0.0, 1.0, -2.0, 0.3, 0.0])
  layer = nn.BatchNorm(use_running_average=False, epsilon=1e-5)
  variables = layer.init(jax.random.PRNGKey(0), x)
  variables = {'params': {'scale': scale, 'bias': bias},
               'batch_stats': variables['batch_stats']}
  y, _ = layer.apply(variables, x, mutable=['batch_stats'])
  means, variances, ok = bn_lib.normalized_batch_stats(y, scale, bias)
  assert list(np.asarray(ok)) == [True, True, True, False, True]
  np.testing.assert_allclose(np.asarray(means)[:3], 0.0, atol=1e-5)
  np.testing.assert_allclose(np.asarray(variances)[:3], 1.0, atol=1e-4)
  assert float(variances[4]) < 1e-3  # nothing to normalize


def test_normalized_stats_of_conv_outputs_reduce_over_space():
  x = np.random.default_rng(1).normal(-1.0, 3.0, (8, 4, 4, 3))
  layer = nn.BatchNorm(use_running_average=False)
  variables = layer.init(jax.random.PRNGKey(0), x)
  y, _ = layer.apply(variables, x, mutable=['batch_stats'])
  means, variances, _ = bn_lib.normalized_batch_stats(
      y, jnp.ones(3), jnp.zeros(3))
  assert means.shape == variances.shape == (3,)
  np.testing.assert_allclose(np.asarray(variances), 1.0, atol=1e-4)


def test_identity_affine_resets_only_batch_norm():
  params = {'dense1': {'kernel': jnp.ones((2, 2)), 'bias': jnp.ones(2)},
            'norm1': {'BatchNorm_0': {'scale': jnp.full(2, 3.0),
                                      'bias': jnp.full(2, 0.5)}}}
  out = bn_lib.identity_affine(params)
  np.testing.assert_array_equal(out['dense1']['bias'], 1.0)
  np.testing.assert_array_equal(out['norm1']['BatchNorm_0']['scale'], 1.0)
  np.testing.assert_array_equal(out['norm1']['BatchNorm_0']['bias'], 0.0)


def test_hook_on_a_tiny_run(tmp_path):
  config = tiny_config(epochs=2)
  results = runner.run(config, [{'model.norm': ['none', 'batch']}],
                       str(tmp_path), out=QUIET,
                       final_hooks=[analysis.batch_norm_hook])
  by = {r['trial']: r for r in results}
  none, bn = by['norm=none'], by['norm=batch']
  assert np.isnan(none['bn_batch_var']) and np.isnan(none['bn_batch_abs_mean'])
  assert none['bn_affine_cost'] == 0
  # Training mode: each batch of each unit normalized to mean 0, variance
  # 1 (less where a unit is nearly constant over a batch).
  assert bn['bn_batch_abs_mean'] < 1e-4
  assert 0.9 < bn['bn_batch_var'] <= 1.0 + 1e-4
  assert -1 <= bn['bn_affine_cost'] <= 1
