"""The same models and training in PyTorch, for the benchmarks' peer rows.

Needs the optional `bench` extra (`pip install -e .[bench]`: torch 2.13, a
CPU build); dlexp itself never imports torch. Three uses:

- in-process: `Trainer(spec, dataset)` trains the model of `spec` (see
  `build`) on the dataset's training split with SGD with momentum, `run()`
  one timed repeat (bench_engine.py);
- as a worker process, so that PyTorch and XLA never share a process (their
  thread pools slowed each other 5x when interleaved in one process):
  `Worker()` starts `python -m benchmarks.peers_torch --worker` and times
  repeats there (compare_peers.py);
- as a whole training script, the peer of an experiment script
  (`python benchmarks/peers_torch.py --model mlp --depth 20 --width 100
  --epochs 3`): loads Fashion-MNIST with dlexp.data (numpy only: no jax),
  trains, evaluates on validation every epoch and on test at the end.

Architectures mirror dlexp's ('mlp', 'cnn', 'resnet' CIFAR-style): same
layers, widths, initial weight scale and dropout placement; images are fed
NCHW, PyTorch's native conv layout (converted once, outside the timing).
On a GPU (device 'cuda') the model and the whole training split live on the
GPU, as dlexp's do, and a timed repeat ends with torch.cuda.synchronize().
"""
import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- models -------------------------------------------------------------------
def _he(module: nn.Module) -> nn.Module:
  """He-normal weights and zero biases: dlexp's default for ReLU nets."""
  for m in module.modules():
    if isinstance(m, (nn.Linear, nn.Conv2d)):
      nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
      if m.bias is not None:
        nn.init.zeros_(m.bias)
  return module


def mlp(input_shape: Sequence[int], hidden: Sequence[int],
        num_classes: int) -> nn.Module:
  layers, width = [nn.Flatten()], int(np.prod(input_shape))
  for size in hidden:
    layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(0.0)]
    width = size
  return nn.Sequential(*layers, nn.Linear(width, num_classes))


