"""Compiled programs over a chunk of grid members.

Each per-member function of `Steps` is vmapped over a leading member axis and
compiled ahead of time, so compile time is measured on its own. A group of M
members runs either as one chunk of M (vmap) or as M chunks of 1 that reuse
the same compiled programs (loop): the same code either way, except that a
chunk of one calls the per-member functions without vmap (over_members).

A group compiles four programs: `init` (state and tracker), the epoch
(`train_epoch`, or `epoch_order` + `train_indexed_step` for the per-step
driver), `eval_sums` (one evaluation batch: validation and test share it) and
`after_epoch` (tracking, plateau and diagnostics). `Program.precompile`
compiles them concurrently; with the persistent compilation cache
(dlexp.compile_cache) a rerun loads them from disk.
"""
import concurrent.futures
import contextlib
import gc
import os
import threading
import time
from typing import Any, Callable, Dict, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from dlexp import losses, models, optim, xla_flags
from dlexp.train import device_data
from dlexp.train.steps import LeftOut, Steps

# Programs that run once per run (init) or once per epoch on a small probe
# (after_epoch) skip LLVM's optimizations: on XLA:CPU that cuts their compile
# time 2-3x (the default MLP's init: 0.94 s -> 0.30 s; after_epoch with
# diagnostics of a 3x32 MLP: 1.8 s -> 0.6 s), while their run time stays
# small next to an epoch (the 20x100 MLP's diagnostics: 21 -> 61 ms). Not
# for a conv net's after_epoch: unoptimized convolutions made the VGG16 x1/16
# diagnostics (256 probe images, 32x32x3) 6.2 s per member-epoch against
# 0.55 s optimized, ten times its 10-step epoch (vgg_cifar_failure).
QUICK_COMPILE = {'xla_backend_optimization_level': 0}

# The name of the vmap axis over the members of a chunk.
MEMBER_AXIS = 'members'


class Compiled:
  """jax.jit compiled ahead of time per argument signature (tree structure,
  shapes, dtypes), so compile time is measured on its own."""

  def __init__(self, fn: Callable, donate_argnums=(),
               options: Optional[Dict[str, Any]] = None):
    self._jit = jax.jit(fn, donate_argnums=donate_argnums)
    self.options = options  # per-program XLA options over dlexp's
    # Signature -> Future of its executable, set by the compile step (which
    # may still be running in another thread when the program is called).
    self._exe: Dict[Any, concurrent.futures.Future] = {}
    self._lock = threading.Lock()
    self.compile_seconds = 0.0

  @staticmethod
  def _key(args):
    leaves, treedef = jax.tree_util.tree_flatten(args)
    return (treedef, tuple((jnp.shape(x), jnp.result_type(x))
                           for x in leaves))

  def prepare(self, *args) -> Optional[Callable[[], None]]:
    """Lowers for `args` (real arrays or ShapeDtypeStructs) and returns a
    function that compiles, or None if already compiled or compiling.
    Lowering traces Python, so it runs in the caller's thread; the returned
    compile step may run in another thread (XLA releases the GIL while it
    compiles), and a call for this signature waits for it."""
    key = self._key(args)
    if key in self._exe:
      return None
    start = time.perf_counter()
    lowered = self._jit.lower(*args)
    lower_seconds = time.perf_counter() - start
    options = {**xla_flags.compiler_options(), **(self.options or {})}
    done = self._exe[key] = concurrent.futures.Future()

    def compile_now():
      t0 = time.perf_counter()
      try:
        exe = lowered.compile(options) if options else lowered.compile()
      except BaseException as e:
        done.set_exception(e)
        raise
      with self._lock:
        self.compile_seconds += lower_seconds + time.perf_counter() - t0
      done.set_result(exe)
    return compile_now

  def output_shapes(self, *args):
    """The outputs' ShapeDtypeStructs for `args`, from tracing only."""
    return jax.eval_shape(self._jit, *args)

  def __call__(self, *args):
    key = self._key(args)
    done = self._exe.get(key)
    if done is None:
      self.prepare(*args)()
      done = self._exe[key]
    return done.result()(*args)


