"""The cost of a model: its trainable parameters, and its FLOPs per
inference example (of the trained model, or of it rebuilt at another size)."""
import copy
import functools
from typing import Any, Dict, Optional, Sequence, Tuple

import jax
import numpy as np

from dlexp import models
from dlexp.models.summary import trace


def param_count_hook(ctx) -> Dict[str, np.ndarray]:
  """'params': trainable parameters of each member's model."""
  leaves = jax.tree_util.tree_leaves(ctx.params)
  count = sum(int(np.prod(leaf.shape[1:])) for leaf in leaves)
  return {'params': np.full(len(ctx.members), count, np.float64)}


@functools.lru_cache(maxsize=32)
def _cost(model, input_shape: Tuple[int, ...]) -> Tuple[int, float]:
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
