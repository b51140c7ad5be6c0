r"""Runs an experiment on a Cloud TPU VM with gcloud: copies this checkout,
installs dlexp with the TPU build of jax, runs the script, and copies the
workdir back.

  python launch/tpu_vm.py --tpu=my-tpu --zone=us-central2-b \
      [--create --accelerator_type=v4-8] -- experiments/elu_vs_relu.py --model=cnn

Single-host slices (v4-8, v5litepod-8, v6e-8, ...): the runner's `data` mesh
spans every chip of the host. Multi-host slices would also need
jax.distributed.initialize() and per-host data loading, which dlexp does not
do yet. --dry_run prints the gcloud commands without running them.
"""
import argparse
import os
import shlex
import subprocess
import sys

REMOTE_DIR = 'dlexp'


def commands(args) -> list:
  """The gcloud command lines, in order."""
  if not args.script:
    raise SystemExit('error: name the experiment after --, e.g. '
                     '-- experiments/elu_vs_relu.py')
  where = [f'--zone={args.zone}'] + ([f'--project={args.project}']
                                     if args.project else [])
  tpu = ['gcloud', 'compute', 'tpus', 'tpu-vm']
  workdir = f'runs/{os.path.splitext(os.path.basename(args.script[0]))[0]}'
  flags = args.script[1:]
  if not any(f.startswith('--workdir') for f in flags):
    flags = flags + [f'--workdir={workdir}']
  else:
    workdir = [f for f in flags if f.startswith('--workdir')][0].split('=', 1)[1]
  remote = (f'cd {REMOTE_DIR} && python3 -m venv .venv && '
            ".venv/bin/pip install -q -e '.[tpu]' && "
            f'.venv/bin/python {shlex.join([args.script[0]] + flags)}')
  out = []
  if args.create:
    out.append(tpu + ['create', args.tpu, f'--accelerator-type='
                      f'{args.accelerator_type}', f'--version={args.version}']
               + where)
  out.append(['git', 'archive', '--format=tar.gz', f'--prefix={REMOTE_DIR}/',
              '-o', '/tmp/dlexp.tar.gz', 'HEAD'])
  out.append(tpu + ['scp', '/tmp/dlexp.tar.gz', f'{args.tpu}:~/',
                    '--worker=all'] + where)
  out.append(tpu + ['ssh', args.tpu, '--worker=all', '--command',
                    f'rm -rf {REMOTE_DIR} && tar xzf dlexp.tar.gz && {remote}']
             + where)
  out.append(tpu + ['scp', '--recurse', f'{args.tpu}:~/{REMOTE_DIR}/{workdir}',
                    os.path.dirname(workdir) or '.', '--worker=0'] + where)
  if args.delete:
    out.append(tpu + ['delete', args.tpu, '--quiet'] + where)
  return out


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--tpu', required=True, help='TPU VM name')
  parser.add_argument('--zone', required=True)
  parser.add_argument('--project', default='')
  parser.add_argument('--create', action='store_true',
                      help='create the TPU VM first')
  parser.add_argument('--delete', action='store_true',
                      help='delete the TPU VM at the end')
  parser.add_argument('--accelerator_type', default='v4-8')
  parser.add_argument('--version', default='tpu-ubuntu2204-base')
  parser.add_argument('--dry_run', action='store_true')
  parser.add_argument('script', nargs=argparse.REMAINDER,
                      help='-- experiments/NAME.py [flags]')
  args = parser.parse_args(argv)
  if args.script[:1] == ['--']:
    args.script = args.script[1:]
  for cmd in commands(args):
    print(shlex.join(cmd), flush=True)
    if not args.dry_run:
      subprocess.run(cmd, check=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
