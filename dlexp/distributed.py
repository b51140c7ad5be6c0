"""Beyond one host: starting JAX's multi-process runtime, and splitting a sweep
into disjoint trial shards.

Multi-process runs (`initialize`). JAX's own runtime does the coordination
(`jax.distributed.initialize`); dlexp only decides whether this process is one
of several, in this order:

1. `distributed.num_processes=1` (or `DLEXP_NUM_PROCESSES=1`): one process,
   nothing is detected.
2. Explicit values, each from the config field or else its environment
   variable: `distributed.coordinator` / `DLEXP_COORDINATOR` ('host:port' of
   process 0), `distributed.num_processes` / `DLEXP_NUM_PROCESSES`,
   `distributed.process_id` / `DLEXP_PROCESS_ID`. A field given both ways
   with two different values is an error. Outside SLURM / Open MPI all three
   are needed; inside them JAX fills in the ones left out.
3. SLURM (`srun` sets SLURM_JOB_ID, SLURM_STEP_NODELIST, SLURM_NTASKS,
   SLURM_PROCID, SLURM_LOCALID) with SLURM_NTASKS > 1: JAX's SlurmCluster
   takes the coordinator from the first node of SLURM_STEP_NODELIST (port
   from the job id, or $JAX_COORDINATOR_PORT), the count from SLURM_NTASKS,
   the id from SLURM_PROCID, and on GPUs restricts each task to GPU
   SLURM_LOCALID (one process per GPU).
4. Open MPI (`mpirun` sets OMPI_MCA_orte_hnp_uri, OMPI_COMM_WORLD_SIZE) with
   more than one rank: JAX's OmpiCluster.
5. A Cloud TPU VM (libtpu installed and TPU chips attached; JAX_PLATFORMS
   unset or naming tpu): `jax.distributed.initialize()` without arguments;
   JAX reads the slice's workers from the VM metadata. On a single-host slice
   that is a one-process runtime, which does no harm.
6. Otherwise one process: nothing is started.

On CPU, cross-process collectives go through gloo: the default of
`jax_cpu_collectives_implementation` in jax 0.10.2, set here only where an
older jax has none.

Trial shards (`trial_shard`, `shard`): `--trial_shard=i/n` or a SLURM array
job picks the i-th of n contiguous, balanced blocks of the grid's ordered
member list (see `shard`).
"""
import dataclasses
import os
import re
from typing import List, Mapping, Optional, Sequence, Tuple, TypeVar

import jax
import ml_collections
import numpy as np
from jax.experimental import multihost_utils

from dlexp.errors import ConfigError

T = TypeVar('T')

# Config field -> environment variable read when the field is left at auto.
ENV = {'coordinator': 'DLEXP_COORDINATOR',
       'num_processes': 'DLEXP_NUM_PROCESSES',
       'process_id': 'DLEXP_PROCESS_ID'}
_AUTO = {'coordinator': '', 'num_processes': 0, 'process_id': -1}
_SLURM_STEP = ('SLURM_JOB_ID', 'SLURM_STEP_NODELIST', 'SLURM_NTASKS',
               'SLURM_PROCID', 'SLURM_LOCALID')  # what JAX's SlurmCluster reads
_SHARD_FORM = 'i/n with 0 <= i < n'


def defaults() -> ml_collections.ConfigDict:
  """The `config.distributed` section: how this process joins a multi-process
  run. Launch settings, not hyperparameters: they change no result."""
  return ml_collections.ConfigDict(dict(
      coordinator='',     # 'host:port' of process 0; '' = $DLEXP_COORDINATOR or detected.
      num_processes=0,    # 0 = $DLEXP_NUM_PROCESSES or detected; 1 = one process, no detection.
      process_id=-1,      # -1 = $DLEXP_PROCESS_ID or detected.
  ))


def validate(cfg: ml_collections.ConfigDict) -> None:
  """Checks the `config.distributed` section; raises ConfigError."""
  _check_values(cfg.coordinator, cfg.num_processes, cfg.process_id,
                {k: f'distributed.{k}' for k in _AUTO})


def _check_values(coordinator: str, num: int, pid: int,
                  names: Mapping[str, str]) -> None:
  if coordinator and not re.fullmatch(r'\S+:\d{1,5}', coordinator):
    raise ConfigError(f'{names["coordinator"]}={coordinator!r} must be '
                      "'host:port' (e.g. '10.0.0.1:1234'), or '' for auto")
  if num < 0:
    raise ConfigError(f'{names["num_processes"]}={num} must be >= 1, or 0 '
                      'for auto')
  if pid < -1 or (num and pid >= num):
    raise ConfigError(f'{names["process_id"]}={pid} must be in [0, '
                      f'{names["num_processes"]}) = [0, {num or "n"}), or -1 '
                      'for auto')


@dataclasses.dataclass(frozen=True)
class Plan:
  """How this process starts: `source` is 'single' (nothing to start),
  'explicit', 'slurm', 'ompi' or 'tpu'; None values are left to JAX's
  cluster detection."""
  source: str
  coordinator: Optional[str] = None
  num_processes: Optional[int] = None
  process_id: Optional[int] = None

  @property
  def multi(self) -> bool:
    return self.source != 'single'


