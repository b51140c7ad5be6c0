"""Runs a grid's members (dlexp.grid makes the trials, members and groups).

`run` prepares the workdir and data and hands each group to a `GroupRun`,
which reads top to bottom: start (init or resume), epoch 0, the epoch loop,
finish (restored-best evaluation, hooks, status), or fail.
"""
import dataclasses
import hashlib
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh

from dlexp import config as config_lib
from dlexp import data as data_lib
from dlexp import (compile_cache, distributed, losses, models, records,
                   tree_paths)
from dlexp.errors import DlexpError
from dlexp.grid import (Axes, Member, group_members, group_trials, make_members,
                        make_trials, order_by_group)
from dlexp.train import checkpoint as checkpoint_lib
from dlexp.train import model_io
from dlexp.train import program as program_lib
from dlexp.train import transfer
from dlexp.train import workdir as workdir_lib
from dlexp.train.device_data import (DeviceData, probe_size, replicate,
                                     to_device)
from dlexp.train.progress import Printer
from dlexp.train.signals import Interrupted, SignalGuard
from dlexp.train.steps import Steps

# Model summaries this process printed, and the model configs it made them
# for (each is printed once: a script's groups and parts often share one).
_SHOWN_SUMMARIES = set()

__all__ = ('DeviceData', 'FinalContext', 'Interrupted', 'Printer', 'run',
           'to_device')


# -- what final hooks see ------------------------------------------------------
@dataclasses.dataclass
class FinalContext:
  """What a final hook sees: one chunk of members with their final (restored
  best) parameters stacked on a leading member axis."""
  model: Any
  steps: Steps
  params: Any
  batch_stats: Any
  hp: Dict[str, jax.Array]
  data: DeviceData
  members: List[Member]
  # The last epoch's parameters and batch statistics (equal to params where
  # nothing was restored): what training without restore_best would keep.
  last_params: Any = None
  last_batch_stats: Any = None


# A final hook returns extra final metrics: name -> array with one value per
# member of the chunk (e.g. MC-dropout accuracy); they land in status.json.
FinalHook = Callable[[FinalContext], Dict[str, Any]]


@dataclasses.dataclass
class Context:
  """What every group of a run shares."""
  ddata: DeviceData
  dataset: Any
  mesh: Any
  workdir: str
  env: Dict[str, Any]
  out: Printer
  signals: SignalGuard
  final_hooks: Sequence[FinalHook] = ()
  script_options: Optional[Dict[str, Any]] = None
  primary: bool = True  # this process writes files (process 0)
  checkpoints: bool = True  # a directory every process shares
  show_models: bool = True  # print each distinct model summary once


def _member_hp(chunk: Sequence[Member]) -> Dict[str, jax.Array]:
  """The traced values of a chunk of members (and their folds)."""
  traced = config_lib.traced_fields()
  values = {p: [config_lib.get(m.trial.config, p) for m in chunk]
            for p in traced}
  values['data.cv_fold'] = [m.fold for m in chunk]
  return program_lib.stack_hp(values)


def _result(m: Member, status: Dict[str, Any]) -> Dict[str, Any]:
  return dict(trial=m.trial.name, seed=m.seed, status=status.get('status'),
              directory=m.directory, **(status.get('final') or {}))


def _scalars(tree: Dict[str, Any], i: int, prefix: str = '') -> Dict[str, float]:
  return {prefix + k: float(v[i]) for k, v in tree.items()}


