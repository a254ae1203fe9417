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

"""The command line that image copy and image sync share.

The options both commands take (add_shared), the argparse types that
check their values before anything is asked of a cloud, and the exit
statuses their help ends with.
"""

import argparse

from glance_download.client import relay
from glance_download.client import timing

EXIT_STATUSES = """\
Exit status: 0 when every region succeeded (or had nothing to do); 1 when
nothing was done because of an error (bad input, or every region failed);
3 on a partial failure (some regions failed, the others succeeded); 4 when
--wait timed out before every import ended (run the same command again with
--wait to wait for them); 130 when interrupted (Ctrl-C), the imports
started going on in Glance. With --dry-run, the status the run would end
with (never 4). 2 is the client's own for a command line it cannot
parse."""


def positive_seconds(text):
    """An argparse type: a number of seconds greater than zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number of '
                                         'seconds')
    if not value > 0 or value == float('inf'):
        raise argparse.ArgumentTypeError(
            f'{text} is not a duration: give a number of seconds greater '
            'than 0')
    return value


def positive_int(text):
    """An argparse type: a whole number greater than zero."""
    return _whole_number(text, 1, 'greater than 0')


def count(text):
    """An argparse type: a whole number, zero or more."""
    return _whole_number(text, 0, '0 or more')


def _whole_number(text, least, wanted):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number')
    if value < least:
        raise argparse.ArgumentTypeError(
            f'{text} is too small: give a whole number {wanted}')
    return value


def add_shared(parser):
    """Add the options of both commands to parser; returns parser."""
    parser.add_argument(
        '--from-region', metavar='<region>',
        help='Region of the source image (default: the region of the '
             'CLI, --os-region-name)')
    parser.add_argument(
        '--from-interface', metavar='<interface>', default='public',
        help='Interface of the source region\'s image endpoint that the '
             'target Glance downloads from (default: public)')
    parser.add_argument(
        '--wait', action='store_true',
        help='Wait until every import ended, showing its progress')
    parser.add_argument(
        '--timeout', metavar='<seconds>', type=positive_int,
        default=3600,
        help='How long the command may take at most, --wait included '
             '(default: 3600); the imports still going on then go on '
             'in Glance')
    parser.add_argument(
        '--connect-timeout', metavar='<seconds>', type=positive_seconds,
        default=timing.CONNECT_TIMEOUT,
        help='How long each request waits for a connection to a '
             f'Glance (default: {timing.CONNECT_TIMEOUT:g})')
    parser.add_argument(
        '--read-timeout', metavar='<seconds>', type=positive_seconds,
        default=timing.READ_TIMEOUT,
        help='How long each request waits for a Glance to answer '
             f'(default: {timing.READ_TIMEOUT:g}); a region that does '
             'not answer in time fails, the others go on')
    parser.add_argument(
        '--same-id', action='store_true',
        help="Give new copies their source image's id (fails in a "
             "region where that id exists or ever existed)")
    parser.add_argument(
        '--dry-run', action='store_true',
        help='Print what each region would get, change nothing')
    parser.add_argument(
        '--max-parallel', metavar='<count>', type=positive_int, default=4,
        help='Steps run at the same time overall (default: 4)')
    parser.add_argument(
        '--max-per-region', metavar='<count>', type=positive_int,
        default=2,
        help='Steps run at the same time in one region (default: 2)')
    parser.add_argument(
        '--max-imports-per-region', metavar='<count>', type=positive_int,
        default=4,
        help='Imports in flight at once in one region; the others wait '
             'for one of them to end (default: 4)')
    parser.add_argument(
        '--topology', choices=relay.TOPOLOGIES, default=relay.TREE,
        help='tree (default): a region that has a verified copy serves '
             'the regions still waiting, so the source region sends the '
             'image --max-from-source times; star: every region pulls '
             'from the source region')
    parser.add_argument(
        '--max-from-source', metavar='<count>', type=positive_int,
        default=relay.MAX_FROM_SOURCE,
        help='With --topology tree, pulls of one image from the source '
             f'region at once (default: {relay.MAX_FROM_SOURCE})')
    parser.add_argument(
        '--max-from-relay', metavar='<count>', type=positive_int,
        default=relay.MAX_FROM_RELAY,
        help='With --topology tree, pulls of one image from one relay '
             f'region at once (default: {relay.MAX_FROM_RELAY})')
    parser.add_argument(
        '--relay-patience', metavar='<seconds>', type=positive_seconds,
        default=relay.PATIENCE,
        help='With --topology tree, a pull still going after this long '
             'is slow: the regions waiting for it pull from another '
             f'region or the source (default: {relay.PATIENCE:g})')
    return parser
