"""Plain single-model references (nn.Parameter + autograd + torch.optim.SGD) for Study B's
model families, to check the batched engine step for step."""
from __future__ import annotations

import torch
from torch import nn


def _sgd(params, loss_fn, lr, wd, steps, normalised=False):
    opt = torch.optim.SGD(params, lr=lr, weight_decay=wd)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        if normalised:
            with torch.no_grad():
                for p in params:
                    p.grad /= loss.detach()
        opt.step()
        losses.append(loss.item())
    return losses


def diagonal_reference(x, y, alpha, depth, loss, lr, wd, steps):
    d = x.shape[1]
    u = nn.Parameter(torch.full((d,), alpha / (2 * d) ** 0.5, dtype=x.dtype))
    v = nn.Parameter(torch.full((d,), alpha / (2 * d) ** 0.5, dtype=x.dtype))

    def loss_fn():
        f = x @ (u**depth - v**depth)
        if loss == "logistic":
            return nn.functional.softplus(-y * f).mean()
        return 0.5 * ((f - y) ** 2).mean()

    losses = _sgd([u, v], loss_fn, lr, wd, steps)
    return [u.detach(), v.detach()], losses


def matrix_reference(idx, y, d, alpha, lr, wd, steps):
    u = nn.Parameter(alpha * torch.eye(d, dtype=y.dtype))
    v = nn.Parameter(alpha * torch.eye(d, dtype=y.dtype))

    def loss_fn():
        w = u @ u.T - v @ v.T
        return ((w[idx[:, 0], idx[:, 1]] - y) ** 2).mean()

    losses = _sgd([u, v], loss_fn, lr, wd, steps)
    return [u.detach(), v.detach()], losses


def relu_reference(x, y, w1, b1, w2, lr, wd, steps, normalised=False):
    """x: dense one-hot inputs (n, d_in); w1 (h, d_in), b1 (h,), w2 (c, h)."""
    l1 = nn.Linear(w1.shape[1], w1.shape[0]).to(x.dtype)
    l2 = nn.Linear(w2.shape[1], w2.shape[0], bias=False).to(x.dtype)
    with torch.no_grad():
        l1.weight.copy_(w1)
        l1.bias.copy_(b1)
        l2.weight.copy_(w2)
    net = nn.Sequential(l1, nn.ReLU(), l2)

    def loss_fn():
        return nn.functional.cross_entropy(net(x), y)

    losses = _sgd(list(net.parameters()), loss_fn, lr, wd, steps, normalised)
    return [l1.weight.detach(), l1.bias.detach(), l2.weight.detach()], losses
