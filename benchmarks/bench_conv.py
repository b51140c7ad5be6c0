"""Training-step throughput of a conv model per conv_impl and XLA options.

    .venv/bin/python benchmarks/bench_conv.py [--model cnn] [--batch 128]
        [--steps 10] [--repeats 5]
    .venv/bin/python benchmarks/bench_conv.py --model vgg --variant vgg11 \\
        --input_shape 32,32,3 --batch 64 --steps 3

Rows: conv_impl 'xla' (native conv and nn.max_pool: what plain flax does),
'im2col' (im2col convs, slice pooling) and 'auto' (the default: per layer,
see dlexp/layers/conv.py), each compiled with XLA's default options and with
dlexp's (dlexp.xla_flags.compiler_options(): XLA's own convolution instead
of YNNPACK's on CPU). One timed repeat is --steps jitted SGD steps on one
batch; the repeats of all rows are interleaved (dlexp.timing). Prints the
median and best examples/s, examples per CPU-second and each row's ratio to
plain flax ('xla', default options).
"""
import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from dlexp import tables, timing, xla_flags
from dlexp.models import build_model, defaults

IMPLS = ('xla', 'im2col', 'auto')
BASELINE = 'xla, default options'


def train_steps(model_name: str, impl: str, options, input_shape, batch: int,
                steps: int, variant: str = ''):
  """A callable running `steps` jitted SGD steps (compiled with `options`)."""
  cfg = defaults()
  cfg.name, cfg.conv_impl, cfg.variant = model_name, impl, variant
  model = build_model(cfg, 10, input_shape)
  key = jax.random.key(0)
  x = jax.random.normal(key, (batch,) + tuple(input_shape))
  y = jax.random.randint(key, (batch,), 0, 10)
  variables = model.init({'params': key, 'dropout': key}, x, train=False)
  params, batch_stats = variables['params'], variables.get('batch_stats', {})
  opt = optax.sgd(0.01, momentum=0.9)

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

  rate = jnp.float32(0.5)
  state = [params, batch_stats, opt.init(params)]
  compiled = jax.jit(step).lower(*state, x, y, rate).compile(options)

  def run():
    for _ in range(steps):
      *state[:], loss = compiled(*state, x, y, rate)
    return loss
  return run


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--model', default='cnn')
  parser.add_argument('--variant', default='')
  parser.add_argument('--batch', type=int, default=128)
  parser.add_argument('--steps', type=int, default=10,
                      help='SGD steps per timed repeat')
  parser.add_argument('--repeats', type=int, default=5)
  parser.add_argument('--input_shape', default='28,28,1',
                      help='without the batch axis, e.g. 32,32,3 or 40,1')
  args = parser.parse_args()
  shape = tuple(int(d) for d in args.input_shape.split(','))
  print(f'{time.strftime("%Y-%m-%d")}  jax {jax.__version__}  backend '
        f'{jax.default_backend()}  cpus {os.cpu_count()}  load '
        f'{os.getloadavg()[0]:.1f}  model={args.model} {args.variant} '
        f'input={shape} batch={args.batch}')
  fns = {}
  for impl in IMPLS:
    for name, options in (('default', {}),
                          ('dlexp', xla_flags.compiler_options())):
      fns[f'{impl}, {name} options'] = train_steps(
          args.model, impl, options, shape, args.batch, args.steps,
          args.variant)
  timings = timing.interleave(fns, repeats=args.repeats,
                              items=args.steps * args.batch)
  base = timings[BASELINE].rate()
  rows = [[label, f'{t.rate():,.0f}', f'{t.best_rate():,.0f}',
           f'{t.cpu_rate():,.0f}', f'{t.rate() / base:.2f}x']
          for label, t in timings.items()]
  print(f'load {os.getloadavg()[0]:.1f} at the end; dlexp options: '
        f'{xla_flags.compiler_options()}\n')
  print(tables.markdown(['conv_impl, XLA options', 'examples/s (median)',
                         'best', 'per CPU-s', f'ratio vs {BASELINE}'], rows,
                        align='lrrrr'))


if __name__ == '__main__':
  main()
