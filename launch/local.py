r"""Runs an experiment on this machine, optionally on N forced CPU devices (to
try data parallelism without an accelerator) or on one platform only.

  python launch/local.py -- experiments/elu_vs_relu.py --epochs=1
  python launch/local.py --cpu_devices=2 -- experiments/elu_vs_relu.py --model=cnn
  python launch/local.py --platform=gpu -- experiments/dropout_rates.py
"""
import argparse
import os
import shlex
import sys

PLATFORMS = ('cpu', 'gpu', 'tpu')


def command(args) -> tuple:
  """(argv, extra environment) that run the experiment."""
  if not args.script:
    raise SystemExit('error: name the experiment after --, e.g. '
                     '-- experiments/elu_vs_relu.py')
  env = {}
  if args.cpu_devices:
    if args.cpu_devices < 1:
      raise SystemExit(f'error: --cpu_devices={args.cpu_devices} must be >= 1')
    env['JAX_PLATFORMS'] = 'cpu'
    flags = os.environ.get('XLA_FLAGS', '')
    env['XLA_FLAGS'] = (flags + ' --xla_force_host_platform_device_count='
                        f'{args.cpu_devices}').strip()
  if args.platform:
    env['JAX_PLATFORMS'] = args.platform
  return [sys.executable] + args.script, env


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--cpu_devices', type=int, default=0,
                      help='force this many CPU devices (data parallel test)')
  parser.add_argument('--platform', choices=PLATFORMS, default=None)
  parser.add_argument('--dry_run', action='store_true',
                      help='print the command instead of running it')
  parser.add_argument('script', nargs=argparse.REMAINDER,
                      help='-- experiments/NAME.py [flags]')
  args = parser.parse_args(argv)
  if args.script[:1] == ['--']:
    args.script = args.script[1:]
  argv_, env = command(args)
  line = ' '.join(f'{k}={shlex.quote(v)}' for k, v in env.items())
  print(f'{line} {shlex.join(argv_)}'.strip(), flush=True)
  if args.dry_run:
    return 0
  os.execvpe(argv_[0], argv_, dict(os.environ, **env))
  return 1  # not reached


if __name__ == '__main__':
  sys.exit(main())
