#!/usr/bin/env python3
"""The machine's limits measured independently of libtorch: fp32 GEMM through numpy (Debian's
OpenBLAS) on square sizes, and memory read bandwidth (the sum of a 512 MiB float32 array).
One JSON line per figure. Usage: /usr/bin/python3 machine_limits.py [--sizes 1024,2048] [--repeats 3]"""
import argparse, json, time
import numpy as np

p = argparse.ArgumentParser()
p.add_argument('--sizes', default='1024,2048'); p.add_argument('--repeats', type=int, default=3)
a = p.parse_args()

def median_time(fn, repeats):
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]

# Which BLAS serves numpy: the library mapped into this process (Debian: libblas.so.3 -> OpenBLAS when installed).
with open('/proc/self/maps') as maps:
    libs = {line.split()[-1] for line in maps if 'blas' in line.lower()}
blas = ', '.join(sorted(libs)) or 'unknown'
rng = np.random.default_rng(0)
for n in map(int, a.sizes.split(',')):
    x = rng.standard_normal((n, n), dtype=np.float32); y = rng.standard_normal((n, n), dtype=np.float32)
    s = median_time(lambda: x @ y, a.repeats)
    print(json.dumps({'what': 'numpy fp32 matmul', 'blas': blas, 'n': n, 's': round(s, 5), 'gflops': round(2 * n ** 3 / s / 1e9, 1)}), flush=True)
big = np.ones(128 * 1024 * 1024, dtype=np.float32)
s = median_time(lambda: big.sum(), a.repeats)
print(json.dumps({'what': 'numpy read bandwidth', 'bytes': big.nbytes, 's': round(s, 5), 'gb_per_s': round(big.nbytes / s / 1e9, 1)}), flush=True)
