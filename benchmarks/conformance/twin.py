"""The PyTorch twin of an atalp checkpoint: the same ResNet, built from the checkpoint's own
`architecture` attribute and loaded with its tensors (atalp writes PyTorch's names and shapes),
wrapped in the same inference-time defense (RAT's input noise).

Written for the conformance suite only (benchmarks/conformance/README.md); atalp never imports it.
"""
import json

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BN_EPS = 1e-5  # atalp's BatchNorm2d default (Sources/NN/Layers/BatchNorm2d.swift), PyTorch's too


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, width, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, eps=BN_EPS)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width, eps=BN_EPS)
        self.downsample = None
        if stride != 1 or cin != width:
            self.downsample = nn.Sequential(nn.Conv2d(cin, width, 1, stride, bias=False), nn.BatchNorm2d(width, eps=BN_EPS))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride):
        super().__init__()
        out = width * 4
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, eps=BN_EPS)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width, eps=BN_EPS)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out, eps=BN_EPS)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out, eps=BN_EPS))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Normalize(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def forward(self, x):
        return (x - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)


class ResNet(nn.Module):
    """atalp's `ResNet` (Sources/NN/Models/ResNet.swift): normalisation inside, logits out."""

    def __init__(self, a):
        super().__init__()
        if a.get("denoisingGroups"):
            raise NotImplementedError("the twin has no feature-denoising blocks (FD)")
        block = BasicBlock if a["block"] == "basic" else Bottleneck
        stem = a["widths"][0]
        self.imagenet = a["family"] == "imagenet"
        self.normalize = Normalize(a["inputChannels"])
        self.conv1 = nn.Conv2d(a["inputChannels"], stem, 7 if self.imagenet else 3, 2 if self.imagenet else 1,
                               3 if self.imagenet else 1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem, eps=BN_EPS)
        cin = stem
        for g, (count, width) in enumerate(zip(a["blocksPerGroup"], a["widths"])):
            blocks = []
            for b in range(count):
                blocks.append(block(cin, width, 2 if b == 0 and g > 0 else 1))
                cin = width * block.expansion
            setattr(self, f"layer{g + 1}", nn.Sequential(*blocks))
        self.groups = len(a["widths"])
        self.fc = nn.Linear(cin, a["classes"])

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(self.normalize(x))))
        if self.imagenet:
            h = F.max_pool2d(h, 3, 2, 1)
        for g in range(self.groups):
            h = getattr(self, f"layer{g + 1}")(h)
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))


class NoiseInjection(nn.Module):
    """RAT's input noise at inference (atalp's `NoiseInjection`): x + η, η drawn afresh every pass, not clipped."""

    def __init__(self, base, distribution, scale):
        super().__init__()
        self.base, self.distribution, self.scale = base, distribution, scale

    def forward(self, x):
        if self.distribution == "gaussian":
            eta = torch.randn_like(x) * self.scale
        elif self.distribution == "uniform":
            eta = (torch.rand_like(x) * 2 - 1) * self.scale
        else:
            eta = torch.distributions.Laplace(0.0, self.scale).sample(x.shape)
        return self.base(x + eta)


def load(path):
    """(model in eval mode, defense dict, randomised?) for an atalp checkpoint file."""
    with h5py.File(path, "r") as f:
        arch = json.loads(f.attrs["architecture"])
        defense = {"kind": "none"}
        if "defense_configuration" in f.attrs:
            defense = json.loads(f.attrs["defense_configuration"])
        elif "defense" in f.attrs and f.attrs["defense"] != "none":
            defense = json.loads(f.attrs["defense"])
        tensors = {k: torch.from_numpy(np.array(f[k])) for k in f if isinstance(f[k], h5py.Dataset)}
    base = ResNet(arch)
    state = base.state_dict()
    missing = [k for k in state if k not in tensors]
    if missing:
        raise ValueError(f"{path}: no tensor for {missing[:3]}…")
    base.load_state_dict({k: tensors[k].reshape(state[k].shape).to(state[k].dtype) for k in state})
    base.eval()
    kind = defense.get("kind", "none")
    if kind in ("none", "pat", "alp", "at", "atalp", "igr"):
        return base, defense, False
    if kind == "rat":
        # Checkpoint format 2 writes the pipeline file's keys (noise_scale); format 1 wrote camelCase.
        distribution = defense.get("noise_distribution", defense.get("noiseDistribution", "gaussian"))
        return NoiseInjection(base, distribution, defense.get("noise_scale", defense.get("noiseScale", 0.25))).eval(), defense, True
    raise NotImplementedError(f"{path}: no PyTorch twin for defense '{kind}'")
