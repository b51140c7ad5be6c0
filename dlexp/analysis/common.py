"""What the final hooks share: each member's analysis PRNG key and
hyperparameters, a model's variables from (params, batch_stats), and each
member's initial parameters."""
from typing import Any, Dict, List

import jax
import jax.numpy as jnp

from dlexp.train import state as state_lib

# A member's analysis randomness (MC passes, drop-frequency probe) is its own
# stream of the member seed, independent of the training streams.
_ANALYSIS_STREAM = 0x616e61


def member_keys(members) -> jax.Array:
  """One typed PRNG key per member, from its seed, of its run's
  config.rng_impl (the members of a chunk are one group: one impl)."""
  return jnp.stack([jax.random.fold_in(
      state_lib.make_key(m.seed, m.trial.config.rng_impl), _ANALYSIS_STREAM)
                    for m in members])


def member_hp(hp: Dict[str, jax.Array], i: int) -> Dict[str, jax.Array]:
  """Member i's hyperparameters from the grid's stacked ones."""
  return {k: v[i] for k, v in hp.items()}


def model_variables(params, batch_stats) -> Dict[str, Any]:
  """The variables model.apply takes: batch_stats only where the model has
  any (an empty collection would not match its variables)."""
  variables = {'params': params}
  if batch_stats:
    variables['batch_stats'] = batch_stats
  return variables


def initial_params(ctx) -> List[Any]:
  """Each member's parameters at initialization, re-made from its seed (the
  same init program the run used), on the host: what a hook compares the
  final weights against."""
  init = jax.jit(ctx.steps.init)
  sample = ctx.data.train_x[:1]
  return [jax.device_get(init(jnp.int32(m.seed), sample).params)
          for m in ctx.members]
