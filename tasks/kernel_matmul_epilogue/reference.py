import torch
import torch.nn as nn


class Model(nn.Module):
    """A linear layer with a fused epilogue: relu(x @ weight + bias)."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_features, out_features) / in_features ** 0.5)
        self.bias = nn.Parameter(0.1 * torch.randn(out_features))

    def forward(self, x):
        return torch.relu(x @ self.weight + self.bias)


batch_size = 4096
in_features = 4096
out_features = 4096


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features]
