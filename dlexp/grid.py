"""The grid: trials (one per combination of axis values), their members
(trial x seed x fold) and how they group into compiled programs.

An axis is a config path -> values, or a joint axis whose values are
{path: value} dicts; a list of such grids is the union of their products
(passes). Trials whose configs differ only in traced fields (learning rate,
momentum, dropout rate, ...) share a static key and so one group: compiled
once, their members vmapped or looped. Axes that change shapes or code
(activation, width, depth) give separate groups. Every value is validated
here, before anything compiles; dlexp.train.runner runs the members.
"""
import copy
import dataclasses
import itertools
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import ml_collections

from dlexp import config as config_lib
from dlexp.errors import ConfigError
from dlexp.train import workdir as workdir_lib


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
  fold: int = -1  # the held-out fold under cross-validation; -1 = none


# -- trials --------------------------------------------------------------------
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


# Read once per sweep by device_data.to_device (from the base config).
DEVICE_DATA_FIELDS = ('diagnostics.probe_size', 'eval_batch_size')


def _check_axis_path(base, path: str) -> None:
  config_lib.check_key(base, path)
  if path.startswith('data.') or path in ('seed', 'num_seeds'):
    raise ConfigError(f'{path} cannot be a grid axis (all trials share the '
                      'data and the seeds)')
  if path in DEVICE_DATA_FIELDS:
    raise ConfigError(f'{path} cannot be a grid axis (all trials share the '
                      'data placed on the devices, sized by it)')


def axis_paths(axes) -> Dict[str, str]:
  """Every config path the grid sets -> the axis that sets it. A joint axis
  (values are {path: value} dicts) sets the paths of its dicts; passes (a
  list of grids) set what each of them sets."""
  if not isinstance(axes, dict):
    out = {}
    for grid in axes:
      for path, axis in axis_paths(grid).items():
        out.setdefault(path, axis)
    return out
  out = {}
  for axis, values in axes.items():
    joint = [v for v in values if isinstance(v, dict)]
    for path in (dict.fromkeys(p for v in joint for p in v) if joint
                 else [axis]):
      out.setdefault(path, axis)
  return out


def _check_joint(base, axis: str, values: Sequence[Any],
                 others: Sequence[str]) -> None:
  """A joint axis: every value a non-empty {path: value} dict whose paths no
  other axis sets."""
  if not all(isinstance(v, dict) and v for v in values):
    raise ConfigError(f'grid axis {axis} mixes {{path: value}} dicts with '
                      'other values (or has an empty dict); give one or '
                      'the other')
  for v in values:
    for path in v:
      _check_axis_path(base, path)
      if path in others:
        raise ConfigError(f'{path} is set by two grid axes ({axis} and '
                          f'{path}); give it in one')


Axes = Union[Dict[str, Sequence[Any]], Sequence[Dict[str, Sequence[Any]]]]


def make_trials(base: ml_collections.ConfigDict, axes: Axes) -> List[Trial]:
  """The cartesian product of `axes`, validated.

  An axis is a config path -> values, or a joint axis: any label -> values
  that are {path: value} dicts, each setting several fields at once (e.g.
  an optimizer with its own learning rate). A trial's name lists every path
  it sets, in axis order. A sequence of such dicts gives the union of their
  products, in order (passes: e.g. a learning-rate grid for one activation
  plus a few contrasting trials, without the full product); a trial that two
  passes both make (same name) is kept once.
  """
  if not isinstance(axes, dict):
    if not axes:
      raise ConfigError('the grid has no passes (an empty list of axes)')
    trials: Dict[str, Trial] = {}
    for grid in axes:
      for t in make_trials(base, grid):
        trials.setdefault(t.name, t)
    return list(trials.values())
  for axis, values in axes.items():
    if not values:
      raise ConfigError(f'grid axis {axis} has no values')
    if any(isinstance(v, dict) for v in values):
      _check_joint(base, axis, values, [a for a in axes if a != axis])
    else:
      _check_axis_path(base, axis)
  config_lib.validate(base)
  names = _short_names(list(axis_paths(axes)))
  trials = []
  for combo in itertools.product(*axes.values()):
    cfg = copy.deepcopy(base)
    overrides = {}
    for axis, value in zip(axes, combo):
      overrides.update(value if isinstance(value, dict) else {axis: value})
    for path, value in overrides.items():
      config_lib.set_value(cfg, path, value)
    config_lib.validate(cfg)
    name = ','.join(f'{names[p]}={_fmt(v)}' for p, v in overrides.items())
    trials.append(Trial(name=name, overrides=overrides, config=cfg))
  seen = set()
  for t in trials:
    if t.name in seen:
      raise ConfigError(f'grid trial {t.name!r} appears twice; give each '
                        'combination of axis values once')
    seen.add(t.name)
  return trials


def static_key(cfg) -> Tuple:
  """Equal for configs that can share compiled programs."""
  traced = set(config_lib.traced_fields())
  flat = config_lib.flatten(cfg)
  return tuple(sorted((k, repr(v)) for k, v in flat.items()
                      if k not in traced and k != 'seed'))


def group_trials(trials: Sequence[Trial]) -> List[List[Trial]]:
  groups: Dict[Tuple, List[Trial]] = {}
  for t in trials:
    groups.setdefault(static_key(t.config), []).append(t)
  return list(groups.values())


def make_members(trials: Sequence[Trial], workdir: str,
                 script_options: Optional[Dict[str, Any]]) -> List[Member]:
  members = []
  for t in trials:
    cid = workdir_lib.config_id(config_lib.flatten(t.config), script_options)
    for s in range(t.config.num_seeds):
      seed = t.config.seed + s
      directory = workdir_lib.member_dir(workdir, t.name, cid, seed)
      if not t.config.data.cv_folds:
        members.append(Member(t, seed, directory))
      for fold in range(t.config.data.cv_folds):  # folds are members too
        members.append(Member(t, seed, os.path.join(directory, f'fold_{fold}'),
                              fold))
  return members


def group_members(pending: Sequence[Member]) -> List[List[Member]]:
  """Pending members by group: those of trials with one static key."""
  by_trial: Dict[int, List[Member]] = {}
  for m in pending:
    by_trial.setdefault(id(m.trial), []).append(m)
  groups: Dict[Tuple, List[Member]] = {}
  for ms in by_trial.values():
    groups.setdefault(static_key(ms[0].trial.config), []).extend(ms)
  return list(groups.values())


def order_by_group(members: Sequence[Member]) -> List[Member]:
  """Members of one group next to each other (groups in order of first
  appearance), so that a contiguous trial shard cuts few groups."""
  keys = {}
  for m in members:
    keys.setdefault(static_key(m.trial.config), len(keys))
  return sorted(members, key=lambda m: keys[static_key(m.trial.config)])
