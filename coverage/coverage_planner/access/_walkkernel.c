/*
 * Bounded multi-source Dijkstra for walk distances (a small CPython extension).
 *
 * Why C: SciPy's csgraph.dijkstra allocates and scans arrays the size of the
 * whole network for every source and uses a Fibonacci heap; here each source
 * touches only what its walk budget reaches (4-ary heap, lazy deletion, and
 * per-thread scratch arrays reset through touched lists, kept between calls, so a
 * call allocates nothing but its output),
 * so the cost grows with the walk and the places, not with the city. Demand places are read straight off each settled
 * node, so the output is the sparse (source, place, metres) list directly.
 *
 * Two entry points, both keyword-only:
 *   Graph(n_nodes=, indptr=, indices=, weights=) copies and checks the network's CSR once;
 *   bounded_walks(graph=, <source and place arrays>, n_places=, cutoff=) checks its own
 *   arrays on every call and runs the searches.
 * The CSR is checked when the Graph is built, not per call: a call costs what its walks
 * and places cost, and scanning the whole network on every chunk of sites would break that.
 * Every index the searches follow is checked at this boundary (dtype through the buffer
 * format, lengths, ranges), so no input reaches memory outside its array; bad input raises
 * ValueError naming the argument and the first bad position.
 *
 * Inputs are C-contiguous one-dimensional buffers (NumPy arrays); no NumPy headers needed.
 * Edge targets are int32 (half the memory traffic of int64; 2^31 nodes is
 * far beyond any city), everything else int64/float64.
 * The GIL is released while computing, so Python threads can share the work; the arrays
 * passed to bounded_walks must not be modified while it runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Thread-local storage: C11 keyword, MSVC's spelling, or the GCC/Clang extension. */
#if defined(_MSC_VER)
#define THREAD_LOCAL __declspec(thread)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define THREAD_LOCAL _Thread_local
#else
#define THREAD_LOCAL __thread
#endif

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

#if defined(__GNUC__) || defined(__clang__)
#define CTZ64(x) __builtin_ctzll(x)
#else
static int CTZ64(uint64_t x) { int n = 0; while (!(x & 1)) { x >>= 1; n++; } return n; }
#endif

/* Per-thread scratch, kept between calls so no call pays for the whole network or allocates:
 * indexed by node, distances stay INFINITY and list heads -1 outside a search; indexed by
 * place, best distances stay INFINITY and the reached-places bitmap 0 (every entry a search
 * sets is reset before it returns). A call only extends an array when it needs more than any
 * call before on this thread. Each thread has its own arrays, so threads share no cache lines. */
static THREAD_LOCAL double *scratch_dist;
static THREAD_LOCAL int64_t *scratch_touched, *scratch_head;
static THREAD_LOCAL int64_t scratch_cap;
static THREAD_LOCAL double *scratch_best;
static THREAD_LOCAL int64_t *scratch_touched_dem;
static THREAD_LOCAL uint64_t *scratch_reached;
static THREAD_LOCAL int64_t scratch_dem_cap;
static THREAD_LOCAL int64_t *scratch_next;
static THREAD_LOCAL int64_t scratch_next_cap;
static THREAD_LOCAL Heap scratch_heap;

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

static int scratch_reserve_places(int64_t n) {
    if (n <= scratch_dem_cap) return 0;
    const int64_t words = (n + 63) / 64, old_words = (scratch_dem_cap + 63) / 64;
    double *b = realloc(scratch_best, (size_t)n * sizeof(double));
    if (b) scratch_best = b;
    int64_t *t = realloc(scratch_touched_dem, (size_t)n * sizeof(int64_t));
    if (t) scratch_touched_dem = t;
    uint64_t *r = realloc(scratch_reached, (size_t)words * sizeof(uint64_t));
    if (r) scratch_reached = r;
    if (!b || !t || !r) return -1;
    for (int64_t j = scratch_dem_cap; j < n; j++) scratch_best[j] = INFINITY;
    for (int64_t w = old_words; w < words; w++) scratch_reached[w] = 0;
    scratch_dem_cap = n;
    return 0;
}

static int scratch_reserve_entries(int64_t n) {
    if (n <= scratch_next_cap) return 0;
    int64_t *x = realloc(scratch_next, (size_t)n * sizeof(int64_t));
    if (!x) return -1;
    scratch_next = x;
    scratch_next_cap = n;
    return 0;
}

