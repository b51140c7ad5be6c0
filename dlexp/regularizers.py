"""Weight penalties, max-norm constraints and magnitude pruning.

Owns `config.reg`. Everything acts on *kernels* only: parameter leaves named
'kernel' (Dense, Conv, recurrent cells), never biases, embeddings or
BatchNorm scale/bias.

Conventions:
- `penalty = l1 * sum|w| + (l2 / 2) * sum w**2`, so the L2 gradient is
  `l2 * w`, matching a coupled weight decay of `l2`; l1 and l2 together give
  the elastic net. Both are traced (`TRACED`).
- `l1_method` 'proximal' takes L1 out of the loss and applies its proximal
  operator after each update instead (ISTA, proximal gradient descent):
  `w <- sign(w) * max(|w| - lr * l1, 0)` with the step's learning rate.
  With plain SGD this is the exact proximal gradient step, and weights land
  on exactly 0; the (sub)gradient of the penalty makes SGD overshoot 0 by up
  to lr * l1 every step, so 'penalty' leaves them hovering near 0. With
  momentum or adaptive optimizers the threshold lr * l1 is the usual
  heuristic, not an exact proximal step.
- max-norm (Srebro et al. 2005; Srivastava et al. 2014): each unit's incoming
  weight vector (all kernel axes but the last, the output axis) is rescaled to
  norm `max_norm` when longer; apply after the optimizer update.
- Pruning is unstructured magnitude pruning. Masks are a pytree shaped like the
  params with bool leaves (True = kept; non-kernels are always True).
  'one_shot' prunes to `prune_sparsity` at step `prune_start_epoch *
  steps_per_epoch`; 'gradual' follows Zhu & Gupta 2017:
  `s_t = s_f * (1 - (1 - (t - t0) / (t1 - t0))**3)` for t in [t0, t1], masks
  recomputed every `prune_every_steps` steps and at t1. `step` counts applied
  updates: call `update_masks` after the update with the new count (t0 is at
  least 1, so pruning starting at epoch 0 acts after the first update).
  Pruned weights never return: they rank below every kept weight. Scope
  'layer' prunes each kernel to the target; 'global' ranks all kernels
  together. The target sparsity is traced: a grid over it shares one
  program.
"""
from typing import Dict

import jax
import jax.numpy as jnp
import ml_collections

from dlexp.errors import ConfigError
from dlexp import tree_paths
from dlexp.registry import did_you_mean

TRACED = ('reg.l1', 'reg.l2', 'reg.prune_sparsity')

L1_METHODS = ('penalty', 'proximal')

PRUNE_METHODS = ('none', 'one_shot', 'gradual')
PRUNE_SCOPES = ('layer', 'global')


def defaults() -> ml_collections.ConfigDict:
  """The `config.reg` section."""
  return ml_collections.ConfigDict(dict(
      l1=0.0,                # L1 penalty on kernels.
      l1_method='penalty',   # How L1 acts: a penalty in the loss, or the
                             # proximal step (soft-thresholding by lr * l1)
                             # after each update, which makes exact zeros.
      l2=0.0,                # L2 penalty (l2 / 2) sum w^2 on kernels (coupled
                             # weight decay).
      max_norm=0.0,          # Bound on the norm of each unit's incoming
                             # weights; 0 = off; static (apply_constraints
                             # gets no hp).
      prune_method='none',   # Magnitude pruning method.
      prune_scope='layer',   # Which kernels are ranked together.
      prune_sparsity=0.5,    # Final fraction of kernel weights set to zero.
      prune_start_epoch=0,   # Pruning starts after this many epochs.
      prune_end_epoch=10,    # gradual: epoch at which the sparsity reaches
                             # reg.prune_sparsity.
      prune_every_steps=100,  # gradual: steps between mask updates.
  ))


def _choice(path: str, value: str, allowed) -> None:
  if value not in allowed:
    raise ConfigError(f'unknown {path} {value!r}'
                      f'{did_you_mean(value, allowed)}; '
                      f'allowed: {", ".join(allowed)}')


