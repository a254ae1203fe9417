# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The commands that the documentation shows, for a test to run them.

Users copy the commands of README.rst and doc/source/user/; the functional
test tests.functional.test_doc_commands runs each on the test cloud. This
module only reads reStructuredText (standard library only):

* ``$ `` lines of ``.. code-block:: console`` (or bash, sh, shell) and of
  literal blocks (``::``) are commands, a line ending with ``\\``
  continued on the next; the other lines are their output;
* a ``.. code-block:: bash`` (sh, shell) block without ``$ `` prompts is
  one script, run as a whole;
* ``$ echo $?`` followed by a number states the exit status of the
  command before it: that is how a block shows a command that fails on
  purpose. Every other command must exit 0.

The docs' placeholders (``<source image id>``, ``RegionOne``, ...) become
values of the test cloud through SUBSTITUTIONS, an explicit table: a
placeholder left without a value makes the command a problem, and so
does a program that is neither run (RUN_PROGRAMS) nor listed in EXCLUDED
with the reason it is not run.
"""

import collections
import dataclasses
import glob
import os
import re
import string

# The programs whose commands the test runs against the test cloud.
RUN_PROGRAMS = ('openstack', 'glance', 'curl')

# Commands not run, by how they start, and why.
EXCLUDED = (
    ('python3 -m pip install',
     "installs the package: the test cloud's virtual environment has it"),
    ('tools/demo', 'starts a test cloud of its own, for minutes; '
                   'tests/functional and tools/cloud cover what it shows'),
    ('tools/test.sh', 'the whole test run, of which this test is a part'),
    ('tools/bench-copy', 'a benchmark of several minutes (tools/bench tests '
                         'cover its code)'),
)

Substitution = collections.namedtuple('Substitution',
                                      'placeholder replacement why')

# What the docs' placeholders are on the test cloud, in the order they are
# replaced. A replacement's {fields} are values the test makes for each
# block (tests.functional.test_doc_commands.BlockValues).
SUBSTITUTIONS = (
    Substitution('<source image id>', '{source_id}',
                 "an active image of demo's in REGION1, made for the block"),
    Substitution('<image>', '{source_id}', 'the same'),
    Substitution('base-image', '{source_name}',
                 'its name, unique to the block'),
    Substitution('my-server-snapshot', '{source_name}', 'the same'),
    Substitution('<target image id>', '{target_id}',
                 "a queued image of demo's in REGION2, made for the block"),
    Substitution('my-image', '{new_name}',
                 'a name unique to the block, for the images it creates'),
    Substitution('golden', '{tag}',
                 "a tag unique to the block, that the block's source has"),
    Substitution('RegionOne', 'REGION1', 'the source region'),
    Substitution('RegionTwo', 'REGION2', 'a target region'),
    Substitution('RegionThree', 'REGION4',
                 "a target region (the test cloud's REGION3 does not offer "
                 "glance-download)"),
    Substitution('https://image.regiontwo.example.com:9292',
                 '{region2_glance_url}', "REGION2's image endpoint"),
    Substitution('--os-cloud admin', '--os-cloud {admin_cloud}',
                 'the cloud of the admin user in clouds.yaml; REGION1 '
                 'gets a public image for the operator to sync'),
    Substitution('--exclude-region LAB', '--exclude-region REGION3',
                 "a region left out: the test cloud's REGION3 (which does "
                 'not offer glance-download, and would be skipped)'),
    Substitution('--to-all-regions',
                 '--to-all-regions --exclude-region SLOW-REGION1',
                 "every region but the source, less the test cloud's "
                 'SLOW-REGION1, where only tests run a proxy'),
)

# Shell variables that a block sets for the blocks after it.
ENVIRONMENT = (
    Substitution('TOKEN', '{token}', "a token of demo's (the curl example "
                                     'sets it)'),
    Substitution('GLANCE', '{region2_glance_url}', 'the curl example sets '
                                                   'it to REGION2'),
)

# What is left of a placeholder once the table is applied.
UNMAPPED = re.compile(r'<[a-z][^<>\n]*>|\b[\w.-]+\.example\.(?:com|org)\S*')
DIRECTIVE = re.compile(r'^(\s*)\.\. code-block::\s*(\S*)\s*$')
SHELLS = ('console', 'bash', 'sh', 'shell')
STATUS = re.compile(r'^\d+$')
ASSIGNMENT = re.compile(r'^[A-Za-z_]\w*=')


@dataclasses.dataclass
class Command:
    """One command (or script) of the docs, and what to expect of it."""

    path: str
    line: int
    """The line of the docs where the command starts (1 is the first)."""
    text: str
    """As the docs write it, continuation lines joined."""
    block: int = 0
    """The line of its block's first line: a block's commands run in turn."""
    script: bool = False
    """A whole ``code-block:: bash`` block."""
    expected: int = 0
    excluded: str = None
    """Why the command is not run; None when it is."""
    problems: list = dataclasses.field(default_factory=list)

    @property
    def where(self):
        return f'{self.path}:{self.line}'

    @property
    def runs(self):
        return self.excluded is None

    @property
    def needs(self):
        """The block values that the substituted command uses."""
        return sorted(fields(replacement for placeholder, replacement, _
                             in SUBSTITUTIONS
                             if find(placeholder, self.text)))

    def render(self, values):
        """The command with the test cloud's values for its placeholders."""
        return substitute(self.text, values)