def _section(cfg):
  if cfg is None:
    return defaults()
  return cfg['distributed'] if 'distributed' in cfg else cfg


def _explicit(section, environ: Mapping[str, str]) -> dict:
  """Each field from the config, else its environment variable; both given
  and different is an error (neither silently wins)."""
  out = {}
  for key, var in ENV.items():
    value = section[key]
    raw = environ.get(var, '').strip()
    env_value = _AUTO[key]
    if raw:
      try:
        env_value = raw if key == 'coordinator' else int(raw)
      except ValueError:
        raise ConfigError(f'${var}={raw!r} must be an integer') from None
    if value != _AUTO[key] and env_value != _AUTO[key] and value != env_value:
      raise ConfigError(f'distributed.{key}={value!r} but ${var}={raw!r}; '
                        'give one of them')
    out[key] = value if value != _AUTO[key] else env_value
  _check_values(out['coordinator'], out['num_processes'], out['process_id'],
                {k: f'distributed.{k} (or ${v})' for k, v in ENV.items()})
  return out


def _count(environ, var: str) -> int:
  try:
    return int(environ.get(var, '1'))
  except ValueError:
    return 1


def _on_cloud_tpu(environ) -> bool:
  platforms = environ.get('JAX_PLATFORMS', '')
  if platforms and 'tpu' not in platforms.split(','):
    return False
  # Private, but the flag JAX itself sets at import (libtpu + TPU chips over
  # PCI) and reads for its TPU cluster detection; no public API tells a TPU VM
  # apart without starting the backend, which must not happen before
  # jax.distributed.initialize.
  from jax._src import cloud_tpu_init  # pylint: disable=g-import-not-at-top
  return bool(getattr(cloud_tpu_init, 'running_in_cloud_tpu_vm', False))


def plan(cfg=None, environ: Optional[Mapping[str, str]] = None,
         on_tpu: Optional[bool] = None) -> Plan:
  """Decides how this process starts (see the module docstring); pure apart
  from reading `environ` (default os.environ) and, unless given, whether this
  is a Cloud TPU VM. `cfg`: the whole config, its `distributed` section, or
  None (defaults)."""
  environ = os.environ if environ is None else environ
  given = _explicit(_section(cfg), environ)
  num, pid, coord = (given['num_processes'], given['process_id'],
                     given['coordinator'])
  if num == 1:
    return Plan('single', num_processes=1, process_id=0)
  slurm = all(v in environ for v in _SLURM_STEP)
  ompi = 'OMPI_MCA_orte_hnp_uri' in environ
  if num or coord or pid >= 0:
    if not (slurm or ompi):
      missing = [f'distributed.{k} (or ${ENV[k]})' for k, v in given.items()
                 if v == _AUTO[k]]
      if missing:
        raise ConfigError(f'a multi-process run outside SLURM/Open MPI needs '
                          f'{" and ".join(missing)} as well')
    return Plan('explicit', coord or None, num or None,
                pid if pid >= 0 else None)
  if slurm and _count(environ, 'SLURM_NTASKS') > 1:
    return Plan('slurm')
  if ompi and _count(environ, 'OMPI_COMM_WORLD_SIZE') > 1:
    return Plan('ompi')
  if on_tpu is None:
    on_tpu = _on_cloud_tpu(environ)
  if on_tpu:
    return Plan('tpu')
  return Plan('single', num_processes=1, process_id=0)


def initialize(cfg=None, environ: Optional[Mapping[str, str]] = None) -> Plan:
  """Joins the multi-process run this process belongs to, if any.

  Call it first, before anything touches a JAX device (jax.devices(), an
  array, a compile): JAX refuses to start its runtime after the backend.
  Idempotent; a single process is a no-op. Returns the Plan it followed.
  """
  p = plan(cfg, environ)
  if not p.multi or jax.distributed.is_initialized():
    return p
  # Older jax had no CPU collectives unless asked (0.10.2 defaults to gloo):
  # this only fills that gap and never overrides a user's choice.
  try:
    if jax.config.jax_cpu_collectives_implementation is None:
      jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  except AttributeError:
    pass
  jax.distributed.initialize(coordinator_address=p.coordinator,
                             num_processes=p.num_processes,
                             process_id=p.process_id)
  return p


def is_primary() -> bool:
  """True in the process that writes files (metrics, status, TensorBoard,
  reports): process 0, or the only one."""
  return jax.process_index() == 0


