"""Partial graphs: a compiled function split where its Python first reads tensor data.

A read whose data changes from call to call (``print(loss.item())``, ``losses.append(loss.item())``,
``if loss.item() > 10:``) cannot be a guard of a graph: each call would trace again. Rather than
run the whole call eagerly, ``plugtorch.compile`` splits the function at the **top-level
statement** of its body that holds the first such read:

* the *head*, the statements before it, becomes a function of the original arguments that
  returns its local variables (``locals()``), and is compiled as any function is (a graph, its
  guards and recompiles);
* the *tail*, that statement and the rest of the body, becomes a function of those locals, and
  runs as plain Python, eagerly, on the head's results.

Both are built from the function's own source (``ast``), compiled with its file name and line
numbers and run with its globals and closure cells, so the tail is the program's code: its reads,
prints, branches and ops run exactly as they would have. This is the part of Dynamo's resume
functions that a statement boundary allows, without rewriting bytecode: a read in the middle of
a top-level ``for``, ``with`` or ``if`` makes that whole statement part of the tail.

A function is not split (its signature runs eagerly, as before) when its source is not there or
differs from the code that runs (checked by compiling the source and comparing the bytecode),
when it is a generator or coroutine, has variables captured by an inner function (cells), uses
zero-argument ``super()``, is a method using private (name-mangled) names, returns before the
read, or when the read is in its first statement. The head's results must be tensors, plain
numbers and strings, containers of those, or objects that were there before the call (its
arguments, the globals and closure variables it reads, modules, optimizers, functions): an object
the head creates is baked into its graph, so each replay would hand the tail the same object.
"""
from __future__ import annotations

import ast
import copy
import linecache
import sys
import types

_NO_SPLIT = object()
_TAIL_ARG = "__plugtorch_locals__"
_LOCALS_FN = "__plugtorch_locals_fn__"
_OUTER = "__plugtorch_outer__"


def read_stack(skip=1) -> tuple:
    """(code, last instruction offset) of each frame of the Python stack, innermost first:
    where a read happened, so that compile can find the statement of its own function holding it."""
    f = sys._getframe(skip + 1)
    out = []
    while f is not None:
        out.append((f.f_code, f.f_lasti))
        f = f.f_back
    return tuple(out)


def _position(code, lasti):
    """(line, column) of the instruction at ``lasti`` in ``code`` (column None where Python does not
    keep columns)."""
    if hasattr(code, "co_positions"):
        for k, pos in enumerate(code.co_positions()):
            if k == lasti // 2:
                return pos[0], pos[2]
        return None
    for start, end, line in code.co_lines():
        if start <= lasti < end:
            return line, None
    return None


