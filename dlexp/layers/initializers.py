"""Weight initializers, registered by name.

Fans follow the usual convention for kernels shaped (..., in, out): for a
conv kernel (H, W, Cin, Cout), fan_in = H*W*Cin and fan_out = H*W*Cout.
`gain` multiplies the standard deviation (so the variance by gain**2), except
for 'normal', a fixed-std normal that needs no fan: there `gain` IS the
standard deviation, so `--config.model.kernel_init=normal
--config.model.init_gain=0.01` draws every weight from N(0, 0.01^2) (the
notes' "small random values ... (e.g. 0.01 or 0.1)", seed 003 Q1).
"""
import math

import jax
import jax.numpy as jnp

from dlexp.errors import ConfigError
from dlexp.registry import Registry

# name -> factory(gain, value) -> init_fn(key, shape, dtype).
INITIALIZERS = Registry('initializer')

# Variance scale and fan mode of each family (He et al. 2015, Glorot & Bengio
# 2010, LeCun et al. 1998).
_FAMILIES = {'he': (2.0, 'fan_in'), 'glorot': (1.0, 'fan_avg'),
             'lecun': (1.0, 'fan_in')}
_DISTRIBUTIONS = ('normal', 'uniform', 'truncated_normal')


def fans(shape) -> tuple:
  """(fan_in, fan_out) of a kernel shaped (..., in, out)."""
  if len(shape) == 0:
    return 1, 1
  if len(shape) == 1:
    return shape[0], shape[0]
  receptive = math.prod(shape[:-2])
  return receptive * shape[-2], receptive * shape[-1]


def _variance_scaling(scale, mode, distribution):
  def factory(gain, value):
    # jax truncates at 2 std and rescales, so every distribution has exactly
    # the target variance scale * gain**2 / fan.
    return jax.nn.initializers.variance_scaling(scale * gain**2, mode,
                                                distribution)
  return factory


for _family, (_scale, _mode) in _FAMILIES.items():
  for _dist in _DISTRIBUTIONS:
    INITIALIZERS.register(f'{_family}_{_dist}',
                          _variance_scaling(_scale, _mode, _dist))


@INITIALIZERS.register('orthogonal')
def _orthogonal(gain, value):
  # Saxe et al. 2014; kernels are flattened to (prod(shape[:-1]), out).
  return jax.nn.initializers.orthogonal(scale=gain)


@INITIALIZERS.register('normal')
def _normal(gain, value):
  """Normal with mean 0 and standard deviation gain, whatever the fans.

  No fan scaling: a fixed std keeps each layer's signal only where
  gain * sqrt(fan_in / 2) is about 1 (ReLU), so a deep stack of such layers
  shrinks or grows it geometrically (init_schemes measures where).
  """
  return jax.nn.initializers.normal(stddev=gain)


@INITIALIZERS.register('zeros')
def _zeros(gain, value):
  return jax.nn.initializers.zeros


@INITIALIZERS.register('constant')
def _constant(gain, value):
  """Every weight equal: `value`, or one scalar drawn from He normal if nan.

  The drawn variant answers "may all weights share one He-drawn value?": the
  scale is right but the symmetry is never broken.
  """
  def init(key, shape, dtype=jnp.float32):
    if not math.isnan(value):
      return jnp.full(shape, value, dtype)
    std = gain * math.sqrt(2.0 / fans(shape)[0])
    return jnp.full(shape, std * jax.random.normal(key, (), dtype), dtype)
  return init


def make_initializer(name: str, gain: float = 1.0, value: float = math.nan,
                     default: str = 'lecun_normal'):
  """init_fn(key, shape, dtype) for `name`; 'default' means `default`.

  `value` is only read by 'constant': a finite value is used as is (gain
  ignored); nan draws one He-normal scalar whose std gain multiplies. For
  'normal', gain is the standard deviation itself.
  """
  gain, value = float(gain), float(value)
  if not (math.isfinite(gain) and gain >= 0):
    raise ConfigError(f'init_gain={gain} not allowed; need a finite float >= 0')
  if math.isinf(value):
    raise ConfigError(f'init_value={value} not allowed; need a finite float or '
                      'nan (draw)')
  if name == 'default':
    name = default
  return INITIALIZERS.get(name)(gain, value)


def make_bias_init(value: float):
  """init_fn setting every bias to `value`."""
  value = float(value)
  if not math.isfinite(value):
    raise ConfigError(f'bias_init={value} not allowed; need a finite float')
  return jax.nn.initializers.constant(value)
