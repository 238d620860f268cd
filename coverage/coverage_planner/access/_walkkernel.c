/*
 * Bounded multi-source Dijkstra for walk distances (a small CPython extension).
 *
 * Why C: SciPy's csgraph.dijkstra allocates and scans arrays the size of the
 * whole network for every source and uses a Fibonacci heap; here each source
 * touches only what its walk budget reaches (4-ary heap, lazy deletion, and
 * per-thread scratch arrays reset through touched lists, kept between calls),
 * so the cost grows with the walk and the places, not with the city. Demand places are read straight off each settled
 * node, so the output is the sparse (source, place, metres) list directly.
 *
 * Inputs are any contiguous buffers (NumPy arrays); no NumPy headers needed.
 * Edge targets are int32 (half the memory traffic of int64; 2^31 nodes is
 * far beyond any city), everything else int64/float64.
 * The GIL is released while computing, so Python threads can share the work.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct { double d; int64_t node; } Item;  /* 16 bytes either way */
/* A 4-ary heap: half the levels of a binary one, and a node's children share a cache line. */
#define ARITY 4
typedef struct { Item *a; int64_t size, cap; } Heap;
typedef struct { int64_t *row, *col; double *dist; int64_t size, cap; } Pairs;

static int heap_push(Heap *h, double d, int64_t node) {
    if (h->size == h->cap) {
        int64_t cap = h->cap ? 2 * h->cap : 1024;
        Item *a = realloc(h->a, (size_t)cap * sizeof(Item));
        if (!a) return -1;
        h->a = a; h->cap = cap;
    }
    int64_t i = h->size++;
    while (i > 0) {
        int64_t p = (i - 1) / ARITY;
        if (h->a[p].d <= d) break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i].d = d; h->a[i].node = node;
    return 0;
}

static Item heap_pop(Heap *h) {
    Item top = h->a[0], last = h->a[--h->size];
    int64_t i = 0, n = h->size;
    for (;;) {
        int64_t c = ARITY * i + 1;
        if (c >= n) break;
        int64_t end = c + ARITY < n ? c + ARITY : n, m = c;
        double md = h->a[c].d;
        for (int64_t x = c + 1; x < end; x++) {  /* branch-free: which child is smallest is unpredictable */
            double xd = h->a[x].d;
            int smaller = xd < md;
            m = smaller ? x : m;
            md = smaller ? xd : md;
        }
        if (md >= last.d) break;
        h->a[i] = h->a[m];
        i = m;
    }
    if (n > 0) h->a[i] = last;
    return top;
}

static int pairs_add(Pairs *p, int64_t row, int64_t col, double dist) {
    if (p->size == p->cap) {
        int64_t cap = p->cap ? 2 * p->cap : 4096;
        int64_t *r = realloc(p->row, (size_t)cap * sizeof(int64_t));
        if (!r) return -1;
        p->row = r;
        int64_t *c = realloc(p->col, (size_t)cap * sizeof(int64_t));
        if (!c) return -1;
        p->col = c;
        double *d = realloc(p->dist, (size_t)cap * sizeof(double));
        if (!d) return -1;
        p->dist = d;
        p->cap = cap;
    }
    p->row[p->size] = row; p->col[p->size] = col; p->dist[p->size] = dist;
    p->size++;
    return 0;
}

/* The whole walk: access leg, network part, access leg (added in this order, as NumPy did); kept within the cutoff. */
static int emit(Pairs *out, int64_t row, int64_t col, double network, double leg_from, double leg_to, double cutoff) {
    double total = (network + leg_from) + leg_to;
    return total <= cutoff ? pairs_add(out, row, col, total) : 0;
}

static int cmp_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Per-thread scratch indexed by node, kept between calls so no call pays for the whole
 * network: distances stay INFINITY and list heads -1 outside a search (every entry a search
 * sets is reset before it returns), so a new call only extends the arrays when the network
 * is larger than any before. */
static __thread double *scratch_dist;
static __thread int64_t *scratch_touched, *scratch_head;
static __thread int64_t scratch_cap;

static int scratch_reserve(int64_t n) {
    if (n <= scratch_cap) return 0;
    double *d = realloc(scratch_dist, (size_t)n * sizeof(double));
    if (d) scratch_dist = d;
    int64_t *t = realloc(scratch_touched, (size_t)n * sizeof(int64_t));
    if (t) scratch_touched = t;
    int64_t *h = realloc(scratch_head, (size_t)n * sizeof(int64_t));
    if (h) scratch_head = h;
    if (!d || !t || !h) return -1;
    for (int64_t i = scratch_cap; i < n; i++) { scratch_dist[i] = INFINITY; scratch_head[i] = -1; }
    scratch_cap = n;
    return 0;
}

/* Returns 0 on success, -1 when out of memory. Pairs come out sorted by source, then place.
 * Demand entries are (node, place, metres from that node to the place), two per place;
 * places on the source's own edge are also reached straight along it: entries
 * edge_lo[k]..edge_hi[k] of (edge_dem_idx, edge_dem_along). */
