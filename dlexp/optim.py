"""Optimizers and learning-rate schedules with traced hyperparameters.

This module owns two config sections: `defaults()` returns `config.optimizer`
and `schedule_defaults()` returns `config.schedule` (`validate` and
`validate_schedule` check them; `SECTIONS` maps each name to its pair).

Every numeric knob that changes no shapes is *traced*: `update` and
`learning_rate` read it from the flat `hp` dict (keys in `TRACED`), falling back
to the config value when a key is absent. The optax chain is a function of
those values, rebuilt at every update from the member's values, passed as the
update's extra argument `hyperparams` (optax.GradientTransformationExtraArgs:
what optax.inject_hyperparams does, without keeping the values in the state,
since they come from hp at every step), so one compiled program serves any
values and `jax.vmap` over `hp` trains one grid member per lane. The optimizer
state's structure never depends on a value (e.g. SGD always keeps a momentum
trace), so momentum 0 is exactly plain SGD and 0.99999 needs no recompilation.

Conventions:
- Momentum follows optax: `v = g + m * v`; the step is `-lr * v`, or
  `-lr * (g + m * v)` with Nesterov (v already updated).
- `weight_decay` is decoupled (SGDW / AdamW): the step is
  `-lr * (direction + weight_decay * param)`, added after the momentum / Adam
  direction so it never enters the moment estimates. It applies to kernels only
  (leaf name 'kernel') unless `decay_all_params` is True. Coupled L2 lives in
  `config.reg.l2` (see `dlexp.regularizers`).
- Clipping acts on the raw gradients: first by value, then by global norm.
- `step` is the number of updates already applied (0 for the first update);
  the rate at `step` is `learning_rate * schedule(step) * plateau_scale`.
- Parameters matched by `config.train.freeze` get zero updates: the chain is
  wrapped in `optax.multi_transform({'train': chain, 'frozen':
  optax.set_to_zero()})`, so they hold no optimizer state and no decay (see
  dlexp.train.transfer; patterns: dlexp.tree_paths).
- Parameters matched by `config.train.lr_scale_params` have their updates
  multiplied by the traced `train.lr_scale`: since the learning rate is the
  chain's last factor, that is exactly training them at lr_scale x the rate
  (weight decay, being scaled by the rate, included). The logged rate is the
  base one.
"""
import math
from typing import Any, Callable, Dict, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax

from dlexp.errors import ConfigError
from dlexp.registry import Registry
from dlexp import tree_paths

OPTIMIZERS = Registry('optimizer')
SCHEDULES = Registry('schedule')

TRACED = (
    'optimizer.learning_rate',
    'optimizer.momentum',
    'optimizer.weight_decay',
    'optimizer.b1',
    'optimizer.b2',
    'optimizer.eps',
    'optimizer.rms_decay',
    'optimizer.rms_momentum',
    'optimizer.clip_global_norm',
    'optimizer.clip_value',
    'schedule.warmup_epochs',
    'schedule.warmup_init',
    'schedule.decay_factor',
    'schedule.decay_rate',
    'schedule.min_lr_ratio',
    'schedule.peak_fraction',
    'schedule.initial_lr_ratio',
    'schedule.plateau_factor',
    'schedule.plateau_min_delta',
    'schedule.plateau_patience',
    'schedule.plateau_cooldown',
)


