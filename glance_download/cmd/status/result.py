#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""What a check returns, and the texts and facts the checks share."""

import dataclasses
import importlib.metadata

DISTRIBUTION = 'glance-download'

OK, WARN, FAIL, UNKNOWN = 'ok', 'warn', 'fail', 'unknown'


@dataclasses.dataclass
class Result:
    """What one check found, and what to change when it is not OK."""

    status: str
    summary: str
    fix: str = ''
    details: list = dataclasses.field(default_factory=list)
    data: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(kw_only=True)
class Check(Result):
    """A result under its check's name and title, as printed and as JSON."""

    name: str
    title: str


class Unknown(Exception):
    """A check that could not be made; the message says why."""

    def __init__(self, message, fix='', details=()):
        super().__init__(message)
        self.fix = fix
        self.details = list(details)


def version():
    """This plugin's version as installed, or None when it is not."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def shown(value):
    """An option value as an operator would write it."""
    if isinstance(value, (list, tuple)):
        return f"[{','.join(str(item) for item in value)}]"
    return '(not set)' if value is None else str(value)