/* The network, copied and checked once (see GraphType below). */
typedef struct {
    PyObject_HEAD
    int64_t n_nodes, n_edges;
    int64_t *indptr;
    int32_t *indices;
    double *weights;
} Graph;

/* One call's sources and places, all checked before run() sees them.
 * Source k starts at src_a[k] / src_b[k] at off_a[k] / off_b[k] metres with budget[k]
 * network metres to spend (negative: skip it). Demand entries are (node, place, metres
 * from that node to the place), two per place; places on the source's own edge are also
 * reached straight along it: entries edge_lo[k]..edge_hi[k] of (edge_dem_idx, edge_dem_along). */
typedef struct {
    int64_t n_src;
    const int64_t *src_a, *src_b, *edge_lo, *edge_hi, *src_id;
    const double *off_a, *off_b, *budget, *src_along, *src_leg;
    int64_t n_places, n_entries;
    const int64_t *dem_node, *dem_idx, *edge_dem_idx;
    const double *dem_off, *edge_dem_along, *dem_leg;
    double cutoff;
} Walks;

/* Returns 0 on success, -1 when out of memory. Pairs come out sorted by source, then place. */
static int run(const Graph *g, const Walks *walks, Pairs *out) {
    const Walks w_copy = *walks, *w = &w_copy;  /* a local copy: stores to the outputs cannot alias it */
    const int64_t n_dem = w->n_places, n_entries = w->n_entries;
    const int64_t *indptr = g->indptr, *dem_node = w->dem_node, *dem_idx = w->dem_idx;
    const int32_t *indices = g->indices;
    const double *weights = g->weights, *dem_off = w->dem_off;
    int status = -1;
    if (scratch_reserve(g->n_nodes ? g->n_nodes : 1) || scratch_reserve_places(n_dem ? n_dem : 1) ||
        scratch_reserve_entries(n_entries ? n_entries : 1))
        return -1;
    double *dist = scratch_dist, *best = scratch_best;
    int64_t *touched = scratch_touched, *head = scratch_head, *touched_dem = scratch_touched_dem;
    int64_t *next = scratch_next;
    uint64_t *reached = scratch_reached;  /* bit j: place j has a walk from this source */
    int64_t n_touched = 0, n_touched_dem = 0;
    /* A local copy of the heap: a thread-local's address costs a __tls_get_addr call in a shared object,
     * and heap_push would otherwise pay it on every push. Written back before returning. */
    Heap local_heap = scratch_heap, *heap = &local_heap;
    heap->size = 0;
    /* Node -> its demand entries, as linked lists threaded through `next`. */
    for (int64_t e = 0; e < n_entries; e++) { next[e] = head[dem_node[e]]; head[dem_node[e]] = e; }

    for (int64_t k = 0; k < w->n_src; k++) {
        double limit = w->budget[k];
        n_touched_dem = 0;
        n_touched = 0;
        if (!(limit >= 0)) continue;
        for (int64_t e = w->edge_lo[k]; e < w->edge_hi[k]; e++) {
            double cand = fabs(w->edge_dem_along[e] - w->src_along[k]);
            int64_t j = w->edge_dem_idx[e];
            if (cand <= limit && cand < best[j]) {
                if (best[j] == INFINITY) { touched_dem[n_touched_dem++] = j; reached[j >> 6] |= (uint64_t)1 << (j & 63); }
                best[j] = cand;
            }
        }
        const int64_t starts[2] = {w->src_a[k], w->src_b[k]};
        const double offs[2] = {w->off_a[k], w->off_b[k]};
        for (int s = 0; s < 2; s++) {
            int64_t x = starts[s];
            if (offs[s] > limit || !(offs[s] < dist[x])) continue;
            if (dist[x] == INFINITY) touched[n_touched++] = x;
            dist[x] = offs[s];
            if (heap_push(heap, offs[s], x)) goto done;
        }
        while (heap->size) {
            Item it = heap_pop(heap);
            int64_t x = it.node;
            double d = it.d;
            if (d > dist[x]) continue; /* stale entry */
            for (int64_t e = head[x]; e >= 0; e = next[e]) {
                double cand = d + dem_off[e];
                int64_t j = dem_idx[e];
                if (cand <= limit && cand < best[j]) {
                    if (best[j] == INFINITY) { touched_dem[n_touched_dem++] = j; reached[j >> 6] |= (uint64_t)1 << (j & 63); }
                    best[j] = cand;
                }
            }
            for (int64_t e = indptr[x]; e < indptr[x + 1]; e++) {
                int64_t y = indices[e];
                double nd = d + weights[e];
                if (nd <= limit && nd < dist[y]) {
                    if (dist[y] == INFINITY) touched[n_touched++] = y;
                    dist[y] = nd;
                    if (heap_push(heap, nd, y)) goto done;
                }
            }
        }
        /* Places in increasing order, read off the reached-places bitmap: one word covers 64
         * places, so the scan costs about n_places / 64 steps however many were reached. Only
         * when very few were reached is sorting them cheaper (qsort: tens of ns an element). */
        const int64_t id = w->src_id[k];
        const double leg = w->src_leg[k];
        const int64_t n_words = (n_dem + 63) / 64;
        if (n_touched_dem * 64 < n_words) {
            qsort(touched_dem, (size_t)n_touched_dem, sizeof(int64_t), cmp_int64);
            for (int64_t t = 0; t < n_touched_dem; t++) {
                int64_t j = touched_dem[t];
                reached[j >> 6] = 0;
                if (emit(out, id, j, best[j], leg, w->dem_leg[j], w->cutoff)) goto done;
                best[j] = INFINITY;
            }
        } else {
            for (int64_t word = 0; word < n_words; word++) {
                uint64_t bits = reached[word];
                if (!bits) continue;
                reached[word] = 0;
                do {
                    int64_t j = 64 * word + CTZ64(bits);
                    bits &= bits - 1;
                    if (emit(out, id, j, best[j], leg, w->dem_leg[j], w->cutoff)) goto done;
                    best[j] = INFINITY;
                } while (bits);
            }
        }
        n_touched_dem = 0;
        for (int64_t t = 0; t < n_touched; t++) dist[touched[t]] = INFINITY;
        n_touched = 0;
    }
    status = 0;
done:
    /* Leave the scratch as found, also after running out of memory mid-search or mid-emission. */
    for (int64_t t = 0; t < n_touched; t++) dist[touched[t]] = INFINITY;
    for (int64_t t = 0; t < n_touched_dem; t++) { int64_t j = touched_dem[t]; best[j] = INFINITY; reached[j >> 6] = 0; }
    for (int64_t e = 0; e < n_entries; e++) head[dem_node[e]] = -1;
    heap->size = 0;
    scratch_heap = local_heap;
    return status;
}

