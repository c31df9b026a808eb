"""One generated OpenCL kernel for a chain of pointwise kernel calls (``backends/fusion.py``).

Each step is written as the unfused kernel of its op computes it: the C expression and helpers
of ``elementwise.py``, each operand converted to the step's compute type as that kernel converts
it, and the value stored in the step's dtype (``cltypes.store``: bfloat16 rounded, bool 0/1,
integers wrapped) before later steps read it back; so a fused group returns the unfused
kernels' results bit for bit. ``FP_CONTRACT OFF`` keeps the compiler from merging a multiply of
one step into an add of the next (one rounding instead of two).

A group gets three kernels (none checks its index against n: each launch covers exactly
its elements), ``<name>_c0`` when every input holding all the elements is contiguous
and every input is at offset 0 (the arguments other than the buffers are set once), ``<name>_c``
for the same at any offsets, and ``<name>_s`` for any strides and broadcasting (dims collapsed
over all inputs, the coordinates unravelled once per work-item). Python scalars, sizes and
strides are kernel arguments, so groups that differ only in those share one plan.

One program holds the kernels of many plans (``program_source``): PoCL's build costs a fixed
0.3-0.5 s plus ~10 ms a group. A group is built when it is fused; under
``fusion.deferred_builds()`` it waits for its first call, which builds every group waiting on
the device in one program (the conformance jit mode: one build per batch of traced entries).

>>> fn = fuse(dev, group, kernels)      # doctest: +SKIP
>>> (out,) = fn(a, b, c)                # CLArrays in, fresh contiguous CLArrays out
"""
from __future__ import annotations

import re
import weakref

import numpy as np

from plugtorch._caches import Memo
from plugtorch.backends.base import contiguous_strides
from plugtorch.backends.fusion import IN, STEP, Ref, builds_deferred
from plugtorch.backends.opencl import cltypes as T
from plugtorch.backends.opencl import fastlaunch
from plugtorch.backends.opencl.buffer import CLArray
from plugtorch.backends.opencl.kernels import elementwise as E
from plugtorch.backends.opencl.kernels import pointwise as P
from plugtorch.backends.opencl.runtime import LOCK

BOOL = T.BOOL
_CASTS = frozenset({"_to_dtype", "clone"})
_UNARY = frozenset(E.UNARY)
_BINARY = frozenset(E.BINARY)
_SCALARS = (bool, int, float)
# the helpers' names (and CT, MINUS_ONE) get a suffix per compute dtype, so steps of several
# dtypes can share one program
_HELPER_NAMES = re.compile(r"\b(CT|MINUS_ONE|" + "|".join(
    sorted(set(re.findall(r"inline CT (\w+)\(", E.INT_HELPERS + E.FLOAT_HELPERS)))) + r")\b")
_PLANS = Memo(1024, invalidate=False)    # group key -> _Plan, or None where declined
_acquire, _release = LOCK.acquire, LOCK.release
_new = object.__new__


class Decline(Exception):
    """A step the fused kernel cannot express: the group runs unfused."""


def fuse(dev, group, kernels):
    """The callable running ``group`` as one kernel on ``dev`` (a DeviceState), or None.

    ``kernels`` is the backend's kernel table: a call whose strides cannot be collapsed to
    ``MAX_DIMS`` dims runs the steps through it one by one instead."""
    key = group.key()
    with LOCK:
        plan = _PLANS.get(key, False)
        if plan is False:
            try:
                plan = _Plan(group)
            except Decline:
                plan = None
            _PLANS[key] = plan
        if plan is None or (plan.has_fp64 and not dev.fp64):
            return None
        if plan.strided and plan.geo_bytes + plan.arg_bytes > dev.device.max_parameter_size:
            return None
        return fastlaunch.fused(FusedKernel(dev, group, plan, kernels))   # (in C where it can)


class _Step:
    """One step as C: operands (source, dtype) with their compute targets, expression, out dtype."""
    __slots__ = ("operands", "targets", "expr", "out", "helper")

    def __init__(self, operands, targets, expr, out, helper=None):
        self.operands, self.targets, self.expr, self.out, self.helper = operands, targets, expr, out, helper

    def key(self):
        return (tuple((src, None if dt is None else dt.name) for src, dt in self.operands),
                tuple(t.name for t in self.targets), self.expr, self.out.name)


