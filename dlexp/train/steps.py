"""Pure per-member functions of training: init, one epoch as a lax.scan, eval,
diagnostics and the per-epoch tracker update. `Program` vmaps and jits them.

Everything numeric that an ablation turns arrives in `hp` (traced), so a grid
over those values shares one compiled program.
"""
from typing import Callable, Dict, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec as P

from dlexp import regularizers
from dlexp.train import diagnostics as diag_lib
from dlexp.train.state import Tracker, TrainState, all_finite, new_tracker

HP = Mapping[str, jnp.ndarray]


class Steps:
  """The static parts of a program (model, optimizer, loss, sizes) and the
  pure functions over its array parts."""

  def __init__(self, *, model: nn.Module, optimizer, loss_fn: Callable,
               metric_fns: Dict[str, Callable], reg_cfg, batch_size: int,
               steps_per_epoch: int, mesh, es_mode: str, es_patience: int,
               es_min_delta: float, monitor: str):
    self.model = model
    self.optimizer = optimizer
    self.loss_fn = loss_fn
    self.metric_fns = metric_fns
    self.reg_cfg = reg_cfg
    self.pruning = reg_cfg.prune_method != 'none'
    self.batch_size = batch_size
    self.steps_per_epoch = steps_per_epoch
    self.batch_sharding = NamedSharding(mesh, P('data'))
    self.es_mode = es_mode
    self.es_patience = es_patience
    self.es_min_delta = es_min_delta
    self.monitor = monitor

  # -- init ----------------------------------------------------------------
  def init(self, seed: jnp.ndarray, sample_x: jnp.ndarray) -> TrainState:
    """Member state from an integer seed (init, dropout and data-order keys
    are independent streams of it)."""
    key = jax.random.PRNGKey(seed)
    init_key, dropout_key, data_key = jax.random.split(key, 3)
    variables = self.model.init({'params': init_key, 'dropout': dropout_key},
                                sample_x, train=False)
    params = variables['params']
    batch_stats = variables.get('batch_stats', {})
    masks = regularizers.init_masks(params) if self.pruning else {}
    return TrainState(
        step=jnp.array(0, jnp.int32), epoch=jnp.array(0, jnp.int32),
        params=params, batch_stats=batch_stats,
        opt_state=self.optimizer.init(params), masks=masks,
        dropout_key=dropout_key, data_key=data_key)

  def new_tracker(self, state: TrainState) -> Tracker:
    return new_tracker(state, self.es_mode)

  # -- forward -------------------------------------------------------------
  def _variables(self, params, batch_stats):
    variables = {'params': params}
    if batch_stats:
      variables['batch_stats'] = batch_stats
    return variables

  def _loss(self, params, batch_stats, hp: HP, x, y, key):
    variables = self._variables(params, batch_stats)
    kwargs = dict(train=True, dropout_rate=hp['model.dropout_rate'],
                  rngs={'dropout': key})
    if batch_stats:
      logits, updates = self.model.apply(variables, x, mutable=['batch_stats'],
                                         **kwargs)
    else:
      logits, updates = self.model.apply(variables, x, **kwargs), {}
    per_example = self.loss_fn(logits, y, hp)
    loss = jnp.mean(per_example) + regularizers.penalty(params, hp)
    metrics = {'loss': jnp.mean(per_example)}
    for name, fn in self.metric_fns.items():
      metrics[name] = jnp.mean(fn(logits, y))
    return loss, (updates.get('batch_stats', batch_stats), metrics)

  # -- training ------------------------------------------------------------
  def train_step(self, state: TrainState, hp: HP, x, y):
    key = jax.random.fold_in(state.dropout_key, state.step)
    grads, (batch_stats, metrics) = jax.grad(self._loss, has_aux=True)(
        state.params, state.batch_stats, hp, x, y, key)
    updates, opt_state = self.optimizer.update(
        grads, state.opt_state, state.params, hp, state.step)
    params = jax.tree_util.tree_map(jnp.add, state.params, updates)
    params = regularizers.apply_constraints(params, self.reg_cfg)
    masks = state.masks
    if self.pruning:
      masks = regularizers.update_masks(params, masks, state.step + 1,
                                        self.steps_per_epoch, self.reg_cfg)
      params = regularizers.apply_masks(params, masks)
    metrics['learning_rate'] = self.optimizer.learning_rate(
        state.step, hp, state.opt_state)
    return state.replace(step=state.step + 1, params=params,
                         batch_stats=batch_stats, opt_state=opt_state,
                         masks=masks), metrics

  def epoch_order(self, state: TrainState, train_y) -> jnp.ndarray:
    """(steps, batch) example indices of this member's current epoch: a fresh
    permutation per epoch, drawn in the program from the data-order key."""
    key = jax.random.fold_in(state.data_key, state.epoch)
    order = jax.random.permutation(key, train_y.shape[0])
    return order[:self.steps_per_epoch * self.batch_size].reshape(
        self.steps_per_epoch, self.batch_size)

  def _batch_step(self, state: TrainState, hp: HP, train_x, train_y, idx):
    x = jax.lax.with_sharding_constraint(train_x[idx], self.batch_sharding)
    y = jax.lax.with_sharding_constraint(train_y[idx], self.batch_sharding)
    return self.train_step(state, hp, x, y)

  def train_epoch(self, state: TrainState, hp: HP, active: jnp.ndarray,
                  train_x, train_y):
    """One epoch as a scan over batches drawn by an in-program permutation.
    Inactive members (stopped early or diverged) keep their state."""
    order = self.epoch_order(state, train_y)
    new, metrics = jax.lax.scan(
        lambda st, idx: self._batch_step(st, hp, train_x, train_y, idx),
        state, order)
    keep = lambda a, b: jnp.where(active, a, b)
    new = jax.tree_util.tree_map(keep, new, state)
    return self.end_of_epoch(new, active), summarize(metrics)

  def train_indexed_step(self, state: TrainState, hp: HP, active, train_x,
                         train_y, idx):
    """One step on the batch `idx`, for the per-step driver (see
    Program.epoch_driver)."""
    new, metrics = self._batch_step(state, hp, train_x, train_y, idx)
    keep = lambda a, b: jnp.where(active, a, b)
    return jax.tree_util.tree_map(keep, new, state), metrics

  def end_of_epoch(self, state: TrainState, active) -> TrainState:
    return state.replace(epoch=state.epoch + active.astype(jnp.int32))

  # -- evaluation ----------------------------------------------------------
  def evaluate(self, params, batch_stats, hp: HP, xs, ys, ws):
    """Weighted means over pre-batched (B, b, ...) arrays; w=0 marks padding."""
    variables = self._variables(params, batch_stats)

    def body(totals, batch):
      x, y, w = batch
      logits = self.model.apply(variables, x, train=False,
                                dropout_rate=hp['model.dropout_rate'])
      values = {'loss': self.loss_fn(logits, y, hp)}
      for name, fn in self.metric_fns.items():
        values[name] = fn(logits, y)
      sums = {k: jnp.sum(v * w) for k, v in values.items()}
      return jax.tree_util.tree_map(jnp.add, totals, sums), None

    zeros = {k: jnp.zeros((), jnp.float32) for k in ['loss', *self.metric_fns]}
    totals, _ = jax.lax.scan(body, zeros, (xs, ys, ws))
    count = jnp.sum(ws)
    return {k: v / count for k, v in totals.items()}

  def diagnose(self, state: TrainState, hp: HP, probe_x, probe_y):
    return diag_lib.compute(self.model, state.params, state.batch_stats,
                            self.loss_fn, hp, probe_x, probe_y)

  # -- per-epoch bookkeeping -----------------------------------------------
  def track(self, tracker: Tracker, state: TrainState, value: jnp.ndarray,
            train_loss: jnp.ndarray) -> Tracker:
    """Early stopping, divergence and best-parameter bookkeeping; `value` is
    the monitored metric of the epoch just finished."""
    epoch = state.epoch - 1  # 0-based index of the epoch just finished
    active = tracker.active
    finite = (jnp.isfinite(value) & jnp.isfinite(train_loss)
              & all_finite(state.params))
    if self.es_mode == 'min':
      improved = value < tracker.best_value - self.es_min_delta
    else:
      improved = value > tracker.best_value + self.es_min_delta
    improved = active & finite & improved
    pick = lambda new, old: jnp.where(improved, new, old)
    bad = jnp.where(improved, 0, tracker.bad_epochs + active.astype(jnp.int32))
    diverged_now = active & ~finite
    stop_now = active & finite & (self.es_patience > 0) & (
        bad >= max(self.es_patience, 1))
    return tracker.replace(
        active=active & ~diverged_now & ~stop_now,
        diverged=tracker.diverged | diverged_now,
        diverged_epoch=jnp.where(diverged_now, epoch, tracker.diverged_epoch),
        stopped_epoch=jnp.where(stop_now, epoch, tracker.stopped_epoch),
        best_value=pick(value, tracker.best_value),
        best_epoch=pick(epoch, tracker.best_epoch),
        bad_epochs=bad,
        best_params=jax.tree_util.tree_map(pick, state.params,
                                           tracker.best_params),
        best_batch_stats=jax.tree_util.tree_map(pick, state.batch_stats,
                                                tracker.best_batch_stats))

  def end_epoch(self, state: TrainState, tracker: Tracker,
                monitored: jnp.ndarray) -> TrainState:
    """Optimizer hooks that read a validation metric (reduce-on-plateau)."""
    opt_state = self.optimizer.end_epoch(state.opt_state, monitored)
    keep = lambda a, b: jnp.where(tracker.active, a, b)
    return state.replace(opt_state=jax.tree_util.tree_map(
        keep, opt_state, state.opt_state))


def summarize(metrics: Dict[str, jnp.ndarray]) -> Dict[str, jnp.ndarray]:
  """Per-step metrics (leading step axis) -> epoch means; the learning rate
  is the last one applied."""
  metrics = dict(metrics)
  lr = metrics.pop('learning_rate')
  out = {k: jnp.mean(v, axis=0) for k, v in metrics.items()}
  out['learning_rate'] = lr[-1]
  return out