def _function_node(code):
    """The ``FunctionDef`` of ``code`` in its file's source, and the names of the classes around it,
    or None when the source is not available or is not the source of the running code."""
    lines = linecache.getlines(code.co_filename)
    if not lines:
        return None
    src = "".join(lines)
    try:
        tree = ast.parse(src, code.co_filename)
    except (SyntaxError, ValueError):
        return None
    found = []

    def walk(node, classes):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and child.name == code.co_name:
                first = child.decorator_list[0].lineno if child.decorator_list else child.lineno
                if code.co_firstlineno in (first, child.lineno):
                    found.append((child, classes))
            walk(child, classes + (child.name,) if isinstance(child, ast.ClassDef) else classes)
    walk(tree, ())
    if len(found) != 1:
        return None
    node, classes = found[0]
    # the source on disk is the running code's: compiled, it gives the same bytecode
    try:
        mod = compile(tree, code.co_filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    if not any(_same_code(c, code) for c in _codes(mod)):
        return None
    return node, classes


def _codes(code):
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _codes(c)


def _same_code(a, b) -> bool:
    return (a.co_name == b.co_name and a.co_firstlineno == b.co_firstlineno and a.co_code == b.co_code
            and a.co_consts == b.co_consts and a.co_names == b.co_names and a.co_varnames == b.co_varnames
            and a.co_freevars == b.co_freevars)


class _Scan(ast.NodeVisitor):
    """What a list of statements does, outside nested functions, lambdas and classes."""

    def __init__(self):
        self.returns = self.yields = self.private = False
        self.declared: list = []

    def visit_FunctionDef(self, node):
        pass

    visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = visit_FunctionDef

    def visit_Return(self, node):
        self.returns = True

    def visit_Yield(self, node):
        self.yields = True

    visit_YieldFrom = visit_Await = visit_Yield

    def visit_Global(self, node):
        self.declared.append(node)

    visit_Nonlocal = visit_Global

    def visit_Name(self, node):
        self._name(node.id)

    def visit_Attribute(self, node):
        self._name(node.attr)
        self.generic_visit(node)

    def _name(self, name):
        if name.startswith("__") and not name.endswith("__"):
            self.private = True


def _scan(stmts) -> _Scan:
    s = _Scan()
    for st in stmts:
        s.visit(st)
    return s


def split_index(fn, stack):
    """The index in ``fn``'s body of the top-level statement holding the read whose Python stack is
    ``stack`` (``read_stack()``), or None where ``fn``'s frame is not on it."""
    code = _code_of(fn)
    if code is None:
        return None
    for c, lasti in stack:
        if c is code:
            break
    else:
        return None
    pos = _position(code, lasti)
    if pos is None or pos[0] is None:
        return None
    found = _function_node(code)
    if found is None:
        return None
    node, _ = found
    line, col = pos
    hits = [k for k, st in enumerate(node.body)
            if (st.lineno, st.col_offset if col is not None else 0) <= (line, col if col is not None else 0)
            and (line, col if col is not None else 0) <= (st.end_lineno, st.end_col_offset if col is not None else 1 << 30)]
    return hits[0] if len(hits) == 1 else None


def _target(fn):
    """What is split for compiled ``fn``: a Module's ``forward`` (a compiled module, or
    ``Module.compile()``'s compiled ``_call_impl``), else ``fn``."""
    from plugtorch.nn.modules.module import Module
    if isinstance(fn, Module):
        return fn.forward
    if getattr(fn, "__func__", None) is Module._call_impl:
        return fn.__self__.forward
    return fn


def _hooked(module) -> bool:
    """Whether calling ``module`` runs hooks around its forward (the split runs forward alone)."""
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                or module._backward_pre_hooks or module._non_full_backward_hooks)


def _code_of(fn):
    f = getattr(_target(fn), "__func__", _target(fn))
    return getattr(f, "__code__", None) if isinstance(f, types.FunctionType) else None


