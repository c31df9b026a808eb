"""Which objects a running Python frame's binary operator instruction is applying to.

The temporary elision (``dispatcher.binary_operator``) may reuse the memory of an operand only
the operator instruction holds: ``x * y + z`` holds ``x * y`` on its value stack alone. A
reference count cannot tell that operand from an object C code handed over with a borrowed
reference while the same instruction runs: ``o[:] + 1`` on a NumPy object array calls each
element's ``__add__`` from NumPy's object loop, and an element held only by the array counts as
a temporary does. ``holds(frame, slot, a, b)`` answers exactly: whether the two operands on the
frame's value stack are ``a`` and ``b`` themselves (``a + b``, or ``b + a`` for a reflected
operator), read from CPython's frame (``_PyInterpreterFrame.localsplus``) at the depth the
instruction runs with, which the bytecode fixes (``operand_slot``, found by the flow analysis
the compiler's own stack depth is).

CPython 3.11 to 3.13 (their frame layouts, with a GIL and a release build); ``READABLE`` is
False elsewhere and the dispatcher reuses no operand of an operator then.
"""
from __future__ import annotations

import dis
import sys

try:
    import ctypes
except ImportError:   # (a Python built without it)
    ctypes = None

# the instructions that call an operator's function (3.11+: one; before: one per operator)
OPERATOR_OPCODES = frozenset(dis.opmap[n] for n in (
    "BINARY_OP", "BINARY_ADD", "BINARY_SUBTRACT", "BINARY_MULTIPLY", "BINARY_TRUE_DIVIDE",
    "BINARY_FLOOR_DIVIDE", "BINARY_MODULO", "BINARY_POWER") if n in dis.opmap)

_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs) | frozenset(getattr(dis, "hasjump", ()))
# instructions after which the next one is not reached from them
_ENDS = frozenset(dis.opmap[n] for n in (
    "JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "JUMP_ABSOLUTE", "JUMP",
    "JUMP_NO_INTERRUPT", "RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE") if n in dis.opmap)
_RETURN_GENERATOR = dis.opmap.get("RETURN_GENERATOR")


def stack_depths(code) -> dict | None:
    """The value stack's depth before each instruction of ``code`` (offset -> depth), or None
    where the flow analysis meets a contradiction (then nothing is read).

    As the compiler computes ``co_stacksize``: from the entry and from each exception handler
    (the table's depth, the offset it may push and the exception), each instruction's
    ``dis.stack_effect`` along the fall-through and, for a jump, along the jump. A resumed
    generator has the sent value on its stack after ``RETURN_GENERATOR`` (its next instruction
    pops it; 3.11's and 3.12's ``stack_effect`` say 0)."""
    ins = list(dis.get_instructions(code))
    at = {i.offset: k for k, i in enumerate(ins)}
    todo = [(0, 0)]
    parse = getattr(dis, "_parse_exception_table", None)
    if parse is not None:
        todo += [(e.target, e.depth + e.lasti + 1) for e in parse(code)]
    seen: dict = {}
    while todo:
        off, d = todo.pop()
        k = at.get(off)
        while k is not None and k < len(ins):
            i = ins[k]
            if i.offset in seen:
                if seen[i.offset] != d:
                    return None
                break
            if d < 0:
                return None
            seen[i.offset] = d
            arg = i.arg if i.opcode >= dis.HAVE_ARGUMENT else None
            if i.opcode in _JUMPS:
                todo.append((i.argval, d + dis.stack_effect(i.opcode, arg, jump=True)))
            if i.opcode in _ENDS:
                break
            d += 1 if i.opcode == _RETURN_GENERATOR else dis.stack_effect(i.opcode, arg, jump=False)
            k += 1
    return seen


def operand_slot(code, offset) -> int:
    """The index in the frame's ``localsplus`` (its locals, cells, free variables, then its value
    stack) of the left operand of the binary operator instruction at ``offset`` of ``code`` (the
    right one follows it); -1 if that instruction is no binary operator or its depth is unknown."""
    if not READABLE or code.co_code[offset] not in OPERATOR_OPCODES:
        return -1
    depths = stack_depths(code)
    d = None if depths is None else depths.get(offset)
    if d is None or d < 2 or d > code.co_stacksize:
        return -1
    return nlocalsplus(code) + d - 2


