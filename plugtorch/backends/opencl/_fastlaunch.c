/* The opencl backend's launch hot paths in C: one call allocates the output, sets the kernel's
 * arguments and enqueues it (docs/opencl.md, "Launch cost"). Optional: built by setup.py where a
 * compiler is present; fastlaunch.py loads it, and the Python paths run without it (or with
 * PLUGTORCH_OPENCL_NO_EXT=1).
 *
 * No OpenCL headers or link-time library: clSetKernelArg and clEnqueueNDRangeKernel are the
 * addresses of the ICD loader PyOpenCL loaded (handed over by init()), the handles are
 * PyOpenCL's int_ptr values, and the two prototypes are declared here. Launches pass
 * event=NULL: nothing in the backend waits on a kernel's event (one in-order queue; the memory
 * pool reuses a buffer for later commands of the same queue).
 *
 * Every path takes runtime.LOCK (as the Python paths do) and makes all its Python calls
 * (allocation, int_ptr, active_bytes) before the first clSetKernelArg, so no other thread's
 * code runs between setting the arguments and the enqueue. Anything a fast path does not
 * handle (a miss, views, an allocation failure, empty arrays) goes to the Python path ``slow``.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef int32_t cl_int;
typedef uint32_t cl_uint;
typedef cl_int (*set_arg_t)(void *kernel, cl_uint index, size_t size, const void *value);
typedef cl_int (*enqueue_t)(void *queue, void *kernel, cl_uint dims, const size_t *offset,
                            const size_t *global, const size_t *local, cl_uint nwait,
                            const void *wait, void *event);

static set_arg_t set_arg;
static enqueue_t enqueue;
static PyTypeObject *clarray;            /* buffer.CLArray */
static PyObject *lock_acquire, *lock_release, *make_error;
static Py_ssize_t o_data, o_offset, o_shape, o_strides, o_dtype, o_dev, o_contiguous, o_size, o_mem;
static Py_ssize_t SPLIT = 1 << 16, LOCAL = 64;
static PyObject *s_int_ptr, *s_active_bytes, *s_peak;
static PyObject *one;
static PyObject *zero;   /* the int 0 (CPython keeps one): an offset of 0 is this object */

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* The RuntimeError naming the op and the CL error: fastlaunch.launch_error words it, for this
 * path and the Python one alike. */
