"""Symmetry of a layer: how many of the first hidden layer's units have
distinct incoming weights after training (init_schemes: a layer started
with one shared value stays a stack of copies of one unit)."""
import functools
from typing import Dict, Sequence, Tuple

import jax
import jax.numpy as jnp
from flax import traverse_util

from dlexp import models
from dlexp.errors import ConfigError


def first_kernel(params, order: Sequence[str]) -> jax.Array:
  """The kernel of the first layer in network `order` (models.layer_order).

  Raises:
    ConfigError: the model has no kernel.
  """
  kernels = {'/'.join(map(str, p[:-1])): v
             for p, v in traverse_util.flatten_dict(params).items()
             if p[-1] == 'kernel'}
  for name in order:
    if name in kernels:
      return kernels[name]
  raise ConfigError('model has no layer with a kernel to measure')


def distinct_units(kernel: jax.Array, rtol: float = 1e-5) -> jax.Array:
  """How many units (last axis) have distinct incoming weights.

  A unit counts unless an earlier unit's weights equal its own to within
  rtol times the kernel's largest |weight|: units started equal get equal
  gradients, and float rounding is the only thing that could part them.
  """
  w = kernel.reshape(-1, kernel.shape[-1]).T  # (units, fan_in)
  tol = rtol * jnp.max(jnp.abs(w)) + 1e-30
  index = jnp.arange(w.shape[0])

  def copies_an_earlier_unit(j):
    # One unit against all at a time: a (units, units, fan_in) difference
    # would take 300 MB for ten members of a 784x100 layer.
    diff = jnp.max(jnp.abs(w - w[j]), axis=-1)
    return jnp.any((diff <= tol) & (index < j))

  return jnp.sum(~jax.lax.map(copies_an_earlier_unit, index))


def unit_spread(kernel: jax.Array) -> jax.Array:
  """Std over units of the incoming weights, averaged over inputs, relative
  to the kernel's RMS: 0 when every unit is a copy, about 1 when random."""
  w = kernel.reshape(-1, kernel.shape[-1])
  rms = jnp.sqrt(jnp.mean(jnp.square(w))) + 1e-30
  return jnp.mean(jnp.std(w, axis=-1)) / rms


@jax.jit
def _symmetry(kernel):
  return {'distinct_units': jax.vmap(distinct_units)(kernel),
          'unit_spread': jax.vmap(unit_spread)(kernel)}


@functools.lru_cache(maxsize=16)
def _model_order(model, input_shape: Tuple[int, ...]) -> Tuple[str, ...]:
  return tuple(models.layer_order(model, input_shape))


def distinct_units_hook(ctx) -> Dict[str, jax.Array]:
  """Distinct units and unit spread of the first layer in call order (the
  first hidden layer), after training: a layer initialized with one shared
  value stays a stack of copies of one unit."""
  order = _model_order(ctx.model, tuple(ctx.data.probe_x.shape[1:]))
  return _symmetry(first_kernel(ctx.params, order))
