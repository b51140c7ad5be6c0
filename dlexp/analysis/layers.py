"""Reading per-layer diagnostics back from runs: a run's layers in call
order, one layer's statistic (first, middle or last layer), every layer's,
the first-over-last ratio, and units followed across epochs through their
dead masks (unit_revival). Report columns call these on records.Run."""
import functools
import math
import re
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from dlexp import config as config_lib
from dlexp import data, models, records
from dlexp.errors import ConfigError


def layer_names(row: Dict[str, Any], order: Sequence[str],
                stat: str = 'act_std') -> List[str]:
  """Layers with a 'diag/<layer>/<stat>' key in a metrics row, in network
  `order` (models.layer_order: the order the modules are called). Names
  cannot give it: resnet's 'stem' sorts after its 'head_' layers.

  Raises:
    ValueError: a layer of the row is not in `order` (another model's).
  """
  pattern = re.compile(r'^diag/(.+)/' + re.escape(stat) + '$')
  names = [m.group(1) for m in map(pattern.match, row) if m]
  position = {name: i for i, name in enumerate(order)}
  unknown = [n for n in names if n not in position]
  if unknown:
    raise ValueError(f'layers {unknown} of the metrics are not in the '
                     f'model\'s layer order {list(order)}')
  return sorted(names, key=position.__getitem__)


def _config_section(flat: Dict[str, Any], prefix: str):
  """config.<prefix> from a run's flattened config.json (JSON lists back to
  tuples, 'nan' strings back to floats); fields unknown today are skipped."""
  config = config_lib.default_config()
  for path, value in flat.items():
    if path.startswith(prefix + '.'):
      try:
        config_lib.set_value(config, path, value)
      except ConfigError:
        pass  # a field of an older or newer dlexp
  return config_lib.get(config, prefix)


@functools.lru_cache(maxsize=64)
def _order_for(model_items: Tuple, data_items: Tuple) -> Tuple[str, ...]:
  model_cfg = _config_section(dict(model_items), 'model')
  data_cfg = _config_section(dict(data_items), 'data')
  spec = data.DATASETS.get(data_cfg.name)
  shape = data.input_shape(data_cfg)
  model = models.build_model(model_cfg, spec.num_classes, shape)
  return tuple(models.layer_order(model, shape))


def run_layer_order(run) -> Optional[List[str]]:
  """A run's layers in call order: its layers.json (records.write_layers), or
  else rebuilt from its config.json; None if neither is there."""
  layers = records.read_layers(run.directory)
  if layers is not None:
    return layers
  flat = (run.config or {}).get('config')
  if not flat or 'data.name' not in flat:
    return None
  items = lambda prefix: tuple(sorted(
      (k, tuple(v) if isinstance(v, list) else v)
      for k, v in flat.items() if k.startswith(prefix)))
  return list(_order_for(items('model.'), items('data.')))


def pick_layer(names: Sequence[str], position: str) -> Optional[str]:
  """'first', 'middle' or 'last' of `names`."""
  if not names:
    return None
  index = {'first': 0, 'middle': len(names) // 2, 'last': -1}[position]
  return names[index]


def _layers_at_epoch(run, stat: str, epoch: int, layers: Optional[str]
                     ) -> Iterator[List[str]]:
  """For each metrics row of `epoch`, its layers with diag/<layer>/<stat>, in
  the run's layer order, among those whose name fully matches the regular
  expression `layers` (all when None); nothing when the run has no layer
  order."""
  order = run_layer_order(run)
  if order is None:
    return
  for row in run.metrics:
    if row.get('epoch') == epoch:
      yield [n for n in layer_names(row, order, stat)
             if layers is None or re.fullmatch(layers, n)]


def layer_stat(run, stat: str, position: str, epoch: int = 0,
               layers: Optional[str] = None) -> Optional[float]:
  """diag/<layer>/<stat> of the first, middle or last layer (in the run's
  layer order) at `epoch`, among those whose name fully matches the regular
  expression `layers` (all when None); None when the run has no layer
  order."""
  for names in _layers_at_epoch(run, stat, epoch, layers):
    layer = pick_layer(names, position)
    if layer is not None:
      return run.at_epoch(f'diag/{layer}/{stat}', epoch)
  return None


def layer_values(run, stat: str, epoch: int = 0,
                 layers: Optional[str] = None) -> Optional[List[float]]:
  """diag/<layer>/<stat> of every layer at `epoch`, in the run's layer order,
  among those whose name fully matches the regular expression `layers` (all
  when None); None when the run has no layer order or no such row."""
  for names in _layers_at_epoch(run, stat, epoch, layers):
    values = [run.at_epoch(f'diag/{n}/{stat}', epoch) for n in names]
    return [math.nan if v is None else v for v in values]
  return None


def layer_ratio(run, stat: str, epoch: int = 0,
                layers: Optional[str] = None) -> Optional[float]:
  """diag/<first layer>/<stat> over diag/<last layer>/<stat> at `epoch`, in
  the run's layer order, among the layers whose name fully matches the
  regular expression `layers` (all when None); e.g. stat 'grad_norm' and
  layers 'dense\\d+': the first hidden layer's gradient norm over the last
  one's. None when missing, not finite or the last is 0."""
  for names in _layers_at_epoch(run, stat, epoch, layers):
    if len(names) < 2:
      return None
    first, last = (run.at_epoch(f'diag/{n}/{stat}', epoch)
                   for n in (names[0], names[-1]))
    if first is None or not last or not math.isfinite(first / last):
      return None
    return first / last
  return None


REVIVAL_COUNTS = ('units', 'ever_dead', 'revived', 'dead_end')


def is_finite(value) -> bool:
  """A finite number (metrics.jsonl writes non-finite floats as 'nan')."""
  try:
    return math.isfinite(float(value))
  except (TypeError, ValueError):
    return False


def unit_revival(run) -> Optional[Dict[str, Dict[str, int]]]:
  """Units followed across the logged epochs through their dead masks
  (diag/<layer>/dead_units, logged with config diagnostics.unit_masks; epoch
  0 = the untrained network included). Per layer in network order, and
  'all' summed over them: units; ever_dead, dead at one logged epoch at
  least; revived, dead at one logged epoch and alive at a later one;
  dead_end, dead at the last logged epoch. None when the run logged no masks.

  A unit is judged on the diagnostics probe only, and between logged epochs
  nothing is seen (diagnostics.every_epochs = 1 logs every epoch). Epochs
  with a non-finite validation loss (a diverged member's last row, whose
  masks come from non-finite parameters) are left out.
  """
  order = run_layer_order(run)
  logged = lambda r: any(k.endswith('/dead_units') for k in r)
  rows = sorted((r for r in run.metrics
                 if logged(r) and is_finite(r.get('val_loss', 0.0))),
                key=lambda r: r['epoch'])
  if not rows or order is None:
    return None
  out: Dict[str, Dict[str, int]] = {}
  for layer in layer_names(rows[0], order, 'dead_units'):
    key = f'diag/{layer}/dead_units'
    masks = np.array([r[key] for r in rows if key in r], bool)  # (epochs, u)
    dead_before = np.logical_or.accumulate(masks, axis=0)
    revived = np.any(dead_before[:-1] & ~masks[1:], axis=0)
    out[layer] = dict(units=masks.shape[1],
                      ever_dead=int(dead_before[-1].sum()),
                      revived=int(revived.sum()),
                      dead_end=int(masks[-1].sum()))
  out['all'] = {k: sum(v[k] for v in out.values()) for k in REVIVAL_COUNTS}
  return out