def cnn(input_shape: Sequence[int], num_classes: int) -> nn.Module:
  """conv32-pool-conv64-pool-dense128 with 3x3 valid convs (dlexp 'cnn')."""
  h, w, c = input_shape
  side_h, side_w = ((h - 2) // 2 - 2) // 2, ((w - 2) // 2 - 2) // 2
  return nn.Sequential(
      nn.Conv2d(c, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
      nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
      nn.Dropout(0.0), nn.Linear(64 * side_h * side_w, 128), nn.ReLU(),
      nn.Dropout(0.0), nn.Linear(128, num_classes))


class _Block(nn.Module):
  """Basic residual block with an option A shortcut (dlexp resnet CIFAR)."""

  def __init__(self, cin: int, cout: int, stride: int):
    super().__init__()
    self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
    self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
    self.stride, self.extra = stride, cout - cin

  def forward(self, x):
    y = F.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    skip = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
    if self.extra:
      skip = F.pad(skip, (0, 0, 0, 0, 0, self.extra))
    return F.relu(y + skip)


def resnet_cifar(depth: int, input_shape: Sequence[int],
                 num_classes: int) -> nn.Module:
  """ResNet-<depth> of He et al. section 4.2 (16-32-64 channels)."""
  n = (depth - 2) // 6
  layers = [nn.Conv2d(input_shape[-1], 16, 3, 1, 1, bias=False),
            nn.BatchNorm2d(16), nn.ReLU()]
  cin = 16
  for stage, cout in enumerate((16, 32, 64)):
    for b in range(n):
      layers.append(_Block(cin, cout, 2 if stage and not b else 1))
      cin = cout
  return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                       nn.Dropout(0.0), nn.Linear(64, num_classes))


def build(spec: Dict[str, Any], input_shape: Sequence[int],
          num_classes: int) -> nn.Module:
  """spec: {'name': 'mlp', 'hidden': [...]} | {'name': 'cnn'} |
  {'name': 'resnet', 'depth': 20}."""
  name = spec['name']
  if name == 'mlp':
    net = mlp(input_shape, spec['hidden'], num_classes)
  elif name == 'cnn':
    net = cnn(input_shape, num_classes)
  elif name == 'resnet':
    net = resnet_cifar(spec.get('depth', 20), input_shape, num_classes)
  else:
    raise ValueError(f'no PyTorch version of model {name!r}')
  return _he(net)


# -- training -----------------------------------------------------------------
def _tensor_x(x: np.ndarray, device: str = 'cpu') -> torch.Tensor:
  x = x.transpose(0, 3, 1, 2) if x.ndim == 4 else x  # NHWC -> NCHW
  # A copy: PyTorch wants C order, and the caller's array stays untouched.
  return torch.from_numpy(np.array(x, np.float32, order='C')).to(device)


def pick_device(device: str) -> str:
  """'cpu' or 'cuda' for a device argument of 'auto', 'cpu' or 'cuda'."""
  if device == 'auto':
    return 'cuda' if torch.cuda.is_available() else 'cpu'
  if device == 'cuda' and not torch.cuda.is_available():
    raise ValueError("torch device 'cuda' asked for, but torch.cuda."
                     'is_available() is False; use cpu or auto')
  return device


def _sync(device: str) -> None:
  if device == 'cuda':
    torch.cuda.synchronize()


class Trainer:
  """SGD with momentum on the first `steps * batch` training examples (all
  full batches when steps is 0), a fresh permutation per repeat."""

  def __init__(self, spec: Dict[str, Any], dataset, batch: int = 128,
               learning_rate: float = 0.01, momentum: float = 0.9,
               steps: int = 0, seed: int = 0, device: str = 'cpu'):
    torch.manual_seed(seed)
    self.device = device
    self.net = build(spec, dataset.input_shape,
                     dataset.num_classes).to(device)
    self.opt = torch.optim.SGD(self.net.parameters(), lr=learning_rate,
                               momentum=momentum)
    steps = steps or len(dataset.train_y) // batch
    n = steps * batch
    self.x = _tensor_x(dataset.train_x[:n], device)
    self.y = torch.from_numpy(dataset.train_y[:n].astype(np.int64)).to(device)
    self.steps, self.batch = steps, batch
    self.gen = torch.Generator().manual_seed(seed)

  def run(self) -> int:
    """One epoch of `steps` steps; the number of examples trained on."""
    self.net.train()
    order = torch.randperm(len(self.y), generator=self.gen).to(self.device)
    for idx in order.view(self.steps, self.batch):
      self.opt.zero_grad(set_to_none=True)
      F.cross_entropy(self.net(self.x[idx]), self.y[idx]).backward()
      self.opt.step()
    _sync(self.device)  # on CPU opt.step() already ran synchronously
    return self.steps * self.batch

  @torch.no_grad()
  def evaluate(self, x: np.ndarray, y: np.ndarray,
               batch: int = 1000) -> Dict[str, float]:
    self.net.eval()
    x = _tensor_x(x, self.device)
    y = torch.from_numpy(y.astype(np.int64)).to(self.device)
    loss = correct = 0.0
    for i in range(0, len(y), batch):
      logits = self.net(x[i:i + batch])
      loss += float(F.cross_entropy(logits, y[i:i + batch], reduction='sum'))
      correct += float((logits.argmax(1) == y[i:i + batch]).sum())
    return {'loss': loss / len(y), 'accuracy': correct / len(y)}


def fit(spec: Dict[str, Any], dataset, epochs: int, learning_rate: float,
        seed: int, batch: int = 128, momentum: float = 0.9,
        device: str = 'cpu') -> Dict[str, Any]:
  """A whole training run as dlexp's runner does it: every epoch over all
  full batches, validation after each epoch, test at the end."""
  trainer = Trainer(spec, dataset, batch, learning_rate, momentum, seed=seed,
                    device=device)
  history = []
  for _ in range(epochs):
    trainer.run()
    history.append(trainer.evaluate(dataset.val_x, dataset.val_y))
  return {'val': history, 'test': trainer.evaluate(dataset.test_x,
                                                  dataset.test_y)}


# -- worker process -----------------------------------------------------------
def load_dataset(data: Dict[str, Any]):
  """dlexp's dataset (same split and standardization) from config overrides
  of the `data` section, e.g. {'train_limit': 2048}."""
  sys.path.insert(0, REPO)
  from dlexp import data as data_lib  # pylint: disable=g-import-not-at-top
  cfg = data_lib.defaults()
  cfg.update(data)
  return data_lib.load(cfg)


def serve(stdin, stdout) -> None:
  """Answers one JSON request per line until 'quit' or end of input.

  {'op': 'setup', 'row': R, 'kind': 'train'|'fit', 'spec': ..., 'data': ...,
  ...}: build row R; {'op': 'run', 'row': R}: one repeat of row R, answered
  with its wall and CPU seconds and the examples it trained on.
  """
  datasets, rows = {}, {}
  device = 'cpu'
  torch.set_num_threads(1)
  for line in stdin:
    req = json.loads(line)
    try:
      if req['op'] == 'quit':
        break
      if req['op'] == 'threads':
        torch.set_num_threads(int(req['threads']))
        device = pick_device(req.get('device', 'cpu'))
        reply = {'version': torch.__version__, 'device': device}
      elif req['op'] == 'setup':
        key = json.dumps(req.get('data', {}), sort_keys=True)
        if key not in datasets:
          datasets[key] = load_dataset(req.get('data', {}))
        rows[req['row']] = _make_row(req, datasets[key], device)
        reply = {}
      else:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        items = rows[req['row']]()
        reply = {'wall_s': time.perf_counter() - wall0,
                 'cpu_s': time.process_time() - cpu0, 'items': items}
    except Exception as e:  # pylint: disable=broad-except
      reply = {'error': f'{type(e).__name__}: {e}'}
    stdout.write(json.dumps(reply) + '\n')
    stdout.flush()


def _make_row(req: Dict[str, Any], dataset, device: str):
  if req.get('kind', 'train') == 'train':
    trainer = Trainer(req['spec'], dataset, req.get('batch', 128),
                      req.get('learning_rate', 0.01), steps=req['steps'],
                      device=device)
    return trainer.run

  def grid() -> int:
    """Sequential runs, one per (learning rate, seed)."""
    for lr in req['learning_rates']:
      for seed in range(req['seeds']):
        fit(req['spec'], dataset, req['epochs'], lr, seed,
            req.get('batch', 128), device=device)
    return 0
  return grid


class Worker:
  """A `--worker` child process; `run(row)` times one repeat there."""

  def __init__(self, threads: int = 1, device: str = 'cpu'):
    self.proc = subprocess.Popen(
        [sys.executable, '-m', 'benchmarks.peers_torch', '--worker'],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=REPO + os.pathsep +
                 os.environ.get('PYTHONPATH', '')))
    reply = self._ask({'op': 'threads', 'threads': threads, 'device': device})
    self.version, self.device = reply['version'], reply['device']

  def _ask(self, request: Dict[str, Any]) -> Dict[str, Any]:
    self.proc.stdin.write(json.dumps(request) + '\n')
    self.proc.stdin.flush()
    line = self.proc.stdout.readline()
    if not line:
      raise RuntimeError('the PyTorch worker exited')
    reply = json.loads(line)
    if 'error' in reply:
      raise RuntimeError(f'PyTorch worker: {reply["error"]}')
    return reply

  def setup(self, row: str, **request) -> None:
    self._ask(dict(request, op='setup', row=row))

  def run(self, row: str):
    """timing.Measured of one repeat of `row` in the worker."""
    # Imported here: dlexp.timing imports jax, which the worker never needs.
    sys.path.insert(0, REPO)
    from dlexp import timing  # pylint: disable=g-import-not-at-top
    reply = self._ask({'op': 'run', 'row': row})
    return timing.Measured(reply['wall_s'], reply['cpu_s'])

  def close(self) -> None:
    if self.proc.poll() is None:
      self.proc.stdin.write(json.dumps({'op': 'quit'}) + '\n')
      self.proc.stdin.close()
      self.proc.wait(timeout=60)


