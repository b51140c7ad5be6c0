"""Pure per-member functions of training: init, one epoch as a lax.scan (or
one step of it), evaluation sums, and the once-per-epoch bookkeeping
(early stopping, divergence, plateau, diagnostics). `Program` vmaps and
compiles them.

Everything numeric that an ablation turns arrives in `hp` (traced), so a grid
over those values shares one compiled program.
"""
import copy
import dataclasses
from typing import Callable, Dict, FrozenSet, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec as P

from dlexp import regularizers, tree_paths
from dlexp.train import diagnostics as diag_lib
from dlexp.train import state as state_lib
from dlexp.train.state import Tracker, TrainState, all_finite, new_tracker

HP = Mapping[str, jnp.ndarray]


@dataclasses.dataclass(frozen=True)
class LeftOut:
  """What every member of a group has switched off, so that the group's
  program is compiled without it instead of tracing it at zero (decided
  once per group by dlexp.train.program.left_out; the numbers are those of
  the traced zero):
  - dropout: every dropout rate is 0: the rate is the Python constant 0.0,
    and the dropout layers compile to nothing (no masks drawn per step);
  - penalty: reg.l1 = reg.l2 = 0: no weight penalty in the loss (its trace
    and lowering cost the 20x100 MLP's cached group 0.18 of 1.94 s);
  - optimizer: the optimizer knobs of optim.OFF_AT_ZERO all at 0 (clipping,
    weight decay): their transformations are left out (optim.make_optimizer
    `off`).
  """
  dropout: bool = False
  penalty: bool = False
  optimizer: FrozenSet[str] = frozenset()


