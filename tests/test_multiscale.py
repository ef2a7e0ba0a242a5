"""Multi-scale PatchGAN, feature matching and list-aware GAN losses on known inputs."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from i2i.losses import GAN_MODES, GANLoss, feature_matching_loss, gradient_penalty
from i2i.models import MultiscaleDiscriminator, PatchDiscriminator, build_discriminator


def images(size: int, channels: int = 6, batch: int = 2) -> torch.Tensor:
    return torch.rand(batch, channels, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize("num_D, sizes", [(1, [6]), (2, [6, 2]), (3, [6, 2, 0])])
def test_multiscale_output_shapes_and_features(num_D: int, sizes: list[int]) -> None:
    # n_layers 2 on 32 px: scale k sees ceil(32 / 2**k) px -> logits of s / 4 - 2 px; 3 scales need 45 px.
    torch.manual_seed(0)
    d = build_discriminator("multiscale", in_channels=6, ndf=4, n_layers=2, num_D=num_D, norm="instance")
    if sizes[-1] == 0:
        with pytest.raises(ValueError, match=r"32x32 px images are too small for num_D=3 with n_layers=2 "
                                             r"\(needs at least 45x45\)"):
            d(images(32))
        return
    x = images(32)
    scores = d(x)
    assert isinstance(scores, list) and [s.shape for s in scores] == [(2, 1, s, s) for s in sizes]
    features = d.forward_features(x)
    assert [len(f) for f in features] == [4] * num_D  # stem, 2 blocks, logits
    assert [tuple(f.shape[1:]) for f in features[0]] == [(4, 16, 16), (8, 8, 8), (16, 7, 7), (1, 6, 6)]
    assert all(torch.equal(f[-1], s) for f, s in zip(features, scores))
    sum(s.square().mean() for s in scores).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in d.parameters())


def test_scale_k_is_a_patchgan_on_the_avg_pooled_input() -> None:
    torch.manual_seed(0)
    d = MultiscaleDiscriminator(in_channels=3, ndf=4, n_layers=2, num_D=2, norm="none")
    x = images(33, channels=3)
    pooled = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
    assert pooled.shape[-1] == 17
    scores = d(x)
    torch.testing.assert_close(scores[0], d.scales[0](x), rtol=0, atol=0)
    torch.testing.assert_close(scores[1], d.scales[1](pooled), rtol=0, atol=0)
    # count_include_pad=False: a corner averages its 4 in-image pixels only.
    torch.testing.assert_close(d.downsample(x)[..., 0, 0], x[..., :2, :2].mean((-1, -2)))


@pytest.mark.parametrize("num_D", [0, 5, -1])
def test_num_d_out_of_range(num_D: int) -> None:
    with pytest.raises(ValueError, match=f"num_D must be 1 to 4 scales, got {num_D}"):
        build_discriminator("multiscale", in_channels=3, num_D=num_D)


def test_min_input_size_is_tight() -> None:
    for n_layers, num_D in [(1, 1), (2, 3), (3, 2), (3, 3), (3, 4)]:
        d = MultiscaleDiscriminator(in_channels=1, ndf=2, n_layers=n_layers, num_D=num_D, norm="none")
        need = d.min_input_size
        assert [s.shape[-1] for s in d(torch.zeros(1, 1, need, need))][-1] == 1
        with pytest.raises(ValueError, match="too small"):
            d(torch.zeros(1, 1, need, need - 1))
    assert MultiscaleDiscriminator(in_channels=1, num_D=3).min_input_size == 93  # default n_layers 3


def test_patchgan_forward_features_is_one_scale() -> None:
    d = PatchDiscriminator(in_channels=3, ndf=4, n_layers=3)
    features = d.forward_features(images(32, channels=3))
    assert len(features) == 1 and len(features[0]) == 5
    torch.testing.assert_close(features[0][-1], d(images(32, channels=3)), rtol=0, atol=0)


def test_feature_matching_on_known_tensors() -> None:
    # Two scales of n_layers 1: two feature maps and the logits each; per term 10 * 4 / 2 * 1 / 2 = 10.
    real = [[torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 2, 2), torch.zeros(1, 1, 1, 1)],
            [torch.zeros(1, 2, 2, 2), torch.ones(1, 3, 1, 1), torch.zeros(1, 1, 1, 1)]]
    fake = [[torch.full((1, 2, 4, 4), 0.5), torch.full((1, 3, 2, 2), -1.0), torch.full((1, 1, 1, 1), 9.0)],
            [torch.full((1, 2, 2, 2), 0.25), torch.ones(1, 3, 1, 1), torch.full((1, 1, 1, 1), 9.0)]]
    # 10 * (0.5 + 1.0 + 0.25 + 0.0) = 17.5; the logits (9 vs 0) are not matched.
    assert feature_matching_loss(real, fake).item() == pytest.approx(17.5)
    assert feature_matching_loss(real, fake, weight=1.0).item() == pytest.approx(1.75)
    # pix2pixHD's averaging with n_layers 3, num_D 3: 4 maps per scale at 4 / 4 * 1 / 3 each.
    real3 = [[torch.zeros(1, 1, 2, 2)] * 5] * 3
    fake3 = [[torch.ones(1, 1, 2, 2)] * 5] * 3
    assert feature_matching_loss(real3, fake3).item() == pytest.approx(10.0 * 3 * 4 * (4 / 4) * (1 / 3))


def test_feature_matching_trains_the_generator_side_only() -> None:
    real = [[torch.zeros(1, 1, 2, 2, requires_grad=True), torch.zeros(1, 1, 1, 1)]]
    fake = [[torch.ones(1, 1, 2, 2, requires_grad=True), torch.zeros(1, 1, 1, 1)]]
    feature_matching_loss(real, fake).backward()
    assert real[0][0].grad is None and fake[0][0].grad is not None
    torch.testing.assert_close(fake[0][0].grad, torch.full((1, 1, 2, 2), 10.0 * 4 / 4))
    with pytest.raises(ValueError, match="same non-zero number of scales, got 1 real and 2 fake"):
        feature_matching_loss(real, fake * 2)


@pytest.mark.parametrize("mode", GAN_MODES)
def test_gan_losses_take_lists_as_the_mean_over_scales(mode: str) -> None:
    gan = GANLoss(mode)
    g = torch.Generator().manual_seed(1)
    real = [torch.randn(2, 1, 6, 6, generator=g), torch.randn(2, 1, 2, 2, generator=g)]
    fake = [torch.randn(2, 1, 6, 6, generator=g), torch.randn(2, 1, 2, 2, generator=g)]
    expected_d = (gan.d_loss(real[0], fake[0]) + gan.d_loss(real[1], fake[1])) / 2
    expected_g = (gan.g_loss(fake[0]) + gan.g_loss(fake[1])) / 2
    torch.testing.assert_close(gan.d_loss(real, fake), expected_d)
    torch.testing.assert_close(gan.g_loss(fake), expected_g)
    torch.testing.assert_close(gan.g_loss(fake[:1]), gan.g_loss(fake[0]), rtol=0, atol=0)
    torch.testing.assert_close(gan.real_fake(tuple(real), True),
                               (gan.real_fake(real[0], True) + gan.real_fake(real[1], True)) / 2)


def test_gradient_penalty_is_the_mean_over_scales() -> None:
    # Scale k: D_k(x) = sum(w_k * x) with |w_k| = 2 and 3 -> penalties 10 * 1 and 10 * 4; mean 25.
    w = [torch.full((1, 1, 2, 2), 1.0), torch.full((1, 1, 2, 2), 1.5)]
    critic = lambda x: [(x * wk).flatten(1).sum(1) for wk in w]  # noqa: E731
    real, fake = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)
    assert gradient_penalty(critic, real, fake, weight=10.0).item() == pytest.approx(25.0)


def test_gradient_penalty_of_a_multiscale_discriminator_reaches_every_scale() -> None:
    torch.manual_seed(0)
    d = MultiscaleDiscriminator(in_channels=3, ndf=4, n_layers=2, num_D=2, norm="none")
    real, fake = images(24, channels=3), images(24, channels=3).flip(0)
    torch.manual_seed(3)
    penalty = gradient_penalty(d, real, fake)
    per_scale = []
    for k in range(2):
        torch.manual_seed(3)  # the same interpolates
        per_scale.append(gradient_penalty(lambda x, k=k: d(x)[k], real, fake))
    torch.testing.assert_close(penalty, (per_scale[0] + per_scale[1]) / 2)
    penalty.backward()  # (biases drop out of an input gradient; every weight is in it)
    weights = [(name, p) for name, p in d.named_parameters() if name.endswith("weight")]
    assert {name.split(".")[1] for name, _ in weights} == {"0", "1"}
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for _, p in weights)