static void *launch_failed(PyObject *name, const char *call, cl_int err)
{
    PyObject *exc = PyObject_CallFunction(make_error, "Osi", name, call, (int)err);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

static int lock(void)
{
    PyObject *r = PyObject_CallNoArgs(lock_acquire);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static void unlock(void)
{
    PyObject *t, *v, *tb;   /* (PyErr_GetRaisedException is 3.12+) */
    PyErr_Fetch(&t, &v, &tb);
    PyObject *r = PyObject_CallNoArgs(lock_release);
    if (r == NULL)
        PyErr_WriteUnraisable(lock_release);
    Py_XDECREF(r);
    PyErr_Restore(t, v, tb);
}

static int int_ptr(PyObject *buf, void **out)
{
    PyObject *p = PyObject_GetAttr(buf, s_int_ptr);
    if (p == NULL)
        return -1;
    *out = PyLong_AsVoidPtr(p);
    Py_DECREF(p);
    return (*out == NULL && PyErr_Occurred()) ? -1 : 0;
}

/* The cl_mem of CLArray x's buffer: from its ``mem`` slot, (data, handle), while that holds
 * its current data, else data.int_ptr (then cached there). */
static int mem_of(PyObject *x, void **out)
{
    PyObject *c = SLOT(x, o_mem), *data = SLOT(x, o_data);
    if (c != NULL && PyTuple_CheckExact(c) && PyTuple_GET_SIZE(c) == 2 && PyTuple_GET_ITEM(c, 0) == data) {
        *out = PyLong_AsVoidPtr(PyTuple_GET_ITEM(c, 1));
        return (*out == NULL && PyErr_Occurred()) ? -1 : 0;
    }
    if (int_ptr(data, out) < 0)
        return -1;
    PyObject *h = PyLong_FromVoidPtr(*out);
    PyObject *t = h == NULL ? NULL : PyTuple_Pack(2, data, h);
    Py_XDECREF(h);
    if (t == NULL)
        return -1;
    Py_XSETREF(SLOT(x, o_mem), t);
    return 0;
}

/* 1 for a contiguous CLArray at offset 0 with its slots set, else 0. */
static int plain(PyObject *x)
{
    if (Py_TYPE(x) != clarray || SLOT(x, o_contiguous) != Py_True)
        return 0;
    if (SLOT(x, o_offset) != zero)
        return 0;
    return SLOT(x, o_data) != NULL && SLOT(x, o_shape) != NULL && SLOT(x, o_size) != NULL &&
           SLOT(x, o_dtype) != NULL && SLOT(x, o_dev) != NULL && SLOT(x, o_strides) != NULL;
}

/* ---- Parked small buffers: the launch paths' caching allocator ------------------------------
 * pool.allocate (PyOpenCL's MemoryPool, through pybind11) and the PooledBuffer's release back to
 * the pool cost about as much as a launch's own host work. So the C paths keep a strong
 * reference to the buffers of up to PARK_MAX bytes they allocated, with their cl_mem handles: a
 * parked buffer whose only reference is the park's is idle (every array on it is gone) and is
 * handed out again for the same request size, with no Python call. That is the reuse the pool
 * itself makes of a freed buffer (one in-order queue per device: a later command may overwrite
 * memory an earlier one still reads), decided by the same event, the last Python reference to
 * the buffer going away; a buffer any array, view or storage still holds is never handed out.
 * Idle parked bytes are not in use: the peak leaves them out, and memory_allocated(),
 * empty_cache() and an out-of-memory retry give them back to the pool first (release_idle). */

#define PARK 16
#define PARK_MAX 65536

typedef struct {
    PyObject *buf;      /* the PooledBuffer (NULL: a free slot) */
    PyObject *pool;     /* its pool */
    PyObject *handle;   /* its int_ptr, as an int */
    void *mem;
    Py_ssize_t nbytes;  /* the size asked for */
    Py_ssize_t held;    /* what it adds to pool.active_bytes (the pool rounds sizes up) */
} Parked;

static Parked park[PARK];

#define IDLE(p) ((p)->buf != NULL && Py_REFCNT((p)->buf) == 1)

static Py_ssize_t idle_in(PyObject *pool)
{
    Py_ssize_t n = 0;
    for (int i = 0; i < PARK; i++)
        if (park[i].pool == pool && IDLE(&park[i]))
            n += park[i].held;
    return n;
}

static void unpark(Parked *p)
{
    PyObject *buf = p->buf, *pool = p->pool, *h = p->handle;
    p->buf = p->pool = p->handle = NULL;
    Py_XDECREF(buf);   /* (the PooledBuffer goes back to its pool) */
    Py_XDECREF(pool);
    Py_XDECREF(h);
}

static Py_ssize_t active_bytes(PyObject *pool)
{
    PyObject *used = PyObject_GetAttr(pool, s_active_bytes);
    if (used == NULL)
        return -1;
    Py_ssize_t n = PyLong_AsSsize_t(used);
    Py_DECREF(used);
    return n;
}

/* dev.peak = max(dev.peak, the bytes in use: pool.active_bytes less the idle parked ones). */
static int track_peak(PyObject *pool, PyObject *dev_dict, Py_ssize_t active)
{
    Py_ssize_t used = active - idle_in(pool);
    PyObject *peak = PyDict_GetItemWithError(dev_dict, s_peak);
    if (peak == NULL && PyErr_Occurred())
        return -1;
    if (peak != NULL) {
        Py_ssize_t was = PyLong_AsSsize_t(peak);
        if (was == -1 && PyErr_Occurred())
            return -1;
        if (used <= was)
            return 0;
    }
    PyObject *u = PyLong_FromSsize_t(used);
    int r = u == NULL ? -1 : PyDict_SetItem(dev_dict, s_peak, u);
    Py_XDECREF(u);
    return r;
}

/* A buffer of ``nbytes`` (a new reference, its handle in *mem, its int_ptr in *handle, borrowed
 * from the park or NULL): an idle parked one, else pool.allocate's (parked where it is small and
 * a slot is free or idle). 1 with no exception set when the pool could not allocate; -1 on error. */
static int get_buffer(PyObject *pool, PyObject *allocate, PyObject *dev_dict, Py_ssize_t nbytes,
                      PyObject **out, void **mem, PyObject **handle)
{
    int small = nbytes <= PARK_MAX;
    if (small)
        for (int i = 0; i < PARK; i++) {
            Parked *p = &park[i];
            if (p->nbytes == nbytes && p->pool == pool && IDLE(p)) {
                *out = Py_NewRef(p->buf);
                *mem = p->mem;
                *handle = p->handle;
                return 0;
            }
        }
    Py_ssize_t before = small ? active_bytes(pool) : 0;
    if (before < 0)
        return -1;
    PyObject *nb = PyLong_FromSsize_t(nbytes ? nbytes : 1);
    if (nb == NULL)
        return -1;
    PyObject *buf = PyObject_CallOneArg(allocate, nb);
    Py_DECREF(nb);
    if (buf == NULL) {
        PyErr_Clear();
        return 1;
    }
    Py_ssize_t after = active_bytes(pool);
    if (after < 0 || int_ptr(buf, mem) < 0 || track_peak(pool, dev_dict, after) < 0) {
        Py_DECREF(buf);
        return -1;
    }
    *out = buf;
    *handle = NULL;
    if (!small)
        return 0;
    Parked *slot = NULL;
    for (int i = 0; i < PARK && slot == NULL; i++)
        if (park[i].buf == NULL)
            slot = &park[i];
    for (int i = 0; i < PARK && slot == NULL; i++)
        if (IDLE(&park[i]))
            slot = &park[i];
    if (slot == NULL)
        return 0;
    PyObject *h = PyLong_FromVoidPtr(*mem);
    if (h == NULL) {
        PyErr_Clear();   /* (not parked: the buffer itself is fine) */
        return 0;
    }
    unpark(slot);
    slot->buf = Py_NewRef(buf);
    slot->pool = Py_NewRef(pool);
    slot->handle = h;
    slot->mem = *mem;
    slot->nbytes = nbytes;
    slot->held = after - before > 0 ? after - before : nbytes;
    *handle = h;
    return 0;
}

/* A fresh contiguous CLArray (shape, strides, size, dev) of ``dtype`` on a buffer of ``nbytes``
 * from get_buffer, its handle in *mem (and its ``mem`` slot); NULL with no exception set when
 * the allocation failed (the Python path then empties the pool and retries, or raises the
 * out-of-memory error). */
static PyObject *new_array(PyObject *pool, PyObject *allocate, PyObject *dev_dict, Py_ssize_t nbytes,
                           PyObject *dev, PyObject *shape, PyObject *strides, PyObject *size,
                           PyObject *dtype, void **mem)
{
    PyObject *buf, *handle;
    if (get_buffer(pool, allocate, dev_dict, nbytes, &buf, mem, &handle) != 0)
        return NULL;
    PyObject *out = clarray->tp_alloc(clarray, 0);
    if (out == NULL) {
        Py_DECREF(buf);
        return NULL;
    }
    SLOT(out, o_data) = buf;
    SLOT(out, o_dev) = Py_NewRef(dev);
    SLOT(out, o_shape) = Py_NewRef(shape);
    SLOT(out, o_strides) = Py_NewRef(strides);
    SLOT(out, o_size) = Py_NewRef(size);
    SLOT(out, o_dtype) = Py_NewRef(dtype);
    SLOT(out, o_offset) = Py_NewRef(zero);
    SLOT(out, o_contiguous) = Py_NewRef(Py_True);
    if (handle != NULL) {   /* (what mem_of would cache when the array is an input later) */
        SLOT(out, o_mem) = PyTuple_Pack(2, buf, handle);
        if (SLOT(out, o_mem) == NULL)
            PyErr_Clear();
    }
    return out;
}

/* Set ``nargs`` arguments (each 8 bytes but the last, ``last_size``) of ``k`` and launch it
 * over n elements: from SPLIT on, ``ku`` (the unchecked kernel, same arguments) over the whole
 * work-groups and ``k`` over the last partial one. Returns 0 or a CL error (in *what). */
static cl_int set_and_launch(void *queue, void *k, void *ku, int nargs, void **vals,
                             size_t last_size, int64_t n, const char **what)
{
    cl_int err;
    for (int pass = 0; pass < 2; pass++) {
        void *kern = pass ? ku : k;
        if (pass && n < SPLIT)
            break;
        *what = "clSetKernelArg";
        for (int i = 0; i < nargs; i++) {
            err = set_arg(kern, (cl_uint)i, i == nargs - 1 ? last_size : 8, vals[i]);
            if (err)
                return err;
        }
    }
    *what = "clEnqueueNDRangeKernel";
    size_t local = (size_t)LOCAL;
    if (n < SPLIT) {
        size_t g = ((size_t)n + LOCAL - 1) & ~(size_t)(LOCAL - 1);
        return enqueue(queue, k, 1, NULL, &g, &local, 0, NULL, NULL);
    }
    size_t m = (size_t)n & ~(size_t)(LOCAL - 1);
    err = enqueue(queue, ku, 1, NULL, &m, &local, 0, NULL, NULL);
    if (err || m == (size_t)n)
        return err;
    return enqueue(queue, k, 1, &m, &local, &local, 0, NULL, NULL);
}

/* ---- Entry: one op's compiled kernels for one dtype signature ------------------------------ */

typedef struct {
    PyObject_HEAD
    PyObject *a_dtype;   /* the first operand's numpy dtype */
    PyObject *b_spec;    /* the second's numpy dtype, a scalar's class, or None (unary) */
    PyObject *dev;       /* the DeviceState */
    PyObject *dev_dict;  /* its __dict__ (its peak) */
    PyObject *out_dtype;
    PyObject *pool, *allocate;
    PyObject *convert;   /* scalar -> NumPy scalar of the kernel's argument type, or None */
    PyObject *keep;      /* the Pointwise (keeps the kernels alive) */
    PyObject *last_scalar;
    void *k0, *ku0, *queue;
    Py_ssize_t itemsize;
    int scalar_code;     /* 1: float32, 2: float64 for a Python float; 0: convert() */
    size_t scalar_size;
    char scalar[16];
} Entry;

static int Entry_init(Entry *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"a_dtype", "b_spec", "dev", "out_dtype", "pool", "keep", "k0", "ku0",
                            "queue", "convert", "scalar_code", NULL};
    PyObject *a, *b, *dev, *od, *pool, *keep, *k0, *ku0, *q, *conv;
    int code = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOOOOOO|i", names, &a, &b, &dev, &od, &pool,
                                     &keep, &k0, &ku0, &q, &conv, &code))
        return -1;
    PyObject *dd = PyObject_GenericGetDict(dev, NULL);
    PyObject *alloc = PyObject_GetAttrString(pool, "allocate");
    PyObject *isz = PyObject_GetAttrString(od, "itemsize");
    if (dd == NULL || alloc == NULL || isz == NULL) {
        Py_XDECREF(dd); Py_XDECREF(alloc); Py_XDECREF(isz);
        return -1;
    }
    self->itemsize = PyLong_AsSsize_t(isz);
    Py_DECREF(isz);
    if (int_ptr(k0, &self->k0) < 0 || int_ptr(ku0, &self->ku0) < 0 || int_ptr(q, &self->queue) < 0) {
        Py_DECREF(dd); Py_DECREF(alloc);
        return -1;
    }
    Py_XSETREF(self->a_dtype, Py_NewRef(a));
    Py_XSETREF(self->b_spec, Py_NewRef(b));
    Py_XSETREF(self->dev, Py_NewRef(dev));
    Py_XSETREF(self->dev_dict, dd);
    Py_XSETREF(self->out_dtype, Py_NewRef(od));
    Py_XSETREF(self->pool, Py_NewRef(pool));
    Py_XSETREF(self->allocate, alloc);
    Py_XSETREF(self->convert, Py_NewRef(conv));
    /* the kernels' owners: the Python objects whose int_ptr this entry uses */
    Py_XSETREF(self->keep, PyTuple_Pack(4, keep, k0, ku0, q));
    Py_CLEAR(self->last_scalar);
    self->scalar_code = code;
    return self->keep == NULL ? -1 : 0;
}