class _Plan:
    """What the kernels of a group compute, independent of strides and scalar values."""

    def __init__(self, group):
        self.shape = tuple(group.shape)
        self.n = _numel(self.shape)
        self.in_dts = [_np(i.dtype) for i in group.inputs]
        # kinds: "full" (every element, or the group has at most one), "one" (a single element
        # read by every work-item), "bcast" (broadcast along some dims: strided kernel only)
        self.kinds = []
        for i in group.inputs:
            m = _numel(i.shape)
            self.kinds.append("full" if m == self.n else "one" if m == 1 else "bcast")
        self.scalars = []         # (value as the kernel argument, the compute dtype it is for)
        self.steps = []
        if any(d.kind == "c" for d in self.in_dts) or any(
                st.dtype is not None and st.dtype.is_complex for st in group.steps):
            raise Decline("complex dtypes run unfused (their kernels are in kernels/complex.py)")
        for st in group.steps:
            s = self._step(st)
            if st.dtype is None or _np(st.dtype) != s.out:
                raise Decline(f"{st.op}: the step's dtype {st.dtype} is not its kernel's {s.out}")
            self.steps.append(s)
        for j in group.outputs:
            if not 0 <= j < len(self.steps) or tuple(group.steps[j].shape) != self.shape:
                raise Decline(f"output step {j} does not have the group's shape {self.shape}")
        self.outputs = tuple(group.outputs)
        dts = self.in_dts + [s.out for s in self.steps] + [t for s in self.steps for t in s.targets]
        self.has_fp64 = any(d == np.float64 for d in dts)
        self.strided = [k for k, kind in enumerate(self.kinds) if kind != "one"]
        self.bcast = "bcast" in self.kinds
        self.geo_len = 2 + P.MAX_DIMS * (1 + len(self.strided))
        self.geo_bytes = 8 * self.geo_len
        self.arg_bytes = 8 * (len(self.outputs) + 1 + 2 * len(self.in_dts) + len(self.scalars))
        self.key = ("fused", tuple(d.name for d in self.in_dts), tuple(self.kinds),
                    tuple(s.key() for s in self.steps), self.outputs)

    # --- steps: each op family as its eager kernel treats its arguments ----------------------
    def _step(self, st):
        op, a = st.op, st.kargs
        try:
            if op in _CASTS:
                return self._cast(op, a)
            if op == "pow" and a[1].__class__ is float and a[1] in (0.5, -0.5) and a[2].is_floating_point:
                op, a = ("sqrt" if a[1] > 0 else "rsqrt"), (a[0], a[2])   # as _pow_with_roots
            if op in _UNARY:
                return self._unary(op, *a)
            if op in _BINARY:
                return self._binary(op, *a)
            if op == "where":
                return self._where(*a)
        except (TypeError, AttributeError, IndexError) as e:   # kargs of another form
            raise Decline(f"{op}: {e}") from None
        raise Decline(f"{op} is not an elementwise op of the opencl backend")

    def _operand(self, x, target, rounded=True):
        if x.__class__ is Ref:
            if x.kind == IN:
                return ("in", x.index), self.in_dts[x.index]
            if x.kind == STEP and x.index < len(self.steps):
                return ("step", x.index), self.steps[x.index].out
            raise Decline(f"bad reference {x}")
        if x.__class__ in _SCALARS:
            self.scalars.append((T.scalar(target, x, rounded), target))
            return ("scalar", len(self.scalars) - 1), None
        raise Decline(f"operand {x!r}")

    def _unary(self, name, x, dtype):
        if x.__class__ is not Ref:
            raise Decline(f"{name} of a scalar")
        od = dtype.numpy
        src = self._operand(x, None)
        target = od if od != BOOL or name in ("bitwise_not", "sign") else src[1]   # as make_unary
        if name in ("logical_not", "isnan", "isinf", "isfinite"):
            target = src[1]
        return _Step([src], (target,), _expr("unary", name, target), od)

    def _binary(self, name, a, b, dtype):
        d = dtype.numpy
        if d.kind in "iu" and name in E._ZERO_CHECK and (b.__class__ not in _SCALARS or b == 0):
            raise Decline(f"integer {name} needs its divisor checked for zeros")
        rounded = name not in E.OPMATH_SCALAR
        ops = [self._operand(a, d, rounded), self._operand(b, d, rounded)]
        return _Step(ops, (d, d), _expr("binary", name, d), BOOL if name in E.COMPARE else d, d)

    def _where(self, c, a, b, dtype):
        d = dtype.numpy
        if c.__class__ is not Ref:
            c = bool(c)                 # where() fills a bool array with it
        ops = [self._operand(c, BOOL), self._operand(a, d), self._operand(b, d)]
        return _Step(ops, (BOOL, d, d), _expr("where", "where", d), d)

    def _cast(self, op, a):
        if a[0].__class__ is not Ref:
            raise Decline(f"{op} of a scalar")
        src = self._operand(a[0], None)
        d = a[1].numpy if op == "_to_dtype" else src[1]
        return _Step([src], (d,), "x0", d)

    # --- source --------------------------------------------------------------------------
    def kernels_source(self, name):
        """The kernels ``<name>_c0``, ``<name>_c`` and ``<name>_s`` (those the plan needs); the
        helpers and the ``FGeo<n>`` type they use are ``program_source``'s."""
        out = []
        outs = ", ".join(f"__global {T.storage(self.steps[j].out)}* out{r}"
                         for r, j in enumerate(self.outputs))
        scal = "".join(f", const {T.compute(tg)} s{m}" for m, (_, tg) in enumerate(self.scalars))
        body = self._body()
        stores = " ".join(f"out{r}[i] = v{j};" for r, j in enumerate(self.outputs))
        for variant in ("c0", "c", "s"):
            params, loads = [], []
            for k, (dt, kind) in enumerate(zip(self.in_dts, self.kinds)):
                st = T.storage(dt)
                if variant == "c0":
                    params.append(f"__global const {st}* p{k}")
                    idx = "0" if kind == "one" else "i"
                else:
                    params.append(f"__global const {st}* p{k}, const long o{k}")
                    idx = f"o{k}" if kind == "one" else (f"o{k} + i" if variant == "c" else f"o{k} + off{k}")
                loads.append(f"const {st} in{k} = p{k}[{idx}];")
            if variant == "s":
                if not self.strided:
                    continue
            elif self.bcast:
                continue
            ps = "".join(", " + p for p in params) + scal + (
                f", const FGeo{len(self.strided)} g" if variant == "s" else "")
            offs = self._offsets() if variant == "s" else ""
            out.append(f"""
__kernel void {name}_{variant}({outs}, const long n{ps}) {{
    const long i = get_global_id(0);{offs}
    {" ".join(loads)}
{body}
    {stores}
}}""")
        return "\n".join(out)

    def _offsets(self):
        """C computing ``off<k>`` (elements) of every strided input at linear index i."""
        decl = " ".join(f"long off{k} = 0;" for k in self.strided)
        one = " ".join(f"off{k} = i * g.st[{r}][0];" for r, k in enumerate(self.strided))
        acc = " ".join(f"off{k} += c * g.st[{r}][d];" for r, k in enumerate(self.strided))
        # 32-bit division is far cheaper than 64-bit on CPUs (as geo_off)
        return f"""
    {decl}
    const int nd = (int)g.nd;
    if (nd == 1) {{ {one} }}
    else if (n <= 0x7fffffffL) {{
        uint r = (uint)i;
        for (int d = nd - 1; d >= 0; --d) {{
            const uint s = (uint)g.shape[d]; const long c = r % s; r /= s; {acc} }}
    }} else {{
        long r = i;
        for (int d = nd - 1; d >= 0; --d) {{
            const long s = g.shape[d]; const long c = r % s; r /= s; {acc} }}
    }}"""

    def _body(self):
        lines = []
        for j, s in enumerate(self.steps):
            decls = []
            for x, (((kind, idx), dt), tg) in enumerate(zip(s.operands, s.targets)):
                ct = T.compute(tg)
                if kind == "scalar":
                    v = f"s{idx}"
                else:
                    v = P._operand_expr(x, dt, tg, f"{'in' if kind == 'in' else 'v'}{idx}")
                decls.append(f"const {ct} x{x} = {v};")
            expr = s.expr if s.helper is None else _suffixed(s.expr, s.helper.name)
            lines.append(f"    {T.storage(s.out)} v{j};\n"
                         f"    {{ {' '.join(decls)} v{j} = {T.store(s.out, expr)}; }}")
        return "\n".join(lines)