def nlocalsplus(code) -> int:
    """The slots before the value stack in a frame running ``code`` (``co_nlocalsplus``): one
    per local, cell and free variable (one for a name both local and cell: an argument a
    nested function uses, 3.12's comprehension variable a lambda in it uses)."""
    return len(set(code.co_varnames) | set(code.co_cellvars)) + len(code.co_freevars)


def holds(frame, slot, a, b) -> bool:
    """Whether the value stack of ``frame`` (running the binary operator ``operand_slot`` gave
    ``slot`` for) holds ``a`` and ``b`` as the operator's operands: ``a + b`` (``a.__add__(b)``)
    or ``b + a`` (its reflected ``a.__radd__(b)``)."""
    f = _ptr(id(frame) + _F_FRAME).value                 # the frame's _PyInterpreterFrame
    at = f + _LOCALSPLUS + slot * _P
    left = _ptr(at).value
    ia, ib = id(a), id(b)
    if left == ia:
        return _ptr(at + _P).value == ib
    return left == ib and _ptr(at + _P).value == ia


def _layout():
    """(offset of PyFrameObject.f_frame, of _PyInterpreterFrame.localsplus, of its code object
    pointer, the pointer size), or None on a CPython whose frames this module does not know."""
    if (ctypes is None or sys.implementation.name != "cpython" or not (3, 11) <= sys.version_info[:2] <= (3, 13)
            or hasattr(sys, "getobjects")                     # Py_TRACE_REFS: a longer object header
            or not getattr(sys, "_is_gil_enabled", lambda: True)()   # free-threaded: another header
            or __import__("sysconfig").get_config_var("Py_GIL_DISABLED")):
        return None
    P = ctypes.c_void_p

    class Frame(ctypes.Structure):   # PyFrameObject: PyObject_HEAD, f_back, f_frame, ...
        _fields_ = [("ob_refcnt", ctypes.c_ssize_t), ("ob_type", P), ("f_back", P), ("f_frame", P)]

    if sys.version_info[:2] == (3, 11):   # f_func, f_globals, f_builtins, f_locals, f_code, ...
        tail, code_at = [("is_entry", ctypes.c_bool), ("owner", ctypes.c_char)], 4
    else:                                 # f_code / f_executable first; return_offset, owner
        tail, code_at = [("return_offset", ctypes.c_uint16), ("owner", ctypes.c_char)], 0

    class InterpreterFrame(ctypes.Structure):   # eight pointers, stacktop, ..., localsplus
        _fields_ = [("specials", P * 8), ("stacktop", ctypes.c_int)] + tail + [("localsplus", P)]

    return (Frame.f_frame.offset, InterpreterFrame.localsplus.offset, code_at * ctypes.sizeof(P),
            ctypes.sizeof(P))


def _check() -> bool:
    """Read a frame this module set up (its code object, then the operands of ``left + right``
    inside it, then of ``right + left``) and compare with what it must hold."""
    code_ok = _ptr(_ptr(id(sys._getframe()) + _F_FRAME).value + _CODE).value == id(_check.__code__)
    if not code_ok:
        return False
    got = []

    class Probe:
        def __add__(self, other):
            frame = sys._getframe(1)
            slot = operand_slot(frame.f_code, frame.f_lasti)
            got.append(slot >= 0 and holds(frame, slot, self, other) and not holds(frame, slot, self, 2))
            return self

        __radd__ = __add__

    def cells(left, right):
        def inner():
            return left, right
        return [left + right for _ in range(1)][0], 1 + left, inner

    try:
        cells(Probe(), 1)
    except Exception:
        return False
    return got == [True, True]


READABLE = False
_layout_found = _layout()
if _layout_found is not None:
    _F_FRAME, _LOCALSPLUS, _CODE, _P = _layout_found
    _ptr = ctypes.c_void_p.from_address
    READABLE = True      # (operand_slot answers while _check runs)
    READABLE = _check()
