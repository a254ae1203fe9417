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

"""tools/bench's options: the parser, and the checks of what it parsed.

The help is the package's docstring (tests/toolkit/bench/__init__.py).
"""

import argparse
import os
import shutil
import tempfile

from tests.toolkit import bench
from tests.toolkit.bench import base

CONTENDERS = ('plugin', 'in-tree', 'plugin-staged', 'curl')
# The plugin with the store step reading the staged file once it is
# complete: the path before the overlapped store.
STAGED = 'glance_download.overlap_store_writes=false'
WAN_CONTENDERS = ('in-tree', 'plugin', 'plugin-1', 'plugin-N',
                  'plugin-staged', 'curl', 'aria2c')
ARIA2_MISSING = (
    'aria2c is not installed. Install it with "apt-get install aria2" '
    '(Debian, Ubuntu; "dnf install aria2" on Fedora), see bindep.txt, or '
    'leave it out with --contenders.')


def build_parser():
    """The parser of tools/bench's options, without their checks."""
    parser = argparse.ArgumentParser(
        description=bench.__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=bench.__doc__.split('\n\n', 1)[1])
    parser.add_argument('--sizes', '--size', default=None,
                        help='image sizes, comma-separated (64M,1G,4G; '
                             'with --wan one size, 1G)')
    parser.add_argument('--runs', type=int, default=3,
                        help='runs of each contender per size (3)')
    parser.add_argument('--tiny-runs', type=int, default=7,
                        help='1 MiB imports of each method; 0: none (7)')
    parser.add_argument('--contenders', default=None,
                        help=f"which of {','.join(CONTENDERS)} and, with "
                             '--against, plugin@REV to run (all); with '
                             f"--wan, of {','.join(WAN_CONTENDERS)} (all)")
    parser.add_argument('--idle-wait', type=float, default=None,
                        help='seconds to wait at most, before each run, '
                             'for the machine to be idle (30; --wan: 5)')
    parser.add_argument('--max-other', type=float, default=0.15,
                        help='CPUs that other work may take during a run '
                             'before the run is made again (0.15)')
    parser.add_argument('--retries', type=int, default=None,
                        help='times a disturbed run is made again at most; '
                             'the least disturbed attempt is kept (3; '
                             '--wan: 0)')
    parser.add_argument('--set', action='append', default=[],
                        metavar='GROUP.OPTION=VALUE',
                        help="more of REGION2's glance-api.conf, for example "
                             'glance_download.chunk_size=1048576 '
                             '(repeatable)')
    parser.add_argument('--stores', default=None,
                        type=lambda text: [name.strip() for name in
                                           text.split(',') if name.strip()],
                        help="REGION2's stores each import writes, comma-"
                             'separated, from its enabled_backends (fast,'
                             'cheap); default: its default store')
    parser.add_argument('--against', metavar='REV',
                        help='also run plugin@REV, this plugin at git '
                             'revision REV, side by side with the plugin on '
                             'plain loopback: the target is at most 1.05x')
    link = parser.add_argument_group(
        'emulated WAN', 'Every contender over one emulated link (--wan).')
    link.add_argument('--wan', action='store_true',
                      help='benchmark over an emulated WAN link')
    link.add_argument('--streams', type=int, default=8,
                      help='N: parallel_streams of "plugin x N", -x and -s '
                           'of aria2c (8)')
    link.add_argument('--link-rate', type=float, default=64,
                      help="the link's aggregate cap, MiB/s (64)")
    link.add_argument('--stream-rate', type=float, default=8,
                      help="the link's cap per connection, MiB/s (8)")
    link.add_argument('--rtt', type=float, default=60,
                      help="the link's round trip, milliseconds (60)")
    link.add_argument('--cut-every', type=base.parse_size, default=None,
                      metavar='SIZE',
                      help='the link cuts a connection each time another '
                           'SIZE of image data crossed it (never)')
    parser.add_argument('--state-dir', default=os.path.join(
        tempfile.gettempdir(), 'gd-bench'),
        help='state directory of the bench cloud (GD_CLOUD_DIR; default '
             '%(default)s)')
    parser.add_argument('--reuse-cloud', action='store_true',
                        help='use the bench cloud running in --state-dir '
                             'and leave it running')
    return parser


def parse(argv=None):
    """The options, checked, with the defaults that depend on --wan.

    Also: args.sizes, the sizes in bytes; args.contenders, a list;
    args.tools, {'curl': path or None, 'aria2c': path or None}.
    """
    options = build_parser()
    args = options.parse_args(argv)
    if args.idle_wait is None:
        args.idle_wait = 5 if args.wan else 30
    if args.retries is None:
        args.retries = 0 if args.wan else 3
    args.sizes = sizes(options, args)
    args.contenders = contenders(options, args)
    check_counts(options, args)
    args.tools = {'curl': shutil.which('curl'),
                  'aria2c': shutil.which('aria2c')}
    if 'curl' in args.contenders and not args.tools['curl']:
        options.error('curl is not installed')
    if 'aria2c' in args.contenders and not args.tools['aria2c']:
        options.error(ARIA2_MISSING)
    return args


def sizes(options, args):
    """The sizes of --sizes in bytes, at least one; one with --wan."""
    try:
        found = [base.parse_size(text) for text in (
            args.sizes or ('1G' if args.wan else '64M,1G,4G')).split(',')
                 if text.strip()]
    except argparse.ArgumentTypeError as e:
        options.error(str(e))
    if not found:
        options.error('--sizes names no size')
    if args.wan and len(found) > 1:
        options.error('--wan measures one --size at a time')
    return found


def contenders(options, args):
    """The contenders of --contenders, all known to the mode."""
    known = (WAN_CONTENDERS if args.wan else CONTENDERS) + (
        ('plugin@REV',) if args.against else ())
    chosen = [c.strip() for c in (args.contenders or ','.join(known))
              .split(',') if c.strip()]
    for contender in chosen:
        if contender not in known:
            options.error(f'unknown contender {contender!r}; choose among '
                          f"{','.join(known)}")
    return chosen


def check_counts(options, args):
    """--runs, and with --wan the link's figures, within their bounds."""
    if args.runs < 1:
        options.error('--runs must be at least 1')
    if args.wan:
        if args.streams < 1:
            options.error('--streams must be at least 1')
        for name in ('link_rate', 'stream_rate'):
            if getattr(args, name) <= 0:
                options.error(f"--{name.replace('_', '-')} must be positive")
        if args.rtt < 0:
            options.error('--rtt cannot be negative')