def defaults() -> ml_collections.ConfigDict:
  """The `config.optimizer` section."""
  return ml_collections.ConfigDict(dict(
      name='sgd',           # An optimizer.
      learning_rate=0.01,   # Base learning rate (the schedule multiplies it).
      momentum=0.9,         # Momentum coefficient (sgd / momentum /
                            # nesterov); 0 = plain SGD.
      nesterov=False,       # sgd: Nesterov momentum.
      weight_decay=0.0,     # Decoupled weight decay coefficient, scaled by the
                            # learning rate.
      decay_all_params=False,  # True: weight_decay acts on every parameter;
                               # False: on kernels only.
      b1=0.9,               # adam / adamw / nadam: first-moment decay.
      b2=0.999,             # adam / adamw / nadam: second-moment decay.
      eps=1e-8,             # Denominator epsilon (adam*, rmsprop, adagrad).
      rms_decay=0.9,        # rmsprop: EMA decay of squared gradients.
      rms_momentum=0.0,     # rmsprop: heavy-ball momentum on the scaled step.
      initial_accumulator=0.1,  # adagrad: start of the squared-gradient sum
                                # (not traced: it sets the init state).
      clip_global_norm=0.0,  # Clip the gradient to this global norm; 0 = off.
      clip_value=0.0,        # Clip every gradient entry to [-v, v]; 0 = off.
  ))


def schedule_defaults() -> ml_collections.ConfigDict:
  """The `config.schedule` section (multipliers of optimizer.learning_rate)."""
  return ml_collections.ConfigDict(dict(
      name='constant',      # A learning-rate schedule.
      warmup_epochs=0.0,     # Linear warm-up prepended to any schedule.
      warmup_init=0.0,       # Multiplier at step 0 of the warm-up.
      boundaries=(),         # step: epochs at which the rate is decayed.
      decay_factor=0.1,      # step: multiplier applied at each boundary.
      decay_rate=0.95,       # exponential: multiplier per epoch (smooth).
      min_lr_ratio=0.0,      # cosine / onecycle final value; plateau floor.
      peak_fraction=0.3,     # onecycle: fraction of training at the peak.
      initial_lr_ratio=0.04,  # onecycle: start value (1/25 as in fastai).
      plateau_monitor='val_loss',  # plateau: the logged metric it watches.
      plateau_mode='min',    # plateau: 'min' (loss) or 'max' (accuracy).
      plateau_factor=0.5,    # plateau: scale multiplier per reduction.
      plateau_patience=5,    # plateau: bad epochs before a reduction.
      plateau_min_delta=0.0,  # plateau: absolute improvement that counts.
      plateau_cooldown=0,    # plateau: epochs ignored after a reduction.
  ))


def _check(ok: bool, path: str, value: Any, allowed: str):
  if not ok:
    raise ConfigError(f'{path}={value!r} {allowed}')


def _in_unit(value) -> bool:
  return 0.0 <= value < 1.0


def validate(cfg: ml_collections.ConfigDict) -> None:
  """Checks the `config.optimizer` section; raises ConfigError."""
  OPTIMIZERS.get(cfg.name)
  p = 'optimizer.'
  _check(cfg.learning_rate > 0, p + 'learning_rate', cfg.learning_rate,
         'must be > 0')
  for key in ('momentum', 'b1', 'b2', 'rms_decay', 'rms_momentum'):
    _check(_in_unit(cfg[key]), p + key, cfg[key], 'must be in [0, 1)')
  _check(cfg.eps > 0, p + 'eps', cfg.eps, 'must be > 0')
  for key in ('weight_decay', 'initial_accumulator', 'clip_global_norm',
              'clip_value'):
    _check(cfg[key] >= 0, p + key, cfg[key], 'must be >= 0 (0 = off)')
  for key in ('nesterov', 'decay_all_params'):
    _check(isinstance(cfg[key], bool), p + key, cfg[key],
           'must be True or False')


