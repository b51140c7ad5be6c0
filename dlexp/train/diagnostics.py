"""Training diagnostics on a fixed probe batch, computed inside the compiled
program at log epochs only: per layer, dead-unit fraction and activation
statistics (from what every Activation module sows), gradient norm and weight
sparsity. The dead-ReLU, vanishing-gradient, SELU and sparsity ablations read
these keys from metrics.jsonl.
"""
from typing import Dict

import jax
import jax.numpy as jnp
from flax import traverse_util

# |w| below this counts as "small" (L1 with SGD drives weights near zero but
# rarely to exactly zero; pruning gives exact zeros).
SMALL_WEIGHT = 1e-3


def _name(path) -> str:
  """'Dense_3/kernel' -> 'Dense_3'; 'Activation_2/act' -> 'Activation_2'."""
  return '/'.join(str(p) for p in path[:-1]) or str(path[-1])


def compute(model, params, batch_stats, loss_fn, hp, probe_x, probe_y,
            dropout_rate=None) -> Dict[str, jnp.ndarray]:
  variables = {'params': params}
  if batch_stats:
    variables['batch_stats'] = batch_stats
  out: Dict[str, jnp.ndarray] = {}
  if dropout_rate is None:
    dropout_rate = hp['model.dropout_rate']

  def probe_loss(p):
    v = dict(variables, params=p)
    logits, state = model.apply(v, probe_x, train=False,
                                dropout_rate=dropout_rate,
                                mutable=['intermediates'])
    return jnp.mean(loss_fn(logits, probe_y, hp)), state

  grads, state = jax.grad(probe_loss, has_aux=True)(params)

  acts = traverse_util.flatten_dict(state.get('intermediates', {}))
  dead = []
  for path, value in acts.items():
    if path[-1] != 'act':
      continue
    a = value[0] if isinstance(value, tuple) else value
    name = _name(path)
    # A unit is one feature (last axis): a channel of a conv map. It is dead
    # when it is <= 0 for every probe example and position (for ReLU: it
    # outputs 0 everywhere, so no gradient reaches its weights).
    units = a.reshape(-1, a.shape[-1])
    frac = jnp.mean(jnp.all(units <= 0, axis=0).astype(jnp.float32))
    out[f'diag/{name}/dead_fraction'] = frac
    out[f'diag/{name}/act_mean'] = jnp.mean(a)
    out[f'diag/{name}/act_std'] = jnp.std(a)
    dead.append(frac)
  if dead:
    out['diag/dead_fraction'] = jnp.mean(jnp.stack(dead))

  flat_grads = traverse_util.flatten_dict(grads)
  norms: Dict[str, jnp.ndarray] = {}
  for path, g in flat_grads.items():
    name = _name(path)
    norms[name] = norms.get(name, 0.0) + jnp.sum(jnp.square(g))
  for name, sq in norms.items():
    out[f'diag/{name}/grad_norm'] = jnp.sqrt(sq)

  zeros, small, total = 0.0, 0.0, 0
  for path, w in traverse_util.flatten_dict(params).items():
    if path[-1] != 'kernel':
      continue
    name = _name(path)
    z = jnp.sum(w == 0)
    s = jnp.sum(jnp.abs(w) < SMALL_WEIGHT)
    out[f'diag/{name}/weight_zero_fraction'] = z / w.size
    out[f'diag/{name}/weight_small_fraction'] = s / w.size
    zeros, small, total = zeros + z, small + s, total + w.size
  if total:
    out['diag/weight_zero_fraction'] = zeros / total
    out['diag/weight_small_fraction'] = small / total
  return out
