"""The experiment config: one locked ConfigDict assembled from the sections that
each module owns (see docs/CONTRACTS.md), plus validation before any compile."""
import math
from typing import Any, Dict, Iterable, Tuple

import ml_collections

from dlexp import (compile_cache, data, distributed, losses, optim,
                   regularizers, tree_paths)
from dlexp.errors import ConfigError
from dlexp.models import config as model_config
from dlexp.registry import closest

# diagnostics.probe_size = AUTO_PROBE_SIZE: the first AUTO_PROBE_MAX examples
# of the probe's split, or all of a smaller split.
AUTO_PROBE_SIZE = -1
AUTO_PROBE_MAX = 512
# How an epoch is driven (dlexp.train.program): auto, one lax.scan, or a
# Python loop over jitted steps.
EPOCH_DRIVERS = ('auto', 'scan', 'step')

# How grid members share compiled programs: 'auto' vmaps members of models that
# profit from it (MLPs, RNNs) and loops over members of conv nets, where XLA-CPU
# measured slower vmapped (see README).
MEMBER_MODES = ('auto', 'vmap', 'loop')
ES_MODES = ('auto', 'min', 'max')
# config.rng_impl -> jax's PRNG implementation (jax.random.key's impl) of
# every key the engine makes (dlexp.train.state.make_key).
RNG_IMPLS = {'threefry': 'threefry2x32', 'rbg': 'rbg',
             'unsafe_rbg': 'unsafe_rbg'}
# Those whose bits under jax.vmap equal a separate run's. jax draws a
# vmapped 'rbg' or 'unsafe_rbg' call's bits for every key of the batch from
# the FIRST key (jax.random's docs), so vmapped members would differ from
# their separate runs and depend on who else is in their group: the others
# need members='loop'.
VMAP_EXACT_RNG = ('threefry',)


# -- init and train: starting from a saved model, freezing (the engine's side:
# dlexp/train/transfer.py; the pattern syntax: dlexp/tree_paths.py) ---------
RESTORE_MODES = ('params', 'state')
TRANSFER_TRACED = ('train.lr_scale',)  # traced: a grid over it shares a program


def init_defaults() -> ml_collections.ConfigDict:
  """The `config.init` section."""
  return ml_collections.ConfigDict(dict(
      from_path='',      # Saved model (or run directory) to start from; ''
                         # = train from a fresh initialization.
      skip=(),           # Parameters not loaded (re-initialized), as
                         # regexes on '/'-paths, e.g. ('logits',) for a new
                         # head.
      restore='params',  # 'params' (transfer) or 'state' (continue
                         # training: optimizer state, step, data order).
  ))


def train_defaults() -> ml_collections.ConfigDict:
  """The `config.train` section."""
  return ml_collections.ConfigDict(dict(
      freeze=(),  # Parameters never trained, as regexes on '/'-paths of
                  # parameters or layers, e.g. ('dense[1-3]',).
      lr_scale_params=(),  # Parameters whose learning rate is multiplied by
                           # lr_scale (same patterns as freeze), e.g.
                           # ('(?!logits).*',): all but the head.
      lr_scale=1.0,  # Learning-rate multiplier of train.lr_scale_params.
  ))


def validate_init(cfg: ml_collections.ConfigDict) -> None:
  """Checks the `config.init` section (the files: transfer.check)."""
  if not isinstance(cfg.from_path, str):
    raise ConfigError(f'init.from_path={cfg.from_path!r} must be a string '
                      "('' = none)")
  tree_paths.compile_patterns(cfg.skip, 'init.skip')
  if cfg.restore not in RESTORE_MODES:
    raise ConfigError(f'init.restore={cfg.restore!r} not allowed; allowed: '
                      f'{", ".join(RESTORE_MODES)}')
  if cfg.skip and not cfg.from_path:
    raise ConfigError(f'init.skip={tuple(cfg.skip)!r} needs init.from_path '
                      '(there is nothing to skip loading)')
  if cfg.skip and cfg.restore == 'state':
    raise ConfigError(f'init.skip={tuple(cfg.skip)!r} not allowed with '
                      "init.restore='state' (it continues the whole state); "
                      "use init.restore='params'")