def program_source(plans):
    """One program holding the kernels of every plan in ``plans`` (plan j's named ``fused<j>_*``),
    each compute dtype's helpers and each ``FGeo<n>`` type once."""
    out = ["#pragma OPENCL FP_CONTRACT OFF"]
    helpers, geos = {}, set()
    for plan in plans:
        for s in plan.steps:
            if s.helper is not None:
                helpers.setdefault(s.helper.name, s.helper)
        if plan.strided:
            geos.add(len(plan.strided))
    out += [_suffixed(E.helpers(h), name) for name, h in helpers.items()]
    # (padded to 16 bytes: PoCL rounds a struct argument's size up to that)
    out += [f"typedef struct {{ long nd; long pad; long shape[{P.MAX_DIMS}]; long st[{m}][{P.MAX_DIMS}]; }} FGeo{m};"
            for m in sorted(geos)]
    out += [plan.kernels_source(f"fused{j}") for j, plan in enumerate(plans)]
    return "\n".join(out)


def _expr(family, name, ct):
    e = E.family_exprs(family, ct).get(name)
    if e is None:
        raise Decline(f"{name} has no kernel for {ct}")
    return e


def _suffixed(text, tag):
    return _HELPER_NAMES.sub(lambda m: f"{m.group(1)}_{tag}", text)


