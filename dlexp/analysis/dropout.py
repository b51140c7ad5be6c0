"""Dropout after training: how often the model's own layer drops a unit,
how much larger dropout makes the logits, Monte-Carlo dropout accuracy and
entropy, and the zeros dropout leaves in the activations; also the model
rebuilt without dropout layers and one stochastic pass with the rest of the
model in inference mode (dropout_apply).

What dropout costs, as counts rather than times: the matrix products and
XLA's FLOPs of the compiled train step and inference program with dropout
layers against the same model without them (program_hook); the factor the
layer applies to activations at test time (inference_scale_hook); and the
train-step time ratio as the layers widen (width_sweep_hook), where the
random masks' share of a step shows. `only_at_rates` runs a costly hook on
the members of some rates only."""
import copy
import dataclasses
import functools
import math
import re
from typing import Dict, Optional, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from dlexp import models, timing
from dlexp.analysis.common import member_hp, member_keys, model_variables
from dlexp.errors import ConfigError
from dlexp.layers import dropout as dropout_lib


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
    variables = model_variables(p, bs)
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
    variables = model_variables(p, bs)

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


# -- the same model without dropout --------------------------------------------
def without_dropout(model):
  """The same model with no dropout layers (variant 'none', no DropConnect);
  the parameters are the same pytree."""
  parts = getattr(model, 'parts', None)
  if parts is None:
    raise ConfigError(f'model {type(model).__name__} has no Parts to rebuild '
                      'without dropout')
  return model.clone(parts=dataclasses.replace(parts, dropout='none',
                                               dropconnect=False))


# -- zero activations ----------------------------------------------------------
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
    variables = model_variables(p, bs)
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


# -- what dropout changes at test time -----------------------------------------
def mean_scales(variant: str, rate, key, shape=(256, 4, 4, 64)
                ) -> Tuple[jax.Array, jax.Array]:
  """(train, test): the mean output of the model's own dropout layer over
  its mean input, in one training-mode pass (one random mask) and in
  inference mode, on a probe of 262,144 positive units (|N(0, 1)|, as ReLU
  outputs are nonnegative). 'test' is the factor the layer applies to the
  activations at test time; 'train' is what a unit's output is worth on
  average in training. Inverted dropout (the default, Keras' and PyTorch's)
  scales kept units by 1/(1-rate) in training: train ~ 1 and test = 1, no
  scaling at test time. Classic dropout: train ~ 1-rate and test = 1-rate.
  'dropconnect' masks the weights of `Dense(dropconnect=True)`: an all-ones
  256x256 kernel on a positive probe."""
  rate = jnp.asarray(rate, jnp.float32)
  x = jnp.abs(jax.random.normal(jax.random.fold_in(key, 2), shape))
  if variant == 'dropconnect':
    x = x.reshape(-1, 256)[:256]
    layer = dropout_lib.Dense(256, kernel_init=nn.initializers.ones,
                              dropconnect=True)
    variables = layer.init(key, x)
    ref = layer.apply(variables, x, rate, False)  # the plain kernel
    on = layer.apply(variables, x, rate, True, rngs={'dropout': key})
    return jnp.mean(on) / jnp.mean(ref), jnp.float32(1.0)
  layer = dropout_lib.Dropout(variant=variant)
  on = layer.apply({}, x, rate, True, rngs={'dropout': key})
  off = layer.apply({}, x, rate, False)
  return jnp.mean(on) / jnp.mean(x), jnp.mean(off) / jnp.mean(x)


@functools.partial(jax.jit, static_argnums=(0,))
def _mean_scales(variant, rates, keys):
  return jax.vmap(lambda r, k: mean_scales(variant, r, k))(rates, keys)


def inference_scale_hook(variant: str):
  """Hook: 'train_mean_ratio' and 'test_scale' of `mean_scales` at each
  member's rate: what the configured variant does to the activations in
  training (on average) and at test time."""

  def hook(ctx) -> Dict[str, jax.Array]:
    train, test = _mean_scales(variant, ctx.hp['model.dropout_rate'],
                               member_keys(ctx.members))
    return {'train_mean_ratio': train, 'test_scale': test}

  return hook


# -- what dropout adds to the compiled program ---------------------------------
_MATMUL = re.compile(r'\bstablehlo\.(dot_general|dot|convolution)\b')


