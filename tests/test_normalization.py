"""BatchNorm via make_norm (moments, running averages) and LRN vs a loop."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from dlexp.errors import ConfigError
from dlexp.layers.normalization import LocalResponseNorm, Norm, make_norm


def model_cfg(**kw):
  cfg = dict(norm='batch', bn_momentum=0.9, bn_epsilon=1e-5)
  cfg.update(kw)
  return ml_collections.ConfigDict(cfg)


def batch(shape, seed):
  # Channels with different means and scales, so normalizing is visible.
  c = shape[-1]
  z = np.asarray(jax.random.normal(jax.random.key(seed), shape), np.float64)
  return z * np.linspace(0.5, 3, c) + np.linspace(-2, 4, c)


@pytest.mark.parametrize('kind,shape', [('dense', (64, 6)),
                                        ('conv', (8, 5, 5, 6))])
def test_training_output_has_zero_mean_unit_variance_per_channel(kind, shape):
  norm = make_norm(model_cfg(), kind)
  x = jnp.asarray(batch(shape, 0), jnp.float32)
  variables = norm.init(jax.random.key(0), x, train=False)
  y, _ = norm.apply(variables, x, train=True, mutable=['batch_stats'])
  y = np.asarray(y, np.float64).reshape(-1, shape[-1])
  np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)
  # Variance v / (v + eps) with v >= 0.25 here: within 4e-5 of 1.
  np.testing.assert_allclose(y.var(axis=0), 1, atol=1e-4)


@pytest.mark.parametrize('kind,shape', [('dense', (32, 4)),
                                        ('conv', (4, 3, 3, 4))])
def test_running_statistics_follow_momentum_rule(kind, shape):
  momentum, eps = 0.8, 1e-3
  norm = make_norm(model_cfg(bn_momentum=momentum, bn_epsilon=eps), kind)
  variables = norm.init(jax.random.key(0), jnp.zeros(shape), train=False)
  ra_mean, ra_var = np.zeros(shape[-1]), np.ones(shape[-1])
  for step in range(3):
    x = batch(shape, step + 1)
    _, state = norm.apply(variables, jnp.asarray(x, jnp.float32), train=True,
                          mutable=['batch_stats'])
    variables = {**variables, **state}
    flat = x.reshape(-1, shape[-1])
    # Biased batch variance, as BatchNorm normalizes with it.
    ra_mean = momentum * ra_mean + (1 - momentum) * flat.mean(axis=0)
    ra_var = momentum * ra_var + (1 - momentum) * flat.var(axis=0)
    stats = state['batch_stats']['BatchNorm_0']
    np.testing.assert_allclose(stats['mean'], ra_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats['var'], ra_var, rtol=1e-5, atol=1e-6)
  # Evaluation normalizes with the running averages, not the batch.
  x = batch(shape, 9)
  y = norm.apply(variables, jnp.asarray(x, jnp.float32), train=False)
  np.testing.assert_allclose(y, (x - ra_mean) / np.sqrt(ra_var + eps),
                             rtol=1e-4, atol=1e-5)


def test_none_is_identity_without_params():
  norm = make_norm(model_cfg(norm='none'), 'conv')
  x = jnp.asarray(batch((2, 3, 3, 4), 0), jnp.float32)
  variables = norm.init(jax.random.key(0), x, train=True)
  assert not variables
  np.testing.assert_array_equal(norm.apply(variables, x, train=True), x)


def test_bad_config_raises_config_error():
  with pytest.raises(ConfigError, match='batch'):
    make_norm(model_cfg(norm='bach'), 'dense')
  with pytest.raises(ConfigError, match='conv'):
    make_norm(model_cfg(), 'conv2d')
  with pytest.raises(ConfigError, match='bn_momentum'):
    make_norm(model_cfg(bn_momentum=1.5), 'dense')
  with pytest.raises(ConfigError, match='norm'):
    Norm(norm='layer').init(jax.random.key(0), jnp.ones((2, 3)))


def lrn_loop(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
  """Krizhevsky et al. 2012, section 3.3, written out channel by channel."""
  out = np.empty_like(a)
  channels = a.shape[-1]
  for i in range(channels):
    lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
    s = sum(a[..., j]**2 for j in range(lo, hi + 1))
    out[..., i] = a[..., i] / (k + alpha * s)**beta
  return out


@pytest.mark.parametrize('params', [{}, {'size': 3, 'k': 1.0, 'alpha': 0.5,
                                         'beta': 0.5}])
def test_local_response_norm_matches_loop(params):
  # Large activations so that the alpha term matters at alpha=1e-4.
  a = 30 * np.asarray(jax.random.normal(jax.random.key(0), (2, 3, 3, 8)),
                      np.float64)
  loop_params = {('n' if key == 'size' else key): v
                 for key, v in params.items()}
  expected = lrn_loop(a, **loop_params)
  y = LocalResponseNorm(**params).apply({}, jnp.asarray(a, jnp.float32))
  np.testing.assert_allclose(y, expected, rtol=1e-5)
  # The neighbour sum matters at these scales (it is not just a / k**beta).
  no_sum = a / params.get('k', 2.0)**params.get('beta', 0.75)
  assert np.max(np.abs(expected / no_sum - 1)) > 0.1


def test_local_response_norm_rejects_even_size():
  with pytest.raises(ConfigError, match='size'):
    LocalResponseNorm(size=4).apply({}, jnp.ones((1, 2, 2, 8)))
