"""The fitted splat-twin file (rigs.splat_twin: save_fitted, load_fitted, FittedTwin.apply): versions,
quantisation, the head/twin key, and what applying it changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rigs import splat_twin


def _fitted(n: int, seed: int = 0, grey: bool = True) -> splat_twin.FittedTwin:
    rng = np.random.default_rng(seed)
    sh = rng.uniform(-0.5, 0.5, (n, 3, 1 if grey else 3))
    return splat_twin.FittedTwin(rng.uniform(0, 1, (n, 3)), rng.uniform(0, 1, n),
                                 rng.uniform(-2, 0.8, (n, 3)), rng.uniform(-0.9, 0.9, (n, 3)),
                                 np.broadcast_to(sh, (n, 3, 3)).copy())


def test_version_2_round_trip_within_the_quantisation_steps(tmp_path: Path) -> None:
    want = _fitted(500)
    path = tmp_path / "twin.npz"
    splat_twin.save_fitted(path, want, "abc", 500, "note", seed=3)
    got = splat_twin.load_fitted("abc", 500, 3, path)
    assert got is not None and got.sh_rest is not None and want.sh_rest is not None
    assert np.abs(got.rgb - want.rgb).max() <= 0.5 / 255 + 1e-6
    assert np.abs(got.opacities - want.opacities).max() <= 0.5 / 255 + 1e-6
    assert np.abs(got.log_scale_deltas - want.log_scale_deltas).max() <= splat_twin.LOG_SCALE_STEP / 2 + 1e-6
    assert np.abs(got.offsets - want.offsets).max() <= splat_twin.OFFSET_STEP / 2 + 1e-6
    assert np.abs(got.sh_rest - want.sh_rest).max() <= splat_twin.SH_STEP / 2 + 1e-6
    with np.load(path) as data:
        assert int(data["format"]) == splat_twin.FITTED_FORMAT == 2
        assert data["sh_rest"].shape == (500, 3, 1)  # one grey coefficient set per Gaussian


def test_steps_are_read_from_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    want = _fitted(40)
    monkeypatch.setattr(splat_twin, "OFFSET_STEP", 1.0 / 128.0)
    splat_twin.save_fitted(tmp_path / "t.npz", want, "h", 40, "")
    monkeypatch.setattr(splat_twin, "OFFSET_STEP", 1.0 / 8.0)  # a later version writes coarser steps
    got = splat_twin.load_fitted("h", 40, 0, tmp_path / "t.npz")
    assert got is not None and got.offsets is not None and want.offsets is not None
    assert np.abs(got.offsets - want.offsets).max() <= 0.5 / 128.0 + 1e-6


def test_coloured_sh_is_stored_per_channel(tmp_path: Path) -> None:
    want = _fitted(50, grey=False)
    splat_twin.save_fitted(tmp_path / "t.npz", want, "h", 50, "")
    got = splat_twin.load_fitted("h", 50, 0, tmp_path / "t.npz")
    assert got is not None and got.sh_rest is not None and want.sh_rest is not None
    assert np.abs(got.sh_rest - want.sh_rest).max() <= splat_twin.SH_STEP / 2 + 1e-6


def test_other_head_count_seed_or_newer_format_fall_back(tmp_path: Path) -> None:
    path = tmp_path / "twin.npz"
    splat_twin.save_fitted(path, _fitted(10), "abc", 10, "", seed=0)
    assert splat_twin.load_fitted("abd", 10, 0, path) is None
    assert splat_twin.load_fitted("abc", 11, 0, path) is None
    assert splat_twin.load_fitted("abc", 10, 1, path) is None
    assert splat_twin.load_fitted("abc", 10, 0, tmp_path / "missing.npz") is None
    with np.load(path) as data:
        fields = dict(data)
    fields["format"] = np.array(splat_twin.FITTED_FORMAT + 1)
    np.savez(path, **fields)
    assert splat_twin.load_fitted("abc", 10, 0, path) is None


def test_version_1_files_give_colours_only(tmp_path: Path) -> None:
    path = tmp_path / "v1.npz"
    rgb = np.array([[0, 128, 255], [10, 20, 30]], np.uint8)
    np.savez(path, rgb=rgb, head_hash=np.array("h"), count=np.array(2), seed=np.array(0), note=np.array(""))
    got = splat_twin.load_fitted("h", 2, 0, path)
    assert got is not None and np.allclose(got.rgb, rgb / 255.0)
    assert got.opacities is None and got.offsets is None
    assert got.log_scale_deltas is None and got.sh_rest is None


def test_apply_changes_the_sample_and_binding_and_gives_sh() -> None:
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0.2]], np.float64)
    tris = np.array([[0, 1, 2], [1, 3, 2]])
    sample = splat_twin.sample_twin(verts, tris, np.zeros(2, np.int64), count=20)
    fit = _fitted(20)
    means, scales = np.zeros((20, 3), np.float32), np.ones((20, 3), np.float32)
    sh = fit.apply(sample, means, scales)
    assert fit.offsets is not None and fit.log_scale_deltas is not None and fit.opacities is not None
    assert np.allclose(means, fit.offsets) and np.allclose(scales, 1 + fit.log_scale_deltas)
    assert np.allclose(sample.opacities, fit.opacities) and np.allclose(sample.rgb, fit.rgb)
    assert sh.shape == (20, 4, 3)
    assert np.allclose(0.5 + 0.28209479177387814 * sh[:, 0], fit.rgb, atol=1e-6)
    colours_only = splat_twin.FittedTwin(fit.rgb).apply(sample, means, scales)
    assert colours_only.shape == (20, 1, 3) and np.allclose(means, fit.offsets)


def test_the_committed_fit_was_made_under_the_current_look() -> None:
    """A fit is true only to the renders it was fitted to: editing the materials, paint or studio light
    without refitting would ship a twin that no longer looks like its mesh, silently."""
    assert splat_twin.fitted_look() == splat_twin.look_fingerprint(), (
        f"{', '.join(splat_twin.LOOK_SOURCES)} changed after rigs/data/default_head_splat.npz was fitted: "
        "re-run `python -m rigs.head_build.bl_fit_splats` (about 26 min), or, if the edit changes no pixel, "
        "`python -m rigs.head_build.bl_fit_splats --restamp`")
