"""``gradc dump``: print one stage of what gradc makes of a model, for people to read.

    gradc dump examples/lenet.py:LeNet --input Nx1x32x32 --stage graph
    gradc dump examples/lenet.py:LeNet --input Nx1x32x32 --stage grad --train
    python -m gradc dump mypkg.models:mlp --input 64x784 --dynamic-batch --stage optimized

Every user error (a bad target, shape or stage, a model that fails to trace) ends the program
with one line on stderr and a non-zero exit status: 2 for bad arguments, 1 for a model error.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import os
import re
import sys

from gradc.errors import GradcError, entry_point, traceback_location

STAGES = ("graph", "grad", "joint", "optimized", "dot", "cpu")
STEP_STAGES = ("graph", "optimized", "dot")
LOSSES = ("mse", "cross_entropy")
OPTIMIZERS = ("sgd", "adam")
DTYPES = {"f32": "float32", "f64": "float64"}

EPILOG = """\
stages:
  graph      the forward graph (with --train: forward + loss)
  grad       the backward graph: one output per parameter (per float input for a function)
  joint      forward and backward in one graph, saved values marked
  optimized  the joint graph (with --train) or the forward graph after the passes (dce, cse,
             constant folding, sympy simplification), with each kernel group's header
  dot        the optimized graph as Graphviz text, one cluster per kernel group
             (render: gradc dump ... --stage dot | dot -Tsvg > graph.svg)
  cpu        the numba module gradc.lower generates for the optimized graph, exactly as it
             is compiled (from the disk cache, $GRADC_CACHE_DIR)
  with --train --optimizer: the whole training step (zero_grad, forward, loss, backward,
  optimizer step) as one graph, parameters, optimizer state and the learning rate as inputs
  and their new values as outputs (stages graph, optimized, dot)

examples:
  gradc dump examples/lenet.py:LeNet --input Nx1x32x32 --stage graph
  gradc dump examples/lenet.py:LeNet --input 64x1x32x32 --dynamic-batch --stage grad --train
  gradc dump examples/lenet.py:LeNet --input Nx1x32x32 --train --loss cross_entropy \\
      --stage optimized
  python -m gradc dump mypkg.nets:mlp --input Nx784 --input 784x10 --dtype f64 --stage joint
  gradc dump examples/lenet.py:LeNet --input Nx1x32x32 --train --optimizer adam \\
      --stage optimized
"""


class UsageError(Exception):
    """A bad command line: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block: the usage is in --help
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gradc",
        description="gradc command line tools. `gradc dump --help` explains each option.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    dump = sub.add_parser(
        "dump",
        help="print the IR of a model or function at one stage",
        description="Trace TARGET on inputs of the given shapes and print one stage of its IR.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dump.add_argument(
        "target",
        metavar="TARGET",
        help="what to trace: path/to/file.py:Name or package.module:Name, where Name is an "
        "nn.Module class (built with no arguments), a module instance or a plain function; "
        "e.g. examples/lenet.py:LeNet",
    )
    dump.add_argument(
        "--input",
        "-i",
        dest="inputs",
        metavar="SHAPE",
        action="append",
        default=[],
        help="shape of one input, dims joined by 'x' (or ','); a name is a symbolic dim: "
        "Nx1x32x32 traces one graph for every batch size N, 64x1x32x32 for batch 64 only. "
        "Repeat for each input, in order; a scalar input is '' ",
    )
    dump.add_argument(
        "--stage",
        "-s",
        default="graph",
        metavar="STAGE",
        help=f"what to print: {', '.join(STAGES)} (see below; default: graph)",
    )
    dump.add_argument(
        "--train",
        action="store_true",
        help="add a loss after the output (see --loss), as a training step does, so that "
        "--stage grad shows the gradient of the loss for each parameter",
    )
    dump.add_argument(
        "--loss",
        default=None,
        metavar="LOSS",
        help="with --train: mse (a float target shaped like the output) or cross_entropy "
        "(int64 class targets of shape [N] for an [N, C] output); default: mse",
    )
    dump.add_argument(
        "--optimizer",
        default=None,
        metavar="OPT",
        help="with --train: show the whole training step with this optimizer's update, "
        "sgd (lr=0.01, momentum=0.9) or adam (lr=1e-3), as one graph",
    )
    batch = dump.add_mutually_exclusive_group()
    batch.add_argument(
        "--dynamic-batch",
        dest="dynamic",
        action="store_true",
        help="make the first dim of every input symbolic (N), so 64x1x32x32 traces like Nx1x32x32",
    )
    batch.add_argument(
        "--static",
        dest="dynamic",
        action="store_false",
        help="keep numeric dims as given (the default); named dims stay symbolic",
    )
    dump.add_argument(
        "--dtype",
        default="f32",
        metavar="DTYPE",
        help="element type of the inputs and the model's parameters: f32 (default) or f64",
    )
    return parser