@contextlib.contextmanager
def _no_gc():
  """Python's cyclic garbage collector off while a group's programs are
  traced: tracing allocates objects fast enough to set off full collections
  over the whole heap (two per cached 20x100 group, 0.11 s of its 1.44 s).
  The cycles it leaves are collected as usual afterwards."""
  enabled = gc.isenabled()
  gc.disable()
  try:
    yield
  finally:
    if enabled:
      gc.enable()


def over_members(named_fn: Callable, plain_fn: Callable,
                 in_axes: Sequence[Optional[int]]) -> Callable:
  """`named_fn` vmapped over the leading member axis of the arguments whose
  in_axes is 0, except that a chunk of one member (members=loop, every conv
  net on CPU) calls `plain_fn` on the squeezed arguments: jax.vmap over a
  size-1 axis still batches every op, and that costs a conv net's training
  step 15-19% per CPU-second on XLA:CPU (benchmarks/README.md). Outputs gain
  the member axis back either way, so callers see one signature."""
  vmapped = jax.vmap(named_fn, in_axes=tuple(in_axes), axis_name=MEMBER_AXIS)

  def call(*args):
    batched = [a for a, ax in zip(args, in_axes) if ax == 0]
    if jax.tree_util.tree_leaves(batched)[0].shape[0] != 1:
      return vmapped(*args)
    squeezed = [jax.tree_util.tree_map(lambda a: a[0], a) if ax == 0 else a
                for a, ax in zip(args, in_axes)]
    return jax.tree_util.tree_map(lambda a: a[None], plain_fn(*squeezed))
  return call