static int Entry_traverse(Entry *self, visitproc visit, void *arg)
{
    Py_VISIT(self->a_dtype); Py_VISIT(self->b_spec); Py_VISIT(self->dev); Py_VISIT(self->dev_dict);
    Py_VISIT(self->out_dtype); Py_VISIT(self->pool); Py_VISIT(self->allocate);
    Py_VISIT(self->convert); Py_VISIT(self->keep); Py_VISIT(self->last_scalar);
    return 0;
}

static int Entry_clear(Entry *self)
{
    Py_CLEAR(self->a_dtype); Py_CLEAR(self->b_spec); Py_CLEAR(self->dev); Py_CLEAR(self->dev_dict);
    Py_CLEAR(self->out_dtype); Py_CLEAR(self->pool); Py_CLEAR(self->allocate);
    Py_CLEAR(self->convert); Py_CLEAR(self->keep); Py_CLEAR(self->last_scalar);
    return 0;
}

static void Entry_dealloc(Entry *self)
{
    PyObject_GC_UnTrack(self);
    Entry_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject EntryType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "plugtorch.backends.opencl._fastlaunch.Entry",
    .tp_doc = "One op's k0/ku0 kernels for one dtype signature, as the C fast path uses them.",
    .tp_basicsize = sizeof(Entry),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Entry_init,
    .tp_traverse = (traverseproc)Entry_traverse,
    .tp_clear = (inquiry)Entry_clear,
    .tp_dealloc = (destructor)Entry_dealloc,
};

/* The scalar's kernel argument bytes (cached while the same Python object comes back). */
static int scalar_arg(Entry *e, PyObject *b)
{
    if (e->last_scalar == b)
        return 0;
    if (e->scalar_code && PyFloat_CheckExact(b)) {
        double v = PyFloat_AS_DOUBLE(b);
        if (e->scalar_code == 2) {
            memcpy(e->scalar, &v, 8);
            e->scalar_size = 8;
        } else if (!(fabs(v) > FLT_MAX) || isinf(v)) {   /* (beyond float32: NumPy warns) */
            float f = (float)v;
            memcpy(e->scalar, &f, 4);
            e->scalar_size = 4;
        } else {
            goto convert;
        }
        Py_XSETREF(e->last_scalar, Py_NewRef(b));
        return 0;
    }
convert:;
    PyObject *v = PyObject_CallOneArg(e->convert, b);
    if (v == NULL)
        return -1;
    Py_buffer view;
    if (PyObject_GetBuffer(v, &view, PyBUF_SIMPLE) < 0) {
        Py_DECREF(v);
        return -1;
    }
    int ok = view.len > 0 && view.len <= 16;
    if (ok) {
        memcpy(e->scalar, view.buf, view.len);
        e->scalar_size = (size_t)view.len;
    }
    PyBuffer_Release(&view);
    Py_DECREF(v);
    if (!ok) {
        PyErr_SetString(PyExc_RuntimeError, "opencl: a scalar argument of an unexpected size");
        return -1;
    }
    Py_XSETREF(e->last_scalar, Py_NewRef(b));
    return 0;
}

/* ---- Pointwise: an op's kernel function, ``op(x, dtype)`` or ``op(a, b, dtype)`` ----------- */

typedef struct {
    PyObject_HEAD
    PyObject *name;
    PyObject *fast;     /* result dtype -> Entry, for arrays of one shape */
    PyObject *fast_s;   /* result dtype -> Entry, for an array and a Python scalar (binary) */
    PyObject *slow;     /* the Python kernel, for everything else */
    vectorcallfunc vectorcall;
    int arity;
} Pointwise;

static PyObject *run_fast(Pointwise *self, PyObject *a, PyObject *b, PyObject *dtype, int *miss)
{
    PyObject *dev = SLOT(a, o_dev);
    Entry *e;
    int scalar = 0;
    *miss = 1;
    if (self->arity == 1) {
        e = (Entry *)PyDict_GetItemWithError(self->fast, dtype);
        if (e == NULL || e->a_dtype != SLOT(a, o_dtype) || e->dev != dev)
            return NULL;
    } else if (Py_TYPE(b) == clarray) {
        PyObject *sa = SLOT(a, o_shape), *sb;
        if (!plain(b))
            return NULL;
        sb = SLOT(b, o_shape);
        if (sa != sb) {
            int eq = PyObject_RichCompareBool(sa, sb, Py_EQ);
            if (eq <= 0)
                return NULL;
        }
        e = (Entry *)PyDict_GetItemWithError(self->fast, dtype);
        if (e == NULL || e->a_dtype != SLOT(a, o_dtype) || e->b_spec != SLOT(b, o_dtype) || e->dev != dev)
            return NULL;
    } else {
        e = (Entry *)PyDict_GetItemWithError(self->fast_s, dtype);
        if (e == NULL || e->a_dtype != SLOT(a, o_dtype) || e->b_spec != (PyObject *)Py_TYPE(b) || e->dev != dev)
            return NULL;
        scalar = 1;
    }
    if (PyErr_Occurred())
        return NULL;
    Py_ssize_t n = PyLong_AsSsize_t(SLOT(a, o_size));
    if (n <= 0)
        return NULL;   /* (and an error from the conversion: the slow path raises it again) */
    *miss = 0;
    Py_INCREF(e);   /* (before lock(), which may let another thread replace the entry) */
    if (lock() < 0) {
        Py_DECREF(e);
        return NULL;
    }
    PyObject *out = NULL;
    void *vals[4], *m_out, *m_a, *m_b = NULL;
    int64_t n64 = n;
    if (scalar && scalar_arg(e, b) < 0)
        goto done;
    out = new_array(e->pool, e->allocate, e->dev_dict, n * e->itemsize, dev, SLOT(a, o_shape),
                    SLOT(a, o_strides), SLOT(a, o_size), e->out_dtype, &m_out);
    if (out == NULL) {
        if (!PyErr_Occurred())
            *miss = 1;   /* out of memory: the Python path empties the pool and retries */
        goto done;
    }
    if (mem_of(a, &m_a) < 0 || (self->arity == 2 && !scalar && mem_of(b, &m_b) < 0)) {
        Py_CLEAR(out);
        goto done;
    }
    /* no Python code runs from here to the enqueue */
    vals[0] = &m_out; vals[1] = &n64; vals[2] = &m_a;
    int nargs = 2 + self->arity;
    size_t last = 8;
    if (self->arity == 2) {
        vals[3] = scalar ? (void *)e->scalar : (void *)&m_b;
        last = scalar ? e->scalar_size : 8;
    }
    const char *what;
    cl_int err = set_and_launch(e->queue, e->k0, e->ku0, nargs, vals, last, n64, &what);
    if (err) {
        Py_CLEAR(out);
        launch_failed(self->name, what, err);
    }
done:
    Py_DECREF(e);
    unlock();
    return out;
}

