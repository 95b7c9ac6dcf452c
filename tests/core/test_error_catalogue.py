"""Code written for torch catches torch's builtin exception classes; gradc's errors must land in
the same ``except`` blocks. Each row: the builtin torch raises (checked against torch itself
where installed), the gradc call, and the same call in torch."""

from __future__ import annotations

import pytest

import gradc
import gradc.nn as gnn
import gradc.nn.functional as gF


def _x23(lib):
    return lib.randn(2, 3)


def _row(name, builtin, call, gaps=None):
    """``call(lib, nn, F)`` runs the situation with gradc or torch; ``gaps``: why gradc does
    not meet torch there yet (a strict xfail, so fixing it turns the row green loudly)."""
    return pytest.param(
        builtin, call, id=name, marks=[pytest.mark.xfail(strict=True, reason=gaps)] if gaps else []
    )


ROWS = [
    # shapes: RuntimeError
    _row("permute_short", RuntimeError, lambda lib, nn, F: lib.randn(2, 3, 4, 5).permute((0, 2))),
    _row("reshape", RuntimeError, lambda lib, nn, F: _x23(lib).reshape(4, 2)),
    _row("view_two_minus_one", RuntimeError, lambda lib, nn, F: _x23(lib).view(-1, -1)),
    _row("broadcast", RuntimeError, lambda lib, nn, F: _x23(lib) + lib.randn(3, 2)),
    _row("matmul", RuntimeError, lambda lib, nn, F: _x23(lib) @ _x23(lib)),
    _row("cat", RuntimeError, lambda lib, nn, F: lib.cat([_x23(lib), lib.randn(3, 2)])),
    _row("stack", RuntimeError, lambda lib, nn, F: lib.stack([_x23(lib), lib.randn(3)])),
    _row("flatten", RuntimeError, lambda lib, nn, F: _x23(lib).flatten(1, 0)),
    _row("t_3d", RuntimeError, lambda lib, nn, F: lib.randn(2, 2, 2).t()),
    _row("expand", RuntimeError, lambda lib, nn, F: _x23(lib).expand(4, 3)),
    _row("amax_empty", RuntimeError, lambda lib, nn, F: lib.zeros(0).amax()),
    _row("item_many", RuntimeError, lambda lib, nn, F: _x23(lib).item()),
    _row("bool_ambiguous", RuntimeError, lambda lib, nn, F: bool(_x23(lib))),
    _row("linear_in_features", RuntimeError, lambda lib, nn, F: nn.Linear(3, 2)(lib.randn(4, 5))),
    _row(
        "conv_channels", RuntimeError, lambda lib, nn, F: nn.Conv2d(3, 4, 3)(lib.randn(1, 2, 8, 8))
    ),
    _row(
        "load_state_dict",
        RuntimeError,
        lambda lib, nn, F: nn.Linear(2, 2).load_state_dict({"weight": lib.zeros(3, 3)}),
    ),
    _row("layer_norm_shape", RuntimeError, lambda lib, nn, F: nn.LayerNorm(4)(_x23(lib))),
    _row("gather_index", RuntimeError, lambda lib, nn, F: _x23(lib).gather(1, lib.tensor([[5]]))),
    _row("topk_k", RuntimeError, lambda lib, nn, F: _x23(lib).topk(4)),
    _row("unfold_size", RuntimeError, lambda lib, nn, F: _x23(lib).unfold(1, 5, 1)),
    _row("diagonal_dims", RuntimeError, lambda lib, nn, F: _x23(lib).diagonal(0, 1, 1)),
    _row("flip_duplicates", RuntimeError, lambda lib, nn, F: _x23(lib).flip((0, 0))),
    _row(
        "scatter_add_dtype",
        RuntimeError,
        lambda lib, nn, F: _x23(lib).scatter_add(1, lib.tensor([[0]]), lib.ones(1, 1).double()),
    ),
    _row(
        "index_put_dtype",
        RuntimeError,
        lambda lib, nn, F: _x23(lib).__setitem__([0], lib.ones(3).double()),
    ),
    # dims and indices out of range: IndexError
    _row("squeeze_50", IndexError, lambda lib, nn, F: _x23(lib).squeeze(50)),
    _row("index_0d", IndexError, lambda lib, nn, F: lib.tensor(3.14)[0]),
    _row("sum_dim", IndexError, lambda lib, nn, F: _x23(lib).sum(5)),
    _row("index_out_of_bounds", IndexError, lambda lib, nn, F: _x23(lib)[5]),
    _row("negative_index", IndexError, lambda lib, nn, F: _x23(lib)[:, -4]),
    _row("too_many_indices", IndexError, lambda lib, nn, F: _x23(lib)[0, 0, 0]),
    _row("list_index", IndexError, lambda lib, nn, F: _x23(lib)[[0, 5]]),
    _row("tensor_index", IndexError, lambda lib, nn, F: _x23(lib)[:, lib.tensor([3])]),
    _row("mask_shape", IndexError, lambda lib, nn, F: _x23(lib)[lib.tensor([True, False, True])]),
    _row("float_index", IndexError, lambda lib, nn, F: _x23(lib)[lib.tensor([0.5])]),
    _row("unsqueeze", IndexError, lambda lib, nn, F: _x23(lib).unsqueeze(5)),
    _row("transpose", IndexError, lambda lib, nn, F: _x23(lib).transpose(0, 5)),
    _row("size", IndexError, lambda lib, nn, F: _x23(lib).size(5)),
    _row("cat_dim", IndexError, lambda lib, nn, F: lib.cat([_x23(lib), _x23(lib)], 2)),
    _row("prod_dim", IndexError, lambda lib, nn, F: _x23(lib).prod(4)),
    _row("cumsum_dim", IndexError, lambda lib, nn, F: _x23(lib).cumsum(2)),
    _row("softmax_dim", IndexError, lambda lib, nn, F: _x23(lib).softmax(3)),
    _row("logsumexp_dim", IndexError, lambda lib, nn, F: _x23(lib).logsumexp(3)),
    _row("embedding_index", IndexError, lambda lib, nn, F: nn.Embedding(3, 2)(lib.tensor([3]))),
    _row("sequential_index", IndexError, lambda lib, nn, F: nn.Sequential(nn.ReLU())[3]),
    _row("modulelist_index", IndexError, lambda lib, nn, F: nn.ModuleList([nn.ReLU()])[3]),
    _row(
        "cross_entropy_target",
        IndexError,
        lambda lib, nn, F: F.cross_entropy(lib.randn(2, 3), lib.tensor([0, 5])),
    ),
    # autograd: RuntimeError
    _row(
        "backward_non_scalar",
        RuntimeError,
        lambda lib, nn, F: (lib.randn(3, requires_grad=True) * 2).backward(),
    ),
    _row("backward_no_grad", RuntimeError, lambda lib, nn, F: _x23(lib).sum().backward()),
    _row(
        "inplace_on_leaf", RuntimeError, lambda lib, nn, F: lib.randn(3, requires_grad=True).add_(1)
    ),
    _row(
        "numpy_of_grad", RuntimeError, lambda lib, nn, F: lib.randn(3, requires_grad=True).numpy()
    ),
    _row("int_requires_grad", RuntimeError, lambda lib, nn, F: lib.tensor([1, 2]).requires_grad_()),
    _row("retain_grad", RuntimeError, lambda lib, nn, F: _x23(lib).retain_grad()),
    _row(
        "requires_grad_non_leaf",
        RuntimeError,
        lambda lib, nn, F: (lib.randn(3, requires_grad=True) * 1).requires_grad_(False),
    ),
    # dtypes: RuntimeError, TypeError for Python-level types
    _row("mean_int", RuntimeError, lambda lib, nn, F: lib.tensor([1, 2]).mean()),
    _row("var_int", RuntimeError, lambda lib, nn, F: lib.tensor([1, 2]).var()),
    _row("norm_int", RuntimeError, lambda lib, nn, F: lib.tensor([1, 2]).norm()),
    _row("matmul_dtypes", RuntimeError, lambda lib, nn, F: _x23(lib) @ lib.randn(3, 2).double()),
    _row("where_float_cond", RuntimeError, lambda lib, nn, F: lib.where(_x23(lib), _x23(lib), 0.0)),
    _row("sub_bool", RuntimeError, lambda lib, nn, F: lib.tensor([True]) - lib.tensor([True])),
    _row("neg_bool", RuntimeError, lambda lib, nn, F: -lib.tensor([True])),
    _row("and_float", RuntimeError, lambda lib, nn, F: _x23(lib) & _x23(lib)),
    _row("floor_bool", RuntimeError, lambda lib, nn, F: lib.tensor([True]).floor()),
    _row("int_negative_power", RuntimeError, lambda lib, nn, F: lib.tensor([1, 2]) ** -1),
    _row("one_hot_float", RuntimeError, lambda lib, nn, F: F.one_hot(lib.tensor([1.0]))),
    _row(
        "masked_fill_float_mask",
        RuntimeError,
        lambda lib, nn, F: _x23(lib).masked_fill(lib.ones(2, 3), 0.0),
    ),
    _row("add_str", TypeError, lambda lib, nn, F: _x23(lib) + "a"),
    _row("invert_float", TypeError, lambda lib, nn, F: ~_x23(lib)),
    _row("dtype_name", TypeError, lambda lib, nn, F: lib.zeros(2, dtype="float8")),
    _row("len_0d", TypeError, lambda lib, nn, F: len(lib.tensor(1.0))),
    _row("dim_and_axis", TypeError, lambda lib, nn, F: lib.sum(_x23(lib), dim=0, axis=0)),
    # arguments: RuntimeError, ValueError where torch checks in Python
    _row("clamp_no_bounds", RuntimeError, lambda lib, nn, F: _x23(lib).clamp()),
    _row(
        "div_rounding_mode",
        RuntimeError,
        lambda lib, nn, F: lib.div(_x23(lib), 2, rounding_mode="x"),
    ),
    _row(
        "gelu_approximate", RuntimeError, lambda lib, nn, F: F.gelu(_x23(lib), approximate="fast")
    ),
    _row("one_hot_negative", RuntimeError, lambda lib, nn, F: F.one_hot(lib.tensor([-1]))),
    _row("to_unknown_device", RuntimeError, lambda lib, nn, F: _x23(lib).to("tpu")),
    _row("slice_step", ValueError, lambda lib, nn, F: _x23(lib)[::-1]),
    _row("optimizer_empty", ValueError, lambda lib, nn, F: lib.optim.SGD([], lr=0.1)),
    _row(
        "optimizer_lr",
        ValueError,
        lambda lib, nn, F: lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=-1),
    ),
    _row("batchnorm_rank", ValueError, lambda lib, nn, F: nn.BatchNorm2d(3)(lib.randn(3, 4, 4))),
    _row("batchnorm_one_value", ValueError, lambda lib, nn, F: nn.BatchNorm1d(3)(lib.randn(1, 3))),
    _row("conv_groups", ValueError, lambda lib, nn, F: nn.Conv2d(3, 4, 3, groups=2)),
    _row("dropout_probability", ValueError, lambda lib, nn, F: F.dropout(_x23(lib), 1.5)),
    _row(
        "loss_reduction",
        ValueError,
        lambda lib, nn, F: F.mse_loss(_x23(lib), _x23(lib), reduction="avg"),
    ),
    _row("dropout_module", ValueError, lambda lib, nn, F: nn.Dropout(1.5)),
    _row("module_attribute", AttributeError, lambda lib, nn, F: nn.Linear(2, 2).nope),
]


@pytest.mark.parametrize("builtin, call", ROWS)
def test_torch_style_except_block_catches_gradc(builtin, call):
    try:
        call(gradc, gnn, gF)
    except builtin as e:  # what code written for torch does
        caught = e
    else:
        pytest.fail(f"no {builtin.__name__} raised")
    # it is still one of gradc's errors (or, for len/attributes, Python's own)
    assert isinstance(caught, (gradc.GradcError, TypeError, AttributeError))


@pytest.mark.parametrize("builtin, call", [pytest.param(*p.values, id=p.id) for p in ROWS])
def test_the_catalogue_says_what_torch_raises(builtin, call):
    torch = pytest.importorskip("torch")
    with pytest.raises(builtin):
        call(torch, torch.nn, torch.nn.functional)


def test_every_gradc_error_is_a_runtime_error():
    for cls in [gradc.ShapeError, gradc.DTypeError, gradc.IndexRangeError, gradc.ArgumentError]:
        assert issubclass(cls, RuntimeError)
    assert issubclass(gradc.IndexRangeError, IndexError) and issubclass(gradc.DTypeError, TypeError)