def validate(cfg: ml_collections.ConfigDict) -> None:
  """Checks the `config.reg` section; raises ConfigError."""
  for key in ('l1', 'l2', 'max_norm'):
    if not cfg[key] >= 0:
      raise ConfigError(f'reg.{key}={cfg[key]!r} must be >= 0 (0 = off)')
  _choice('reg.l1_method', cfg.l1_method, L1_METHODS)
  _choice('reg.prune_method', cfg.prune_method, PRUNE_METHODS)
  _choice('reg.prune_scope', cfg.prune_scope, PRUNE_SCOPES)
  if not 0.0 <= cfg.prune_sparsity < 1.0:
    raise ConfigError(
        f'reg.prune_sparsity={cfg.prune_sparsity!r} must be in [0, 1)')
  if not cfg.prune_start_epoch >= 0:
    raise ConfigError(
        f'reg.prune_start_epoch={cfg.prune_start_epoch!r} must be >= 0')
  if cfg.prune_method == 'gradual' and not (
      cfg.prune_end_epoch > cfg.prune_start_epoch):
    raise ConfigError(
        f'reg.prune_end_epoch={cfg.prune_end_epoch!r} must be > '
        f'reg.prune_start_epoch={cfg.prune_start_epoch!r} for gradual pruning')
  if not cfg.prune_every_steps >= 1:
    raise ConfigError(
        f'reg.prune_every_steps={cfg.prune_every_steps!r} must be >= 1')


# ---------------------------------------------------------------------------
# Kernel selection.

def _layer_name(path) -> str:
  names = tree_paths.names(path)
  return '/'.join(names[:-1]) or names[-1]


def _kernels(params):
  """[(layer name, kernel leaf)] in tree order."""
  flat, _ = jax.tree_util.tree_flatten_with_path(params)
  return [(_layer_name(p), x) for p, x in flat if tree_paths.is_kernel(p)]


def _hp(hp, path, cfg_value):
  v = (hp or {}).get(path, cfg_value)
  return jnp.asarray(v, jnp.float32)


# ---------------------------------------------------------------------------
# Penalties and constraints.

def penalty(params, hp, reg_cfg: ml_collections.ConfigDict = None):
  """l1 * sum|w| + l2/2 * sum w^2 over kernels.

  `hp['reg.l1']` / `hp['reg.l2']` give the coefficients; a missing key falls
  back to `reg_cfg` (or 0 when no config is given). With reg_cfg.l1_method
  'proximal' the L1 term is left out (`proximal_l1` applies it).
  """
  l1 = _hp(hp, 'reg.l1', reg_cfg.l1 if reg_cfg is not None else 0.0)
  if reg_cfg is not None and reg_cfg.l1_method == 'proximal':
    l1 = jnp.zeros((), jnp.float32)
  l2 = _hp(hp, 'reg.l2', reg_cfg.l2 if reg_cfg is not None else 0.0)
  total = jnp.zeros((), jnp.float32)
  for _, w in _kernels(params):
    w = w.astype(jnp.float32)
    # |w| as w * sign(w): same value, but the gradient at w = 0 is 0 (not
    # jnp.abs's 1), so L1 never pushes pruned or exactly-zero weights.
    l1_term = jnp.sum(w * jax.lax.stop_gradient(jnp.sign(w)))
    total = total + l1 * l1_term + 0.5 * l2 * jnp.sum(w * w)
  return total


def soft_threshold(w, threshold):
  """sign(w) * max(|w| - threshold, 0): the proximal operator of
  threshold * |w|."""
  t = jnp.asarray(threshold, jnp.float32).astype(w.dtype)
  return jnp.sign(w) * jnp.maximum(jnp.abs(w) - t, 0)