def matmul_count(lowered) -> int:
  """Matrix products and convolutions (dot_general, dot, convolution) in a
  lowered program's StableHLO: a forward pass of an n-layer MLP has n, its
  backward pass about 2n; a second pass would add as many again."""
  return len(_MATMUL.findall(lowered.as_text()))


def compiled_flops(compiled) -> float:
  """XLA's FLOP count of a compiled program (cost analysis), nan where the
  backend gives none."""
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else {}
  return float((cost or {}).get('flops', math.nan))


def _train_step_program(steps, state, hp, x, y):
  return jax.jit(lambda s, h, a, b: steps.train_step(s, h, a, b)[0]).lower(
      state, hp, x, y)


def program_hook(batch_size: Optional[int] = None):
  """Hook: what dropout layers add to the compiled programs of the member's
  model, against the same model rebuilt without them (same optimizer,
  batch, parameters; `without_dropout`), counted, not timed:

  - 'matmuls_per_step' / 'matmuls_per_step_nodrop': matrix products and
    convolutions in one train step's program (`matmul_count`); one more
    forward and backward pass would double them;
  - 'step_flops_ratio': XLA's FLOPs of the compiled train step with dropout
    layers over without (the masks' random bits and multiplies);
  - 'predict_flops_ratio': the same for the inference program
    (train=False) on a batch of the test set.

  The rate is traced, so every member of a program shares one count; one
  count per model (cached)."""
  cache = {}

  def counts(ctx):
    if ctx.model in cache:
      return cache[ctx.model]
    b = batch_size or ctx.steps.batch_size
    x, y = ctx.data.train_x[:b], ctx.data.train_y[:b]
    hp = member_hp(ctx.hp, 0)
    nodrop = copy.copy(ctx.steps)
    nodrop.model = without_dropout(ctx.steps.model)
    out = {}
    for name, steps in (('drop', ctx.steps), ('nodrop', nodrop)):
      state = jax.jit(steps.init)(jnp.int32(ctx.members[0].seed), x[:1])
      lowered = _train_step_program(steps, state, hp, x, y)
      out[f'matmuls_{name}'] = matmul_count(lowered)
      out[f'step_flops_{name}'] = compiled_flops(lowered.compile())
      variables = steps.variables(state.params, state.batch_stats)
      rate = hp['model.dropout_rate']
      predict = jax.jit(lambda v, xx, r, m=steps.model: m.apply(
          v, xx, train=False, dropout_rate=r)).lower(variables, x, rate)
      out[f'predict_flops_{name}'] = compiled_flops(predict.compile())
    cache[ctx.model] = out
    return out

  def hook(ctx) -> Dict[str, np.ndarray]:
    c = counts(ctx)
    n = len(ctx.members)
    return {
        'matmuls_per_step': np.full(n, c['matmuls_drop'], np.float64),
        'matmuls_per_step_nodrop': np.full(n, c['matmuls_nodrop'],
                                           np.float64),
        'step_flops_ratio': np.full(
            n, c['step_flops_drop'] / c['step_flops_nodrop']),
        'predict_flops_ratio': np.full(
            n, c['predict_flops_drop'] / c['predict_flops_nodrop'])}

  return hook


def sweep_key(width: int, impl: str = '') -> str:
  """The final-metric name of `width_sweep_hook`'s ratio at `width`, under
  the run's own rng_impl ('') or under `impl`."""
  return f'sweep_step_ratio_w{int(width)}' + (f'_{impl}' if impl else '')


def _sweep_programs(ctx, member, width, impls, hp, xs, ys):
  """{name: (init, compiled S-step program)} of the member's model rebuilt
  at `width`: 'drop' (the run's rng_impl), 'nodrop' (no dropout layers: it
  draws nothing, the same program under every impl) and 'drop_<impl>' per
  other impl (the same Steps with only rng_impl changed)."""
  cfg = copy.deepcopy(member.trial.config.model)
  cfg.width = width
  cfg.hidden = ()
  model = models.build_model(cfg, ctx.model.num_classes,
                             tuple(ctx.data.train_x.shape[1:]))
  variants = [('drop', model, ctx.steps.rng_impl),
              ('nodrop', without_dropout(model), ctx.steps.rng_impl)]
  variants += [(f'drop_{impl}', model, impl) for impl in impls]
  built = {}
  for name, m, impl in variants:
    steps = copy.copy(ctx.steps)
    steps.model, steps.rng_impl = m, impl
    init = jax.jit(steps.init)
    state = init(jnp.int32(0), xs[0][:1])
    run = _steps_program(steps).lower(state, hp, xs, ys).compile()
    built[name] = (init, run)
  return built


