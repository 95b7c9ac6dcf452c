"""Acceptance 1: PyTorch's "Neural Networks" tutorial, with gradc in place of torch."""

from __future__ import annotations

import numpy as np

import gradc as torch
import gradc.nn as nn
import gradc.nn.functional as F
import gradc.optim as optim
from gradc.autograd import Variable

TORCH_PRINT = """\
Net(
  (conv1): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))
  (conv2): Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))
  (fc1): Linear(in_features=400, out_features=120, bias=True)
  (fc2): Linear(in_features=120, out_features=84, bias=True)
  (fc3): Linear(in_features=84, out_features=10, bias=True)
)"""


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()  # noqa: UP008  (the tutorial's spelling)
        # 1 input image channel, 6 output channels, 5x5 square convolution kernel
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        # an affine operation: y = Wx + b
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        # Max pooling over a (2, 2) window
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        # If the size is a square you can only specify a single number
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, self.num_flat_features(x))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x

    def num_flat_features(self, x):
        size = x.size()[1:]  # all dimensions except the batch dimension
        num_features = 1
        for s in size:
            num_features *= s
        return num_features


def test_tutorial_runs_and_prints_like_torch(capsys):
    torch.manual_seed(0)
    net = Net()
    print(net)
    assert capsys.readouterr().out == TORCH_PRINT + "\n"

    params = list(net.parameters())
    assert len(params) == 10
    assert params[0].size() == (6, 1, 5, 5)  # conv1's .weight
    assert repr(params[0].size()) == "gradc.Size([6, 1, 5, 5])"

    input = Variable(torch.randn(1, 1, 32, 32))
    out = net(input)
    assert out.shape == (1, 10)

    net.zero_grad()
    out.backward(torch.randn(1, 10))
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())

    output = net(input)
    target = torch.randn(10)  # a dummy target, for example
    target = target.view(1, -1)  # make it the same shape as output
    criterion = nn.MSELoss()
    loss = criterion(output, target)
    assert loss.grad_fn is not None and loss.grad_fn.next_functions[0][0] is not None

    net.zero_grad()  # zeroes the gradient buffers of all parameters
    assert net.conv1.bias.grad is None
    loss.backward()
    assert net.conv1.bias.grad.shape == (6,)

    learning_rate = 0.01
    before = net.fc3.bias.detach().numpy().copy()
    for f in net.parameters():
        f.data.sub_(f.grad.data * learning_rate)
    np.testing.assert_allclose(
        net.fc3.bias.detach().numpy(), before - learning_rate * net.fc3.bias.grad.numpy()
    )

    optimizer = optim.SGD(net.parameters(), lr=0.01)
    optimizer.zero_grad()  # zero the gradient buffers
    output = net(input)
    loss = criterion(output, target)
    loss.backward()
    optimizer.step()  # Does the update
    assert criterion(net(input), target).item() < loss.item()


def test_tutorial_net_takes_batches():
    net = Net()
    out = net(torch.randn(7, 1, 32, 32))
    assert out.shape == (7, 10)
    single = net(torch.randn(1, 1, 32, 32))
    assert single.shape == (1, 10)