static PyObject *Pointwise_vectorcall(Pointwise *self, PyObject *const *args, size_t nargsf, PyObject *kw)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kw == NULL && nargs == self->arity + 1 && plain(args[0])) {
        int miss;
        PyObject *r = run_fast(self, args[0], self->arity == 2 ? args[1] : NULL, args[nargs - 1], &miss);
        if (!miss)
            return r;
        if (PyErr_Occurred())
            return NULL;
    }
    return PyObject_Vectorcall(self->slow, args, nargsf, kw);
}

static PyObject *Pointwise_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *names[] = {"name", "arity", "fast", "fast_s", "slow", NULL};
    PyObject *name, *fast, *fast_s, *slow;
    int arity;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "UiO!O!O", names, &name, &arity, &PyDict_Type, &fast,
                                     &PyDict_Type, &fast_s, &slow))
        return NULL;
    if (arity != 1 && arity != 2) {
        PyErr_SetString(PyExc_ValueError, "arity must be 1 or 2");
        return NULL;
    }
    Pointwise *self = (Pointwise *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->name = Py_NewRef(name);
    self->fast = Py_NewRef(fast);
    self->fast_s = Py_NewRef(fast_s);
    self->slow = Py_NewRef(slow);
    self->arity = arity;
    self->vectorcall = (vectorcallfunc)Pointwise_vectorcall;
    return (PyObject *)self;
}

static int Pointwise_traverse(Pointwise *self, visitproc visit, void *arg)
{
    Py_VISIT(self->name); Py_VISIT(self->fast); Py_VISIT(self->fast_s); Py_VISIT(self->slow);
    return 0;
}

static int Pointwise_clear(Pointwise *self)
{
    Py_CLEAR(self->name); Py_CLEAR(self->fast); Py_CLEAR(self->fast_s); Py_CLEAR(self->slow);
    return 0;
}

static void Pointwise_dealloc(Pointwise *self)
{
    PyObject_GC_UnTrack(self);
    Pointwise_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *get_true(PyObject *self, void *closure) { Py_RETURN_TRUE; }
static PyObject *Pointwise_name(Pointwise *self, void *closure) { return Py_NewRef(self->name); }
static PyObject *Pointwise_slow(Pointwise *self, void *closure) { return Py_NewRef(self->slow); }

static PyGetSetDef Pointwise_getset[] = {
    {"locks_itself", get_true, NULL, "Takes runtime.LOCK itself (kernel_table need not wrap it).", NULL},
    {"__name__", (getter)Pointwise_name, NULL, NULL, NULL},
    {"slow", (getter)Pointwise_slow, NULL, "The Python kernel the misses go to.", NULL},
    {NULL},
};

/* attributes the type lacks come from the Python kernel (``fn.fast``, a fused kernel's plan) */
static PyObject *forward_getattr(PyObject *self, PyObject *name, PyObject *slow)
{
    PyObject *r = PyObject_GenericGetAttr(self, name);
    if (r != NULL || !PyErr_ExceptionMatches(PyExc_AttributeError))
        return r;
    PyErr_Clear();
    return PyObject_GetAttr(slow, name);
}

static PyObject *Pointwise_getattro(Pointwise *self, PyObject *name)
{
    return forward_getattr((PyObject *)self, name, self->slow);
}

static PyTypeObject PointwiseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "plugtorch.backends.opencl._fastlaunch.Pointwise",
    .tp_doc = "Pointwise(name, arity, fast, fast_s, slow): an elementwise op's kernel function.",
    .tp_basicsize = sizeof(Pointwise),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = Pointwise_new,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Pointwise, vectorcall),
    .tp_traverse = (traverseproc)Pointwise_traverse,
    .tp_clear = (inquiry)Pointwise_clear,
    .tp_dealloc = (destructor)Pointwise_dealloc,
    .tp_getset = Pointwise_getset,
    .tp_getattro = (getattrofunc)Pointwise_getattro,
};

/* ---- Fused: a fused group's c0 kernel ``fn(*inputs) -> [outputs]`` (kernels/fused.py) ------- */

#define MAX_OUT 8
#define MAX_IN 32

typedef struct {
    PyObject_HEAD
    PyObject *name, *slow, *dev, *dev_dict, *pool, *allocate, *keep;
    PyObject *shape, *strides, *size;
    PyObject *out_dtypes[MAX_OUT];
    Py_ssize_t out_bytes[MAX_OUT];
    int nout, nin, nlaunch;
    unsigned char full[MAX_IN];   /* 1: the input holds every element (must be contiguous) */
    size_t global[2], local[2], offset[2];
    int has_offset[2];
    void *k0, *queue;
    vectorcallfunc vectorcall;
} Fused;

/* A kernel whose program was not built yet (fusion.deferred_builds()): its Python call builds
 * it; then take its k0. */
static PyObject *Fused_first_call(Fused *self, PyObject *const *args, size_t nargsf, PyObject *kw)
{
    PyObject *r = PyObject_Vectorcall(self->slow, args, nargsf, kw);
    if (r == NULL)
        return NULL;
    PyObject *k0 = PyObject_GetAttrString(self->slow, "k0");
    if (k0 == NULL) {
        PyErr_Clear();
        return r;
    }
    void *p = NULL;
    if (k0 != Py_None && int_ptr(k0, &p) == 0 && p != NULL) {
        PyObject *keep = PyTuple_Pack(2, k0, PyTuple_GET_ITEM(self->keep, 1));
        if (keep != NULL) {
            Py_SETREF(self->keep, keep);
            self->k0 = p;
        }
    }
    PyErr_Clear();
    Py_DECREF(k0);
    return r;
}