static int run(
    int64_t n_nodes, const int64_t *indptr, const int32_t *indices, const double *weights,
    int64_t n_src, const int64_t *src_a, const double *off_a, const int64_t *src_b, const double *off_b,
    const double *budget, int64_t n_dem, int64_t n_entries, const int64_t *dem_node, const int64_t *dem_idx,
    const double *dem_off, const int64_t *edge_lo, const int64_t *edge_hi, const double *src_along,
    const int64_t *edge_dem_idx, const double *edge_dem_along, const int64_t *src_id, const double *src_leg,
    const double *dem_leg, double cutoff, Pairs *out)
{
    int status = -1;
    if (scratch_reserve(n_nodes ? n_nodes : 1)) return -1;
    double *dist = scratch_dist;
    int64_t *touched = scratch_touched, *head = scratch_head;
    double *best = malloc((size_t)(n_dem ? n_dem : 1) * sizeof(double));
    int64_t *touched_dem = malloc((size_t)(n_dem ? n_dem : 1) * sizeof(int64_t));
    int64_t *next = malloc((size_t)(n_entries ? n_entries : 1) * sizeof(int64_t));
    int64_t n_touched = 0;
    Heap heap = {0};
    if (!best || !touched_dem || !next) goto done;
    for (int64_t j = 0; j < n_dem; j++) best[j] = INFINITY;
    /* Node -> its demand entries, as linked lists threaded through `next`. */
    for (int64_t e = 0; e < n_entries; e++) { next[e] = head[dem_node[e]]; head[dem_node[e]] = e; }

    for (int64_t k = 0; k < n_src; k++) {
        double limit = budget[k];
        int64_t n_touched_dem = 0;
        n_touched = 0;
        if (!(limit >= 0)) continue;
        for (int64_t e = edge_lo[k]; e < edge_hi[k]; e++) {
            double cand = fabs(edge_dem_along[e] - src_along[k]);
            int64_t j = edge_dem_idx[e];
            if (cand <= limit && cand < best[j]) {
                if (best[j] == INFINITY) touched_dem[n_touched_dem++] = j;
                best[j] = cand;
            }
        }
        const int64_t starts[2] = {src_a[k], src_b[k]};
        const double offs[2] = {off_a[k], off_b[k]};
        for (int s = 0; s < 2; s++) {
            int64_t x = starts[s];
            if (x < 0 || offs[s] > limit || !(offs[s] < dist[x])) continue;
            if (dist[x] == INFINITY) touched[n_touched++] = x;
            dist[x] = offs[s];
            if (heap_push(&heap, offs[s], x)) goto done;
        }
        while (heap.size) {
            Item it = heap_pop(&heap);
            int64_t x = it.node;
            double d = it.d;
            if (d > dist[x]) continue; /* stale entry */
            for (int64_t e = head[x]; e >= 0; e = next[e]) {
                double cand = d + dem_off[e];
                int64_t j = dem_idx[e];
                if (cand <= limit && cand < best[j]) {
                    if (best[j] == INFINITY) touched_dem[n_touched_dem++] = j;
                    best[j] = cand;
                }
            }
            for (int64_t e = indptr[x]; e < indptr[x + 1]; e++) {
                int64_t y = indices[e];
                double nd = d + weights[e];
                if (nd <= limit && nd < dist[y]) {
                    if (dist[y] == INFINITY) touched[n_touched++] = y;
                    dist[y] = nd;
                    if (heap_push(&heap, nd, y)) goto done;
                }
            }
        }
        /* Places in increasing order: sort the few reached, or scan all places when scanning is
         * cheaper (a scan costs under a nanosecond a place, qsort tens per element reached). */
        if (n_touched_dem * 48 < n_dem) {
            qsort(touched_dem, (size_t)n_touched_dem, sizeof(int64_t), cmp_int64);
            for (int64_t t = 0; t < n_touched_dem; t++) {
                int64_t j = touched_dem[t];
                if (emit(out, src_id[k], j, best[j], src_leg[k], dem_leg[j], cutoff)) goto done;
                best[j] = INFINITY;
            }
        } else {
            for (int64_t j = 0; j < n_dem; j++) {
                if (best[j] == INFINITY) continue;
                if (emit(out, src_id[k], j, best[j], src_leg[k], dem_leg[j], cutoff)) goto done;
                best[j] = INFINITY;
            }
        }
        for (int64_t t = 0; t < n_touched; t++) dist[touched[t]] = INFINITY;
        n_touched = 0;
    }
    status = 0;
done:
    /* Leave the scratch as found, also after running out of memory mid-search. */
    for (int64_t t = 0; t < n_touched; t++) dist[touched[t]] = INFINITY;
    if (next) for (int64_t e = 0; e < n_entries; e++) head[dem_node[e]] = -1;
    free(best); free(touched_dem); free(next); free(heap.a);
    return status;
}

