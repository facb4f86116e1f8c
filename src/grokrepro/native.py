"""A hand-fused C kernel for the deep linear family's SGD epochs, built on first use.

The engine's fastest form on a CPU (``docs/engine.md``): replicas go sixteen at a time (two vectors
of doubles), and for those sixteen the kernel gathers each minibatch's second moments straight from
the per-sample moments and the epoch's sample order, then does every step of every epoch with all
layers in the L1 cache. Nothing is written to memory between steps, and no per-step tensors exist.
It also computes the minibatch-order sort keys (:func:`grokrepro.engine._packed_keys`, the same
integers) in one pass.

The source below is compiled once per machine by the C compiler (``$CC``, else ``cc``) with
``-O3 -march=native`` into a cache directory (``$GROKREPRO_NATIVE_CACHE``, else
``~/.cache/grokrepro``), keyed by the source, the compiler and the CPU's feature flags, so a shared
home directory on a cluster of mixed CPUs never runs a kernel built for another CPU. Where there
is no compiler, or ``GROKREPRO_NATIVE=0``, :func:`library` is None and the engine runs its torch
forms. Same arithmetic as :func:`grokrepro.engine.deep_linear_epoch`, summed in another order:
equal to rounding (tested against the plain reference).
"""
from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from .io import log

SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define V 16  /* replicas per chunk: two 512-bit vectors of doubles */
#define KMAX 64  /* most moments per sample (p*p + q*p) */

/* y[i][k] = sum_j a(i, j) b(j, k) per lane (arrays [..][V]), or with decay: y = decay*y + sum.
   a(i, j) = a[(i*sai + j*saj)*V], b(j, k) = b[(j*sbj + k*sbk)*V]. Two rows i by two columns k at a
   time: eight independent vector accumulators (an FMA's latency hidden); a tail row or column
   recomputes the last valid one and is not stored. */
static void gemm(int64_t I, int64_t J, int64_t K, const double *restrict a, int64_t sai, int64_t saj,
                 const double *restrict b, int64_t sbj, int64_t sbk, double *restrict y,
                 const double *restrict decay) {
  for (int64_t i0 = 0; i0 < I; i0 += 2)
    for (int64_t k0 = 0; k0 < K; k0 += 2) {
      const int64_t i1 = i0 + 1 < I ? i0 + 1 : i0, k1 = k0 + 1 < K ? k0 + 1 : k0;
      double acc[2][2][V] = {{{0}}};
      for (int64_t j = 0; j < J; j++) {
        const double *a0 = a + (i0 * sai + j * saj) * V, *a1 = a + (i1 * sai + j * saj) * V;
        const double *b0 = b + (j * sbj + k0 * sbk) * V, *b1 = b + (j * sbj + k1 * sbk) * V;
        for (int v = 0; v < V; v++) {
          acc[0][0][v] += a0[v] * b0[v];
          acc[0][1][v] += a0[v] * b1[v];
          acc[1][0][v] += a1[v] * b0[v];
          acc[1][1][v] += a1[v] * b1[v];
        }
      }
      for (int di = 0; di < 2; di++)
        for (int dk = 0; dk < 2; dk++) {
          if ((di && i1 == i0) || (dk && k1 == k0)) continue;
          double *o = y + ((i0 + di) * K + k0 + dk) * V;
          if (decay)
            for (int v = 0; v < V; v++) o[v] = acc[di][dk][v] + decay[v] * o[v];
          else
            for (int v = 0; v < V; v++) o[v] = acc[di][dk][v];
        }
    }
}