def validate_schedule(cfg: ml_collections.ConfigDict) -> None:
  """Checks the `config.schedule` section; raises ConfigError."""
  SCHEDULES.get(cfg.name)
  p = 'schedule.'
  _check(cfg.warmup_epochs >= 0, p + 'warmup_epochs', cfg.warmup_epochs,
         'must be >= 0')
  _check(0 <= cfg.warmup_init <= 1, p + 'warmup_init', cfg.warmup_init,
         'must be in [0, 1]')
  b = tuple(cfg.boundaries)
  _check(all(isinstance(x, (int, float)) and x > 0 for x in b)
         and list(b) == sorted(b), p + 'boundaries', b,
         'must be increasing epochs > 0')
  if cfg.name in ('step', 'piecewise'):
    _check(len(b) > 0, p + 'boundaries', b,
           f"must list at least one epoch for schedule '{cfg.name}'")
  _check(0 < cfg.decay_factor <= 1, p + 'decay_factor', cfg.decay_factor,
         'must be in (0, 1]')
  _check(0 < cfg.decay_rate <= 1, p + 'decay_rate', cfg.decay_rate,
         'must be in (0, 1]')
  _check(0 <= cfg.min_lr_ratio <= 1, p + 'min_lr_ratio', cfg.min_lr_ratio,
         'must be in [0, 1]')
  _check(0 < cfg.peak_fraction < 1, p + 'peak_fraction', cfg.peak_fraction,
         'must be in (0, 1)')
  _check(0 <= cfg.initial_lr_ratio <= 1, p + 'initial_lr_ratio',
         cfg.initial_lr_ratio, 'must be in [0, 1]')
  _check(cfg.plateau_mode in ('min', 'max'), p + 'plateau_mode',
         cfg.plateau_mode, "must be 'min' or 'max'")
  _check(0 < cfg.plateau_factor < 1, p + 'plateau_factor', cfg.plateau_factor,
         'must be in (0, 1)')
  _check(cfg.plateau_patience >= 1, p + 'plateau_patience',
         cfg.plateau_patience, 'must be >= 1')
  _check(cfg.plateau_min_delta >= 0, p + 'plateau_min_delta',
         cfg.plateau_min_delta, 'must be >= 0')
  _check(cfg.plateau_cooldown >= 0, p + 'plateau_cooldown',
         cfg.plateau_cooldown, 'must be >= 0')
  if cfg.name == 'onecycle':
    # Its first phase is the warm-up; a second one would be ambiguous.
    _check(cfg.warmup_epochs == 0, p + 'warmup_epochs', cfg.warmup_epochs,
           "must be 0 for schedule 'onecycle' (set schedule.peak_fraction)")
  if cfg.name == 'warmup_cosine':
    _check(cfg.warmup_epochs > 0, p + 'warmup_epochs', cfg.warmup_epochs,
           "must be > 0 for schedule 'warmup_cosine'")


SECTIONS = {
    'optimizer': (defaults, validate),
    'schedule': (schedule_defaults, validate_schedule),
}


# ---------------------------------------------------------------------------
# Traced values.

def _values(hp: Mapping[str, Any], section: str,
            cfg: ml_collections.ConfigDict) -> dict:
  """Traced knobs of one section: hp[path] when present, else the config."""
  hp = hp or {}
  out = {}
  prefix = section + '.'
  for path in TRACED:
    if path.startswith(prefix):
      key = path[len(prefix):]
      v = hp.get(path, cfg[key])
      out[key] = jnp.asarray(v, jnp.float32)
  return out


# ---------------------------------------------------------------------------
# Optimizer directions: GradientTransformations without the learning rate.
# Each builder takes (hyperparameter values, optimizer config) and must give
# the same state structure for any values.

@OPTIMIZERS.register('sgd')
def _sgd(v, cfg):
  # optax.trace rather than optax.sgd: sgd drops its trace when momentum is 0,
  # which would change the state structure with a value.
  return optax.trace(decay=v['momentum'], nesterov=bool(cfg.nesterov))


# Aliases so that grids can name the classic variants directly.
OPTIMIZERS.register('momentum', _sgd)


@OPTIMIZERS.register('nesterov')
def _nesterov(v, cfg):
  del cfg
  return optax.trace(decay=v['momentum'], nesterov=True)


@OPTIMIZERS.register('adagrad')
def _adagrad(v, cfg):
  return optax.scale_by_rss(initial_accumulator_value=cfg.initial_accumulator,
                            eps=v['eps'])