def proximal_l1(params, hp, learning_rate, reg_cfg: ml_collections.ConfigDict):
  """Soft-thresholds every kernel by learning_rate * l1 (call after the
  optimizer update); identity unless reg_cfg.l1_method is 'proximal'."""
  if reg_cfg.l1_method != 'proximal':
    return params
  threshold = _hp(hp, 'reg.l1', reg_cfg.l1) * learning_rate
  return jax.tree_util.tree_map_with_path(
      lambda p, x: (soft_threshold(x, threshold) if tree_paths.is_kernel(p)
                    else x), params)


def max_norm(w, bound):
  """Rescales each unit's incoming weights (all but the last axis) to <= bound.
  """
  axes = tuple(range(w.ndim - 1))
  norm = jnp.sqrt(jnp.sum(jnp.square(w.astype(jnp.float32)), axis=axes,
                          keepdims=True))
  # Vectors already inside the ball are left bit-for-bit unchanged.
  scale = jnp.where(norm > bound, bound / jnp.maximum(norm, 1e-30), 1.0)
  return (w * scale).astype(w.dtype)


def apply_constraints(params, reg_cfg: ml_collections.ConfigDict):
  """Applies the max-norm constraint to every kernel (identity when off)."""
  bound = float(reg_cfg.max_norm)
  if bound <= 0:
    return params
  return jax.tree_util.tree_map_with_path(
      lambda p, x: (max_norm(x, bound)
                    if tree_paths.is_kernel(p) and x.ndim >= 2 else x), params)


# ---------------------------------------------------------------------------
# Pruning.
#
# Hand-written, not jaxpruner (google-research/jaxpruner, evaluated from its
# source): its pruners fix the target sparsity when built (a Python float in
# sparsity_distribution_fn) and keep their own step count in a wrapped optax
# state, so a per-member traced sparsity is not part of its API; it zeros
# n - round(n (1 - s)) weights where dlexp zeros exactly floor(s n), and its
# polynomial schedule runs one step ahead ((step + 1 - t0) / (t1 - t0)). Its
# released code also calls jax.tree_map (gone from jax since 0.6), and the
# package mirror has no distribution of it.

def init_masks(params):
  """All-True masks shaped like `params` (bool leaves)."""
  return jax.tree.map(lambda x: jnp.ones(x.shape, bool), params)


def apply_masks(params, masks):
  """Zeros every pruned weight."""
  return jax.tree.map(lambda x, m: jnp.where(m, x, jnp.zeros_like(x)),
                      params, masks)


def prune_steps(steps_per_epoch: int, reg_cfg) -> tuple:
  """(t0, t1): first and last pruning step.

  Steps count applied updates (the engine calls `update_masks` with the step
  count after its update), so the earliest pruning step is 1.
  """
  t0 = max(int(reg_cfg.prune_start_epoch * steps_per_epoch), 1)
  t1 = max(int(reg_cfg.prune_end_epoch * steps_per_epoch), t0 + 1)
  return t0, t1


def target_sparsity(step, steps_per_epoch: int, reg_cfg, hp=None):
  """Target sparsity at `step` (pure jnp; works on traced steps); the final
  sparsity is hp['reg.prune_sparsity'] when given, else reg_cfg's."""
  s_f = _hp(hp, 'reg.prune_sparsity', reg_cfg.prune_sparsity)
  t = jnp.asarray(step, jnp.float32)
  t0, t1 = prune_steps(steps_per_epoch, reg_cfg)
  if reg_cfg.prune_method == 'one_shot':
    return jnp.where(t >= t0, s_f, 0.0)
  if reg_cfg.prune_method == 'gradual':
    frac = jnp.clip((t - t0) / max(t1 - t0, 1), 0.0, 1.0)
    return jnp.where(t >= t0, s_f * (1.0 - (1.0 - frac) ** 3), 0.0)
  return jnp.zeros((), jnp.float32)


