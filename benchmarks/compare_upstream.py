#!/usr/bin/env python3
"""Side-by-side benchmark: SwiftCAM against onnxruntime and upstream pytorch-grad-cam.

Optional, not part of CI.  In one run on one machine, with the same thread count everywhere,
it times

* the forward pass: ``swiftcam bench`` against an onnxruntime ``InferenceSession``;
* CAM methods: ``swiftcam bench --method ...`` against upstream ``pytorch_grad_cam`` running on
  the *same weights*: the fixture's ``model.onnx`` converted to a torch module with onnx2torch,
  the target layer being the onnx2torch submodule that produces the ONNX tensor SwiftCAM hooks.

Every measurement is a separate child process, so each one has its own peak memory (max RSS,
read with ``os.wait4``, the same way for both sides; it includes the model, the runtime and,
upstream, the Python interpreter with torch).  Times are in-process medians after warm-up
runs: the model is loaded and the input prepared before the clock starts.

The result is printed as Markdown on stdout (one table per model); progress goes to stderr::

    python3 benchmarks/compare_upstream.py > results.md
    python3 benchmarks/compare_upstream.py --quick --models resnet18      # smoke test

Missing Python packages (torch CPU, torchvision, grad-cam, onnx2torch and upstream's
dependencies) are installed with pip on first use; see ``ensure_dependencies``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FIXTURES = Path("/work/shared/fixtures")
TORCH_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

#: Benchmark name -> fixture directory (relative to --fixtures).
MODELS = {
    "resnet18": "torch/resnet18",
    "efficientnet_lite0": "real/efficientnet_lite0",
    "deit_tiny": "torch/deit_tiny_patch16_224",
}

#: Marker of the line a child job prints its JSON result on.
RESULT_MARKER = "COMPARE_UPSTREAM_RESULT "


# --------------------------------------------------------------------------------------------
# What is measured
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One table row: a SwiftCAM measurement and its upstream/onnxruntime counterpart."""

    method: Optional[str]  # SwiftCAM method name; None for the forward pass
    upstream: str          # "onnxruntime" or the pytorch_grad_cam class name
    batch: int
    slow: bool = False     # perturbation methods: one image, --slow-repetitions

    @property
    def label(self) -> str:
        return f"{self.method or 'forward'} b{self.batch}"


ROWS = [
    Row(None, "onnxruntime", 1),
    Row(None, "onnxruntime", 8),
    Row("gradcam", "GradCAM", 1),
    Row("gradcam", "GradCAM", 8),
    Row("gradcam++", "GradCAMPlusPlus", 8),
    Row("layercam", "LayerCAM", 8),
    Row("fullgrad", "FullGrad", 8),
    Row("scorecam", "ScoreCAM", 1, slow=True),
    Row("ablationcam", "AblationCAM", 1, slow=True),
]

#: Upstream's internal batch sizes for the perturbation methods (their defaults / the fixtures').
SCORECAM_BATCH_SIZE = 16
ABLATIONCAM_BATCH_SIZE = 32


def selected_rows(quick: bool) -> list[Row]:
    """The rows to run: all of ROWS, or for --quick every fast row at batch 1 (deduplicated)."""
    if not quick:
        return list(ROWS)
    rows: list[Row] = []
    for row in ROWS:
        if row.slow:
            continue
        small = Row(row.method, row.upstream, 1)
        if small not in rows:
            rows.append(small)
    return rows


@dataclass
class Fixture:
    """What the benchmark needs from a fixture directory's manifest.json."""

    name: str
    directory: Path
    target_tensor: str   # ONNX tensor name SwiftCAM hooks (and onnx2torch's module produces)
    reshape: Optional[str]  # "vit" or None
    categories: list[int]

    @property
    def model(self) -> Path:
        return self.directory / "model.onnx"

    @property
    def input(self) -> Path:
        return self.directory / "input.npy"


