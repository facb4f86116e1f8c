"""Plain single-network references the batched engine is checked against."""
from __future__ import annotations

import torch
from torch import nn


def deep_linear_reference(weights, x, y, lr, wd, batches, dtype=torch.float64):
    """Train one deep linear net built from ``nn.Linear`` layers with ``torch.optim.SGD``.

    ``weights``: list of (out, in) initial matrices; ``batches``: iterable of index tensors.
    Returns the final weights and the per-step losses.
    """
    layers = []
    for w in weights:
        lin = nn.Linear(w.shape[1], w.shape[0], bias=False).to(dtype)
        with torch.no_grad():
            lin.weight.copy_(w)
        layers.append(lin)
    net = nn.Sequential(*layers)
    opt = torch.optim.SGD(net.parameters(), lr=lr, weight_decay=wd)
    losses = []
    for idx in batches:
        opt.zero_grad()
        pred = net(x[idx])
        loss = 0.5 * (pred - y[idx]).pow(2).sum(dim=1).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return [l.weight.detach().clone() for l in layers], losses