class Split:
    """``fn`` cut before statement ``k`` of its body: ``head`` (compiled) and ``tail`` (eager)."""

    def __init__(self, fn, k, compile_head):
        self.call = fn          # (what the compiled function calls: a module runs its hooks)
        self.module = getattr(_target(fn), "__self__", None) if _target(fn) is not fn else None
        fn = _target(fn)
        func = getattr(fn, "__func__", fn)
        self.fn, self.k = fn, k
        code = func.__code__
        node, classes = _function_node(code)
        self.line = node.body[k].lineno
        body = node.body
        head_scan, all_scan = _scan(body[:k]), _scan(body)
        declared = [d for d in all_scan.declared]
        names = {n for d in declared for n in d.names}
        varnames = [v for v in code.co_varnames if v not in names]
        head_body = [copy.deepcopy(st) for st in body[:k] if not isinstance(st, (ast.Global, ast.Nonlocal))]
        tail_body = [copy.deepcopy(st) for st in body[k:] if not isinstance(st, (ast.Global, ast.Nonlocal))]

        def decl(part):
            """The global and nonlocal declarations of the names ``part`` uses (one of an unused
            name would make the part read it, so guard it)."""
            used = {n.id for st in part for n in ast.walk(st) if isinstance(n, ast.Name)}
            out = []
            for d in declared:
                names = [n for n in d.names if n in used]
                if names:
                    out.append(ast.copy_location(type(d)(names=names), d))
            return out
        at = body[k]

        def loc(n, like):
            return ast.copy_location(n, like)
        # head: the body before statement k, then `return locals()` (through a closure variable,
        # so that a global named `locals` cannot take its place)
        ret = loc(ast.Return(value=loc(ast.Call(func=loc(ast.Name(id=_LOCALS_FN, ctx=ast.Load()), at), args=[],
                                                keywords=[]), at)), at)
        head_def = ast.FunctionDef(name=node.name, args=copy.deepcopy(node.args), body=decl(head_body) + head_body + [ret],
                                   decorator_list=[], returns=None, type_comment=None)
        # tail: each local the head left bound, then statement k and the rest of the body
        unpack = []
        for v in varnames:
            test = ast.Compare(left=ast.Constant(v), ops=[ast.In()], comparators=[ast.Name(id=_TAIL_ARG, ctx=ast.Load())])
            assign = ast.Assign(targets=[ast.Name(id=v, ctx=ast.Store())],
                                value=ast.Subscript(value=ast.Name(id=_TAIL_ARG, ctx=ast.Load()), slice=ast.Constant(v),
                                                    ctx=ast.Load()))
            unpack.append(loc(ast.If(test=test, body=[assign], orelse=[]), at))
        tail_args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=_TAIL_ARG)], vararg=None, kwonlyargs=[],
                                  kw_defaults=[], kwarg=None, defaults=[])
        tail_def = ast.FunctionDef(name=node.name, args=tail_args, body=decl(tail_body) + unpack + tail_body, decorator_list=[],
                                   returns=None, type_comment=None)
        free = list(code.co_freevars)
        cells = dict(zip(free, func.__closure__ or ()))
        cells[_LOCALS_FN] = types.CellType(locals)
        head = self._function(head_def, free + [_LOCALS_FN], cells, func, code, at)
        head.__defaults__, head.__kwdefaults__ = func.__defaults__, func.__kwdefaults__
        tail = self._function(tail_def, free, cells, func, code, at)
        self.varnames = varnames
        self.head_fn = types.MethodType(head, fn.__self__) if fn is not func else head
        self.head = compile_head(self.head_fn, f"{func.__name__} (lines before {self.line})")
        self.tail = tail
        self._checked = False

    @staticmethod
    def _function(fdef, free, cells, func, code, at):
        outer_args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=n) for n in free], vararg=None, kwonlyargs=[],
                                   kw_defaults=[], kwarg=None, defaults=[])
        outer = ast.FunctionDef(name=_OUTER, args=outer_args,
                                body=[fdef, ast.Return(value=ast.Name(id=fdef.name, ctx=ast.Load()))],
                                decorator_list=[], returns=None, type_comment=None)
        ast.copy_location(outer, at)
        ast.copy_location(fdef, at)
        mod = ast.Module(body=[outer], type_ignores=[])
        ast.fix_missing_locations(mod)
        mcode = compile(mod, code.co_filename, "exec", dont_inherit=True)
        ocode = next(c for c in mcode.co_consts if isinstance(c, types.CodeType) and c.co_name == _OUTER)
        icode = next(c for c in ocode.co_consts if isinstance(c, types.CodeType) and c.co_name == fdef.name)
        closure = tuple(cells[n] for n in icode.co_freevars)
        f = types.FunctionType(icode, func.__globals__, func.__name__, None, closure or None)
        f.__qualname__ = func.__qualname__
        f.__module__ = func.__module__
        return f

    def __call__(self, args, kwargs):
        if self.module is not None and _hooked(self.module):
            return self.call(*args, **kwargs), None, None    # (hooks added since: this call runs eagerly)
        if self._checked:
            return self.tail(self.head(*args, **kwargs)), None, None
        from plugtorch import compiler
        traced = compiler._COUNTERS["traced_calls"]
        local = self.head(*args, **kwargs)
        if not self._checked and compiler._COUNTERS["traced_calls"] != traced:
            # (judged on a graph the head keeps: one whose trace it will trace again -- an
            # optimizer creating its state -- is not the head's graph yet)
            graphs = [e.traced.graph for e in self.head._cache.values() if e.state == "compiled"]
            bad = self.foreign_object(local, args, kwargs)
            if bad is None and graphs and not any(g.ops for g in graphs):
                bad = f"the statements before line {self.line} run no tensor op"
            elif bad is None and not graphs:
                return self.tail(local), None, None
            if bad is not None:
                return _NO_SPLIT, bad, local
            self._checked = True
        return self.tail(local), None, None

    def foreign_object(self, local, args, kwargs):
        """A variable the head left holding an object the call created that a graph cannot make
        afresh at each replay (the graph would hand the tail the traced object), as text; or None."""
        from plugtorch._tensor import Tensor
        from plugtorch.compiler import _SIMPLE, _bound_object
        known = set()

        def collect(v, depth=0):
            known.add(id(v))
            if depth < 4 and isinstance(v, (list, tuple)):
                for x in v:
                    collect(x, depth + 1)
            elif depth < 4 and isinstance(v, dict):
                for x in v.values():
                    collect(x, depth + 1)
        for a in args:
            collect(a)
        for a in kwargs.values():
            collect(a)
        func = getattr(self.fn, "__func__", self.fn)
        if func is not self.fn:
            collect(self.fn.__self__)
        from plugtorch.compiler import _code_names
        for name in _code_names(func.__code__, set()):
            if name in func.__globals__:
                collect(func.__globals__[name])
        for cell in func.__closure__ or ():
            try:
                collect(cell.cell_contents)
            except ValueError:
                pass

        def check(name, v, depth=0):
            if v.__class__ in _SIMPLE or isinstance(v, Tensor) or id(v) in known or _bound_object(v) \
                    or isinstance(v, (type, types.ModuleType)):
                return None
            if isinstance(v, (list, tuple)) and depth < 8:
                for x in v:
                    r = check(name, x, depth + 1)
                    if r:
                        return r
                return None
            if isinstance(v, dict) and depth < 8:
                for x in v.values():
                    r = check(name, x, depth + 1)
                    if r:
                        return r
                return None
            return f"'{name}' holds a {type(v).__name__} object the statements before line {self.line} create"
        for name in self.varnames:
            if name in local:
                r = check(name, local[name])
                if r:
                    return r
        return None


