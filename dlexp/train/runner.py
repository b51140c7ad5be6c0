"""Grid runner: trials (one per combination of axis values) x seeds.

Trials whose configs differ only in traced fields (learning rate, momentum,
dropout rate, ...) and seeds become members of one group, compiled once and
vmapped (or looped over, for models where vmap does not pay on this backend).
Axes that change shapes or code (activation, width, depth) give separate
groups. Every value is validated before anything is compiled.
"""
import copy
import dataclasses
import hashlib
import itertools
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from dlexp import config as config_lib
from dlexp import data as data_lib
from dlexp import losses, models, optim, records
from dlexp.errors import ConfigError, DlexpError
from dlexp.train import checkpoint as checkpoint_lib
from dlexp.train import program as program_lib
from dlexp.train.steps import Steps


@dataclasses.dataclass
class Trial:
  name: str  # e.g. 'activation=relu'; '' for a grid with no axes
  overrides: Dict[str, Any]
  config: ml_collections.ConfigDict


@dataclasses.dataclass
class Member:
  trial: Trial
  seed: int
  directory: str


def _short_names(paths: Sequence[str]) -> Dict[str, str]:
  """'model.activation' -> 'activation' unless two axes share a last part."""
  last = [p.split('.')[-1] for p in paths]
  return {p: (l if last.count(l) == 1 else p) for p, l in zip(paths, last)}


def _fmt(value) -> str:
  if isinstance(value, float):
    return f'{value:g}'
  if isinstance(value, tuple):
    return '-'.join(str(v) for v in value) or 'none'
  return str(value)


def make_trials(base: ml_collections.ConfigDict,
                axes: Dict[str, Sequence[Any]]) -> List[Trial]:
  """The cartesian product of `axes` (config path -> values), validated."""
  for path, values in axes.items():
    config_lib.check_key(base, path)
    if path.startswith('data.') or path in ('seed', 'num_seeds'):
      raise ConfigError(f'{path} cannot be a grid axis (all trials share the '
                        'data and the seeds)')
    if not values:
      raise ConfigError(f'grid axis {path} has no values')
  config_lib.validate(base)
  names = _short_names(list(axes))
  trials = []
  for combo in itertools.product(*axes.values()):
    cfg = copy.deepcopy(base)
    overrides = dict(zip(axes, combo))
    for path, value in overrides.items():
      config_lib.set_value(cfg, path, value)
    config_lib.validate(cfg)
    name = ','.join(f'{names[p]}={_fmt(v)}' for p, v in overrides.items())
    trials.append(Trial(name=name, overrides=overrides, config=cfg))
  return trials


def _static_key(cfg) -> Tuple:
  traced = set(config_lib.traced_fields())
  flat = config_lib.flatten(cfg)
  return tuple(sorted((k, repr(v)) for k, v in flat.items()
                      if k not in traced and k != 'seed'))


def group_trials(trials: Sequence[Trial]) -> List[List[Trial]]:
  groups: Dict[Tuple, List[Trial]] = {}
  for t in trials:
    groups.setdefault(_static_key(t.config), []).append(t)
  return list(groups.values())


@dataclasses.dataclass
class FinalContext:
  """What a final hook sees: one chunk of members with their final (restored
  best) parameters stacked on a leading member axis."""
  model: Any
  steps: Steps
  params: Any
  batch_stats: Any
  hp: Dict[str, jax.Array]
  data: 'DeviceData'
  members: List[Member]


# A final hook returns extra final metrics: name -> array with one value per
# member of the chunk (e.g. MC-dropout accuracy); they land in status.json.
FinalHook = Callable[[FinalContext], Dict[str, Any]]


# -- data on device ------------------------------------------------------------
@dataclasses.dataclass
class DeviceData:
  train_x: jax.Array
  train_y: jax.Array
  val: Tuple[jax.Array, jax.Array, jax.Array]  # (B, b, ...) batches + weights
  test: Tuple[jax.Array, jax.Array, jax.Array]
  probe_x: jax.Array
  probe_y: jax.Array


def _batched(x: np.ndarray, y: np.ndarray, batch: int):
  """Pads to a whole number of batches; weight 0 marks the padding."""
  n = len(y)
  batch = min(batch, n)
  num = -(-n // batch)
  pad = num * batch - n
  w = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])
  x = np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)])
  y = np.concatenate([y, np.zeros((pad,) + y.shape[1:], y.dtype)])
  shape = lambda a: a.reshape((num, batch) + a.shape[1:])
  return shape(x), shape(y), shape(w)