def _np(dtype):
    return dtype.numpy if hasattr(dtype, "numpy") else np.dtype(dtype)


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


class FusedKernel:
    """``fn(*inputs)``: the group's outputs as fresh contiguous CLArrays, from one launch."""

    def __init__(self, dev, group, plan, kernels):
        self.dev, self.group, self.plan, self.kernels = dev, group, plan, kernels
        self.shape, self.n = plan.shape, plan.n
        self.out_dts = [plan.steps[j].out for j in plan.outputs]
        self.out_specs = [(od, self.n * od.itemsize or 1) for od in self.out_dts]
        self.strides = contiguous_strides(self.shape)
        self.full = [k for k, kind in enumerate(plan.kinds) if kind == "full"]
        self.geos = Memo(256, invalidate=False)   # the strided inputs' strides -> packed FGeo
        if self.n == 0:
            return
        self.scalar_values = [v for v, _ in plan.scalars]
        # no bounds check in the kernels (on PoCL it halves the bandwidth: the work-group loop
        # no longer vectorises): the whole groups of LOCAL work-items, then the rest at an offset
        # in groups of one. (PoCL compiles a kernel once per work-group size: a rest launched as
        # one group of `rest` items compiled every kernel again for each n % LOCAL it met.)
        bulk, rest = self.n - self.n % P.LOCAL, self.n % P.LOCAL
        self.launches = ([((bulk,), (P.LOCAL,), None)] if bulk else []) + (
            [((rest,), (1,), (bulk,) if bulk else None)] if rest else [])
        self.k0 = self.kc = self.ks = None
        builds = _builds(dev)
        built = builds.built.get(plan.key)
        if built is not None:
            self._bind(*built)
            return
        self.__class__ = _Unbuilt
        builds.waiting.append(weakref.ref(self))
        if not builds_deferred():   # (else built with every kernel waiting, at the first call of one)
            build_waiting(dev, self)

    def _bind(self, prg, name):
        """Take the kernels ``<name>_*`` of the built program ``prg``."""
        cl, plan = self.dev.cl, self.plan
        nout, nin = len(self.out_dts), len(plan.in_dts)
        scal_types = [T.scalar_numpy(tg) for _, tg in plan.scalars]
        if not plan.bcast:
            # every call sets only the buffers of k0: n and the scalars are set here, once
            self.k0 = cl.Kernel(prg, f"{name}_c0")
            self.k0.set_scalar_arg_dtypes([None] * nout + [np.int64] + [None] * nin + scal_types)
            self.k0.set_arg(nout, np.int64(self.n))
            for m, v in enumerate(self.scalar_values):
                self.k0.set_arg(nout + 1 + nin + m, v)
            self.kc = cl.Kernel(prg, f"{name}_c")
            self.kc.set_scalar_arg_dtypes([None] * nout + [np.int64] + [None, np.int64] * nin + scal_types)
        if plan.strided:
            self.geo_dtype = np.dtype([("v", np.int64, (plan.geo_len,))])
            self.ks = cl.Kernel(prg, f"{name}_s")
            self.ks.set_scalar_arg_dtypes([None] * nout + [np.int64] + [None, np.int64] * nin
                                          + scal_types + [self.geo_dtype])

    def __call__(self, *xs):
        return self._run(xs, None)

    def into(self, dsts, *xs):
        """``fn(*xs)`` with output ``j`` written into ``dsts[j]`` where that is not None (a graph's
        copy back into a parameter, absorbed: jit/passes.py ``absorb_copies``): in place when it is
        a contiguous array of the output's shape and dtype at offset 0, else by a copy after the
        launch. Each element is read before it is written (the inputs, ``dsts[j]`` among them,
        are read at the element the work-item writes), so an input may be a destination."""
        outs = self._run(xs, dsts)
        for d, o in zip(dsts, outs):
            if d is not None and o is not d:
                self.kernels["copy_"](d, o)
        return outs

    def _run(self, xs, dsts):
        _acquire()   # set the arguments and enqueue, one thread at a time (runtime.LOCK)
        try:
            dev = self.dev
            pool = dev.pool
            outs = []
            for j, (od, nbytes) in enumerate(self.out_specs):   # (DeviceState.empty, unrolled: hot)
                if dsts is not None:
                    d = dsts[j]
                    if (d is not None and d.contiguous and not d.offset and d.dtype == od
                            and d.shape == self.shape and _reads_only_itself(d, xs)):
                        outs.append(d)
                        continue
                out = _new(CLArray)
                out.dev = dev
                out.shape = self.shape
                out.strides = self.strides
                out.offset = 0
                out.size = self.n
                out.contiguous = True
                out.dtype = od
                try:
                    out.data = pool.allocate(nbytes)
                except dev.cl.Error:   # out of memory: alloc() empties the cache and retries
                    out.data = dev.alloc(nbytes)
                outs.append(out)
            used = pool.active_bytes - fastlaunch.idle_bytes(pool)
            if used > dev.peak:
                dev.peak = used
            if not self.n:
                return outs
            k = k0 = self.k0
            if k0 is not None:
                for x in xs:
                    if x.offset:
                        k = self.kc
                        break
                for i in self.full:
                    if not xs[i].contiguous:
                        k = None
                        break
            if k is not None and k is k0:
                i = 0
                for o in outs:
                    k.set_arg(i, o.data)
                    i += 1
                for x in xs:
                    i += 1
                    k.set_arg(i, x.data)
            else:
                args = [o.data for o in outs]
                args.append(self.n)
                for x in xs:
                    args.append(x.data)
                    args.append(x.offset)
                args += self.scalar_values
                if k is None:
                    geo = self._geo(xs)
                    if geo is None:
                        return self._unfused(xs)
                    args.append(geo)
                    k = self.ks
                k.set_args(*args)
            enqueue, q = dev.cl.enqueue_nd_range_kernel, dev.queue
            for g, loc, off in self.launches:
                enqueue(q, k, g, loc, off)
            return outs
        finally:
            _release()

    def _geo(self, xs):
        """The packed FGeo of these inputs' strides (None: more than MAX_DIMS dims remain)."""
        strided = self.plan.strided
        key = tuple(xs[k].strides for k in strided)
        g = self.geos.get(key)
        if g is None:
            shape = self.shape
            lists = [contiguous_strides(shape)] + [P.broadcast_strides(xs[k], shape) for k in strided]
            cs, cst = P.collapse(shape, lists)
            nd = len(cs)
            if nd > P.MAX_DIMS:
                return None
            g = np.zeros(self.plan.geo_len, np.int64)
            g[0] = nd
            g[2:2 + nd] = cs
            for r, st in enumerate(cst[1:]):
                base = 2 + P.MAX_DIMS * (1 + r)
                g[base:base + nd] = st
            self.geos[key] = g
        return g

    def _unfused(self, xs):
        """The steps through the backend's kernels one by one (strides of too many dims)."""
        vals = []
        for st in self.group.steps:
            args = [(xs[a.index] if a.kind == IN else vals[a.index]) if a.__class__ is Ref else a
                    for a in st.kargs]
            vals.append(self.kernels[st.op](*args))
        outs, seen = [], set()
        for j in self.plan.outputs:
            v = vals[j]
            outs.append(self.kernels["clone"](v) if j in seen or not v.contiguous else v)
            seen.add(j)
        return outs