static PyObject *Fused_vectorcall(Fused *self, PyObject *const *args, size_t nargsf, PyObject *kw)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (self->k0 == NULL)
        return Fused_first_call(self, args, nargsf, kw);
    if (kw != NULL || nargs != self->nin)
        goto slow;
    for (int i = 0; i < self->nin; i++) {
        PyObject *x = args[i];
        if (Py_TYPE(x) != clarray || SLOT(x, o_data) == NULL)
            goto slow;
        if (SLOT(x, o_offset) != zero)
            goto slow;
        if (self->full[i] && SLOT(x, o_contiguous) != Py_True)
            goto slow;
    }
    if (lock() < 0)
        return NULL;
    void *mems[MAX_OUT + MAX_IN];
    PyObject *outs = PyList_New(self->nout);
    if (outs == NULL)
        goto fail;
    for (int r = 0; r < self->nout; r++) {
        PyObject *o = new_array(self->pool, self->allocate, self->dev_dict, self->out_bytes[r], self->dev,
                                self->shape, self->strides, self->size, self->out_dtypes[r], &mems[r]);
        if (o == NULL) {
            Py_DECREF(outs);
            if (PyErr_Occurred())
                goto fail;
            unlock();
            goto slow;   /* out of memory: the Python path empties the pool and retries */
        }
        PyList_SET_ITEM(outs, r, o);
    }
    for (int i = 0; i < self->nin; i++)
        if (mem_of(args[i], &mems[self->nout + i]) < 0) {
            Py_DECREF(outs);
            goto fail;
        }
    /* no Python code runs from here to the enqueue */
    cl_int err = 0;
    const char *what = "clSetKernelArg";
    for (int r = 0; r < self->nout && !err; r++)
        err = set_arg(self->k0, (cl_uint)r, 8, &mems[r]);
    for (int i = 0; i < self->nin && !err; i++)   /* (argument nout is n, set once) */
        err = set_arg(self->k0, (cl_uint)(self->nout + 1 + i), 8, &mems[self->nout + i]);
    for (int j = 0; j < self->nlaunch && !err; j++) {
        what = "clEnqueueNDRangeKernel";
        err = enqueue(self->queue, self->k0, 1, self->has_offset[j] ? &self->offset[j] : NULL,
                      &self->global[j], &self->local[j], 0, NULL, NULL);
    }
    if (err) {
        Py_DECREF(outs);
        launch_failed(self->name, what, err);
        goto fail;
    }
    unlock();
    return outs;
fail:
    unlock();
    return NULL;
slow:
    return PyObject_Vectorcall(self->slow, args, nargsf, kw);
}

static PyObject *Fused_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *names[] = {"name", "slow", "dev", "pool", "k0", "queue", "shape", "strides",
                            "out_specs", "full", "nin", "launches", NULL};
    PyObject *name, *slow, *dev, *pool, *k0, *q, *shape, *strides, *specs, *full, *launches;
    int nin;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "UOOOOOO!O!O!O!iO!", names, &name, &slow, &dev, &pool,
                                     &k0, &q, &PyTuple_Type, &shape, &PyTuple_Type, &strides,
                                     &PyList_Type, &specs, &PyList_Type, &full, &nin,
                                     &PyList_Type, &launches))
        return NULL;
    Py_ssize_t nout = PyList_GET_SIZE(specs), nl = PyList_GET_SIZE(launches);
    if (nout < 1 || nout > MAX_OUT || nin < 0 || nin > MAX_IN || nl < 1 || nl > 2) {
        PyErr_SetString(PyExc_ValueError, "Fused: too many outputs, inputs or launches");
        return NULL;
    }
    Fused *self = (Fused *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->nout = (int)nout;
    self->nin = nin;
    self->nlaunch = (int)nl;
    self->vectorcall = (vectorcallfunc)Fused_vectorcall;
    self->name = Py_NewRef(name);
    self->slow = Py_NewRef(slow);
    self->dev = Py_NewRef(dev);
    self->pool = Py_NewRef(pool);
    self->shape = Py_NewRef(shape);
    self->strides = Py_NewRef(strides);
    self->keep = PyTuple_Pack(2, k0, q);
    self->dev_dict = PyObject_GenericGetDict(dev, NULL);
    self->allocate = PyObject_GetAttrString(pool, "allocate");
    Py_ssize_t n = 1;
    for (Py_ssize_t d = 0; d < PyTuple_GET_SIZE(shape); d++)
        n *= PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, d));
    self->size = PyLong_FromSsize_t(n);
    if (self->keep == NULL || self->dev_dict == NULL || self->allocate == NULL || self->size == NULL ||
        PyErr_Occurred() || (k0 != Py_None && int_ptr(k0, &self->k0) < 0) || int_ptr(q, &self->queue) < 0)
        goto error;
    for (Py_ssize_t r = 0; r < nout; r++) {
        PyObject *sp = PyList_GET_ITEM(specs, r);   /* (numpy dtype, nbytes) */
        if (!PyTuple_Check(sp) || PyTuple_GET_SIZE(sp) != 2) {
            PyErr_SetString(PyExc_TypeError, "Fused: out_specs holds (dtype, nbytes) pairs");
            goto error;
        }
        self->out_dtypes[r] = Py_NewRef(PyTuple_GET_ITEM(sp, 0));
        self->out_bytes[r] = PyLong_AsSsize_t(PyTuple_GET_ITEM(sp, 1));
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(full); i++) {
        Py_ssize_t k = PyLong_AsSsize_t(PyList_GET_ITEM(full, i));
        if (k < 0 || k >= nin) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "Fused: full index out of range");
            goto error;
        }
        self->full[k] = 1;
    }
    for (Py_ssize_t j = 0; j < nl; j++) {   /* ((global,), (local,), (offset,) or None) */
        PyObject *l = PyList_GET_ITEM(launches, j), *off;
        if (!PyTuple_Check(l) || PyTuple_GET_SIZE(l) != 3) {
            PyErr_SetString(PyExc_TypeError, "Fused: launches holds (global, local, offset) triples");
            goto error;
        }
        self->global[j] = PyLong_AsSize_t(PyTuple_GET_ITEM(PyTuple_GET_ITEM(l, 0), 0));
        self->local[j] = PyLong_AsSize_t(PyTuple_GET_ITEM(PyTuple_GET_ITEM(l, 1), 0));
        off = PyTuple_GET_ITEM(l, 2);
        self->has_offset[j] = off != Py_None;
        if (off != Py_None)
            self->offset[j] = PyLong_AsSize_t(PyTuple_GET_ITEM(off, 0));
    }
    if (PyErr_Occurred())
        goto error;
    return (PyObject *)self;
error:
    Py_DECREF(self);
    return NULL;
}

static int Fused_traverse(Fused *self, visitproc visit, void *arg)
{
    Py_VISIT(self->name); Py_VISIT(self->slow); Py_VISIT(self->dev); Py_VISIT(self->dev_dict);
    Py_VISIT(self->pool); Py_VISIT(self->allocate); Py_VISIT(self->keep); Py_VISIT(self->shape);
    Py_VISIT(self->strides); Py_VISIT(self->size);
    for (int r = 0; r < MAX_OUT; r++)
        Py_VISIT(self->out_dtypes[r]);
    return 0;
}

static int Fused_clear(Fused *self)
{
    Py_CLEAR(self->name); Py_CLEAR(self->slow); Py_CLEAR(self->dev); Py_CLEAR(self->dev_dict);
    Py_CLEAR(self->pool); Py_CLEAR(self->allocate); Py_CLEAR(self->keep); Py_CLEAR(self->shape);
    Py_CLEAR(self->strides); Py_CLEAR(self->size);
    for (int r = 0; r < MAX_OUT; r++)
        Py_CLEAR(self->out_dtypes[r]);
    return 0;
}