def make_split(fn, stack, compile_head):
    """A ``Split`` of ``fn`` before the statement holding the read at ``stack``, or the reason why
    there is none (a string)."""
    target = _target(fn)
    if target is not fn and _hooked(target.__self__):
        return "the module has hooks (its forward alone could be split)"
    func = getattr(target, "__func__", target)
    if not isinstance(func, types.FunctionType):
        return "it is not a Python function"
    code = func.__code__
    from plugtorch.compiler import _PKG_DIR
    if code.co_filename.startswith(_PKG_DIR):
        return "it is plugtorch's own code"
    if code.co_flags & (0x20 | 0x80 | 0x100 | 0x200):     # generator, coroutine, async generator
        return "it is a generator or coroutine"
    if code.co_cellvars:
        return f"an inner function captures its variables ({', '.join(code.co_cellvars)})"
    if "__class__" in code.co_freevars:
        return "it calls super() without arguments"
    k = split_index(fn, stack)
    if k is None:
        return "the read is not in a statement of its own body, or its source is not available"
    if k == 0:
        return "the read is in its first statement"
    node, classes = _function_node(code)
    head_scan = _scan(node.body[:k])
    if head_scan.returns or head_scan.yields:
        return "it may return before the read"
    if classes and _scan(node.body).private:
        return "it is a method using private (name-mangled) names"
    try:
        return Split(fn, k, compile_head)
    except Exception as e:     # (code this does not know how to cut: no split)
        return f"it could not be cut there ({type(e).__name__}: {e})"
