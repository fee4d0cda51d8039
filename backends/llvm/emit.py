"""Helpers over llvmlite.ir for writing kernels: types, folded index arithmetic, loops,
conditionals, thread ranges (libgomp) and math functions.

Index arithmetic works on "ints or IR values": Python ints stay Python ints (shapes are
static), so generated index code only contains the parts that really vary.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Union

from llvmlite import ir

F32 = ir.FloatType()
F64 = ir.DoubleType()
I1 = ir.IntType(1)
I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
PTR = ir.PointerType()
VOID = ir.VoidType()

Index = Union[int, ir.Value]

# numpy dtype name -> LLVM element type (bool is one byte, like numpy)
DTYPES = {"float32": F32, "int64": I64, "int32": I32, "bool": I8}
ITEMSIZE = {"float32": 4, "int64": 8, "int32": 4, "bool": 1}


def llvm_type(dtype: str) -> ir.Type:
    return DTYPES[dtype]


def is_float(t: ir.Type) -> bool:
    return isinstance(t, (ir.FloatType, ir.DoubleType))


FAST = ("contract",)               # elementwise: allow fmul+fadd -> fma
REASSOC = ("reassoc", "contract")  # reductions: allow vectorized (reordered) sums


class Emitter:
    """An IRBuilder positioned in a function, with folding index helpers and loop helpers."""

    def __init__(self, fn: ir.Function):
        self.fn = fn
        self.module = fn.module
        self._alloca_block = fn.append_basic_block("allocas")
        body = fn.append_basic_block("body")
        self.b = ir.IRBuilder(body)
        self._n = 0

    def finish(self) -> None:
        """Close the function: return, and jump from the alloca block into the body."""
        self.b.ret_void()
        ir.IRBuilder(self._alloca_block).branch(self.fn.blocks[1])

    def name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}{self._n}"

    # -- constants and folded integer arithmetic ----------------------------------------
    @staticmethod
    def i64(v: Index) -> ir.Value:
        return v if isinstance(v, ir.Value) else ir.Constant(I64, int(v))

    @staticmethod
    def const(t: ir.Type, v) -> ir.Constant:
        if is_float(t):
            return ir.Constant(t, float(v))
        return ir.Constant(t, int(v))

    def add(self, a: Index, c: Index) -> Index:
        if isinstance(a, int) and isinstance(c, int):
            return a + c
        if isinstance(c, int) and c == 0:
            return a
        if isinstance(a, int) and a == 0:
            return c
        return self.b.add(self.i64(a), self.i64(c))

    def sub(self, a: Index, c: Index) -> Index:
        if isinstance(a, int) and isinstance(c, int):
            return a - c
        if isinstance(c, int) and c == 0:
            return a
        return self.b.sub(self.i64(a), self.i64(c))

    def mul(self, a: Index, c: Index) -> Index:
        if isinstance(a, int) and isinstance(c, int):
            return a * c
        if isinstance(c, int):
            if c == 0:
                return 0
            if c == 1:
                return a
        if isinstance(a, int):
            if a == 0:
                return 0
            if a == 1:
                return c
        return self.b.mul(self.i64(a), self.i64(c))

    def div(self, a: Index, c: int) -> Index:
        """Floor division of a non-negative index by a positive constant."""
        if isinstance(a, int):
            return a // c
        return a if c == 1 else self.b.udiv(a, self.i64(c))

    def rem(self, a: Index, c: int) -> Index:
        if isinstance(a, int):
            return a % c
        return 0 if c == 1 else self.b.urem(a, self.i64(c))

    def sdiv_floor(self, a: Index, c: int) -> Index:
        """Floor division of a possibly negative index by a positive constant."""
        if isinstance(a, int):
            return a // c
        if c == 1:
            return a
        q = self.b.sdiv(a, self.i64(c))
        r = self.b.srem(a, self.i64(c))
        neg = self.b.icmp_signed("<", r, self.i64(0))
        return self.b.select(neg, self.b.sub(q, self.i64(1)), q)

    def smin(self, a: Index, c: Index) -> Index:
        if isinstance(a, int) and isinstance(c, int):
            return min(a, c)
        a, c = self.i64(a), self.i64(c)
        return self.b.select(self.b.icmp_signed("<", a, c), a, c)

    def smax(self, a: Index, c: Index) -> Index:
        if isinstance(a, int) and isinstance(c, int):
            return max(a, c)
        a, c = self.i64(a), self.i64(c)
        return self.b.select(self.b.icmp_signed(">", a, c), a, c)

    def lin(self, terms, base: Index = 0) -> Index:
        """base + sum(index * stride) over (index, stride) pairs."""
        acc = base
        for idx, stride in terms:
            acc = self.add(acc, self.mul(idx, stride))
        return acc

    def unravel(self, flat: Index, dims) -> list[Index]:
        """Multi-index (row-major) of a flat index over ``dims``."""
        out: list[Index] = []
        rest = flat
        for k in range(len(dims) - 1, -1, -1):
            if k == 0:
                out.append(rest)
            else:
                out.append(self.rem(rest, dims[k]))
                rest = self.div(rest, dims[k])
        return out[::-1]

    # -- memory --------------------------------------------------------------------------
    def gep(self, ptr: ir.Value, idx: Index, t: ir.Type) -> ir.Value:
        if isinstance(idx, int) and idx == 0:
            return ptr
        return self.b.gep(ptr, [self.i64(idx)], source_etype=t, inbounds=True)

    def load(self, ptr: ir.Value, idx: Index, t: ir.Type) -> ir.Value:
        return self.b.load(self.gep(ptr, idx, t), typ=t)

    def store(self, val: ir.Value, ptr: ir.Value, idx: Index, t: ir.Type | None = None) -> None:
        self.b.store(val, self.gep(ptr, idx, t or val.type))

    def prefetch(self, ptr: ir.Value, idx: Index, t: ir.Type, locality: int = 2) -> None:
        """A read prefetch of ptr[idx] (locality 2: into L2); never faults."""
        fn = self.module.globals.get("llvm.prefetch.p0")
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(VOID, [PTR, I32, I32, I32]), "llvm.prefetch.p0")
        i32 = ir.IntType(32)
        self.b.call(fn, [self.gep(ptr, idx, t), ir.Constant(i32, 0), ir.Constant(i32, locality), ir.Constant(i32, 1)])

    def local(self, t: ir.Type, count: int = 1, name: str = "tmp") -> ir.Value:
        """A stack slot in the entry block (so mem2reg/SROA can promote it)."""
        b = ir.IRBuilder(self._alloca_block)
        return b.alloca(t, size=count if count > 1 else None, name=name)

    # -- control flow --------------------------------------------------------------------
    @contextmanager
    def loop(self, start: Index, stop: Index, step: int = 1, name: str = "i"):
        """for (i = start; i < stop; i += step): the body runs inside the ``with``."""
        if isinstance(start, int) and isinstance(stop, int):
            if stop <= start:  # empty: emit the body into a dead block so it stays valid
                dead = self.fn.append_basic_block(self.name(name + ".dead"))
                after = self.fn.append_basic_block(self.name(name + ".after"))
                self.b.branch(after)
                self.b.position_at_end(dead)
                yield self.i64(start)
                self.b.branch(after)
                self.b.position_at_end(after)
                return
            if stop - start <= step:
                yield start
                return
        b = self.b
        pre = b.block
        hdr = self.fn.append_basic_block(self.name(name + ".hdr"))
        body = self.fn.append_basic_block(self.name(name + ".body"))
        ext = self.fn.append_basic_block(self.name(name + ".end"))
        b.branch(hdr)
        b.position_at_end(hdr)
        i = b.phi(I64, name)
        i.add_incoming(self.i64(start), pre)
        b.cbranch(b.icmp_signed("<", i, self.i64(stop)), body, ext)
        b.position_at_end(body)
        yield i
        nxt = b.add(i, self.i64(step), flags=["nsw"])
        i.add_incoming(nxt, b.block)
        b.branch(hdr)
        b.position_at_end(ext)

    @contextmanager
    def if_(self, cond):
        """Body runs only when ``cond`` (an i1, or a Python bool) holds."""
        if isinstance(cond, bool):
            if cond:
                yield
            else:
                dead = self.fn.append_basic_block(self.name("dead"))
                after = self.fn.append_basic_block(self.name("after"))
                self.b.branch(after)
                self.b.position_at_end(dead)
                yield
                self.b.branch(after)
                self.b.position_at_end(after)
            return
        with self.b.if_then(cond):
            yield

    def in_range(self, idx: Index, lo: int, hi: int):
        """lo <= idx < hi as an i1 (or a Python bool when idx is known)."""
        if isinstance(idx, int):
            return lo <= idx < hi
        return self.b.icmp_unsigned("<", self.b.sub(idx, self.i64(lo)), self.i64(hi - lo))

    # -- threads (libgomp) ---------------------------------------------------------------
    def _omp(self, name: str, ret: ir.Type = I32, args=()) -> ir.Function:
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(ret, list(args)), name)
        return fn

    def thread_range(self, total: Index) -> tuple[Index, Index]:
        """This thread's [start, end) of ``total`` items (static chunks; 0..total outside
        a parallel region, where omp_get_num_threads() is 1)."""
        tid = self.b.zext(self.b.call(self._omp("omp_get_thread_num"), []), I64)
        nt = self.b.zext(self.b.call(self._omp("omp_get_num_threads"), []), I64)
        total_v = self.i64(total)
        chunk = self.b.udiv(self.b.add(total_v, self.b.sub(nt, self.i64(1))), nt)
        start = self.smin(self.b.mul(tid, chunk), total_v)
        end = self.smin(self.b.add(start, chunk), total_v)
        return start, end

    @contextmanager
    def parallel_loop(self, total: Index, parallel: bool, name: str = "t"):
        """A loop over range(total), split across the team's threads when ``parallel``."""
        if parallel:
            start, end = self.thread_range(total)
            with self.loop(start, end, name=name) as t:
                yield t
        else:
            with self.loop(0, total, name=name) as t:
                yield t

    @contextmanager
    def dynamic_loop(self, total: int, counter: ir.Value, name: str = "t"):
        """for t in range(total), the team's threads taking chunks of ~total/(4 threads)
        from an atomic counter (zeroed by the caller): a thread the OS delays holds up
        little work. Outside a team one thread takes every chunk."""
        b = self.b
        nt = b.zext(b.call(self._omp("omp_get_num_threads"), []), I64)
        chunk = b.udiv(self.i64(total), b.mul(nt, self.i64(4)))
        chunk = self.smax(chunk, 1)
        pre = b.block
        grab = self.fn.append_basic_block(self.name(name + ".grab"))
        work = self.fn.append_basic_block(self.name(name + ".work"))
        done = self.fn.append_basic_block(self.name(name + ".done"))
        b.branch(grab)
        b.position_at_end(grab)
        start = b.atomic_rmw("add", counter, chunk, "monotonic")
        b.cbranch(b.icmp_signed("<", start, self.i64(total)), work, done)
        b.position_at_end(work)
        end = self.smin(b.add(start, chunk), total)
        with self.loop(start, end, name=name) as t:
            yield t
        b.branch(grab)
        b.position_at_end(done)
        del pre

    def barrier(self) -> None:
        self.b.call(self._omp("GOMP_barrier", VOID), [])

    # -- math ----------------------------------------------------------------------------
    def intrinsic(self, name: str, args, t: ir.Type = F32) -> ir.Value:
        """Call llvm.<name>.f32 (or .i64 ...) on scalar args."""
        suffix = {F32: "f32", F64: "f64", I64: "i64", I32: "i32", I8: "i8"}[t]
        full = f"llvm.{name}.{suffix}"
        fn = self.module.globals.get(full)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(t, [t] * len(args)), full)
        return self.b.call(fn, list(args))

    def libm(self, name: str, args, t: ir.Type = F32) -> ir.Value:
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(t, [t] * len(args)), name)
            fn.attributes.add("nounwind")
        return self.b.call(fn, list(args))

    def fconst(self, v: float) -> ir.Constant:
        return ir.Constant(F32, float(v))

    def fmax(self, a, c):
        """max propagating NaN, like numpy. (Not maxnum: LLVM 22's vectorizer drops the
        remainder iterations of maxnum reductions, seen on a 5-trip loop.)"""
        return self.intrinsic("maximum", [a, c])

    def fmin(self, a, c):
        return self.intrinsic("minimum", [a, c])

    def exp(self, x):
        """e**x for float32 in plain IR (Cephes expf: range reduction by ln 2, degree-5
        polynomial, 2**n through the exponent bits), so loops calling it vectorize; libm's
        expf would stay a scalar call. Inputs are clamped to [-87.3, 88.7]."""
        b = self.b
        c = self.fconst
        x0 = x
        x = self.intrinsic("minnum", [self.intrinsic("maxnum", [x, c(-87.33654)]), c(88.72283)])
        fx = self.intrinsic("floor", [b.fadd(b.fmul(x, c(1.44269504088896341)), c(0.5))])
        r = b.fsub(b.fsub(x, b.fmul(fx, c(0.693359375))), b.fmul(fx, c(-2.12194440e-4)))
        z = b.fmul(r, r)
        y = c(1.9875691500e-4)
        for coef in (1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1):
            y = b.fadd(b.fmul(y, r), c(coef))
        y = b.fadd(b.fadd(b.fmul(y, z), r), c(1.0))
        n = b.fptosi(fx, I32)
        half = b.ashr(n, ir.Constant(I32, 1))  # 2**n as 2**half * 2**(n-half): n may be 128

        def pow2(e):
            return b.bitcast(b.shl(b.add(e, ir.Constant(I32, 127)), ir.Constant(I32, 23)), F32)
        y = b.fmul(b.fmul(y, pow2(half)), pow2(b.sub(n, half)))
        y = b.select(b.fcmp_ordered(">", x0, c(88.72283)), c(float("inf")), y)   # overflow, like expf
        return b.select(b.fcmp_unordered("uno", x0, x0), x0, y)                      # NaN stays NaN

    def tanh(self, x):
        """tanh in plain IR (vectorizable): Cephes' odd polynomial for |x| < 0.625, else
        sign(x) * (1 - 2 / (exp(2|x|) + 1))."""
        b = self.b
        c = self.fconst
        ax = self.intrinsic("fabs", [x])
        z = b.fmul(x, x)
        p = c(-5.70498872745e-3)
        for coef in (2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1):
            p = b.fadd(b.fmul(p, z), c(coef))
        small = b.fadd(b.fmul(b.fmul(p, z), x), x)
        big = b.fsub(c(1.0), b.fdiv(c(2.0), b.fadd(self.exp(b.fmul(ax, c(2.0))), c(1.0))))
        big = self.intrinsic("copysign", [big, x])
        return b.select(b.fcmp_ordered("<", ax, c(0.625)), small, big)

    # Eigen's float erf: x * P(x^2) / Q(x^2) on [-4, 4] (beyond it erf is +-1 in float32)
    _ERF_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
              -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02)
    _ERF_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
              -1.42647390514189e-02)

    def erf(self, x):
        """erf for float32 in plain IR, so loops calling it vectorize (libm's erff stays a
        scalar call: GELU's Erf took a third of ConvNeXt-T). A rational function of x^2;
        |error| <= 4.5e-7 against float64 erf over [-6, 6] and tiny magnitudes. NaN stays NaN."""
        b = self.b
        c = self.fconst
        xc = self.intrinsic("minnum", [self.intrinsic("maxnum", [x, c(-4.0)]), c(4.0)])
        x2 = b.fmul(xc, xc)

        def poly(coeffs):
            acc = c(coeffs[0])
            for coef in coeffs[1:]:
                acc = b.fadd(b.fmul(acc, x2, flags=FAST), c(coef), flags=FAST)
            return acc
        y = b.fdiv(b.fmul(xc, poly(self._ERF_P)), poly(self._ERF_Q))
        return b.select(b.fcmp_unordered("uno", x, x), x, y)

    def log(self, x):
        return self.intrinsic("log", [x])

    def log_normal(self, x):
        """ln(x) for positive normal float32 x in plain IR (Cephes logf: mantissa in
        [sqrt(1/2), sqrt(2)) from the bits, degree-8 polynomial), so loops calling it
        vectorize. inf and NaN pass through; zero, subnormal and negative inputs give garbage,
        so callers must know x >= FLT_MIN (LRN's positive bias + a sum of squares)."""
        b = self.b
        c = self.fconst
        bits = b.bitcast(x, I32)
        e = b.sitofp(b.sub(b.and_(b.lshr(bits, ir.Constant(I32, 23)), ir.Constant(I32, 0xFF)),
                           ir.Constant(I32, 126)), F32)
        m = b.bitcast(b.or_(b.and_(bits, ir.Constant(I32, 0x807FFFFF)), ir.Constant(I32, 0x3F000000)), F32)
        small = b.fcmp_ordered("<", m, c(0.707106781186547524))
        e = b.select(small, b.fsub(e, c(1.0)), e)
        m = b.fsub(b.select(small, b.fadd(m, m), m), c(1.0))
        z = b.fmul(m, m)
        y = c(7.0376836292e-2)
        for coef in (-1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
                     -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1):
            y = b.fadd(b.fmul(y, m), c(coef))
        y = b.fmul(b.fmul(y, m), z)
        y = b.fadd(y, b.fmul(e, c(-2.12194440e-4)))
        y = b.fsub(y, b.fmul(z, c(0.5)))
        y = b.fadd(b.fadd(m, y), b.fmul(e, c(0.693359375)))
        y = b.select(b.fcmp_ordered(">", x, c(3.4028234663852886e38)), x, y)   # inf
        return b.select(b.fcmp_unordered("uno", x, x), x, y)                   # NaN

    def cast(self, v: ir.Value, to: ir.Type) -> ir.Value:
        """numpy-style astype between f32, i64, i32 and bool (i8)."""
        src = v.type
        if src == to:
            return v
        b = self.b
        if to == I8 and src != I1:  # to bool: != 0
            z = self.const(src, 0)
            nz = b.fcmp_unordered("!=", v, z) if is_float(src) else b.icmp_signed("!=", v, z)
            return b.zext(nz, I8)
        if src == I1:
            return b.uitofp(v, to) if is_float(to) else b.zext(v, to)
        if is_float(src) and is_float(to):
            return b.fpext(v, to) if to == F64 else b.fptrunc(v, to)
        if is_float(src):
            return b.fptosi(v, to)
        if is_float(to):
            return b.uitofp(v, to) if src == I8 else b.sitofp(v, to)
        if src.width > to.width:
            return b.trunc(v, to)
        return b.zext(v, to) if src == I8 else b.sext(v, to)