class Steps:
  """The static parts of a program (model, optimizer, loss, sizes) and the
  pure functions over its array parts.

  It reads the group's static config: batch_size, eval_batch_size,
  rng_impl (the PRNG of the member's init, dropout and data-order keys),
  reg, early_stopping, schedule.plateau_monitor, diagnostics, data.cv_folds
  and data.split_seed, and train.freeze (parameters and batch statistics
  every step keeps bit for bit; see dlexp.train.transfer). `left_out`: what
  the group compiles without (LeftOut).

  `diagnostics`: after_epoch computes the probe diagnostics; a run that
  diagnoses only some epochs also uses a copy without them
  (`without_diagnostics`), chosen per epoch in Python. Not a lax.cond:
  XLA:CPU runs convolution gradients inside a conditional as slowly as
  inside a loop (the CNN's diagnostics: about 4 s per epoch in a cond,
  0.1 s outside), and under vmap the cond's batching traces them again.
  """

  def __init__(self, *, model: nn.Module, optimizer, loss_fn: Callable,
               metric_fns: Dict[str, Callable], config, steps_per_epoch: int,
               mesh, left_out: LeftOut = LeftOut()):
    self.model = model
    self.optimizer = optimizer
    self.loss_fn = loss_fn
    self.metric_fns = metric_fns
    self.left_out = left_out
    self.steps_per_epoch = steps_per_epoch
    self.batch_sharding = NamedSharding(mesh, P('data'))
    self.batch_size = config.batch_size
    self.eval_batch_size = config.eval_batch_size
    self.rng_impl = config.rng_impl
    self.reg_cfg = config.reg
    self.pruning = config.reg.prune_method != 'none'
    es = config.early_stopping
    self.es_mode = monitor_mode(es)
    self.es_patience, self.es_min_delta = es.patience, es.min_delta
    self.monitor = es.monitor
    self.plateau_monitor = config.schedule.plateau_monitor
    self.diagnostics = bool(config.diagnostics.every_epochs)
    # Keyword options of diagnostics.compute.
    self.diag_options = diag_lib.options(config.diagnostics)
    self.frozen = tree_paths.frozen_predicate(tuple(config.train.freeze))
    # k-fold cross-validation: member i trains on all folds but
    # hp['data.cv_fold'] and validates on that one (see fold_indices).
    self.cv_folds = config.data.cv_folds
    self.cv_seed = config.data.split_seed
    # The name of the vmap axis over members, where the functions run
    # vmapped with one (see with_member_axis); None: called per member.
    self.member_axis = None

  def without_diagnostics(self) -> 'Steps':
    """A copy whose after_epoch computes no diagnostics."""
    out = copy.copy(self)
    out.diagnostics = False
    return out

  def with_member_axis(self, name: str) -> 'Steps':
    """A copy whose functions run under jax.vmap(..., axis_name=name): a
    pruning step then branches on an unbatched predicate (see
    regularizers.update_masks)."""
    out = copy.copy(self)
    out.member_axis = name
    return out

  def dropout_rate(self, hp: HP):
    return 0.0 if self.left_out.dropout else hp['model.dropout_rate']

  # -- init ----------------------------------------------------------------
  def init(self, seed: jnp.ndarray, sample_x: jnp.ndarray) -> TrainState:
    """Member state from an integer seed (init, dropout and data-order keys
    are independent streams of it)."""
    key = state_lib.make_key(seed, self.rng_impl)
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
        dropout_key=jax.random.key_data(dropout_key),
        data_key=jax.random.key_data(data_key))

  def init_run(self, seed: jnp.ndarray, sample_x: jnp.ndarray):
    """(state, tracker) of a fresh member: one program, compiled once."""
    state = self.init(seed, sample_x)
    return state, new_tracker(state, self.es_mode)

  # -- forward -------------------------------------------------------------
  @staticmethod
  def variables(params, batch_stats):
    variables = {'params': params}
    if batch_stats:
      variables['batch_stats'] = batch_stats
    return variables

  def _loss(self, params, batch_stats, hp: HP, x, y, key):
    variables = self.variables(params, batch_stats)
    kwargs = dict(train=True, dropout_rate=self.dropout_rate(hp),
                  rngs={'dropout': key})
    if batch_stats:
      logits, updates = self.model.apply(variables, x, mutable=['batch_stats'],
                                         **kwargs)
    else:
      logits, updates = self.model.apply(variables, x, **kwargs), {}
    per_example = self.loss_fn(logits, y, hp)
    loss = jnp.mean(per_example)
    if not self.left_out.penalty:
      loss = loss + regularizers.penalty(params, hp, self.reg_cfg)
    metrics = {'loss': jnp.mean(per_example)}
    for name, fn in self.metric_fns.items():
      metrics[name] = jnp.mean(fn(logits, y))
    return loss, (updates.get('batch_stats', batch_stats), metrics)

  # -- training ------------------------------------------------------------
  def train_step(self, state: TrainState, hp: HP, x, y):
    key = jax.random.fold_in(
        state_lib.wrap_key(state.dropout_key, self.rng_impl), state.step)
    grads, (batch_stats, metrics) = jax.grad(self._loss, has_aux=True)(
        state.params, state.batch_stats, hp, x, y, key)
    updates, opt_state = self.optimizer.update(
        grads, state.opt_state, state.params, hp, state.step)
    learning_rate = self.optimizer.learning_rate(state.step, hp,
                                                 state.opt_state)
    params = jax.tree_util.tree_map(jnp.add, state.params, updates)
    params = regularizers.proximal_l1(params, hp, learning_rate,
                                      self.reg_cfg)
    params = regularizers.apply_constraints(params, self.reg_cfg)
    masks = state.masks
    if self.pruning:
      masks = regularizers.update_masks(params, masks, state.step + 1,
                                        self.steps_per_epoch, self.reg_cfg,
                                        exclude=self.frozen, hp=hp,
                                        member_axis=self.member_axis)
      params = regularizers.apply_masks(params, masks)
    # Frozen leaves stay the very arrays they were (no +0, -0.0 or rescale).
    params = tree_paths.keep_frozen(self.frozen, state.params, params)
    batch_stats = tree_paths.keep_frozen(self.frozen, state.batch_stats,
                                       batch_stats)
    metrics['learning_rate'] = learning_rate
    return state.replace(step=state.step + 1, params=params,
                         batch_stats=batch_stats, opt_state=opt_state,
                         masks=masks), metrics

  def epoch_order(self, state: TrainState, train_y, hp: HP) -> jnp.ndarray:
    """(steps, batch) example indices of this member's current epoch: a fresh
    permutation per epoch, drawn in the program from the data-order key (of
    the member's training folds under cross-validation)."""
    key = jax.random.fold_in(
        state_lib.wrap_key(state.data_key, self.rng_impl), state.epoch)
    if self.cv_folds:
      train_idx, _ = self.fold_indices(hp, train_y.shape[0])
      order = train_idx[jax.random.permutation(key, train_idx.shape[0])]
    else:
      order = jax.random.permutation(key, train_y.shape[0])
    return order[:self.steps_per_epoch * self.batch_size].reshape(
        self.steps_per_epoch, self.batch_size)

  def fold_indices(self, hp: HP, n: int):
    """(training indices, held-out indices) of the member's fold: the first
    k * (n // k) examples of one fixed permutation (data.split_seed) cut into
    k equal folds; fold hp['data.cv_fold'] is held out. Equal sizes keep
    every member's program the same shape."""
    k = self.cv_folds
    size = n // k
    # threefry whatever config.rng_impl is: the folds belong to the data
    # split (data.split_seed), so runs under every implementation hold out
    # the same examples and stay comparable.
    base = jax.random.permutation(
        state_lib.make_key(self.cv_seed, 'threefry'), n)
    base = base[:k * size]
    fold = hp['data.cv_fold'].astype(jnp.int32)
    held_out = jnp.roll(base, -fold * size)[:size]
    train = jnp.roll(base, -(fold + 1) * size)[:(k - 1) * size]
    return train, held_out

  def fold_eval_sums(self, params, batch_stats, hp: HP, train_x, train_y,
                     index):
    """eval_sums over batch `index` of the member's held-out fold (padded
    to whole batches; weight 0 marks the padding)."""
    _, held_out = self.fold_indices(hp, train_y.shape[0])
    b = min(self.eval_batch_size, held_out.shape[0])
    batches = -(-held_out.shape[0] // b)
    padded = jnp.concatenate([held_out, jnp.zeros(
        batches * b - held_out.shape[0], held_out.dtype)])
    start = index * b
    idx = jax.lax.dynamic_slice(padded, (start,), (b,))
    w = ((start + jnp.arange(b)) < held_out.shape[0]).astype(jnp.float32)
    return self.eval_sums(params, batch_stats, hp, train_x[idx], train_y[idx],
                          w)

  def _batch_step(self, state: TrainState, hp: HP, train_x, train_y, idx):
    x = jax.lax.with_sharding_constraint(train_x[idx], self.batch_sharding)
    y = jax.lax.with_sharding_constraint(train_y[idx], self.batch_sharding)
    return self.train_step(state, hp, x, y)

  def train_epoch(self, state: TrainState, hp: HP, active: jnp.ndarray,
                  train_x, train_y):
    """One epoch as a scan over batches drawn by an in-program permutation.
    Inactive members (stopped early or diverged) keep their state. The epoch
    counter moves in `after_epoch`."""
    order = self.epoch_order(state, train_y, hp)
    new, metrics = jax.lax.scan(
        lambda st, idx: self._batch_step(st, hp, train_x, train_y, idx),
        state, order)
    return _keep_where(active, new, state), summarize(metrics)

  def train_indexed_step(self, state: TrainState, hp: HP, active, train_x,
                         train_y, idx):
    """One step on the batch `idx`, for the per-step driver (see
    program.run_epoch)."""
    new, metrics = self._batch_step(state, hp, train_x, train_y, idx)
    return _keep_where(active, new, state), metrics

  # -- evaluation ----------------------------------------------------------
  def eval_sums(self, params, batch_stats, hp: HP, x, y, w):
    """Weighted sums of the loss and metrics over one batch, and the weight
    total (w = 0 marks padding)."""
    logits = self.model.apply(self.variables(params, batch_stats), x,
                              train=False, dropout_rate=self.dropout_rate(hp))
    values = {'loss': self.loss_fn(logits, y, hp)}
    for name, fn in self.metric_fns.items():
      values[name] = fn(logits, y)
    sums = {k: jnp.sum(v * w) for k, v in values.items()}
    sums['weight'] = jnp.sum(w)
    return sums

  def evaluate(self, params, batch_stats, hp: HP, xs, ys, ws):
    """Weighted means over pre-batched (B, b, ...) arrays, in one program
    (for analysis hooks; the runner loops `eval_sums` over batches)."""
    def body(totals, batch):
      sums = self.eval_sums(params, batch_stats, hp, *batch)
      return jax.tree_util.tree_map(jnp.add, totals, sums), None
    zeros = jax.tree_util.tree_map(
        jnp.zeros_like, jax.eval_shape(self.eval_sums, params, batch_stats, hp,
                                       xs[0], ys[0], ws[0]))
    totals, _ = jax.lax.scan(body, zeros, (xs, ys, ws))
    return means(totals)

  def diagnose(self, state: TrainState, hp: HP, probe_x, probe_y):
    return diag_lib.compute(self.model, state.params, state.batch_stats,
                            self.loss_fn, hp, probe_x, probe_y,
                            dropout_rate=self.dropout_rate(hp),
                            rng_impl=self.rng_impl, **self.diag_options)

  # -- once per epoch ------------------------------------------------------
  def after_epoch(self, state: TrainState, tracker: Tracker, hp: HP,
                  row: Dict[str, jnp.ndarray], track: jnp.ndarray,
                  probe_x, probe_y):
    """Everything that happens once per epoch after training and validation,
    as one program: the epoch counter, early stopping, divergence and
    best-parameter bookkeeping, reduce-on-plateau, and (when
    `self.diagnostics`) the probe diagnostics. `row` holds the epoch's
    logged metrics; `track` is False for epoch 0 (the untrained network is
    only diagnosed)."""
    active = tracker.active & track
    state = state.replace(epoch=state.epoch + active.astype(jnp.int32))
    tracker = self.track(tracker, state, active, row[self.monitor],
                         row['train_loss'])
    opt_state = self.optimizer.end_epoch(state.opt_state,
                                         row[self.plateau_monitor])
    state = state.replace(opt_state=_keep_where(
        tracker.active & track, opt_state, state.opt_state))
    out = {'saved_best': active & (tracker.best_epoch == state.epoch - 1)}
    if self.diagnostics:
      out.update(self.diagnose(state, hp, probe_x, probe_y))
    return state, tracker, out

  def track(self, tracker: Tracker, state: TrainState, active, value,
            train_loss) -> Tracker:
    """Early stopping, divergence and best-parameter bookkeeping; `value` is
    the monitored metric of the epoch just finished (state.epoch - 1)."""
    epoch = state.epoch - 1
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
        active=tracker.active & ~diverged_now & ~stop_now,
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


def _keep_where(flag, new, old):
  return jax.tree_util.tree_map(lambda a, b: jnp.where(flag, a, b), new, old)


def means(totals: Dict[str, jnp.ndarray]) -> Dict[str, jnp.ndarray]:
  """Weighted sums (with their 'weight') -> weighted means."""
  weight = totals['weight']
  return {k: v / weight for k, v in totals.items() if k != 'weight'}


def summarize(metrics: Dict[str, jnp.ndarray]) -> Dict[str, jnp.ndarray]:
  """Per-step metrics (leading step axis) -> epoch means; the learning rate
  is the last one applied."""
  metrics = dict(metrics)
  lr = metrics.pop('learning_rate')
  out = {k: jnp.mean(v, axis=0) for k, v in metrics.items()}
  out['learning_rate'] = lr[-1]
  return out


def monitor_mode(es) -> str:
  """'min' or 'max' for the early_stopping section `es` (auto: min for a
  loss)."""
  if es.mode != 'auto':
    return es.mode
  return 'min' if 'loss' in es.monitor else 'max'