# -- one group -----------------------------------------------------------------
class GroupRun:
  """Trains one group of members (same static config) from scratch or from
  its latest checkpoint."""

  def __init__(self, members: List[Member], ctx: Context):
    self.members, self.ctx = members, ctx
    self.cfg = cfg = members[0].trial.config  # static fields are all equal
    self.prog = program_lib.build(
        cfg, ctx.dataset, ctx.mesh,
        program_lib.left_out(m.trial.config for m in members))
    self.steps = self.prog.steps
    self.mode = program_lib.member_mode(cfg, len(members))
    self.driver = program_lib.epoch_driver_for(cfg)
    size = len(members) if self.mode == 'vmap' else 1
    self.chunks = [members[i:i + size] for i in range(0, len(members), size)]
    self.hps = [_member_hp(c) for c in self.chunks]
    trials = list(dict.fromkeys(id(m.trial) for m in members))
    self.label = (members[0].trial.name or 'run') if len(trials) == 1 else (
        f'{len(trials)} trials')
    self.states, self.trackers = [], []
    self.writers: Dict[int, records.RunWriter] = {}
    self.ckpt = None
    self.start_epoch = 0
    self.epoch_times: List[float] = []

  # The run, top to bottom.
  def run(self) -> List[Dict[str, Any]]:
    self.show_model()
    try:
      self.start()
      if self.start_epoch == 0:
        self.log_epoch0()
      self.train()
      return self.finish()
    except (DlexpError, Interrupted):
      raise
    except Exception as e:  # pylint: disable=broad-except
      # A crash of this group (not of the user's input) must not take the
      # rest of the sweep with it: record it, go on, rerun with --rerun_failed.
      return self.fail(e)
    finally:
      for w in self.writers.values():
        w.close()
      if self.ckpt is not None:
        self.ckpt.close()

  def show_model(self) -> None:
    """Each distinct summary once per process: groups that differ only in
    what the summary does not show (an activation, a rate) print none."""
    if not self.ctx.show_models:
      return
    key = repr((sorted(config_lib.flatten(self.cfg.model).items()),
                tuple(self.ctx.dataset.input_shape)))
    if key in _SHOWN_SUMMARIES:  # this model's summary was made already
      return
    _SHOWN_SUMMARIES.add(key)
    text = models.summary(self.steps.model, self.ctx.dataset.input_shape,
                          num_classes=self.ctx.dataset.num_classes
                          or None)  # None: regression targets
    if text not in _SHOWN_SUMMARIES:
      _SHOWN_SUMMARIES.add(text)
      self.ctx.out(text)

  def start(self) -> None:
    """Fresh states (or those of init.from_path), or the latest
    checkpoint's; run writers; compiles (the states are made while the
    programs compile: Program.precompile)."""
    ctx, prog = self.ctx, self.prog
    sample = jnp.zeros((1,) + tuple(ctx.dataset.input_shape), jnp.float32)
    seeds = [jnp.asarray([m.seed for m in c], jnp.int32) for c in self.chunks]
    active = np.ones(len(self.chunks[0]), bool)
    prog.precompile(self.driver, (seeds[0], sample), ctx.mesh, self.hps[0],
                    active, ctx.ddata, lambda: self.start_states(seeds, sample))
    self.writers = {id(m): self.make_writer(m) for m in self.members}
    layers = models.layer_order(self.steps.model, ctx.dataset.input_shape)
    for m in self.members if ctx.primary else ():  # network order, for
      records.write_layers(m.directory, layers)  # diagnostics readers
    ctx.out(f'[{self.label}] compiled in {prog.total_compile_seconds():.1f}s')

  def start_states(self, seeds, sample):
    """Every chunk's starting (state, tracker), placed on the mesh, and the
    group's header line; returns the first chunk's."""
    for s in seeds:
      st, tr = self.prog.init(s, sample)
      self.states.append(st)
      self.trackers.append(tr)
    if self.cfg.init.from_path:
      self.states, self.trackers, self.start_epoch = transfer.start_states(
          self.cfg, self.chunks, self.states, self.trackers)
    self.ckpt = checkpoint_lib.GroupCheckpoints(
        os.path.join(self.ctx.workdir, '.checkpoints', self.group_id()),
        keep=self.cfg.checkpoint.keep, member_axis=True) if (
            self.ctx.checkpoints) else checkpoint_lib.NoCheckpoints()
    restored = self.ckpt.restore_latest((self.states, self.trackers),
                                        warn=self.ctx.out)
    if restored is not None:
      self.start_epoch, (self.states, self.trackers), _ = restored
    self.states, self.trackers = replicate((self.states, self.trackers),
                                           self.ctx.mesh)
    self.ctx.out.group(self.label, len(self.members), self.mode,
                       len(self.chunks), self.driver,
                       self.steps.steps_per_epoch, self.cfg.batch_size,
                       self.start_epoch)
    return self.states[0], self.trackers[0]

  def group_id(self) -> str:
    text = '\n'.join([self.mode] + [m.directory for m in self.members])
    return hashlib.sha1(text.encode()).hexdigest()[:16]

  def make_writer(self, m: Member) -> records.RunWriter:
    if not self.ctx.primary:
      return records.NullWriter()  # process 0 writes the files
    flat = config_lib.flatten(m.trial.config)
    flat['seed'] = m.seed
    return records.RunWriter(m.directory, dict(
        config=flat, trial=m.trial.name, overrides=m.trial.overrides,
        seed=m.seed, fold=m.fold, config_id=workdir_lib.config_id(
            config_lib.flatten(m.trial.config), self.ctx.script_options),
        script_options=self.ctx.script_options or {},
        members_in_program=len(self.chunks[0]), member_mode=self.mode),
        self.ctx.env, resume_epoch=self.start_epoch)

  def after_epoch(self, k: int, row: Dict[str, np.ndarray], track: bool,
                  diagnose: bool) -> Dict[str, np.ndarray]:
    """Tracking, plateau and diagnostics of chunk k; the values to log."""
    names = self.prog.row_spec(len(self.chunks[k]))
    inputs = {n: np.asarray(row.get(n, np.zeros_like(z)), np.float32)
              for n, z in names.items()}
    ddata = self.ctx.ddata
    self.states[k], self.trackers[k], out = self.prog.after_epoch_for(
        diagnose)(self.states[k], self.trackers[k], self.hps[k], inputs,
                  np.bool_(track), ddata.probe_x, ddata.probe_y)
    out = jax.device_get(out)
    if not diagnose:
      out = {n: v for n, v in out.items() if not n.startswith('diag/')}
    if not track:
      out.pop('saved_best')
    return out

  def log_epoch0(self) -> None:
    """Epoch 0: the untrained network (diagnostics at initialization)."""
    diagnose = bool(self.cfg.diagnostics.every_epochs)
    for k, c in enumerate(self.chunks):
      st = self.states[k]
      row = {f'val_{n}': v for n, v in program_lib.validate(
          self.prog, st.params, st.batch_stats, self.hps[k],
          self.ctx.ddata).items()}
      row.update(self.after_epoch(k, row, track=False, diagnose=diagnose))
      for i, m in enumerate(c):
        self.writer(m).log(dict({n: v[i] for n, v in row.items()}, epoch=0,
                                step=0))

  def writer(self, m: Member) -> records.RunWriter:
    return self.writers[id(m)]

  def train_chunk(self, k: int, epoch: int):
    """One epoch of chunk k: (mask of members that trained, row) or None."""
    # A copy: on CPU np.asarray can be a view of the tracker's buffer, which
    # after_epoch's donation rewrites (jax 0.4.30 dropped the stopping
    # epoch's row that way).
    active = np.array(self.trackers[k].active)
    if not active.any():  # a looped member that stopped: skip it
      return None
    ddata, prog = self.ctx.ddata, self.prog
    self.states[k], train_m = program_lib.run_epoch(
        prog, self.driver, self.states[k], self.hps[k], active,
        ddata.train_x, ddata.train_y)
    st = self.states[k]
    train_m = jax.device_get(train_m)
    row = {f'train_{n}': v for n, v in train_m.items() if n != 'learning_rate'}
    row.update({f'val_{n}': v for n, v in program_lib.validate(
        prog, st.params, st.batch_stats, self.hps[k], ddata).items()})
    every = self.cfg.diagnostics.every_epochs
    # The last epoch too: "@end" columns read it.
    diagnose = bool(every) and (epoch % every == 0 or
                                epoch == self.cfg.epochs)
    row.update(self.after_epoch(k, row, track=True, diagnose=diagnose))
    row['learning_rate'] = train_m['learning_rate']
    return active, row

  def train(self) -> None:
    cfg, ctx = self.cfg, self.ctx
    self.train_start = time.time()
    for epoch in range(self.start_epoch + 1, cfg.epochs + 1):
      if not any(bool(np.any(t.active)) for t in self.trackers):
        break
      t0 = time.perf_counter()
      compiled_before = self.prog.total_compile_seconds()
      rows = [self.train_chunk(k, epoch) for k in range(len(self.chunks))]
      jax.block_until_ready(self.states)
      recompiled = self.prog.total_compile_seconds() - compiled_before
      if recompiled:
        ctx.out(f'[{self.label}] compiled again: {recompiled:.1f}s')
      seconds = time.perf_counter() - t0 - recompiled  # training time only
      self.epoch_times.append(seconds)
      self.log_epoch(epoch, rows, seconds)
      every = cfg.checkpoint.every_epochs
      # Every process stops at the same epoch when any one was signalled.
      stop = distributed.any_process(ctx.signals.requested or 0)
      if stop or (every and epoch % every == 0):
        self.ckpt.save(epoch, (self.states, self.trackers),
                       meta=dict(members=[m.directory for m in self.members]))
      if stop:
        for m in self.members:
          self.writer(m).set_status('interrupted', epoch=epoch,
                                    trial=m.trial.name, seed=m.seed)
        raise Interrupted(stop, epoch)

  def log_epoch(self, epoch: int, rows, seconds: float) -> None:
    ran = sum(int(np.sum(r[0])) for r in rows if r is not None)
    # Without a validation split (data.val_size=0) the line shows training.
    split = ('train' if self.ctx.ddata.val is None
             and not self.steps.cv_folds else 'val')
    steps = self.steps.steps_per_epoch
    throughput = ran * steps * self.cfg.batch_size / seconds
    values, train_losses = [], []
    for c, r in zip(self.chunks, rows):
      if r is None:
        continue
      active, row = r
      for i, m in enumerate(c):
        if not bool(active[i]):
          continue  # stopped members log nothing more
        line = {n: v[i] for n, v in row.items()}
        line.update(epoch=epoch, step=epoch * steps,
                    examples_per_sec=throughput, epoch_seconds=seconds,
                    members=ran)
        self.writer(m).log(line)
        values.append(float(line.get(f'{split}_accuracy',
                                     line[f'{split}_loss'])))
        train_losses.append(float(line['train_loss']))
    metric = (f'{split}_acc' if 'accuracy' in self.steps.metric_fns
              else f'{split}_loss')
    eta = (self.cfg.epochs - epoch) * float(np.median(self.epoch_times))
    self.ctx.out.epoch(self.label, epoch, self.cfg.epochs, train_losses,
                       metric, values, throughput, seconds, eta)

  def final_params(self, k: int):
    """Chunk k's final parameters: the best epoch's when restore_best (and a
    best epoch exists), else the last; picked on the host. Also the final
    state on the host (those parameters, the last epoch's other fields)."""
    st, tr = jax.device_get((self.states[k], self.trackers[k]))
    use_best = (bool(self.cfg.early_stopping.restore_best)
                & (np.asarray(tr.best_epoch) >= 0))
    pick = lambda best, cur: np.where(
        use_best.reshape((-1,) + (1,) * (np.ndim(cur) - 1)), best, cur)
    params = jax.tree_util.tree_map(pick, tr.best_params, st.params)
    bstats = jax.tree_util.tree_map(pick, tr.best_batch_stats, st.batch_stats)
    put = lambda a, ref: jax.device_put(a, ref.sharding)
    final = st.replace(params=params, batch_stats=bstats)  # on the host
    return (jax.tree_util.tree_map(put, params, self.states[k].params),
            jax.tree_util.tree_map(put, bstats, self.states[k].batch_stats),
            use_best, final, tr)

  def finish(self) -> List[Dict[str, Any]]:
    train_seconds = time.time() - self.train_start
    results = []
    for k, c in enumerate(self.chunks):
      params, bstats, use_best, st, tr = self.final_params(k)
      final = {f'val_{n}': v for n, v in program_lib.validate(
          self.prog, params, bstats, self.hps[k], self.ctx.ddata).items()}
      if self.ctx.ddata.test is not None:  # from_arrays without a test split
        final.update({f'test_{n}': v for n, v in program_lib.evaluate(
            self.prog, params, bstats, self.hps[k],
            self.ctx.ddata.test).items()})
      for hook in self.ctx.final_hooks:
        final.update(hook(FinalContext(
            self.steps.model, self.steps, params, bstats, self.hps[k],
            self.ctx.ddata, c, last_params=self.states[k].params,
            last_batch_stats=self.states[k].batch_stats)))
      for i, m in enumerate(c):
        if self.cfg.save_model and self.ctx.primary:
          self.save_model(m, i, st, tr, bool(use_best[i]))
        results.append(self.finish_member(m, i, _scalars(final, i), tr, st,
                                          bool(use_best[i]), train_seconds))
    return results

  def save_model(self, m: Member, i: int, st, tr, restored: bool) -> None:
    """Member i's final model into <run dir>/model/ (dlexp.load reads it)."""
    named = tree_paths.nested(st)
    one = jax.tree_util.tree_map(lambda a: np.asarray(a)[i:i + 1], named)
    flat = config_lib.flatten(m.trial.config)
    flat.update(seed=m.seed, num_seeds=1)
    model_io.write(
        os.path.join(m.directory, model_io.MODEL_DIR), one, flat,
        dict(dataset=model_io.dataset_meta(self.ctx.dataset),
             output_dim=losses.output_dim(self.cfg.loss,
                                          self.ctx.dataset.num_classes,
                                          self.ctx.dataset.target_dim),
             loss=self.cfg.loss.name,
             trial=m.trial.name,
             members=[dict(seed=m.seed, epochs=int(st.epoch[i]),
                           restored_best=restored,
                           best_epoch=int(tr.best_epoch[i]) + 1,
                           diverged=bool(tr.diverged[i]))],
             environment=self.ctx.env))

  def finish_member(self, m: Member, i: int, final: Dict[str, float], tr, st,
                    restored: bool, train_seconds: float) -> Dict[str, Any]:
    diverged = bool(tr.diverged[i])
    stopped = int(tr.stopped_epoch[i])
    final.update(
        best_epoch=int(tr.best_epoch[i]) + 1,
        stopped_epoch=stopped + 1 if stopped >= 0 else None,
        diverged_epoch=int(tr.diverged_epoch[i]) + 1 if diverged else None,
        epochs_run=int(st.epoch[i]), restored_best=restored)
    status = 'diverged' if diverged else 'done'
    self.writer(m).set_status(
        status, final=final, train_seconds=train_seconds,
        compile_seconds=self.prog.total_compile_seconds(),
        compile_seconds_by_program={
            k: v for k, v in self.prog.compile_seconds().items() if v},
        resumed_from_epoch=self.start_epoch, trial=m.trial.name, seed=m.seed)
    return _result(m, {'status': status, 'final': final})

  def fail(self, e: Exception) -> List[Dict[str, Any]]:
    message = f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'
    self.ctx.out(f'[{self.label}] failed: {message}')
    if not self.writers:
      self.writers = {id(m): self.make_writer(m) for m in self.members}
    for m in self.members:
      self.writer(m).set_status('failed', error=message, trial=m.trial.name,
                                seed=m.seed)
    return [_result(m, {'status': 'failed'}) for m in self.members]