@entry_point
def main(argv=None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(_attach_values(sys.argv[1:] if argv is None else argv))
        if args.command is None:
            parser.print_help()
            return 2
        text = dump(args)
    except UsageError as e:
        return _fail(str(e), 2)
    except Exception as e:  # the model's own errors: one line, not a traceback
        if os.environ.get("GRADC_TRACEBACK"):
            raise
        hint = ""
        if isinstance(e, TypeError) and "positional argument" in str(e):
            hint = " (give one --input per tensor argument of the target)"
        where = None if isinstance(e, GradcError) else traceback_location(e.__traceback__)
        where = f" (at {where})" if where else ""
        return _fail(f"{type(e).__name__}: {e}{hint}{where}", 1)
    sys.stdout.write(text + "\n")
    return 0


def _attach_values(argv: list) -> list:
    """``--input -3x1`` as ``--input=-3x1``: argparse takes a value that starts with '-' for an
    option and says "expected one argument"; attached, the shape parser can say what is wrong."""
    out, it = [], iter(argv)
    for arg in it:
        if arg in ("--input", "-i"):
            value = next(it, None)
            if value is not None and value.startswith("-") and value not in ("-h", "--help"):
                out.append(f"{arg}={value}" if arg == "--input" else f"-i{value}")
                continue
            out.extend([arg] if value is None else [arg, value])
        else:
            out.append(arg)
    return out


def _fail(message: str, status: int) -> int:
    one_line = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    sys.stderr.write(f"gradc: error: {one_line}\n")
    return status


def dump(args) -> str:
    """The text ``gradc dump`` prints for parsed ``args``."""
    import gradc

    if args.stage not in STAGES:
        raise UsageError(f"unknown stage {args.stage!r}; choose one of {', '.join(STAGES)}")
    if args.loss is not None and not args.train:
        raise UsageError("--loss only applies with --train (the loss a training step adds)")
    args.loss = args.loss or "mse"
    if args.loss not in LOSSES:
        raise UsageError(f"unknown loss {args.loss!r}; choose one of {', '.join(LOSSES)}")
    if args.dtype not in DTYPES:
        raise UsageError(f"unknown dtype {args.dtype!r}; choose f32 or f64")
    if args.optimizer is not None:
        if args.optimizer not in OPTIMIZERS:
            raise UsageError(f"unknown optimizer {args.optimizer!r}; choose sgd or adam")
        if not args.train:
            raise UsageError("--optimizer needs --train")
        if args.stage not in STEP_STAGES:
            raise UsageError(
                f"--optimizer shows the whole step: use --stage {', '.join(STEP_STAGES)}"
            )
    if not args.inputs:
        raise UsageError("give the shape of each input with --input, e.g. --input Nx1x32x32")
    shapes = [parse_shape(s, args.dynamic) for s in args.inputs]
    obj = load_target(args.target)
    dtype = getattr(gradc, DTYPES[args.dtype])
    return render(obj, shapes, dtype, args)


_DIM = re.compile(r"^(?:[1-9][0-9]*|0|[A-Za-z_][A-Za-z0-9_]*)$")


def parse_shape(text: str, dynamic: bool = False) -> tuple:
    """``"Nx1x32x32"`` -> ``(N, 1, 32, 32)`` with ``N`` a ``gradc.Dim``; ``""`` is a scalar."""
    from gradc.trace import Dim

    text = text.strip()
    if text in ("", "()", "[]"):
        return ()
    parts = [p.strip() for p in re.split(r"[x,]", text.strip("[]()"))] if text else []
    if "x" in text and "," in text:
        parts = None
    if parts is None or any(not _DIM.match(p) for p in parts):
        raise UsageError(
            f"bad --input {text!r}: write dims joined by 'x', each a non-negative number or a "
            "name for a symbolic dim, e.g. Nx1x32x32 or 64x784"
        )
    shape = [int(p) if p[0].isdigit() else Dim(p) for p in parts]
    if dynamic and shape and isinstance(shape[0], int):
        shape[0] = Dim("N")
    return tuple(shape)


def load_target(spec: str):
    """The object ``path/to/file.py:Name`` or ``package.module:Name`` names (dots after the
    colon walk attributes)."""
    mod_part, sep, attr = spec.rpartition(":")
    if not sep or not mod_part or not attr:
        raise UsageError(f"bad TARGET {spec!r}: write path/to/file.py:Name or package.module:Name")
    if mod_part.endswith(".py") or os.sep in mod_part or "/" in mod_part:
        module = _load_file(mod_part)
    else:
        # the current folder first, as `python -m gradc` has it (a console script has its own
        # bin folder on sys.path instead)
        sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(mod_part)
        except ModuleNotFoundError as e:
            if e.name and mod_part.startswith(e.name):
                raise UsageError(f"no module named {mod_part!r} (from TARGET {spec!r})") from None
            raise
        finally:
            sys.path.remove(os.getcwd())
    obj = module
    for name in attr.split("."):
        if not hasattr(obj, name):
            public = sorted(  # what the file itself defines, not what it imports
                k
                for k, v in vars(module).items()
                if not k.startswith("_")
                and module.__name__ in (getattr(v, "__module__", None), type(v).__module__)
            )
            public = public if obj is module else []
            hint = f"; it defines: {', '.join(public[:12])}" if public else ""
            raise UsageError(f"{mod_part} has no attribute {attr!r}{hint}")
        obj = getattr(obj, name)
    if not callable(obj):
        raise UsageError(
            f"{spec} is not an nn.Module class, a module or a function "
            f"(it is a {type(obj).__name__!r} object)"
        )
    return obj


def _load_file(path: str):
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path}")
    path = os.path.abspath(path)
    name = "_gradc_target_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    sys.path.insert(0, os.path.dirname(path))  # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(os.path.dirname(path))
    return module