static void Fused_dealloc(Fused *self)
{
    PyObject_GC_UnTrack(self);
    Fused_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Fused_getslow(Fused *self, void *closure) { return Py_NewRef(self->slow); }

static PyGetSetDef Fused_getset[] = {
    {"slow", (getter)Fused_getslow, NULL, "The Python FusedKernel (views, offsets, misses).", NULL},
    {NULL},
};

static PyObject *Fused_getattro(Fused *self, PyObject *name)
{
    return forward_getattr((PyObject *)self, name, self->slow);
}

static PyTypeObject FusedType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "plugtorch.backends.opencl._fastlaunch.Fused",
    .tp_doc = "A fused group's kernel: contiguous inputs at offset 0 in C, the rest in ``slow``.",
    .tp_basicsize = sizeof(Fused),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = Fused_new,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Fused, vectorcall),
    .tp_traverse = (traverseproc)Fused_traverse,
    .tp_clear = (inquiry)Fused_clear,
    .tp_dealloc = (destructor)Fused_dealloc,
    .tp_getset = Fused_getset,
    .tp_getattro = (getattrofunc)Fused_getattro,
};


/* ---- Replay: a compiled graph of one fused kernel, behind its guards ------------------------
 * ``replay(owner, args)`` (plugtorch.compiler's hot-function convention; owner is not used):
 * where ``args`` is a tuple of ``nargs`` objects of class ``cls``, every ``env`` check holds
 * ((obj, name, expected, eq): getattr(obj, name) is expected, or == where eq), ``empty`` is an
 * empty list, and each argument's attributes ``names`` are the ``expect``ed objects (identity)
 * and its ``data`` array a CLArray of the traced shape and strides: the kernel runs on the
 * arrays (``kargs``: argument positions), its one output is wrapped in a new ``cls`` whose
 * ``wrap`` attributes are (output, ``out_dtype``, ``out_device``), ``counter[key]`` counts the
 * call and the wrapper is returned. Anything else returns ``miss`` having run nothing (the
 * caller's Python path then runs, and raises its own errors). Nothing here knows what the
 * attributes mean: plugtorch.compiler and the jit executor pass them (docs/backends.md). */

#define MAX_ENV 8
#define MAX_ARG 8
#define MAX_NAMES 4

typedef struct {
    PyObject_HEAD
    PyObject *kernel, *cls, *miss, *empty, *counter, *key, *keep;
    int nenv, nargs, nnames, nk;
    PyObject *env_obj[MAX_ENV], *env_name[MAX_ENV], *env_val[MAX_ENV];
    int env_eq[MAX_ENV];
    /* an env object that is a module or a threading.local whose attribute no data descriptor
     * or __getattr__ override serves: read from its __dict__ (the calling thread's, for a
     * threading.local: kept for thread ``tid``), else from its class, without getattr */
    int env_dict[MAX_ENV];
    PyObject *dicts[MAX_ENV];
    uint64_t tid;
    PyObject *names[MAX_NAMES], *expect[MAX_ARG][MAX_NAMES], *shape[MAX_ARG], *strides[MAX_ARG];
    PyObject *data, *w_data, *w_dtype, *w_device, *out_dtype, *out_device;
    int kpos[MAX_IN];
    vectorcallfunc vectorcall;
} Replay;

static int same(PyObject *a, PyObject *b)
{
    return a == b ? 1 : PyObject_RichCompareBool(a, b, Py_EQ);
}

static PyTypeObject *local_type;   /* _thread._local */
static PyObject *s_dict;

/* getattr(env_obj[i], env_name[i]), a new reference (NULL with an exception set) */
static PyObject *env_attr(Replay *self, int i, PyObject *d)
{
    PyObject *obj = self->env_obj[i], *name = self->env_name[i];
    if (self->env_dict[i] && d != NULL) {
        PyObject *v = PyDict_GetItemWithError(d, name);
        if (v != NULL)
            return Py_NewRef(v);
        if (PyErr_Occurred())
            return NULL;
        v = _PyType_Lookup(Py_TYPE(obj), name);   /* (a class attribute: the default) */
        if (v != NULL && Py_TYPE(v)->tp_descr_get == NULL)
            return Py_NewRef(v);
    }
    return PyObject_GetAttr(obj, name);
}

/* the calling thread's __dict__ of each env object read that way */
static void env_dicts(Replay *self)
{
    uint64_t tid = PyThreadState_GetID(PyThreadState_Get());
    if (tid == self->tid)
        return;
    for (int i = 0; i < self->nenv; i++)
        if (self->env_dict[i]) {
            PyObject *d = PyObject_GetAttr(self->env_obj[i], s_dict);
            if (d == NULL || !PyDict_CheckExact(d)) {
                PyErr_Clear();
                Py_CLEAR(d);
            }
            Py_XSETREF(self->dicts[i], d);
        }
    self->tid = tid;
}

static PyObject *Replay_vectorcall(Replay *self, PyObject *const *argv, size_t nargsf, PyObject *kw)
{
    if (kw != NULL || PyVectorcall_NARGS(nargsf) != 2 || !PyTuple_CheckExact(argv[1]))
        goto miss;
    PyObject *args = argv[1];
    if (PyTuple_GET_SIZE(args) != self->nargs || PyList_GET_SIZE(self->empty) != 0)
        goto miss;
    /* (this thread's dicts, held here: a check running Python code -- a GC finalizer, an
     * __eq__ -- may let another thread call and take its own) */
    env_dicts(self);
    PyObject *dl[MAX_ENV];
    for (int i = 0; i < self->nenv; i++)
        dl[i] = Py_XNewRef(self->dicts[i]);
    int bad = 0;
    for (int i = 0; i < self->nenv && !bad; i++) {
        PyObject *v = env_attr(self, i, dl[i]);
        int ok = v == NULL ? -1 : self->env_eq[i] ? same(v, self->env_val[i]) : v == self->env_val[i];
        Py_XDECREF(v);
        if (ok != 1) {
            PyErr_Clear();
            bad = 1;
        }
    }
    for (int i = 0; i < self->nenv; i++)
        Py_XDECREF(dl[i]);
    if (bad)
        goto miss;
    PyObject *arrays[MAX_ARG];
    int got = 0;
    for (int a = 0; a < self->nargs; a++) {
        PyObject *t = PyTuple_GET_ITEM(args, a);
        if ((PyObject *)Py_TYPE(t) != self->cls)
            goto miss_arrays;
        for (int j = 0; j < self->nnames; j++) {
            PyObject *v = PyObject_GetAttr(t, self->names[j]);
            if (v == NULL) {
                PyErr_Clear();
                goto miss_arrays;
            }
            Py_DECREF(v);   /* (compared by identity: the object itself stays alive in t) */
            if (v != self->expect[a][j])
                goto miss_arrays;
        }
        PyObject *x = PyObject_GetAttr(t, self->data);
        if (x == NULL) {
            PyErr_Clear();
            goto miss_arrays;
        }
        arrays[got++] = x;
        if (Py_TYPE(x) != clarray || SLOT(x, o_shape) == NULL || SLOT(x, o_strides) == NULL ||
            same(SLOT(x, o_shape), self->shape[a]) != 1 || same(SLOT(x, o_strides), self->strides[a]) != 1) {
            PyErr_Clear();
            goto miss_arrays;
        }
    }
    PyObject *kargs[MAX_IN];
    for (int i = 0; i < self->nk; i++)
        kargs[i] = arrays[self->kpos[i]];
    PyObject *outs = PyObject_Vectorcall(self->kernel, kargs, (size_t)self->nk, NULL);
    for (int i = 0; i < got; i++)
        Py_DECREF(arrays[i]);
    if (outs == NULL)
        return NULL;
    if (!PyList_CheckExact(outs) || PyList_GET_SIZE(outs) != 1) {
        Py_DECREF(outs);
        PyErr_SetString(PyExc_RuntimeError, "Replay: the kernel did not return one output");
        return NULL;
    }
    PyObject *r = ((PyTypeObject *)self->cls)->tp_alloc((PyTypeObject *)self->cls, 0);
    if (r == NULL || PyObject_SetAttr(r, self->w_data, PyList_GET_ITEM(outs, 0)) < 0 ||
        PyObject_SetAttr(r, self->w_dtype, self->out_dtype) < 0 ||
        PyObject_SetAttr(r, self->w_device, self->out_device) < 0) {
        Py_XDECREF(r);
        Py_DECREF(outs);
        return NULL;
    }
    Py_DECREF(outs);
    PyObject *n = PyDict_GetItemWithError(self->counter, self->key);
    if (n != NULL) {
        PyObject *m = PyNumber_Add(n, one);
        if (m == NULL || PyDict_SetItem(self->counter, self->key, m) < 0) {
            Py_XDECREF(m);
            Py_DECREF(r);
            return NULL;
        }
        Py_DECREF(m);
    }
    else if (PyErr_Occurred()) {
        Py_DECREF(r);
        return NULL;
    }
    return r;
miss_arrays:
    for (int i = 0; i < got; i++)
        Py_DECREF(arrays[i]);
miss:
    return Py_NewRef(self->miss);
}

