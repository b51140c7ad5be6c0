"""The pytrees a run carries: the train state of one member and its tracker
(early stopping, divergence, best parameters). Both are vmapped over members."""
from typing import Any

import flax
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class TrainState:
  """Everything a member needs to continue training bit-for-bit."""
  step: jnp.ndarray  # int32, optimizer steps taken
  epoch: jnp.ndarray  # int32, epochs completed (the data-order position)
  params: Any
  batch_stats: Any  # {} when the model has no BatchNorm
  opt_state: Any
  masks: Any  # pruning masks ({} when not pruning)
  dropout_key: jnp.ndarray  # folded with the step: per-step dropout masks
  data_key: jnp.ndarray  # folded with the epoch: per-epoch permutation


@flax.struct.dataclass
class Tracker:
  """Per-member bookkeeping updated once per epoch inside a compiled program."""
  active: jnp.ndarray  # bool: still training
  diverged: jnp.ndarray  # bool
  diverged_epoch: jnp.ndarray  # int32, -1 if never
  stopped_epoch: jnp.ndarray  # int32, -1 if never stopped early
  best_value: jnp.ndarray  # float32, of the monitored metric
  best_epoch: jnp.ndarray  # int32, -1 before the first evaluation
  bad_epochs: jnp.ndarray  # int32, epochs since the last improvement
  best_params: Any
  best_batch_stats: Any


def new_tracker(state: TrainState, mode: str) -> Tracker:
  worst = jnp.inf if mode == 'min' else -jnp.inf
  return Tracker(
      active=jnp.array(True), diverged=jnp.array(False),
      diverged_epoch=jnp.array(-1, jnp.int32),
      stopped_epoch=jnp.array(-1, jnp.int32),
      best_value=jnp.array(worst, jnp.float32),
      best_epoch=jnp.array(-1, jnp.int32),
      bad_epochs=jnp.array(0, jnp.int32),
      best_params=state.params, best_batch_stats=state.batch_stats)


def all_finite(tree) -> jnp.ndarray:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)
            if jnp.issubdtype(x.dtype, jnp.inexact)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)
