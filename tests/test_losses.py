"""GAN objectives and pixel losses on known inputs."""
import math

import pytest
import torch

from i2i.losses import GANLoss, cycle_loss, gradient_penalty, identity_loss, l1_loss


def test_vanilla_is_bce_on_logits():
    gan = GANLoss("vanilla")
    zeros = torch.zeros(2, 1, 3, 3)
    # sigmoid(0) = 0.5 -> BCE = ln 2 for either label.
    assert gan.real_fake(zeros, True).item() == pytest.approx(math.log(2))
    assert gan.d_loss(zeros, zeros).item() == pytest.approx(math.log(2))  # 0.5 * (ln2 + ln2)
    big = torch.full((1, 1, 2, 2), 20.0)
    assert gan.g_loss(big).item() == pytest.approx(0.0, abs=1e-8)


def test_lsgan_is_mse_to_labels():
    gan = GANLoss("lsgan")
    real, fake = torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 2, 2), 0.25)
    assert gan.d_loss(real, fake).item() == pytest.approx(0.5 * (0.25 + 0.0625))
    assert gan.g_loss(fake).item() == pytest.approx(0.5625)


def test_hinge_and_wgan():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    hinge = GANLoss("hinge")
    assert hinge.d_loss(real, fake).item() == pytest.approx(0.5 * ((0 + 0.5) / 2 + (0 + 1.0) / 2))
    assert hinge.g_loss(fake).item() == pytest.approx(1.0)
    wgan = GANLoss("wgangp")
    assert wgan.d_loss(real, fake).item() == pytest.approx(0.5 * (-1.25 + -1.0))
    assert wgan.g_loss(fake).item() == pytest.approx(1.0)


def test_unknown_gan_mode():
    with pytest.raises(ValueError, match="valid: vanilla, lsgan, hinge, wgangp"):
        GANLoss("wgan")


def test_gradient_penalty_of_linear_critic():
    # D(x) = sum(w * x) has gradient w everywhere: penalty = weight * (|w| - 1)^2.
    w = torch.full((1, 1, 2, 2), 1.0)  # |w| = 2
    critic = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731
    real, fake = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)
    assert gradient_penalty(critic, real, fake, weight=10.0).item() == pytest.approx(10.0)


def test_reconstruction_losses():
    a, b = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    assert l1_loss(a, b).item() == pytest.approx(0.5)
    assert cycle_loss(a, b, 10.0).item() == pytest.approx(5.0)
    assert identity_loss(a, b, 10.0, 0.5).item() == pytest.approx(2.5)
