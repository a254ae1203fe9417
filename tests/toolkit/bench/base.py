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

"""What every module of the bench shares: units, sizes, errors, output."""

import argparse
import re
import statistics

MIB = 1024 * 1024
GIB = 1024 * MIB
TINY = 1 * MIB


class BenchError(Exception):
    """What stopped the bench: tools/bench prints it and exits 1."""


def say(text=''):
    """A line of output, flushed: the runs show as they end."""
    print(text, flush=True)


def parse_size(text):
    """Bytes of a size such as 64M, 1G or 1GiB (argparse's type)."""
    match = re.fullmatch(r'\s*(\d+)\s*([KMG]?)i?B?\s*', text, re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a size like 64M or 1G')
    unit = {'': 1, 'K': 1024, 'M': MIB, 'G': GIB}[match.group(2).upper()]
    size = int(match.group(1)) * unit
    if size <= 0:
        raise argparse.ArgumentTypeError(f'{text!r} is empty')
    return size


def label(size):
    """A size in the report: 64 MiB, 1 GiB."""
    if size % GIB == 0:
        return f'{int(size // GIB)} GiB'
    if size % MIB == 0:
        return f'{int(size // MIB)} MiB'
    return f'{int(size)} B'


def median(values):
    """The median of the values measured; None if none was."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values):
    """Largest less smallest of the values measured; None if none was."""
    values = [v for v in values if v is not None]
    return max(values) - min(values) if values else None


def rotated(items, n):
    """Items in the order of run n: each run starts one further on."""
    return items[n % len(items):] + items[:n % len(items)]
