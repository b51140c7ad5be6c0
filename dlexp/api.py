"""The Keras workflow as a Python API: fit, evaluate, predict, save, load,
fine-tune.

    import dlexp
    trained = dlexp.fit({'data.name': 'fashion_mnist', 'epochs': 5})
    trained.evaluate('test')             # {'loss': ..., 'accuracy': ...}
    probs = trained.predict(x)           # (N, K) class probabilities
    trained.save('fmnist_mlp')
    again = dlexp.load('fmnist_mlp')     # or any run directory of a sweep
    longer = again.fit(epochs=2)         # 2 more epochs, as if trained 7

`fit` trains through `dlexp.train.runner.run`, the programs every experiment
script runs, and reads the model back from the run directory it wrote (see
dlexp.train.model_io for the files). Transfer learning is configuration:
`init.from_path`, `init.skip`, `train.freeze` (dlexp.train.transfer).

Seeds: a config with num_seeds > 1 trains every seed; the Trained holds them
all (`seeds`, `history[seed]`, `results`), and `predict`, `evaluate` and
`params` use one member: `seed=None` is the first seed (no ensembling).

predict returns class probabilities (N, K), K = the number of classes:
softmax for cross_entropy and focal; for binary cross-entropy with one logit
the columns are [1 - p, p], with K logits each column is its own sigmoid;
for the regression losses (mse, mae, huber) the raw outputs. A model of
float regression targets predicts targets shaped like them ((N,) or (N, d)).
"""
import copy
import hashlib
import os
import shutil
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dlexp import config as config_lib
from dlexp import data as data_lib
from dlexp import losses, models, records
from dlexp.data import transforms
from dlexp.errors import ConfigError, DataError, DlexpError
from dlexp.train import model_io, runner

Data = Union[str, Tuple[Any, Any]]


# -- fit -----------------------------------------------------------------------
def _config(config):
  """A validated copy: a ConfigDict, a {path: value} dict of overrides of the
  defaults, or None (the defaults)."""
  if config is None or isinstance(config, Mapping) and not isinstance(
      config, ml_collections.ConfigDict):
    cfg = config_lib.default_config()
    for path, value in (config or {}).items():
      config_lib.set_value(cfg, path, value)
  elif isinstance(config, ml_collections.ConfigDict):
    cfg = copy.deepcopy(config)
  else:
    raise ConfigError(f'config={type(config).__name__} not allowed; pass a '
                      'ConfigDict (dlexp.config.default_config()) or a dict '
                      "of overrides such as {'epochs': 5}")
  config_lib.validate(cfg)
  if not cfg.save_model:
    raise ConfigError('save_model=False not allowed in dlexp.fit: the '
                      'trained model is what it returns')
  return cfg


def _check_data_fields(cfg, dataset) -> None:
  """With a Dataset given, config.data has nothing to say: a changed field
  would be silently ignored."""
  defaults = config_lib.flatten(data_lib.defaults())
  for key, value in config_lib.flatten(cfg.data).items():
    if key != 'name' and value != defaults[key]:
      raise ConfigError(f'data.{key}={value!r} does not apply to the dataset '
                        f'{dataset.name!r} passed as data= (set its split in '
                        'dlexp.data.from_arrays); leave config.data alone')


def fingerprint(dataset) -> str:
  """Hash of a dataset's arrays: part of the runs' identity when it is passed
  in rather than named by config.data."""
  h = hashlib.sha256()
  for name in ('train_x', 'train_y', 'val_x', 'val_y', 'test_x', 'test_y',
               'mean', 'std'):
    a = np.ascontiguousarray(getattr(dataset, name))
    h.update(f'{name}{a.shape}{a.dtype}'.encode())
    h.update(a.tobytes())
  return h.hexdigest()[:16]


def fit(config=None, data=None, workdir: Optional[str] = None,
        out=None) -> 'Trained':
  """Trains every seed of `config` and returns the Trained model.

  config: a ConfigDict, a dict of {config path: value} overrides, or None.
  data: None (config.data names the dataset), or a dlexp Dataset such as
    dlexp.data.from_arrays(...) gives.
  workdir: where the run directories go (a relaunch skips finished runs);
    None trains in a temporary directory that is removed afterwards.
  out: None prints progress; a callable gets each line; False is quiet.
  """
  cfg = _config(config)
  if data is None:
    return _fit(cfg, data_lib.load(cfg.data), True, workdir, out)
  if not isinstance(data, data_lib.Dataset):
    raise DataError(f'data={type(data).__name__} not allowed; pass a dlexp '
                    'Dataset (dlexp.data.from_arrays) or None')
  _check_data_fields(cfg, data)
  return _fit(cfg, data, False, workdir, out)


