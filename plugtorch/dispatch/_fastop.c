/* The Tensor operators' common case in C (``a + b``, ``a * 2.0``, ``a.neg()``): optional, built by
 * setup.py where a compiler is present; dispatcher.binary_operator/unary_operator wrap their
 * Python operator functions in it, and without it (or with PLUGTORCH_DISPATCH_NO_EXT=1) the
 * Python functions are the operators themselves.
 *
 * An Operator runs the Python function's memo hit and nothing else: no active dispatch mode,
 * exact Tensor operands (a Tensor, float or int second operand) that require no grad, on one
 * device, whose signature key (the same tuple the Python function builds) finds a memoised entry
 * in ``op.fast`` with no in-place kernel (so no temporary elision can apply). It calls the
 * entry's kernel (a NumPy floating-point report under a strict warning filter reruns it through
 * ``quietly``, as the Python function does) and wraps the result in a Tensor. Every other call
 * goes, unchanged, to the Python function: modes, autograd, subclasses, NumPy operands,
 * NotImplemented, memo misses, errors and elision. Nothing here adds a reference to an operand
 * before that hand-over, so the elision's reference counts are those of the Python function.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

#define OPERATORS_VERSION 1

static PyTypeObject *tensor;           /* plugtorch.Tensor */
static PyObject *modes;                /* dispatcher._modes (a list mutated in place) */
static PyObject *fp_errors, *quietly;  /* fpstate.FP_ERRORS, fpstate.quietly */
static PyObject *empty;                /* () */
static PyObject *s_rg, *s_device, *s_dtype, *s_data, *s_shape;

/* The memo's last hits, matched by identity (devices and dtypes are interned; shapes compare
 * by value): hashing the key tuple calls the device's and the dtypes' __hash__ (Python-level
 * slots) and costs as much as the rest of the call. A hit holds while op.fast is unchanged (the
 * dict's version tag, CPython < 3.12; later versions look the key up every call). */
#define NSLOT 4
#if PY_VERSION_HEX < 0x030C0000
#define VERSION_OF(d) (((PyDictObject *)(d))->ma_version_tag)
#else
#define VERSION_OF(d) ((uint64_t)0)
#define NO_SLOTS
#endif

typedef struct {
    PyObject *dev, *adt, *bspec, *ashape, *bshape;   /* bspec: b's dtype or scalar class; NULL: unary */
    PyObject *entry;
    uint64_t version;
} Slot;

typedef struct {
    PyObject_HEAD
    PyObject *func;   /* the Python operator function */
    PyObject *fast;   /* op.fast: signature key -> memoised entry */
    int arity, next;
    vectorcallfunc vectorcall;
    Slot slots[NSLOT];
} Operator;

#ifndef NO_SLOTS
/* Whether shape tuples a and b are equal (a tuple of ints: NumPy's and CLArray's shapes). */
static int same_shape(PyObject *a, PyObject *b)
{
    if (a == b)
        return 1;
    if (!PyTuple_CheckExact(a) || !PyTuple_CheckExact(b))
        return PyObject_RichCompareBool(a, b, Py_EQ);
    Py_ssize_t n = PyTuple_GET_SIZE(a);
    if (n != PyTuple_GET_SIZE(b))
        return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(a, i), *y = PyTuple_GET_ITEM(b, i);
        if (x != y) {
            int eq = PyObject_RichCompareBool(x, y, Py_EQ);
            if (eq <= 0)
                return eq;
        }
    }
    return 1;
}
#endif

/* Moves slot s's references to old[*n...] (released by the caller once the slots are consistent:
 * a release may run Python code, a __del__ that calls an operator or invalidate_caches()). */
static void slot_detach(Slot *s, PyObject **old, int *n)
{
    PyObject **f[6] = {&s->dev, &s->adt, &s->bspec, &s->ashape, &s->bshape, &s->entry};
    for (int i = 0; i < 6; i++) {
        if (*f[i] != NULL)
            old[(*n)++] = *f[i];
        *f[i] = NULL;
    }
}

