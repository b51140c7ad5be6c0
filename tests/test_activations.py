"""Activations: values, derivatives, SELU's fixed point, rrelu, prelu, sow."""
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from dlexp.errors import ConfigError
from dlexp.layers import activations as A


def model_cfg(**kw):
  cfg = dict(activation='relu', leaky_slope=0.01, elu_alpha=1.0,
             rrelu_lower=1 / 8, rrelu_upper=1 / 3, prelu_init=0.25)
  cfg.update(kw)
  return ml_collections.ConfigDict(cfg)


def apply(name, x, train=False, rng=0, **kw):
  """Output and (for a scalar x) derivative of the configured activation."""
  act = A.make_activation(model_cfg(activation=name, **kw))
  x = jnp.asarray(x, jnp.float32)
  variables = act.init(jax.random.key(0), x, train=False)
  rngs = {'dropout': jax.random.key(rng)}
  fn = lambda x: act.apply(variables, x, train=train, rngs=rngs)
  return fn(x), (jax.grad(fn)(x) if x.ndim == 0 else None)


def sigmoid(x):
  return 1 / (1 + math.exp(-x))


def phi(x):
  return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def big_phi(x):
  return 0.5 * (1 + math.erf(x / math.sqrt(2)))


# (name, kwargs, x, value, derivative), all closed forms.
CASES = [
    ('relu', {}, 2.0, 2.0, 1.0),
    ('relu', {}, -1.5, 0.0, 0.0),
    ('leaky_relu', {}, -2.0, -0.02, 0.01),
    ('leaky_relu', {'leaky_slope': 0.2}, -2.0, -0.4, 0.2),
    ('leaky_relu', {}, 3.0, 3.0, 1.0),
    ('elu', {}, -1.0, math.exp(-1) - 1, math.exp(-1)),
    ('elu', {'elu_alpha': 2.0}, -0.5, 2 * (math.exp(-0.5) - 1),
     2 * math.exp(-0.5)),
    ('elu', {}, 1.5, 1.5, 1.0),
    ('elu', {}, 0.0, 0.0, 1.0),  # continuous derivative at 0 for alpha 1
    ('selu', {}, 1.0, 1.0507009873554805, 1.0507009873554805),
    ('selu', {}, -1.0, 1.0507009873554805 * 1.6732632423543772
     * (math.exp(-1) - 1), 1.0507009873554805 * 1.6732632423543772
     * math.exp(-1)),
    ('gelu', {}, 1.0, big_phi(1.0), big_phi(1.0) + phi(1.0)),
    ('gelu', {}, 0.0, 0.0, 0.5),
    ('gelu', {}, -2.0, -2 * big_phi(-2.0), big_phi(-2.0) - 2 * phi(-2.0)),
    ('swish', {}, 0.0, 0.0, 0.5),
    ('swish', {}, 2.0, 2 * sigmoid(2),
     sigmoid(2) + 2 * sigmoid(2) * (1 - sigmoid(2))),
    ('silu', {}, -1.0, -sigmoid(-1),
     sigmoid(-1) - sigmoid(-1) * (1 - sigmoid(-1))),
    ('tanh', {}, 0.5, math.tanh(0.5), 1 - math.tanh(0.5)**2),
    ('sigmoid', {}, 0.0, 0.5, 0.25),
    ('sigmoid', {}, 2.0, sigmoid(2), sigmoid(2) * (1 - sigmoid(2))),
    ('softplus', {}, 0.0, math.log(2), 0.5),
    ('softplus', {}, 3.0, math.log1p(math.exp(3)), sigmoid(3)),
    ('prelu', {}, -2.0, -0.5, 0.25),
    ('prelu', {'prelu_init': 0.1}, 4.0, 4.0, 1.0),
    ('rrelu', {}, -3.0, -3.0 * (1 / 8 + 1 / 3) / 2, (1 / 8 + 1 / 3) / 2),
]


