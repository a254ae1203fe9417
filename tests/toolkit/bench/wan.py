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

"""The WAN mode: every contender copies one image over an emulated link.

The link is the tests' proxy (tests/functional/proxy.py, Link) on
SLOW-REGION1's endpoint, in front of REGION1, run by this process.
"""

import os
import re
import subprocess
import time

from tests.functional import proxy
from tests.toolkit.bench import base
from tests.toolkit.bench import measure
from tests.toolkit.bench import options
from tests.toolkit.bench import wan_report

STREAMS_IN_MESSAGE = re.compile(r'(\d+)\s+(?:parallel\s+)?streams?\b',
                                re.IGNORECASE)


class BenchLink:
    """The emulated link, run by this process.

    The test proxy on SLOW-REGION1's endpoint, in front of REGION1.
    """

    def __init__(self, cloud, rtt, per_stream, aggregate, cut_every):
        slow = cloud.env['slow_region']
        upstream = cloud.env['regions'][slow['upstream']]['glance_url']
        host, port = upstream.split('//', 1)[1].rsplit(':', 1)
        self.link = proxy.Link(rtt=rtt, per_stream=per_stream,
                               aggregate=aggregate, cut_every=cut_every)
        self.proxy = proxy.FaultProxy(slow['port'], (host, int(port)),
                                      link=self.link)
        self.region = slow['region']
        self.url = slow['glance_url']

    @property
    def wire(self):
        return self.proxy.wire

    def counts(self):
        """What crossed the link since the counts were last reset."""
        wire = self.wire
        return {'streams': wire.streams.peak,
                'connections': wire.streams.total,
                'carried': wire.carried, 'cuts': wire.cuts}

    def describe(self):
        link = self.link
        text = (f'{rate_label(link.aggregate)} shared, '
                f'{rate_label(link.per_stream)} per connection, '
                f'{link.rtt * 1000:.0f} ms round trip')
        if link.cut_every:
            text += f', a cut every {base.label(link.cut_every)} of image data'
        return text

    def __enter__(self):
        self.proxy.start()
        return self

    def __exit__(self, *exc_info):
        self.proxy.stop()


def rate_label(rate):
    return 'no cap' if not rate else f'{rate / base.MIB:g} MiB/s'


class Contender:
    """One way of copying the source image over the link."""

    def __init__(self, name, title, kind, streams=1, settings=(),
                 code=None):
        self.name = name
        self.title = title
        self.kind = kind
        """'plugin' or 'in-tree' (an import), 'curl' or 'aria2c'."""
        self.streams = streams
        """The streams it should open at once."""
        self.settings = list(settings)
        self.code = code
        """The control.Revision it runs, for plugin@REV; None: this one."""


def wan_contenders(streams, against=None):
    """Every contender of the WAN mode, by name.

    ``against``: the control.Revision of plugin@REV, with every default
    like ``plugin``, or None.
    """
    option = 'glance_download.parallel_streams=%d'
    every = [
        Contender('in-tree', 'in-tree', 'in-tree'),
        Contender('plugin', 'plugin auto', 'plugin'),
        Contender('plugin-1', 'plugin x1', 'plugin',
                  settings=[option % 1]),
        Contender('plugin-N', f'plugin x{int(streams)}', 'plugin',
                  streams=streams, settings=[option % streams]),
        Contender('plugin-staged', 'plugin staged', 'plugin',
                  settings=[options.STAGED]),
        Contender('curl', 'curl', 'curl'),
        Contender('aria2c', f'aria2c x{int(streams)}', 'aria2c',
                  streams=streams),
    ]
    if against:
        every.append(Contender(against.name, against.name, 'plugin',
                               code=against))
    return {c.name: c for c in every}


def streams_in_message(message):
    """The number of streams a task message speaks of, or None."""
    counts = [int(n) for n in STREAMS_IN_MESSAGE.findall(message or '')]
    return max(counts) if counts else None


def not_honoured(contender, result):
    """Why a run did not open the streams it was set to, or None."""
    if contender.streams < 2 or result.get('streams') is None:
        return None
    if result['streams'] >= contender.streams:
        return None
    said = streams_in_message(result.get('message'))
    speaks = '' if said is None else f' (its task message speaks of {said})'
    return (f'{contender.title} was set to {contender.streams} streams but '
            f"opened at most {result['streams']} at once on the link{speaks}")


def prepare(cloud, streams):
    """Settings of the cloud to start for the WAN mode."""
    # The source serves every stream of a contender at once, and a few
    # more that are ending: 2 workers of --streams threads each.
    cloud.environ.setdefault('GD_CLOUD_REGION1_THREADS', str(max(2, streams)))


def run(args, cloud, state, info, command, started, against=None):
    """The WAN mode: every contender over one emulated link.

    args: the options (options.parse), for args.sizes' one size;
    against: the control.Revision of plugin@REV, or None.
    """
    size = args.sizes[0]
    tools = args.tools
    if tools['aria2c']:
        info['aria2c'] = subprocess.run(
            [tools['aria2c'], '--version'], stdout=subprocess.PIPE,
            text=True).stdout.split('\n')[0]
    info['source_threads'] = cloud.environ['GD_CLOUD_REGION1_THREADS']
    every = wan_contenders(args.streams, against)
    contenders = {name: every[name] for name in args.contenders}
    link = BenchLink(cloud, args.rtt / 1000.0, args.stream_rate * base.MIB,
                     args.link_rate * base.MIB, args.cut_every)
    tiny_source, _ = measure.upload_source(cloud, base.TINY, state)
    base.say(f'Uploading the {base.label(size)} source image ...')
    source, seconds = measure.upload_source(cloud, size, state)
    base.say(f'  uploaded in {seconds:.1f} s '
             f'({size / base.MIB / seconds:.0f} MiB/s)')
    base.say(f'Link: {link.describe()}, on {link.url}')
    results = {name: [] for name in contenders}
    refused = {}
    with link:
        for n in range(args.runs):
            for name in base.rotated(list(contenders), n):
                contender = contenders[name]
                if name in refused:
                    continue
                result = measure_wan(cloud, contender, source, size,
                                     tiny_source, args, link, tools)
                wan_report.describe_wan_run(size, contender, n + 1, result)
                results[name].append(result)
                why = not_honoured(contender, result)
                if why and contender.kind == 'plugin':
                    # This plugin has no such option or ignores it: more
                    # runs would measure fewer streams again.
                    refused[name] = why
                    base.say(f'        {why}: its further runs are left out')
                elif why:
                    base.say(f'        {why}')
    cloud.region1.delete(source['id'])
    cloud.region1.delete(tiny_source['id'])
    os.sync()
    info['load_after'] = f'{os.getloadavg()[0]:.2f}'
    wan_report.report_wan(size, results, contenders, link, info, command,
                          started, time.time(), refused, args.streams)


def measure_wan(cloud, contender, source, size, tiny_source, args, link,
                tools):
    """One run of a contender over the link."""
    if contender.kind == 'curl':
        result = measure.measure_curl(cloud, source, tools['curl'],
                                      args.idle_wait, link)
    elif contender.kind == 'aria2c':
        result = measure.measure_aria2c(cloud, source, tools['aria2c'],
                                        contender.streams, args.idle_wait,
                                        link)
    else:
        result = measure.measure_import(cloud, contender.kind, source, size,
                                        tiny_source, args.idle_wait,
                                        contender.settings, link,
                                        code=contender.code)
    result['other'] = measure.other_cpu(result)
    for key in ('streams', 'connections', 'carried', 'cuts'):
        result.setdefault(key, None)
    return result
