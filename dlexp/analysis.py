"""Measurements that the ablation scripts add to the runner's records.

Final hooks (`runner.FinalHook`) run once per chunk of grid members on the
final (restored-best) parameters, which carry a leading member axis, and
return one number per member; the runner writes them into each run's
status.json under 'final', where report columns read them. Column helpers
read per-layer diagnostics back from metrics.jsonl.

- distinct_units_hook: symmetry of the first hidden layer (init_schemes).
- clean_train_accuracy_hook: train accuracy in inference mode (no dropout).
- drop_frequency_hook: the fraction of units the model's own Dropout layer
  drops at each member's rate.
- step_time_hook: compiled train-step time with dropout layers vs the same
  model without any.
- logit_scale_hook: how much larger the logits are with dropout on.
- mc_dropout_hook: Monte-Carlo dropout accuracy and predictive entropy.
- predict_time_hook: compiled prediction time with and without dropout
  layers, and the cost of MC dropout.
- last_epoch_hook: test metrics of the last epoch's parameters (what
  training without restore_best keeps).
- calibration_hook: expected calibration error on the test set.
- class_recall_hook: per-class recall, balanced accuracy, minority recall.
- weight_sparsity_hook: exact and near zeros among the kernels, and the
  model's size stored dense and sparse (CSR).
- activation_zeros_hook: zero activations with dropout on and off.
- batch_norm_hook: learned gamma/beta, and accuracy with BatchNorm in
  training mode (batch statistics) next to inference mode.
- model_cost_hook: parameters and FLOPs of the model (or of it at another
  size).
- logit_spread_hook: whether the logits still depend on the input.
"""
import copy
import dataclasses
import functools
import math
import re
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from dlexp import losses, records
from dlexp.errors import ConfigError
from dlexp.layers import dropout as dropout_lib

# A member's analysis randomness (MC passes, drop-frequency probe) is its own
# stream of the member seed, independent of the training streams.
_ANALYSIS_STREAM = 0x616e61


def member_keys(members) -> jax.Array:
  """One PRNG key per member, from its seed."""
  return jnp.stack([jax.random.fold_in(jax.random.PRNGKey(m.seed),
                                       _ANALYSIS_STREAM) for m in members])


def member_hp(hp: Dict[str, jax.Array], i: int) -> Dict[str, jax.Array]:
  return {k: v[i] for k, v in hp.items()}


# -- reading diagnostics back --------------------------------------------------
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
  from dlexp import config as config_lib  # pylint: disable=g-import-not-at-top
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
  from dlexp import data, models  # pylint: disable=g-import-not-at-top
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


def layer_stat(run, stat: str, position: str, epoch: int = 0,
               layers: Optional[str] = None) -> Optional[float]:
  """diag/<layer>/<stat> of the first, middle or last layer (in the run's
  layer order) at `epoch`, among those whose name fully matches the regular
  expression `layers` (all when None); None when the run has no layer
  order."""
  order = run_layer_order(run)
  if order is None:
    return None
  for row in run.metrics:
    if row.get('epoch') == epoch:
      names = [n for n in layer_names(row, order, stat)
               if layers is None or re.fullmatch(layers, n)]
      layer = pick_layer(names, position)
      if layer is not None:
        return run.at_epoch(f'diag/{layer}/{stat}', epoch)
  return None


def layer_values(run, stat: str, epoch: int = 0,
                 layers: Optional[str] = None) -> Optional[List[float]]:
  """diag/<layer>/<stat> of every layer at `epoch`, in the run's layer order,
  among those whose name fully matches the regular expression `layers` (all
  when None); None when the run has no layer order or no such row."""
  order = run_layer_order(run)
  if order is None:
    return None
  for row in run.metrics:
    if row.get('epoch') == epoch:
      names = [n for n in layer_names(row, order, stat)
               if layers is None or re.fullmatch(layers, n)]
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
  order = run_layer_order(run)
  if order is None:
    return None
  for row in run.metrics:
    if row.get('epoch') != epoch:
      continue
    names = [n for n in layer_names(row, order, stat)
             if layers is None or re.fullmatch(layers, n)]
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


# -- symmetry of a layer -------------------------------------------------------
def first_kernel(params, order: Sequence[str]) -> jax.Array:
  """The kernel of the first layer in network `order` (models.layer_order).

  Raises:
    ConfigError: the model has no kernel.
  """
  kernels = {'/'.join(map(str, p[:-1])): v
             for p, v in traverse_util.flatten_dict(params).items()
             if p[-1] == 'kernel'}
  for name in order:
    if name in kernels:
      return kernels[name]
  raise ConfigError('model has no layer with a kernel to measure')