/* ------------------------------------------------------------------ boundary checks */

typedef enum { INT64, INT32, FLOAT64 } Kind;
static const char *const kind_name[] = {"int64", "int32", "float64"};

/* The single type code of a native-byte-order buffer format ('@', '=' or the native '<'/'>'
 * prefix allowed), or 0 when the format is anything else. */
static char format_code(const Py_buffer *b) {
    const uint16_t one = 1;
    const int little = *(const unsigned char *)&one;
    const char *f = b->format ? b->format : "B";
    if (*f == '@' || *f == '=' || *f == (little ? '<' : '>') || (!little && *f == '!')) f++;
    return f[0] && !f[1] ? f[0] : 0;
}

static int has_kind(const Py_buffer *b, Kind kind) {
    char c = format_code(b);
    switch (kind) {
    case INT64: return (c == 'l' || c == 'q') && b->itemsize == 8;
    case INT32: return (c == 'i' || c == 'l') && b->itemsize == 4;
    default: return c == 'd' && b->itemsize == 8;
    }
}

/* A NumPy-style name for a buffer's element type, for error messages. */
static void describe(const Py_buffer *b, char *out, size_t size) {
    char c = format_code(b);
    int bits = (int)(8 * b->itemsize);
    if (!c) snprintf(out, size, "buffer format '%.20s'", b->format ? b->format : "B");
    else if (c == 'd' || c == 'f' || c == 'e') snprintf(out, size, "float%d", bits);
    else if (strchr("bhilqn", c)) snprintf(out, size, "int%d", bits);
    else if (strchr("BHILQN", c)) snprintf(out, size, "uint%d", bits);
    else if (c == '?') snprintf(out, size, "bool");
    else snprintf(out, size, "buffer format '%c'", c);
}

