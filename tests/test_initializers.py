"""Initializers: empirical variances against the fan formulas, orthogonality,
constant init, and signal propagation through a deep ReLU MLP."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlexp.errors import ConfigError
from dlexp.layers.initializers import (INITIALIZERS, fans, make_bias_init,
                                       make_initializer)

# A conv kernel: fan_in = 3*3*32 = 288, fan_out = 3*3*64 = 576; 18432 draws.
CONV = (3, 3, 32, 64)
FAN_IN, FAN_OUT = 288, 576
TARGET = {'he': 2 / FAN_IN, 'glorot': 2 / (FAN_IN + FAN_OUT),
          'lecun': 1 / FAN_IN}


def test_fans_of_conv_and_dense_kernels():
  assert fans(CONV) == (FAN_IN, FAN_OUT)
  assert fans((100, 10)) == (100, 10)
  assert fans((5, 16, 8)) == (80, 40)


@pytest.mark.parametrize('family', ['he', 'glorot', 'lecun'])
@pytest.mark.parametrize('dist', ['normal', 'uniform', 'truncated_normal'])
@pytest.mark.parametrize('gain', [1.0, 0.5])
def test_variance_matches_fan_formula(family, dist, gain):
  init = make_initializer(f'{family}_{dist}', gain=gain)
  w = np.asarray(init(jax.random.key(0), CONV, jnp.float32), np.float64)
  target = gain**2 * TARGET[family]
  # The relative standard error of a sample variance is sqrt((kurtosis-1)/n):
  # at most sqrt(2/18432) ~ 1% here, so 5% is a 5-sigma bound.
  np.testing.assert_allclose(w.var(), target, rtol=0.05)
  assert abs(w.mean()) < 5 * math.sqrt(target / w.size)
  std = math.sqrt(target)
  if dist == 'uniform':
    # U(-b, b) with b = sqrt(3) std: bounded, and excess kurtosis -1.2.
    assert np.abs(w).max() <= math.sqrt(3) * std * (1 + 1e-6)
    assert np.abs(w).max() > 0.99 * math.sqrt(3) * std
  elif dist == 'truncated_normal':
    # Truncated at 2 std of the underlying normal (std / 0.8796 of w).
    assert np.abs(w).max() <= 2 * std / 0.87962566 * (1 + 1e-6)
  else:
    # An untruncated normal puts ~4.6% of draws beyond 2 std.
    assert 0.035 < np.mean(np.abs(w) > 2 * std) < 0.057


@pytest.mark.parametrize('shape', [(784, 100), CONV])
@pytest.mark.parametrize('std', [0.01, 0.1])
def test_normal_std_is_the_gain_whatever_the_fan(shape, std):
  # 'normal' is N(0, gain^2) with no fan scaling (init_schemes' "small
  # random values", 003 Q1): the same std for a 784x100 dense kernel and a
  # 3x3x32x64 conv kernel. 18,432 or 78,400 draws: the sample std's relative
  # standard error is at most sqrt(1/(2*18432)) ~ 0.5%, so 3% is 6 sigma.
  w = make_initializer('normal', gain=std)(jax.random.key(1), shape,
                                           jnp.float32)
  w = np.asarray(w, np.float64)
  assert w.shape == shape
  np.testing.assert_allclose(w.std(), std, rtol=0.03)
  assert abs(w.mean()) < 5 * std / math.sqrt(w.size)
  # Untruncated: ~4.6% of the draws beyond 2 std.
  assert 0.035 < np.mean(np.abs(w) > 2 * std) < 0.057


def test_gain_multiplies_std():
  key = jax.random.key(3)
  w1 = make_initializer('he_normal')(key, (64, 64))
  w3 = make_initializer('he_normal', gain=3.0)(key, (64, 64))
  np.testing.assert_allclose(w3, 3 * w1, rtol=1e-5)


@pytest.mark.parametrize('shape', [(64, 32), (32, 32), (3, 3, 8, 16)])
def test_orthogonal_columns_are_orthonormal(shape):
  w = make_initializer('orthogonal')(jax.random.key(0), shape, jnp.float32)
  w = np.asarray(w, np.float64).reshape(-1, shape[-1])
  np.testing.assert_allclose(w.T @ w, np.eye(shape[-1]), atol=1e-5)
  w2 = make_initializer('orthogonal', gain=2.0)(jax.random.key(0), shape)
  np.testing.assert_allclose(np.asarray(w2) / 2, w.reshape(shape), atol=1e-6)


def test_zeros_and_constant_value():
  assert not np.any(make_initializer('zeros')(jax.random.key(0), (4, 5)))
  w = make_initializer('constant', value=0.125)(jax.random.key(0), (4, 5))
  np.testing.assert_array_equal(w, np.full((4, 5), 0.125))


def test_constant_nan_draws_one_he_scalar_per_tensor():
  init = make_initializer('constant', value=math.nan)
  shape = (50, 8)
  draws = []
  for seed in range(2000):
    w = np.asarray(init(jax.random.key(seed), shape))
    assert np.all(w == w.flat[0])  # Every weight the same value.
    draws.append(w.flat[0])
  draws = np.array(draws)
  # Across keys the scalar is He normal: variance 2 / fan_in = 0.04 (relative
  # standard error sqrt(2/2000) ~ 3%).
  np.testing.assert_allclose(draws.var(), 2 / 50, rtol=0.15)
  assert abs(draws.mean()) < 5 * math.sqrt(0.04 / 2000)


def test_default_resolves_to_the_model_choice():
  key = jax.random.key(0)
  np.testing.assert_array_equal(
      make_initializer('default')(key, (8, 8)),
      make_initializer('lecun_normal')(key, (8, 8)))
  np.testing.assert_array_equal(
      make_initializer('default', default='he_uniform')(key, (8, 8)),
      make_initializer('he_uniform')(key, (8, 8)))


def test_bias_init_is_constant():
  b = make_bias_init(0.1)(jax.random.key(0), (7,), jnp.float32)
  np.testing.assert_allclose(b, np.full(7, 0.1, np.float32))


def second_moment_after_relu_mlp(init, depth=50, width=256, batch=128):
  """E[h^2] of the last layer's pre-activation over E[x^2] of the input."""
  keys = jax.random.split(jax.random.key(0), depth + 1)
  x = jax.random.normal(keys[0], (batch, width))
  h = x
  for layer in range(depth):
    w = init(keys[layer + 1], (width, width), jnp.float32)
    h = (jnp.maximum(h, 0) if layer else h) @ w
  return float(jnp.mean(h**2) / jnp.mean(x**2))