def validate_train(cfg: ml_collections.ConfigDict) -> None:
  tree_paths.compile_patterns(cfg.freeze, 'train.freeze')
  tree_paths.compile_patterns(cfg.lr_scale_params, 'train.lr_scale_params')
  scale = cfg.lr_scale
  if not (isinstance(scale, (int, float)) and 0 < scale < float('inf')):
    raise ConfigError(f'train.lr_scale={scale!r} must be a finite float > 0')
  if scale != 1.0 and not cfg.lr_scale_params:
    raise ConfigError(f'train.lr_scale={scale!r} needs train.lr_scale_params '
                      "(the parameters it slows down), e.g. ('(?!logits).*',)")


def default_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0  # Seed of the first member; seed + i for the i-th seed.
  c.num_seeds = 1  # Seeds per trial, trained in the same program.
  c.rng_impl = 'threefry'  # PRNG of the init, dropout and data-order keys:
                           # threefry (jax's default), rbg or unsafe_rbg
                           # (these two need members='loop'). Static: it
                           # changes the program and every random draw.
  c.epochs = 10  # Training epochs per trial.
  c.batch_size = 128  # Training batch size (split across devices).
  c.eval_batch_size = 1000  # Validation and test batch size; the
                            # validation split's size when smaller (the
                            # test split is then cut to it: one compiled
                            # program serves both).
  c.members = 'auto'  # How the members of a group share a compiled program.
  c.compile_cache = 'auto'  # Persistent compilation cache: 'auto'
                            # ($DLEXP_COMPILE_CACHE, else ~/.cache/dlexp/jax),
                            # 'off', or a directory.
  # Conv gradients inside a loop are very slow on XLA:CPU: see program.py.
  c.epoch_driver = 'auto'  # scan (epoch = one lax.scan) or step (Python loop
                           # over a compiled step); auto = step for conv nets
                           # on CPU.
  c.data = data.defaults()
  c.model = model_config.defaults()
  c.optimizer = optim.defaults()
  c.schedule = optim.schedule_defaults()
  c.loss = losses.defaults()
  c.reg = regularizers.defaults()
  c.init = init_defaults()  # Start from a saved model (transfer,
                            # fine-tuning): dlexp/train/transfer.py.
  c.train = train_defaults()
  c.save_model = True  # Write each run's final model to <run dir>/model/
                       # (dlexp.load reads it); False for huge sweeps.

  c.early_stopping = _early_stopping_defaults()
  c.diagnostics = _diagnostics_defaults()
  c.claims = _claims_defaults()
  c.checkpoint = _checkpoint_defaults()
  c.distributed = distributed.defaults()
  return c


def _early_stopping_defaults() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.monitor = 'val_loss'  # Any logged metric name.
  c.mode = 'auto'  # auto = min for *loss*, max otherwise.
  c.patience = 0  # Epochs without improvement; 0 = never stop.
  c.min_delta = 0.0  # Improvement of the monitored value that
                     # counts.
  c.restore_best = True  # Final params = the best epoch's,
                         # stopped early or not.
  return c


def _diagnostics_defaults() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.every_epochs = 1  # Epochs between diagnostics (dead units,
                      # activation statistics, gradient norms,
                      # sparsity), epoch 0 and the last epoch
                      # always; 0 = off.
  c.probe_size = AUTO_PROBE_SIZE  # Validation examples used as
                                  # probe (training examples under
                                  # cross-validation); -1 = auto:
                                  # the first 512, or all of a
                                  # smaller split.
  c.unit_masks = False  # Also log each layer's per-unit dead mask
                        # (diag/<layer>/dead_units), to follow
                        # units across epochs (revival).
  c.train_mode = False  # Probe as a training step: BatchNorm
                        # with the probe's batch statistics,
                        # dropout off.
  return c


def _claims_defaults() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.alpha = 0.05  # Significance level of every verdict's test
                  # (dlexp/claims.py, dlexp/stats.py); it changes
                  # no run, only how its numbers are judged.
  return c