def load_fixture(name: str, fixtures: Path) -> Fixture:
    """Reads the target layer, the reshape transform and the target categories of a fixture."""
    directory = fixtures / MODELS[name]
    manifest = json.loads((directory / "manifest.json").read_text())
    reshape = str(manifest.get("reshape_transform", "none")).strip().lower()
    if reshape.startswith("vit"):
        reshape_name: Optional[str] = "vit"
    elif reshape.startswith("none") or not reshape:
        reshape_name = None
    else:
        raise ValueError(f"{name}: unsupported reshape_transform {reshape!r}")
    categories = [int(t["category"]) for t in manifest["targets"] if "category" in t]
    return Fixture(name, directory, manifest["target_layer"]["onnx_tensor"], reshape_name, categories)


@dataclass
class Measurement:
    """One side of one row: time per image and peak memory, or why it is missing."""

    ms_per_image: Optional[float] = None
    peak_mib: Optional[float] = None
    error: Optional[str] = None
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Dependencies (installed with pip only when an import fails)
# --------------------------------------------------------------------------------------------

#: Modules pytorch_grad_cam 1.5.x imports (besides torch/torchvision) -> their PyPI packages.
UPSTREAM_DEPENDENCIES = {
    "numpy": "numpy",
    "cv2": "opencv-python-headless",
    "ttach": "ttach",
    "tqdm": "tqdm",
    "matplotlib": "matplotlib",
    "PIL": "Pillow",
    "sklearn": "scikit-learn",
    "scipy": "scipy",
}


def pip(*args: str) -> None:
    """Runs ``python -m pip install ARGS`` with this interpreter (output passed through)."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", *args]
    log("$ " + " ".join(command))
    subprocess.run(command, check=True, stdout=sys.stderr)


def can_import(*modules: str) -> bool:
    """Whether a fresh interpreter imports all MODULES (torchvision via import_torchvision)."""
    code = "import sys; sys.path.insert(0, %r); import compare_upstream as c\n" % str(Path(__file__).parent)
    for module in modules:
        if module in ("torchvision", "pytorch_grad_cam", "onnx2torch"):  # these import torchvision
            code += "c.import_torchvision()\n"
        code += f"import {module}\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return result.returncode == 0


def matching_torchvision_version() -> str:
    """The torchvision release built for the installed torch, as pip's resolver picks it."""
    torch_version = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.__version__.split('+')[0])"],
        capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--report",
                        str(report), "torchvision", f"torch=={torch_version}"],
                       check=True, stdout=subprocess.DEVNULL)
        for item in json.loads(report.read_text())["install"]:
            if item["metadata"]["name"].lower() == "torchvision":
                return item["metadata"]["version"]
    # Nothing to install: the torchvision already there is the matching one (but does not import).
    return subprocess.run([sys.executable, "-c", "import importlib.metadata as m; print(m.version('torchvision'))"],
                          capture_output=True, text=True, check=True).stdout.strip()


def ensure_dependencies() -> None:
    """Installs what the upstream side needs, each piece only if importing it fails.

    * torch: the local CPU wheel (TORCH_WHEEL) if present, else the CPU build from
      download.pytorch.org;
    * onnx, onnxruntime;
    * upstream's real dependencies (UPSTREAM_DEPENDENCIES);
    * torchvision (pytorch_grad_cam imports it): the release matching torch, ``--no-deps`` so
      pip does not replace the CPU torch.  PyPI's Linux wheels are CUDA builds whose compiled
      ops do not load against a CPU torch; ``import_torchvision`` works around that;
    * grad-cam and onnx2torch, ``--no-deps`` for the same reason.
    """
    if can_import("torch", "onnx", "onnxruntime", *UPSTREAM_DEPENDENCIES, "torchvision", "pytorch_grad_cam", "onnx2torch"):
        return
    if not can_import("torch"):
        if TORCH_WHEEL.exists():
            pip(str(TORCH_WHEEL))
        else:
            pip("torch", "--index-url", TORCH_CPU_INDEX)
    if not can_import("onnx", "onnxruntime"):
        pip("onnx", "onnxruntime")
    if not can_import(*UPSTREAM_DEPENDENCIES):
        pip(*[package for module, package in UPSTREAM_DEPENDENCIES.items() if not can_import(module)])
    if not can_import("torchvision"):
        pip("--no-deps", "--force-reinstall", f"torchvision=={matching_torchvision_version()}")
    if not can_import("pytorch_grad_cam"):
        pip("--no-deps", "grad-cam")
    if not can_import("onnx2torch"):
        pip("--no-deps", "onnx2torch")
    if not can_import("torch", "torchvision", "pytorch_grad_cam", "onnx2torch", "onnxruntime"):
        raise SystemExit("the upstream side's packages still do not import; see the pip output above")