# -- whole training script ----------------------------------------------------
def main(argv: Optional[Sequence[str]] = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--worker', action='store_true',
                      help='serve JSON requests on stdin (see serve)')
  parser.add_argument('--model', default='mlp', choices=('mlp', 'cnn',
                                                         'resnet'))
  parser.add_argument('--depth', type=int, default=20,
                      help='mlp hidden layers / resnet depth')
  parser.add_argument('--width', type=int, default=100)
  parser.add_argument('--epochs', type=int, default=3)
  parser.add_argument('--learning_rate', type=float, default=0.01)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--threads', type=int, default=1)
  parser.add_argument('--device', default='cpu', choices=('cpu', 'cuda',
                                                          'auto'))
  parser.add_argument('--dataset', default='fashion_mnist')
  parser.add_argument('--train_limit', type=int, default=0)
  args = parser.parse_args(argv)
  if args.worker:
    serve(sys.stdin, sys.stdout)
    return
  torch.set_num_threads(args.threads)
  device = pick_device(args.device)
  spec = ({'name': 'mlp', 'hidden': [args.width] * args.depth}
          if args.model == 'mlp' else {'name': args.model, 'depth': args.depth})
  dataset = load_dataset({'name': args.dataset,
                          'train_limit': args.train_limit})
  result = fit(spec, dataset, args.epochs, args.learning_rate, args.seed,
               device=device)
  for epoch, val in enumerate(result['val'], 1):
    print(f'epoch {epoch}: val_loss {val["loss"]:.4f} '
          f'val_accuracy {val["accuracy"]:.4f}')
  print(f'test_accuracy {result["test"]["accuracy"]:.4f}')


if __name__ == '__main__':
  main()
