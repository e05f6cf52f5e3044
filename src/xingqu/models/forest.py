"""A LightGBM model's trees compiled to native code through llvmlite, which ships LLVM: nothing is
compiled by a system compiler and nothing is fetched. For the few hundred rows of one request the
compiled trees score several times faster than ``Booster.predict``, whose per-call and per-row costs
dominate there, and give the same doubles: each node is LightGBM's comparison (its missing-value rules,
inputs within 1e-35 of zero read as zero) and the trees are added in LightGBM's order.

Only what is compiled exactly is compiled: numerical splits, one output per row, no linear trees and an
objective whose prediction is the raw sum (the ranker's LambdaRank). ``CompiledForest.build`` gives
None otherwise, when llvmlite is not installed, or when the compiled trees disagree with LightGBM on
probe rows made from the model's own thresholds; callers then keep LightGBM."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: LightGBM's ``kZeroThreshold`` (1e-35 as a float32): inputs within it of zero are read as zero.
ZERO = float(np.float32(1e-35))

#: Objectives whose prediction is the raw sum of the trees (no link function applied).
RAW_OBJECTIVES = frozenset({"lambdarank", "rank_xendcg"})

#: LLVM's code generation level: 0 compiles a 150-tree model in a fraction of a second at load and
#: already scores several times faster than LightGBM; higher levels take seconds for a further ~1.6×
#: (``SERVING_OPT_LEVEL``: what a server, which compiles once before its first request, asks for).
OPT_LEVEL = 0
SERVING_OPT_LEVEL = 2

#: Rows scored per call of the native code: each tree walks a block that stays in the CPU's cache.
BLOCK_ROWS = 512

_COMPILING = threading.Lock()  # LLVM's compiler state is the process's; one compilation at a time
_ENTRY = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)


def _const(value: float) -> str:
    """A double as LLVM IR writes it exactly (its IEEE bits in hex)."""
    return f"0x{struct.unpack('>Q', struct.pack('>d', float(value)))[0]:016X}"


@dataclass(frozen=True)
class Tree:
    """One tree as LightGBM writes it: internal node ``i`` splits on ``feature[i]`` at
    ``threshold[i]``; a child ``c >= 0`` is an internal node, ``c < 0`` the leaf ``~c``."""

    feature: list[int]
    threshold: list[float]
    decision: list[int]  # LightGBM's decision_type bits: 1 categorical, 2 default left, 4·missing type
    left: list[int]
    right: list[int]
    leaf_value: list[float]
    categorical: bool
    linear: bool


@dataclass(frozen=True)
class TreeModel:
    """What of a LightGBM text model its prediction needs."""

    n_features: int
    objective: str
    outputs: int  # classes × trees per iteration: 1 for a ranker
    average_output: bool
    trees: list[Tree]

    @classmethod
    def parse(cls, text: str) -> TreeModel:
        """Read ``Booster.model_to_string()`` (the trees ``Booster.predict`` uses by default)."""
        head: dict[str, str] = {}
        trees: list[Tree] = []
        fields: dict[str, str] | None = None
        lines = iter(text.splitlines())
        for line in lines:
            if line.startswith("Tree="):
                fields = {}
                trees.append(_tree(fields, lines))
            elif line == "end of trees":
                break
            elif "=" in line:
                key, _, value = line.partition("=")
                head[key] = value
            elif line == "average_output":
                head[line] = "1"
        return cls(
            n_features=int(head["max_feature_idx"]) + 1,
            objective=head.get("objective", "").split(" ")[0],
            outputs=int(head["num_class"]) * int(head["num_tree_per_iteration"]),
            average_output="average_output" in head,
            trees=trees,
        )

    def compilable(self) -> bool:
        """Whether the compiled trees give exactly ``Booster.predict``'s values for this model."""
        return (
            self.outputs == 1
            and not self.average_output
            and self.objective in RAW_OBJECTIVES
            and not any(t.categorical or t.linear for t in self.trees)
        )


def _tree(fields: dict[str, str], lines: Iterator[str]) -> Tree:
    for line in lines:
        if not line:
            break
        key, _, value = line.partition("=")
        fields[key] = value

    def ints(key: str) -> list[int]:
        return [int(v) for v in fields[key].split()] if fields.get(key) else []

    def floats(key: str) -> list[float]:
        return [float(v) for v in fields[key].split()] if fields.get(key) else []

    return Tree(
        feature=ints("split_feature"),
        threshold=floats("threshold"),
        decision=ints("decision_type"),
        left=ints("left_child"),
        right=ints("right_child"),
        leaf_value=floats("leaf_value"),
        categorical=int(fields.get("num_cat", "0")) > 0,
        linear=fields.get("is_linear", "0") != "0",
    )


