"""Orbax checkpoints of a group's whole run state (train states, trackers:
parameters, batch statistics, optimizer state, step, rng keys, early-stopping
state, the data-order position), one per saved epoch, committed atomically.

Saving is asynchronous in a single-process run (Orbax's own async
checkpointing): the state is copied to host memory, then written while the
next epoch trains; the next save, a restore, a listing and close() wait for
it. A process killed mid-write leaves an uncommitted checkpoint, which resume
never reads (the previous one is used).

The tree is saved under its own names (`tree_paths.nested`: nested dicts of the field,
key and index names) and restored against an abstract target. Orbax restores
a different shape without complaint, so a checkpoint of another model is
refused first, from Orbax's stored metadata, with the first mismatching
parameter path and both shapes.
"""
import os
import shutil
import sys
from typing import Any, Dict, List, Optional, Tuple

import jax
import numpy as np
import orbax.checkpoint as ocp

from dlexp.errors import DlexpError
from dlexp import tree_paths


class GroupCheckpoints:
  """Checkpoints of one group of members under `directory`/<epoch>/."""

  def __init__(self, directory: str, keep: int, member_axis: bool = False):
    self.directory = directory
    self.member_axis = member_axis  # leaves are stacked over members
    os.makedirs(directory, exist_ok=True)
    # Handlers named up front, so that a fresh manager (a resumed process)
    # can read the stored metadata before any restore. Several processes
    # save synchronously: a background commit there needs cross-process
    # barriers that a single-process run does not.
    self.asynchronous = jax.process_count() == 1
    self._mgr = ocp.CheckpointManager(
        directory, item_handlers=dict(state=ocp.StandardCheckpointHandler(),
                                      meta=ocp.JsonCheckpointHandler()),
        options=ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=True,
            enable_async_checkpointing=self.asynchronous))

  def save(self, epoch: int, tree: Any, meta: Dict[str, Any]) -> None:
    # Copies (np.array, not np.asarray, which can be a view of a device
    # buffer that the next epoch's donated step overwrites mid-write).
    state = tree_paths.nested(jax.tree_util.tree_map(np.array, tree))
    if epoch in self.epochs():
      # An unreadable checkpoint that resume skipped: replaced by this one.
      if jax.process_index() == 0:  # one writer on a shared directory
        shutil.rmtree(os.path.join(self.directory, str(epoch)))
      self._mgr.reload()
    self._mgr.save(epoch, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        meta=ocp.args.JsonSave(dict(meta, epoch=epoch))), force=True)

  def epochs(self) -> List[int]:
    self._mgr.wait_until_finished()
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
    flat, treedef = jax.tree_util.tree_flatten_with_path(target)
    abstract = tree_paths.nested(jax.tree_util.tree_map(
        lambda x: jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype),
        target))
    for epoch in reversed(self.epochs()):
      where = f'{self.directory}/{epoch}'
      try:
        saved = self._mgr.item_metadata(epoch)['state'].tree
        _check_compatible(saved, abstract, where, self.member_axis)
        restored = self._mgr.restore(epoch, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract),
            meta=ocp.args.JsonRestore()))
      except DlexpError:
        raise
      except Exception as e:  # pylint: disable=broad-except
        first = str(e).splitlines()[0][:120] if str(e) else ''
        warn(f'warning: checkpoint {where} unreadable ({type(e).__name__}: '
             f'{first}); trying the one before it')
        continue
      state = restored['state']
      leaves = []
      for path, _ in flat:
        node = state
        for k in path:
          node = node[tree_paths.key_name(k)]
        leaves.append(np.asarray(node))
      return epoch, jax.tree_util.tree_unflatten(treedef, leaves), (
          restored['meta'])
    return None

  def close(self) -> None:
    self._mgr.wait_until_finished()
    self._mgr.close()

  def remove(self) -> None:
    self.close()
    shutil.rmtree(self.directory, ignore_errors=True)


def _readable(path: Tuple[str, ...]) -> str:
  """('0', '1', 'params', 'dense1', 'bias') -> 'params/dense1/bias': the
  leading indices (which list, which group chunk) name no parameter."""
  i = 0
  while i < len(path) - 1 and path[i].isdigit():
    i += 1
  return '/'.join(path[i:])


def _check_compatible(saved, abstract, where: str, member_axis: bool) -> None:
  """Raises naming the first mismatching path and both shapes (without the
  leading member axis when the tree is stacked over members)."""
  if not isinstance(saved, dict) or not saved:
    raise ValueError('no readable state metadata')
  cut = 1 if member_axis else 0
  have = {p: tuple(m.shape)[cut:] for p, m in tree_paths.flat(saved).items()}
  want = {p: tuple(x.shape)[cut:] for p, x in tree_paths.flat(abstract).items()}
  prefix = f'checkpoint {where} is of a different model: '
  for path, shape in want.items():
    if path not in have:
      raise DlexpError(f'{prefix}{_readable(path)} {shape} is not in the '
                       'checkpoint; use a new --workdir')
    if have[path] != shape:
      raise DlexpError(f'{prefix}{_readable(path)} has shape {have[path]} in '
                       f'the checkpoint and {shape} in the model; use a new '
                       '--workdir')
  for path, shape in have.items():
    if path not in want:
      raise DlexpError(f'{prefix}{_readable(path)} {shape} is not in the '
                       'model; use a new --workdir')


class NoCheckpoints:
  """GroupCheckpoints' interface, keeping nothing (a multi-process run whose
  workdir is not shared by every process cannot resume: see
  dlexp.distributed.directory_is_shared)."""

  def save(self, epoch: int, tree: Any, meta: Dict[str, Any]) -> None:
    del epoch, tree, meta

  def restore_latest(self, target: Any, warn=None):
    del target, warn
    return None

  def close(self) -> None:
    pass
