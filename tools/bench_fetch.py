#!/usr/bin/env python3
"""Benchmark StagedDownload against ``curl -o`` on the loopback interface.

A random file is served by FakeGlance in a separate process (socket.sendfile
on the unfaulted path, so the server costs our process nothing), then
downloaded alternately by curl and by StagedDownload with sha512
verification, into the same directory.  Medians of ``--runs`` are printed.

Loopback is far faster than any link between regions, so this measures the
worst case for our overhead: on a real network both sides wait for it.

Usage: tools/bench_fetch.py [--size-mib 1024] [--runs 3] [--dir DIR]
       [--chunk-mib 4]
"""

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import requests  # noqa: E402

from glance_download import fetch  # noqa: E402
from glance_download import retry  # noqa: E402
from glance_download import verify  # noqa: E402
from tests import fake_glance  # noqa: E402

MIB = 1024 * 1024


def serve(path):
    """Child process: serve ``path`` until stdin closes."""
    with fake_glance.FakeGlance() as glance:
        image = glance.add_image_file(path)
        print(json.dumps({'url': glance.file_url(image['id']),
                          'image': image}), flush=True)
        sys.stdin.read()


def make_source(path, size):
    with open(path, 'wb') as f:
        remaining = size
        while remaining:
            piece = os.urandom(min(remaining, 4 * MIB))
            f.write(piece)
            remaining -= len(piece)


def settle():
    """Flush dirty pages left by the previous run, outside the timing.

    Otherwise the writeback of one run's file (and the discard of its
    blocks once deleted) lands in the next run, whichever tool it is.
    """
    os.sync()


def cpu(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_curl(curl, url, out):
    before = cpu(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([curl, '-sS', '--fail', '-o', out,
                    '-H', f'X-Auth-Token: {fake_glance.DEFAULT_TOKEN}', url],
                   check=True)
    seconds = time.perf_counter() - started
    return seconds, cpu(resource.RUSAGE_CHILDREN) - before


def run_ours(session, url, out, size, digest, chunk_size):
    def opener(offset):
        headers = {'X-Auth-Token': fake_glance.DEFAULT_TOKEN,
                   'Accept-Encoding': 'identity'}
        if offset:
            headers['Range'] = f'bytes={offset}-'
        return session.get(url, headers=headers, stream=True,
                           timeout=(10, 60))

    download = fetch.StagedDownload(out, size, digest, chunk_size,
                                    retry.RetryPolicy(1, 0, 0))
    before = cpu(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = download.run(opener)
    seconds = time.perf_counter() - started
    if (result.bytes, result.algorithm) != (size, digest[0]):
        raise RuntimeError(f'unexpected result {result}')
    return seconds, cpu(resource.RUSAGE_SELF) - before


def sha512_rate(path):
    """MiB/s of hashing the (cached) file alone: the floor of our time."""
    digest = hashlib.sha512()
    started = time.perf_counter()
    with open(path, 'rb', buffering=0) as f:
        for piece in iter(lambda: f.read(4 * MIB), b''):
            digest.update(piece)
    return os.path.getsize(path) / MIB / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size-mib', type=int, default=1024)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--chunk-mib', type=int, default=4)
    parser.add_argument('--dir', default=None,
                        help='directory for the source and the downloads '
                             '(default: a temporary one)')
    args = parser.parse_args()
    size = args.size_mib * MIB
    workdir = tempfile.mkdtemp(prefix='bench-fetch-', dir=args.dir)
    curl = shutil.which('curl')
    try:
        source = os.path.join(workdir, 'source')
        make_source(source, size)
        settle()
        server = subprocess.Popen([sys.executable, __file__, '--serve',
                                   source], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            served = json.loads(server.stdout.readline())
            url = served['url']
            digest = verify.expected_digest(served['image'])
            session = requests.Session()
            out = os.path.join(workdir, 'download')
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            ours, ours_cpu, theirs, theirs_cpu = [], [], [], []
            for _ in range(args.runs):
                if curl:
                    settle()
                    seconds, used = run_curl(curl, url, out)
                    theirs.append(seconds)
                    theirs_cpu.append(used)
                    os.unlink(out)
                settle()
                seconds, used = run_ours(session, url, out, size, digest,
                                         args.chunk_mib * MIB)
                ours.append(seconds)
                ours_cpu.append(used)
                os.unlink(out)
            session.close()
        finally:
            server.stdin.close()
            server.wait(timeout=30)
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        report(args, size, ours, ours_cpu, theirs, theirs_cpu,
               rss_before, rss_after, sha512_rate(source))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(args, size, ours, ours_cpu, theirs, theirs_cpu, rss_before,
           rss_after, hash_rate):
    mib = size / MIB
    median = statistics.median(ours)
    print(f'size {args.size_mib} MiB, chunk {args.chunk_mib} MiB, '
          f'{args.runs} run(s), medians; {os.cpu_count()} CPU(s)')
    print(f'StagedDownload+sha512: {median:.3f} s  {mib / median:.0f} MiB/s  '
          f'CPU {statistics.median(ours_cpu):.3f} s  '
          f'runs {", ".join(f"{s:.3f}" for s in ours)}')
    if theirs:
        baseline = statistics.median(theirs)
        print(f'curl -o:               {baseline:.3f} s  '
              f'{mib / baseline:.0f} MiB/s  '
              f'CPU {statistics.median(theirs_cpu):.3f} s  '
              f'runs {", ".join(f"{s:.3f}" for s in theirs)}')
        print(f'ratio ours/curl: {median / baseline:.2f}')
    else:
        print('curl not found: no baseline')
    print(f'peak RSS: {rss_after / 1024:.0f} MiB '
          f'(before the downloads: {rss_before / 1024:.0f} MiB)')
    print(f'sha512 alone on this CPU: {hash_rate:.0f} MiB/s '
          f'({mib / hash_rate:.3f} s for this size)')


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--serve':
        serve(sys.argv[2])
    else:
        main()
