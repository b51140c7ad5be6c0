"""Dropout variants, DropConnect and MC-dropout prediction, checked against
binomial and moment expectations."""
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from dlexp.errors import ConfigError
from dlexp.layers import activations, dropout as D

Z999 = 3.2905  # Two-sided 99.9% normal quantile.


def run(variant, x, rate, train=True, seed=0):
  return D.Dropout(variant).apply({}, jnp.asarray(x), rate, train,
                                  rngs={'dropout': jax.random.key(seed)})


def assert_binomial(count, n, p):
  """count ~ Binomial(n, p) within the 99.9% normal-approximation interval."""
  half = Z999 * math.sqrt(n * p * (1 - p))
  assert abs(count - n * p) <= half, (count, n * p, half)


def test_rate_means_drop_fraction():
  # Rate 0.3 drops 30% of units (not keeps 30%).
  x = jnp.ones((200, 500))
  y = np.asarray(run('standard', x, 0.3))
  assert_binomial(int((y == 0).sum()), y.size, 0.3)
  np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)


VARIANTS = ('standard', 'classic', 'spatial', 'alpha', 'variational',
            'per_step_recurrent', 'locked', 'none', 'dropconnect')


def test_rate_zero_returns_input_exactly():
  x = jax.random.normal(jax.random.key(1), (2, 3, 4, 5))

  # One compiled program for all variants; the rate is a tracer, one grid
  # member per vmap lane, and the 0.5 lane shows the same code does drop.
  @jax.jit
  def outputs(rates, key):
    out = {}
    for v in VARIANTS:
      layer = D.Dropout(v)
      out[v] = (layer.apply({}, x, 0.0, False),
                jax.vmap(lambda r: layer.apply({}, x, r, True,
                                               rngs={'dropout': key}))(rates))
    return out

  for variant, (eval_out, train_out) in outputs(jnp.array([0.0, 0.5]),
                                                jax.random.key(0)).items():
    np.testing.assert_array_equal(eval_out, x)
    np.testing.assert_array_equal(train_out[0], x)
    if variant not in ('none', 'dropconnect'):
      assert not np.array_equal(train_out[1], x), variant


@pytest.mark.parametrize('variant', ['standard', 'classic'])
def test_train_expectation_equals_eval_output(variant):
  # Inverted dropout scales at training time, classic at test time; both make
  # E[train output] = eval output.
  rate, n = 0.4, 40_000
  x = jnp.linspace(-2, 3, 6)
  eval_out = np.asarray(run(variant, x, rate, train=False))
  samples = np.asarray(run(variant, jnp.broadcast_to(x, (n, 6)), rate))
  se = samples.std(axis=0) / math.sqrt(n)
  assert np.all(np.abs(samples.mean(axis=0) - eval_out) < 5 * se + 1e-6)
  expected_eval = x if variant == 'standard' else x * (1 - rate)
  np.testing.assert_allclose(eval_out, expected_eval, rtol=1e-6)


def test_eval_is_identity_for_inverted_variants():
  x = jax.random.normal(jax.random.key(0), (2, 4, 3))
  for variant in ('standard', 'spatial', 'alpha', 'locked'):
    np.testing.assert_array_equal(run(variant, x, 0.5, train=False), x)


def test_spatial_drops_whole_channels():
  rate = 0.5
  x = jnp.ones((64, 4, 4, 32))
  y = np.asarray(run('spatial', x, rate))
  # Each (example, channel) map is either all zero or all 1/(1-rate).
  per_channel = y.reshape(64, 16, 32)
  assert np.all(per_channel.min(axis=1) == per_channel.max(axis=1))
  dropped = per_channel[:, 0, :] == 0
  assert_binomial(int(dropped.sum()), dropped.size, rate)
  np.testing.assert_allclose(per_channel[:, 0, :][~dropped], 2.0)
  # NLC sequences: mask broadcast over length.
  y = np.asarray(run('spatial', jnp.ones((8, 10, 16)), rate))
  assert np.all(y.min(axis=1) == y.max(axis=1))


def test_variational_mask_is_shared_across_time():
  rate = 0.3
  x = jax.random.normal(jax.random.key(2), (32, 20, 16)) + 5  # Never 0.
  for variant in ('variational', 'locked'):
    y = np.asarray(run(variant, x, rate))
    kept = y != 0
    assert np.all(kept == kept[:, :1, :])  # Identical across T.
    assert_binomial(int((~kept[:, 0, :]).sum()), 32 * 16, rate)
    np.testing.assert_allclose(y[kept], np.asarray(x)[kept] / 0.7, rtol=1e-6)
  # Standard dropout masks differ across time steps, and so does the
  # input part of per_step_recurrent (its state part: the tests below).
  for variant in ('standard', 'per_step_recurrent'):
    kept = np.asarray(run(variant, x, rate)) != 0
    assert not np.all(kept == kept[:, :1, :]), variant


