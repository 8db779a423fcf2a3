"""ganbench's own differentiable all-reduce (global BatchNorm under torchrun): torch's
``torch.distributed.nn.functional.all_reduce`` warns on every call from torch 2.13 and raises under compile."""

import warnings

import pytest
import torch
import torch.distributed as dist

from ganbench.train.distributed import GlobalBatchNorm2d, all_reduce_sum


@pytest.fixture
def one_process_group():
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_all_reduce_sum_is_differentiable_and_silent(one_process_group):
    x = torch.arange(4.0, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no FutureWarning (torch's deprecated functional all_reduce)
        y = all_reduce_sum(x * 2)
        (y * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert torch.equal(y, torch.arange(4.0) * 2)  # one rank: the sum is itself
    assert torch.equal(x.grad, torch.tensor([2.0, 4.0, 6.0, 8.0]))


def test_global_batchnorm_equals_batchnorm_in_one_process(one_process_group):
    torch.manual_seed(0)
    ref, glob = torch.nn.BatchNorm2d(3), GlobalBatchNorm2d(3)
    x = torch.randn(4, 3, 5, 5)
    assert torch.allclose(ref(x), glob(x), atol=1e-5)
    assert torch.allclose(ref.running_var, glob.running_var, atol=1e-6)