def _condition(tree: Tree, i: int, value: str, out: list[str]) -> str:
    """IR computing whether a row goes left at node ``i`` (``value``: its feature, as read); appends the
    instructions to ``out`` and names the i1 result. LightGBM: a NaN reads as 0 unless the missing type
    is NaN; a missing value (NaN, or ~0 for the Zero type) goes the default way; else ``value <= t``."""
    t, bits = tree.threshold[i], tree.decision[i]
    left, missing = bool(bits & 2), (bits >> 2) & 3  # missing: 0 none, 1 zero, 2 NaN
    if missing == 1:  # NaN → 0, and 0 is the missing value
        out.append(f"  %a{i} = call double @llvm.fabs.f64(double {value})")
        out.append(f"  %z{i} = fcmp ule double %a{i}, {_const(ZERO)}")
        out.append(f"  %o{i} = fcmp ole double {value}, {_const(t)}")
        out.append(f"  %c{i} = select i1 %z{i}, i1 {'true' if left else 'false'}, i1 %o{i}")
        return f"%c{i}"
    nan_left = left if missing == 2 else t >= 0.0
    out.append(f"  %o{i} = fcmp {'ule' if nan_left else 'ole'} double {value}, {_const(t)}")
    if not -ZERO <= t < ZERO:  # then an input within ZERO of 0 compares with t as 0 does
        return f"%o{i}"
    out.append(f"  %a{i} = call double @llvm.fabs.f64(double {value})")
    out.append(f"  %z{i} = fcmp ole double %a{i}, {_const(ZERO)}")
    out.append(f"  %c{i} = select i1 %z{i}, i1 {'true' if t >= 0.0 else 'false'}, i1 %o{i}")
    return f"%c{i}"


def _tree_ir(index: int, tree: Tree, n_features: int, ptr: str) -> str:
    """One tree as a function adding its leaf value to ``out[r]`` for each row ``r`` of ``x``."""
    body: list[str] = []
    stack = [0 if tree.feature else -1]  # a tree of one leaf has no split
    while stack:
        c = stack.pop()
        if c < 0:
            body += [f"l{~c}:", "  br label %add"]
            continue
        f = tree.feature[c]
        if not 0 <= f < n_features:
            raise ValueError("a split on a feature past the model's width")
        body += [
            f"n{c}:",
            f"  %p{c} = getelementptr double, {ptr} %xr, i64 {f}",
            f"  %v{c} = load double, {ptr} %p{c}",
        ]
        cond = _condition(tree, c, f"%v{c}", body)
        yes, no = tree.left[c], tree.right[c]
        body.append(f"  br i1 {cond}, label %{_label(yes)}, label %{_label(no)}")
        stack += [no, yes]
    phi = ", ".join(f"[{_const(v)}, %l{k}]" for k, v in enumerate(tree.leaf_value))
    return "\n".join(
        [
            f"define internal void @tree{index}({ptr} %x, {ptr} %out, i64 %rows) {{",
            "entry:",
            "  br label %loop",
            "loop:",
            "  %r = phi i64 [0, %entry], [%next, %add]",
            "  %more = icmp slt i64 %r, %rows",
            "  br i1 %more, label %row, label %done",
            "row:",
            f"  %base = mul i64 %r, {n_features}",
            f"  %xr = getelementptr double, {ptr} %x, i64 %base",
            f"  br label %{_label(0 if tree.feature else -1)}",
            *body,
            "add:",
            f"  %leaf = phi double {phi}",
            f"  %slot = getelementptr double, {ptr} %out, i64 %r",
            f"  %sum0 = load double, {ptr} %slot",
            "  %sum = fadd double %sum0, %leaf",
            f"  store double %sum, {ptr} %slot",
            "  %next = add i64 %r, 1",
            "  br label %loop",
            "done:",
            "  ret void",
            "}",
        ]
    )


def _label(child: int) -> str:
    return f"n{child}" if child >= 0 else f"l{~child}"


