"""Compiled programs over a chunk of grid members.

Each per-member function of `Steps` is vmapped over a leading member axis and
jitted once (ahead of time, so compile time is measured on its own). A group of
M members runs either as one chunk of M (vmap) or as M chunks of 1 that reuse
the same compiled program (loop): the same code either way.
"""
import time
from typing import Any, Callable, Dict

import jax
import jax.numpy as jnp

from dlexp.train.steps import Steps, summarize


class Compiled:
  """jax.jit compiled ahead of time per argument signature (shapes, dtypes),
  so compile time is measured on its own."""

  def __init__(self, fn: Callable, donate_argnums=()):
    self._jit = jax.jit(fn, donate_argnums=donate_argnums)
    self._exe = {}
    self.compile_seconds = 0.0

  def __call__(self, *args):
    leaves, treedef = jax.tree_util.tree_flatten(args)
    key = (treedef, tuple((jnp.shape(x), jnp.result_type(x)) for x in leaves))
    exe = self._exe.get(key)
    if exe is None:
      start = time.perf_counter()
      exe = self._exe[key] = self._jit.lower(*args).compile()
      self.compile_seconds += time.perf_counter() - start
    return exe(*args)


class Program:
  """The vmapped, compiled functions of one group (same shapes and code)."""

  def __init__(self, steps: Steps):
    self.steps = steps
    v = jax.vmap
    self.init = Compiled(v(steps.init, in_axes=(0, None)))
    self.new_tracker = Compiled(v(steps.new_tracker))
    # The state is donated: an epoch updates parameters in place.
    self.train_epoch = Compiled(
        v(steps.train_epoch, in_axes=(0, 0, 0, None, None)),
        donate_argnums=(0,))
    # The per-step driver: a Python loop over one compiled step per batch.
    self.epoch_order = Compiled(v(steps.epoch_order, in_axes=(0, None)))
    self.train_indexed_step = Compiled(
        v(steps.train_indexed_step, in_axes=(0, 0, 0, None, None, 0)),
        donate_argnums=(0,))
    self.summarize = Compiled(v(summarize))
    self.end_of_epoch = Compiled(v(steps.end_of_epoch), donate_argnums=(0,))
    self.evaluate = Compiled(
        v(steps.evaluate, in_axes=(0, 0, 0, None, None, None)))
    self.diagnose = Compiled(v(steps.diagnose, in_axes=(0, 0, None, None)))
    self.track = Compiled(v(steps.track), donate_argnums=(0,))
    self.end_epoch = Compiled(v(steps.end_epoch))

  def compile_seconds(self) -> Dict[str, float]:
    return {name: c.compile_seconds for name, c in vars(self).items()
            if isinstance(c, Compiled)}


# How an epoch is driven. 'scan': the whole epoch is one lax.scan (no Python
# per step). 'step': a Python loop over one compiled step per batch. XLA:CPU
# (jax 0.10) runs convolution gradients inside a while loop pathologically
# slowly (a conv net: 38 examples/s in a scan against ~1,000 per step; see
# benchmarks/README.md), so 'auto' uses 'step' for conv nets on CPU.
EPOCH_DRIVERS = ('auto', 'scan', 'step')


def epoch_driver(requested: str, conv_net: bool) -> str:
  if requested != 'auto':
    return requested
  return 'step' if conv_net and jax.default_backend() == 'cpu' else 'scan'


def run_epoch(prog: 'Program', driver: str, state, hp, active, train_x,
              train_y):
  """One epoch of a chunk of members; returns (state, epoch-mean metrics)."""
  if driver == 'scan':
    return prog.train_epoch(state, hp, active, train_x, train_y)
  order = prog.epoch_order(state, train_y)  # (members, steps, batch)
  per_step = []
  for i in range(order.shape[1]):
    state, metrics = prog.train_indexed_step(state, hp, active, train_x,
                                             train_y, order[:, i])
    per_step.append(metrics)
  stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs, axis=1),
                                   *per_step)
  return prog.end_of_epoch(state, active), prog.summarize(stacked)


def stack_hp(values: Dict[str, list]) -> Dict[str, jnp.ndarray]:
  return {k: jnp.asarray(v, jnp.float32) for k, v in values.items()}


def take(tree: Any, index: int) -> Any:
  return jax.tree_util.tree_map(lambda a: a[index], tree)