@OPTIMIZERS.register('rmsprop')
def _rmsprop(v, cfg):
  del cfg
  return optax.chain(
      optax.scale_by_rms(decay=v['rms_decay'], eps=v['eps']),
      optax.trace(decay=v['rms_momentum']))


@OPTIMIZERS.register('adam')
def _adam(v, cfg):
  del cfg
  return optax.scale_by_adam(b1=v['b1'], b2=v['b2'], eps=v['eps'])


# AdamW is Adam plus `weight_decay`, which is decoupled for every optimizer.
OPTIMIZERS.register('adamw', _adam)


@OPTIMIZERS.register('nadam')
def _nadam(v, cfg):
  del cfg
  return optax.scale_by_adam(b1=v['b1'], b2=v['b2'], eps=v['eps'],
                             nesterov=True)


# The knobs whose transformation a group leaves out of its program when every
# member has them at 0 (see make_optimizer's `off`): 0.15 s of tracing in a
# cached 20x100 group. clip_value's clamp stays: without both clippers XLA:CPU
# fuses Adam's moment updates differently and the last bits of an Adam run
# change (20x100 MLP, 3 epochs); with it, SGD and Adam curves are bitwise the
# same (benchmarks/README.md).
OFF_AT_ZERO = ('optimizer.clip_global_norm', 'optimizer.weight_decay')


def _skipped(t: optax.GradientTransformation) -> optax.GradientTransformation:
  """`t` with an identity update: its init, so the state keeps the same
  structure (checkpoints and resumes match), and nothing to trace."""
  return optax.GradientTransformation(t.init, lambda u, s, params=None: (u, s))


def _chain_factory(direction: Callable, ocfg: ml_collections.ConfigDict,
                   decay_mask: Any, off=()) -> Callable:
  """The optax chain as a function of the traced `optimizer.*` values.

  `_traced` rebuilds it at every update from each member's values
  (learning_rate is the full rate at the step), so any values share one
  compiled program.
  The knobs named in `off` (all 0) get `_skipped` transformations.
  """

  def chain(learning_rate, momentum, weight_decay, b1, b2, eps, rms_decay,
            rms_momentum, clip_global_norm, clip_value):
    v = dict(momentum=momentum, b1=b1, b2=b2, eps=eps, rms_decay=rms_decay,
             rms_momentum=rms_momentum)
    # optax's clippers have no 'off' value: a bound of 0 becomes +inf, which
    # leaves finite gradients exactly unchanged and stays traced.
    off_at_zero = lambda c: jnp.where(c > 0, c, jnp.inf)
    unless_off = lambda knob, t: (_skipped(t) if f'optimizer.{knob}' in off
                                  else t)
    return optax.chain(
        optax.clip(off_at_zero(clip_value)),
        unless_off('clip_global_norm', optax.clip_by_global_norm(
            off_at_zero(clip_global_norm))),
        direction(v, ocfg),
        unless_off('weight_decay', optax.add_decayed_weights(
            weight_decay, mask=decay_mask)),
        optax.scale_by_learning_rate(learning_rate))

  return chain


# ---------------------------------------------------------------------------
# Schedules: multiplier(t, v, info) with t the float step, v traced values.
# optax's schedule constructors check their arguments with Python `if`s
# (linear_schedule's transition_steps, exponential_decay's decay_rate,
# piecewise_constant_schedule's scales, cosine_decay_schedule's decay_steps,
# cosine_onecycle_schedule's int(pct_start * steps)), which fails on traced
# per-member values. So only what takes traced values comes from optax:
# cosine_decay_schedule's floor (alpha) and join_schedules' boundary; the
# warm-up ramp, step, exponential and the one-cycle rise are written here.

class _Info(NamedTuple):
  total_steps: int
  steps_per_epoch: int
  boundaries: tuple


def _cosine_decay(frac, floor):
  """Half-cosine from 1 (frac=0) to `floor` (frac>=1); optax's decay_steps
  must be static, so it runs over the traced fraction of the span."""
  return optax.cosine_decay_schedule(1.0, decay_steps=1, alpha=floor)(frac)