def to_device(dataset, config, mesh) -> DeviceData:
  """Small datasets stay resident on the device(s), replicated."""
  rep = NamedSharding(mesh, P())
  put = lambda a: jax.device_put(a, rep)
  probe = min(config.diagnostics.probe_size, len(dataset.val_y))
  return DeviceData(
      train_x=put(dataset.train_x), train_y=put(dataset.train_y),
      val=tuple(map(put, _batched(dataset.val_x, dataset.val_y,
                                  config.eval_batch_size))),
      test=tuple(map(put, _batched(dataset.test_x, dataset.test_y,
                                   config.eval_batch_size))),
      probe_x=put(dataset.val_x[:probe]), probe_y=put(dataset.val_y[:probe]))


# -- running -------------------------------------------------------------------
def _monitor_mode(cfg) -> str:
  es = cfg.early_stopping
  if es.mode != 'auto':
    return es.mode
  return 'min' if 'loss' in es.monitor else 'max'


def _member_dir(workdir: str, trial: Trial, seed: int) -> str:
  return os.path.join(workdir, trial.name or 'run', f'seed_{seed}')


def _scalars(tree: Dict[str, Any], i: int, prefix: str = '') -> Dict[str, float]:
  return {prefix + k: float(v[i]) for k, v in tree.items()}


def _nanmean(values) -> float:
  finite = [v for v in values if np.isfinite(v)]
  return float(np.mean(finite)) if finite else float('nan')


class Printer:
  """Progress lines: compile times, then one line per epoch with ETA."""

  def __init__(self, stream=None, quiet: bool = False):
    self.stream = stream or sys.stdout
    self.quiet = quiet

  def __call__(self, msg: str = '') -> None:
    if not self.quiet:
      print(msg, file=self.stream, flush=True)


class Interrupted(Exception):
  """SIGTERM/SIGINT arrived: the state was checkpointed; relaunch to resume."""

  def __init__(self, signum: int, epoch: int):
    super().__init__(f'interrupted by signal {signum} after epoch {epoch}; '
                     'checkpoint saved, relaunch the same command to resume')
    self.signum = signum


class SignalGuard:
  """Turns the first SIGTERM/SIGINT into a request to checkpoint and stop at
  the end of the current epoch; a second one acts as usual."""

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self, out: Printer):
    self.out = out
    self.requested: Optional[int] = None
    self._old = {}

  def _handle(self, signum, frame):
    if self.requested is not None:
      signal.signal(signum, self._old.get(signum, signal.SIG_DFL))
      signal.raise_signal(signum)
      return
    self.requested = signum
    self.out(f'signal {signum}: checkpointing at the end of this epoch, then '
             'stopping (send it again to stop now)')

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for s in self.SIGNALS:
        self._old[s] = signal.signal(s, self._handle)
    return self

  def __exit__(self, *exc):
    for s, handler in self._old.items():
      signal.signal(s, handler)


@dataclasses.dataclass
class Context:
  """What every group of a run shares."""
  ddata: 'DeviceData'
  dataset: Any
  mesh: Any
  workdir: str
  env: Dict[str, Any]
  out: Printer
  signals: SignalGuard
  final_hooks: Sequence[FinalHook] = ()
  shown_models: set = dataclasses.field(default_factory=set)


def _group_id(members: Sequence[Member], mode: str) -> str:
  text = '\n'.join([mode] + [m.directory for m in members])
  return hashlib.sha1(text.encode()).hexdigest()[:16]


def _result(m: Member, status: Dict[str, Any]) -> Dict[str, Any]:
  return dict(trial=m.trial.name, seed=m.seed, status=status.get('status'),
              directory=m.directory, **(status.get('final') or {}))


