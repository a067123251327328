"""PLY (SH degree 0..3, binding columns) and .splat round trips; the standard 3DGS layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from blender_addon.splat import model, ply
from blender_addon.splat.binding import Binding


def _gaussians(n: int, degree: int, seed: int = 0) -> model.GaussianSet:
    rng = np.random.default_rng(seed)
    return model.GaussianSet(rng.normal(size=(n, 3)), model.normalise_quats(rng.normal(size=(n, 4))),
                             rng.normal(-3, 0.5, (n, 3)), rng.uniform(0.01, 0.99, n),
                             rng.normal(0, 0.5, (n, model.sh_count(degree), 3)))


def _header(path: Path) -> list[str]:
    raw = path.read_bytes()
    return raw[:raw.index(b"end_header")].decode().splitlines()


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_ply_round_trip_every_sh_degree(tmp_path: Path, degree: int) -> None:
    g = _gaussians(50, degree)
    path = ply.write_ply(tmp_path / "g.ply", g)
    back, binding = ply.read_ply(path)
    assert binding is None and back.sh_degree == degree
    assert np.array_equal(back.means, g.means) and np.array_equal(back.sh, g.sh)
    assert np.array_equal(back.log_scales, g.log_scales)
    assert np.allclose(back.opacities, g.opacities, atol=1e-6)
    assert np.allclose(back.quats, g.quats, atol=1e-6)
    props = [line.split()[-1] for line in _header(path) if line.startswith("property")]
    assert props == [name for name, _ in ply.ply_columns(degree)]
    assert len(props) == 17 + 3 * (model.sh_count(degree) - 1)


def test_ply_f_rest_is_channel_major(tmp_path: Path) -> None:
    g = _gaussians(1, 1)
    g.sh[0, 1:, 0], g.sh[0, 1:, 1], g.sh[0, 1:, 2] = [1, 2, 3], [4, 5, 6], [7, 8, 9]
    path = ply.write_ply(tmp_path / "g.ply", g)
    names = [line.split()[-1] for line in _header(path) if line.startswith("property")]
    raw = path.read_bytes()
    body = np.frombuffer(raw[raw.index(b"end_header\n") + 11:], "<f4")
    rest = [body[names.index(f"f_rest_{i}")] for i in range(9)]
    assert rest == [1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_ply_binding_columns_round_trip(tmp_path: Path) -> None:
    g = _gaussians(20, 0)
    rng = np.random.default_rng(1)
    b = Binding(rng.integers(0, 100, (20, 3)), rng.normal(size=(20, 3)),
                model.normalise_quats(rng.normal(size=(20, 4))), rng.normal(size=(20, 3)))
    _back, bb = ply.read_ply(ply.write_ply(tmp_path / "b.ply", g, b))
    assert bb is not None and np.array_equal(bb.tri_verts, b.tri_verts)
    assert np.array_equal(bb.local_means, b.local_means) and np.array_equal(bb.local_quats, b.local_quats)
    assert np.array_equal(bb.local_log_scales, b.local_log_scales)
    header = _header(tmp_path / "b.ply")
    assert "property int bind_v0" in header and header[2] == "element vertex 20"


def test_ascii_ply_is_read(tmp_path: Path) -> None:
    names = [n for n, _ in ply.ply_columns(0)]
    values = np.arange(len(names), dtype=float) * 0.1
    text = ["ply", "format ascii 1.0", "element vertex 1"] + [f"property float {n}" for n in names]
    (tmp_path / "a.ply").write_text("\n".join([*text, "end_header", " ".join(map(str, values))]) + "\n")
    g, _ = ply.read_ply(tmp_path / "a.ply")
    assert np.allclose(g.means[0], values[:3]) and np.allclose(g.sh[0, 0], values[6:9])


def test_splat_format_round_trip(tmp_path: Path) -> None:
    g = _gaussians(30, 2)
    back = ply.read_splat(ply.write_splat(tmp_path / "g.splat", g))
    assert back.sh_degree == 0
    assert np.array_equal(back.means, g.means)
    assert np.allclose(np.exp(back.log_scales), np.exp(g.log_scales), rtol=1e-6)
    assert np.allclose(back.opacities, g.opacities, atol=0.5 / 255 + 1e-6)
    rgb = 0.5 + model.C0 * g.sh[:, 0]
    back_rgb = np.clip(0.5 + model.C0 * back.sh[:, 0], 0, 1)
    assert np.allclose(back_rgb, np.clip(rgb, 0, 1), atol=0.5 / 255 + 1e-6)
    dots = np.abs((back.quats * model.normalise_quats(g.quats)).sum(1))
    assert dots.min() > 0.995  # 8-bit rotations
    assert (tmp_path / "g.splat").stat().st_size == 30 * 32


def test_bad_files_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(model.SplatError, match="not found"):
        ply.read_any(tmp_path / "missing.ply")
    (tmp_path / "x.ply").write_bytes(b"hello")
    with pytest.raises(model.SplatError, match="not a PLY"):
        ply.read_ply(tmp_path / "x.ply")
    (tmp_path / "m.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 1\n"
                                     b"property float x\nend_header\n\0\0\0\0")
    with pytest.raises(model.SplatError, match="missing y"):
        ply.read_ply(tmp_path / "m.ply")
    ply.write_ply(tmp_path / "t.ply", _gaussians(10, 0))
    raw = (tmp_path / "t.ply").read_bytes()
    (tmp_path / "t.ply").write_bytes(raw[:-8])
    with pytest.raises(model.SplatError, match="truncated"):
        ply.read_ply(tmp_path / "t.ply")
    (tmp_path / "s.splat").write_bytes(b"\0" * 33)
    with pytest.raises(model.SplatError, match="multiple of 32"):
        ply.read_splat(tmp_path / "s.splat")
    with pytest.raises(model.SplatError, match=r"expected \.ply or \.splat"):
        ply.read_any(tmp_path / "x.obj")