def import_torchvision():
    """Imports torchvision, tolerating a build whose compiled ops do not match torch.

    PyPI's torchvision wheels for Linux are linked against CUDA torch; with a CPU torch their
    ``_C`` extension does not load and ``torchvision._meta_registrations`` then fails on
    ``register_fake("torchvision::nms")`` ("operator torchvision::nms does not exist").  In
    that case the two operator schemas it needs are declared (without kernels) and the import
    retried.  pytorch_grad_cam only uses torchvision for preprocessing helpers, detection
    targets and SESS, none of which this benchmark runs.
    """
    try:
        import torchvision
        return torchvision
    except RuntimeError as error:
        if "torchvision::" not in str(error):
            raise
    import torch
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    global _TORCHVISION_SCHEMAS  # the Library must outlive this call
    _TORCHVISION_SCHEMAS = torch.library.Library("torchvision", "DEF")
    for op in ("nms", "qnms"):
        _TORCHVISION_SCHEMAS.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import torchvision
    return torchvision


def package_versions() -> dict:
    """Versions of the upstream side's packages, read in a child interpreter."""
    code = ("import sys, json; sys.path.insert(0, %r); import compare_upstream as c; c.import_torchvision()\n"
            "import torch, onnxruntime, importlib.metadata as m\n"
            "print(json.dumps({'python': sys.version.split()[0], 'torch': torch.__version__,"
            " 'torchvision': m.version('torchvision'), 'grad-cam': m.version('grad-cam'),"
            " 'onnx2torch': m.version('onnx2torch'), 'onnxruntime': onnxruntime.__version__}))"
            % str(Path(__file__).parent))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return json.loads(result.stdout) if result.returncode == 0 else {}


# --------------------------------------------------------------------------------------------
# Child processes
# --------------------------------------------------------------------------------------------

def thread_environment(threads: int) -> dict:
    """The environment for every child: the thread count fixed for OpenMP/BLAS, no progress bars."""
    env = dict(os.environ)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[variable] = str(threads)
    env["TQDM_DISABLE"] = "1"  # upstream ScoreCAM/AblationCAM draw tqdm bars
    return env


@dataclass
class ChildResult:
    """Exit code, output and peak resident memory of a finished child process."""

    returncode: int
    stdout: str
    stderr: str
    peak_mib: float
    seconds: float


def run_child(command: list[str], env: dict, timeout: Optional[float]) -> ChildResult:
    """Runs COMMAND and returns its output and its own max RSS (``os.wait4``, ru_maxrss in KiB).

    Output goes to temporary files rather than pipes so the child can be reaped with
    ``os.wait4`` (which returns its resource usage) instead of ``Popen.wait``.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.monotonic()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, text=True)
        deadline = None if timeout is None else start + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.monotonic() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                status = None
                break
            time.sleep(0.05)
        process.returncode = -9 if status is None else os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        stderr = err.read()
        if status is None:
            stderr += f"\n(killed after the {timeout:g} s --job-timeout)"
        return ChildResult(process.returncode, out.read(), stderr, usage.ru_maxrss / 1024, seconds)


def last_lines(text: str, count: int = 3) -> str:
    """The last COUNT non-empty lines of TEXT, joined, for error messages."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "(no output)"


# --------------------------------------------------------------------------------------------
# SwiftCAM side
# --------------------------------------------------------------------------------------------