def _fit(cfg, dataset, named: bool, workdir: Optional[str], out
         ) -> 'Trained':
  """fit on `dataset`: the one config.data names (`named`), or one passed
  in, whose fingerprint then joins the runs' identity."""
  options = None if named else {
      'data': f'{dataset.name}:{fingerprint(dataset)}'}
  printer = runner.Printer(quiet=True) if out is False else out
  temporary = workdir is None
  workdir = tempfile.mkdtemp(prefix='dlexp-fit-') if temporary else workdir
  try:
    # The summary is Trained.summary()'s to print, not fit's.
    results = runner.run(cfg, {}, workdir, out=printer, dataset=dataset,
                         script_options=options, show_models=False)
    failed = [r for r in results if r['status'] == 'failed']
    if failed:
      status = records.read_json(os.path.join(failed[0]['directory'],
                                              'status.json')) or {}
      raise DlexpError(f'training seed {failed[0]["seed"]} failed: '
                       f'{status.get("error", "see its status.json")}')
    trained = _from_run_dirs([r['directory'] for r in results], dataset)
    trained.results = results
    if temporary:
      trained.directories = []
  finally:
    if temporary:
      shutil.rmtree(workdir, ignore_errors=True)
  return trained


def _from_run_dirs(directories: Sequence[str], dataset) -> 'Trained':
  saved = [model_io.read(d, 'run directory') for d in directories]
  state = model_io.stack([model_io.take(s.state(), 0) for s in saved])
  history = {}
  for s in saved:
    history.update(s.history())
  meta = dict(saved[0].meta,
              members=[m for s in saved for m in s.meta['members']])
  flat = dict(saved[0].flat_config, num_seeds=len(saved))
  trained = Trained(flat, meta, state, history, dataset=dataset)
  trained.directories = list(directories)
  return trained


def load(path: Union[str, Sequence[str]]) -> 'Trained':
  """The model saved at `path`: a directory from Trained.save, a run
  directory (of any sweep) or its model/ folder; or a list of run
  directories (one seed each, e.g. a trial's seeds), as one Trained holding
  every seed, in the order given (save() then writes one model of all of
  them, from which init.from_path starts each seed from its own)."""
  if not isinstance(path, (str, os.PathLike)):
    paths = list(path)
    if not paths:
      raise ConfigError('load([]) needs at least one run directory')
    return _from_run_dirs(paths, None)
  saved = model_io.read(path)
  trained = Trained(saved.flat_config, saved.meta, saved.state(),
                    saved.history(), path=saved.path)
  run_dir = os.path.dirname(saved.path)
  if os.path.basename(saved.path) == model_io.MODEL_DIR and os.path.isfile(
      os.path.join(run_dir, 'status.json')):
    trained.directories = [run_dir]
  return trained