static void slot_clear(Slot *s)
{
    PyObject *old[6];
    int n = 0;
    slot_detach(s, old, &n);
    while (n > 0)
        Py_DECREF(old[--n]);
}

/* The memoised entry for this signature (a new reference) from the slots, else from op.fast by
 * the key tuple the Python function builds (then kept in a slot); NULL on a miss or an error. */
static PyObject *lookup(Operator *self, PyObject *dev, PyObject *adt, PyObject *bspec, PyObject *ashape,
                        PyObject *bshape)
{
#ifndef NO_SLOTS
    uint64_t version = VERSION_OF(self->fast);
    for (int i = 0; i < NSLOT; i++) {
        Slot *s = &self->slots[i];
        if (s->entry != NULL && s->version == version && s->dev == dev && s->adt == adt &&
            s->bspec == bspec) {
            /* (a comparison may run Python code that refills this slot or changes op.fast) */
            PyObject *e = Py_NewRef(s->entry), *sa = Py_XNewRef(s->ashape), *sb = Py_XNewRef(s->bshape);
            int eq = same_shape(sa, ashape);
            if (eq > 0 && bshape != NULL)
                eq = same_shape(sb, bshape);
            Py_XDECREF(sa);
            Py_XDECREF(sb);
            if (eq > 0 && VERSION_OF(self->fast) == version)
                return e;
            Py_DECREF(e);
            if (eq < 0)
                return NULL;
            if (eq > 0)
                break;   /* (op.fast changed meanwhile: look the key up) */
        }
    }
#endif
    PyObject *key;
    if (bspec == NULL)
        key = PyTuple_Pack(2, dev, adt);
    else if (bshape == NULL)
        key = PyTuple_Pack(4, dev, adt, bspec, ashape);
    else
        key = PyTuple_Pack(5, dev, adt, bspec, ashape, bshape);
    if (key == NULL)
        return NULL;
    PyObject *e = PyDict_GetItemWithError(self->fast, key);
    Py_XINCREF(e);   /* (borrowed from op.fast, which the releases below may empty) */
    Py_DECREF(key);
#ifndef NO_SLOTS
    version = VERSION_OF(self->fast);
    if (e != NULL) {
        /* Keep it in a free slot, else the oldest; slots of an older op.fast version can never
         * hit again (the tag only grows): dropped, so that after invalidate_caches() no old
         * kernel or device outlives the memo because of an operator. */
        PyObject *old[6 * NSLOT];
        int n = 0, at = -1;
        for (int i = 0; i < NSLOT; i++) {
            Slot *s = &self->slots[i];
            if (s->entry != NULL && s->version != version)
                slot_detach(s, old, &n);
            if (s->entry == NULL && at < 0)
                at = i;
        }
        if (at < 0) {
            at = self->next;
            self->next = (self->next + 1) % NSLOT;
            slot_detach(&self->slots[at], old, &n);
        }
        Slot *s = &self->slots[at];
        s->dev = Py_NewRef(dev); s->adt = Py_NewRef(adt); s->bspec = Py_XNewRef(bspec);
        s->ashape = Py_XNewRef(ashape); s->bshape = Py_XNewRef(bshape);
        s->entry = Py_NewRef(e);
        s->version = version;
        while (n > 0)
            Py_DECREF(old[--n]);
    }
#endif
    return e;
}

/* A new Tensor holding ``data`` (stolen), ``dtype`` and ``device``: object.__new__(Tensor) and
 * the three attributes the Python functions set. */
static PyObject *wrap(PyObject *data, PyObject *dtype, PyObject *device)
{
    PyObject *t = PyBaseObject_Type.tp_new(tensor, empty, NULL);
    if (t == NULL || PyObject_SetAttr(t, s_data, data) < 0 || PyObject_SetAttr(t, s_dtype, dtype) < 0 ||
        PyObject_SetAttr(t, s_device, device) < 0) {
        Py_XDECREF(t);
        t = NULL;
    }
    Py_DECREF(data);
    return t;
}