# -- the whole run -------------------------------------------------------------
def _finished(members: Sequence[Member], rerun_failed: bool):
  """(results of members that need no training, members that do)."""
  results, pending = {}, []
  for m in members:
    status = records.read_json(os.path.join(m.directory, 'status.json'))
    state = (status or {}).get('status')
    if state in ('done', 'diverged') or (state == 'failed'
                                         and not rerun_failed):
      results[m.directory] = _result(m, status)
    else:
      pending.append(m)
  return results, pending


def _pending(members: Sequence[Member], rerun_failed: bool):
  """(results of finished members, members to train), decided by process 0
  (the one that reads the workdir) and shared with every process."""
  results, pending = _finished(members, rerun_failed)
  waiting = {id(m) for m in pending}
  todo = distributed.broadcast([id(m) in waiting for m in members])
  pending = [m for m, t in zip(members, todo) if t]
  # A process that cannot read the workdir knows only that process 0 found
  # these members finished.
  for m, t in zip(members, todo):
    if not t and m.directory not in results:
      results[m.directory] = _result(m, {'status': 'done elsewhere'})
  return {d: r for d, r in results.items()
          if d not in {m.directory for m in pending}}, pending


def _printer(out, primary: bool) -> Printer:
  """Where run() prints: `out` (a Printer, or any callable taking a line)
  on process 0, nowhere on the others."""
  if not primary:
    return Printer(quiet=True)
  if not isinstance(out, Printer):
    out = Printer(write=out)  # any callable taking a line
  return out


