"""A trained model on disk: what `dlexp.load`, `init.from_path` and every run
directory's `model/` read and write. No pickle anywhere.

A model directory holds one or more members (seeds) of one config:

  model.json   format and version, the dataset's metadata (name, class names,
               number of classes (0 for regression targets), the shape of
               one target, input shape, standardization mean and std),
               the output dimension, the loss, one entry per member (seed,
               epochs trained, whether the best epoch was restored) and the
               environment (library versions, git commit, devices).
  config.json  {"config": the full flat config, as a run directory's}, with
               seed and num_seeds naming the members.
  state/       Orbax StandardCheckpointer: each member's final train state
               (parameters, batch statistics, optimizer state, step, epoch,
               pruning masks, dropout and data-order keys) under its field
               names, stacked on a leading member axis. `params` and
               `batch_stats` are the final ones (the restored best epoch's
               where early stopping restored it); the rest is the last
               epoch's, so training can continue from it.
  history.json (only from Trained.save) {seed: [per-epoch metrics rows]}.

A directory is written under a temporary name and renamed into place, so a
crash never leaves half a model behind.
"""
import dataclasses
import os
import shutil
import tempfile
from typing import Any, Dict, List, Optional, Tuple

import jax
import numpy as np
import orbax.checkpoint as ocp

from dlexp import records, tree_paths
from dlexp.errors import ConfigError

FORMAT = 'dlexp.model'
VERSION = 1
MODEL_DIR = 'model'  # the model's folder inside a run directory

Path = Tuple[str, ...]


def resolve(path: str, what: str = 'model path') -> str:
  """The model directory `path` names: a model directory, or a run directory
  holding one in model/. One-line ConfigError otherwise."""
  path = os.path.abspath(os.path.expanduser(str(path)))
  if os.path.isfile(os.path.join(path, 'model.json')):
    return path
  inner = os.path.join(path, MODEL_DIR)
  if os.path.isfile(os.path.join(inner, 'model.json')):
    return inner
  if not os.path.exists(path):
    raise ConfigError(f'{what} {path!r} does not exist')
  raise ConfigError(f'{what} {path!r} holds no saved model (no model.json '
                    f'there or in {MODEL_DIR}/); pass a directory written by '
                    'Trained.save or a run directory trained with '
                    'save_model=True')


def _local_checkpointer():
  """An Orbax checkpointer of this process alone: a model directory holds
  host numpy arrays written by one process (process 0 of a multi-process
  run), so no barrier may wait for the others."""
  me = jax.process_index()
  return ocp.StandardCheckpointer(
      multiprocessing_options=ocp.options.MultiprocessingOptions(
          primary_host=me, active_processes={me}))


@dataclasses.dataclass
class SavedModel:
  """A model directory's files, read lazily: the arrays only on `state()`."""
  path: str
  flat_config: Dict[str, Any]
  meta: Dict[str, Any]

  @property
  def seeds(self) -> List[int]:
    return [int(m['seed']) for m in self.meta['members']]

  def state(self) -> Dict[str, Any]:
    """The stacked named state tree (nested dicts of numpy arrays)."""
    with _local_checkpointer() as ckpt:
      tree = ckpt.restore(os.path.join(self.path, 'state'))
    return _to_numpy(tree)

  def shapes(self) -> Dict[Path, Tuple[int, ...]]:
    """Stored shapes without the member axis, from Orbax's metadata."""
    with _local_checkpointer() as ckpt:
      tree = ckpt.metadata(os.path.join(self.path, 'state')).item_metadata
    tree = getattr(tree, 'tree', tree)
    return {p: tuple(m.shape)[1:] for p, m in tree_paths.flat(tree).items()}

  def history(self) -> Dict[int, List[Dict[str, Any]]]:
    """Per-epoch metrics per seed: history.json, or the run directory's
    metrics.jsonl beside model/; {} when neither exists."""
    saved = records.read_json(os.path.join(self.path, 'history.json'))
    if saved is not None:
      return {int(k): v for k, v in saved.items()}
    run_dir = os.path.dirname(self.path)
    rows = records.read_metrics(os.path.join(run_dir, 'metrics.jsonl'))
    if rows and len(self.seeds) == 1:
      return {self.seeds[0]: rows}
    return {}


def read(path: str, what: str = 'model path') -> SavedModel:
  """The SavedModel at `path` (see `resolve`); checks the format."""
  directory = resolve(path, what)
  meta = records.read_json(os.path.join(directory, 'model.json'))
  stored = records.read_json(os.path.join(directory, 'config.json'))
  if (not meta or meta.get('format') != FORMAT or not stored
      or 'config' not in stored or not os.path.isdir(
          os.path.join(directory, 'state'))):
    raise ConfigError(f'{what} {directory!r} is not a readable dlexp model '
                      '(model.json, config.json or state/ missing or not '
                      'written by dlexp)')
  if meta.get('version', 0) > VERSION:
    raise ConfigError(f'{what} {directory!r} has model format version '
                      f'{meta["version"]}; this dlexp reads up to {VERSION}')
  return SavedModel(directory, stored['config'], meta)


def dataset_meta(dataset) -> Dict[str, Any]:
  """What predicting needs to know of the training data."""
  return dict(name=dataset.name, class_names=list(dataset.class_names),
              num_classes=int(dataset.num_classes),  # 0: regression
              target_shape=[int(d) for d in dataset.train_y.shape[1:]],
              input_shape=[int(d) for d in dataset.input_shape],
              mean=np.asarray(dataset.mean).tolist(),
              std=np.asarray(dataset.std).tolist())


def write(path: str, state: Dict[str, Any], flat_config: Dict[str, Any],
          meta: Dict[str, Any],
          history: Optional[Dict[int, List[Dict[str, Any]]]] = None) -> str:
  """Writes a model directory at `path` (replacing one that is there).

  `state`: the named state tree stacked over members (numpy leaves);
  `meta`: model.json's content without format and version.
  """
  path = os.path.abspath(os.path.expanduser(str(path)))
  parent = os.path.dirname(path)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(dir=parent, prefix=f'.{os.path.basename(path)}.tmp-')
  try:
    with _local_checkpointer() as ckpt:
      ckpt.save(os.path.join(tmp, 'state'), state)
      ckpt.wait_until_finished()
    records.write_json(os.path.join(tmp, 'config.json'),
                       {'config': flat_config})
    records.write_json(os.path.join(tmp, 'model.json'),
                       dict(meta, format=FORMAT, version=VERSION))
    if history is not None:
      records.write_json(os.path.join(tmp, 'history.json'),
                         {str(k): v for k, v in history.items()})
    if os.path.isdir(path):
      shutil.rmtree(path)
    os.replace(tmp, path)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  return path


# -- trees by name -------------------------------------------------------------
def _to_numpy(tree):
  if isinstance(tree, dict):
    return {k: _to_numpy(v) for k, v in tree.items()}
  return np.asarray(tree)


def subtree(state: Dict[str, Any], name: str) -> Dict[str, Any]:
  """state[name] or {} (empty collections are not stored)."""
  return state.get(name, {}) if isinstance(state, dict) else {}


def take(tree, index: int):
  """Member `index` of a stacked nested-dict tree."""
  if isinstance(tree, dict):
    return {k: take(v, index) for k, v in tree.items()}
  return tree[index]


def stack(trees: List[Any]):
  """Stacks nested-dict trees of equal structure on a new leading axis."""
  first = trees[0]
  if isinstance(first, dict):
    return {k: stack([t[k] for t in trees]) for k in first}
  return np.stack([np.asarray(t) for t in trees])