def _reads_only_itself(d, xs) -> bool:
    """Whether every input in ``d``'s memory is ``d`` itself (read at the element written), none
    another array over it (a view, another tensor's array on the same buffer)."""
    buf = d.data
    for x in xs:
        if x is not d and x.data is buf:
            return False
    return True


class _Unbuilt(FusedKernel):
    """A FusedKernel whose program is not built yet (made under ``fusion.deferred_builds()``). Its
    first call builds the programs of every kernel waiting on the device at once (PoCL's build
    costs a fixed ~0.4 s plus ~10 ms a group: 40 groups in one program build in 0.7 s, in 40
    programs in 5.6 s); then it is a FusedKernel."""

    # (a bound method taken before the build outlives it: the instance is a FusedKernel by then)
    def __call__(self, *xs):
        _build_now(self)
        return FusedKernel.__call__(self, *xs)

    def into(self, dsts, *xs):
        _build_now(self)
        return FusedKernel.into(self, dsts, *xs)


def _build_now(fk):
    with LOCK:
        if fk.__class__ is _Unbuilt:
            build_waiting(fk.dev, fk)


class _Builds:
    """The fused programs of one device: plan key -> (built program, kernel name prefix), and the
    kernels waiting for theirs (weak references: a dropped graph's groups are not built)."""

    def __init__(self):
        self.built = Memo(4096, invalidate=False)
        self.waiting = []