/* Each lane's lr-scaled moments M[k][v] = lr/B * sum of z over rows order[start .. start+B) (or 0..B). */
static void moments(const double *restrict z, int64_t K, const int32_t *restrict order, int64_t row0, int64_t R,
                    int64_t n, int64_t r0, int nv, int64_t start, int64_t B, const double *scale,
                    double *restrict M) {
  for (int v = 0; v < V; v++) {
    double one[KMAX] = {0};
    if (v < nv) {
      const int32_t *idx = order ? order + (row0 * R + r0 + v) * n + start : NULL;
      if (K == 8) {  /* p = q = 2: a row is one vector */
        for (int64_t b = 0; b < B; b++) {
          const double *row = z + (idx ? (int64_t)idx[b] : b) * 8;
          for (int k = 0; k < 8; k++) one[k] += row[k];
        }
      } else {
        for (int64_t b = 0; b < B; b++) {
          const double *row = z + (idx ? (int64_t)idx[b] : b) * K;
          for (int64_t k = 0; k < K; k++) one[k] += row[k];
        }
      }
    }
    for (int64_t k = 0; k < K; k++) M[k * V + v] = one[k] * scale[v];
  }
}

/* E epochs of S minibatch steps of B samples for R deep linear nets (L layers, widths dims[0..L]).
   ws[l]: layer l, (dims[l+1], dims[l], R) doubles, replicas last, updated in place. z: (n, K)
   per-sample moments [x x^T | y x^T], K = p*p + q*p. order: (E, R, n) sample orders, step s of
   epoch e takes order[e][r][s*B .. s*B+B); NULL: full batch (S = 1, B = n). noise: NULL, or per
   layer (E*S, dims[l+1], dims[l], R), added after each step (Langevin). lr, decay: (R,).
   Returns 0, or -1 if out of memory. */
int deep_linear_epochs(int64_t L, const int64_t *dims, double *const *ws, const double *z,
                       const int32_t *order, int64_t n, int64_t R, int64_t E, int64_t S, int64_t B,
                       const double *lr, const double *decay, const double *const *noise) {
  const int64_t p = dims[0], q = dims[L], K = p * p + q * p;
  int64_t woff[65], poff[65], wsize = 0, psize = 0, dmax = 0;
  if (L > 64 || K > KMAX) return -1;
  for (int64_t l = 0; l < L; l++) {
    woff[l] = wsize; wsize += dims[l] * dims[l + 1];
    poff[l] = psize; psize += dims[l + 1] * p;
    if (dims[l + 1] > dmax) dmax = dims[l + 1];
  }
  if (p > dmax) dmax = p;
  double *buf = malloc(sizeof(double) * V * (wsize + psize + 2 * dmax * p + K));
  if (!buf) return -1;
  double *W = buf, *P = W + V * wsize, *D = P + V * psize, *T = D + V * dmax * p, *M = T + V * dmax * p;
  for (int64_t r0 = 0; r0 < R; r0 += V) {
    const int nv = R - r0 < V ? (int)(R - r0) : V;
    double scale[V], dec[V];
    for (int v = 0; v < V; v++) {
      scale[v] = v < nv ? lr[r0 + v] * (1.0 / (double)B) : 0.0;
      dec[v] = v < nv ? decay[r0 + v] : 1.0;
    }
    for (int64_t l = 0; l < L; l++)
      for (int64_t e = 0; e < dims[l] * dims[l + 1]; e++)
        for (int v = 0; v < V; v++) W[(woff[l] + e) * V + v] = v < nv ? ws[l][e * R + r0 + v] : 0.0;
    if (!order) moments(z, K, NULL, 0, R, n, r0, nv, 0, B, scale, M);  /* full batch: once */
    for (int64_t ep = 0; ep < E; ep++)
      for (int64_t s = 0; s < S; s++) {
        if (order) moments(z, K, order, ep, R, n, r0, nv, s * B, B, scale, M);
        /* forward: P_0 = W_0, P_l = W_l P_{l-1} */
        const double *prev = W;
        for (int64_t l = 1; l < L; l++) {
          gemm(dims[l + 1], dims[l], p, W + woff[l] * V, dims[l], 1, prev, p, 1, P + poff[l] * V, NULL);
          prev = P + poff[l] * V;
        }
        /* D = Syx - P_{L-1} Sxx */
        gemm(q, p, p, prev, p, 1, M, p, 1, D, NULL);
        for (int64_t e = 0; e < q * p; e++)
          for (int v = 0; v < V; v++) D[e * V + v] = M[(p * p + e) * V + v] - D[e * V + v];
        /* backward: W_l <- decay W_l + D_l P_{l-1}^T, D_{l-1} = W_l^T D_l (the old W_l) */
        for (int64_t l = L - 1; l >= 1; l--) {
          const double *pl = l == 1 ? W : P + poff[l - 1] * V;
          gemm(dims[l], dims[l + 1], p, W + woff[l] * V, 1, dims[l], D, p, 1, T, NULL);
          gemm(dims[l + 1], p, dims[l], D, p, 1, pl, 1, p, W + woff[l] * V, dec);
          double *t = D; D = T; T = t;
        }
        for (int64_t e = 0; e < dims[1] * p; e++)
          for (int v = 0; v < V; v++) W[e * V + v] = D[e * V + v] + dec[v] * W[e * V + v];
        if (noise) {
          const int64_t g = ep * S + s;
          for (int64_t l = 0; l < L; l++) {
            const int64_t size = dims[l] * dims[l + 1];
            const double *xi = noise[l] + g * size * R + r0;
            for (int64_t e = 0; e < size; e++)
              for (int v = 0; v < nv; v++) W[(woff[l] + e) * V + v] += xi[e * R + v];
          }
        }
      }
    for (int64_t l = 0; l < L; l++)
      for (int64_t e = 0; e < dims[l] * dims[l + 1]; e++)
        for (int v = 0; v < nv; v++) ws[l][e * R + r0 + v] = W[(woff[l] + e) * V + v];
  }
  free(buf);
  return 0;
}

