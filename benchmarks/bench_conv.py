"""Training-step throughput of a conv model per conv_impl.

    .venv/bin/python benchmarks/bench_conv.py [--model cnn] [--batch 128]
    .venv/bin/python benchmarks/bench_conv.py --model vgg --variant vgg11 \\
        --input_shape 32,32,3 --batch 64 --steps 5

Prints examples/s of a jitted SGD step for 'xla' (native conv and max pool,
what plain flax does), 'im2col' (im2col convs, slice pooling) and 'auto' (the
default: per layer, see dlexp/layers/conv.py), and each one's ratio to 'xla'.
"""
import argparse
import time

import jax
import jax.numpy as jnp
import optax

from dlexp.models import build_model, defaults


def throughput(model_name: str, impl: str, input_shape, batch: int,
               steps: int, variant: str = '') -> float:
  """Examples per second of a jitted SGD step (after compilation)."""
  cfg = defaults()
  cfg.name, cfg.conv_impl, cfg.variant = model_name, impl, variant
  model = build_model(cfg, 10, input_shape)
  key = jax.random.key(0)
  x = jax.random.normal(key, (batch,) + tuple(input_shape))
  y = jax.random.randint(key, (batch,), 0, 10)
  variables = model.init({'params': key, 'dropout': key}, x, train=False)
  params, batch_stats = variables['params'], variables.get('batch_stats', {})
  opt = optax.sgd(0.01, momentum=0.9)
  opt_state = opt.init(params)

  @jax.jit
  def step(params, batch_stats, opt_state, x, y, rate):
    def loss_fn(p):
      v = {'params': p, **({'batch_stats': batch_stats} if batch_stats else {})}
      logits, new = model.apply(v, x, train=True, dropout_rate=rate,
                                rngs={'dropout': key}, mutable=['batch_stats'])
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
      return loss, new.get('batch_stats', batch_stats)
    (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params)
    updates, opt_state = opt.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), batch_stats, opt_state, loss

  state = (params, batch_stats, opt_state)
  rate = jnp.float32(0.5)
  state = step(*state, x, y, rate)[:3]  # Compile.
  jax.block_until_ready(state)
  start = time.perf_counter()
  for _ in range(steps):
    *state, loss = step(*state, x, y, rate)
  jax.block_until_ready(loss)
  return steps * batch / (time.perf_counter() - start)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--model', default='cnn')
  parser.add_argument('--variant', default='')
  parser.add_argument('--batch', type=int, default=128)
  parser.add_argument('--steps', type=int, default=20)
  parser.add_argument('--input_shape', default='28,28,1',
                      help='without the batch axis, e.g. 32,32,3 or 40,1')
  args = parser.parse_args()
  shape = tuple(int(d) for d in args.input_shape.split(','))
  print(f'backend={jax.default_backend()} model={args.model} '
        f'input={shape} batch={args.batch}')
  rates = {}
  for impl in ('xla', 'im2col', 'auto'):
    rates[impl] = throughput(args.model, impl, shape, args.batch, args.steps,
                             args.variant)
    print(f'{impl:>7}: {rates[impl]:10.1f} examples/s   '
          f'{rates[impl] / rates["xla"]:5.2f}x xla')


if __name__ == '__main__':
  main()