def run_group(members: List[Member], ctx: Context) -> List[Dict[str, Any]]:
  """Trains one group (same static config) from scratch or its checkpoint."""
  out, ddata, dataset = ctx.out, ctx.ddata, ctx.dataset
  trials = list(dict.fromkeys(id(m.trial) for m in members))
  cfg = members[0].trial.config  # all static fields are equal within a group
  model = models.build_model(cfg.model,
                             losses.output_dim(cfg.loss, dataset.num_classes),
                             dataset.input_shape)
  model_key = repr(sorted(config_lib.flatten(cfg.model).items()))
  if model_key not in ctx.shown_models:
    ctx.shown_models.add(model_key)
    out(models.summary(model, dataset.input_shape,
                       num_classes=dataset.num_classes))
  n_train = len(dataset.train_y)
  steps_per_epoch = n_train // cfg.batch_size
  steps = Steps(
      model=model, optimizer=optim.make_optimizer(cfg, steps_per_epoch),
      loss_fn=losses.make_loss(cfg.loss, dataset.num_classes),
      metric_fns=losses.make_metrics(cfg.loss), reg_cfg=cfg.reg,
      batch_size=cfg.batch_size, steps_per_epoch=steps_per_epoch,
      mesh=ctx.mesh, es_mode=_monitor_mode(cfg),
      es_patience=cfg.early_stopping.patience,
      es_min_delta=cfg.early_stopping.min_delta,
      monitor=cfg.early_stopping.monitor)
  prog = program_lib.Program(steps)

  mode = cfg.members
  if mode == 'auto':
    mode = 'vmap' if models.MODELS.get(cfg.model.name).vmap_friendly else 'loop'
  size = len(members) if mode == 'vmap' else 1
  # Conv families are the ones registered as not vmap-friendly.
  driver = program_lib.epoch_driver(
      cfg.epoch_driver, not models.MODELS.get(cfg.model.name).vmap_friendly)
  chunks = [members[i:i + size] for i in range(0, len(members), size)]
  traced = config_lib.traced_fields()
  hps = [program_lib.stack_hp({p: [config_lib.get(m.trial.config, p)
                                   for m in c] for p in traced})
         for c in chunks]

  sample = jnp.zeros((1,) + tuple(dataset.input_shape), jnp.float32)
  states, trackers = [], []
  for c in chunks:
    st = prog.init(jnp.asarray([m.seed for m in c], jnp.int32), sample)
    states.append(st)
    trackers.append(prog.new_tracker(st))
  ckpt = checkpoint_lib.GroupCheckpoints(
      os.path.join(ctx.workdir, '.checkpoints', _group_id(members, mode)),
      keep=cfg.checkpoint.keep, member_axis=True)
  restored = ckpt.restore_latest((states, trackers), warn=out)
  start_epoch = 0
  if restored is not None:
    start_epoch, tree, _ = restored
    states, trackers = jax.tree_util.tree_map(jnp.asarray, tree)

  label = (members[0].trial.name or 'run') if len(trials) == 1 else (
      f'{len(trials)} trials')
  out(f'[{label}] {len(members)} member(s), {mode} '
      f'({len(chunks)} chunk(s), epoch driver {driver}), '
      f'{steps_per_epoch} steps/epoch of {cfg.batch_size}'
      + (f'; resuming after epoch {start_epoch}' if start_epoch else ''))
  writers = []
  for m in members:
    flat = config_lib.flatten(m.trial.config)
    flat['seed'] = m.seed
    writers.append(records.RunWriter(m.directory, dict(
        config=flat, trial=m.trial.name, overrides=m.trial.overrides,
        seed=m.seed, members_in_program=size, member_mode=mode), ctx.env,
        resume_epoch=start_epoch))
  try:
    return _train(members, chunks, hps, states, trackers, start_epoch, cfg,
                  prog, steps, model, writers, ckpt, label, ctx, driver)
  except (DlexpError, Interrupted):
    raise
  except Exception as e:  # pylint: disable=broad-except
    # A crash of this group (not of the user's input) must not take the rest
    # of the sweep with it: record it, go on, rerun with --rerun_failed.
    message = f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'
    out(f'[{label}] failed: {message}')
    results = []
    for m, w in zip(members, writers):
      w.set_status('failed', error=message, trial=m.trial.name, seed=m.seed)
      results.append(_result(m, {'status': 'failed'}))
    return results
  finally:
    for w in writers:
      w.close()
    ckpt.close()