@pytest.mark.parametrize('name,kw,x,value,deriv', CASES)
def test_value_and_derivative(name, kw, x, value, deriv):
  y, dy = apply(name, x, **kw)
  np.testing.assert_allclose(y, value, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(dy, deriv, rtol=1e-5, atol=1e-7)


def test_selu_constants_solve_the_fixed_point_equations():
  """Klambauer et al. 2017, eq. 14: the closed forms of alpha and lambda
  that make (mean 0, variance 1) SELU's fixed point, computed here from
  erfc (not copied from the module)."""
  erfc, e = math.erfc, math.e
  alpha = -math.sqrt(2 / math.pi) / (erfc(1 / math.sqrt(2)) * math.exp(0.5)
                                     - 1)
  scale = ((1 - erfc(1 / math.sqrt(2)) * math.sqrt(e))
           * math.sqrt(2 * math.pi)
           * (2 * erfc(math.sqrt(2)) * e**2
              + math.pi * erfc(1 / math.sqrt(2))**2 * e
              - 2 * (2 + math.pi) * erfc(1 / math.sqrt(2)) * math.sqrt(e)
              + math.pi + 2)**-0.5)
  np.testing.assert_allclose(A.SELU_ALPHA, alpha, rtol=1e-14)
  np.testing.assert_allclose(A.SELU_SCALE, scale, rtol=1e-14)
  # And by quadrature of N(0, 1): E[selu(z)] = 0, E[selu(z)^2] = 1.
  z, dz = np.linspace(-12, 12, 400_001, retstep=True)
  pdf = np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
  y = A.SELU_SCALE * np.where(z > 0, z, A.SELU_ALPHA * np.expm1(
      np.minimum(z, 0)))
  # The integrands vanish at +-12, so the plain sum is the trapezoid rule.
  np.testing.assert_allclose(np.sum(y * pdf) * dz, 0, atol=1e-9)
  np.testing.assert_allclose(np.sum(y * y * pdf) * dz, 1, rtol=1e-9)


def test_selu_keeps_standard_normal_moments():
  # N(0, 1) is SELU's fixed point: output mean 0, variance 1. The standard
  # error of both estimates with 1e6 samples is about 1e-3.
  z = jax.random.normal(jax.random.key(1), (1_000_000,))
  y = A.selu(z)
  assert abs(float(y.mean())) < 5e-3
  assert abs(float(y.var()) - 1) < 5e-3
  # A scaled ELU without SELU's constants does not have that property.
  assert abs(float(A.elu(z).var()) - 1) > 0.1


def test_elu_large_input_has_finite_gradient():
  assert float(jax.grad(lambda x: A.elu(x, 1.0))(100.0)) == 1.0
  assert np.isfinite(float(jax.grad(lambda x: A.elu(x, 1.0))(-100.0)))


def test_rrelu_training_slopes_are_uniform():
  x = -jnp.ones((200_000,))
  y, _ = apply('rrelu', x, train=True)
  slope = -np.asarray(y)
  lower, upper = 1 / 8, 1 / 3
  assert slope.min() >= lower and slope.max() <= upper
  # Mean and variance of U(lower, upper); standard error of the mean ~1.3e-4.
  np.testing.assert_allclose(slope.mean(), (lower + upper) / 2, atol=1e-3)
  np.testing.assert_allclose(slope.var(), (upper - lower)**2 / 12, rtol=2e-2)
  # Positive inputs pass through unchanged even in training.
  y_pos, _ = apply('rrelu', jnp.ones(10), train=True)
  np.testing.assert_array_equal(y_pos, np.ones(10))


def test_rrelu_eval_is_deterministic():
  x = jnp.linspace(-3, 3, 13)
  y1, _ = apply('rrelu', x, train=False, rng=1)
  y2, _ = apply('rrelu', x, train=False, rng=2)
  np.testing.assert_array_equal(y1, y2)
  np.testing.assert_allclose(y1, np.where(x >= 0, x, x * (1 / 8 + 1 / 3) / 2),
                             rtol=1e-6)
  # Training draws differ between rng keys.
  t1, _ = apply('rrelu', x, train=True, rng=1)
  t2, _ = apply('rrelu', x, train=True, rng=2)
  assert not np.array_equal(t1, t2)


def test_prelu_slope_is_a_learned_per_channel_param():
  act = A.make_activation(model_cfg(activation='prelu', prelu_init=0.3))
  x = jnp.array([[-1.0, -2.0, 3.0]])
  variables = act.init(jax.random.key(0), x)
  np.testing.assert_allclose(variables['params']['slope'], [0.3] * 3)

  def loss(params):
    return act.apply({'params': params}, x).sum()

  # d/d slope_c of sum(where(x >= 0, x, slope_c x)) = x_c on negative inputs.
  grad = jax.grad(loss)(variables['params'])['slope']
  np.testing.assert_allclose(grad, [-1.0, -2.0, 0.0])


def test_activation_sows_its_output():
  act = A.make_activation(model_cfg(activation='tanh'))
  x = jnp.linspace(-2, 2, 5)
  y, state = act.apply({}, x, mutable=['intermediates'])
  np.testing.assert_allclose(state['intermediates']['act'][0], np.tanh(x),
                             rtol=1e-6)
  np.testing.assert_array_equal(y, state['intermediates']['act'][0])


@pytest.mark.parametrize('name', ['swish', 'silu'])
def test_swish_and_silu_are_x_times_sigmoid(name):
  x = np.linspace(-6, 6, 25)
  expected = x / (1 + np.exp(-x))  # numpy, in float64
  np.testing.assert_allclose(apply(name, x)[0], expected, rtol=1e-6,
                             atol=1e-7)
  # Its minimum, -0.278465 at x = -1.278465 (W(1/e) + 1 = 1.278465).
  y, dy = apply(name, -1.2784645)
  np.testing.assert_allclose(y, -0.2784645, rtol=1e-6)
  assert abs(float(dy)) < 1e-6


@pytest.mark.parametrize('name,x,expected', [
    ('relu', [-2.0, -0.5, 0.5, 2.0], [0, 0, 1, 1]),
    ('leaky_relu', [-2.0, 2.0], [0.01, 1]),
    ('elu', [-1.0, 0.0, 1.0], [math.exp(-1), 1, 1]),
    ('tanh', [0.0, 2.0], [1, 1 - math.tanh(2)**2]),
    ('sigmoid', [0.0], [0.25]),
])
def test_activation_sows_its_derivative_for_diagnostics(name, x, expected):
  act = A.make_activation(model_cfg(activation=name))
  x = jnp.asarray(x)
  y, state = act.apply({}, x, mutable=['intermediates'])
  sown = state['intermediates']
  np.testing.assert_allclose(sown['act'][0], y)
  np.testing.assert_allclose(sown['act_grad'][0], expected, rtol=1e-6)
  assert ('saturated' in sown) == (name in ('tanh', 'sigmoid'))
  # Nothing is sown (or computed) when intermediates are not collected.
  assert act.apply({}, x).shape == x.shape


def test_saturation_threshold_is_one_percent_of_the_largest_derivative():
  # tanh'(x) = 1 - tanh(x)^2 < 0.01 beyond atanh(sqrt(0.99)) = 2.9932.
  act = A.make_activation(model_cfg(activation='tanh'))
  x = jnp.array([0.0, 2.9, 3.1, -3.1])
  _, state = act.apply({}, x, mutable=['intermediates'])
  np.testing.assert_array_equal(state['intermediates']['saturated'][0],
                                [False, False, True, True])


def test_every_registered_activation_runs_under_jit_and_vmap():
  x = jnp.linspace(-2, 2, 8).reshape(2, 4)
  for name in A.ACTIVATIONS:
    act = A.make_activation(model_cfg(activation=name))
    variables = act.init(jax.random.key(0), x)
    fn = jax.jit(jax.vmap(lambda k: act.apply(variables, x, train=True,
                                              rngs={'dropout': k})))
    out = fn(jax.random.split(jax.random.key(0), 3))
    assert out.shape == (3, 2, 4) and bool(jnp.isfinite(out).all()), name


def test_bad_config_raises_config_error():
  with pytest.raises(ConfigError, match='relu'):
    A.make_activation(model_cfg(activation='rellu'))
  with pytest.raises(ConfigError, match='rrelu'):
    A.make_activation(model_cfg(activation='rrelu', rrelu_lower=0.5,
                                rrelu_upper=0.1))
  with pytest.raises(ConfigError, match='activation='):
    A.Activation().init(jax.random.key(0), jnp.ones(2))