/* 1 when ``t._rg`` is False, 0 when anything else (the Python function decides), -1 on error. */
static int no_grad(PyObject *t)
{
    PyObject *rg = PyObject_GetAttr(t, s_rg);
    if (rg == NULL)
        return -1;
    Py_DECREF(rg);
    return rg == Py_False;
}

/* kernel(*args) and, when it raised one of FP_ERRORS, quietly(kernel, *args). */
static PyObject *call_kernel(PyObject *kernel, PyObject **args, Py_ssize_t n)
{
    PyObject *r = PyObject_Vectorcall(kernel, args + 1, n, NULL);
    if (r != NULL || !PyErr_ExceptionMatches(fp_errors))
        return r;
    PyErr_Clear();
    args[0] = kernel;
    return PyObject_Vectorcall(quietly, args, n + 1, NULL);
}

/* The result of the memo hit, or NULL with *miss set (no exception: the Python function runs). */
static PyObject *binary_hit(Operator *self, PyObject *a, PyObject *b, int *miss)
{
    PyObject *dev = NULL, *adt = NULL, *ad = NULL, *bd = NULL, *res = NULL;
    PyObject *ashape = NULL, *bshape = NULL, *bdt = NULL, *e = NULL;
    PyTypeObject *bt = Py_TYPE(b);
    int ok;
    *miss = 1;
    if ((ok = no_grad(a)) <= 0)
        goto out;
    if (bt == tensor && (ok = no_grad(b)) <= 0)
        goto out;
    if ((dev = PyObject_GetAttr(a, s_device)) == NULL || (adt = PyObject_GetAttr(a, s_dtype)) == NULL ||
        (ad = PyObject_GetAttr(a, s_data)) == NULL || (ashape = PyObject_GetAttr(ad, s_shape)) == NULL)
        goto out;
    if (bt == tensor) {
        PyObject *bdev = PyObject_GetAttr(b, s_device);
        if (bdev == NULL)
            goto out;
        Py_DECREF(bdev);
        if (bdev != dev)
            goto out;
        if ((bdt = PyObject_GetAttr(b, s_dtype)) == NULL || (bd = PyObject_GetAttr(b, s_data)) == NULL ||
            (bshape = PyObject_GetAttr(bd, s_shape)) == NULL)
            goto out;
        e = lookup(self, dev, adt, bdt, ashape, bshape);
    } else {
        bd = Py_NewRef(b);
        e = lookup(self, dev, adt, (PyObject *)bt, ashape, NULL);
    }
    if (e == NULL || !PyTuple_CheckExact(e) || PyTuple_GET_SIZE(e) != 5 || PyTuple_GET_ITEM(e, 4) != Py_None)
        goto out;   /* (a miss, or an entry whose in-place kernel the elision may use) */
    *miss = 0;   /* (e is our own reference: a kernel may run Python code that empties the memo) */
    PyObject *args[4] = {NULL, ad, bd, PyTuple_GET_ITEM(e, 1)};
    PyObject *r = call_kernel(PyTuple_GET_ITEM(e, 0), args, 3);
    if (r != NULL)
        res = wrap(r, PyTuple_GET_ITEM(e, 2), PyTuple_GET_ITEM(e, 3));
out:
    if (*miss && PyErr_Occurred())
        *miss = 0;   /* (an attribute error: raised here, as the Python function would) */
    Py_XDECREF(dev); Py_XDECREF(adt); Py_XDECREF(ad); Py_XDECREF(bd);
    Py_XDECREF(ashape); Py_XDECREF(bshape); Py_XDECREF(bdt); Py_XDECREF(e);
    return res;
}