SGEMM_LINE = re.compile(r"cblas_sgemm:\s*([\d.]+) GFLOP/s \(1024³\),\s*([\d.]+) GFLOP/s")
TIME_LINE = re.compile(r"^(\S+)\s+batch\s+(\d+):\s+([\d.]+) ms/image", re.MULTILINE)


def swiftcam_command(swiftcam: Path, fixture: Fixture, row: Row, threads: int,
                     repetitions: int, warmup: int) -> list[str]:
    """The ``swiftcam bench`` invocation that measures ROW (and nothing bigger)."""
    command = [str(swiftcam), "bench", "--model", str(fixture.model), "--threads", str(threads),
               "--batch", str(row.batch), "--repetitions", str(repetitions), "--warmup", str(warmup)]
    if row.method:
        command += ["--target-layer", fixture.target_tensor, "--method", row.method]
        if fixture.reshape:
            command += ["--reshape", fixture.reshape]
    return command


def measure_swiftcam(swiftcam: Path, fixture: Fixture, row: Row, threads: int, repetitions: int,
                     warmup: int, timeout: Optional[float]) -> Measurement:
    """Runs one ``swiftcam bench`` and parses the row's ms/image and the sgemm GFLOP/s.

    Peak memory is the child's max RSS as the kernel reports it, like the upstream side's,
    rather than the tool's own "peak resident memory" line.
    """
    command = swiftcam_command(swiftcam, fixture, row, threads, repetitions, warmup)
    result = run_child(command, thread_environment(threads), timeout)
    if result.returncode != 0:
        return Measurement(error=f"swiftcam exited {result.returncode}: {last_lines(result.stderr + result.stdout)}")
    wanted = row.method or "forward"
    times = {(name, int(batch)): float(ms) for name, batch, ms in TIME_LINE.findall(result.stdout)}
    if (wanted, row.batch) not in times:
        return Measurement(error=f"no '{wanted} batch {row.batch}' line in swiftcam's output")
    extra = {}
    if match := SGEMM_LINE.search(result.stdout):
        extra["sgemm_gflops"] = max(float(match.group(1)), float(match.group(2)))
    return Measurement(times[(wanted, row.batch)], result.peak_mib, extra=extra)


# --------------------------------------------------------------------------------------------
# Upstream side (runs in a child: ``compare_upstream.py --job JSON``)
# --------------------------------------------------------------------------------------------

def measure_upstream(fixture: Fixture, row: Row, threads: int, repetitions: int, warmup: int,
                     timeout: Optional[float]) -> Measurement:
    """Runs one upstream/onnxruntime job in a child of this script and reads its JSON result."""
    job = {"model": str(fixture.model), "input": str(fixture.input), "target_tensor": fixture.target_tensor,
           "reshape": fixture.reshape, "categories": fixture.categories, "upstream": row.upstream,
           "batch": row.batch, "threads": threads, "repetitions": repetitions, "warmup": warmup}
    command = [sys.executable, str(Path(__file__).resolve()), "--job", json.dumps(job)]
    result = run_child(command, thread_environment(threads), timeout)
    for line in result.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            payload = json.loads(line[len(RESULT_MARKER):])
            if "error" in payload:
                return Measurement(error=payload["error"])
            return Measurement(payload["ms_per_image"], result.peak_mib, extra=payload.get("extra", {}))
    return Measurement(error=f"job exited {result.returncode}: {last_lines(result.stderr)}")


def batch_of(input_path: str, categories: list[int], n: int):
    """N images from the fixture's input.npy (cycled) and their target categories."""
    import numpy as np
    images = np.load(input_path)
    indices = [i % len(images) for i in range(n)]
    return np.ascontiguousarray(images[indices], dtype=np.float32), [categories[i % len(categories)] for i in indices]