class StateProbe(nn.RNNCellBase):
  """A stand-in cell whose state h is all ones and whose output at step t
  is the h the layer fed into it there: the state mask of step t."""
  features: int
  bias_init: object = None

  def __call__(self, carry, x):
    c, h = carry
    return (c, jnp.ones_like(h)), h

  def initialize_carry(self, rng, input_shape):
    ones = jnp.ones(input_shape[:-1] + (self.features,))
    return ones, ones

  @property
  def num_feature_axes(self):
    return 1


def state_masks(monkeypatch, state_dropout, rate, train=True,
                shape=(32, 20, 16), seed=0):
  """The masks (N, L, F) a Recurrent layer puts on h at each step, rate
  traced (one compile per state_dropout and train)."""
  from dlexp.models import rnn  # pylint: disable=g-import-not-at-top
  monkeypatch.setitem(rnn.CELLS, 'lstm', StateProbe)  # no GRU special case
  layer = rnn.Recurrent('lstm', shape[-1], jax.nn.initializers.zeros,
                        state_dropout=state_dropout)
  x = jnp.zeros(shape[:2] + (1,))
  # Inference gets no 'dropout' stream (as in evaluation): none is needed.
  rngs = lambda k: {'dropout': k} if train else {}
  apply = jax.jit(lambda r, k: layer.apply({}, x, r, train, rngs=rngs(k)))
  return np.asarray(apply(rate, jax.random.key(seed)))


def test_per_step_recurrent_state_mask_is_fresh_at_every_step(monkeypatch):
  # 'per_step_recurrent' masks h with a fresh mask at every step,
  # 'variational' with one mask per sequence (both: 0 or 1/(1-rate)).
  rate = 0.3
  step = state_masks(monkeypatch, 'step', rate)
  sequence = state_masks(monkeypatch, 'sequence', rate)
  for masks in (step, sequence):
    kept = masks != 0
    np.testing.assert_allclose(masks[kept], 1 / 0.7, rtol=1e-6)
    assert_binomial(int((~kept[:, 0]).sum()), 32 * 16, rate)
  assert np.all(sequence == sequence[:, :1])
  # Each step's mask is its own draw: 512 units a step, equal to step 0's
  # with probability (0.58)**512.
  assert not np.any(np.all(step == step[:, :1], axis=(0, 2))[1:])
  # Over all 10,240 draws, the kept fraction is 1 - rate (binomial 99.9%).
  assert_binomial(int((step != 0).sum()), step.size, 1 - rate)
  # Another key, other masks.
  assert not np.array_equal(step, state_masks(monkeypatch, 'step', rate,
                                               seed=1))


def test_per_step_recurrent_state_mask_at_rate_zero_and_in_inference(
    monkeypatch):
  # Rate 0 keeps h exactly; inference applies no mask at any rate.
  ones = np.ones((4, 6, 3))
  np.testing.assert_array_equal(
      state_masks(monkeypatch, 'step', 0.0, shape=(4, 6, 3)), ones)
  for state_dropout in ('step', 'sequence'):
    np.testing.assert_array_equal(
        state_masks(monkeypatch, state_dropout, 0.5, train=False,
                    shape=(4, 6, 3)), ones)


@pytest.mark.parametrize('rate', [0.1, 0.3])
def test_alpha_dropout_keeps_selu_moments(rate):
  # SELU-normalized activations have mean 0, variance 1; alpha dropout keeps
  # both (Klambauer et al. 2017). Standard errors with 1e6 draws are ~1e-3.
  x = activations.selu(jax.random.normal(jax.random.key(3), (1000, 1000)))
  y = run('alpha', x, rate)
  assert abs(float(y.mean())) < 0.01
  assert abs(float(y.var()) - 1) < 0.01
  # Dropped units all take one value: a * alpha' + b.
  q = 1 - rate
  a = (q + D.ALPHA_PRIME**2 * q * rate)**-0.5
  dropped_value = a * D.ALPHA_PRIME - a * rate * D.ALPHA_PRIME
  count = int(jnp.sum(jnp.abs(y - dropped_value) < 1e-6))
  assert_binomial(count, y.size, rate)
  # Standard dropout on the same input does not keep the variance.
  assert float(run('standard', x, rate).var()) > 1 + rate / 2


def test_rate_one_gives_finite_values_and_gradients():
  x = jnp.ones((4, 3))

  @jax.jit
  def values_and_grads(key):
    out = {}
    for v in VARIANTS:
      fn = lambda r: D.Dropout(v).apply({}, x, r, True, rngs={'dropout': key})
      out[v] = (fn(1.0), jax.grad(lambda r: fn(r).sum())(1.0))
    return out

  for variant, (y, g) in values_and_grads(jax.random.key(0)).items():
    assert np.all(np.isfinite(y)) and np.isfinite(g), variant