@SCHEDULES.register('constant')
def _constant(t, v, info):
  del v, info
  return jnp.ones_like(t)


# Reduce-on-plateau keeps a constant base; its scale lives in the opt state.
SCHEDULES.register('plateau', _constant)


@SCHEDULES.register('step')
def _step(t, v, info):
  epoch = t / info.steps_per_epoch
  n = sum((epoch >= b).astype(jnp.float32) for b in info.boundaries)
  return v['decay_factor'] ** n


SCHEDULES.register('piecewise', _step)


@SCHEDULES.register('exponential')
def _exponential(t, v, info):
  return v['decay_rate'] ** (t / info.steps_per_epoch)


@SCHEDULES.register('cosine')
def _cosine(t, v, info):
  # The cosine spans the steps after the warm-up and reaches its floor
  # (min_lr_ratio) at total_steps.
  w = v['warmup_epochs'] * info.steps_per_epoch
  frac = jnp.clip((t - w) / jnp.maximum(info.total_steps - w, 1.0), 0.0, 1.0)
  return _cosine_decay(frac, v['min_lr_ratio'])


SCHEDULES.register('warmup_cosine', _cosine)


@SCHEDULES.register('onecycle')
def _onecycle(t, v, info):
  # Smith & Topin 2017 with cosine annealing (as fastai / PyTorch): rises from
  # initial_lr_ratio to 1 at peak_fraction of training, then falls to
  # min_lr_ratio at total_steps. Momentum is not cycled.
  peak = v['peak_fraction'] * info.total_steps
  start = v['initial_lr_ratio']

  def rise(s):
    frac = jnp.clip(s / jnp.maximum(peak, 1.0), 0.0, 1.0)
    return 1.0 + (start - 1.0) * 0.5 * (1.0 + jnp.cos(jnp.pi * frac))

  def fall(s):  # s counts from the peak.
    frac = s / jnp.maximum(info.total_steps - peak, 1.0)
    return _cosine_decay(jnp.clip(frac, 0.0, 1.0), v['min_lr_ratio'])

  return optax.join_schedules([rise, fall], [peak])(t)


def _warmup(t, v, info):
  """Linear ramp from warmup_init to 1 over warmup_epochs (1 if none)."""
  w = v['warmup_epochs'] * info.steps_per_epoch
  frac = jnp.where(w > 0, jnp.clip(t / jnp.maximum(w, 1e-30), 0.0, 1.0), 1.0)
  return v['warmup_init'] + (1.0 - v['warmup_init']) * frac


# ---------------------------------------------------------------------------
# The optimizer.

class PlateauState(NamedTuple):
  """Reduce-on-plateau state, one per vmapped member (checkpointable).

  Hand-written: optax.contrib.reduce_on_plateau checks factor, rtol and atol
  with Python `if`s (so they cannot be traced per member) and rejects
  rtol = atol = 0, i.e. plateau_min_delta = 0, the default.
  """
  scale: jnp.ndarray        # Multiplier of the learning rate.
  best: jnp.ndarray         # Best monitored value (sign-flipped for 'max').
  bad_epochs: jnp.ndarray   # Epochs since the last improvement.
  cooldown: jnp.ndarray     # Epochs left in which bad epochs are not counted.
  # The traced plateau knobs, refreshed by every `update` from hp, because
  # `end_epoch` receives no hp.
  factor: jnp.ndarray
  min_delta: jnp.ndarray
  patience: jnp.ndarray
  cooldown_epochs: jnp.ndarray
  min_scale: jnp.ndarray


class OptState(NamedTuple):
  inner: Any  # the optax chain's state (in multi_transform's when frozen)
  plateau: PlateauState


def _f32(values: Dict[str, Any]) -> Dict[str, jnp.ndarray]:
  return {k: jnp.asarray(v, jnp.float32) for k, v in values.items()}


