# Reference values of the TRADES and MART losses on a fixed tiny batch, by the formulas of
# yaodongyu/TRADES trades.py and YisenWang/MART mart.py (PyTorch, float64).
import torch, torch.nn as nn, torch.nn.functional as F
torch.set_default_dtype(torch.float64)
nat = torch.tensor([[1.0, -0.5, 0.3, 2.0], [0.2, 0.1, -1.0, 0.5], [-0.3, 1.5, 0.0, -2.0]], requires_grad=True)
adv = torch.tensor([[0.4, 0.5, 0.9, 1.1], [0.8, -0.2, -0.4, 0.3], [0.6, 0.7, 0.2, -1.0]], requires_grad=True)
y = torch.tensor([3, 0, 1])
N = 3
# TRADES, beta = 6
kl = nn.KLDivLoss(reduction='sum')
robust = (1.0 / N) * kl(F.log_softmax(adv, dim=1), F.softmax(nat, dim=1))
trades = F.cross_entropy(nat, y) + 6.0 * robust
trades.backward()
print("trades", trades.item(), "kl", robust.item())
print("trades dnat", nat.grad.flatten().tolist()); print("trades dadv", adv.grad.flatten().tolist())
nat.grad = None; adv.grad = None
# MART, beta (lambda) = 6
kl = nn.KLDivLoss(reduction='none')
adv_probs = F.softmax(adv, dim=1)
tmp1 = torch.argsort(adv_probs, dim=1)[:, -2:]
new_y = torch.where(tmp1[:, -1] == y, tmp1[:, -2], tmp1[:, -1])
loss_adv = F.cross_entropy(adv, y) + F.nll_loss(torch.log(1.0001 - adv_probs + 1e-12), new_y)
nat_probs = F.softmax(nat, dim=1)
true_probs = torch.gather(nat_probs, 1, (y.unsqueeze(1)).long()).squeeze()
loss_robust = (1.0 / N) * torch.sum(torch.sum(kl(torch.log(adv_probs + 1e-12), nat_probs), dim=1) * (1.0000001 - true_probs))
mart = loss_adv + 6.0 * loss_robust
mart.backward()
print("mart", mart.item(), "boosted", loss_adv.item(), "weighted kl", loss_robust.item(), "new_y", new_y.tolist())
print("mart dnat", nat.grad.flatten().tolist()); print("mart dadv", adv.grad.flatten().tolist())