def _keep_mask(scores, sparsity):
  """Bool mask keeping all but the floor(sparsity * n) lowest scores.

  Ranking by argsort makes the count exact even with tied magnitudes.
  """
  n = scores.size
  k = jnp.floor(sparsity * n + 1e-4).astype(jnp.int32)
  order = jnp.argsort(scores.reshape(-1))
  keep_sorted = jnp.arange(n) >= k
  return jnp.zeros((n,), bool).at[order].set(keep_sorted).reshape(scores.shape)


def _prune(params, masks, sparsity, scope: str, exclude=None):
  """Magnitude masks at `sparsity`; already-pruned weights stay pruned.
  Kernels `exclude` names (frozen ones) are neither ranked nor pruned."""
  flat_p, treedef = jax.tree_util.tree_flatten_with_path(params)
  flat_m = treedef.flatten_up_to(masks)
  excluded = lambda p: exclude is not None and exclude(tree_paths.names(p))
  idx = [i for i, (p, _) in enumerate(flat_p)
         if tree_paths.is_kernel(p) and not excluded(p)]
  # -1 ranks a pruned weight below every kept one, even an exact zero.
  scores = [jnp.where(flat_m[i], jnp.abs(flat_p[i][1]).astype(jnp.float32),
                      -1.0) for i in idx]
  new_m = list(flat_m)
  if scope == 'global' and idx:
    sizes = [s.size for s in scores]
    keep = _keep_mask(jnp.concatenate([s.reshape(-1) for s in scores]),
                      sparsity)
    offset = 0
    for i, s, size in zip(idx, scores, sizes):
      new_m[i] = keep[offset:offset + size].reshape(s.shape)
      offset += size
  else:
    for i, s in zip(idx, scores):
      new_m[i] = _keep_mask(s, sparsity)
  return jax.tree.unflatten(treedef, new_m)


def update_masks(params, masks, step, steps_per_epoch: int,
                 reg_cfg: ml_collections.ConfigDict, exclude=None, hp=None,
                 member_axis=None):
  """New masks for `step` (identity except at pruning steps). `exclude`:
  None, or names -> bool for kernels left out of pruning (frozen ones);
  `hp`: the traced values (the target sparsity), else reg_cfg's.

  Pure jnp and vmappable; safe to call every step inside a scan: a lax.cond on
  the step skips the sort on non-pruning steps. Under jax.vmap the step is
  batched, and vmap turns a cond with a batched predicate into a select that
  sorts every kernel at every step; pass the vmap's `member_axis` name and
  the cond branches on whether ANY member is due (unbatched, via pmax),
  each member still keeping its own masks unless it is due itself.
  """
  method = reg_cfg.prune_method
  if method == 'none':
    return masks
  t = jnp.asarray(step, jnp.int32)
  t0, t1 = prune_steps(steps_per_epoch, reg_cfg)
  if method == 'one_shot':
    due = t == t0
  else:
    every = int(reg_cfg.prune_every_steps)
    due = (t >= t0) & (t <= t1) & (((t - t0) % every == 0) | (t == t1))
  sparsity = target_sparsity(t, steps_per_epoch, reg_cfg, hp)
  prune = lambda m: _prune(params, m, sparsity, reg_cfg.prune_scope, exclude)
  if member_axis is None:
    return jax.lax.cond(due, prune, lambda m: m, masks)
  any_due = jax.lax.pmax(due.astype(jnp.int32), member_axis) > 0
  return jax.lax.cond(
      any_due, lambda m: jax.tree.map(lambda a, b: jnp.where(due, a, b),
                                      prune(m), m),
      lambda m: m, masks)


def sparsity(params) -> Dict[str, jnp.ndarray]:
  """Fraction of exact zeros per kernel (keyed by layer path) and 'total'."""
  out = {}
  zeros = jnp.zeros((), jnp.float32)
  count = 0
  for name, w in _kernels(params):
    z = jnp.sum(w == 0).astype(jnp.float32)
    out[name] = z / w.size
    zeros = zeros + z
    count += w.size
  out['total'] = zeros / max(count, 1)
  return out