static PyObject *unary_hit(Operator *self, PyObject *a, int *miss)
{
    PyObject *dev = NULL, *adt = NULL, *ad = NULL, *res = NULL, *e = NULL;
    *miss = 1;
    if (no_grad(a) <= 0)
        goto out;
    if ((dev = PyObject_GetAttr(a, s_device)) == NULL || (adt = PyObject_GetAttr(a, s_dtype)) == NULL)
        goto out;
    e = lookup(self, dev, adt, NULL, NULL, NULL);
    if (e == NULL || !PyTuple_CheckExact(e) || PyTuple_GET_SIZE(e) != 4 || (ad = PyObject_GetAttr(a, s_data)) == NULL)
        goto out;
    *miss = 0;
    PyObject *args[3] = {NULL, ad, PyTuple_GET_ITEM(e, 1)};
    PyObject *r = call_kernel(PyTuple_GET_ITEM(e, 0), args, 2);
    if (r != NULL)
        res = wrap(r, PyTuple_GET_ITEM(e, 2), PyTuple_GET_ITEM(e, 3));
out:
    if (*miss && PyErr_Occurred())
        *miss = 0;
    Py_XDECREF(dev); Py_XDECREF(adt); Py_XDECREF(ad); Py_XDECREF(e);
    return res;
}

static PyObject *Operator_vectorcall(Operator *self, PyObject *const *args, size_t nargsf, PyObject *kw)
{
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    if (self->func == NULL) {   /* (emptied by the collector's tp_clear: a finalizer in its cycle) */
        PyErr_SetString(PyExc_ReferenceError, "this Tensor operator was cleared by the garbage collector");
        return NULL;
    }
    if (kw == NULL && n == self->arity && PyList_GET_SIZE(modes) == 0 && Py_TYPE(args[0]) == tensor) {
        int miss;
        PyObject *r;
        if (n == 1) {
            r = unary_hit(self, args[0], &miss);
        } else {
            PyTypeObject *bt = Py_TYPE(args[1]);
            if (bt != tensor && bt != &PyFloat_Type && bt != &PyLong_Type)
                goto python;
            if (bt == &PyLong_Type) {   /* (an int past int64: the Python function checks its range) */
                int overflow;
                if (PyLong_AsLongLongAndOverflow(args[1], &overflow) == -1 && overflow)
                    goto python;
            }
            r = binary_hit(self, args[0], args[1], &miss);
        }
        if (!miss)
            return r;
    }
python:
    return PyObject_Vectorcall(self->func, args, nargsf, kw);
}

static PyObject *Operator_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *names[] = {"func", "fast", "arity", NULL};
    PyObject *func, *fast;
    int arity;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO!i", names, &func, &PyDict_Type, &fast, &arity))
        return NULL;
    if (arity != 1 && arity != 2) {
        PyErr_SetString(PyExc_ValueError, "arity must be 1 or 2");
        return NULL;
    }
    if (tensor == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_fastop.init() has not been called");
        return NULL;
    }
    Operator *self = (Operator *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->func = Py_NewRef(func);
    self->fast = Py_NewRef(fast);
    self->arity = arity;
    self->vectorcall = (vectorcallfunc)Operator_vectorcall;
    return (PyObject *)self;
}

static int Operator_traverse(Operator *self, visitproc visit, void *arg)
{
    Py_VISIT(self->func); Py_VISIT(self->fast);
    for (int i = 0; i < NSLOT; i++) {
        Slot *s = &self->slots[i];
        Py_VISIT(s->dev); Py_VISIT(s->adt); Py_VISIT(s->bspec); Py_VISIT(s->ashape); Py_VISIT(s->bshape);
        Py_VISIT(s->entry);
    }
    return 0;
}

static int Operator_clear(Operator *self)
{
    Py_CLEAR(self->func); Py_CLEAR(self->fast);
    for (int i = 0; i < NSLOT; i++)
        slot_clear(&self->slots[i]);
    return 0;
}

