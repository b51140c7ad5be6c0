"""The generated reference (docs/REFERENCE.md): up to date, complete, and the
--check / --write command line."""
import importlib
import os
import pkgutil
import subprocess
import sys

import ml_collections
import pytest

import dlexp
from dlexp import config as config_lib
from dlexp import models, reference
from dlexp.registry import Registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, 'docs', 'REFERENCE.md')


@pytest.fixture(scope='module')
def generated():
  return reference.generate()


def _rows(text):
  """{first cell: row} of every markdown table row."""
  out = {}
  for line in text.splitlines():
    if line.startswith('| `'):
      out.setdefault(line.split('`')[1], []).append(line)
  return out


def test_reference_md_is_up_to_date():
  # Fails when a knob, name or description changed without regenerating.
  message = reference.check(DOC)
  assert message is None, message


def test_readme_links_the_reference_instead_of_embedding_it():
  with open(os.path.join(ROOT, 'README.md')) as f:
    readme = f.read()
  assert reference.START not in readme
  assert '(docs/REFERENCE.md)' in readme


def test_every_registry_in_the_package_is_listed():
  listed = {id(g.registry) for g in reference.choices() if g.registry}
  for info in pkgutil.walk_packages(dlexp.__path__, 'dlexp.'):
    module = importlib.import_module(info.name)
    for attr, value in vars(module).items():
      if isinstance(value, Registry):
        assert id(value) in listed, (
            f'{info.name}.{attr} ({value.kind}) is missing from '
            'dlexp.reference.choices()')


def test_every_name_appears_with_a_description(generated):
  for group in reference.choices():
    if group.registry is not None:
      assert list(group.entries) == group.registry.names()
    section = generated.split(f'### {group.title} (`{group.field}`)')[1]
    section = section.split('\n### ')[0]
    rows = _rows(section)
    for name in group.entries:
      assert name in rows, f'{group.title}: {name} missing'
      description = rows[name][0].split('|')[2].strip()
      assert description, (
          f'{group.title} {name!r} has no description: give it a docstring '
          'or an entry in reference.ENTRY_DESCRIPTIONS')


def test_every_config_field_appears_with_default_and_traced_mark(generated):
  flat = config_lib.flatten(config_lib.default_config())
  traced = set(config_lib.traced_fields())
  rows = _rows(generated.split('## Config fields')[1])
  assert set(rows) == set(flat)
  for path, value in flat.items():
    assert len(rows[path]) == 1, path
    cells = [c.strip() for c in rows[path][0].split(' | ')]
    assert cells[1] == f'`{reference.format_default(value)}`', path
    assert (cells[2] == 'traced') == (path in traced), path
    assert cells[3].rstrip(' |'), (
        f'{path} has no description: add a # comment beside its default')
  assert traced <= set(flat)  # a TRACED path names a real field


def test_parser_finds_every_default_in_the_source():
  # A field the parser misses still appears, but without its comment.
  sources = reference.field_sources()
  flat = config_lib.flatten(config_lib.default_config())
  assert set(flat) <= set(sources)
  assert sources['data.val_size'][1] == os.path.join('dlexp', 'data',
                                                     '__init__.py')
  assert sources['model.activation'][1] == os.path.join('dlexp', 'models',
                                                        'config.py')


def _toy_section():
  return ml_collections.ConfigDict(dict(
      alpha=1,  # the alpha
      beta=(),
      gamma=max(
          2, 3),  # a value over two lines
      epsilon=0.5,  # a comment continued
                    # on the line below,
  # a section comment is not part of it
      zeta=1,
  ))


def _toy_defaults():
  c = ml_collections.ConfigDict()
  c.seed = 0  # the seed
  c.toy = _toy_section()
  c.inner = ml_collections.ConfigDict()
  c.inner.delta = 2.0  # the delta
  return c


def test_trailing_comments_are_extracted():
  out = {}
  reference.defaults_sources(_toy_defaults, '', out)
  comments = {path: comment for path, (comment, _) in out.items()}
  assert comments == {'seed': 'the seed', 'toy.alpha': 'the alpha',
                      'toy.beta': '', 'toy.gamma': 'a value over two lines',
                      'toy.epsilon': 'a comment continued on the line below,',
                      'toy.zeta': '', 'inner.delta': 'the delta'}
  assert list(out) == ['seed', 'toy.alpha', 'toy.beta', 'toy.gamma',
                       'toy.epsilon', 'toy.zeta', 'inner.delta']  # in order


