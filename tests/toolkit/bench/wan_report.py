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

"""The WAN mode's report: every contender over one emulated link."""

from tests.toolkit.bench import base
from tests.toolkit.bench import report


def describe_wan_run(size, contender, n, result):
    text = (f"download {result['download']:.2f} s "
            f"({size / base.MIB / result['download']:.1f} MiB/s)")
    if result.get('wall') is not None:
        text += f", to active {result['wall']:.2f} s"
    text += f", cpu {result['cpu']:.2f} s"
    if result.get('growth') is not None:
        text += f", growth {report.mib(result['growth']):.1f} MiB"
    if result['streams'] is not None:
        text += (f", streams {result['streams']} ({result['connections']} in "
                 f"all), {report.mib(result['carried']):.0f} MiB crossed")
        if result['cuts']:
            text += f", {int(result['cuts'])} cut"
    base.say(f"{base.label(size)!s:<7} {contender.title!s:<16} run {n}: "
             f"{text}, bench cpu {result['bench_cpu']:.2f} s, other cpu "
             f"{result['other']:.2f} s")


def summarize_wan(runs, size):
    out = {key: base.median([run.get(key) for run in runs])
           for key in report.MEASURES + ('bench_cpu', 'streams',
                                         'connections', 'carried', 'cuts')}
    out['rate'] = (size / base.MIB / out['download'] if out['download']
                   else None)
    out['streams'] = max(run.get('streams') or 0 for run in runs)
    for key in ('download', 'wall'):
        out[f'{key}_spread'] = base.spread([run.get(key) for run in runs])
    return out


def wan_targets(size, medians, link, refused, n):
    """(target, verdict, figures) lines for the report; n: --streams."""
    fmt = report.fmt
    ours = medians.get('plugin-N')
    aria = medians.get('aria2c')
    tree = medians.get('in-tree')
    bound = size / link.link.aggregate
    lines = []
    note = ''
    if 'plugin-N' in refused and ours:
        note = (f" (but with {ours['streams']} stream(s) at most: "
                f"parallel_streams={n} not honoured)")

    def line(text, value, limit, shown, better='lower'):
        result = report.verdict(value, limit, better)
        if result == 'met' and note:
            result = 'not met'
        lines.append(f"* {text}: {result}. "
                     f"{shown}{note if value is not None else ''}")

    download = ours and ours['download']
    line(f'download with {n} streams at most 1.25x size / aggregate cap '
         f'({bound:.2f} s)',
         download and download / bound, 1.25,
         f'{fmt(download)} s, {fmt(download and download / bound)}x')
    line(f'download with {n} streams at most 1.1x aria2c',
         download and aria and download / aria['download'], 1.1,
         f"{fmt(download)} s against {fmt(aria and aria['download'])} s, "
         f"{report.ratio(ours, aria, 'download')}x")
    speedup = (tree['download'] / download if download and tree else None)
    line(f'download with {n} streams at least 5x faster than in-tree',
         speedup, 5, f"{fmt(download)} s against "
                     f"{fmt(tree and tree['download'])} s, {fmt(speedup)}x "
                     "faster",
         better='higher')
    growth = ours and ours['growth']
    line(f'memory growth with {n} streams at most 48 MiB',
         None if growth is None else report.mib(growth), 48,
         f"{fmt(report.mib(growth), '.1f')} MiB")
    auto = medians.get('plugin')
    if auto:
        note = ''
        limit = 1.4 if size <= 64 * base.MIB else 1.2
        download = auto['download']
        line(f'download with the defaults (auto) at most {limit}x size / '
             f'aggregate cap ({bound:.2f} s)',
             download and download / bound, limit,
             f"{fmt(download)} s, {fmt(download and download / bound)}x, "
             f"with {auto['streams']} streams at most"
             + report.spread_note(auto, ours, 'download'))
        growth = auto['growth']
        line('memory growth with the defaults at most 48 MiB',
             None if growth is None else report.mib(growth), 48,
             f"{fmt(report.mib(growth), '.1f')} MiB")
    staged = medians.get('plugin-staged')
    if auto and staged and staged['store']:
        # The store step alone: Glance's, reading data already staged.
        floor = max(bound, staged['store'])
        wall = auto['wall']
        line(f'time to active with the defaults at most 1.15x max(size / '
             f'aggregate cap, store step alone) ({floor:.2f} s)',
             wall and wall / floor, 1.15,
             f"{fmt(wall)} s, {fmt(wall and wall / floor)}x; the staged "
             f"path took {fmt(staged['wall'])} s, its store step "
             f"{fmt(staged['store'])} s"
             + report.spread_note(auto, staged, 'wall'))
    return lines


def report_wan(size, results, contenders, link, info, argv, started,
               finished, refused, streams):
    fmt, mib, ratio, say = report.fmt, report.mib, report.ratio, base.say
    report.say_header(argv, info, started, finished,
                      [info['curl'], info.get('aria2c', 'no aria2c')])
    say(f'Link: {link.describe()}; {base.label(size)} image: size / aggregate '
        f'cap = {size / link.link.aggregate:.2f} s')
    say("Source: REGION1's glance-api, 2 uWSGI workers of "
        f"{info.get('source_threads', '?')} thread(s) each")
    say()
    say('Medians of each contender\'s runs: seconds (to active, download), '
        'MiB/s, CPU seconds, MiB; streams: most image data connections '
        'open at once on the link:')
    say()
    medians = {name: summarize_wan(runs, size)
               for name, runs in results.items() if runs}
    rows = []
    for name, m in medians.items():
        contender = contenders[name]
        rows.append([
            contender.title,
            f"{int(m['streams'])}",
            fmt(m['wall']), fmt(m['download']), fmt(m['rate'], '.1f'),
            fmt(m['cpu']), fmt(m['src_cpu']), fmt(m['bench_cpu']),
            fmt(m['other']), fmt(mib(m['rss']), '.0f'),
            fmt(mib(m['growth']), '.1f'),
            ' '.join(fmt(run['download']) for run in results[name]),
            fmt(m['download_spread'])])
    say(report.table(['contender', 'streams', 'to active', 'download',
                      'MiB/s', 'cpu', 'src cpu', 'link cpu', 'other cpu',
                      'rss', 'growth', 'runs (download)', 'spread'], rows))
    say()
    say('Ratios of the download medians (in-tree/x: how many times faster '
        'than in-tree):')
    say()
    bound = {'download': size / link.link.aggregate}
    before = [name for name, c in contenders.items() if c.code]
    then = medians.get(before[0]) if before else None
    rows = []
    for name, m in medians.items():
        rows.append([contenders[name].title, ratio(m, bound, 'download'),
                     ratio(m, medians.get('aria2c'), 'download'),
                     ratio(medians.get('in-tree'), m, 'download'),
                     ratio(m, medians.get('in-tree'), 'wall')]
                    + ([ratio(m, then, 'download'), ratio(m, then, 'wall')]
                       if before else []))
    say(report.table(['contender', 'x / (size / cap)', 'x / aria2c',
                      'in-tree / x', 'to active x / in-tree']
                     + ([f'download x / {before[0]}',
                         f'to active x / {before[0]}'] if before else []),
                     rows))
    for name, why in refused.items():
        say()
        say(f'Not honoured: {why}; this glance-download has no such option or '
            'does not use it. Its runs after the first were left out.')
    say()
    say('Against the targets:')
    say()
    for line in wan_targets(size, medians, link, refused, streams):
        say(line)