def timed_median(body, repetitions: int, warmup: int) -> float:
    """Median wall time in seconds of BODY over REPETITIONS calls, after WARMUP untimed calls."""
    for _ in range(warmup):
        body()
    samples = []
    for _ in range(repetitions):
        start = time.perf_counter()
        body()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def onnxruntime_forward_job(job: dict) -> dict:
    """Times an onnxruntime forward pass (intra-op THREADS, inter-op 1) on the fixture's model."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = job["threads"]
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(job["model"], options, providers=["CPUExecutionProvider"])
    x, _ = batch_of(job["input"], job["categories"], job["batch"])
    feed = {session.get_inputs()[0].name: x}
    seconds = timed_median(lambda: session.run(None, feed), job["repetitions"], job["warmup"])
    return {"ms_per_image": seconds * 1000 / job["batch"]}


class LayerNotFound(Exception):
    """The onnx2torch module producing the target ONNX tensor could not be found."""


def onnx2torch_module_for(model, tensor: str):
    """The submodule of an onnx2torch GraphModule whose (single) output is the ONNX TENSOR.

    onnx2torch names each submodule after its ONNX node ('/layer4/layer4.1/relu_1/Relu' becomes
    'layer4/layer4/1/relu_1/Relu') and, with ``attach_onnx_mapping=True``, records the node's
    output tensor names on the module, which is what is matched here.
    """
    for name, module in model.named_modules():
        mapping = getattr(module, "onnx_mapping", None)
        if mapping is not None and tensor in tuple(mapping.outputs):
            if len(tuple(mapping.outputs)) != 1:
                raise LayerNotFound(f"module {name!r} producing {tensor!r} has several outputs; cannot hook it")
            return name, module
    raise LayerNotFound(f"no onnx2torch module produces the ONNX tensor {tensor!r}")


def upstream_cam_job(job: dict) -> dict:
    """Times one upstream pytorch_grad_cam method on the onnx2torch conversion of the model."""
    import torch
    torch.set_num_threads(job["threads"])
    torch.set_num_interop_threads(1)
    import_torchvision()
    import onnx2torch
    import pytorch_grad_cam
    from pytorch_grad_cam.ablation_layer import AblationLayer, AblationLayerVit
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    from pytorch_grad_cam.utils.reshape_transforms import vit_reshape_transform

    try:
        model = onnx2torch.convert(job["model"], attach_onnx_mapping=True).eval()
    except Exception as error:  # noqa: BLE001 - any converter failure skips the row
        raise LayerNotFound(f"onnx2torch cannot convert {job['model']}: {type(error).__name__}: {error}")
    layer_name, layer = onnx2torch_module_for(model, job["target_tensor"])
    reshape = vit_reshape_transform if job["reshape"] == "vit" else None

    name = job["upstream"]
    if name == "FullGrad":  # its layers are every Conv2d/BatchNorm2d with a bias, always NCHW
        cam = pytorch_grad_cam.FullGrad(model, [], reshape_transform=None)
    elif name == "AblationCAM":
        ablation_layer = AblationLayerVit() if job["reshape"] == "vit" else AblationLayer()
        cam = pytorch_grad_cam.AblationCAM(model, [layer], reshape_transform=reshape,
                                           ablation_layer=ablation_layer, batch_size=ABLATIONCAM_BATCH_SIZE)
    else:
        cam = getattr(pytorch_grad_cam, name)(model, [layer], reshape_transform=reshape)
        if name == "ScoreCAM":
            cam.batch_size = SCORECAM_BATCH_SIZE

    x, categories = batch_of(job["input"], job["categories"], job["batch"])
    x = torch.from_numpy(x)
    targets = [ClassifierOutputTarget(c) for c in categories]
    seconds = timed_median(lambda: cam(input_tensor=x, targets=targets), job["repetitions"], job["warmup"])
    extra = {"torch_layer": layer_name}
    if name == "FullGrad":
        extra["bias_layers"] = len(cam.target_layers)
    return {"ms_per_image": seconds * 1000 / job["batch"], "extra": extra}


def run_job(spec: str) -> None:
    """Entry point of a child (``--job JSON``): prints one RESULT_MARKER line with the result."""
    job = json.loads(spec)
    try:
        if job["upstream"] == "onnxruntime":
            result = onnxruntime_forward_job(job)
        else:
            result = upstream_cam_job(job)
    except LayerNotFound as error:
        result = {"error": str(error)}
    except Exception as error:  # noqa: BLE001 - reported in the table, the run goes on
        result = {"error": f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"}
    print(RESULT_MARKER + json.dumps(result), flush=True)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def cpu_model() -> str:
    """The CPU's 'model name' from /proc/cpuinfo (platform.processor() as a fallback)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt(value: Optional[float], digits: int = 1) -> str:
    """A number for the table, or an en dash when missing."""
    return "–" if value is None else f"{value:,.{digits}f}"