def _traced(factory: Callable, initial: Dict[str, Any]
            ) -> optax.GradientTransformationExtraArgs:
  """The transformation `factory(**values)` with the values given to every
  update as the extra argument `hyperparams` (float32, traced); its state
  is the chain's own, initialized at `initial`."""

  def init(params):
    return factory(**_f32(initial)).init(params)

  def update(updates, state, params=None, *, hyperparams, **unused):
    del unused  # other transformations' extra arguments
    return factory(**_f32(hyperparams)).update(updates, state, params)

  return optax.GradientTransformationExtraArgs(init, update)


class Optimizer(NamedTuple):
  """Pure functions; see the module docstring for the conventions."""
  init: Callable
  update: Callable
  learning_rate: Callable
  end_epoch: Callable


def _transformation(config, off=()) -> optax.GradientTransformation:
  """The optax chain with its hyperparameters injected (traced), frozen
  parameters (config.train.freeze) set to zero updates."""
  ocfg = config.optimizer
  decay_mask = None if ocfg.decay_all_params else tree_paths.kernel_mask
  tx = _traced(
      _chain_factory(OPTIMIZERS.get(ocfg.name), ocfg, decay_mask, off),
      _values({}, 'optimizer', ocfg))
  freeze = tuple(config.train.freeze) if 'train' in config else ()
  if freeze:
    tx = optax.multi_transform(
        {'train': tx, 'frozen': optax.set_to_zero()},
        lambda params: tree_paths.labels(params, freeze))
  return tx


def _step_counts(config: ml_collections.ConfigDict,
                 steps_per_epoch: int) -> _Info:
  """Validates config.optimizer, config.schedule, steps_per_epoch and
  config.epochs; the step counts the schedules read."""
  ocfg, scfg = config.optimizer, config.schedule
  validate(ocfg)
  validate_schedule(scfg)
  _check(int(steps_per_epoch) >= 1, 'steps_per_epoch', steps_per_epoch,
         'must be >= 1')
  epochs = config.get('epochs', None)
  _check(isinstance(epochs, (int, float)) and epochs > 0, 'epochs', epochs,
         'must be > 0')
  return _Info(total_steps=total_steps(config, steps_per_epoch),
               steps_per_epoch=int(steps_per_epoch),
               boundaries=tuple(float(b) for b in scfg.boundaries))


def _plateau_knobs(hp, scfg) -> Dict[str, Any]:
  """The reduce-on-plateau fields of PlateauState, from `hp` (traced) or
  the schedule config."""
  sv = _values(hp, 'schedule', scfg)
  return dict(factor=sv['plateau_factor'], min_delta=sv['plateau_min_delta'],
              patience=sv['plateau_patience'],
              cooldown_epochs=sv['plateau_cooldown'],
              min_scale=sv['min_lr_ratio'])


def _lr_scaling(config: ml_collections.ConfigDict):
  """(updates, hp) -> updates with those of the parameters that
  train.lr_scale_params names multiplied by train.lr_scale (traced); None
  when it names none."""
  train = config.train if 'train' in config else None
  slow = tree_paths.frozen_predicate(
      tuple(train.lr_scale_params) if train is not None else (),
      'train.lr_scale_params')
  if slow is None:
    return None

  def scale_updates(updates, hp):
    scale = jnp.asarray((hp or {}).get('train.lr_scale', train.lr_scale),
                        jnp.float32)
    return jax.tree_util.tree_map_with_path(
        lambda p, u: u * scale.astype(u.dtype) if slow(tree_paths.names(p))
        else u, updates)

  return scale_updates