def test_he_init_keeps_deep_relu_signal_while_small_gain_collapses_it():
  # He et al. 2015: Var(W) = 2/fan_in exactly compensates ReLU halving the
  # second moment, so 50 layers keep it within a small factor.
  ratio = second_moment_after_relu_mlp(make_initializer('he_normal'))
  assert 0.25 < ratio < 4, ratio
  # gain 0.5 multiplies the second moment by 0.25 per layer: 0.25**49 ~ 3e-30.
  ratio = second_moment_after_relu_mlp(make_initializer('he_normal', gain=0.5))
  assert ratio < 1e-20, ratio
  # Glorot (no factor 2) halves it per layer: 0.5**49 ~ 2e-15.
  ratio = second_moment_after_relu_mlp(make_initializer('glorot_normal'))
  assert ratio < 1e-10, ratio


def test_fixed_std_normal_keeps_the_signal_only_at_he_scale():
  # A fixed std sigma multiplies a ReLU layer's second moment by
  # sigma^2 * fan_in / 2: at sigma = sqrt(2/256) that is He's 1 ...
  he_std = math.sqrt(2 / 256)
  ratio = second_moment_after_relu_mlp(make_initializer('normal',
                                                        gain=he_std))
  assert 0.25 < ratio < 4, ratio
  # ... and at sigma = 0.01 it is 0.0128 per layer: 0.0128**49 ~ 1e-93,
  # float32's 0 (the notes' std in a deep net; init_schemes trains it).
  ratio = second_moment_after_relu_mlp(make_initializer('normal', gain=0.01))
  assert ratio < 1e-30, ratio


def test_registered_names():
  for family in ('he', 'glorot', 'lecun'):
    for dist in ('normal', 'uniform', 'truncated_normal'):
      assert f'{family}_{dist}' in INITIALIZERS
  for name in ('orthogonal', 'zeros', 'constant', 'normal'):
    assert name in INITIALIZERS


def test_bad_values_raise_config_error():
  with pytest.raises(ConfigError, match='he_normal'):
    make_initializer('he_normall')
  with pytest.raises(ConfigError, match='init_gain'):
    make_initializer('he_normal', gain=-1.0)
  with pytest.raises(ConfigError, match='bias_init'):
    make_bias_init(math.nan)