def input_names(fn, n: int) -> list[str]:
    """The positional parameter names of ``fn`` (or its ``forward``), padded ``x0, x1, ...``."""
    try:
        params = inspect.signature(getattr(fn, "forward", fn)).parameters.values()
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return (names + [f"x{i}" for i in range(len(names), n)])[:n]


def instantiate(obj, dtype):
    """A module class built with no arguments under ``dtype``; modules converted to it;
    functions as they are."""
    import gradc
    from gradc.nn import Module

    if isinstance(obj, type):
        if not issubclass(obj, Module):
            raise UsageError(f"{obj.__name__} is a class but not an nn.Module subclass")
        old = gradc.get_default_dtype()
        gradc.set_default_dtype(dtype)
        try:
            model = obj()
        except TypeError as e:
            raise UsageError(f"cannot build {obj.__name__}() with no arguments: {e}") from None
        finally:
            gradc.set_default_dtype(old)
        return model.to(dtype)
    if isinstance(obj, Module):
        return obj.to(dtype)
    return obj


def _train_step(model, loss: str, names: list[str]):
    """``model`` followed by a loss against a ``target`` input, as one function to trace.

    Its code is renamed ``<train step>`` (line numbers from 1), so the loss nodes print with a
    stable location that says where they came from.
    """
    from gradc.nn import functional as F

    loss_fn = {"mse": F.mse_loss, "cross_entropy": F.cross_entropy}[loss]

    def step(*args):
        out = model(*args[:-1])
        return loss_fn(out, args[-1])

    step.__code__ = step.__code__.replace(co_filename="<train step>", co_firstlineno=1)
    target = "target" if "target" not in names else "target_"
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY) for n in (*names, target)]
    step.__signature__ = inspect.Signature(params)
    if hasattr(model, "named_parameters"):  # trace makes these named inputs
        step.named_parameters = model.named_parameters
        step.named_buffers = model.named_buffers
    return step


def _target_spec(out_type, loss: str):
    from gradc import dtypes
    from gradc.trace import TensorSpec

    if not out_type.dtype.is_floating_point:
        raise UsageError(f"--train needs a float output, the model returns {out_type}")
    if loss == "mse":
        return TensorSpec(out_type.shape, out_type.dtype)
    if out_type.ndim not in (1, 2):
        raise UsageError(
            f"--loss cross_entropy needs [N, C] logits (or [C]), the model returns {out_type}"
        )
    return TensorSpec(out_type.shape[:-1], dtypes.int64)


def render(obj, shapes, dtype, args) -> str:
    """Trace, differentiate and optimize as the stage asks; the text to print."""
    from gradc.autodiff import grad_graph, joint_graph
    from gradc.ir import format_graph
    from gradc.passes import optimize
    from gradc.passes.show import format_dot, format_optimized
    from gradc.trace import TensorSpec, trace

    model = instantiate(obj, dtype)
    specs = [TensorSpec(s, dtype) for s in shapes]
    graph = trace(model, *specs)
    wrt = None if graph.inputs_of("param") else list(range(len(specs)))
    if args.train:
        if len(graph.outputs) != 1:
            raise UsageError(f"--train needs one output, the target returns {len(graph.outputs)}")
        target = _target_spec(graph.outputs[0].type, args.loss)
        if getattr(args, "optimizer", None):
            from gradc.cli_step import render_step

            return render_step(model, specs, target, args)
        step = _train_step(model, args.loss, input_names(model, len(specs)))
        graph = trace(step, *specs, target)
    if args.stage == "graph":
        return format_graph(graph)
    if args.stage == "grad":
        return format_graph(grad_graph(graph, wrt))
    joint = joint_graph(graph, wrt)
    if args.stage == "joint":
        return format_graph(joint)
    before = joint if args.train else graph
    if args.stage == "cpu":  # the text numba compiles, generated without compiling it
        from gradc.lowering import full_text, generate

        return full_text(generate(before)[2]).rstrip("\n")
    optimized, groups = optimize(before)
    if args.stage == "dot":
        return format_dot(optimized, groups)
    views = sum(1 for g in groups if g.kind == "view")
    summary = (
        f"# {len(optimized.nodes)} nodes in {len(groups) - views} kernels and {views} views; "
        f"{len(before.nodes)} nodes before the passes"
    )
    return format_optimized(optimized, groups) + "\n" + summary