/* A C-contiguous one-dimensional buffer of `kind`; raises and returns -1 otherwise. */
static int get_view(PyObject *obj, const char *name, Kind kind, Py_buffer *view) {
    if (!PyObject_CheckBuffer(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a one-dimensional %s array, not %.100s", name, kind_name[kind],
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s must be a C-contiguous one-dimensional %s array", name, kind_name[kind]);
        return -1;
    }
    if (view->ndim != 1) {
        PyErr_Format(PyExc_ValueError, "%s must be one-dimensional, got %d dimensions", name, view->ndim);
        PyBuffer_Release(view);
        return -1;
    }
    if (!has_kind(view, kind)) {
        char got[64];
        describe(view, got, sizeof got);
        PyErr_Format(PyExc_ValueError, "%s must be %s (native byte order), got %s", name, kind_name[kind], got);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static Py_ssize_t count(const Py_buffer *b) { return b->len / b->itemsize; }

static int check_count(const Py_buffer *b, const char *name, Py_ssize_t expected, const char *what) {
    if (count(b) == expected) return 0;
    PyErr_Format(PyExc_ValueError, "%s has %zd items, expected %zd (%s)", name, count(b), expected, what);
    return -1;
}

/* Every value in [0, n). The first pass has no early exit (the usual, all-good case is one tight loop);
 * only a bad array is scanned again to find where. */
static int check_range64(const int64_t *v, Py_ssize_t len, const char *name, int64_t n, const char *what) {
    int bad = 0;
    for (Py_ssize_t i = 0; i < len; i++) bad |= (uint64_t)v[i] >= (uint64_t)n;
    if (!bad) return 0;
    for (Py_ssize_t i = 0; i < len; i++)
        if (v[i] < 0 || v[i] >= n) {
            PyErr_Format(PyExc_ValueError, "%s[%zd] = %lld is outside [0, %lld) (%s)", name, i, (long long)v[i],
                         (long long)n, what);
            return -1;
        }
    return 0;
}

static int check_range32(const int32_t *v, Py_ssize_t len, const char *name, int64_t n, const char *what) {
    int bad = 0;
    for (Py_ssize_t i = 0; i < len; i++) bad |= (int64_t)v[i] < 0 || (int64_t)v[i] >= n;
    if (!bad) return 0;
    for (Py_ssize_t i = 0; i < len; i++)
        if (v[i] < 0 || v[i] >= n) {
            PyErr_Format(PyExc_ValueError, "%s[%zd] = %d is outside [0, %lld) (%s)", name, i, (int)v[i],
                         (long long)n, what);
            return -1;
        }
    return 0;
}

typedef enum { ANY_BUT_NAN, FINITE, FINITE_NONNEG } Rule;

static int bad_double(double x, Rule rule) {
    switch (rule) {
    case ANY_BUT_NAN: return x != x;
    case FINITE: return !(x >= -DBL_MAX && x <= DBL_MAX);
    default: return !(x >= 0 && x <= DBL_MAX);
    }
}

static int raise_bad_double(const char *name, Py_ssize_t i, double x, Rule rule) {
    static const char *const want[] = {"a number (not NaN)", "finite", "finite and non-negative"};
    char *text = PyOS_double_to_string(x, 'r', 0, 0, NULL);
    if (!text) return -1;
    if (i < 0) PyErr_Format(PyExc_ValueError, "%s = %s must be %s", name, text, want[rule]);
    else PyErr_Format(PyExc_ValueError, "%s[%zd] = %s must be %s", name, i, text, want[rule]);
    PyMem_Free(text);
    return -1;
}

static int check_doubles(const double *v, Py_ssize_t len, const char *name, Rule rule) {
    int bad = 0;
    switch (rule) {  /* one branch-free loop per rule, as in check_range64 */
    case ANY_BUT_NAN: for (Py_ssize_t i = 0; i < len; i++) bad |= v[i] != v[i]; break;
    case FINITE: for (Py_ssize_t i = 0; i < len; i++) bad |= !(v[i] >= -DBL_MAX) | !(v[i] <= DBL_MAX); break;
    default: for (Py_ssize_t i = 0; i < len; i++) bad |= !(v[i] >= 0) | !(v[i] <= DBL_MAX); break;
    }
    if (!bad) return 0;
    for (Py_ssize_t i = 0; i < len; i++)
        if (bad_double(v[i], rule)) return raise_bad_double(name, i, v[i], rule);
    return 0;
}

/* Keyword-only arguments all required: "|$" parses them as optional, so say which one is missing. */
static int require(PyObject *const *objs, char *const *names, const char *func) {
    for (int i = 0; names[i]; i++)
        if (!objs[i]) {
            PyErr_Format(PyExc_TypeError, "%s() missing required keyword argument '%s'", func, names[i]);
            return -1;
        }
    return 0;
}

/* When argument parsing failed: name a positional use or an unknown keyword (CPython may only say "takes at
 * most N arguments"), else keep its message. Only on the error path, so calls do not pay for it. */
static PyObject *call_error(PyObject *args, PyObject *kwargs, char *const *names, const char *func) {
    if (!PyErr_ExceptionMatches(PyExc_TypeError)) return NULL;
    if (PyTuple_GET_SIZE(args)) {
        PyErr_Clear();
        return PyErr_Format(PyExc_TypeError, "%s() takes keyword arguments only (%zd given by position)", func,
                            PyTuple_GET_SIZE(args));
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (kwargs && PyDict_Next(kwargs, &pos, &key, &value)) {
        int known = 0;
        for (int i = 0; names[i] && !known; i++)
            known = PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, names[i]) == 0;
        if (!known) {
            PyErr_Clear();
            return PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", func, key);
        }
    }
    return NULL;
}

static int as_int64(PyObject *obj, const char *name, long long *out) {
    *out = PyLong_AsLongLong(obj);
    if (*out != -1 || !PyErr_Occurred()) return 0;
    if (PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be an integer, not %.100s", name, Py_TYPE(obj)->tp_name);
    }
    return -1;
}

static int as_double(PyObject *obj, const char *name, double *out) {
    *out = PyFloat_AsDouble(obj);
    if (*out != -1.0 || !PyErr_Occurred()) return 0;
    if (PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be a number, not %.100s", name, Py_TYPE(obj)->tp_name);
    }
    return -1;
}

/* ------------------------------------------------------------------------ Graph */

static void Graph_dealloc(Graph *self) {
    free(self->indptr);
    free(self->indices);
    free(self->weights);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Copies the CSR (so it cannot change after the check) and checks the copy: indptr starts at 0,
 * never decreases and ends at len(indices); every target is a node; every length finite, >= 0. */
static PyObject *Graph_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"n_nodes", "indptr", "indices", "weights", NULL};
    PyObject *o[4] = {NULL, NULL, NULL, NULL};
    long long n_nodes;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOOO:Graph", names, &o[0], &o[1], &o[2], &o[3]))
        return call_error(args, kwargs, names, "Graph");
    if (require(o, names, "Graph") || as_int64(o[0], "n_nodes", &n_nodes)) return NULL;
    if (n_nodes < 0) return PyErr_Format(PyExc_ValueError, "n_nodes = %lld must be non-negative", n_nodes);
    Py_buffer ip, ix, w;
    if (get_view(o[1], "indptr", INT64, &ip)) return NULL;
    if (get_view(o[2], "indices", INT32, &ix)) { PyBuffer_Release(&ip); return NULL; }
    if (get_view(o[3], "weights", FLOAT64, &w)) { PyBuffer_Release(&ip); PyBuffer_Release(&ix); return NULL; }
    Graph *self = NULL;
    Py_ssize_t n_edges = count(&ix);
    if (count(&ip) - 1 != n_nodes) {
        PyErr_Format(PyExc_ValueError, "indptr has %zd items, expected n_nodes + 1 = %lld", count(&ip), n_nodes + 1);
        goto release;
    }
    if (check_count(&w, "weights", n_edges, "one per entry of indices")) goto release;
    self = (Graph *)type->tp_alloc(type, 0);
    if (!self) goto release;
    self->n_nodes = n_nodes;
    self->n_edges = n_edges;
    self->indptr = malloc((size_t)ip.len);
    self->indices = malloc(ix.len ? (size_t)ix.len : 1);
    self->weights = malloc(w.len ? (size_t)w.len : 1);
    if (!self->indptr || !self->indices || !self->weights) { PyErr_NoMemory(); goto fail; }
    memcpy(self->indptr, ip.buf, (size_t)ip.len);
    memcpy(self->indices, ix.buf, (size_t)ix.len);
    memcpy(self->weights, w.buf, (size_t)w.len);
    const int64_t *p = self->indptr;
    if (p[0] != 0) { PyErr_Format(PyExc_ValueError, "indptr[0] = %lld must be 0", (long long)p[0]); goto fail; }
    int decreasing = 0;
    for (int64_t i = 0; i < n_nodes; i++) decreasing |= p[i + 1] < p[i];
    if (decreasing)
        for (int64_t i = 0; i < n_nodes; i++)
            if (p[i + 1] < p[i]) {
                PyErr_Format(PyExc_ValueError, "indptr[%lld] = %lld is less than indptr[%lld] = %lld: indptr must not decrease",
                             (long long)(i + 1), (long long)p[i + 1], (long long)i, (long long)p[i]);
                goto fail;
            }
    if (p[n_nodes] != n_edges) {
        PyErr_Format(PyExc_ValueError, "indptr[%lld] = %lld must equal len(indices) = %zd", n_nodes,
                     (long long)p[n_nodes], n_edges);
        goto fail;
    }
    if (check_range32(self->indices, n_edges, "indices", n_nodes, "n_nodes") ||
        check_doubles(self->weights, n_edges, "weights", FINITE_NONNEG))
        goto fail;
    goto release;
fail:
    Py_CLEAR(self);
release:
    PyBuffer_Release(&ip); PyBuffer_Release(&ix); PyBuffer_Release(&w);
    return (PyObject *)self;
}

static PyObject *Graph_n_nodes(Graph *self, void *closure) { return PyLong_FromLongLong(self->n_nodes); }
static PyObject *Graph_n_edges(Graph *self, void *closure) { return PyLong_FromLongLong(self->n_edges); }

static PyGetSetDef Graph_getset[] = {
    {"n_nodes", (getter)Graph_n_nodes, NULL, "Number of nodes.", NULL},
    {"n_edges", (getter)Graph_n_edges, NULL, "Number of directed CSR entries.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject GraphType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "coverage_planner.access._walkkernel.Graph",
    .tp_basicsize = sizeof(Graph),
    .tp_dealloc = (destructor)Graph_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Graph(*, n_nodes, indptr, indices, weights)\n\n"
              "A walking network for bounded_walks: CSR rows int64 (n_nodes + 1, from 0, non-decreasing, ending at\n"
              "len(indices)), targets int32 in [0, n_nodes), lengths float64 (finite, >= 0). The arrays are copied\n"
              "and checked once here (ValueError naming the argument and position), so calls need not rescan them.",
    .tp_getset = Graph_getset,
    .tp_new = Graph_new,
};

/* ---------------------------------------------------------------- bounded_walks */

/* The array arguments, in this order after `graph` (then n_places and cutoff). */
enum { SRC_A, OFF_A, SRC_B, OFF_B, BUDGET, EDGE_LO, EDGE_HI, SRC_ALONG, SRC_ID, SRC_LEG,
       DEM_NODE, DEM_IDX, DEM_OFF, EDGE_DEM_IDX, EDGE_DEM_ALONG, DEM_LEG, N_ARRAYS };
static const Kind array_kind[N_ARRAYS] = {INT64, FLOAT64, INT64, FLOAT64, FLOAT64, INT64, INT64, FLOAT64, INT64,
                                          FLOAT64, INT64, INT64, FLOAT64, INT64, FLOAT64, FLOAT64};

static PyObject *bounded_walks(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"graph", "src_a", "off_a", "src_b", "off_b", "budget", "edge_lo", "edge_hi",
                            "src_along", "src_id", "src_leg", "dem_node", "dem_idx", "dem_off", "edge_dem_idx",
                            "edge_dem_along", "dem_leg", "n_places", "cutoff", NULL};
    PyObject *o[N_ARRAYS + 3] = {NULL};
    long long n_places;
    double cutoff;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOOOOOOOOOOOOOOOOOO:bounded_walks", names, &o[0], &o[1], &o[2],
                                     &o[3], &o[4], &o[5], &o[6], &o[7], &o[8], &o[9], &o[10], &o[11], &o[12], &o[13],
                                     &o[14], &o[15], &o[16], &o[17], &o[18]))
        return call_error(args, kwargs, names, "bounded_walks");
    if (require(o, names, "bounded_walks")) return NULL;
    if (!PyObject_TypeCheck(o[0], &GraphType))
        return PyErr_Format(PyExc_TypeError, "graph must be a Graph(n_nodes=, indptr=, indices=, weights=), not %.100s",
                            Py_TYPE(o[0])->tp_name);
    Graph *g = (Graph *)o[0];
    if (as_int64(o[N_ARRAYS + 1], "n_places", &n_places) || as_double(o[N_ARRAYS + 2], "cutoff", &cutoff)) return NULL;
    if (n_places < 0) return PyErr_Format(PyExc_ValueError, "n_places = %lld must be non-negative", n_places);
    if (bad_double(cutoff, FINITE_NONNEG)) {
        raise_bad_double("cutoff", -1, cutoff, FINITE_NONNEG);
        return NULL;
    }

    Py_buffer v[N_ARRAYS];
    int held = 0;
    for (; held < N_ARRAYS; held++)
        if (get_view(o[held + 1], names[held + 1], array_kind[held], &v[held])) break;
    PyObject *result = NULL;
    Pairs out = {0};
    if (held < N_ARRAYS) goto release;
#define NAME(i) names[(i) + 1]
#define I64(i) ((const int64_t *)v[i].buf)
#define F64(i) ((const double *)v[i].buf)
    const Py_ssize_t n_src = count(&v[SRC_A]), n_entries = count(&v[DEM_NODE]), n_edge = count(&v[EDGE_DEM_IDX]);
    /* Lengths: per source, per demand entry, per on-edge entry, per place. */
    for (int i = OFF_A; i <= SRC_LEG; i++)
        if (check_count(&v[i], NAME(i), n_src, "one per source, like src_a")) goto release;
    if (check_count(&v[DEM_IDX], "dem_idx", n_entries, "one per demand entry, like dem_node") ||
        check_count(&v[DEM_OFF], "dem_off", n_entries, "one per demand entry, like dem_node") ||
        check_count(&v[EDGE_DEM_ALONG], "edge_dem_along", n_edge, "one per on-edge entry, like edge_dem_idx") ||
        check_count(&v[DEM_LEG], "dem_leg", (Py_ssize_t)n_places, "n_places"))
        goto release;
    /* Every index the searches follow, and every number they add. */
    if (check_range64(I64(SRC_A), n_src, "src_a", g->n_nodes, "graph.n_nodes") ||
        check_range64(I64(SRC_B), n_src, "src_b", g->n_nodes, "graph.n_nodes") ||
        check_range64(I64(DEM_NODE), n_entries, "dem_node", g->n_nodes, "graph.n_nodes") ||
        check_range64(I64(DEM_IDX), n_entries, "dem_idx", n_places, "n_places") ||
        check_range64(I64(EDGE_DEM_IDX), n_edge, "edge_dem_idx", n_places, "n_places"))
        goto release;
    const int64_t *lo = I64(EDGE_LO), *hi = I64(EDGE_HI);
    for (Py_ssize_t k = 0; k < n_src; k++)
        if (!(0 <= lo[k] && lo[k] <= hi[k] && hi[k] <= n_edge)) {
            PyErr_Format(PyExc_ValueError,
                         "edge_lo[%zd] = %lld, edge_hi[%zd] = %lld: need 0 <= edge_lo <= edge_hi <= len(edge_dem_idx) = %zd",
                         k, (long long)lo[k], k, (long long)hi[k], n_edge);
            goto release;
        }
    if (check_doubles(F64(OFF_A), n_src, "off_a", FINITE_NONNEG) ||
        check_doubles(F64(OFF_B), n_src, "off_b", FINITE_NONNEG) ||
        check_doubles(F64(BUDGET), n_src, "budget", ANY_BUT_NAN) ||
        check_doubles(F64(SRC_ALONG), n_src, "src_along", FINITE) ||
        check_doubles(F64(SRC_LEG), n_src, "src_leg", FINITE_NONNEG) ||
        check_doubles(F64(DEM_OFF), n_entries, "dem_off", FINITE_NONNEG) ||
        check_doubles(F64(EDGE_DEM_ALONG), n_edge, "edge_dem_along", FINITE) ||
        check_doubles(F64(DEM_LEG), (Py_ssize_t)n_places, "dem_leg", FINITE_NONNEG))
        goto release;
    const Walks walks = {
        .n_src = n_src, .src_a = I64(SRC_A), .src_b = I64(SRC_B), .edge_lo = lo, .edge_hi = hi,
        .src_id = I64(SRC_ID), .off_a = F64(OFF_A), .off_b = F64(OFF_B), .budget = F64(BUDGET),
        .src_along = F64(SRC_ALONG), .src_leg = F64(SRC_LEG), .n_places = n_places, .n_entries = n_entries,
        .dem_node = I64(DEM_NODE), .dem_idx = I64(DEM_IDX), .edge_dem_idx = I64(EDGE_DEM_IDX),
        .dem_off = F64(DEM_OFF), .edge_dem_along = F64(EDGE_DEM_ALONG), .dem_leg = F64(DEM_LEG), .cutoff = cutoff,
    };
#undef NAME
#undef I64
#undef F64
    int status;
    Py_INCREF(g);  /* the searches read it without the GIL */
    Py_BEGIN_ALLOW_THREADS
    status = run(g, &walks, &out);
    Py_END_ALLOW_THREADS
    Py_DECREF(g);
    if (status) { PyErr_NoMemory(); goto release; }
    {
        /* The bytes objects are allocated with the GIL and filled without it: they are new and nobody else
         * holds them, and copying a large output under the GIL would serialise the threads sharing a call. */
        const Py_ssize_t nbytes = (Py_ssize_t)(out.size * 8);
        PyObject *parts[3] = {PyBytes_FromStringAndSize(NULL, nbytes), PyBytes_FromStringAndSize(NULL, nbytes),
                              PyBytes_FromStringAndSize(NULL, nbytes)};
        if (parts[0] && parts[1] && parts[2]) {
            const void *from[3] = {out.row, out.col, out.dist};
            Py_BEGIN_ALLOW_THREADS
            for (int i = 0; i < 3 && nbytes; i++) memcpy(PyBytes_AS_STRING(parts[i]), from[i], (size_t)nbytes);
            Py_END_ALLOW_THREADS
            result = PyTuple_Pack(3, parts[0], parts[1], parts[2]);
        }
        for (int i = 0; i < 3; i++) Py_XDECREF(parts[i]);
    }
release:
    free(out.row); free(out.col); free(out.dist);
    for (int i = 0; i < held; i++) PyBuffer_Release(&v[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"bounded_walks", (PyCFunction)(void (*)(void))bounded_walks, METH_VARARGS | METH_KEYWORDS,
     "bounded_walks(*, graph, src_a, off_a, src_b, off_b, budget, edge_lo, edge_hi, src_along, src_id, src_leg,"
     " dem_node, dem_idx, dem_off, edge_dem_idx, edge_dem_along, dem_leg, n_places, cutoff)\n\n"
     "-> (rows, cols, metres) as bytes of int64/int64/float64: every (source id, place) pair whose walk, access legs\n"
     "included, is within the cutoff (the network part within the source's budget), sorted by source then place.\n\n"
     "Per source k (int64 src_a, src_b, edge_lo, edge_hi, src_id; float64 the rest): it enters the graph at nodes\n"
     "src_a[k] and src_b[k] (in [0, graph.n_nodes)) after off_a[k] and off_b[k] metres, may walk budget[k] metres\n"
     "on the network (negative: skipped; NaN rejected), reaches the on-edge entries edge_lo[k]..edge_hi[k] straight\n"
     "along its edge from src_along[k], is labelled src_id[k] in the output and adds its leg src_leg[k].\n"
     "Per demand entry e (two per place, one per edge end): node dem_node[e], place dem_idx[e] in [0, n_places),\n"
     "dem_off[e] metres between them. Per on-edge entry: place edge_dem_idx[e] at edge_dem_along[e] metres along.\n"
     "Per place: its leg dem_leg. Offsets, legs and cutoff must be finite and non-negative.\n"
     "Every array is checked on each call: ValueError names the argument and the first bad position."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_walkkernel", "Bounded multi-source Dijkstra.", -1, methods};

PyMODINIT_FUNC PyInit__walkkernel(void) {
    if (PyType_Ready(&GraphType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Graph", (PyObject *)&GraphType) < 0) { Py_DECREF(m); return NULL; }
    return m;
}