def markdown_table(results: list[tuple[Row, Measurement, Measurement]]) -> str:
    """The Markdown table of one model's rows."""
    lines = ["| measurement | SwiftCAM ms/image | compared with | its ms/image | ratio SwiftCAM/other "
             "| SwiftCAM peak MiB | other peak MiB |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for row, ours, theirs in results:
        ratio = (ours.ms_per_image / theirs.ms_per_image
                 if ours.ms_per_image is not None and theirs.ms_per_image else None)
        other = "onnxruntime" if row.upstream == "onnxruntime" else f"upstream {row.upstream}"
        lines.append(f"| {row.label} | {fmt(ours.ms_per_image, 2)} | {other} | {fmt(theirs.ms_per_image, 2)} "
                     f"| {fmt(ratio, 3)} | {fmt(ours.peak_mib, 0)} | {fmt(theirs.peak_mib, 0)} |")
    return "\n".join(lines)


def describe_layers(fixture: Fixture, results: list[tuple[Row, Measurement, Measurement]]) -> str:
    """One line naming the hooked layer on both sides (and FullGrad's bias layer count upstream)."""
    text = f"Target layer: ONNX tensor `{fixture.target_tensor}`"
    if fixture.reshape:
        text += f", reshape `{fixture.reshape}`"
    torch_layers = {theirs.extra["torch_layer"] for _, _, theirs in results if "torch_layer" in theirs.extra}
    if torch_layers:
        text += "; upstream hooks the onnx2torch module " + ", ".join(f"`{name}`" for name in sorted(torch_layers))
    bias_layers = [theirs.extra["bias_layers"] for _, _, theirs in results if "bias_layers" in theirs.extra]
    if bias_layers:
        text += f"; upstream FullGrad uses {bias_layers[0]} bias layer(s)"
    return text + "."


def log(message: str) -> None:
    """Progress on stderr (stdout carries only the Markdown report)."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def parse_arguments(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """Command-line options (see --help)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="threads for SwiftCAM, torch and onnxruntime (the default is the number of CPUs available)")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS),
                        help="models to benchmark")
    parser.add_argument("--repetitions", type=int, default=5, help="timed repetitions (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs before timing")
    # A single cold run of upstream's ScoreCAM on DeiT-tiny took 3.0–4.3 s where warm runs take
    # 2.8: the median of three after one warm-up compares like with like.
    parser.add_argument("--slow-repetitions", type=int, default=3,
                        help="timed repetitions for ScoreCAM and AblationCAM (one image)")
    parser.add_argument("--slow-warmup", type=int, default=1,
                        help="warm-up runs for ScoreCAM and AblationCAM")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: batch 1 only, 1 repetition, no warm-up, no ScoreCAM/AblationCAM")
    parser.add_argument("--swiftcam", type=Path, default=REPO_ROOT / ".build" / "release" / "swiftcam",
                        help="the swiftcam executable")
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES, help="the fixtures directory")
    parser.add_argument("--job-timeout", type=float, default=3600,
                        help="seconds before one measurement is abandoned (0: no limit)")
    parser.add_argument("--no-install", action="store_true", help="fail instead of pip-installing missing packages")
    parser.add_argument("--job", help=argparse.SUPPRESS)  # internal: run one upstream job
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.repetitions, arguments.warmup = 1, 0
    if min(arguments.threads, arguments.repetitions, arguments.slow_repetitions) < 1 \
            or min(arguments.warmup, arguments.slow_warmup) < 0:
        parser.error("--threads and the repetitions must be >= 1, the warm-ups >= 0")
    return arguments