def make_optimizer(config: ml_collections.ConfigDict,
                   steps_per_epoch: int, off=()) -> Optimizer:
  """Builds the optimizer from the top-level config.

  Reads config.optimizer, config.schedule and config.epochs. `off`: knobs
  of OFF_AT_ZERO that every member of the group has at 0 (`off_knobs`);
  their transformations are left out of the traced program, which for finite
  gradients changes no bit (a bound of +inf, a decay of 0 * param).
  """
  ocfg, scfg = config.optimizer, config.schedule
  info = _step_counts(config, steps_per_epoch)
  schedule = SCHEDULES.get(scfg.name)
  sign = 1.0 if scfg.plateau_mode == 'min' else -1.0
  unknown = set(off) - set(OFF_AT_ZERO)
  _check(not unknown, 'off', sorted(unknown), f'must be among {OFF_AT_ZERO}')
  tx = _transformation(config, tuple(off))
  scale_updates = _lr_scaling(config)

  def init(params):
    f32 = lambda x: jnp.asarray(x, jnp.float32)
    plateau = PlateauState(scale=f32(1.0), best=f32(jnp.inf),
                           bad_epochs=f32(0.0), cooldown=f32(0.0),
                           **_plateau_knobs({}, scfg))
    return OptState(inner=tx.init(params), plateau=plateau)

  def rate(step, hp, opt_state):
    ov = _values(hp, 'optimizer', ocfg)
    sv = _values(hp, 'schedule', scfg)
    t = jnp.asarray(step, jnp.float32)
    m = _warmup(t, sv, info) * schedule(t, sv, info)
    return ov['learning_rate'] * m * opt_state.plateau.scale

  def update(grads, opt_state, params, hp, step):
    values = _values(hp, 'optimizer', ocfg)
    values['learning_rate'] = rate(step, hp, opt_state)
    updates, inner = tx.update(grads, opt_state.inner, params,
                               hyperparams=values)
    if scale_updates is not None:
      updates = scale_updates(updates, hp)
    plateau = opt_state.plateau._replace(**_plateau_knobs(hp, scfg))
    return updates, OptState(inner=inner, plateau=plateau)

  def end_epoch(opt_state, monitored_value):
    if scfg.name != 'plateau':
      return opt_state
    return opt_state._replace(
        plateau=_plateau_step(opt_state.plateau, monitored_value, sign))

  return Optimizer(init=init, update=update, learning_rate=rate,
                   end_epoch=end_epoch)


def off_knobs(configs) -> frozenset:
  """The knobs of OFF_AT_ZERO that are 0 in every one of `configs` (a
  group's members): make_optimizer's `off`."""
  configs = list(configs)
  return frozenset(k for k in OFF_AT_ZERO if configs and all(
      float(c.optimizer[k.split('.')[1]]) == 0.0 for c in configs))


def _plateau_step(s: PlateauState, value, sign: float) -> PlateauState:
  """One epoch of reduce-on-plateau (Keras semantics, absolute min_delta).

  The scale is multiplied by `factor` once `patience` consecutive epochs fail
  to beat the best value by more than `min_delta`; then `cooldown` epochs are
  not counted. NaN never counts as an improvement.
  """
  v = sign * jnp.asarray(value, jnp.float32)
  improved = v < s.best - s.min_delta
  best = jnp.where(improved, v, s.best)
  in_cooldown = s.cooldown > 0
  bad = jnp.where(improved | in_cooldown, 0.0, s.bad_epochs + 1.0)
  cooldown = jnp.maximum(s.cooldown - 1.0, 0.0)
  reduce = bad >= s.patience
  scale = jnp.where(reduce, jnp.maximum(s.scale * s.factor, s.min_scale),
                    s.scale)
  bad = jnp.where(reduce, 0.0, bad)
  cooldown = jnp.where(reduce, s.cooldown_epochs, cooldown)
  return s._replace(scale=scale, best=best, bad_epochs=bad, cooldown=cooldown)


def total_steps(config: ml_collections.ConfigDict, steps_per_epoch: int) -> int:
  """Number of updates in a run (the schedules' horizon)."""
  return max(int(math.floor(config.epochs * steps_per_epoch + 0.5)), 1)