def test_dropconnect_drops_weights_at_rate():
  rate = 0.3
  layer = D.DenseDropConnect(400)
  x = jnp.eye(250)  # Row i of the output is row i of the (masked) kernel.
  variables = layer.init(jax.random.key(0), x, rate, False)
  kernel = np.asarray(variables['params']['kernel'])
  bias = np.asarray(variables['params']['bias'])
  y = np.asarray(layer.apply(variables, x, rate, True,
                             rngs={'dropout': jax.random.key(1)})) - bias
  dropped = y == 0
  assert_binomial(int(dropped.sum()), y.size, rate)
  np.testing.assert_allclose(y[~dropped], kernel[~dropped] / (1 - rate),
                             rtol=1e-5)
  # Evaluation uses the plain kernel; rate 0 in training changes nothing.
  np.testing.assert_allclose(layer.apply(variables, x, rate, False),
                             kernel + bias, rtol=1e-6)
  np.testing.assert_array_equal(
      layer.apply(variables, x, 0.0, True, rngs={'dropout': jax.random.key(1)}),
      layer.apply(variables, x, 0.0, False))


def test_dense_without_dropconnect_ignores_rate():
  layer = D.Dense(5, dropconnect=False)
  x = jnp.ones((2, 3))
  variables = layer.init(jax.random.key(0), x)
  np.testing.assert_array_equal(layer.apply(variables, x, 0.9, True),
                                layer.apply(variables, x))


class TinyNet(nn.Module):
  """Dense -> dropout -> Dense, enough for MC-dropout."""

  @nn.compact
  def __call__(self, x, rate, train):
    x = nn.relu(nn.Dense(32)(x))
    x = D.Dropout('standard')(x, rate, train)
    return nn.Dense(4)(x)


def test_mc_dropout_uniform_prediction_has_entropy_log_c():
  apply_fn = lambda x, rng: jnp.zeros((x.shape[0], 7))
  probs, entropy = D.mc_dropout_predict(apply_fn, jnp.ones((3, 2)), 5,
                                        jax.random.key(0))
  np.testing.assert_allclose(probs, np.full((3, 7), 1 / 7), rtol=1e-6)
  np.testing.assert_allclose(entropy, np.full(3, math.log(7)), rtol=1e-6)


def test_mc_dropout_with_rate_zero_is_deterministic_softmax():
  net = TinyNet()
  x = jax.random.normal(jax.random.key(0), (6, 5))
  variables = jax.jit(net.init, static_argnums=3)(jax.random.key(1), x, 0.0,
                                                  False)

  def apply_fn(rate):
    return lambda x, rng: net.apply(variables, x, rate, True,
                                    rngs={'dropout': rng})

  # Compiled once for both rates: much faster than running op by op.
  @jax.jit
  def predict(rate, key):
    probs, entropy = D.mc_dropout_predict(apply_fn(rate), x, 64, key)
    # The same 64 passes one by one (the helper splits its key this way).
    each = jax.vmap(lambda k: jax.nn.softmax(apply_fn(rate)(x, k)))(
        jax.random.split(key, 64))
    each_entropy = -jnp.sum(each * jnp.log(each), axis=-1).mean(axis=0)
    return probs, entropy, each.mean(axis=0), each_entropy

  probs, entropy, _, _ = predict(0.0, jax.random.key(2))
  expected = jax.nn.softmax(
      jax.jit(net.apply, static_argnums=3)(variables, x, 0.0, False))
  np.testing.assert_allclose(probs, expected, rtol=1e-5)
  np.testing.assert_allclose(
      entropy, -np.sum(expected * np.log(expected), axis=-1), rtol=1e-5)
  # With dropout the passes disagree: the mean differs from the deterministic
  # softmax and, entropy being concave, the mixture's entropy exceeds the
  # passes' mean entropy (the gap is the mutual information).
  probs, entropy, each_mean, each_entropy = predict(0.5, jax.random.key(2))
  np.testing.assert_allclose(probs, each_mean, rtol=1e-5)
  np.testing.assert_allclose(probs.sum(axis=-1), np.ones(6), rtol=1e-5)
  assert not np.allclose(probs, expected, atol=1e-3)
  assert np.all(entropy > each_entropy + 1e-4)


def model_cfg(**kw):
  cfg = dict(dropout='standard', dropout_rate=0.0)
  cfg.update(kw)
  return ml_collections.ConfigDict(cfg)


def test_make_dropout_reads_variant_and_validates():
  assert D.make_dropout(model_cfg(dropout='alpha')).variant == 'alpha'
  with pytest.raises(ConfigError, match='standard'):
    D.make_dropout(model_cfg(dropout='standart'))
  with pytest.raises(ConfigError, match='dropout_rate'):
    D.make_dropout(model_cfg(dropout_rate=1.0))