/* The engine's int32 sort keys of n <= 4096 samples for K stream keys: lowbias32 of
   ((i + 1) phi + lo) ^ hi, its top 31 - b bits above the index i (b bits). out: (K, n). */
void packed_keys(const uint64_t *keys, int64_t K, int64_t n, int32_t *out) {
  int b = 1;
  while ((1LL << b) < n) b++;
  for (int64_t k = 0; k < K; k++) {
    const uint32_t lo = (uint32_t)keys[k], hi = (uint32_t)(keys[k] >> 32);
    int32_t *o = out + k * n;
    for (int64_t i = 0; i < n; i++) {
      uint32_t x = ((uint32_t)(i + 1) * 0x9E3779B9u + lo) ^ hi;
      x ^= x >> 16; x *= 0x7FEB352Du; x ^= x >> 15; x *= 0x846CA68Bu; x ^= x >> 16;
      o[i] = (int32_t)(((x >> (b + 1)) << b) | (uint32_t)i);
    }
  }
}
"""

_LIB: list = []  # [CDLL or None], once per process


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    import platform
    return platform.processor() + platform.machine()


def _build() -> ctypes.CDLL | None:
    if os.environ.get("GROKREPRO_NATIVE", "1") == "0":
        return None
    cc = os.environ.get("CC", "cc")
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        log(f"no C compiler ({cc}): the deep linear engine runs its torch forms")
        return None
    key = hashlib.sha256("\0".join([SOURCE, cc, version, _cpu_flags()]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("GROKREPRO_NATIVE_CACHE", Path.home() / ".cache" / "grokrepro"))
    path = cache / f"deep_linear_{key}.so"
    if not path.exists():
        try:
            cache.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=cache) as tmp:
                src, out = Path(tmp) / "kernel.c", Path(tmp) / "kernel.so"
                src.write_text(SOURCE)
                subprocess.run([cc, "-O3", "-march=native", "-fPIC", "-shared", "-o", str(out), str(src)],
                               capture_output=True, text=True, check=True)
                os.replace(out, path)  # atomic: parallel jobs never load a half-written library
        except (OSError, subprocess.CalledProcessError) as err:
            detail = getattr(err, "stderr", "") or str(err)
            log(f"building the native deep linear kernel failed ({detail.strip()[:200]}); running the torch forms")
            return None
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as err:  # e.g. a library of another build left in a shared cache
        log(f"loading the native deep linear kernel {path} failed ({err}); running the torch forms")
        return None
    lib.deep_linear_epochs.restype = ctypes.c_int
    lib.deep_linear_epochs.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.c_void_p, *[ctypes.c_int64] * 5, ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.c_void_p]
    lib.packed_keys.restype = None
    lib.packed_keys.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    return lib


def library() -> ctypes.CDLL | None:
    """The built kernel library, or None where it cannot be built here (or ``GROKREPRO_NATIVE=0``)."""
    if not _LIB:
        _LIB.append(_build())
    return _LIB[0]


@contextlib.contextmanager
def disabled():
    """Within it :func:`library` is None: the engine runs its torch forms (for comparisons)."""
    library()
    saved = list(_LIB)
    _LIB[:] = [None]
    try:
        yield
    finally:
        _LIB[:] = saved


def usable(params) -> bool:
    """Whether the kernel can step these deep linear layers (R, out, in): on a CPU, float64, at most
    64 moments per sample (p² + q·p) and 64 layers, and the kernel built here."""
    if any(w.dim() != 3 or w.device.type != "cpu" or w.dtype != torch.float64 for w in params):
        return False
    p, q = params[0].shape[2], params[-1].shape[1]
    return len(params) <= 64 and p * p + q * p <= 64 and library() is not None


def _pointers(tensors) -> ctypes.Array:
    return (ctypes.c_void_p * len(tensors))(*[t.data_ptr() for t in tensors])


def deep_linear_epochs(ws: list[torch.Tensor], z: torch.Tensor, order: torch.Tensor | None, batch_size: int,
                       lr: torch.Tensor, decay: torch.Tensor, epochs: int = 1,
                       noise: list[torch.Tensor] | None = None) -> int:
    """SGD on the layers ``ws`` (out, in, R, contiguous), in place: every epoch of ``order`` (E, R, n)
    int32 sample orders in minibatches of ``batch_size``, or (``order`` None) ``epochs`` full-batch
    steps. ``z``: the (n, p·p + q·p) per-sample moments; ``lr``, ``decay``: (R,). ``noise``: per layer
    (steps, out, in, R), added after each step. Returns the number of steps."""
    n, r = z.shape[0], ws[0].shape[2]
    if order is None:
        e, steps, b = epochs, 1, n
    else:
        assert order.shape[1:] == (r, n) and batch_size < n
        e, steps, b = order.shape[0], n // batch_size, batch_size
        order = order.to(torch.int32).contiguous()  # int64 orders (n > 4096) hold indices below 2³¹
    dims = np.array([ws[0].shape[1], *[w.shape[0] for w in ws]], dtype=np.int64)
    z, lr, decay = z.contiguous(), lr.contiguous(), decay.contiguous()
    if noise is not None:
        noise = [x.contiguous() for x in noise]
        assert all(x.shape == (e * steps, *w.shape) and x.dtype == torch.float64 for x, w in zip(noise, ws))
    rc = library().deep_linear_epochs(len(ws), dims.ctypes.data, _pointers(ws), z.data_ptr(),
                                      None if order is None else order.data_ptr(), n, r, e, steps, b,
                                      lr.data_ptr(), decay.data_ptr(), None if noise is None else _pointers(noise))
    if rc:
        raise MemoryError("the native deep linear kernel could not allocate its workspace")
    return e * steps


def packed_keys(keys: np.ndarray, n: int) -> np.ndarray:
    """(K, n) int32 sort keys of :func:`grokrepro.engine._packed_keys` (n ≤ 4096), by the kernel."""
    keys = np.ascontiguousarray(keys, dtype=np.uint64)
    out = np.empty((len(keys), n), dtype=np.int32)
    library().packed_keys(keys.ctypes.data, len(keys), n, out.ctypes.data)
    return out