static int check(Py_buffer *b, Py_ssize_t itemsize, Py_ssize_t count, const char *name) {
    if (b->len != itemsize * count) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd items of %zd bytes, got %zd bytes", name, count, itemsize, b->len);
        return -1;
    }
    return 0;
}

static PyObject *bounded_walks(PyObject *self, PyObject *args) {
    Py_buffer ip, ix, w, sa, oa, sb, ob, bu, dn, di, dof, elo, ehi, sal, ei, eal, sid, sl, dl;
    long long n_nodes, n_dem;
    double cutoff;
    if (!PyArg_ParseTuple(args, "Ly*y*y*y*y*y*y*y*Ly*y*y*y*y*y*y*y*y*y*y*d", &n_nodes, &ip, &ix, &w, &sa, &oa, &sb, &ob, &bu,
                          &n_dem, &dn, &di, &dof, &elo, &ehi, &sal, &ei, &eal, &sid, &sl, &dl, &cutoff))
        return NULL;
    PyObject *result = NULL;
    Pairs out = {0};
    Py_ssize_t n_src = sa.len / 8, n_edges = ix.len / 4, n_entries = dn.len / 8, n_edge_entries = ei.len / 8;
    if (check(&ip, 8, n_nodes + 1, "indptr") || check(&w, 8, n_edges, "weights") || check(&oa, 8, n_src, "off_a") ||
        check(&sb, 8, n_src, "src_b") || check(&ob, 8, n_src, "off_b") || check(&bu, 8, n_src, "budget") ||
        check(&di, 8, n_entries, "dem_idx") || check(&dof, 8, n_entries, "dem_off") ||
        check(&elo, 8, n_src, "edge_lo") || check(&ehi, 8, n_src, "edge_hi") || check(&sal, 8, n_src, "src_along") ||
        check(&eal, 8, n_edge_entries, "edge_dem_along") ||
        check(&sid, 8, n_src, "src_id") || check(&sl, 8, n_src, "src_leg") || check(&dl, 8, n_dem, "dem_leg"))
        goto release;
    /* Node indices are trusted below: check them once here. */
    const int64_t *nodes = dn.buf;
    for (Py_ssize_t e = 0; e < n_entries; e++)
        if (nodes[e] < 0 || nodes[e] >= n_nodes) { PyErr_SetString(PyExc_ValueError, "dem_node: node index out of range"); goto release; }
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = run(n_nodes, ip.buf, ix.buf, w.buf, n_src, sa.buf, oa.buf, sb.buf, ob.buf, bu.buf, n_dem, n_entries, dn.buf,
                 di.buf, dof.buf, elo.buf, ehi.buf, sal.buf, ei.buf, eal.buf, sid.buf, sl.buf, dl.buf, cutoff, &out);
    Py_END_ALLOW_THREADS
    if (status) { PyErr_NoMemory(); goto release; }
    /* y# turns a NULL pointer into None: hand it an empty string instead. */
    result = Py_BuildValue(
        "(y#y#y#)", out.size ? (const char *)out.row : "", (Py_ssize_t)(out.size * 8),
        out.size ? (const char *)out.col : "", (Py_ssize_t)(out.size * 8),
        out.size ? (const char *)out.dist : "", (Py_ssize_t)(out.size * 8));
release:
    free(out.row); free(out.col); free(out.dist);
    PyBuffer_Release(&ip); PyBuffer_Release(&ix); PyBuffer_Release(&w); PyBuffer_Release(&sa); PyBuffer_Release(&oa);
    PyBuffer_Release(&sb); PyBuffer_Release(&ob); PyBuffer_Release(&bu); PyBuffer_Release(&dn); PyBuffer_Release(&di);
    PyBuffer_Release(&dof); PyBuffer_Release(&elo); PyBuffer_Release(&ehi); PyBuffer_Release(&sal); PyBuffer_Release(&ei);
    PyBuffer_Release(&eal); PyBuffer_Release(&sid); PyBuffer_Release(&sl); PyBuffer_Release(&dl);
    return result;
}

static PyMethodDef methods[] = {
    {"bounded_walks", bounded_walks, METH_VARARGS,
     "bounded_walks(n_nodes, indptr, indices, weights, src_a, off_a, src_b, off_b, budget, n_dem, dem_node, dem_idx, dem_off,"
     " edge_lo, edge_hi, src_along, edge_dem_idx, edge_dem_along, src_id, src_leg, dem_leg, cutoff)"
     " -> (rows, cols, metres) as bytes of int64/int64/float64: every (source id, demand) pair whose walk, access legs"
     " included, is within the cutoff (the network part within the source's budget)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_walkkernel", "Bounded multi-source Dijkstra.", -1, methods};

PyMODINIT_FUNC PyInit__walkkernel(void) { return PyModule_Create(&module); }
