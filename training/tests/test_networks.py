import pytest
import torch

from inspector_training.networks import NetworkConfig, PatchNetwork, PATCH_SIZES, output_stride, receptive_field

SAMPLED_PIXELS = [(0, 0), (0, 56), (30, 0), (47, 56), (13, 29), (22, 41)]


@pytest.mark.parametrize("patch_size", PATCH_SIZES)
def test_receptive_field_is_exactly_the_patch(patch_size):
    assert receptive_field(patch_size) == patch_size
    net = PatchNetwork(NetworkConfig(patch_size, width=0.25, descriptor_size=16))
    assert net(torch.zeros(1, 3, patch_size, patch_size), "patch").shape == (1, 16, 1, 1)
    with pytest.raises(RuntimeError):  # one pixel less no longer fits a whole patch
        net(torch.zeros(1, 3, patch_size - 1, patch_size - 1), "patch")


@pytest.mark.parametrize("patch_size", PATCH_SIZES)
def test_dense_equals_patch_network_centred_on_each_pixel(patch_size):
    torch.manual_seed(patch_size)
    net = PatchNetwork(NetworkConfig(patch_size, width=0.25, descriptor_size=32)).eval()
    image = torch.randn(1, 3, 48, 57)  # odd sizes on purpose
    with torch.no_grad():
        dense = net(image, "dense")
        assert dense.shape == (1, 32, 48, 57)
        padded = net.pad(image)
        for y, x in SAMPLED_PIXELS:
            patch = padded[:, :, y:y + patch_size, x:x + patch_size]  # centred on image pixel (y, x)
            single = net(patch, "patch")[0, :, 0, 0]
            assert (single - dense[0, :, y, x]).abs().max().item() <= 1e-4


@pytest.mark.parametrize("patch_size", PATCH_SIZES)
def test_strided_equals_dense_subsampled(patch_size):
    torch.manual_seed(patch_size + 1)
    net = PatchNetwork(NetworkConfig(patch_size, width=0.25, descriptor_size=32)).eval()
    image = torch.randn(2, 3, 48, 57)
    stride = output_stride(patch_size)
    with torch.no_grad():
        dense = net(image, "dense")
        strided = net(image, "strided")
        assert strided.shape[2:] == (-(-48 // stride), -(-57 // stride))
        assert (dense[:, :, ::stride, ::stride] - strided).abs().max().item() <= 1e-4
        # a sub-stride offset of the padded input shifts the strided grid by the same pixels
        dy, dx = stride - 1, stride // 2
        shifted = net.strided_padded(net.pad(image)[:, :, dy:, dx:])
        assert (dense[:, :, dy::stride, dx::stride][:, :, :shifted.shape[2], :shifted.shape[3]]
                - shifted).abs().max().item() <= 1e-4


def test_width_multiplier_scales_hidden_layers_only():
    narrow = PatchNetwork(NetworkConfig(33, width=0.5, descriptor_size=128))
    assert [c.out_channels for c in narrow.convs] == [64, 128, 128, 128]


def test_reference_sizes_and_parameter_counts():
    from inspector_training.networks import count_parameters
    counts = {p: count_parameters(PatchNetwork(NetworkConfig(p))) for p in PATCH_SIZES}
    assert counts[17] == 2_996_480  # C6/128, C5/256, C5/256, C4/128 as in the paper's table
    assert output_stride(17) == 1 and output_stride(33) == 4 and output_stride(65) == 8
