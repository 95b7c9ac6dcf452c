"""A small model for the `gradc dump --stage cpu` golden file (LeNet's source is ~10x longer)."""

import gradc.nn as nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.fc1(x).tanh())
