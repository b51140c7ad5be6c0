"""Model families, registered by name in MODELS, built from `config.model`.

    model = build_model(config.model, num_classes=10, input_shape=(28, 28, 1))
    logits = model.apply(variables, x, train=False, dropout_rate=0.0)

Every model's `__call__(x, *, train, dropout_rate=0.0)` returns logits;
`dropout_rate` may be a tracer (one value per vmap lane of a grid).
BatchNorm statistics live in 'batch_stats'; the penultimate features are sown
as intermediates/features and each Activation sows its output.
"""
import operator

import flax.linen as nn

from dlexp.errors import ConfigError
# Importing a family registers it in MODELS.
from dlexp.models import alexnet, cnn, inception, mlp, resnet, rnn, vgg
from dlexp.models.config import (MODELS, TRACED, ModelSpec, Parts, defaults,
                                 make_parts, validate)
from dlexp.models.summary import count_params, flops, layer_order, summary


def build_model(model_cfg, num_classes: int, input_shape) -> nn.Module:
  """The configured model for inputs of `input_shape` (no batch axis)."""
  validate(model_cfg)
  try:
    classes = operator.index(num_classes)
  except TypeError:
    classes = 0
  if classes < 1:
    raise ConfigError(f'num_classes={num_classes!r} not allowed; need an '
                      'int >= 1')
  spec = MODELS.get(model_cfg.name)
  return spec.builder(model_cfg, classes, tuple(int(d) for d in input_shape))


def tiny_config(name: str):
  """The model section of `name`'s small registered instance (tests, smoke)."""
  cfg = defaults()
  cfg.name = name
  cfg.update(MODELS.get(name).tiny)
  return cfg