_BUILDS = weakref.WeakKeyDictionary()    # DeviceState -> _Builds
BATCH = 256                              # groups in one program at most


def _builds(dev):
    b = _BUILDS.get(dev)
    if b is None:
        b = _BUILDS[dev] = _Builds()
    return b


def build_waiting(dev, first=None):
    """Build the programs of the fused kernels waiting on ``dev`` (``first`` among them), up to
    ``BATCH`` groups a program, and bind each kernel to its program."""
    b = _builds(dev)
    refs, b.waiting = b.waiting, []
    kernels = [k for k in (r() for r in refs) if k is not None and k.__class__ is _Unbuilt]
    if first is not None and first not in kernels:
        kernels.insert(0, first)
    by_key = {}
    for k in kernels:
        by_key.setdefault(k.plan.key, []).append(k)
    plans = [ks[0].plan for ks in by_key.values()]
    for start in range(0, len(plans), BATCH):
        chunk = plans[start:start + BATCH]
        try:
            prg = dev.program(("fused",) + tuple(p.key for p in chunk), lambda: program_source(chunk))
        except Exception:
            b.waiting += [weakref.ref(k) for p in plans[start:] for k in by_key[p.key]]
            raise
        for j, p in enumerate(chunk):
            b.built[p.key] = (prg, f"fused{j}")
            for k in by_key[p.key]:
                k._bind(prg, f"fused{j}")
                k.__class__ = FusedKernel