class Program:
  """The compiled functions of one group (same shapes and code), vmapped
  over the members of a chunk (see over_members).
  `quick_after_epoch`: compile after_epoch with QUICK_COMPILE (not for conv
  nets, whose diagnostics it slows tenfold). `some_epochs_quiet`: the run
  diagnoses only some epochs, so after_epoch also compiles without the
  diagnostics (`after_epoch_quiet`; see `after_epoch_for`)."""

  def __init__(self, steps: Steps, quick_after_epoch: bool = True,
               some_epochs_quiet: bool = False):
    self.steps = steps
    # The member axis is named, so a train step can branch on whether any
    # member prunes now (an unbatched lax.cond predicate); `steps` itself
    # runs per member (a one-member chunk; the analysis hooks call it too).
    named = steps.with_member_axis(MEMBER_AXIS)

    def v(name, in_axes, base=steps):
      return over_members(getattr(base.with_member_axis(MEMBER_AXIS), name),
                          getattr(base, name), in_axes)
    # Members are initialized one after another (lax.map, not vmap): an
    # orthogonal initializer (flax's recurrent kernels, kernel_init
    # 'orthogonal') runs a QR per layer, and jaxlib's CPU QR batched over
    # vmapped members can deadlock on its own thread pool.
    self.init = Compiled(
        lambda seeds, sample: jax.lax.map(
            lambda seed: named.init_run(seed, sample), seeds),
        options=QUICK_COMPILE)
    # The state is donated: an epoch updates parameters in place.
    self.train_epoch = Compiled(
        v('train_epoch', (0, 0, 0, None, None)),
        donate_argnums=(0,))
    # The per-step driver: a Python loop over one compiled step per batch.
    self.epoch_order = Compiled(v('epoch_order', (0, None, 0)),
                                options=QUICK_COMPILE)
    self.train_indexed_step = Compiled(
        v('train_indexed_step', (0, 0, 0, None, None, 0)),
        donate_argnums=(0,))
    self.eval_sums = Compiled(
        v('eval_sums', (0, 0, 0, None, None, None)))
    self.fold_eval_sums = Compiled(
        v('fold_eval_sums', (0, 0, 0, None, None, None)))
    after_axes = (0, 0, 0, 0, None, None, None)
    after_options = QUICK_COMPILE if quick_after_epoch else None
    self.after_epoch = Compiled(v('after_epoch', after_axes),
                                donate_argnums=(0, 1), options=after_options)
    self.after_epoch_quiet = None
    if some_epochs_quiet and steps.diagnostics:
      self.after_epoch_quiet = Compiled(
          v('after_epoch', after_axes, steps.without_diagnostics()),
          donate_argnums=(0, 1), options=after_options)
    # Precompile's wall time, and the per-program seconds it overlapped.
    self._parallel_wall = self._parallel_sum = 0.0

  def after_epoch_for(self, diagnose: bool) -> Compiled:
    """The after_epoch program of an epoch that does (or does not)
    diagnose."""
    if diagnose or self.after_epoch_quiet is None:
      return self.after_epoch
    return self.after_epoch_quiet

  def compile_seconds(self) -> Dict[str, float]:
    return {name: c.compile_seconds for name, c in vars(self).items()
            if isinstance(c, Compiled)}

  def total_compile_seconds(self) -> float:
    """Wall time spent tracing, lowering and compiling (programs compiled
    concurrently count once)."""
    summed = sum(self.compile_seconds().values())
    return summed - self._parallel_sum + self._parallel_wall

  def precompile(self, driver: str, init_args, mesh, hp, active, data,
                 start: Callable[[], Any]):
    """Compiles every program a run of this chunk shape uses and returns
    start()'s (state, tracker): the chunk's real starting point, which
    `start` makes (with `init`) while the other programs compile.

    `init_args`: (seeds, sample) of the chunk. Lowering is Python and runs
    here; each program's XLA compile starts in a thread as soon as it is
    lowered (XLA releases the GIL), overlapping the lowering of the next.
    The programs that take the state are lowered from its shapes (as
    `replicate` places it) before `init` has run, so init's compile (1.3 s
    of the default 20x100 MLP's group, at O0) overlaps theirs. The per-step
    driver's program is lowered for a real batch of indices, after start().
    """
    begin = time.perf_counter()
    before = sum(self.compile_seconds().values())
    with _no_gc():
      started = self._precompile(driver, init_args, mesh, hp, active, data,
                                 start)
    self._parallel_wall += time.perf_counter() - begin
    self._parallel_sum += sum(self.compile_seconds().values()) - before
    return started

  def _precompile(self, driver, init_args, mesh, hp, active, data, start):
    members = len(active)
    # One evaluation batch (validation and test share its shape), sliced
    # before the compile threads start: an eager slice compiles a small
    # program, 30 times slower beside them.
    split = data.val if data.val is not None else data.test
    eval_batch = None if split is None else tuple(a[0] for a in split)
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
      futures = []

      def submit(compile_now: Optional[Callable[[], None]]) -> None:
        if compile_now is not None:
          futures.append(pool.submit(compile_now))
      submit(self.init.prepare(*init_args))
      state, tracker = self.placed_shapes(init_args, mesh)
      # after_epoch before the epoch: loading its executable from the cache
      # (0.3 s of XLA deserializing, GIL released) then overlaps the epoch's
      # lowering instead of following all of it (cached 20x100 group:
      # 1.8 -> 1.6 s).
      after_args = (state, tracker, hp, self.row_spec(members),
                    np.bool_(True), data.probe_x, data.probe_y)
      submit(self.after_epoch.prepare(*after_args))
      if self.after_epoch_quiet is not None:
        submit(self.after_epoch_quiet.prepare(*after_args))
      if driver == 'scan':
        submit(self.train_epoch.prepare(state, hp, active, data.train_x,
                                        data.train_y))
      else:  # a permutation: a sort, 1.5 s to compile for 60,000 examples
        submit(self.epoch_order.prepare(state, data.train_y, hp))
      if self.steps.cv_folds:
        submit(self.fold_eval_sums.prepare(
            state.params, state.batch_stats, hp, data.train_x, data.train_y,
            np.int32(0)))
      if eval_batch is not None:
        submit(self.eval_sums.prepare(state.params, state.batch_stats, hp,
                                      *eval_batch))
      started = start()
      if driver != 'scan':
        order = self.epoch_order(started[0], data.train_y, hp)
        submit(self.train_indexed_step.prepare(
            started[0], hp, active, data.train_x, data.train_y, order[:, 0]))
      for future in futures:
        future.result()
    return started

  def placed_shapes(self, init_args, mesh):
    """(state, tracker) as ShapeDtypeStructs, placed on `mesh` as the
    runner places the real ones."""
    return device_data.replicated_shapes(
        self.init.output_shapes(*init_args), mesh)

  def row_spec(self, members: int) -> Dict[str, np.ndarray]:
    """The metrics row `after_epoch` reads, as zeros (its shapes)."""
    names = ['loss', *self.steps.metric_fns]
    row = {f'{split}_{n}': np.zeros(members, np.float32)
           for split in ('train', 'val') for n in names}
    return row


