"""Orbax checkpoints of a group's whole run state (train states, trackers:
parameters, batch statistics, optimizer state, step, rng keys, early-stopping
state, the data-order position), one per saved epoch, committed atomically.

Leaves are stored under index keys with their tree paths, shapes and dtypes in
a JSON item beside them, so a checkpoint from a different model is refused
with the first mismatching path and both shapes before anything is loaded.
"""
import os
import re
import shutil
import sys
from typing import Any, Dict, List, Optional, Tuple

import jax
import numpy as np
import orbax.checkpoint as ocp

from dlexp.errors import DlexpError


def _leaves(tree) -> Tuple[List[str], List[Any], Any]:
  flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
  return [jax.tree_util.keystr(p) for p, _ in flat], [x for _, x in flat], treedef


class GroupCheckpoints:
  """Checkpoints of one group of members under `directory`/<epoch>/."""

  def __init__(self, directory: str, keep: int, member_axis: bool = False):
    self.directory = directory
    self.member_axis = member_axis  # leaves are stacked over members
    os.makedirs(directory, exist_ok=True)
    self._mgr = ocp.CheckpointManager(
        directory, item_names=('state', 'meta'),
        options=ocp.CheckpointManagerOptions(
            max_to_keep=keep, enable_async_checkpointing=False,
            create=True))

  def save(self, epoch: int, tree: Any, meta: Dict[str, Any]) -> None:
    paths, leaves, _ = _leaves(tree)
    state = {f'leaf_{i:05d}': np.asarray(x) for i, x in enumerate(leaves)}
    meta = dict(meta, epoch=epoch, paths=paths,
                shapes=[list(np.shape(x)) for x in leaves],
                dtypes=[str(np.asarray(x).dtype) for x in leaves])
    if epoch in self.epochs():
      # An unreadable checkpoint that resume skipped: replaced by this one.
      shutil.rmtree(os.path.join(self.directory, str(epoch)))
      self._mgr.reload()
    self._mgr.save(epoch, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
        force=True)
    self._mgr.wait_until_finished()

  def epochs(self) -> List[int]:
    self._mgr.reload()
    return sorted(self._mgr.all_steps())

  def restore_latest(self, target: Any, warn=None
                     ) -> Optional[Tuple[int, Any, Dict[str, Any]]]:
    """(epoch, tree, meta) of the newest readable checkpoint, or None.

    A checkpoint that cannot be read (corrupt, half-written) is skipped with a
    warning and the one before it is tried. A checkpoint of a different model
    raises DlexpError naming the first mismatching path and both shapes.
    """
    warn = warn or (lambda m: print(m, file=sys.stderr))
    paths, leaves, treedef = _leaves(target)
    for epoch in reversed(self.epochs()):
      try:
        meta = self._mgr.restore(epoch, args=ocp.args.Composite(
            meta=ocp.args.JsonRestore()))['meta']
      except Exception as e:  # pylint: disable=broad-except
        warn(f'warning: checkpoint {self.directory}/{epoch} unreadable '
             f'({type(e).__name__}); trying the one before it')
        continue
      _check_compatible(meta, paths, leaves, f'{self.directory}/{epoch}',
                        self.member_axis)
      abstract = {f'leaf_{i:05d}': jax.ShapeDtypeStruct(np.shape(x),
                                                        np.asarray(x).dtype)
                  for i, x in enumerate(leaves)}
      try:
        state = self._mgr.restore(epoch, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract)))['state']
      except Exception as e:  # pylint: disable=broad-except
        warn(f'warning: checkpoint {self.directory}/{epoch} unreadable '
             f'({type(e).__name__}: {str(e).splitlines()[0][:120]}); trying '
             'the one before it')
        continue
      restored = [np.asarray(state[f'leaf_{i:05d}']) for i in range(len(leaves))]
      return epoch, jax.tree_util.tree_unflatten(treedef, restored), meta
    return None

  def close(self) -> None:
    self._mgr.close()

  def remove(self) -> None:
    self.close()
    shutil.rmtree(self.directory, ignore_errors=True)


def readable(path: str) -> str:
  """"[0][1].params['dense1']['bias']" -> 'params/dense1/bias'."""
  path = re.sub(r'^(\[\d+\])+', '', path)
  parts = re.findall(r"\['([^']*)'\]|\.(\w+)|\[(\d+)\]", path)
  return '/'.join(next(x for x in p if x) for p in parts) or path


def _check_compatible(meta, paths, leaves, where: str,
                      member_axis: bool) -> None:
  """Raises naming the first mismatching path and both shapes (without the
  leading member axis when the tree is stacked over members)."""
  cut = 1 if member_axis else 0
  saved = [(readable(p), tuple(s[cut:]))
           for p, s in zip(meta['paths'], meta['shapes'])]
  current = [(readable(p), tuple(np.shape(x)[cut:]))
             for p, x in zip(paths, leaves)]
  for (sp, ss), (cp, cs) in zip(saved, current):
    if sp != cp:
      raise DlexpError(f'checkpoint {where} is of a different model: it has '
                       f'{sp} {ss} where the model has {cp} {cs}; use a new '
                       '--workdir')
    if ss != cs:
      raise DlexpError(f'checkpoint {where} is of a different model: {cp} has '
                       f'shape {ss} in the checkpoint and {cs} in the model; '
                       'use a new --workdir')
  if len(saved) != len(current):
    extra = saved[len(current):] or current[len(saved):]
    raise DlexpError(f'checkpoint {where} is of a different model: '
                     f'{extra[0][0]} is only in one of them; use a new '
                     '--workdir')