def _checkpoint_defaults() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.every_epochs = 1  # Epochs between checkpoints; 0 = only on
                      # SIGTERM/SIGINT.
  c.keep = 2  # Newest checkpoints kept per group of members.
  return c


def traced_fields() -> Tuple[str, ...]:
  """Config paths that are traced inputs of the compiled step."""
  return tuple(optim.TRACED) + tuple(losses.TRACED) + tuple(
      regularizers.TRACED) + tuple(model_config.TRACED) + tuple(
          TRANSFER_TRACED)


def lock(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  config.lock()
  return config


def flatten(config, prefix: str = '') -> Dict[str, Any]:
  """{'model.activation': 'relu', ...} for config.json, tables and grids."""
  out = {}
  for key, value in config.items():
    path = f'{prefix}{key}'
    if isinstance(value, ml_collections.ConfigDict):
      out.update(flatten(value, path + '.'))
    else:
      out[path] = value
  return out


def get(config, path: str):
  node = config
  for part in path.split('.'):
    node = node[part]
  return node


def check_key(config, path: str) -> None:
  """A one-line error naming an unknown key and the closest valid one."""
  keys = flatten(config)
  if path in keys:
    return
  hint = closest(path, keys)
  hint = f'; did you mean {hint!r}?' if hint else ''
  raise ConfigError(f'unknown config key {path!r}{hint}')


def set_value(config, path: str, value) -> None:
  """Sets config[path] = value, converting to the field's type."""
  check_key(config, path)
  *parents, leaf = path.split('.')
  node = config
  for part in parents:
    node = node[part]
  old = node[leaf]
  node[leaf] = coerce(path, old, value)


def coerce(path: str, old, value):
  """Converts `value` to the type of the field's default `old`."""
  try:
    if isinstance(old, bool):
      if isinstance(value, str):
        if value.lower() not in ('true', 'false', '1', '0'):
          raise ValueError
        return value.lower() in ('true', '1')
      return bool(value)
    if isinstance(old, int):
      if isinstance(value, float) and not value.is_integer():
        raise ValueError
      return int(value)
    if isinstance(old, float):
      return float(value)
    if isinstance(old, str):
      return str(value)
    if isinstance(old, tuple):
      return tuple(value)
  except (TypeError, ValueError):
    pass
  else:
    return value
  raise ConfigError(f'{path}={value!r} has the wrong type; expected '
                    f'{type(old).__name__}')


def _check(cond: bool, message: str) -> None:
  if not cond:
    raise ConfigError(message)


def _check_least(config, path: str, least: int) -> None:
  """ConfigError unless the field at `path` is >= `least`."""
  value = get(config, path)
  _check(value >= least, f'{path}={value} must be >= {least}')


def _check_bool(config, path: str) -> None:
  """ConfigError unless the field at `path` is True or False."""
  value = get(config, path)
  _check(isinstance(value, bool), f'{path}={value!r} must be True or False')


# Float fields where nan is a documented sentinel (inf is still rejected).
NAN_SENTINELS = ('model.init_value',)


def check_finite(config) -> None:
  """Every float of the config (tuple entries too) is finite, except the nan
  sentinels: an inf or nan rate would only show as a diverged run later."""
  for path, value in flatten(config).items():
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
      if not isinstance(v, float) or math.isfinite(v):
        continue
      if math.isnan(v) and path in NAN_SENTINELS:
        continue
      allowed = ('a finite float, or nan (the sentinel)'
                 if path in NAN_SENTINELS else 'a finite float')
      raise ConfigError(f'{path}={value!r} not allowed; need {allowed}')


def validate(config) -> None:
  """Checks every value before anything is compiled; one-line ConfigError."""
  check_finite(config)
  for path in ('num_seeds', 'epochs', 'batch_size', 'eval_batch_size'):
    _check_least(config, path, 1)
  _check(config.members in MEMBER_MODES,
         f'members={config.members!r} is not allowed; allowed: '
         f'{", ".join(MEMBER_MODES)}')
  _check(config.rng_impl in RNG_IMPLS,
         f'rng_impl={config.rng_impl!r} is not allowed; allowed: '
         f'{", ".join(RNG_IMPLS)}')
  _check(config.rng_impl in VMAP_EXACT_RNG or config.members == 'loop',
         f'rng_impl={config.rng_impl!r} needs members=loop, not '
         f'{config.members!r}: under vmap jax draws every member\'s random '
         'bits from the first member\'s key')
  _check(config.epoch_driver in EPOCH_DRIVERS,
         f'epoch_driver={config.epoch_driver!r} is not allowed; allowed: '
         f'{", ".join(EPOCH_DRIVERS)}')
  compile_cache.validate(config.compile_cache)
  es = config.early_stopping
  _check(es.mode in ES_MODES, f'early_stopping.mode={es.mode!r} is not '
         f'allowed; allowed: {", ".join(ES_MODES)}')
  _check_least(config, 'early_stopping.patience', 0)
  _check(es.min_delta >= 0 and math.isfinite(es.min_delta),
         f'early_stopping.min_delta={es.min_delta} must be >= 0')
  _check_least(config, 'diagnostics.every_epochs', 0)
  probe = config.diagnostics.probe_size
  _check(probe >= 1 or probe == AUTO_PROBE_SIZE,
         f'diagnostics.probe_size={probe} must be >= 1, or '
         f'{AUTO_PROBE_SIZE} for auto (up to '
         f'{AUTO_PROBE_MAX})')
  _check_bool(config, 'diagnostics.unit_masks')
  _check_bool(config, 'diagnostics.train_mode')
  _check_least(config, 'checkpoint.every_epochs', 0)
  _check_least(config, 'checkpoint.keep', 1)
  _check(0 < config.claims.alpha < 0.5,
         f'claims.alpha={config.claims.alpha} must be in (0, 0.5)')
  data.validate(config.data)
  distributed.validate(config.distributed)
  num_train = data.DATASETS.get(config.data.name).num_train
  if not config.data.cv_folds and data.resolve_val_size(
      config.data.val_size, num_train) == 0:
    _check_no_validation_needed(config)
  model_config.validate(config.model)
  optim.validate(config.optimizer)
  optim.validate_schedule(config.schedule)
  losses.validate(config.loss)
  regularizers.validate(config.reg)
  _check_bool(config, 'save_model')
  validate_init(config.init)
  validate_train(config.train)


def validate_against_data(config, dataset, num_devices: int) -> None:
  """Checks that need the dataset's sizes (still before any compile)."""
  n_train = len(dataset.train_y)
  _check(config.batch_size <= n_train,
         f'batch_size={config.batch_size} is larger than the training set '
         f'({n_train} examples)')
  _check(config.batch_size % num_devices == 0,
         f'batch_size={config.batch_size} must be divisible by the number of '
         f'devices ({num_devices})')
  regression = dataset.num_classes == 0  # float targets
  if regression:
    losses.check_regression(config.loss)
  names = ['loss'] + sorted(losses.make_metrics(config.loss, regression))
  allowed = tuple(f'{split}_{n}' for split in ('val', 'train') for n in names)
  for path in ('early_stopping.monitor', 'schedule.plateau_monitor'):
    value = get(config, path)
    _check(value in allowed, f'{path}={value!r} is not a logged metric; '
           f'allowed: {", ".join(allowed)}')


def _check_no_validation_needed(config) -> None:
  """data.val_size=0 trains on the whole training split (as papers that
  report the last step do) and logs no validation metrics, so nothing may
  watch one: early stopping and reduce-on-plateau need a train_* metric."""
  watched = [('early_stopping.monitor', config.early_stopping.monitor)]
  if config.schedule.name == 'plateau':
    watched.append(('schedule.plateau_monitor',
                    config.schedule.plateau_monitor))
  for path, value in watched:
    _check(not value.startswith('val_'),
           f'{path}={value!r} watches the validation split, and '
           'data.val_size=0 leaves none; allowed without one: a train_* '
           'metric (e.g. train_loss), or data.val_size >= 1')


def member_values(axes: Dict[str, Iterable]) -> Dict[str, list]:
  return {k: list(v) for k, v in axes.items()}