# How an epoch is driven. 'scan': the whole epoch is one lax.scan (no Python
# per step). 'step': a Python loop over one compiled step per batch. XLA:CPU
# (jax 0.10) runs convolution gradients inside a while loop pathologically
# slowly (a conv net: 38 examples/s in a scan against ~1,000 per step; see
# benchmarks/README.md), so 'auto' uses 'step' for conv nets on CPU.


def epoch_driver(requested: str, conv_net: bool) -> str:
  if requested != 'auto':
    return requested
  return 'step' if conv_net and jax.default_backend() == 'cpu' else 'scan'


def run_epoch(prog: 'Program', driver: str, state, hp, active, train_x,
              train_y):
  """One epoch of a chunk of members; returns (state, epoch-mean metrics)."""
  if driver == 'scan':
    return prog.train_epoch(state, hp, active, train_x, train_y)
  order = prog.epoch_order(state, train_y, hp)  # (members, steps, batch)
  per_step = []
  for i in range(order.shape[1]):
    state, metrics = prog.train_indexed_step(state, hp, active, train_x,
                                             train_y, order[:, i])
    per_step.append(metrics)
  # Averaged on the host: one transfer per epoch, no program to compile.
  stacked = jax.tree_util.tree_map(lambda *xs: np.stack(xs, axis=1),
                                   *jax.device_get(per_step))
  lr = stacked.pop('learning_rate')
  metrics = {k: v.mean(axis=1, dtype=np.float32) for k, v in stacked.items()}
  metrics['learning_rate'] = lr[:, -1]
  return state, metrics


def evaluate(prog: 'Program', params, batch_stats, hp, split):
  """Weighted means over a pre-batched split (xs, ys, ws), one compiled batch
  program called per batch; validation and test share it."""
  xs, ys, ws = split
  return _means(jax.device_get([
      prog.eval_sums(params, batch_stats, hp, xs[i], ys[i], ws[i])
      for i in range(xs.shape[0])]))