def forest_ir(model: TreeModel, ptr: str = "ptr") -> str:
    """LLVM IR of ``forest(x, out, rows)``: adds every tree's value, tree after tree as LightGBM does, to
    ``out`` (zeroed by the caller) for each row of the row-major float64 matrix ``x``; ``ptr`` is the
    IR's pointer type (``double*`` before LLVM's opaque pointers)."""
    trees = [_tree_ir(i, t, model.n_features, ptr) for i, t in enumerate(model.trees)]
    calls = [f"  call void @tree{i}({ptr} %x, {ptr} %out, i64 %rows)" for i in range(len(trees))]
    return "\n".join(
        [
            "declare double @llvm.fabs.f64(double)",
            *trees,
            f"define void @forest({ptr} %x, {ptr} %out, i64 %rows) {{",
            "entry:",
            *calls,
            "  ret void",
            "}",
            "",
        ]
    )


def probe_rows(model: TreeModel, n: int = 256, seed: int = 0) -> np.ndarray:
    """Rows that walk the model's hard cases: each feature at, just beside and far from the thresholds
    it is split on, at 0, within 1e-35 of 0, and NaN."""
    cuts: list[set[float]] = [set() for _ in range(model.n_features)]
    for tree in model.trees:
        for f, t in zip(tree.feature, tree.threshold, strict=True):
            cuts[f].update((t, float(np.nextafter(t, np.inf)), float(np.nextafter(t, -np.inf))))
    rng = np.random.default_rng(seed)
    x = np.empty((n, model.n_features), np.float64)
    for f in range(model.n_features):
        values = np.array([*sorted(cuts[f]), 0.0, -0.0, ZERO, -ZERO, ZERO / 2, -ZERO / 2, np.nan, -1e9, 1e9])
        x[:, f] = rng.choice(values, size=n)
    return x


class CompiledForest:
    """A model's trees as native code; ``predict`` gives ``Booster.predict``'s doubles. Safe to call from
    several threads at once (the code only reads its input and writes its own output)."""

    def __init__(self, engine: Any, n_features: int) -> None:
        self._engine = engine  # owns the machine code: kept alive as long as the entry point
        self._entry = _ENTRY(engine.get_function_address("forest"))
        self.n_features = n_features

    @classmethod
    def build(cls, booster: Any, opt: int = OPT_LEVEL) -> CompiledForest | None:
        """The compiled trees of a LightGBM ``Booster``, checked against it on ``probe_rows``; None when
        llvmlite is missing, the model is not one this module compiles, or the check fails."""
        try:
            import llvmlite.binding as llvm
        except ImportError:
            return None
        model = TreeModel.parse(booster.model_to_string())
        if not model.compilable():
            return None
        try:
            with _COMPILING:
                engine = _compile(llvm, model, opt)
        except (RuntimeError, ValueError, IndexError) as exc:
            log.warning("ranker trees not compiled (%s); scoring with LightGBM", exc)
            return None
        forest = cls(engine, model.n_features)
        probe = probe_rows(model)
        if not np.array_equal(forest.predict(probe), booster.predict(probe, num_threads=1)):
            log.warning("compiled ranker trees disagree with LightGBM; scoring with LightGBM")
            return None
        return forest

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The raw score of each row of ``x`` (rows × ``n_features``), as float64."""
        if x.dtype != np.float32 and x.dtype != np.float64:
            x = x.astype(np.float32)  # as LightGBM reads any other dtype
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got shape {x.shape}")
        out = np.zeros(len(x), np.float64)
        row_bytes = x.strides[0]
        for lo in range(0, len(x), BLOCK_ROWS):
            rows = min(BLOCK_ROWS, len(x) - lo)
            self._entry(x.ctypes.data + lo * row_bytes, out.ctypes.data + lo * 8, rows)
        return out


def _compile(llvm: Any, model: TreeModel, opt: int = OPT_LEVEL) -> Any:
    """An MCJIT engine holding the model's compiled ``forest`` function, for this machine's CPU."""
    with contextlib.suppress(RuntimeError):  # needed by older llvmlite; newer ones refuse the call
        llvm.initialize()
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # LLVM cannot tell on this CPU: its baseline
        features = ""
    target = llvm.Target.from_default_triple()
    machine = target.create_target_machine(cpu=llvm.get_host_cpu_name(), features=features, opt=opt)
    ptr = "ptr" if llvm.llvm_version_info[0] >= 16 else "double*"
    module = llvm.parse_assembly(forest_ir(model, ptr))
    module.verify()
    engine = llvm.create_mcjit_compiler(module, machine)
    engine.finalize_object()
    return engine
