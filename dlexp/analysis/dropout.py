"""Dropout after training: how often the model's own layer drops a unit,
how much larger dropout makes the logits, Monte-Carlo dropout accuracy and
entropy, and the zeros dropout leaves in the activations; also the model
rebuilt without dropout layers and one stochastic pass with the rest of the
model in inference mode (dropout_apply)."""
import dataclasses
import functools
from typing import Dict, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from dlexp.analysis.common import member_keys, model_variables
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