def _train(members, chunks, hps, states, trackers, start_epoch, cfg, prog,
           steps, model, writers, ckpt, label, ctx, driver
           ) -> List[Dict[str, Any]]:
  out, ddata = ctx.out, ctx.ddata
  steps_per_epoch = steps.steps_per_epoch
  writer_of = {id(m): w for m, w in zip(members, writers)}
  diag_every = cfg.diagnostics.every_epochs
  start = time.time()

  def save(epoch):
    ckpt.save(epoch, (states, trackers),
              meta=dict(members=[m.directory for m in members]))

  if start_epoch == 0:
    # Epoch 0: the untrained network (diagnostics at initialization).
    for k, c in enumerate(chunks):
      st, hp = states[k], hps[k]
      row = {f'val_{n}': v for n, v in prog.evaluate(
          st.params, st.batch_stats, hp, *ddata.val).items()}
      if diag_every:
        row.update(prog.diagnose(st, hp, ddata.probe_x, ddata.probe_y))
      row = {n: np.asarray(v) for n, v in row.items()}
      for i, m in enumerate(c):
        writer_of[id(m)].log(dict({n: v[i] for n, v in row.items()},
                                  epoch=0, step=0))
  first_compile = sum(prog.compile_seconds().values())

  epoch_times = []
  for epoch in range(start_epoch + 1, cfg.epochs + 1):
    if not any(bool(jnp.any(t.active)) for t in trackers):
      break
    t0 = time.perf_counter()
    compiled_before = sum(prog.compile_seconds().values())
    chunk_rows = []
    for k in range(len(chunks)):
      active = np.asarray(trackers[k].active)  # the tracker is donated below
      if not active.any():  # a looped member that stopped: skip it
        chunk_rows.append(None)
        continue
      states[k], train_m = program_lib.run_epoch(
          prog, driver, states[k], hps[k], active, ddata.train_x,
          ddata.train_y)
      val = prog.evaluate(states[k].params, states[k].batch_stats, hps[k],
                          *ddata.val)
      row = {f'train_{n}': v for n, v in train_m.items()
             if n != 'learning_rate'}
      row['learning_rate'] = train_m['learning_rate']
      row.update({f'val_{n}': v for n, v in val.items()})
      monitored = row[cfg.early_stopping.monitor]
      trackers[k] = prog.track(trackers[k], states[k], monitored,
                               row['train_loss'])
      # The epochs whose parameters early stopping saved as the best so far.
      row['saved_best'] = trackers[k].best_epoch == epoch - 1
      states[k] = prog.end_epoch(states[k], trackers[k],
                                 row[cfg.schedule.plateau_monitor])
      if diag_every and epoch % diag_every == 0:
        row.update(prog.diagnose(states[k], hps[k], ddata.probe_x,
                                 ddata.probe_y))
      chunk_rows.append((active, row))
    jax.block_until_ready(states)
    compiling = sum(prog.compile_seconds().values()) - compiled_before
    seconds = time.perf_counter() - t0 - compiling  # training time only
    if compiling:
      total = compiling + (first_compile if epoch == start_epoch + 1 else 0)
      out(f'[{label}] compiled in {total:.1f}s')
    epoch_times.append(seconds)
    ran = sum(int(np.sum(a)) for a, _ in filter(None, chunk_rows))
    throughput = ran * steps_per_epoch * cfg.batch_size / seconds
    accs, train_losses = [], []
    for k, c in enumerate(chunks):
      if chunk_rows[k] is None:
        continue
      active, row = chunk_rows[k]
      row = {n: np.asarray(v) for n, v in row.items()}
      for i, m in enumerate(c):
        if not bool(active[i]):
          continue  # stopped members log nothing more
        line = {n: v[i] for n, v in row.items()}
        line.update(epoch=epoch, step=epoch * steps_per_epoch,
                    examples_per_sec=throughput, epoch_seconds=seconds,
                    members=ran)
        writer_of[id(m)].log(line)
        accs.append(float(line.get('val_accuracy', line['val_loss'])))
        train_losses.append(float(line['train_loss']))
    metric = 'val_acc' if 'accuracy' in steps.metric_fns else 'val_loss'
    remaining = (cfg.epochs - epoch) * float(np.median(epoch_times))
    out(f'[{label}] epoch {epoch}/{cfg.epochs}  train_loss '
        f'{_nanmean(train_losses):.4f}  {metric} {_nanmean(accs):.4f}'
        f'  {throughput:,.0f} ex/s  {seconds:.1f}s  ETA {remaining:.0f}s')
    every = cfg.checkpoint.every_epochs
    if ctx.signals.requested or (every and epoch % every == 0):
      save(epoch)
    if ctx.signals.requested:
      for m in members:
        writer_of[id(m)].set_status('interrupted', epoch=epoch,
                                    trial=m.trial.name, seed=m.seed)
      raise Interrupted(ctx.signals.requested, epoch)
  train_seconds = time.time() - start

  results = []
  restore = cfg.early_stopping.restore_best
  for k, c in enumerate(chunks):
    tr, st = trackers[k], states[k]
    use_best = jnp.asarray(restore) & (tr.best_epoch >= 0)
    pick = lambda b, cur: jnp.where(
        use_best.reshape((-1,) + (1,) * (cur.ndim - 1)), b, cur)
    params = jax.tree_util.tree_map(pick, tr.best_params, st.params)
    bstats = jax.tree_util.tree_map(pick, tr.best_batch_stats, st.batch_stats)
    val = prog.evaluate(params, bstats, hps[k], *ddata.val)
    test = prog.evaluate(params, bstats, hps[k], *ddata.test)
    extra = {}
    for hook in ctx.final_hooks:
      extra.update(hook(FinalContext(model, steps, params, bstats, hps[k],
                                     ddata, c)))
    for i, m in enumerate(c):
      final = _scalars(val, i, 'val_') | _scalars(test, i, 'test_')
      final.update(_scalars(extra, i))
      diverged = bool(tr.diverged[i])
      stopped = int(tr.stopped_epoch[i])
      final.update(
          best_epoch=int(tr.best_epoch[i]) + 1,
          stopped_epoch=stopped + 1 if stopped >= 0 else None,
          diverged_epoch=int(tr.diverged_epoch[i]) + 1 if diverged else None,
          epochs_run=int(st.epoch[i]), restored_best=bool(use_best[i]))
      status = 'diverged' if diverged else 'done'
      writer_of[id(m)].set_status(
          status, final=final, train_seconds=train_seconds,
          compile_seconds=sum(prog.compile_seconds().values()),
          resumed_from_epoch=start_epoch, trial=m.trial.name, seed=m.seed)
      results.append(_result(m, {'status': status, 'final': final}))
  return results


