"""Training diagnostics on a fixed probe batch, computed inside the compiled
program at log epochs only: per layer, unit-state fractions and activation
statistics (from what every Activation module sows), gradient norm and weight
sparsity. The dead-ReLU, vanishing-gradient, SELU and sparsity ablations read
these keys from metrics.jsonl.

A unit is one feature (last axis; a channel of a conv map), judged over every
probe example and position:
- dead_fraction: output exactly 0 AND derivative exactly 0 everywhere, so no
  gradient reaches the unit's weights (ReLU's dead units; a leaky ReLU, ELU,
  SELU or softplus unit is essentially never in that state);
- never_positive_fraction: output <= 0 everywhere, whatever the activation
  (for ReLU nearly the dead units; an ELU unit there still learns);
- inactive_fraction ("effectively inactive"): |derivative| at most INACTIVE
  (1e-3) times the layer's largest |derivative| on the probe, everywhere, so
  next to no gradient reaches the unit's weights. It contains the dead units,
  and unlike them it can be reached by an ELU or SELU unit (an ELU's
  derivative alpha*exp(x) is below 1e-3 for inputs below -6.9) or a
  saturated sigmoid or tanh unit. The reference is the layer's own largest
  derivative (1 for the ReLU family and ELU whenever a unit of the layer is
  in its linear part), so the threshold reads the same for every
  activation's scale; a layer whose every derivative is 0 counts all its
  units inactive, and one with a non-finite derivative gives nan;
- saturated_fraction (sigmoid and tanh layers only): derivative below
  activations.SATURATION (1%) of the activation's largest derivative
  everywhere: the unit passes almost no gradient.
The overall keys (diag/dead_fraction, ...) average the layers' fractions.

Options (config.diagnostics, off by default; see `options`):
- unit_masks: each layer also logs diag/<layer>/dead_units, one 0/1 entry
  per unit (1 = dead as above; a list per layer in every metrics line), so
  readers can follow single units across epochs: a unit dead at one logged
  epoch and alive at a later one revived (dlexp.analysis.unit_revival);
- train_mode: the probe runs as a training step would, BatchNorm normalizing
  with the probe's own statistics instead of its running averages (which at
  initialization are the identity), dropout off (rate 0) and rrelu's random
  slopes from a fixed key; the running averages are not updated.
"""
from typing import Any, Dict, List

import jax
import jax.numpy as jnp
from flax import traverse_util

from dlexp.train import state as state_lib

# |w| below this counts as "small" (L1 with SGD drives weights near zero but
# rarely to exactly zero; pruning gives exact zeros).
SMALL_WEIGHT = 1e-3
# A unit is effectively inactive when its |derivative| stays at or below this
# fraction of the layer's largest |derivative| on every probe example.
INACTIVE = 1e-3


def _name(path) -> str:
  """'Dense_3/kernel' -> 'Dense_3'; 'Activation_2/act' -> 'Activation_2'."""
  return '/'.join(str(p) for p in path[:-1]) or str(path[-1])


def _every_example(mask: jnp.ndarray) -> jnp.ndarray:
  """Fraction of units (last axis) for which `mask` holds at every example
  and position."""
  units = mask.reshape(-1, mask.shape[-1])
  return jnp.mean(jnp.all(units, axis=0).astype(jnp.float32))


def _every_example_mask(mask: jnp.ndarray) -> jnp.ndarray:
  """Per unit (last axis): 1 where `mask` holds at every example and
  position, else 0 (uint8: one short JSON number per unit)."""
  units = mask.reshape(-1, mask.shape[-1])
  return jnp.all(units, axis=0).astype(jnp.uint8)


def inactive_fraction(act_grad: jnp.ndarray) -> jnp.ndarray:
  """Fraction of units (last axis) whose |derivative| is at most INACTIVE
  times the layer's largest |derivative| at every example and position;
  nan where a derivative is not finite."""
  g = jnp.abs(act_grad)
  limit = INACTIVE * jnp.max(g)
  frac = _every_example(g <= limit)
  return jnp.where(jnp.all(jnp.isfinite(g)), frac, jnp.nan)


