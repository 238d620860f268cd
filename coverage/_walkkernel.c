/*
 * Bounded multi-source Dijkstra for walk distances (a small CPython extension).
 *
 * Why C: SciPy's csgraph.dijkstra allocates and scans arrays the size of the
 * whole network for every source and uses a Fibonacci heap; here each source
 * touches only what its walk budget reaches (binary heap, lazy deletion, and
 * scratch arrays reset through touched lists), so the cost grows with the
 * walk, not with the city. Demand places are read straight off each settled
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
        int64_t p = (i - 1) / 2;
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
        int64_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h->a[c + 1].d < h->a[c].d) c++;
        if (h->a[c].d >= last.d) break;
        h->a[i] = h->a[c];
        i = c;
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

static int cmp_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Returns 0 on success, -1 when out of memory. Pairs come out sorted by source, then place. */
static int run(
    int64_t n_nodes, const int64_t *indptr, const int32_t *indices, const double *weights,
    int64_t n_src, const int64_t *src_a, const double *off_a, const int64_t *src_b, const double *off_b,
    const double *budget, int64_t n_dem, const int64_t *dem_ptr, const int64_t *dem_idx, const double *dem_off,
    Pairs *out)
{
    int status = -1;
    double *dist = malloc((size_t)(n_nodes ? n_nodes : 1) * sizeof(double));
    double *best = malloc((size_t)(n_dem ? n_dem : 1) * sizeof(double));
    int64_t *touched = malloc((size_t)(n_nodes ? n_nodes : 1) * sizeof(int64_t));
    int64_t *touched_dem = malloc((size_t)(n_dem ? n_dem : 1) * sizeof(int64_t));
    Heap heap = {0};
    if (!dist || !best || !touched || !touched_dem) goto done;
    for (int64_t i = 0; i < n_nodes; i++) dist[i] = INFINITY;
    for (int64_t j = 0; j < n_dem; j++) best[j] = INFINITY;

    for (int64_t k = 0; k < n_src; k++) {
        double limit = budget[k];
        int64_t n_touched = 0, n_touched_dem = 0;
        if (!(limit >= 0)) continue;
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
            for (int64_t e = dem_ptr[x]; e < dem_ptr[x + 1]; e++) {
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
        qsort(touched_dem, (size_t)n_touched_dem, sizeof(int64_t), cmp_int64);
        for (int64_t t = 0; t < n_touched_dem; t++) {
            int64_t j = touched_dem[t];
            if (pairs_add(out, k, j, best[j])) goto done;
            best[j] = INFINITY;
        }
        for (int64_t t = 0; t < n_touched; t++) dist[touched[t]] = INFINITY;
    }
    status = 0;
done:
    free(dist); free(best); free(touched); free(touched_dem); free(heap.a);
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
    Py_buffer ip, ix, w, sa, oa, sb, ob, bu, dp, di, dof;
    long long n_nodes, n_dem;
    if (!PyArg_ParseTuple(args, "Ly*y*y*y*y*y*y*y*Ly*y*y*", &n_nodes, &ip, &ix, &w, &sa, &oa, &sb, &ob, &bu, &n_dem, &dp, &di, &dof))
        return NULL;
    PyObject *result = NULL;
    Pairs out = {0};
    Py_ssize_t n_src = sa.len / 8, n_edges = ix.len / 4, n_entries = di.len / 8;
    if (check(&ip, 8, n_nodes + 1, "indptr") || check(&w, 8, n_edges, "weights") || check(&oa, 8, n_src, "off_a") ||
        check(&sb, 8, n_src, "src_b") || check(&ob, 8, n_src, "off_b") || check(&bu, 8, n_src, "budget") ||
        check(&dp, 8, n_nodes + 1, "dem_ptr") || check(&dof, 8, n_entries, "dem_off"))
        goto release;
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = run(n_nodes, ip.buf, ix.buf, w.buf, n_src, sa.buf, oa.buf, sb.buf, ob.buf, bu.buf, n_dem, dp.buf, di.buf, dof.buf, &out);
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
    PyBuffer_Release(&sb); PyBuffer_Release(&ob); PyBuffer_Release(&bu); PyBuffer_Release(&dp); PyBuffer_Release(&di);
    PyBuffer_Release(&dof);
    return result;
}

static PyMethodDef methods[] = {
    {"bounded_walks", bounded_walks, METH_VARARGS,
     "bounded_walks(n_nodes, indptr, indices, weights, src_a, off_a, src_b, off_b, budget, n_dem, dem_ptr, dem_idx, dem_off)"
     " -> (rows, cols, dist) as bytes of int64/int64/float64: every (source, demand) pair within the source's budget."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_walkkernel", "Bounded multi-source Dijkstra.", -1, methods};

PyMODINIT_FUNC PyInit__walkkernel(void) { return PyModule_Create(&module); }
