"""The cheap CPU dropout keeps dropout's distribution: rate, scaling, gradient, eval identity."""

import torch

from memrl.nets.dropout import Dropout, keep_mask


def test_keep_rate_and_scale():
    torch.manual_seed(0)
    x = torch.ones(400_000)
    mask = keep_mask(x, 0.1)
    kept = mask > 0
    assert abs(kept.float().mean().item() - 0.9) < 0.003
    torch.testing.assert_close(mask[kept], torch.full_like(mask[kept], 1 / 0.9))
    # Neighbouring entries (same 64-bit draw) are independent.
    pairs = kept.view(-1, 4).float()
    both = (pairs[:, 0] * pairs[:, 3]).mean().item()
    assert abs(both - 0.81) < 0.005


def test_module_train_eval_and_gradient():
    drop = Dropout(0.5)
    x = torch.randn(64, 33, requires_grad=True)
    assert drop.eval()(x) is x
    y = drop.train()(x)
    y.sum().backward()
    dropped = y == 0
    assert 0.4 < dropped.float().mean().item() < 0.6
    torch.testing.assert_close(x.grad, torch.where(dropped, 0.0, 2.0))
    assert torch.equal(Dropout(0.0).train()(x), x)
