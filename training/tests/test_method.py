import math
import pytest

import torch

from inspector_training import method


def test_triplet_loss_uses_the_smaller_negative_distance():
    anchor = torch.tensor([[0.0, 0.0]])
    positive = torch.tensor([[1.0, 0.0]])   # d+ = 1
    negative = torch.tensor([[0.0, 2.0]])   # |a-n|² = 4, |p-n|² = 1 + 4 = 5 → δ⁻ = 4
    assert math.isclose(method.triplet_loss(anchor, positive, negative, margin=1.0).item(), 0.0)
    negative = torch.tensor([[1.0, 1.0]])   # |a-n|² = 2, |p-n|² = 1 → δ⁻ = 1
    assert math.isclose(method.triplet_loss(anchor, positive, negative, margin=1.0).item(), 1.0)  # 1 + 1 - 1


def test_triplet_loss_averages_over_the_batch():
    a = torch.zeros(2, 1)
    p = torch.tensor([[0.0], [2.0]])  # d+ = 0, 4
    n = torch.tensor([[3.0], [3.0]])  # δ⁻ = min(9, 9) = 9 and min(9, 1) = 1
    # hinge: max(0, 1+0-9) = 0 and max(0, 1+4-1) = 4 → mean 2
    assert math.isclose(method.triplet_loss(a, p, n, margin=1.0).item(), 2.0)


def test_compactness_is_zero_for_uncorrelated_and_one_for_identical_channels():
    uncorrelated = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    assert abs(method.compactness_loss(uncorrelated).item()) < 1e-6
    identical = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    assert math.isclose(method.compactness_loss(identical).item(), 1.0, rel_tol=1e-5)
    opposite = torch.tensor([[1.0, -1.0], [2.0, -2.0], [3.0, -3.0]])
    assert math.isclose(method.compactness_loss(opposite).item(), 1.0, rel_tol=1e-5)  # |−1|: anticorrelation counts


def test_compactness_hand_computed_three_channels():
    # channels: x, x, and one orthogonal to x → pairs (0,1)=1, (0,2)=0, (1,2)=0 → mean over 6 entries = 2/6
    x = torch.tensor([1.0, -1.0, 1.0, -1.0])
    y = torch.tensor([1.0, 1.0, -1.0, -1.0])
    d = torch.stack([x, x, y], 1)
    assert math.isclose(method.compactness_loss(d).item(), 2 / 6, rel_tol=1e-5)


def test_distillation_loss_is_squared_distance():
    assert method.distillation_loss(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]])).item() == 5.0


def test_error_and_variance_hand_computed():
    # two students at one position with D = 2: S1 = (1, 0), S2 = (3, 2); target (1, 1)
    s1 = torch.tensor([1.0, 0.0]).view(1, 2, 1, 1)
    s2 = torch.tensor([3.0, 2.0]).view(1, 2, 1, 1)
    target = torch.tensor([1.0, 1.0]).view(1, 2, 1, 1)
    error, variance = method.error_and_variance([s1, s2], target)
    # mean = (2, 1): e = (2-1)² + 0 = 1; v = mean(1, 13) - (4 + 1) = 7 - 5 = 2
    assert error.shape == (1, 1, 1, 1)
    assert math.isclose(error.item(), 1.0)
    assert math.isclose(variance.item(), 2.0)


def test_normalise_teacher_per_channel():
    t = torch.tensor([2.0, 10.0]).view(1, 2, 1, 1)
    out = method.normalise_teacher(t, torch.tensor([1.0, 4.0]), torch.tensor([0.5, 3.0]))
    assert out.flatten().tolist() == [2.0, 2.0]


def test_student_loss_hard_fraction_hand_computed():
    # four positions, one channel: squared errors 1, 4, 9, 16
    student = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2)
    target = torch.zeros(1, 1, 2, 2)
    assert method.student_loss(student, target).item() == pytest.approx(7.5)        # (1+4+9+16)/4
    assert method.student_loss(student, target, 0.5).item() == pytest.approx(12.5)  # worst two: (16+9)/2
    assert method.student_loss(student, target, 0.1).item() == pytest.approx(16.0)  # at least one position
    # channels are summed per position before choosing: (1,1) has 1+9 = 10, the worst
    two = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 3.0]]])[None]
    assert method.student_loss(two, torch.zeros(1, 2, 2, 2), 0.25).item() == pytest.approx(10.0)


def test_hard_fraction_sends_gradient_only_to_the_chosen_positions():
    student = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2).requires_grad_()
    method.student_loss(student, torch.zeros(1, 1, 2, 2), 0.5).backward()
    # d/ds of (s3² + s4²)/2 = s: only the two worst positions move
    assert student.grad.flatten().tolist() == pytest.approx([0.0, 0.0, 3.0, 4.0])


def test_dense_distillation_loss_is_per_position_squared_distance():
    from inspector_training.dense_distillation import positions
    projected = torch.tensor([[[[1.0, 0.0]], [[2.0, 3.0]]]])  # (1, 2 channels, 1, 2 positions)
    target = torch.zeros_like(projected)
    assert positions(projected).tolist() == [[1.0, 2.0], [0.0, 3.0]]
    # position 1: 1² + 2² = 5, position 2: 0² + 3² = 9, mean 7
    assert method.distillation_loss(positions(projected), positions(target)).item() == 7.0


def test_linear_r2_is_one_for_a_linear_target_and_near_zero_for_an_unrelated_one():
    from inspector_training.dense_distillation import linear_r2
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 6, generator=generator)
    weights = torch.randn(6, 3, generator=generator)
    assert linear_r2(x, x @ weights + 2.0) == pytest.approx(1.0, abs=1e-3)
    # a third of the target's variance is noise the descriptors do not hold
    noisy = x @ weights / (weights.pow(2).sum(0).sqrt()) + torch.randn(4000, 3, generator=generator) * 0.5 ** 0.5
    assert linear_r2(x, noisy) == pytest.approx(2 / 3, abs=0.03)
    assert linear_r2(x, torch.randn(4000, 3, generator=generator)) == pytest.approx(0.0, abs=0.01)


def test_penalty_loss_is_the_students_squared_output_per_position():
    # two channels at two positions: 1² + 2² = 5 and 0² + 3² = 9, mean 7
    student = torch.tensor([[[[1.0, 0.0]], [[2.0, 3.0]]]]).requires_grad_()
    loss = method.penalty_loss(student)
    assert loss.item() == 7.0
    loss.backward()
    # d/ds of (Σ s²)/positions = 2s/2 = s: the student is pulled to zero, the teacher's mean on good parts
    assert student.grad.flatten().tolist() == [1.0, 0.0, 2.0, 3.0]