def distinct_units(kernel: jax.Array, rtol: float = 1e-5) -> jax.Array:
  """How many units (last axis) have distinct incoming weights.

  A unit counts unless an earlier unit's weights equal its own to within
  rtol times the kernel's largest |weight|: units started equal get equal
  gradients, and float rounding is the only thing that could part them.
  """
  w = kernel.reshape(-1, kernel.shape[-1]).T  # (units, fan_in)
  tol = rtol * jnp.max(jnp.abs(w)) + 1e-30
  index = jnp.arange(w.shape[0])

  def copies_an_earlier_unit(j):
    # One unit against all at a time: a (units, units, fan_in) difference
    # would take 300 MB for ten members of a 784x100 layer.
    diff = jnp.max(jnp.abs(w - w[j]), axis=-1)
    return jnp.any((diff <= tol) & (index < j))

  return jnp.sum(~jax.lax.map(copies_an_earlier_unit, index))


def unit_spread(kernel: jax.Array) -> jax.Array:
  """Std over units of the incoming weights, averaged over inputs, relative
  to the kernel's RMS: 0 when every unit is a copy, about 1 when random."""
  w = kernel.reshape(-1, kernel.shape[-1])
  rms = jnp.sqrt(jnp.mean(jnp.square(w))) + 1e-30
  return jnp.mean(jnp.std(w, axis=-1)) / rms


@jax.jit
def _symmetry(kernel):
  return {'distinct_units': jax.vmap(distinct_units)(kernel),
          'unit_spread': jax.vmap(unit_spread)(kernel)}


@functools.lru_cache(maxsize=16)
def _model_order(model, input_shape: Tuple[int, ...]) -> Tuple[str, ...]:
  from dlexp import models  # pylint: disable=g-import-not-at-top
  return tuple(models.layer_order(model, input_shape))


def distinct_units_hook(ctx) -> Dict[str, jax.Array]:
  """Distinct units and unit spread of the first layer in call order (the
  first hidden layer), after training: a layer initialized with one shared
  value stays a stack of copies of one unit."""
  order = _model_order(ctx.model, tuple(ctx.data.probe_x.shape[1:]))
  return _symmetry(first_kernel(ctx.params, order))


# -- model size ----------------------------------------------------------------
def param_count_hook(ctx) -> Dict[str, np.ndarray]:
  """'params': trainable parameters of each member's model."""
  leaves = jax.tree_util.tree_leaves(ctx.params)
  count = sum(int(np.prod(leaf.shape[1:])) for leaf in leaves)
  return {'params': np.full(len(ctx.members), count, np.float64)}


# -- train accuracy in inference mode ------------------------------------------
@functools.partial(jax.jit, static_argnums=(0,))
def _evaluate(steps, params, batch_stats, hp, xs, ys, ws):
  return jax.vmap(steps.evaluate, in_axes=(0, 0, 0, None, None, None))(
      params, batch_stats, hp, xs, ys, ws)


