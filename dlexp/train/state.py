"""The pytrees a run carries: the train state of one member and its tracker
(early stopping, divergence, best parameters). Both are vmapped over members.

Also the PRNG implementations a run may use (config.rng_impl) and how its
keys are made: the state holds a key's raw uint32 data, which Orbax, numpy
copies and jnp.where treat as any array, and the code that draws from it
wraps it with the run's implementation (`wrap_key`)."""
from typing import Any

import flax
import jax
import jax.numpy as jnp

from dlexp.config import RNG_IMPLS


def make_key(seed, impl: str) -> jax.Array:
  """A typed PRNG key of config.rng_impl `impl` from an integer seed."""
  return jax.random.key(seed, impl=RNG_IMPLS[impl])


def wrap_key(data: jax.Array, impl: str) -> jax.Array:
  """The typed key of `impl` whose raw data (jax.random.key_data) is
  `data`, e.g. a TrainState's dropout_key."""
  return jax.random.wrap_key_data(data, impl=RNG_IMPLS[impl])


@flax.struct.dataclass
class TrainState:
  """Everything a member needs to continue training bit-for-bit."""
  step: jnp.ndarray  # int32, optimizer steps taken
  epoch: jnp.ndarray  # int32, epochs completed (the data-order position)
  params: Any
  batch_stats: Any  # {} when the model has no BatchNorm
  opt_state: Any
  masks: Any  # pruning masks ({} when not pruning)
  # Raw key data of the run's rng_impl (uint32, (2,) for threefry, (4,) for
  # rbg and unsafe_rbg), wrapped by state.wrap_key where it is drawn from.
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