def run(base: ml_collections.ConfigDict, axes: Dict[str, Sequence[Any]],
        workdir: str, out: Optional[Printer] = None, dataset=None,
        final_hooks: Sequence[FinalHook] = (),
        rerun_failed: bool = False) -> List[Dict[str, Any]]:
  """Runs every trial x seed of the grid; returns one result per member.

  Relaunching on the same workdir skips members whose status is done or
  diverged, resumes interrupted groups from their latest checkpoint, and
  reruns failed members only with `rerun_failed`.
  """
  out = out or Printer()
  trials = make_trials(base, axes)
  _check_workdir(workdir)
  if dataset is None:
    dataset = data_lib.load(base.data)
  mesh = Mesh(np.array(jax.devices()), ('data',))
  for t in trials:
    config_lib.validate_against_data(t.config, dataset, mesh.size)
  workdir = _prepare_workdir(workdir)  # only now: every check has passed
  members = [Member(t, t.config.seed + s,
                    _member_dir(workdir, t, t.config.seed + s))
             for t in trials for s in range(t.config.num_seeds)]
  locks = []
  try:
    for m in members:  # all or nothing, before anything is written
      lock = records.TrialLock(m.directory)
      lock.acquire()
      locks.append(lock)
    results: Dict[str, Dict[str, Any]] = {}
    pending = []
    for m in members:
      status = records.read_json(os.path.join(m.directory, 'status.json'))
      state = (status or {}).get('status')
      if state in ('done', 'diverged') or (state == 'failed'
                                           and not rerun_failed):
        results[m.directory] = _result(m, status)
      else:
        pending.append(m)
    skipped = len(members) - len(pending)
    out(f'dataset {dataset.name}: {len(dataset.train_y)} train / '
        f'{len(dataset.val_y)} val / {len(dataset.test_y)} test, input '
        f'{tuple(dataset.input_shape)}, {dataset.num_classes} classes; '
        f'devices: {mesh.size} x {jax.devices()[0].platform}'
        + (f'; {skipped} member(s) already finished in {workdir}'
           if skipped else ''))
    if pending:
      by_trial = {}
      for m in pending:
        by_trial.setdefault(id(m.trial), []).append(m)
      groups: Dict[Tuple, List[Member]] = {}
      for ms in by_trial.values():
        groups.setdefault(_static_key(ms[0].trial.config), []).extend(ms)
      with SignalGuard(out) as signals:
        ctx = Context(to_device(dataset, base, mesh), dataset, mesh, workdir,
                      records.environment(), out, signals, final_hooks)
        for group in groups.values():
          for r in run_group(group, ctx):
            results[r['directory']] = r
    return [results[m.directory] for m in members]
  finally:
    for lock in locks:
      lock.release()


def _check_workdir(workdir: str) -> None:
  """The workdir checks that need not create anything."""
  path = os.path.abspath(os.path.expanduser(workdir))
  if os.path.exists(path) and not os.path.isdir(path):
    raise ConfigError(f'workdir {path!r} is a file; pass a directory')
  parent = path
  while not os.path.exists(parent):
    parent = os.path.dirname(parent)
  if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
    raise ConfigError(f'workdir {path!r} cannot be created: {parent!r} is '
                      'not a writable directory')


def _prepare_workdir(workdir: str) -> str:
  workdir = os.path.abspath(os.path.expanduser(workdir))
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise ConfigError(f'workdir {workdir!r} is a file; pass a directory')
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as e:
    raise ConfigError(f'workdir {workdir!r} cannot be created: '
                      f'{e.strerror}') from None
  if not os.access(workdir, os.W_OK):
    raise ConfigError(f'workdir {workdir!r} is not writable')
  return workdir