def fields(templates):
    return {name for template in templates
            for _, name, _, _ in string.Formatter().parse(template) if name}


def word(placeholder):
    """A regex of the placeholder as a whole word (not in my-image-2)."""
    return re.compile(rf'(?<![\w-]){re.escape(placeholder)}(?![\w-])')


def find(placeholder, text):
    """The placeholder as a whole word of text (a regex match or None)."""
    return word(placeholder).search(text)


def substitute(text, values):
    for placeholder, replacement, _ in SUBSTITUTIONS:
        value = replacement.format_map(values)
        text = word(placeholder).sub(lambda _: value, text)
    return text


def documents(repo):
    """The documents whose commands users copy, relative to repo."""
    return ['README.rst'] + sorted(
        os.path.relpath(path, repo) for path in
        glob.glob(os.path.join(repo, 'doc', 'source', 'user', '*.rst')))


def environment(values):
    """The variables of ENVIRONMENT with the test cloud's values."""
    return {name: template.format_map(values)
            for name, template, _ in ENVIRONMENT}


def blocks(text):
    """(line of the first content line, language, content lines) of text.

    The language is the code-block's, or None for a literal block.
    """
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = DIRECTIVE.match(line)
        literal = (not directive and line.rstrip().endswith('::')
                   and not line.lstrip().startswith('..'))
        if not (directive or literal):
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        language = directive.group(2) if directive else None
        i += 1
        # A directive's options come first, then a blank line.
        while (directive and i < len(lines)
               and lines[i].strip().startswith(':')):
            i += 1
        start = i
        while i < len(lines) and (
                not lines[i].strip()
                or len(lines[i]) - len(lines[i].lstrip()) > indent):
            i += 1
        content = lines[start:i]
        while content and not content[-1].strip():
            content.pop()
        first = next((n for n, c in enumerate(content) if c.strip()), None)
        if first is None:
            continue
        body = content[first:]
        margin = min(len(c) - len(c.lstrip()) for c in body if c.strip())
        yield (start + first + 1, language,
               [c[margin:] for c in body])


def classify(command):
    """Set command.excluded or its problems from what it runs."""
    for prefix, reason in EXCLUDED:
        if command.text == prefix or command.text.startswith(prefix + ' '):
            command.excluded = reason
            return
    for statement in statements(command):
        # VAR=$(command ...) runs the command.
        words = [w for w in statement.replace('$(', ' ').split()
                 if not ASSIGNMENT.match(w)]
        if words and words[0] not in RUN_PROGRAMS:
            command.problems.append(
                f'{words[0]} is neither run ({", ".join(RUN_PROGRAMS)}) '
                'nor excluded with a reason (EXCLUDED)')
    left = UNMAPPED.findall(substitute(command.text, collections.defaultdict(
        lambda: 'VALUE')))
    for placeholder in left:
        command.problems.append(f'no value for {placeholder!r} in '
                                'SUBSTITUTIONS')


def statements(command):
    """The logical lines of a command or script."""
    if not command.script:
        return [command.text]
    text = command.text.replace('\\\n', ' ')
    # A line that continues an open quote is not a statement of its own.
    found, open_quote = [], False
    for line in text.splitlines():
        if not open_quote and line.strip():
            found.append(line)
        open_quote ^= line.count("'") % 2 == 1
    return found


def commands(path, text):
    """Every Command of one document (path names it in messages)."""
    found = []
    for line, language, content in blocks(text):
        if language is not None and language not in SHELLS:
            continue
        prompts = [n for n, c in enumerate(content) if c.startswith('$ ')]
        if not prompts:
            if language in SHELLS[1:]:
                found.append(Command(path, line, '\n'.join(content),
                                     block=line, script=True))
            continue
        found.extend(console_commands(path, line, content))
    for command in found:
        classify(command)
    return found


def console_commands(path, line, content):
    """The commands of a console session: ``$ `` lines and continuations."""
    found = []
    n = 0
    while n < len(content):
        if not content[n].startswith('$ '):
            n += 1
            continue
        start = n
        parts = [content[n][2:]]
        while parts[-1].endswith('\\') and n + 1 < len(content):
            parts[-1] = parts[-1][:-1].rstrip()
            n += 1
            parts.append(content[n].strip())
        n += 1
        text = ' '.join(parts)
        if text.strip() == 'echo $?':
            output = content[n].strip() if n < len(content) else ''
            if not found or not STATUS.match(output):
                raise ValueError(f'{path}:{line + start}: "$ echo $?" '
                                 'needs a command before it and its status '
                                 'on the next line')
            found[-1].expected = int(output)
            continue
        found.append(Command(path, line + start, text, block=line))
    return found