static void Operator_dealloc(Operator *self)
{
    PyObject_GC_UnTrack(self);
    Operator_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A method of Tensor, as the Python function is: bound on instance access (calls through the
 * type skip this: Py_TPFLAGS_METHOD_DESCRIPTOR). */
static PyObject *Operator_get(PyObject *self, PyObject *obj, PyObject *type)
{
    if (obj == NULL || obj == Py_None)
        return Py_NewRef(self);
    return PyMethod_New(self, obj);
}

static PyObject *Operator_func(Operator *self, void *closure) { return Py_NewRef(self->func ? self->func : Py_None); }

static PyGetSetDef Operator_getset[] = {
    {"__wrapped__", (getter)Operator_func, NULL, "The Python operator function (inspect.signature follows it).", NULL},
    {NULL},
};

/* The function's attributes (__name__, __doc__, __qualname__, __module__, __code__ ...) are the
 * operator's; not its __dict__ (an Operator holds no state of a user-level object). */
static PyObject *Operator_getattro(Operator *self, PyObject *name)
{
    if (self->func != NULL && PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "__wrapped__") != 0 &&
        PyUnicode_CompareWithASCIIString(name, "__class__") != 0 &&
        PyUnicode_CompareWithASCIIString(name, "__dict__") != 0) {
        PyObject *r = PyObject_GetAttr(self->func, name);
        if (r != NULL || !PyErr_ExceptionMatches(PyExc_AttributeError))
            return r;
        PyErr_Clear();
    }
    return PyObject_GenericGetAttr((PyObject *)self, name);
}

static PyObject *Operator_repr(Operator *self)
{
    return self->func ? PyObject_Repr(self->func) : PyUnicode_FromString("<cleared Tensor operator>");
}

static PyTypeObject OperatorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "plugtorch.dispatch._fastop.Operator",
    .tp_doc = "Operator(func, fast, arity): a Tensor operator's memo hit in C; the rest runs func.",
    .tp_basicsize = sizeof(Operator),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
                Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_new = Operator_new,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Operator, vectorcall),
    .tp_traverse = (traverseproc)Operator_traverse,
    .tp_clear = (inquiry)Operator_clear,
    .tp_dealloc = (destructor)Operator_dealloc,
    .tp_descr_get = Operator_get,
    .tp_getset = Operator_getset,
    .tp_getattro = (getattrofunc)Operator_getattro,
    .tp_repr = (reprfunc)Operator_repr,
};

static PyObject *init(PyObject *mod, PyObject *args)
{
    PyObject *t, *m, *fe, *q;
    if (!PyArg_ParseTuple(args, "O!O!OO", &PyType_Type, &t, &PyList_Type, &m, &fe, &q))
        return NULL;
    Py_XSETREF(tensor, (PyTypeObject *)Py_NewRef(t));
    Py_XSETREF(modes, Py_NewRef(m));
    Py_XSETREF(fp_errors, Py_NewRef(fe));
    Py_XSETREF(quietly, Py_NewRef(q));
    Py_RETURN_NONE;
}

static PyObject *ready(PyObject *mod, PyObject *noargs)
{
    return PyBool_FromLong(tensor != NULL);
}

static PyMethodDef methods[] = {
    {"init", init, METH_VARARGS, "init(Tensor, dispatcher._modes, FP_ERRORS, quietly)"},
    {"ready", ready, METH_NOARGS, "ready() -> whether init() has run"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastop", "The Tensor operators' memo hits in C (dispatcher.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__fastop(void)
{
    if (PyType_Ready(&OperatorType) < 0)
        return NULL;
    empty = PyTuple_New(0);
    s_rg = PyUnicode_InternFromString("_rg");
    s_device = PyUnicode_InternFromString("_device");
    s_dtype = PyUnicode_InternFromString("_dtype");
    s_data = PyUnicode_InternFromString("_data");
    s_shape = PyUnicode_InternFromString("shape");
    if (empty == NULL || s_rg == NULL || s_device == NULL || s_dtype == NULL || s_data == NULL || s_shape == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Operator", (PyObject *)&OperatorType) < 0 ||
        PyModule_AddIntConstant(m, "VERSION", OPERATORS_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