static PyObject *Replay_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwnames[] = {"kernel", "cls", "miss", "empty", "env", "names", "expect", "data", "shapes",
                              "strides", "kargs", "wrap", "out_dtype", "out_device", "counter", "key", NULL};
    PyObject *kernel, *cls, *miss, *empty, *env, *names, *expect, *data, *shapes, *strides, *kargs, *wrap;
    PyObject *odt, *odev, *counter, *key;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO!OO!O!O!O!UO!O!O!O!OOO!O", kwnames, &kernel, &PyType_Type, &cls,
                                     &miss, &PyList_Type, &empty, &PyList_Type, &env, &PyTuple_Type, &names,
                                     &PyList_Type, &expect, &data, &PyList_Type, &shapes, &PyList_Type, &strides,
                                     &PyList_Type, &kargs, &PyTuple_Type, &wrap, &odt, &odev, &PyDict_Type,
                                     &counter, &key))
        return NULL;
    Py_ssize_t nenv = PyList_GET_SIZE(env), nargs = PyList_GET_SIZE(expect), nn = PyTuple_GET_SIZE(names);
    Py_ssize_t nk = PyList_GET_SIZE(kargs);
    if (clarray == NULL || nenv > MAX_ENV || nargs > MAX_ARG || nn > MAX_NAMES || nk > MAX_IN ||
        PyList_GET_SIZE(shapes) != nargs || PyList_GET_SIZE(strides) != nargs || PyTuple_GET_SIZE(wrap) != 3) {
        PyErr_SetString(PyExc_ValueError, "Replay: too many checks or arguments, or mismatched lists");
        return NULL;
    }
    Replay *self = (Replay *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = (vectorcallfunc)Replay_vectorcall;
    /* every object the checks compare with, kept alive by one list */
    self->keep = PyList_New(0);
    if (self->keep == NULL)
        goto error;
#define KEEP(x) (PyList_Append(self->keep, (x)) < 0 ? NULL : (x))
    if (!KEEP(kernel) || !KEEP(cls) || !KEEP(miss) || !KEEP(empty) || !KEEP(counter) || !KEEP(key) ||
        !KEEP(data) || !KEEP(odt) || !KEEP(odev) || !KEEP(wrap) || !KEEP(names) || !KEEP(env) ||
        !KEEP(expect) || !KEEP(shapes) || !KEEP(strides))
        goto error;
    self->kernel = kernel; self->cls = cls; self->miss = miss; self->empty = empty;
    self->counter = counter; self->key = key; self->data = data; self->out_dtype = odt; self->out_device = odev;
    self->w_data = PyTuple_GET_ITEM(wrap, 0);
    self->w_dtype = PyTuple_GET_ITEM(wrap, 1);
    self->w_device = PyTuple_GET_ITEM(wrap, 2);
    self->nenv = (int)nenv; self->nargs = (int)nargs; self->nnames = (int)nn; self->nk = (int)nk;
    for (Py_ssize_t i = 0; i < nenv; i++) {
        PyObject *e = PyList_GET_ITEM(env, i);
        if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) != 4 || !PyUnicode_Check(PyTuple_GET_ITEM(e, 1))) {
            PyErr_SetString(PyExc_TypeError, "Replay: env holds (object, name, expected, eq) tuples");
            goto error;
        }
        self->env_obj[i] = PyTuple_GET_ITEM(e, 0);
        self->env_name[i] = PyTuple_GET_ITEM(e, 1);
        self->env_val[i] = PyTuple_GET_ITEM(e, 2);
        self->env_eq[i] = PyObject_IsTrue(PyTuple_GET_ITEM(e, 3));
        PyObject *o = self->env_obj[i];
        PyTypeObject *t = Py_TYPE(o);
        PyObject *c = _PyType_Lookup(t, self->env_name[i]);
        int plain_module = PyModule_CheckExact(o) && t->tp_getattro == PyModule_Type.tp_getattro;
        int plain_local = local_type != NULL && PyObject_TypeCheck(o, local_type) &&
                          t->tp_getattro == local_type->tp_getattro;
        self->env_dict[i] = (plain_module || plain_local) && (c == NULL || Py_TYPE(c)->tp_descr_set == NULL);
    }
    self->tid = 0;   /* (no thread has id 0: the first call reads the dicts) */
    for (Py_ssize_t j = 0; j < nn; j++)
        self->names[j] = PyTuple_GET_ITEM(names, j);
    for (Py_ssize_t a = 0; a < nargs; a++) {
        PyObject *ex = PyList_GET_ITEM(expect, a);
        if (!PyTuple_Check(ex) || PyTuple_GET_SIZE(ex) != nn) {
            PyErr_SetString(PyExc_TypeError, "Replay: expect holds one tuple per argument, one object per name");
            goto error;
        }
        for (Py_ssize_t j = 0; j < nn; j++)
            self->expect[a][j] = PyTuple_GET_ITEM(ex, j);
        self->shape[a] = PyList_GET_ITEM(shapes, a);
        self->strides[a] = PyList_GET_ITEM(strides, a);
    }
    for (Py_ssize_t i = 0; i < nk; i++) {
        long k = PyLong_AsLong(PyList_GET_ITEM(kargs, i));
        if (k < 0 || k >= nargs) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "Replay: a kernel argument position out of range");
            goto error;
        }
        self->kpos[i] = (int)k;
    }
    if (PyErr_Occurred())
        goto error;
    return (PyObject *)self;
error:
    Py_DECREF(self);
    return NULL;
#undef KEEP
}

static int Replay_traverse(Replay *self, visitproc visit, void *arg)
{
    Py_VISIT(self->keep);
    for (int i = 0; i < MAX_ENV; i++)
        Py_VISIT(self->dicts[i]);
    return 0;
}

static int Replay_clear(Replay *self)
{
    Py_CLEAR(self->keep);
    for (int i = 0; i < MAX_ENV; i++)
        Py_CLEAR(self->dicts[i]);
    self->tid = 0;
    return 0;
}