def benchmark_model(fixture: Fixture, rows: list[Row], arguments: argparse.Namespace,
                    sgemm: list[float]) -> list[tuple[Row, Measurement, Measurement]]:
    """Measures every row of one model, SwiftCAM then the other side, row after row."""
    timeout = arguments.job_timeout or None
    results = []
    for row in rows:
        repetitions = arguments.slow_repetitions if row.slow else arguments.repetitions
        warmup = arguments.slow_warmup if row.slow else arguments.warmup
        started = time.monotonic()
        ours = measure_swiftcam(arguments.swiftcam, fixture, row, arguments.threads, repetitions, warmup, timeout)
        if "sgemm_gflops" in ours.extra:
            sgemm.append(ours.extra["sgemm_gflops"])
        theirs = measure_upstream(fixture, row, arguments.threads, repetitions, warmup, timeout)
        for side, measurement in (("SwiftCAM", ours), (row.upstream, theirs)):
            if measurement.error:
                log(f"[{fixture.name}] {row.label}: {side} skipped: {measurement.error}")
        log(f"[{fixture.name}] {row.label}: SwiftCAM {fmt(ours.ms_per_image, 2)} ms/image, "
            f"{row.upstream} {fmt(theirs.ms_per_image, 2)} ms/image ({time.monotonic() - started:.1f} s)")
        results.append((row, ours, theirs))
    return results


def main(argv: Optional[list[str]] = None) -> None:
    """Runs the benchmark and prints the Markdown report."""
    arguments = parse_arguments(argv)
    if arguments.job:
        return run_job(arguments.job)
    if not arguments.swiftcam.exists():
        raise SystemExit(f"{arguments.swiftcam} not found: build it with `swift build -c release` or pass --swiftcam")
    if not arguments.no_install:
        ensure_dependencies()

    rows = selected_rows(arguments.quick)
    started = time.monotonic()
    sgemm: list[float] = []
    sections = []
    for name in arguments.models:
        try:
            fixture = load_fixture(name, arguments.fixtures)
        except (OSError, KeyError, ValueError) as error:
            log(f"[{name}] skipped: cannot read the fixture: {error}")
            sections.append(f"## {name}\n\nSkipped: cannot read the fixture ({error}).")
            continue
        results = benchmark_model(fixture, rows, arguments, sgemm)
        notes = [f"- {row.label}: {side} not measured: {m.error}"
                 for row, ours, theirs in results
                 for side, m in (("SwiftCAM", ours), (f"upstream {row.upstream}", theirs)) if m.error]
        sections.append(f"## {name}\n\n{describe_layers(fixture, results)}\n\n"
                        + markdown_table(results) + ("\n\n" + "\n".join(notes) if notes else ""))

    versions = package_versions()
    header = [
        "# SwiftCAM vs upstream pytorch-grad-cam / onnxruntime",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M')}, host: {platform.node()}",
        f"- CPU: {cpu_model()} ({os.cpu_count()} logical CPUs); threads used everywhere: {arguments.threads}",
        f"- cblas_sgemm as SwiftCAM measured it: {fmt(statistics.median(sgemm)) if sgemm else '–'} GFLOP/s "
        f"(median of {len(sgemm)} runs, best of the 1024³ and conv-shaped products)",
        f"- repetitions: {arguments.repetitions} after {arguments.warmup} warm-up; ScoreCAM/AblationCAM: "
        f"{arguments.slow_repetitions} after {arguments.slow_warmup}, one image"
        + (" (--quick: batch 1, 1 repetition)" if arguments.quick else ""),
        "- versions: " + (", ".join(f"{k} {v}" for k, v in versions.items()) or "unknown"),
        "- times are medians per image; ratio < 1 means SwiftCAM is faster; peak MiB is each "
        "measurement's own process (max RSS, including the model and, upstream, Python + torch)",
        f"- total run time: {time.monotonic() - started:.0f} s",
    ]
    print("\n".join(header) + "\n\n" + "\n\n".join(sections))


if __name__ == "__main__":
    main()