def width_sweep_hook(widths: Sequence[int], num_steps: int = 20,
                     repeats: int = 5, budget_s: float = 3.0,
                     impls: Sequence[str] = ()):
  """Hook: where dropout's training cost goes as the layers grow. For each
  width, the member's model rebuilt at that width (its depth, activation
  and dropout variant kept; fresh parameters from the member's seed), one
  compiled train step with dropout layers at the member's rate against the
  same model without them: `sweep_key(width)` is the time ratio (fastest
  of up to `repeats` alternating runs of `num_steps` steps, as
  analysis.step_time_hook). The masks cost one random draw and a multiply
  per unit, O(batch x width) per layer, the matrix products
  O(batch x width^2): the ratio falls toward 1 as the width grows, if the
  cost is the generator's and not a second pass. `impls`: other PRNG
  implementations (config.rng_impl values) whose ratio is also timed,
  `sweep_key(width, impl)`, in the same interleaved rounds: how much of the
  cost is the generator's implementation rather than dropout's. One member
  at a time."""
  widths = tuple(int(w) for w in widths)
  impls = tuple(impls)
  cache = {}

  def hook(ctx) -> Dict[str, np.ndarray]:
    b = ctx.steps.batch_size
    n = ctx.data.train_x.shape[0]
    idx = jnp.arange(num_steps * b).reshape(num_steps, b) % n
    xs, ys = ctx.data.train_x[idx], ctx.data.train_y[idx]
    names = {'drop': ''} | {f'drop_{i}': i for i in impls}
    out = {sweep_key(w, i): [] for w in widths for i in names.values()}
    for k, m in enumerate(ctx.members):
      hp = member_hp(ctx.hp, k)
      for w in widths:
        key = (repr(sorted(m.trial.config.model.items())), w)
        if key not in cache:
          cache[key] = _sweep_programs(ctx, m, w, impls, hp, xs, ys)
        fns = {name: functools.partial(run, init(jnp.int32(m.seed),
                                                 xs[0][:1]), hp, xs, ys)
               for name, (init, run) in cache[key].items()}
        best = timing.interleave(fns, repeats=repeats, warmup=0,
                                 budget_s=budget_s)
        for name, impl in names.items():
          out[sweep_key(w, impl)].append(best[name].best_s
                                         / best['nodrop'].best_s)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}

  return hook


def _steps_program(steps):
  """jit(state, hp, xs, ys) -> state after len(xs) train steps."""

  def run(state, hp, xs, ys):
    def body(st, batch):
      return steps.train_step(st, hp, *batch)[0], None
    return jax.lax.scan(body, state, (xs, ys))[0]

  return jax.jit(run)


def only_at_rates(hook, rates: Sequence[float]):
  """`hook` run on the members whose dropout rate is one of `rates` (a
  costly measurement, such as timing, that does not depend on the rate:
  the rate is data and every member of a program runs the same code); the
  other members get nan for each of its metrics."""
  wanted = [float(r) for r in rates]

  def selected(ctx) -> Dict[str, np.ndarray]:
    member_rates = np.asarray(ctx.hp['model.dropout_rate'], np.float64)
    pick = [i for i, r in enumerate(member_rates.reshape(-1))
            if any(math.isclose(r, w, abs_tol=1e-6) for w in wanted)]
    if not pick:
      return {}
    idx = np.asarray(pick)
    take = lambda t: None if t is None else jax.tree_util.tree_map(
        lambda a: a[idx], t)
    sub = dataclasses.replace(
        ctx, params=take(ctx.params), batch_stats=take(ctx.batch_stats),
        hp={k: v[idx] for k, v in ctx.hp.items()},
        members=[ctx.members[i] for i in pick],
        last_params=take(ctx.last_params),
        last_batch_stats=take(ctx.last_batch_stats))
    out = {}
    for k, v in hook(sub).items():
      full = np.full(len(ctx.members), np.nan)
      full[idx] = np.asarray(v, np.float64)
      out[k] = full
    return out

  return selected