static void Replay_dealloc(Replay *self)
{
    PyObject_GC_UnTrack(self);
    Replay_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject ReplayType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "plugtorch.backends.opencl._fastlaunch.Replay",
    .tp_doc = "A compiled graph of one fused kernel behind its guards (see _fastlaunch.c).",
    .tp_basicsize = sizeof(Replay),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = Replay_new,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Replay, vectorcall),
    .tp_traverse = (traverseproc)Replay_traverse,
    .tp_clear = (inquiry)Replay_clear,
    .tp_dealloc = (destructor)Replay_dealloc,
};

/* ---- module ------------------------------------------------------------------------------ */

static int slot_offset(const char *name, Py_ssize_t *out)
{
    PyObject *d = PyObject_GetAttrString((PyObject *)clarray, name);
    if (d == NULL)
        return -1;
    int ok = Py_IS_TYPE(d, &PyMemberDescr_Type) &&
             ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX;
    if (ok)
        *out = ((PyMemberDescrObject *)d)->d_member->offset;
    Py_DECREF(d);
    if (!ok)
        PyErr_Format(PyExc_TypeError, "CLArray.%s is not a __slots__ member", name);
    return ok ? 0 : -1;
}

static PyObject *init(PyObject *mod, PyObject *args)
{
    PyObject *cls, *lk, *sa, *en, *mk;
    Py_ssize_t split, local;
    if (!PyArg_ParseTuple(args, "O!OOOnnO", &PyType_Type, &cls, &lk, &sa, &en, &split, &local, &mk))
        return NULL;
    void *psa = PyLong_AsVoidPtr(sa), *pen = PyLong_AsVoidPtr(en);
    if (PyErr_Occurred())
        return NULL;
    if (psa == NULL || pen == NULL || local <= 0 || (local & (local - 1)) || split < local) {
        PyErr_SetString(PyExc_ValueError, "init: null OpenCL entry points or bad launch sizes");
        return NULL;
    }
    Py_XSETREF(clarray, (PyTypeObject *)Py_NewRef(cls));
    if (slot_offset("data", &o_data) < 0 || slot_offset("offset", &o_offset) < 0 ||
        slot_offset("shape", &o_shape) < 0 || slot_offset("strides", &o_strides) < 0 ||
        slot_offset("dtype", &o_dtype) < 0 || slot_offset("dev", &o_dev) < 0 ||
        slot_offset("contiguous", &o_contiguous) < 0 || slot_offset("size", &o_size) < 0 ||
        slot_offset("mem", &o_mem) < 0)
        return NULL;
    PyObject *acq = PyObject_GetAttrString(lk, "acquire"), *rel = PyObject_GetAttrString(lk, "release");
    if (acq == NULL || rel == NULL) {
        Py_XDECREF(acq); Py_XDECREF(rel);
        return NULL;
    }
    Py_XSETREF(lock_acquire, acq);
    Py_XSETREF(lock_release, rel);
    Py_XSETREF(make_error, Py_NewRef(mk));
    set_arg = (set_arg_t)psa;
    enqueue = (enqueue_t)pen;
    SPLIT = split;
    LOCAL = local;
    Py_RETURN_NONE;
}

static PyObject *enqueue_ptr(PyObject *mod, PyObject *args)
{
    /* enqueue_ptr(name, queue_ptr, kernel_ptr, global, local, count): ``count`` launches,
     * handles as ints: the floor of a launch from Python through C (the benchmark's peer) */
    void *pq, *pk;
    Py_ssize_t g, l, count;
    PyObject *name, *q, *k;
    if (!PyArg_ParseTuple(args, "UOOnnn", &name, &q, &k, &g, &l, &count))
        return NULL;
    pq = PyLong_AsVoidPtr(q);
    pk = PyLong_AsVoidPtr(k);
    if (PyErr_Occurred())
        return NULL;
    size_t gs = (size_t)g, ls = (size_t)l;
    for (Py_ssize_t i = 0; i < count; i++) {
        cl_int err = enqueue(pq, pk, 1, NULL, &gs, &ls, 0, NULL, NULL);
        if (err)
            return launch_failed(name, "clEnqueueNDRangeKernel", err);
    }
    Py_RETURN_NONE;
}

static PyObject *release_idle(PyObject *mod, PyObject *noargs)
{
    /* the idle parked buffers back to their pools (under runtime.LOCK, as the launch paths) */
    if (lock() < 0)
        return NULL;
    int n = 0;
    for (int i = 0; i < PARK; i++)
        if (IDLE(&park[i])) {
            unpark(&park[i]);
            n++;
        }
    unlock();
    return PyLong_FromLong(n);
}

static PyObject *idle_bytes(PyObject *mod, PyObject *pool)
{
    return PyLong_FromSsize_t(idle_in(pool));
}

static PyMethodDef methods[] = {
    {"release_idle", release_idle, METH_NOARGS,
     "release_idle() -> the number of idle parked buffers given back to their pools"},
    {"idle_bytes", idle_bytes, METH_O, "idle_bytes(pool) -> the bytes of pool.active_bytes idle in the park"},
    {"init", init, METH_VARARGS,
     "init(CLArray, LOCK, clSetKernelArg address, clEnqueueNDRangeKernel address, SPLIT, LOCAL, "
     "launch_error)"},
    {"enqueue_ptr", enqueue_ptr, METH_VARARGS, "enqueue_ptr(name, queue_ptr, kernel_ptr, global, local, count)"},
    {NULL, NULL, 0, NULL},
};

/* bump together with VERSION in fastlaunch.py whenever this file changes what it does */
#define FASTLAUNCH_VERSION 3

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastlaunch",
    "The opencl backend's launch hot paths in C (see fastlaunch.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__fastlaunch(void)
{
    if (PyType_Ready(&EntryType) < 0 || PyType_Ready(&PointwiseType) < 0 || PyType_Ready(&FusedType) < 0 ||
        PyType_Ready(&ReplayType) < 0)
        return NULL;
    s_int_ptr = PyUnicode_InternFromString("int_ptr");
    s_active_bytes = PyUnicode_InternFromString("active_bytes");
    s_peak = PyUnicode_InternFromString("peak");
    zero = PyLong_FromLong(0);
    one = PyLong_FromLong(1);
    s_dict = PyUnicode_InternFromString("__dict__");
    PyObject *th = PyImport_ImportModule("_thread");
    if (th != NULL) {
        PyObject *lt = PyObject_GetAttrString(th, "_local");
        Py_DECREF(th);
        if (lt != NULL && PyType_Check(lt))
            local_type = (PyTypeObject *)lt;   /* (kept) */
        else
            Py_XDECREF(lt);
    }
    PyErr_Clear();   /* (without it, env objects are read by getattr) */
    if (s_int_ptr == NULL || s_active_bytes == NULL || s_peak == NULL || zero == NULL || one == NULL || s_dict == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Entry", (PyObject *)&EntryType) < 0 ||
        PyModule_AddObjectRef(m, "Pointwise", (PyObject *)&PointwiseType) < 0 ||
        PyModule_AddObjectRef(m, "Fused", (PyObject *)&FusedType) < 0 ||
        PyModule_AddObjectRef(m, "Replay", (PyObject *)&ReplayType) < 0 ||
        /* fastlaunch.py uses the extension only when this equals its own VERSION: a build left
           from an older source falls back to the Python paths instead of running stale code */
        PyModule_AddIntConstant(m, "VERSION", FASTLAUNCH_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
