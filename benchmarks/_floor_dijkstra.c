/*
 * Reference "floor" for bench_scale.py: a plain, single-threaded, node-to-node
 * Dijkstra with a binary heap (lazy deletion), bounded by a cutoff, that
 * records the distance to every demand node it settles.
 *
 * It is deliberately minimal: no edge offsets, no access legs, no threads.
 * Like the kernel it is compared with, it does no per-call work of the size of
 * the network: its scratch arrays (indexed by node) are kept between calls and
 * reset through lists of what a call touched, so a call costs what its sources
 * reach and its demand nodes, not what the city has.
 *
 * Built by benchmarks/_floor.py with the kernel's own compiler and flags (those
 * setuptools uses for the extension, plus setup.py's extra_compile_args) and
 * called via ctypes.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct { double key; int64_t node; } Entry;

typedef struct {
    Entry *e;
    int64_t n, cap;
} MinHeap;

static int push(MinHeap *h, double key, int64_t node) {
    if (h->n == h->cap) {
        int64_t cap = h->cap ? h->cap * 2 : 4096;
        Entry *grown = realloc(h->e, (size_t)cap * sizeof(Entry));
        if (!grown) return -1;
        h->e = grown;
        h->cap = cap;
    }
    int64_t i = h->n++;
    /* sift up: move parents down until the new key fits */
    while (i > 0) {
        int64_t parent = (i - 1) >> 1;
        if (h->e[parent].key <= key) break;
        h->e[i] = h->e[parent];
        i = parent;
    }
    h->e[i].key = key;
    h->e[i].node = node;
    return 0;
}

static Entry pop(MinHeap *h) {
    Entry top = h->e[0];
    Entry moving = h->e[--h->n];
    int64_t i = 0;
    /* sift down the former last entry from the root */
    for (;;) {
        int64_t child = 2 * i + 1;
        if (child >= h->n) break;
        if (child + 1 < h->n && h->e[child + 1].key < h->e[child].key) child++;
        if (moving.key <= h->e[child].key) break;
        h->e[i] = h->e[child];
        i = child;
    }
    if (h->n > 0) h->e[i] = moving;
    return top;
}

typedef struct {
    int64_t *src, *dem;
    double *dist;
    int64_t n, cap;
} Out;

static int emit(Out *o, int64_t s, int64_t d, double dist) {
    if (o->n == o->cap) {
        int64_t cap = o->cap ? o->cap * 2 : 65536;
        int64_t *a = realloc(o->src, (size_t)cap * sizeof(int64_t));
        if (!a) return -1;
        o->src = a;
        int64_t *b = realloc(o->dem, (size_t)cap * sizeof(int64_t));
        if (!b) return -1;
        o->dem = b;
        double *c = realloc(o->dist, (size_t)cap * sizeof(double));
        if (!c) return -1;
        o->dist = c;
        o->cap = cap;
    }
    o->src[o->n] = s;
    o->dem[o->n] = d;
    o->dist[o->n] = dist;
    o->n++;
    return 0;
}

/*
 * For each source node sources[k], every demand node demand[j] within `cutoff`
 * yields (k, j, metres). Results are malloc'ed into *out_*; release them with
 * floor_free. Returns the pair count, or -1 when out of memory.
 */
/* Scratch indexed by node, kept between calls: dist is INFINITY and dem_of -1 outside a call. */
static double *scratch_dist;
static int32_t *scratch_dem_of;
static int64_t *scratch_touched;
static int64_t scratch_cap;
static MinHeap scratch_heap;

static int reserve(int64_t n) {
    if (n <= scratch_cap) return 0;
    double *d = realloc(scratch_dist, (size_t)n * sizeof(double));
    if (d) scratch_dist = d;
    int32_t *m = realloc(scratch_dem_of, (size_t)n * sizeof(int32_t));
    if (m) scratch_dem_of = m;
    int64_t *t = realloc(scratch_touched, (size_t)n * sizeof(int64_t));
    if (t) scratch_touched = t;
    if (!d || !m || !t) return -1;
    for (int64_t i = scratch_cap; i < n; i++) {
        scratch_dist[i] = INFINITY;
        scratch_dem_of[i] = -1;
    }
    scratch_cap = n;
    return 0;
}

/*
 * For each source node sources[k], every demand node demand[j] within `cutoff`
 * yields (k, j, metres). Results are malloc'ed into *out_*; release them with
 * floor_free. Returns the pair count, or -1 when out of memory. Not thread-safe.
 */
int64_t floor_walks(int64_t n_nodes, const int64_t *indptr, const int32_t *indices, const double *weights,
                    int64_t n_src, const int64_t *sources, int64_t n_dem, const int64_t *demand, double cutoff,
                    int64_t **out_src, int64_t **out_dem, double **out_dist) {
    Out out = {0};
    int64_t result = -1, n_touched = 0;
    if (reserve(n_nodes > 0 ? n_nodes : 1)) goto cleanup;
    double *dist = scratch_dist;
    int32_t *dem_of = scratch_dem_of;
    int64_t *touched = scratch_touched;
    MinHeap *heap = &scratch_heap;
    heap->n = 0;
    for (int64_t j = 0; j < n_dem; j++) dem_of[demand[j]] = (int32_t)j;

    for (int64_t k = 0; k < n_src; k++) {
        int64_t s = sources[k];
        n_touched = 0;
        dist[s] = 0.0;
        touched[n_touched++] = s;
        if (push(heap, 0.0, s)) goto cleanup;
        while (heap->n) {
            Entry top = pop(heap);
            int64_t x = top.node;
            if (top.key > dist[x]) continue; /* superseded by a shorter entry */
            if (dem_of[x] >= 0 && emit(&out, k, dem_of[x], top.key)) goto cleanup;
            for (int64_t e = indptr[x]; e < indptr[x + 1]; e++) {
                int64_t y = indices[e];
                double nd = top.key + weights[e];
                if (nd > cutoff || nd >= dist[y]) continue;
                if (dist[y] == INFINITY) touched[n_touched++] = y;
                dist[y] = nd;
                if (push(heap, nd, y)) goto cleanup;
            }
        }
        for (int64_t t = 0; t < n_touched; t++) dist[touched[t]] = INFINITY;
        n_touched = 0;
    }
    result = out.n;

cleanup:
    /* Leave the scratch as found, also after running out of memory mid-search. */
    if (scratch_cap >= n_nodes && n_nodes > 0) {
        for (int64_t t = 0; t < n_touched; t++) scratch_dist[scratch_touched[t]] = INFINITY;
        for (int64_t j = 0; j < n_dem; j++) scratch_dem_of[demand[j]] = -1;
    }
    scratch_heap.n = 0;
    if (result < 0) {
        free(out.src);
        free(out.dem);
        free(out.dist);
        out.src = out.dem = NULL;
        out.dist = NULL;
    }
    *out_src = out.src;
    *out_dem = out.dem;
    *out_dist = out.dist;
    return result;
}

void floor_free(void *p) { free(p); }
