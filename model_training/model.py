"""The acoustic network (PyTorch): log-mel frames -> raw mouth/blend AUs -> per-channel smoothing head.

Architecture (non-causal temporal convolutional network, ~100 k multiply-adds per 10 ms frame):

* local spectrum normalisation (:class:`LocalSpectrumNorm`): the log-mel beside the log-mel minus its
  long-term spectrum over +-1.5 s (n_mels -> 2 n_mels);
* input projection: Conv1d(2 n_mels -> C, k=3);
* ``len(DILATIONS)`` residual blocks, each a depthwise dilated Conv1d (k=3) + BatchNorm + ReLU + pointwise
  Conv1d (C -> C); dilations 1, 2, 4, 8 twice give a receptive field of +-310 ms, enough look-ahead for
  anticipatory rounding and closure (coarticulation reaches ~150-250 ms ahead);
* output projection Conv1d(C -> n_aus, k=1) + sigmoid = the raw AUs in [0, 1];
* beside it, the auxiliary phone-class head Conv1d(C -> n_phone_classes, k=1) on the same trunk
  features: per-frame logits over ``model_server.phonetics.PHONE_CLASSES`` (no smoothing head);
* the smoothing head: one learned temporal filter per AU (a depthwise FIR over +-``HEAD_RADIUS``
  frames, edge-replicated), channel-independent in the spirit of the CIT-AE encoder of EmoZone-Talker.
  Its taps are a softmax of free parameters, so each filter is a convex average: the output stays in
  [0, 1], a constant passes unchanged, and high-frequency jitter is always attenuated.
"""

from __future__ import annotations

import torch
from torch import nn

from model_server.phonetics import N_PHONE_CLASSES

DILATIONS: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8)
HEAD_RADIUS = 7  # frames each side: a 150 ms filter support at 100 Hz


class SmoothingHead(nn.Module):
    """One learned convex temporal filter per channel: [B, C, T] -> [B, C, T]."""

    def __init__(self, channels: int, radius: int = HEAD_RADIUS, init_sigma_frames: float = 2.2) -> None:
        super().__init__()
        self.radius = radius
        offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
        logits = -0.5 * (offsets / init_sigma_frames) ** 2  # Gaussian start
        self.logits = nn.Parameter(logits.repeat(channels, 1))  # [C, K]

    def taps(self) -> torch.Tensor:
        """[C, K] filter taps (each row sums to 1)."""
        return torch.softmax(self.logits, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        padded = nn.functional.pad(x, (self.radius, self.radius), mode="replicate")
        return nn.functional.conv1d(padded, self.taps().unsqueeze(1), groups=channels)


NORM_RADIUS = 150  # frames each side: the local long-term spectrum is taken over 3 s
SPEECH_LEVEL = -2.0  # feature units (dB / 20): frames within 40 dB of the clip's loud end count


class LocalSpectrumNorm(nn.Module):
    """[B, M, T] -> [B, 2M, T]: the features, and the features minus their local long-term spectrum.

    The long-term spectrum (mean over the loud frames within +-``NORM_RADIUS``) carries the voice and
    the channel (vocal-tract shape, microphone, telephone band, room) more than the phone, so the
    difference is the cepstral-mean normalisation of speech recognisers, kept beside the raw features.
    Window sums are cumulative-sum differences: O(T), and exportable with a dynamic length axis.
    """

    def __init__(self, radius: int = NORM_RADIUS) -> None:
        super().__init__()
        self.radius = radius

    def _window_sum(self, v: torch.Tensor) -> torch.Tensor:
        k = 2 * self.radius + 1
        c = torch.cumsum(nn.functional.pad(v, (self.radius + 1, self.radius)), dim=2)
        return c[..., k:] - c[..., :-k]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        loud = (x.max(dim=1, keepdim=True).values > SPEECH_LEVEL).to(x.dtype)  # [B, 1, T]
        mean = self._window_sum(x * loud) / (self._window_sum(loud) + 1e-3)
        return torch.cat([x, x - mean], dim=1)


class _Block(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation,
                                   groups=channels)
        self.norm = nn.BatchNorm1d(channels)
        self.pointwise = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pointwise(torch.relu(self.norm(self.depthwise(x))))


class AcousticNet(nn.Module):
    """Log-mel -> AUs and phone classes. ``forward`` returns ``(smoothed, raw, phone_logits)``: AUs
    [B, T, n_aus] in [0, 1] after and before the smoothing head, and phone-class logits [B, T, P].

    Args:
        n_mels: input feature bins. n_aus: output channels. channels: hidden width C.
        n_phone_classes: phone-class logits per frame (``len(PHONE_CLASSES)``).
    """

    def __init__(self, n_mels: int, n_aus: int, channels: int = 96,
                 dilations: tuple[int, ...] = DILATIONS, n_phone_classes: int = N_PHONE_CLASSES) -> None:
        super().__init__()
        self.norm = LocalSpectrumNorm()
        self.inp = nn.Conv1d(2 * n_mels, channels, 3, padding=1)
        self.blocks = nn.Sequential(*[_Block(channels, d) for d in dilations])
        self.out = nn.Conv1d(channels, n_aus, 1)
        self.head = SmoothingHead(n_aus)
        self.phone_out = nn.Conv1d(channels, n_phone_classes, 1)

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """mel: [B, T, n_mels] -> (smoothed [B, T, n_aus], raw [B, T, n_aus], phone_logits [B, T, P])."""
        x = self.blocks(torch.relu(self.inp(self.norm(mel.transpose(1, 2)))))  # [B, C, T]
        raw = torch.sigmoid(self.out(x))  # [B, n_aus, T]
        phone_logits = self.phone_out(x)  # [B, P, T]
        return self.head(raw).transpose(1, 2), raw.transpose(1, 2), phone_logits.transpose(1, 2)


class ExportWrapper(nn.Module):
    """ONNX entry point: ``mel`` [1, T, n_mels] -> ``aus`` [1, T, n_aus], ``raw`` [1, T, n_aus] and
    ``phone_logits`` [1, T, n_phone_classes]."""

    def __init__(self, net: AcousticNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.net(mel)
