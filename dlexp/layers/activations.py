"""Activation functions, registered by name, and the `Activation` module.

Every activation is a function `fn(module, x, train) -> y` in `ACTIVATIONS`;
most ignore `module` and `train`, while prelu (learned slope) and rrelu
(random slope in training) need the module for params and rngs.
"""
import math
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from dlexp.errors import ConfigError
from dlexp.registry import Registry

ACTIVATIONS = Registry('activation')

# SELU constants from Klambauer et al. 2017 (self-normalizing networks): the
# values that make N(0, 1) a fixed point of the mean/variance map.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def relu(x):
  return jnp.maximum(x, 0)


def leaky_relu(x, slope=0.01):
  return jnp.where(x >= 0, x, slope * x)


def elu(x, alpha=1.0):
  # expm1 on the clipped input: exact near 0 and no overflow (or inf * 0 = nan
  # in the gradient) on the unused branch for large positive x. Clipped with
  # where, not minimum, whose derivative at the tie x = 0 is 1/2: ELU's is 1.
  return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.where(x > 0, 0.0, x)))


def selu(x):
  return SELU_SCALE * elu(x, SELU_ALPHA)


def gelu(x):
  """Exact GELU x * Phi(x) (Hendrycks & Gimpel 2016), not the tanh form."""
  return jax.nn.gelu(x, approximate=False)


def swish(x):
  """Swish / SiLU: x * sigmoid(x) (Ramachandran et al. 2017)."""
  return x * jax.nn.sigmoid(x)


def _stateless(fn: Callable) -> Callable:
  return lambda module, x, train: fn(x)


for _name, _fn in [('relu', relu), ('selu', selu), ('gelu', gelu),
                   ('swish', swish), ('silu', swish), ('tanh', jnp.tanh),
                   ('sigmoid', jax.nn.sigmoid),
                   ('softplus', jax.nn.softplus), ('linear', lambda x: x)]:
  ACTIVATIONS.register(_name, _stateless(_fn))


@ACTIVATIONS.register('leaky_relu')
def _leaky_relu(module, x, train):
  return leaky_relu(x, module.leaky_slope)


@ACTIVATIONS.register('elu')
def _elu(module, x, train):
  return elu(x, module.elu_alpha)


@ACTIVATIONS.register('prelu')
def _prelu(module, x, train):
  # One learned slope per channel (last axis), as in He et al. 2015.
  slope = module.param('slope', nn.initializers.constant(module.prelu_init),
                       x.shape[-1:], jnp.float32)
  return jnp.where(x >= 0, x, slope.astype(x.dtype) * x)


@ACTIVATIONS.register('rrelu')
def _rrelu(module, x, train):
  # Randomized leaky ReLU (Xu et al. 2015): a fresh slope per element while
  # training; the deterministic mean slope at evaluation.
  lower, upper = module.rrelu_lower, module.rrelu_upper
  if train:
    slope = jax.random.uniform(module.make_rng('dropout'), x.shape, x.dtype,
                               lower, upper)
  else:
    slope = (lower + upper) / 2
  return jnp.where(x >= 0, x, slope * x)


# Activations whose derivative vanishes at both ends, with their largest
# derivative (at 0). A unit counts as saturated when its derivative stays below
# SATURATION times that on every probe example (dlexp/train/diagnostics.py).
SATURATING = {'sigmoid': 0.25, 'tanh': 1.0}
SATURATION = 0.01


class Activation(nn.Module):
  """A named activation; sows for diagnostics when the 'intermediates'
  collection is mutable (never in a training step, which pays nothing):

  - 'act': the output y;
  - 'act_grad': dy/dx elementwise (a jvp with a ones tangent), so dead units
    (y = 0 and dy/dx = 0) are told from units that are merely negative;
  - 'saturated': dy/dx < SATURATION * max dy/dx, for sigmoid and tanh only.

  The activation's name is the field `activation` (flax reserves `name` for the
  module's own name).
  """
  activation: str = ''
  leaky_slope: float = 0.01
  elu_alpha: float = 1.0
  rrelu_lower: float = 1 / 8
  rrelu_upper: float = 1 / 3
  prelu_init: float = 0.25

  @nn.compact
  def __call__(self, x, train: bool = False):
    if not self.activation:
      raise ConfigError('Activation needs activation=<name>; allowed: '
                        + ', '.join(ACTIVATIONS.names()))
    fn = ACTIVATIONS.get(self.activation)
    if not self.is_mutable_collection('intermediates'):
      return fn(self, x, train)
    # Every activation is elementwise, so the jvp with a ones tangent is the
    # derivative of each output by its own input.
    y, dy = jax.jvp(lambda v: fn(self, v, train), (x,), (jnp.ones_like(x),))
    self.sow('intermediates', 'act', y)
    self.sow('intermediates', 'act_grad', dy)
    if self.activation in SATURATING:
      limit = SATURATION * SATURATING[self.activation]
      self.sow('intermediates', 'saturated', jnp.abs(dy) < limit)
    return y


def make_activation(model_cfg) -> Activation:
  """The Activation described by the model config section."""
  name = model_cfg.activation
  ACTIVATIONS.get(name)  # Fail at build time, not on the first forward pass.
  lower, upper = float(model_cfg.rrelu_lower), float(model_cfg.rrelu_upper)
  if name == 'rrelu' and not 0 <= lower <= upper:
    raise ConfigError(f'rrelu bounds lower={lower}, upper={upper} not allowed; '
                      'need 0 <= rrelu_lower <= rrelu_upper')
  for key in ('leaky_slope', 'elu_alpha', 'prelu_init'):
    if not math.isfinite(float(model_cfg[key])):
      raise ConfigError(f'model.{key}={model_cfg[key]} not allowed; need a '
                        'finite float')
  return Activation(activation=name, leaky_slope=float(model_cfg.leaky_slope),
                    elu_alpha=float(model_cfg.elu_alpha), rrelu_lower=lower,
                    rrelu_upper=upper, prelu_init=float(model_cfg.prelu_init))
