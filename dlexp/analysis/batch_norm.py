"""BatchNorm after training: the learned gamma and beta, and accuracy with
BatchNorm in training mode (batch statistics) next to inference mode
(running averages)."""
import functools
from typing import Any, Dict, List

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from dlexp import losses


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
