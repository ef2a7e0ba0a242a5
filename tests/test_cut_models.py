"""CUT's networks: anti-aliased layers, generator feature taps, CUT checkpoints and PatchNCE against CUT's code."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import i2i
from i2i.export import export_generator
from i2i.losses.patchnce import PatchSampler, patch_nce_loss, sample_patch_ids
from i2i.models import build_discriminator, build_generator, discriminator_from_reference_state_dict
from i2i.models.layers import Downsample, Upsample
from i2i.models.reference import generator_from_reference_file, load_reference_file, patch_sampler_from_cut_state_dict

FIXTURES = Path(__file__).parent / "fixtures" / "cut"
GENERATOR = FIXTURES / "cut_resnet_9blocks_ngf8_antialias"
PATCHNCE = FIXTURES / "cut_patchnce_ngf8"
NCE_LAYERS = [0, 4, 8, 12, 16]


def load(path: Path) -> torch.Tensor:
    return torch.load(path, weights_only=True)


def cut_generator() -> torch.nn.Module:
    generator, _ = generator_from_reference_file(GENERATOR / "latest_net_G.pth")
    return generator


def test_cut_checkpoint_is_detected_and_reproduces_cut_output() -> None:
    generator, config = generator_from_reference_file(GENERATOR / "latest_net_G.pth")
    assert config == {"name": "resnet_9blocks", "in_channels": 3, "out_channels": 3, "ngf": 8, "norm": "instance",
                      "use_dropout": False, "antialias": True}
    x, expected = load(GENERATOR / "input.pt"), load(GENERATOR / "output_eval.pt")
    assert x.shape == (1, 3, 64, 80)
    with torch.no_grad():
        assert (generator(x) - expected).abs().max().item() <= 2e-5
        # The same file through the user-facing loader (what --ckpt uses).
        assert (i2i.load_generator(GENERATOR / "latest_net_G.pth")(x) - expected).abs().max().item() <= 2e-5


def test_cut_files_given_to_the_wrong_loader_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="it looks like CUT's PatchNCE projection head"):
        generator_from_reference_file(PATCHNCE / "latest_net_F.pth")
    with pytest.raises(ValueError, match="not a pix2pix/CycleGAN discriminator \\(it looks like a generator\\)"):
        discriminator_from_reference_state_dict(load_reference_file(GENERATOR / "latest_net_G.pth"))
    broken = load_reference_file(GENERATOR / "latest_net_G.pth")
    broken.pop("model.30.weight")
    with pytest.raises(ValueError, match="no 7x7 output conv model.30"):
        i2i.models.generator_from_reference_state_dict(broken)


def test_patchnce_reproduces_cut_per_layer() -> None:
    meta = json.loads((PATCHNCE / "meta.json").read_text())
    generator = cut_generator()
    sampler = patch_sampler_from_cut_state_dict(load_reference_file(PATCHNCE / "latest_net_F.pth"))
    assert [head[0].in_features for head in sampler.heads] == generator.feature_channels(NCE_LAYERS) == [3, 16, 32,
                                                                                                         32, 32]
    patch_ids = load(PATCHNCE / "patch_ids.pt")
    with torch.no_grad():
        keys = sampler(generator(load(PATCHNCE / "src.pt"), layers=NCE_LAYERS), patch_ids)
        queries = sampler(generator(load(PATCHNCE / "tgt.pt"), layers=NCE_LAYERS), patch_ids)
    losses = [patch_nce_loss(q, k, temperature=meta["nce_T"]).item() for q, k in zip(queries, keys)]
    assert losses == pytest.approx(meta["per_layer_loss"], abs=meta["tolerance"])
    assert sum(losses) / len(losses) == pytest.approx(meta["nce_loss"], abs=meta["tolerance"])


def test_patchnce_negatives_and_gradients() -> None:
    torch.manual_seed(0)
    sampler = PatchSampler(in_channels=[4, 8], num_units=16)
    features = [torch.randn(3, 4, 8, 8), torch.randn(3, 8, 4, 4)]
    ids = sample_patch_ids(features, 20)
    assert [len(i) for i in ids] == [20, 16] and all(len(set(i.tolist())) == len(i) for i in ids)
    projected = sampler(features, ids)
    assert [p.shape for p in projected] == [(3, 20, 16), (3, 16, 16)]
    assert torch.allclose(projected[0].norm(dim=-1), torch.ones(3, 20), atol=1e-5)
    queries = projected[0].detach().requires_grad_(True)
    keys = (queries + 0.1 * torch.randn_like(queries)).detach().requires_grad_(True)
    per_image = patch_nce_loss(queries, keys)
    whole_batch = patch_nce_loss(queries, keys, negatives="batch")
    assert whole_batch > per_image > 0  # More negatives, a harder task.
    # One image: both ways of choosing negatives coincide.
    one_image = patch_nce_loss(queries[:1], keys[:1]).item()
    assert one_image == pytest.approx(patch_nce_loss(queries[:1], keys[:1], negatives="batch").item())
    per_image.backward()
    assert queries.grad.abs().sum() > 0 and keys.grad is None  # Keys are targets, detached as in CUT.
    # A perfect match is easier than a noisy one.
    assert patch_nce_loss(queries, queries) < per_image
    with pytest.raises(ValueError, match="negatives: unknown 'all'; valid: image, batch"):
        patch_nce_loss(queries, keys, negatives="all")


@pytest.mark.parametrize("kwargs", [{}, {"antialias": True}, {"upsample": "upsample_conv"}, {"norm": "none"}])
def test_feature_taps_follow_the_network(kwargs: dict) -> None:
    torch.manual_seed(0)
    generator = build_generator("resnet", ngf=4, n_blocks=2, **kwargs).eval()
    x = torch.randn(2, 3, 32, 32)
    count = generator.num_feature_layers
    layers = list(range(count))
    with torch.no_grad():
        taps = generator.forward_features(x, layers)
        assert torch.equal(taps[-1], generator(x))
        assert torch.equal(generator(x, layers=[-1])[0], taps[-1])
    assert [t.shape[1] for t in taps] == generator.feature_channels(layers)
    assert taps[0].shape == (2, 3, 38, 38)  # Layer 0 is the reflection pad, as in the reference's Sequential.
    # In-place activations do not overwrite earlier taps: layer 1 (the stem conv) keeps its negative values.
    assert taps[1].min() < 0
    # Requested order is kept; the run stops after the deepest requested layer.
    assert [t.shape for t in generator.forward_features(x, [5, 1])] == [taps[5].shape, taps[1].shape]
    expected_count = 4 + 2 * (3 + kwargs.get("antialias", False)) + 2 + 2 * (3 + ("upsample" in kwargs
                                                                               or "antialias" in kwargs)) + 3
    assert count == expected_count


def test_encoder_only_taps_skip_the_decoder() -> None:
    generator = build_generator("resnet", ngf=4, n_blocks=2)
    calls = []
    generator.up1.register_forward_hook(lambda *args: calls.append("up1"))
    generator.forward_features(torch.randn(1, 3, 16, 16), [0, 4, 8])
    assert calls == []


def test_tap_index_errors() -> None:
    generator = build_generator("resnet_9blocks", ngf=4, antialias=True)
    assert generator.num_feature_layers == 32  # CUT's ResnetGenerator: model.0 ... model.31.
    with pytest.raises(ValueError, match="layers: 32 is past the last layer of ResnetGenerator \\(valid: 0..31"):
        generator.feature_channels([0, 32])
    with pytest.raises(ValueError, match="names a layer twice"):
        generator.forward_features(torch.randn(1, 3, 8, 8), [4, 4])


def test_antialiased_layers_keep_constants_and_sizes() -> None:
    x = torch.full((1, 3, 10, 14), 0.5)
    assert torch.allclose(Downsample(channels=3)(x), torch.full((1, 3, 5, 7), 0.5))
    assert torch.allclose(Upsample(channels=3)(x), torch.full((1, 3, 20, 28), 0.5))
    generator = build_generator("resnet_6blocks", ngf=4, antialias=True)
    assert generator(torch.randn(1, 3, 24, 36)).shape == (1, 3, 24, 36)
    with pytest.raises(ValueError, match="'upsample_conv' cannot be combined with antialias=True"):
        build_generator("resnet_6blocks", antialias=True, upsample="upsample_conv")


def test_antialiased_patchgan_trains_every_parameter() -> None:
    plain = build_discriminator("basic", in_channels=3, ndf=4, norm="instance")
    blurred = build_discriminator("basic", in_channels=3, ndf=4, norm="instance", antialias=True)
    assert sorted(k for k in blurred.state_dict() if k.endswith("filt")) == [
        "blocks.0.downsample.filt", "blocks.1.downsample.filt", "stem.downsample.filt"]
    x = torch.randn(2, 3, 64, 64)
    assert blurred(x).shape == plain(x).shape == (2, 1, 6, 6)
    blurred(x).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in blurred.parameters())


def test_antialiased_export_round_trip(tmp_path: Path) -> None:
    generator, config = generator_from_reference_file(GENERATOR / "latest_net_G.pth")
    kwargs = {key: value for key, value in config.items() if key != "name"}
    export_generator(generator, tmp_path / "G", architecture=config["name"], kwargs=kwargs, direction="AtoB")
    loaded = i2i.load_generator(tmp_path / "G")
    x = load(GENERATOR / "input.pt")
    with torch.no_grad():
        assert torch.equal(loaded(x), generator(x))


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_cut_generator_exports_to_onnx_and_pt2(tmp_path: Path, fmt: str) -> None:
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    from i2i.export import load_generator_with_config
    from i2i.inference.export_formats import export_model

    generator, config = load_generator_with_config(GENERATOR / "latest_net_G.pth")
    report = export_model(generator, config, tmp_path / f"cut.{fmt}", fmt)
    assert report.max_abs_diff and max(report.max_abs_diff.values()) < 1e-4  # Per checked input shape.