def _unit_states(sown: Dict[tuple, jnp.ndarray],
                 out: Dict[str, jnp.ndarray], unit_masks: bool) -> None:
  """Per-layer and overall unit-state fractions and activation statistics."""
  first = lambda v: v[0] if isinstance(v, tuple) else v
  layers: Dict[str, Dict[str, jnp.ndarray]] = {}
  for path, value in sown.items():
    layers.setdefault(_name(path), {})[path[-1]] = first(value)
  overall: Dict[str, List[jnp.ndarray]] = {}
  for name, values in layers.items():
    if 'act' not in values:
      continue  # another module's intermediates ('features')
    a, stats = values['act'], {}
    stats['never_positive_fraction'] = _every_example(a <= 0)
    if 'act_grad' in values:
      dead = (a == 0) & (values['act_grad'] == 0)
      stats['dead_fraction'] = _every_example(dead)
      stats['inactive_fraction'] = inactive_fraction(values['act_grad'])
      if unit_masks:
        out[f'diag/{name}/dead_units'] = _every_example_mask(dead)
    if 'saturated' in values:
      stats['saturated_fraction'] = _every_example(values['saturated'])
    for stat, frac in stats.items():
      out[f'diag/{name}/{stat}'] = frac
      overall.setdefault(stat, []).append(frac)
    out[f'diag/{name}/act_mean'] = jnp.mean(a)
    # Per unit (channel): a layer mean near 0 can hide units with large
    # means of both signs; this is the mean over units of |their mean|.
    examples = tuple(range(a.ndim - 1))
    unit_mean = jnp.mean(a, axis=examples)
    out[f'diag/{name}/unit_abs_mean'] = jnp.mean(jnp.abs(unit_mean))
    # The same, scale-free: |mean| / root mean square per unit (0: zero
    # mean, 1: a constant output), so that a layer whose activations are
    # larger does not look less centred; units that output exactly 0 on
    # every example (rms 0) are left out.
    rms = jnp.sqrt(jnp.mean(jnp.square(a), axis=examples))
    live = rms > 0
    ratio = jnp.where(live, jnp.abs(unit_mean) / jnp.where(live, rms, 1.0),
                      0.0)
    # NaN, not 0, where nothing is measurable (no unit with output, or a
    # diverged net's non-finite activations): 0 would read as zero mean.
    measurable = jnp.any(live) & jnp.all(jnp.isfinite(a))
    out[f'diag/{name}/unit_mean_rms'] = jnp.where(
        measurable, jnp.sum(ratio) / jnp.maximum(jnp.sum(live), 1), jnp.nan)
    out[f'diag/{name}/act_std'] = jnp.std(a)
  for stat, fracs in overall.items():
    out[f'diag/{stat}'] = jnp.mean(jnp.stack(fracs))


def options(diag_cfg) -> Dict[str, Any]:
  """compute's keyword options from the config.diagnostics section (static:
  they change the compiled program)."""
  return dict(unit_masks=bool(diag_cfg.unit_masks),
              train_mode=bool(diag_cfg.train_mode))


def compute(model, params, batch_stats, loss_fn, hp, probe_x, probe_y,
            dropout_rate=None, unit_masks: bool = False,
            train_mode: bool = False,
            rng_impl: str = 'threefry') -> Dict[str, jnp.ndarray]:
  variables = {'params': params}
  if batch_stats:
    variables['batch_stats'] = batch_stats
  out: Dict[str, jnp.ndarray] = {}
  if dropout_rate is None:
    dropout_rate = hp['model.dropout_rate']
  mode = dict(train=False, dropout_rate=dropout_rate,
              mutable=['intermediates'])
  if train_mode:  # batch statistics of the probe; their update is dropped
    # Rate 0 draws no mask; rrelu's slopes come from this fixed key, of the
    # run's rng_impl as every key the engine makes.
    mode = dict(train=True, dropout_rate=0.0,
                rngs={'dropout': state_lib.make_key(0, rng_impl)},
                mutable=['intermediates', 'batch_stats'])

  def probe_loss(p):
    v = dict(variables, params=p)
    logits, state = model.apply(v, probe_x, **mode)
    return jnp.mean(loss_fn(logits, probe_y, hp)), state

  grads, state = jax.grad(probe_loss, has_aux=True)(params)
  _unit_states(traverse_util.flatten_dict(state.get('intermediates', {})),
               out, unit_masks)

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
