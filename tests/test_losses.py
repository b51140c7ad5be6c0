"""Tests for dlexp.losses on hand-computed cases."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlexp import losses
from dlexp.errors import ConfigError

LN3 = math.log(3.0)


def make(name='cross_entropy', num_classes=2, **overrides):
  cfg = losses.defaults()
  cfg.name = name
  for key, value in overrides.items():
    cfg[key] = value
  return losses.make_loss(cfg, num_classes)


def random_batch(n=16, k=5, seed=0):
  rng = np.random.default_rng(seed)
  logits = jnp.asarray(rng.normal(size=(n, k)) * 3, jnp.float32)
  labels = jnp.asarray(rng.integers(0, k, size=n), jnp.int32)
  return logits, labels


def test_cross_entropy_by_hand():
  loss = make(num_classes=3)
  got = loss(jnp.array([[0.0, 0.0, 0.0], [LN3, 0.0, 0.0]]), jnp.array([2, 0]),
             {})
  # Uniform over 3: ln 3. softmax([ln3, 0, 0]) = [3/5, 1/5, 1/5]: ln(5/3).
  np.testing.assert_allclose(got, [1.0986123, 0.5108256], rtol=1e-6)
  assert got.shape == (2,)


def test_label_smoothing_by_hand():
  loss = make()
  logits = jnp.array([[LN3, 0.0]])  # p = [0.75, 0.25].
  # Targets [0.9, 0.1]: -(0.9 ln 0.75 + 0.1 ln 0.25) = 0.258914 + 0.138629.
  got = loss(logits, jnp.array([0]), {'loss.label_smoothing': 0.2})
  np.testing.assert_allclose(got, [0.3975433], rtol=1e-6)
  # The same smoothed targets given explicitly as float labels.
  got = make(label_smoothing=0.0)(logits, jnp.array([[0.9, 0.1]]), {})
  np.testing.assert_allclose(got, [0.3975433], rtol=1e-6)


def test_label_smoothing_zero_equals_sparse_and_one_hot():
  logits, labels = random_batch()
  loss = make(num_classes=5)
  sparse = loss(logits, labels, {'loss.label_smoothing': jnp.float32(0.0)})
  one_hot = loss(logits, jax.nn.one_hot(labels, 5), {})
  ref = -jax.nn.log_softmax(logits)[jnp.arange(16), labels]
  np.testing.assert_array_equal(sparse, ref)
  np.testing.assert_allclose(one_hot, ref, rtol=1e-6)


def test_traced_label_smoothing_under_vmap():
  logits, labels = random_batch()
  loss = make(num_classes=5)
  eps = jnp.array([0.0, 0.1, 0.3])
  batched = jax.jit(jax.vmap(
      lambda e: loss(logits, labels, {'loss.label_smoothing': e})))(eps)
  for i, e in enumerate([0.0, 0.1, 0.3]):
    t = (1 - e) * jax.nn.one_hot(labels, 5) + e / 5
    ref = -jnp.sum(t * jax.nn.log_softmax(logits), -1)
    np.testing.assert_allclose(batched[i], ref, rtol=1e-5)


def test_binary_cross_entropy_single_logit_by_hand():
  loss = make('binary_cross_entropy', num_classes=2)
  logits = jnp.array([[0.0], [LN3], [LN3], [-100.0]])  # sigmoid(ln 3) = 0.75.
  labels = jnp.array([1, 1, 0, 0])
  got = loss(logits, labels, {})
  # ln 2, -ln 0.75, -ln 0.25, ~0 (no overflow at large |z|).
  np.testing.assert_allclose(got, [0.6931472, 0.2876821, 1.3862944, 0.0],
                             rtol=1e-6, atol=1e-7)
  # Class 1 is predicted when z > 0, so the tie z = 0 counts as class 0.
  np.testing.assert_allclose(
      losses.accuracy(logits, labels), [0.0, 1.0, 0.0, 1.0])
  assert losses.output_dim(losses.defaults(), 10) == 10
  cfg = losses.defaults()
  cfg.name = 'bce'
  assert losses.output_dim(cfg, 2) == 1


def test_binary_cross_entropy_one_vs_rest():
  loss = make('bce', num_classes=2)
  # Two logits [0, ln3], label 1: -ln 0.5 - ln 0.75 (sum over outputs).
  got = loss(jnp.array([[0.0, LN3]]), jnp.array([1]), {})
  np.testing.assert_allclose(got, [0.6931472 + 0.2876821], rtol=1e-6)


def test_regression_losses_by_hand():
  logits = jnp.array([[1.0, 2.0, 0.0], [3.5, 0.0, 0.0]])
  labels = jnp.array([1, 1])
  # Errors vs one-hot: [1, 1, 0] and [3.5, 1, 0].
  np.testing.assert_allclose(make('mse', 3)(logits, labels, {}),
                             [2 / 3, (12.25 + 1) / 3], rtol=1e-6)
  np.testing.assert_allclose(make('mae', 3)(logits, labels, {}),
                             [2 / 3, 4.5 / 3], rtol=1e-6)
  # Huber, delta 1: 0.5 e^2 for |e| <= 1, else |e| - 0.5.
  np.testing.assert_allclose(make('huber', 3)(logits, labels, {}),
                             [(0.5 + 0.5) / 3, (3.0 + 0.5) / 3], rtol=1e-6)
  # delta 2: [0.5, 0.5, 0] and [2 * (3.5 - 1), 0.5, 0].
  np.testing.assert_allclose(
      make('huber', 3)(logits, labels, {'loss.huber_delta': 2.0}),
      [1.0 / 3, 5.5 / 3], rtol=1e-6)


def test_focal_by_hand_and_gamma_zero_is_cross_entropy():
  loss = make('focal')
  # p = 0.75: (1 - 0.75)^2 * -ln 0.75 = 0.0625 * 0.2876821.
  got = loss(jnp.array([[LN3, 0.0]]), jnp.array([0]), {})
  np.testing.assert_allclose(got, [0.0179801], rtol=1e-5)
  logits, labels = random_batch()
  ce = make(num_classes=5)(logits, labels, {})
  fl = make('focal', 5)(logits, labels, {'loss.focal_gamma': 0.0})
  np.testing.assert_allclose(fl, ce, rtol=1e-6)


def test_focal_gradient_is_finite_when_confident():
  loss = make('focal')
  logits = jnp.array([[200.0, 0.0], [0.0, 0.0]])
  for gamma in (0.0, 0.5, 2.0):
    g = jax.grad(lambda z: loss(z, jnp.array([0, 1]),
                                {'loss.focal_gamma': gamma}).sum())(logits)
    assert np.all(np.isfinite(g)), gamma


def test_class_weights():
  logits, labels = random_batch()
  plain = make(num_classes=5)(logits, labels, {})
  ones = make(num_classes=5, class_weights=(1.0,) * 5)(logits, labels, {})
  np.testing.assert_array_equal(ones, plain)
  w = np.array([2.0, 1.0, 0.5, 0.0, 3.0])
  weighted = make(num_classes=5, class_weights=tuple(w))(logits, labels, {})
  np.testing.assert_allclose(weighted, plain * w[np.asarray(labels)],
                             rtol=1e-6)
  focal = make('focal', 5, class_weights=tuple(w))(logits, labels, {})
  np.testing.assert_allclose(
      focal, make('focal', 5)(logits, labels, {}) * w[np.asarray(labels)],
      rtol=1e-6)


def test_metrics():
  logits = jnp.array([[1.0, 2.0], [3.0, 0.0], [0.0, 1.0]])
  labels = jnp.array([1, 1, 1])
  cfg = losses.defaults()
  metrics = losses.make_metrics(cfg)
  assert set(metrics) == {'accuracy'}
  np.testing.assert_array_equal(metrics['accuracy'](logits, labels),
                                [1.0, 0.0, 1.0])
  cfg.name = 'mse'
  metrics = losses.make_metrics(cfg)
  assert set(metrics) == {'accuracy', 'mse', 'mae'}
  # Errors vs [0, 1]: [1, 1], [3, 1], [0, 0].
  np.testing.assert_allclose(metrics['mse'](logits, labels), [1.0, 5.0, 0.0])
  np.testing.assert_allclose(metrics['mae'](logits, labels), [1.0, 2.0, 0.0])


def test_validation():
  losses.validate(losses.defaults())
  for path in losses.TRACED:
    assert isinstance(losses.defaults()[path.split('.')[1]], float)
  cfg = losses.defaults()
  cfg.name = 'cross_entropi'
  with pytest.raises(ConfigError, match="did you mean 'cross_entropy'"):
    losses.make_loss(cfg, 3)
  cfg = losses.defaults()
  cfg.label_smoothing = 1.0
  with pytest.raises(ConfigError, match=r'loss.label_smoothing=1.0 must be'):
    losses.validate(cfg)
  cfg = losses.defaults()
  cfg.class_weights = (1.0, 2.0)
  with pytest.raises(ConfigError, match='class_weights has 2 values') as err:
    losses.make_loss(cfg, 3)
  assert '\n' not in str(err.value)