def test_a_field_is_described_by_its_comment_alone():
  # One source: the comment beside the default (plus the pointer to the
  # names a selector field takes), nothing kept elsewhere.
  sources = reference.field_sources()
  selectors = {g.field for g in reference.choices()}
  assert not hasattr(reference, 'FIELD_DESCRIPTIONS')
  for field in reference.fields():
    comment = sources[field.path][0]
    assert comment, f'{field.path}: add a # comment beside its default'
    text = field.description.split(' One of the *')[0]
    assert text.rstrip('.') == comment.rstrip('.'), field.path
    assert (' One of the *' in field.description) == (
        field.path in selectors), field.path


def test_description_tables_name_existing_entries():
  # Stale entries would describe names or fields that no longer exist.
  groups = {g.key: g for g in reference.choices()}
  for key, table in reference.ENTRY_DESCRIPTIONS.items():
    assert key in groups, key
    assert set(table) <= set(groups[key].entries), (key, set(table) - set(
        groups[key].entries))


def test_model_variants_come_from_the_families(generated):
  rows = _rows(generated.split('### Models')[1].split('\n### ')[0])
  no_variants = models.ModelSpec('builder', False).check_variant
  for name in models.MODELS.names():
    spec = models.MODELS.get(name)
    cell = rows[name][0].split('|')[3].strip()
    assert bool(cell) == (spec.check_variant is not no_variants), name
    variant = dict(spec.tiny).get('variant', '')
    if variant and '<' not in cell:  # '<' marks a pattern (resnet<6n+2>)
      assert variant in cell.replace(',', ' ').split(), (name, cell)
  assert 'vgg16' in rows['vgg'][0]


def test_check_and_write(tmp_path):
  doc = tmp_path / 'REF.md'
  assert 'cannot read' in reference.check(str(doc))
  doc.write_text('# Title\n\nintro\n')
  assert reference.main(['--check', str(doc)]) == 1
  assert 'no <!-- reference:start -->' in reference.check(str(doc))
  assert reference.main(['--write', str(doc)]) == 1  # no markers: no guess
  doc.write_text(f'# Title\n\nintro\n{reference.START}\nold\n'
                 f'{reference.END}\n\nafter\n')
  assert 'out of date' in reference.check(str(doc))
  assert reference.main(['--write', str(doc)]) == 0
  assert reference.main(['--check', str(doc)]) == 0
  text = doc.read_text()
  assert text.startswith('# Title\n\nintro\n' + reference.START + '\n')
  assert text.endswith(reference.END + '\n\nafter\n')
  assert reference.embedded(text) == reference.generate()
  # One changed character anywhere in the region is caught.
  doc.write_text(text.replace('| `relu` |', '| `reLU` |'))
  assert reference.check(str(doc)) is not None
  new = tmp_path / 'new.md'
  assert reference.main(['--write', str(new)]) == 0
  assert new.read_text().startswith('# dlexp reference')
  assert reference.check(str(new)) is None


def test_module_entry_point(tmp_path):
  def run(*args):
    return subprocess.run([sys.executable, '-m', 'dlexp.reference', *args],
                          cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, JAX_PLATFORMS='cpu'))
  stale = tmp_path / 'stale.md'
  stale.write_text(f'{reference.START}\n{reference.END}\n')
  out = run('--check', str(stale))
  assert out.returncode == 1
  lines = out.stderr.strip().splitlines()
  assert len(lines) == 1 and 'out of date' in lines[0], out.stderr
  out = run()
  assert out.returncode == 0
  assert out.stdout == reference.generate()


def test_a_new_knob_makes_the_doc_stale(monkeypatch):
  base = config_lib.default_config

  def with_knob():
    c = base()
    c.reg.new_knob = 1.0  # a knob nobody documented yet
    return c

  monkeypatch.setattr(config_lib, 'default_config', with_knob)
  assert 'out of date' in reference.check(DOC)
  row = _rows(reference.generate())['reg.new_knob'][0]
  assert 'a knob nobody documented yet' in row