# -- the trained model -----------------------------------------------------------
class Trained:
  """A trained model: its config, dataset metadata, per-seed final state
  (parameters, batch statistics, optimizer state, ...) and history."""

  def __init__(self, flat_config: Dict[str, Any], meta: Dict[str, Any],
               state: Dict[str, Any], history: Dict[int, List[dict]],
               dataset=None, path: Optional[str] = None):
    cfg = config_lib.default_config()
    for key, value in flat_config.items():
      config_lib.set_value(cfg, key, value)
    self.config = cfg
    self.meta = meta
    self.state = state  # named tree, stacked over seeds (see model_io)
    self.history = history  # seed -> per-epoch metrics rows
    self.results: List[Dict[str, Any]] = []  # runner results (from fit)
    self.directories: List[str] = []  # run directories, where known
    self.dataset = dataset
    self.path = path  # where it was loaded from (unchanged since)
    self._model = None
    self._apply = None

  # -- what it is --------------------------------------------------------------
  @property
  def seeds(self) -> List[int]:
    return [int(m['seed']) for m in self.meta['members']]

  @property
  def epochs(self) -> List[int]:
    """Epochs trained, per seed."""
    return [int(m['epochs']) for m in self.meta['members']]

  @property
  def class_names(self) -> Tuple[str, ...]:
    return tuple(self.meta['dataset']['class_names'])

  @property
  def num_classes(self) -> int:
    return int(self.meta['dataset']['num_classes'])

  @property
  def target_shape(self) -> Tuple[int, ...]:
    """Shape of one regression target (() for (N,) targets)."""
    return tuple(self.meta['dataset'].get('target_shape', ()))

  @property
  def input_shape(self) -> Tuple[int, ...]:
    return tuple(self.meta['dataset']['input_shape'])

  def __repr__(self) -> str:
    task = (f'{self.num_classes} classes' if self.num_classes else
            f'regression targets {self.target_shape}')
    return (f'Trained({self.config.model.name} on '
            f'{self.meta["dataset"]["name"]}, seeds {self.seeds}, epochs '
            f'{self.epochs}, {task})')

  def _index(self, seed: Optional[int]) -> int:
    if seed is None:
      return 0
    if seed not in self.seeds:
      raise ConfigError(f'seed={seed!r} is not one of this model\'s seeds '
                        f'{self.seeds}')
    return self.seeds.index(seed)

  def params(self, seed: Optional[int] = None):
    """The parameters of one seed (nested dicts of numpy arrays)."""
    return model_io.take(self.state['params'], self._index(seed))

  def batch_stats(self, seed: Optional[int] = None):
    return model_io.take(self.state.get('batch_stats', {}), self._index(seed))

  @property
  def model(self):
    """The flax module."""
    if self._model is None:
      self._model = models.build_model(
          self.config.model, int(self.meta['output_dim']), self.input_shape)
    return self._model

  def summary(self) -> str:
    return models.summary(self.model, self.input_shape,
                          self.num_classes or None)

  # -- inputs ------------------------------------------------------------------
  def preprocess(self, x) -> np.ndarray:
    """Raw inputs as training saw them: float32 (uint8 pixels scaled as
    data.scale says), resized and given channels as data.resize and
    data.channels say (dlexp.data.transforms), standardized with the
    training statistics."""
    x = np.asarray(x)
    shape, data_cfg = self.input_shape, self.config.data
    after = lambda a: transforms.output_shape(a.shape[1:], data_cfg)
    if x.ndim >= 2 and after(x) != shape and after(x[..., None]) == shape:
      x = x[..., None]  # (N, 28, 28) images: the channel axis added
    if x.ndim < 2 or after(x) != shape:
      raise DataError(f'x has shape {x.shape}; this model takes (N,) + '
                      f'{shape}' + (' after the data transforms'
                                    if after(x) != x.shape[1:] else ''))
    out = transforms.apply(x, data_cfg)
    mean = np.asarray(self.meta['dataset']['mean'], np.float32)
    std = np.asarray(self.meta['dataset']['std'], np.float32)
    return (out - mean) / std

  def _outputs(self, fn, x: np.ndarray, batch_size: int, seed) -> np.ndarray:
    """fn(params, batch_stats, rate, xb) over batches of x (standardized):
    one compiled program per padded batch shape."""
    n = len(x)
    if batch_size < 1:
      raise ConfigError(f'batch_size={batch_size} must be >= 1')
    # Small inputs are padded to a power of two: few compiles, little waste.
    b = min(batch_size, 1 << max(n - 1, 0).bit_length())
    params, bstats = self.params(seed), self.batch_stats(seed)
    rate = jnp.float32(self.config.model.dropout_rate)
    outs = []
    for start in range(0, n, b):
      xb = x[start:start + b]
      pad = b - len(xb)
      if pad:
        xb = np.concatenate([xb, np.zeros((pad,) + xb.shape[1:], xb.dtype)])
      outs.append(np.asarray(fn(params, bstats, rate, xb))[:b - pad])
    return np.concatenate(outs) if outs else np.zeros((0,), np.float32)

  def _logits_fn(self):
    if self._apply is None:
      model = self.model

      def logits(params, bstats, rate, x):
        variables = {'params': params}
        if bstats:
          variables['batch_stats'] = bstats
        return model.apply(variables, x, train=False, dropout_rate=rate)
      self._apply = jax.jit(logits)
    return self._apply

  # -- predict, evaluate ---------------------------------------------------------
  def logits(self, x, batch_size: int = 1000, seed: Optional[int] = None,
             standardized: bool = False) -> np.ndarray:
    """The model's outputs before the final nonlinearity."""
    x = np.asarray(x, np.float32) if standardized else self.preprocess(x)
    return self._outputs(self._logits_fn(), x, batch_size, seed)

  def predict(self, x, batch_size: int = 1000, seed: Optional[int] = None
              ) -> np.ndarray:
    """(N, K) class probabilities of raw inputs x (see the module docstring);
    jitted and batched, any N."""
    outputs = self.logits(x, batch_size, seed)
    if self.num_classes == 0:  # regression targets
      return outputs.reshape((len(outputs),) + self.target_shape)
    return probabilities(outputs, self.config.loss.name)

  def evaluate(self, data: Data = 'test', batch_size: int = 1000,
               seed: Optional[int] = None) -> Dict[str, float]:
    """Loss and metrics ({'loss', 'accuracy', ...}) on a split of the
    training dataset ('train', 'val', 'test') or on raw (x, y)."""
    x, y, standardized = self._eval_data(data)
    logits = self.logits(x, batch_size, seed, standardized=standardized)
    hp = {p: float(self.config.loss[p.split('.', 1)[1]])
          for p in losses.TRACED}
    loss_fn = losses.make_loss(self.config.loss, self.num_classes)
    out = {'loss': float(np.mean(loss_fn(logits, y, hp)))}
    for name, fn in losses.make_metrics(self.config.loss,
                                        self.num_classes == 0).items():
      out[name] = float(np.mean(fn(logits, y)))
    return out

  def _eval_data(self, data: Data):
    if isinstance(data, str):
      if data not in ('train', 'val', 'test'):
        raise ConfigError(f"data={data!r} not allowed; allowed: 'train', "
                          "'val', 'test' or (x, y)")
      dataset = self._dataset()
      x, y = getattr(dataset, f'{data}_x'), getattr(dataset, f'{data}_y')
      if not len(y):
        raise DataError(f'the {data} split of {dataset.name} is empty')
      return x, y, True
    try:
      x, y = data
    except (TypeError, ValueError):
      raise DataError('data must be a split name or an (x, y) pair') from None
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1 and self.num_classes:
      y = y[:, 0]  # (N, 1) class ids
    if len(y) != len(x):
      raise DataError(f'x has {len(x)} examples and y {len(y)}')
    return x, y, False

  def _named_data(self) -> bool:
    """Whether config.data names the training dataset (else it was passed
    in as arrays)."""
    return self.meta['dataset']['name'] == self.config.data.name

  def _dataset(self):
    """The training dataset (standardized): held since fit, or loaded from
    config.data if this model was trained on a named dataset."""
    if self.dataset is None:
      if not self._named_data():
        raise DataError(f'this model was trained on '
                        f'{self.meta["dataset"]["name"]!r} passed as arrays; '
                        'pass the data: evaluate((x, y)), fit(data=...)')
      self.dataset = data_lib.load(self.config.data)
    return self.dataset

  # -- save, fit further ---------------------------------------------------------
  def flat_config(self) -> Dict[str, Any]:
    flat = config_lib.flatten(self.config)
    seeds = self.seeds
    if seeds != list(range(seeds[0], seeds[0] + len(seeds))):
      raise DlexpError(f'seeds {seeds} are not consecutive')
    flat.update(seed=seeds[0], num_seeds=len(seeds))
    return flat

  def save(self, path: str) -> str:
    """Writes the model directory (see dlexp.train.model_io); returns it."""
    meta = {k: v for k, v in self.meta.items()
            if k not in ('format', 'version')}
    return model_io.write(path, self.state, self.flat_config(), meta,
                          history=self.history)

  def fit(self, epochs: int, data=None, workdir: Optional[str] = None,
          out=None) -> 'Trained':
    """Trains `epochs` more epochs from where this model stopped (optimizer
    state, step, data order and rng keys included): the result equals a first
    run trained that much longer (same seeds, data and static config; a
    schedule then spans the longer run). Where early stopping restored the
    best epoch, training goes on from those parameters with the last epoch's
    optimizer state, as Keras does after restore_best_weights. `data`: None
    is the training dataset (a named one, or the arrays this Trained still
    holds); a Dataset passed replaces config.data. Returns a new Trained."""
    if not isinstance(epochs, int) or epochs < 1:
      raise ConfigError(f'epochs={epochs!r} must be an int >= 1')
    done = set(self.epochs)
    if len(done) > 1:
      raise ConfigError(f'the seeds stopped at different epochs '
                        f'{sorted(done)}; continue them one seed at a time')
    source = self.path
    tmp = None
    if source is None:
      tmp = tempfile.mkdtemp(prefix='dlexp-continue-')
      source = self.save(os.path.join(tmp, 'model'))
    try:
      cfg = copy.deepcopy(self.config)
      cfg.seed, cfg.num_seeds = self.seeds[0], len(self.seeds)
      cfg.init.from_path, cfg.init.restore, cfg.init.skip = source, 'state', ()
      cfg.epochs = done.pop() + epochs
      if data is None:
        return _fit(cfg, self._dataset(), self._named_data(), workdir, out)
      cfg.data = data_lib.defaults()  # the dataset passed replaces it
      return fit(cfg, data, workdir, out)
    finally:
      if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


def probabilities(logits: np.ndarray, loss_name: str) -> np.ndarray:
  """Class probabilities from a model's outputs (see the module docstring)."""
  if loss_name in losses.REGRESSION:
    return np.asarray(logits)
  z = jnp.asarray(logits, jnp.float32)
  if loss_name in ('binary_cross_entropy', 'bce'):
    p = jax.nn.sigmoid(z)
    if z.shape[-1] == 1:
      p = jnp.concatenate([jax.nn.sigmoid(-z), p], axis=-1)
    return np.asarray(p)
  return np.asarray(jax.nn.softmax(z, axis=-1))