def clean_train_accuracy_hook(num_examples: int = 10000,
                              batch_size: int = 1000):
  """Hook: loss and accuracy on the first `num_examples` training examples
  (a fixed subset) in inference mode, i.e. with dropout off, as 'clean_train_*'.

  The per-epoch 'train_accuracy' the runner logs averages the training steps
  with dropout on; against the validation accuracy (inference mode) only this
  one measures the generalization gap.
  """

  def hook(ctx) -> Dict[str, jax.Array]:
    n = min(num_examples, ctx.data.train_x.shape[0])
    b = min(batch_size, n)
    n -= n % b  # whole batches: no padding needed
    xs = ctx.data.train_x[:n].reshape((n // b, b) + ctx.data.train_x.shape[1:])
    ys = ctx.data.train_y[:n].reshape((n // b, b) + ctx.data.train_y.shape[1:])
    ws = jnp.ones((n // b, b), jnp.float32)
    out = _evaluate(ctx.steps, ctx.params, ctx.batch_stats, ctx.hp, xs, ys, ws)
    return {f'clean_train_{k}': v for k, v in out.items()}

  return hook


# -- dropout -------------------------------------------------------------------
def dropped_fraction(variant: str, rate, key, shape=(256, 4, 4, 64)
                     ) -> jax.Array:
  """Fraction of units that `variant` drops at `rate`, measured by running
  the model's own layer in training mode on a random probe.

  Unit variants run `Dropout(variant)` on x and on 2x with the same key: a
  kept unit's output changes with its input, a dropped one's is a constant
  (0, or alpha dropout's saturation value), so this counts drops for every
  variant. 'dropconnect' runs `Dense(dropconnect=True)` with an all-ones
  256x256 kernel on the identity, which returns the masked kernel itself.
  """
  rate = jnp.asarray(rate, jnp.float32)
  if variant == 'dropconnect':
    units = 256  # 65536 weights: the fraction to about +-0.002
    layer = dropout_lib.Dense(units, kernel_init=nn.initializers.ones,
                              dropconnect=True)
    eye = jnp.eye(units)
    variables = layer.init(key, eye)
    y = layer.apply(variables, eye, rate, True, rngs={'dropout': key})
    return jnp.mean((y == 0).astype(jnp.float32))
  layer = dropout_lib.Dropout(variant=variant)
  x = jax.random.normal(jax.random.fold_in(key, 1), shape)
  y1 = layer.apply({}, x, rate, True, rngs={'dropout': key})
  y2 = layer.apply({}, 2 * x, rate, True, rngs={'dropout': key})
  return jnp.mean((y1 == y2).astype(jnp.float32))


@functools.partial(jax.jit, static_argnums=(0,))
def _dropped_fractions(variant, rates, keys):
  return jax.vmap(lambda r, k: dropped_fraction(variant, r, k))(rates, keys)


def drop_frequency_hook(variant: str):
  """Hook: 'drop_frequency', the measured probability that a unit (a weight,
  for DropConnect) is dropped in one training pass at the member's rate."""

  def hook(ctx) -> Dict[str, jax.Array]:
    return {'drop_frequency': _dropped_fractions(
        variant, ctx.hp['model.dropout_rate'], member_keys(ctx.members))}

  return hook


def check_spatial_dropout(model_cfg, input_shape: Sequence[int]) -> None:
  """ConfigError unless some Dropout layer of the model sees feature maps
  (N, ..., C): channel dropout on (N, C) is plain unit dropout."""
  from dlexp import models  # pylint: disable=g-import-not-at-top
  model = models.build_model(model_cfg, 10, tuple(input_shape))
  ranks = []

  def record(next_fun, args, kwargs, context):
    if (isinstance(context.module, dropout_lib.Dropout)
        and context.method_name == '__call__'):
      ranks.append(args[0].ndim)
    return next_fun(*args, **kwargs)

  x = jax.ShapeDtypeStruct((2,) + tuple(input_shape), jnp.float32)
  with nn.intercept_methods(record):
    jax.eval_shape(lambda x: model.init(
        {'params': jax.random.PRNGKey(0), 'dropout': jax.random.PRNGKey(0)},
        x, train=True, dropout_rate=0.5), x)
  if max(ranks, default=0) < 3:
    raise ConfigError(
        "dropout variant 'spatial' drops whole feature maps, but model "
        f'{model_cfg.name!r} applies dropout to flat (N, C) features only, '
        'where it is standard dropout; use a conv model (--model=cnn)')


def _dropout_only_training(next_fun, args, kwargs, context):
  """Runs Dropout and DropConnect layers in training mode, everything else
  (BatchNorm running averages, rrelu) as in inference."""
  module = context.module
  if context.method_name == '__call__' and (
      isinstance(module, dropout_lib.Dropout)
      or (isinstance(module, dropout_lib.Dense) and module.dropconnect)):
    # Both take (x, rate, train); train may come by keyword.
    if len(args) > 2:
      args = tuple(args[:2]) + (True,) + tuple(args[3:])
    else:
      kwargs = dict(kwargs, train=True)
  return next_fun(*args, **kwargs)


def dropout_apply(model, variables, x, rate, key) -> jax.Array:
  """Logits of one stochastic pass: dropout on at `rate`, the rest of the
  model in inference mode (batch_stats are read, never updated)."""
  with nn.intercept_methods(_dropout_only_training):
    return model.apply(variables, x, train=False, dropout_rate=rate,
                       rngs={'dropout': key})


@functools.partial(jax.jit, static_argnums=(0,))
def _logit_scale(model, params, batch_stats, rates, keys, x):

  def member(p, bs, rate, key):
    variables = {'params': p}
    if bs:
      variables['batch_stats'] = bs
    rms = lambda a: jnp.sqrt(jnp.mean(jnp.square(a)))
    on = dropout_apply(model, variables, x, rate, key)
    off = model.apply(variables, x, train=False, dropout_rate=rate)
    return rms(on) / rms(off)

  return jax.vmap(member)(params, batch_stats, rates, keys)


def logit_scale_hook(ctx) -> Dict[str, jax.Array]:
  """'logit_scale': RMS of the logits with dropout on (one training-mode
  pass) over their RMS in inference mode, on the probe batch. Inverted
  dropout keeps each unit's mean, but multiplies its second moment by
  1/(1-rate), layer after layer."""
  return {'logit_scale': _logit_scale(
      ctx.model, ctx.params, ctx.batch_stats, ctx.hp['model.dropout_rate'],
      member_keys(ctx.members), ctx.data.probe_x)}


def _entropy(probs):
  return -jax.scipy.special.xlogy(probs, probs).sum(axis=-1)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _mc_eval(model, n_samples, params, batch_stats, rates, keys, xs, ys, ws):

  def member(p, bs, rate, key):
    variables = {'params': p}
    if bs:
      variables['batch_stats'] = bs

    def body(totals, batch):
      x, y, w, k = batch
      probs, entropy = dropout_lib.mc_dropout_predict(
          lambda xx, kk: dropout_apply(model, variables, xx, rate, kk),
          x, n_samples, k)
      det = jax.nn.softmax(model.apply(variables, x, train=False,
                                       dropout_rate=rate), axis=-1)
      correct = (jnp.argmax(probs, -1) == y).astype(jnp.float32)
      sums = {'accuracy': jnp.sum(correct * w),
              'entropy': jnp.sum(entropy * w),
              'det_entropy': jnp.sum(_entropy(det) * w)}
      return jax.tree_util.tree_map(jnp.add, totals, sums), None

    zeros = {k: jnp.zeros((), jnp.float32)
             for k in ('accuracy', 'entropy', 'det_entropy')}
    batch_keys = jax.random.split(key, xs.shape[0])
    totals, _ = jax.lax.scan(body, zeros, (xs, ys, ws, batch_keys))
    return {k: v / jnp.sum(ws) for k, v in totals.items()}

  return jax.vmap(member)(params, batch_stats, rates, keys)


def mc_dropout_hook(n_samples: int):
  """Hook: Monte-Carlo dropout on the test set (Gal & Ghahramani 2016):
  'mc_test_accuracy' of the prediction averaged over `n_samples` stochastic
  passes, 'mc_test_entropy' the mean entropy of that averaged prediction
  (nats), and 'test_entropy' of the usual deterministic prediction."""
  if n_samples < 1:
    raise ConfigError(f'mc_samples={n_samples} not allowed; need an int >= 1')

  def hook(ctx) -> Dict[str, jax.Array]:
    out = _mc_eval(ctx.model, n_samples, ctx.params, ctx.batch_stats,
                   ctx.hp['model.dropout_rate'], member_keys(ctx.members),
                   *ctx.data.test)
    return {'mc_test_accuracy': out['accuracy'],
            'mc_test_entropy': out['entropy'],
            'test_entropy': out['det_entropy']}

  return hook


# -- step time -----------------------------------------------------------------
def without_dropout(model):
  """The same model with no dropout layers (variant 'none', no DropConnect);
  the parameters are the same pytree."""
  parts = getattr(model, 'parts', None)
  if parts is None:
    raise ConfigError(f'model {type(model).__name__} has no Parts to rebuild '
                      'without dropout')
  return model.clone(parts=dataclasses.replace(parts, dropout='none',
                                               dropconnect=False))


def _steps_program(steps, num_steps: int):
  """jit(state, hp, xs, ys) -> state after `num_steps` train steps."""

  def run(state, hp, xs, ys):
    def body(st, batch):
      st, _ = steps.train_step(st, hp, *batch)
      return st, None
    return jax.lax.scan(body, state, (xs, ys))[0]

  return jax.jit(run)


def _seconds(fn, *args) -> float:
  start = time.perf_counter()
  jax.block_until_ready(fn(*args))
  return time.perf_counter() - start


def step_time_hook(num_steps: int = 20, repeats: int = 5,
                   budget_s: float = 10.0):
  """Hook: 'step_ms' (one compiled train step of the model as configured, at
  the member's dropout rate), 'step_ms_nodrop' (the same model rebuilt with
  no dropout layers, same batches and optimizer) and 'step_time_ratio'.

  Each is the fastest of up to `repeats` timed runs of `num_steps` steps (the
  fastest is the least disturbed by other processes), the two programs
  alternating; no new round starts once a member has used `budget_s`. One
  member at a time, not vmapped: an ordinary training run.
  """
  cache = {}  # Steps -> compiled programs: looped members reuse them

  def programs_of(steps, sample, hp, xs, ys):
    if steps not in cache:
      nodrop = copy.copy(steps)
      nodrop.model = without_dropout(steps.model)
      cache[steps] = {}
      for name, s in (('drop', steps), ('nodrop', nodrop)):
        init = jax.jit(s.init)
        state = init(jnp.int32(0), sample)
        # Compiled ahead of time: every timed call is a run, none a compile.
        run = _steps_program(s, num_steps).lower(state, hp, xs, ys).compile()
        cache[steps][name] = (init, run)
    return cache[steps]

  def hook(ctx) -> Dict[str, jax.Array]:
    b = ctx.steps.batch_size
    n = ctx.data.train_x.shape[0]
    idx = jnp.arange(num_steps * b).reshape(num_steps, b) % n
    xs, ys = ctx.data.train_x[idx], ctx.data.train_y[idx]
    sample = ctx.data.train_x[:1]
    programs = programs_of(ctx.steps, sample, member_hp(ctx.hp, 0), xs, ys)
    out = {'step_ms': [], 'step_ms_nodrop': []}
    for i, m in enumerate(ctx.members):
      hp = member_hp(ctx.hp, i)
      states = {name: init(jnp.int32(m.seed), sample)
                for name, (init, _) in programs.items()}
      best, spent = {}, 0.0
      for _ in range(repeats):
        for name, (_, run) in programs.items():
          t = _seconds(run, states[name], hp, xs, ys)
          best[name] = min(best.get(name, t), t)
          spent += t
        if spent > budget_s:
          break
      out['step_ms'].append(1e3 * best['drop'] / num_steps)
      out['step_ms_nodrop'].append(1e3 * best['nodrop'] / num_steps)
    out = {k: np.asarray(v) for k, v in out.items()}
    out['step_time_ratio'] = out['step_ms'] / out['step_ms_nodrop']
    return out

  return hook


def _program_seconds(programs: Dict[str, Tuple[Any, tuple]], repeats: int,
                     budget_s: float) -> Dict[str, float]:
  """Fastest time of each compiled program (name -> (fn, args)), the
  programs alternating round by round; no new round once `budget_s` is
  spent."""
  best, spent = {}, 0.0
  for _ in range(repeats):
    for name, (fn, args) in programs.items():
      t = _seconds(fn, *args)
      best[name] = min(best.get(name, t), t)
      spent += t
    if spent > budget_s:
      break
  return best


def predict_time_hook(mc_samples: int = 10, batch_size: int = 1000,
                      repeats: int = 5, budget_s: float = 10.0):
  """Hook: 'predict_ms' (one compiled inference pass, train=False, over
  `batch_size` test examples with the model as configured),
  'predict_ms_nodrop' (the same model rebuilt without dropout layers),
  'predict_time_ratio', 'mc_predict_ms' (MC dropout: `mc_samples`
  stochastic passes averaged) and 'mc_cost_ratio' (over 'predict_ms'), and
  'predict_same_program': 1 when the traced inference program (its jaxpr)
  with dropout layers equals the one without, so the timing difference is
  noise by construction (inverted dropout is the identity at inference;
  'classic' multiplies by 1 - rate).

  Fastest of up to `repeats` runs per program, the programs alternating
  (see step_time_hook); one member at a time.
  """
  if mc_samples < 1:
    raise ConfigError(f'mc_samples={mc_samples} not allowed; need an int >= 1')
  cache, same = {}, {}  # model -> compiled programs, jaxprs equal

  def programs_of(model, variables, x, rate, key):
    if model not in cache:
      nodrop = without_dropout(model)
      fns = {
          'drop': lambda v, x, r, k: model.apply(v, x, train=False,
                                                 dropout_rate=r),
          'nodrop': lambda v, x, r, k: nodrop.apply(v, x, train=False,
                                                    dropout_rate=r),
          'mc': lambda v, x, r, k: dropout_lib.mc_dropout_predict(
              lambda xx, kk: dropout_apply(model, v, xx, r, kk), x,
              mc_samples, k)[0]}
      cache[model] = {n: jax.jit(f).lower(variables, x, rate, key).compile()
                      for n, f in fns.items()}
      jaxpr = lambda f: str(jax.make_jaxpr(f)(variables, x, rate, key))
      same[model] = float(jaxpr(fns['drop']) == jaxpr(fns['nodrop']))
    return cache[model]

  def hook(ctx) -> Dict[str, np.ndarray]:
    x = ctx.data.test[0] if ctx.data.test is not None else ctx.data.val[0]
    x = x.reshape((-1,) + x.shape[2:])[:batch_size]
    keys = member_keys(ctx.members)
    out = {'predict_ms': [], 'predict_ms_nodrop': [], 'mc_predict_ms': []}
    for i in range(len(ctx.members)):
      take = lambda t: jax.tree_util.tree_map(lambda a: a[i], t)
      variables = ctx.steps.variables(take(ctx.params),
                                      take(ctx.batch_stats))
      rate = ctx.hp['model.dropout_rate'][i]
      programs = programs_of(ctx.model, variables, x, rate, keys[i])
      args = (variables, x, rate, keys[i])
      best = _program_seconds({n: (f, args) for n, f in programs.items()},
                              repeats, budget_s)
      out['predict_ms'].append(1e3 * best['drop'])
      out['predict_ms_nodrop'].append(1e3 * best['nodrop'])
      out['mc_predict_ms'].append(1e3 * best['mc'])
    out = {k: np.asarray(v) for k, v in out.items()}
    out['predict_time_ratio'] = out['predict_ms'] / out['predict_ms_nodrop']
    out['mc_cost_ratio'] = out['mc_predict_ms'] / out['predict_ms']
    out['predict_same_program'] = np.full(len(ctx.members), same[ctx.model])
    return out

  return hook


# -- model cost ----------------------------------------------------------------
@functools.lru_cache(maxsize=32)
def _cost(model, input_shape: Tuple[int, ...]) -> Tuple[int, float]:
  from dlexp import models  # pylint: disable=g-import-not-at-top
  from dlexp.models.summary import trace  # pylint: disable=g-import-not-at-top
  params = models.count_params(trace(model, input_shape)[0])['trainable']
  return params, models.flops(model, input_shape)


def model_cost_hook(input_shape: Optional[Sequence[int]] = None,
                    prefix: str = '', **model_overrides):
  """Hook: '<prefix>params' (trainable parameters) and '<prefix>flops' (one
  inference forward pass of one example, XLA's count: see
  models.summary.flops) of each member's model. With `input_shape` and
  `model_overrides` (model config fields, e.g. width_mult=1.0), of that
  model rebuilt from the member's config instead: what the design costs at
  full size, whatever size was trained. Shapes only: nothing runs."""
  from dlexp import models  # pylint: disable=g-import-not-at-top

  def hook(ctx) -> Dict[str, Any]:
    shape = tuple(input_shape or ctx.data.probe_x.shape[1:])
    out = {f'{prefix}params': [], f'{prefix}flops': []}
    for m in ctx.members:
      model = ctx.model
      if input_shape is not None or model_overrides:
        cfg = copy.deepcopy(m.trial.config.model)
        cfg.update(model_overrides)
        classes = ctx.model.num_classes
        model = models.build_model(cfg, classes, shape)
      params, flops = _cost(model, shape)
      out[f'{prefix}params'].append(params)
      out[f'{prefix}flops'].append(flops)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}

  return hook


# -- early stopping: the last epoch's parameters ---------------------------------
def last_epoch_hook(ctx) -> Dict[str, jax.Array]:
  """'last_test_loss', 'last_test_accuracy' (and every other metric) of the
  LAST epoch's parameters: what a run keeps without restore_best (Keras'
  EarlyStopping default). Equal to the test_* metrics where the last epoch
  is the best one."""
  split = ctx.data.test if ctx.data.test is not None else ctx.data.val
  out = _evaluate(ctx.steps, ctx.last_params, ctx.last_batch_stats, ctx.hp,
                  *split)
  prefix = 'last_test_' if ctx.data.test is not None else 'last_val_'
  return {prefix + k: v for k, v in out.items()}


# -- predictions on the test set -------------------------------------------------
@functools.partial(jax.jit, static_argnums=(0,))
def _logits(model, params, batch_stats, xs):
  """(members, B, b, outputs) inference logits of pre-batched xs."""

  def member(p, bs):
    variables = {'params': p}
    if bs:
      variables['batch_stats'] = bs
    return jax.lax.map(
        lambda x: model.apply(variables, x, train=False, dropout_rate=0.0), xs)

  return jax.vmap(member)(params, batch_stats)


def _test_predictions(ctx):
  """(logits (members, N, K), labels (N,), weights (N,)) on the test set
  (validation if there is none), padding included (weight 0)."""
  xs, ys, ws = ctx.data.test if ctx.data.test is not None else ctx.data.val
  logits = np.asarray(_logits(ctx.model, ctx.params, ctx.batch_stats, xs))
  logits = logits.reshape((logits.shape[0], -1, logits.shape[-1]))
  return (logits, np.asarray(ys).reshape(-1),
          np.asarray(ws).reshape(-1))


def probabilities(logits: np.ndarray, loss_name: str) -> np.ndarray:
  """Class probabilities a loss trains the outputs to be: softmax for
  cross-entropy and focal; for mse/mae/huber on one-hot targets the
  outputs themselves, clipped to [0, 1] and renormalized (MSE's minimizer
  is the conditional class probability; no softmax was trained)."""
  if loss_name in losses.REGRESSION:
    p = np.clip(logits, 0.0, 1.0)
    total = p.sum(-1, keepdims=True)
    uniform = np.full_like(p, 1.0 / p.shape[-1])
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), uniform)
  if logits.shape[-1] == 1:  # one sigmoid logit (bce on two classes)
    q = 1.0 / (1.0 + np.exp(-logits[..., 0]))
    return np.stack([1.0 - q, q], axis=-1)
  z = logits - logits.max(-1, keepdims=True)
  e = np.exp(z)
  return e / e.sum(-1, keepdims=True)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray,
                               bins: int = 15,
                               weights: Optional[np.ndarray] = None
                               ) -> float:
  """ECE (Naeini et al. 2015; Guo et al. 2017): sum over `bins` equal-width
  confidence bins (lo, hi] of (bin weight / total) * |accuracy - mean
  confidence| of the bin."""
  w = np.ones_like(confidence) if weights is None else weights
  edges = np.linspace(0.0, 1.0, bins + 1)
  index = np.clip(np.searchsorted(edges, confidence, side='left') - 1, 0,
                  bins - 1)
  total, ece = w.sum(), 0.0
  for b in range(bins):
    in_bin = (index == b) & (w > 0)
    weight = w[in_bin].sum()
    if weight > 0:
      acc = (w[in_bin] * correct[in_bin]).sum() / weight
      conf = (w[in_bin] * confidence[in_bin]).sum() / weight
      ece += weight / total * abs(acc - conf)
  return float(ece)


def calibration_hook(bins: int = 15):
  """Hook: 'ece', the expected calibration error (`bins` bins) of the test
  predictions, and 'confidence', their mean top probability; probabilities
  as the member's loss defines them (see `probabilities`)."""

  def hook(ctx) -> Dict[str, np.ndarray]:
    logits, ys, ws = _test_predictions(ctx)
    ece, conf = [], []
    for i, m in enumerate(ctx.members):
      p = probabilities(logits[i], m.trial.config.loss.name)
      top = p.max(-1)
      correct = (p.argmax(-1) == ys).astype(np.float64)
      ece.append(expected_calibration_error(top, correct, bins, ws))
      conf.append((top * ws).sum() / ws.sum())
    return {'ece': np.asarray(ece), 'confidence': np.asarray(conf)}

  return hook


def class_recall_hook(minority: Sequence[int] = ()):
  """Hook: 'recall_<c>' for every class, 'balanced_accuracy' (their mean),
  and with `minority` classes 'minority_recall' / 'majority_recall' (mean
  recall over those classes / over the rest), on the test set."""

  def hook(ctx) -> Dict[str, np.ndarray]:
    logits, ys, ws = _test_predictions(ctx)
    k = logits.shape[-1]
    pred = logits.argmax(-1)  # (members, N)
    recall = np.full((len(ctx.members), k), np.nan)
    for c in range(k):
      mine = (ys == c) & (ws > 0)
      if mine.any():
        recall[:, c] = (pred[:, mine] == c).mean(axis=1)
    out = {f'recall_{c}': recall[:, c] for c in range(k)}
    out['balanced_accuracy'] = np.nanmean(recall, axis=1)
    if minority:
      rest = [c for c in range(k) if c not in minority]
      out['minority_recall'] = np.nanmean(recall[:, list(minority)], axis=1)
      out['majority_recall'] = np.nanmean(recall[:, rest], axis=1)
    return out

  return hook


# -- sparsity ---------------------------------------------------------------------
def sparse_bytes(kernel: np.ndarray) -> int:
  """Bytes of `kernel` (fan-in x fan-out view) stored as scipy's CSR matrix:
  values, column indices and row pointers."""
  import scipy.sparse  # pylint: disable=g-import-not-at-top
  m = scipy.sparse.csr_matrix(kernel.reshape(-1, kernel.shape[-1]))
  return int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes)


def weight_sparsity_hook(small: float = 1e-3):
  """Hook, over all kernels of the final parameters: 'kernel_zero_fraction'
  (exactly 0), 'kernel_small_fraction' (|w| < `small`), 'dense_kb' (every
  parameter stored dense, float32) and 'sparse_kb' (kernels stored as CSR,
  the other parameters dense), 'size_ratio' = sparse / dense."""

  def hook(ctx) -> Dict[str, np.ndarray]:
    flat = traverse_util.flatten_dict(jax.device_get(ctx.params))
    out = {k: [] for k in ('kernel_zero_fraction', 'kernel_small_fraction',
                           'dense_kb', 'sparse_kb')}
    for i in range(len(ctx.members)):
      zeros = smalls = count = dense = stored = 0
      for path, value in flat.items():
        w = np.asarray(value[i], np.float32)
        dense += w.nbytes
        if path[-1] == 'kernel':
          zeros += int(np.sum(w == 0))
          smalls += int(np.sum(np.abs(w) < small))
          count += w.size
          stored += sparse_bytes(w)
        else:
          stored += w.nbytes
      out['kernel_zero_fraction'].append(zeros / max(count, 1))
      out['kernel_small_fraction'].append(smalls / max(count, 1))
      out['dense_kb'].append(dense / 1024)
      out['sparse_kb'].append(stored / 1024)
    out = {k: np.asarray(v) for k, v in out.items()}
    out['size_ratio'] = out['sparse_kb'] / out['dense_kb']
    return out

  return hook


def _zero_fraction_of_dropout_outputs(run) -> jax.Array:
  """Runs `run()` (a model apply) and returns the fraction of exact zeros
  among the outputs of its Dropout layers (the hidden units as the next
  layer sees them)."""
  outputs = []

  def record(next_fun, args, kwargs, context):
    y = next_fun(*args, **kwargs)
    if (isinstance(context.module, dropout_lib.Dropout)
        and context.method_name == '__call__'):
      outputs.append(y)
    return y

  with nn.intercept_methods(record):
    run()
  if not outputs:
    return jnp.float32(jnp.nan)
  zeros = sum(jnp.sum(o == 0) for o in outputs)
  return zeros / sum(o.size for o in outputs)


@functools.partial(jax.jit, static_argnums=(0,))
def _activation_zeros(model, params, batch_stats, rates, keys, x):

  def member(p, bs, rate, key):
    variables = {'params': p}
    if bs:
      variables['batch_stats'] = bs
    off = _zero_fraction_of_dropout_outputs(lambda: model.apply(
        variables, x, train=False, dropout_rate=rate))
    on = _zero_fraction_of_dropout_outputs(
        lambda: dropout_apply(model, variables, x, rate, key))
    return on, off

  on, off = jax.vmap(member)(params, batch_stats, rates, keys)
  return {'act_zero_train': on, 'act_zero_inference': off}


def activation_zeros_hook(ctx) -> Dict[str, jax.Array]:
  """'act_zero_train' / 'act_zero_inference': fraction of the hidden units'
  outputs (after each Dropout layer) that are exactly 0 on the probe batch,
  in one training-mode pass (dropout on) and in inference mode. Dropout
  zeros activations while it trains; the weights it leaves are dense."""
  return _activation_zeros(ctx.model, ctx.params, ctx.batch_stats,
                           ctx.hp['model.dropout_rate'],
                           member_keys(ctx.members), ctx.data.probe_x)


# -- batch norm ---------------------------------------------------------------------
def _bn_leaves(params, name: str) -> List[Any]:
  """The BatchNorm parameters called `name` ('scale' = gamma, 'bias' =
  beta), each (members, units)."""
  return [v for p, v in traverse_util.flatten_dict(params).items()
          if p[-1] == name and any(str(k).startswith('BatchNorm')
                                   for k in p[:-1])]


@functools.partial(jax.jit, static_argnums=(0,))
def _train_mode_eval(steps, params, batch_stats, hp, xs, ys):
  """Accuracy and loss with BatchNorm normalizing by each batch's own
  statistics (training mode; dropout off; statistics not kept), and the
  inference-mode accuracy of the same examples."""

  def member(p, bs, h):
    variables = steps.variables(p, bs)

    def body(totals, batch):
      x, y = batch
      logits, _ = steps.model.apply(variables, x, train=True,
                                    dropout_rate=0.0, mutable=['batch_stats'])
      same = steps.model.apply(variables, x, train=False, dropout_rate=0.0)
      sums = (jnp.sum(losses.accuracy(logits, y)),
              jnp.sum(steps.loss_fn(logits, y, h)),
              jnp.sum(losses.accuracy(same, y)))
      return tuple(t + v for t, v in zip(totals, sums)), None

    (acc, loss, inference), _ = jax.lax.scan(
        body, (jnp.float32(0),) * 3, (xs, ys))
    n = xs.shape[0] * xs.shape[1]
    return {'accuracy': acc / n, 'loss': loss / n,
            'inference_accuracy': inference / n}

  return jax.vmap(member)(params, batch_stats, hp)


def batch_norm_hook(ctx) -> Dict[str, np.ndarray]:
  """'bn_gamma_mean', 'bn_gamma_std', 'bn_beta_mean', 'bn_beta_std' over all
  BatchNorm units (nan without BatchNorm); 'val_accuracy_train_mode' and
  'val_loss_train_mode': the validation set in batches of the training
  batch size with BatchNorm in training mode (each batch normalized by its
  own mean and variance, as in training), to set beside the inference-mode
  val_accuracy (running averages); 'bn_mode_gap': training-mode minus
  inference-mode accuracy on exactly those examples (0 without
  BatchNorm)."""
  out = {}
  for name, key in (('scale', 'gamma'), ('bias', 'beta')):
    leaves = _bn_leaves(jax.device_get(ctx.params), name)
    if leaves:
      values = np.concatenate([np.asarray(v).reshape(v.shape[0], -1)
                               for v in leaves], axis=1)
      out[f'bn_{key}_mean'] = values.mean(axis=1)
      out[f'bn_{key}_std'] = values.std(axis=1)
    else:
      nan = np.full(len(ctx.members), np.nan)
      out[f'bn_{key}_mean'] = out[f'bn_{key}_std'] = nan
  b = ctx.steps.batch_size
  xs, ys, ws = ctx.data.val
  x = xs.reshape((-1,) + xs.shape[2:])
  y = ys.reshape((-1,) + ys.shape[2:])
  n = int(np.asarray(ws).sum()) // b * b  # whole batches of real examples
  x = x[:n].reshape((n // b, b) + x.shape[1:])
  y = y[:n].reshape((n // b, b) + y.shape[1:])
  res = _train_mode_eval(ctx.steps, ctx.params, ctx.batch_stats, ctx.hp, x, y)
  out['val_accuracy_train_mode'] = np.asarray(res['accuracy'])
  out['val_loss_train_mode'] = np.asarray(res['loss'])
  out['bn_mode_gap'] = np.asarray(res['accuracy'] - res['inference_accuracy'])
  return out


# -- logits --------------------------------------------------------------------
@functools.partial(jax.jit, static_argnums=(0,))
def _logit_spread(model, params, batch_stats, rates, x):

  def member(p, bs, rate):
    variables = {'params': p}
    if bs:
      variables['batch_stats'] = bs
    z = model.apply(variables, x, train=False, dropout_rate=rate)
    return {'logit_spread_examples': jnp.mean(jnp.std(z, axis=0)),
            'logit_spread_classes': jnp.mean(jnp.std(z, axis=-1)),
            'logit_rms': jnp.sqrt(jnp.mean(jnp.square(z)))}

  return jax.vmap(member)(params, batch_stats, rates)


def logit_spread_hook(ctx) -> Dict[str, jax.Array]:
  """How the final logits vary on the probe (inference mode):
  'logit_spread_examples', the std over examples of each logit averaged
  over classes (0: the network gives every input the same output, a
  collapsed or dead network); 'logit_spread_classes', the std over classes
  averaged over examples (0: uniform predictions, loss ln K); 'logit_rms'."""
  return _logit_spread(ctx.model, ctx.params, ctx.batch_stats,
                       ctx.hp['model.dropout_rate'], ctx.data.probe_x)