def _is_shared(workdir: str, out: Printer) -> bool:
  """Whether every process sees `workdir` as one directory; warns if not."""
  shared = distributed.directory_is_shared(workdir)
  if not shared:
    out(f'warning: {workdir} is not one directory shared by all '
        f'{jax.process_count()} processes: process 0 writes the results, and '
        'no checkpoints are kept (resuming needs a shared directory)')
  return shared


def run(base: ml_collections.ConfigDict, axes: Axes,
        workdir: str, out: Optional[Callable[[str], None]] = None,
        dataset=None,
        final_hooks: Sequence[FinalHook] = (), rerun_failed: bool = False,
        script_options: Optional[Dict[str, Any]] = None,
        shard: Tuple[int, int] = (0, 1),
        show_models: bool = True) -> List[Dict[str, Any]]:
  """Runs every trial x seed of the grid (`axes`: see make_trials); returns
  one result per member.

  Relaunching on the same workdir with the same settings skips members whose
  status is done or diverged, resumes interrupted groups from their latest
  checkpoint, and reruns failed members only with `rerun_failed`; other
  settings train into their own directories (see dlexp.train.workdir).
  `script_options` (a script's own flags) are part of a member's identity.
  `shard` (i, n) runs the i-th of n contiguous blocks of the grid's members
  (dlexp.distributed.shard). In a multi-process run every process calls this
  with the same arguments; process 0 alone prints and writes files.
  `show_models`: print each distinct model summary (once per process).
  """
  primary = distributed.is_primary()
  out = _printer(out, primary)
  trials, dataset, mesh = _checked(base, axes, workdir, dataset)
  # Only now, every check passed: the workdir is made (by process 0).
  workdir = (workdir_lib.prepare(workdir) if primary
             else os.path.abspath(os.path.expanduser(workdir)))
  members = make_members(trials, workdir, script_options)
  grid_order = {m.directory: i for i, m in enumerate(members)}
  members = distributed.shard(order_by_group(members), *shard)
  for m in members:
    workdir_lib.check_reusable(m.directory, config_lib.flatten(m.trial.config),
                               script_options)
  compile_cache.enable(base.compile_cache)
  shared = _is_shared(workdir, out)
  locks = []
  try:
    for m in (members if primary else ()):  # all or nothing, first
      lock = records.TrialLock(m.directory)
      lock.acquire()
      locks.append(lock)
    results, pending = _pending(members, rerun_failed)
    out(_dataset_line(dataset, mesh) + (
        f'; {len(members) - len(pending)} member(s) already finished in '
        f'{workdir}' if len(pending) < len(members) else ''))
    if pending:
      with SignalGuard(out) as signals:
        ctx = Context(to_device(dataset, base, mesh), dataset, mesh, workdir,
                      records.environment(), out, signals, final_hooks,
                      script_options, primary=primary, checkpoints=shared,
                      show_models=show_models)
        for group in group_members(pending):
          for r in GroupRun(group, ctx).run():
            results[r['directory']] = r
    # Trained group by group; reported in the grid's own order.
    return [results[m.directory]
            for m in sorted(members, key=lambda m: grid_order[m.directory])]
  finally:
    for lock in locks:
      lock.release()


def _checked(base, axes, workdir: str, dataset):
  """Every check that needs no file written: the grid's values, the workdir,
  the data and what depends on it. (trials, dataset, mesh)."""
  trials = make_trials(base, axes)
  workdir_lib.check(workdir)
  if dataset is None:
    dataset = data_lib.load(base.data)
  mesh = Mesh(np.array(jax.devices()), ('data',))
  for t in trials:
    config_lib.validate_against_data(t.config, dataset, mesh.size)
    probe_size(t.config, dataset)  # the probe fits its split
  for group in group_trials(trials):  # init.from_path, freeze patterns
    transfer.check(group[0].config, dataset)
  return trials, dataset, mesh


def _dataset_line(dataset, mesh) -> str:
  return (f'dataset {dataset.name}: {len(dataset.train_y)} train / '
          f'{len(dataset.val_y)} val / {len(dataset.test_y)} test, input '
          f'{tuple(dataset.input_shape)}, '
          + (f'{dataset.num_classes} classes; ' if dataset.num_classes else
             f'regression targets of {dataset.target_dim}; ')
          + f'devices: {mesh.size} x {jax.devices()[0].platform}'
          + (f' in {jax.process_count()} processes'
             if jax.process_count() > 1 else ''))