def validate(prog: 'Program', params, batch_stats, hp, data):
  """Validation metrics: the held-out fold of each member under
  cross-validation, else the validation split; NaN for every member
  without one (data.val_size=0: nothing to validate on, and config
  validation lets nothing watch these)."""
  steps = prog.steps
  if not steps.cv_folds and data.val is None:
    members = len(jax.tree_util.tree_leaves(params)[0])
    return {name: np.full(members, np.nan, np.float32)
            for name in ['loss', *steps.metric_fns]}
  if not steps.cv_folds:
    return evaluate(prog, params, batch_stats, hp, data.val)
  held_out = len(data.train_y) // steps.cv_folds
  batches = -(-held_out // min(steps.eval_batch_size, held_out))
  sums = jax.device_get([
      prog.fold_eval_sums(params, batch_stats, hp, data.train_x,
                          data.train_y, np.int32(i)) for i in range(batches)])
  return _means(sums)


def _means(batches):
  """Per-batch weighted sums -> weighted means, summed in float32 batch after
  batch as a scan over the batches would."""
  totals = {k: np.zeros_like(v) for k, v in batches[0].items()}
  for sums in batches:
    for k, v in sums.items():
      totals[k] = totals[k] + v
  weight = totals.pop('weight')
  return {k: v / weight for k, v in totals.items()}


def stack_hp(values: Dict[str, list]) -> Dict[str, jnp.ndarray]:
  return {k: jnp.asarray(v, jnp.float32) for k, v in values.items()}


def take(tree: Any, index: int) -> Any:
  return jax.tree_util.tree_map(lambda a: a[index], tree)


# -- building a group's program ------------------------------------------------
def build(cfg, dataset, mesh, left_out: LeftOut = LeftOut()) -> Program:
  """The Program of a group with static config `cfg` on `dataset` (sizes,
  classes, input shape): what the runner and the benchmarks train.
  `left_out`: what every member of the group has off (left_out(configs)),
  compiled away."""
  model = models.build_model(
      cfg.model, losses.output_dim(cfg.loss, dataset.num_classes,
                                   dataset.target_dim), dataset.input_shape)
  folds = cfg.data.cv_folds
  trained_on = len(dataset.train_y)
  if folds:  # every member trains on k - 1 of k equal folds
    trained_on = (folds - 1) * (len(dataset.train_y) // folds)
  steps_per_epoch = trained_on // cfg.batch_size
  return Program(Steps(
      model=model, optimizer=optim.make_optimizer(cfg, steps_per_epoch,
                                                  off=left_out.optimizer),
      loss_fn=losses.make_loss(cfg.loss, dataset.num_classes),
      metric_fns=losses.make_metrics(cfg.loss,
                                     regression=dataset.num_classes == 0),
      config=cfg, steps_per_epoch=steps_per_epoch, mesh=mesh,
      left_out=left_out),
      quick_after_epoch=not is_conv_net(cfg),
      some_epochs_quiet=cfg.diagnostics.every_epochs > 1)


def left_out(configs) -> LeftOut:
  """What every one of a group's member `configs` has off: dropout (rate
  0), the weight penalty (reg.l1 = reg.l2 = 0), the optimizer knobs at 0."""
  configs = list(configs)
  return LeftOut(
      dropout={float(c.model.dropout_rate) for c in configs} == {0.0},
      penalty={(float(c.reg.l1), float(c.reg.l2)) for c in configs}
      == {(0.0, 0.0)},
      optimizer=frozenset(optim.off_knobs(configs)))


def is_conv_net(cfg) -> bool:
  # Conv families are the ones registered as not vmap-friendly.
  return not models.MODELS.get(cfg.model.name).vmap_friendly


def epoch_driver_for(cfg) -> str:
  return epoch_driver(cfg.epoch_driver, is_conv_net(cfg))


# members=auto on CPU: loop for conv nets, vmap for the rest. Measured with
# benchmarks/member_policy.py on 2 idle cores (benchmarks/README.md): vmap
# over loop 1.08-1.64x for MLPs (2x16 to 20x100) and an LSTM-32 at 3 to 30
# members; a conv net 0.71x at 3 (batched convolutions lower badly on
# XLA:CPU). On a GPU vmap keeps a small model's chip busy: on an H200 the
# 3x256 MLP ran 2.85x (3 members) and 8.67x (15) the loop, the CNN 1.10x
# and 1.39x.
def member_mode(cfg, members: int) -> str:
  """'vmap' or 'loop' for a group of `members` (see config.members)."""
  del members  # measured: the count (3 to 30) does not change the answer
  if cfg.members != 'auto':
    return cfg.members
  if jax.default_backend() != 'cpu':
    return 'vmap'
  return 'loop' if is_conv_net(cfg) else 'vmap'