def directory_is_shared(path: str) -> bool:
  """True when every process sees the same `path` (one filesystem, e.g. NFS
  or a Filestore mount): process 0 writes a token there, and every process
  must read it back. Collective: every process calls it with its own view of
  the path. One process: True, nothing written.

  Orbax checkpoints of a multi-process run are written by process 0 and
  listed by every process, so resuming needs a shared directory; on local
  disks the processes disagree about the latest checkpoint and hang.
  """
  if jax.process_count() == 1:
    return True
  nonce = int(multihost_utils.broadcast_one_to_all(
      np.int32(int.from_bytes(os.urandom(3), 'little'))))
  token = os.path.join(path, '.dlexp_shared_check')
  if is_primary():
    os.makedirs(path, exist_ok=True)
    with open(token, 'w') as f:
      f.write(str(nonce))
  multihost_utils.sync_global_devices('dlexp_shared_check_written')
  try:
    with open(token) as f:
      seen = f.read() == str(nonce)
  except OSError:
    seen = False
  shared = bool(multihost_utils.process_allgather(np.int32(seen)).min())
  multihost_utils.sync_global_devices('dlexp_shared_check_read')
  if is_primary():
    os.remove(token)
  return shared


# -- trial shards --------------------------------------------------------------
def shard(items: Sequence[T], index: int, count: int) -> List[T]:
  """The `index`-th of `count` contiguous, balanced blocks of `items`:
  items[index * N // count : (index + 1) * N // count], N = len(items).

  Over index = 0..count-1 the blocks are disjoint, cover every item once and
  keep the order; sizes differ by at most one. Contiguous blocks (not
  round-robin) because members of one group share one compiled program: pass
  the members ordered group by group, and a group is cut at most at the
  count - 1 block boundaries, so the whole sweep compiles at most
  count - 1 programs more than unsharded (round-robin would compile every
  group in every shard).
  """
  if not 0 <= index < count:
    raise ConfigError(f'trial shard {index}/{count} must be {_SHARD_FORM}')
  n = len(items)
  return list(items[index * n // count:(index + 1) * n // count])


def parse_trial_shard(text: str) -> Tuple[int, int]:
  """'i/n' -> (i, n); '' -> (0, 1), the whole grid."""
  text = text.strip()
  if not text:
    return 0, 1
  m = re.fullmatch(r'(\d+)\s*/\s*(\d+)', text)
  if not m or not int(m.group(1)) < int(m.group(2)):
    raise ConfigError(f'--trial_shard={text!r} must be {_SHARD_FORM}')
  return int(m.group(1)), int(m.group(2))


def slurm_array_shard(environ: Optional[Mapping[str, str]] = None
                      ) -> Optional[Tuple[int, int]]:
  """(i, n) of a SLURM array task, or None outside an array job.

  i = (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / step and
  n = SLURM_ARRAY_TASK_COUNT (else (MAX - MIN) / step + 1), step =
  SLURM_ARRAY_TASK_STEP (default 1); `--array=0-3`, `1-4` and `0-6:2` all give
  shards 0..3 of 4. An array with gaps (`--array=1,5,7`) is refused.
  """
  environ = os.environ if environ is None else environ
  if 'SLURM_ARRAY_TASK_ID' not in environ:
    return None
  try:
    task = int(environ['SLURM_ARRAY_TASK_ID'])
    low = int(environ.get('SLURM_ARRAY_TASK_MIN', '0'))
    high = int(environ.get('SLURM_ARRAY_TASK_MAX', str(task)))
    step = int(environ.get('SLURM_ARRAY_TASK_STEP', '1')) or 1
    count = int(environ.get('SLURM_ARRAY_TASK_COUNT',
                            str((high - low) // step + 1)))
  except ValueError:
    raise ConfigError('SLURM_ARRAY_TASK_* must be integers; got ID='
                      f'{environ.get("SLURM_ARRAY_TASK_ID")!r}') from None
  index, off = divmod(task - low, step)
  if off or count != (high - low) // step + 1 or not 0 <= index < count:
    raise ConfigError(
        f'SLURM array task {task} of --array={low}-{high}:{step} '
        f'({count} tasks) is not a range without gaps; submit with '
        '--array=0-(n-1) or pass --trial_shard=i/n')
  return index, count


def trial_shard(text: str = '', environ: Optional[Mapping[str, str]] = None
                ) -> Tuple[int, int]:
  """The (i, n) this process runs: `--trial_shard` if given, else the SLURM
  array task, else (0, 1). A `--trial_shard` that differs from the SLURM
  array task it runs in is an error, not silently preferred."""
  array = slurm_array_shard(environ)
  if not text.strip():
    return array or (0, 1)
  given = parse_trial_shard(text)
  if array is not None and given != array:
    raise ConfigError(
        f'--trial_shard={text.strip()} conflicts with the SLURM array task '
        f'(shard {array[0]}/{array[1]}); drop --trial_shard or the array')
  return given


# -- what the runner shares across processes -----------------------------------
def broadcast(values: Sequence[int]) -> List[int]:
  """Process 0's integers, in every process (one process: unchanged)."""
  if jax.process_count() == 1:
    return list(values)
  return [int(v) for v in multihost_utils.broadcast_one_to_all(
      np.asarray(values, np.int32))]


def any_process(flag: int) -> int:
  """The largest of every process's `flag` (e.g. a signal number, 0 = none):
  all processes stop together when one of them was signalled."""
  if jax.process_count() == 1:
    return int(flag)
  return int(multihost_utils.process_allgather(np.int32(flag)).max())
