/* plugtorch.compiler._fastcall: the call of a compiled function in C (docs/jit.md).
 *
 * ``FastCall`` is the base class of plugtorch.compiler.CompiledFunction. Calling an instance
 * without keyword arguments first tries its ``_hot`` callable (the entry that ran last:
 * ``_hot(self, args)``, a generated Python function or a backend's guarded call such as opencl's
 * _fastlaunch.Replay) with the argument tuple the interpreter made for the call, and returns
 * its result unless it is the ``miss`` sentinel (``set_miss``); else, or with keyword
 * arguments, it calls ``self._lookup(args, kwargs)``, the Python path (the keyed cache lookup,
 * traces, recompiles, graph breaks and their errors). This saves the Python frame of a
 * ``__call__`` with ``*args, **kwargs`` on every replay; what runs is the same. Nothing here
 * knows what a graph is. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

static PyObject *miss;         /* the compiler's _MISS (set_miss) */
static PyObject *s_lookup;     /* "_lookup" */

typedef struct {
    PyObject_HEAD
    PyObject *hot;
} FastCall;

static PyObject *FastCall_call(FastCall *self, PyObject *args, PyObject *kwargs)
{
    int has_kw = kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0;
    if (!has_kw && self->hot != NULL && self->hot != Py_None && miss != NULL) {
        PyObject *hot = Py_NewRef(self->hot);   /* (the call may replace self->hot) */
        PyObject *argv[2] = {(PyObject *)self, args};
        PyObject *r = PyObject_Vectorcall(hot, argv, 2, NULL);
        Py_DECREF(hot);
        if (r != miss)
            return r;   /* (NULL: its error, as the Python path would raise it) */
        Py_DECREF(r);
    }
    PyObject *kw = kwargs != NULL ? Py_NewRef(kwargs) : PyDict_New();
    if (kw == NULL)
        return NULL;
    PyObject *argv[3] = {(PyObject *)self, args, kw};
    PyObject *r = PyObject_VectorcallMethod(s_lookup, argv, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(kw);
    return r;
}

static int FastCall_traverse(FastCall *self, visitproc visit, void *arg)
{
    Py_VISIT(self->hot);
    return 0;
}

static int FastCall_clear(FastCall *self)
{
    Py_CLEAR(self->hot);
    return 0;
}

static void FastCall_dealloc(FastCall *self)
{
    PyObject_GC_UnTrack(self);
    FastCall_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMemberDef FastCall_members[] = {
    {"_hot", T_OBJECT, offsetof(FastCall, hot), 0,
     "the callable tried first, ``_hot(self, args)``: its result, or the miss sentinel (or None)"},
    {NULL},
};

static PyTypeObject FastCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "plugtorch.compiler._fastcall.FastCall",
    .tp_doc = "Base of CompiledFunction: its call tries ``_hot(self, args)``, then ``self._lookup(args, kwargs)``.",
    .tp_basicsize = sizeof(FastCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_call = (ternaryfunc)FastCall_call,
    .tp_members = FastCall_members,
    .tp_traverse = (traverseproc)FastCall_traverse,
    .tp_clear = (inquiry)FastCall_clear,
    .tp_dealloc = (destructor)FastCall_dealloc,
};

static PyObject *set_miss(PyObject *module, PyObject *obj)
{
    Py_XSETREF(miss, Py_NewRef(obj));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"set_miss", set_miss, METH_O, "set_miss(obj): what a ``_hot`` callable returns where the call is not its graph's"},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "plugtorch.compiler._fastcall",
    "A compiled function's call in C (see _fastcall.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__fastcall(void)
{
    s_lookup = PyUnicode_InternFromString("_lookup");
    if (s_lookup == NULL || PyType_Ready(&FastCallType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "FASTCALL_VERSION", 1) < 0 ||
        PyModule_AddObjectRef(m, "FastCall", (PyObject *)&FastCallType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
