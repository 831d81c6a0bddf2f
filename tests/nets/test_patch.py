"""Geodesic patch convolution: the polar-bin operator interpolates (constants are kept, a rotated patch
is a cyclic shift of its bins), angular max pooling makes layers blind to the frame's orientation,
and the net runs on meshes, point clouds, batches and devices."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import meshlearn
from meshlearn.errors import ConfigError
from meshlearn.geometry.operators import PatchData
from meshlearn.nets import PatchConv, PatchConvNet
from meshlearn.nets.patch import patch_operator
from meshlearn.testing import bumpy_sphere, icosphere, random_rigid_motion, sphere_points

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
KINDS = frozenset({"patches", "hks"})

def _ops(shape, kinds=KINDS, dtype=torch.float32, device="cpu"):
    spec = meshlearn.OperatorSpec(operators=kinds, k=24, patch_radius=0.15, patch_max=24,
                                  dtype="float64" if dtype == torch.float64 else "float32")
    return meshlearn.compute_operators(shape, spec).to(device, dtype)


@pytest.fixture(scope="module")
def mesh_ops():
    return _ops(bumpy_sphere(2, amplitude=0.15))


def _rotated(patches: PatchData, offset: torch.Tensor) -> PatchData:
    """The same patches read in frames rotated by ``offset[i]`` at each centre i."""
    return PatchData(patches.edge_index, patches.radius, patches.angle - offset[patches.edge_index[0]], patches.max_radius)


def _with_patches(ops, patches):
    import dataclasses

    return dataclasses.replace(ops, patches=patches)


def test_operator_rows_are_normalised_interpolation_weights(mesh_ops):
    op = patch_operator(mesh_ops.patches, mesh_ops.n_verts, n_rho=3, n_theta=8)
    assert op.shape == (mesh_ops.n_verts * 24, mesh_ops.n_verts)
    sums = np.asarray(op.sum(1)).ravel()
    filled = sums > 0
    assert np.allclose(sums[filled], 1.0)
    assert filled.mean() > 0.9  # patches of 24 neighbours fill nearly every bin
    assert op.min() >= 0
    ones = op @ np.ones(mesh_ops.n_verts)  # a constant is interpolated exactly
    assert np.allclose(ones[filled], 1.0)


def test_rotating_a_patch_by_one_bin_shifts_its_bins(mesh_ops):
    N = 8
    op = patch_operator(mesh_ops.patches, mesh_ops.n_verts, n_rho=3, n_theta=N).toarray()
    shift = torch.full((mesh_ops.n_verts,), -2 * math.pi / N)  # every neighbour's angle grows by one bin
    rot = patch_operator(_rotated(mesh_ops.patches, shift), mesh_ops.n_verts, n_rho=3, n_theta=N).toarray()
    V = mesh_ops.n_verts
    op, rot = op.reshape(V, 3, N, V), rot.reshape(V, 3, N, V)
    assert np.allclose(rot, np.roll(op, 1, axis=2), atol=1e-5)


def test_layer_is_invariant_to_frame_rotations_by_whole_bins(mesh_ops):
    torch.manual_seed(0)
    layer = PatchConv(4, 5, n_rho=3, n_theta=8).double()
    x = torch.randn(mesh_ops.n_verts, 4, dtype=torch.float64)
    k = torch.randint(0, 8, (mesh_ops.n_verts,))
    patches = PatchData(mesh_ops.patches.edge_index, mesh_ops.patches.radius.double(), mesh_ops.patches.angle.double(),
                        mesh_ops.patches.max_radius)
    a = _with_patches(mesh_ops, patches)
    b = _with_patches(mesh_ops, _rotated(patches, 2 * math.pi * k.double() / 8))
    assert torch.allclose(layer(x, a), layer(x, b), atol=1e-10)


def test_layer_is_nearly_invariant_to_arbitrary_frame_rotations(mesh_ops):
    # a rotation by a fraction of a bin moves the Gaussian interpolation a little: the change is
    # small next to the output's own spread (measured: 0.05)
    torch.manual_seed(0)
    layer = PatchConv(4, 5).double()
    x = torch.randn(mesh_ops.n_verts, 4, dtype=torch.float64)
    patches = PatchData(mesh_ops.patches.edge_index, mesh_ops.patches.radius.double(), mesh_ops.patches.angle.double(),
                        mesh_ops.patches.max_radius)
    offset = torch.rand(mesh_ops.n_verts, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 * math.pi
    ya = layer(x, _with_patches(mesh_ops, patches))
    yb = layer(x, _with_patches(mesh_ops, _rotated(patches, offset)))
    assert ((ya - yb).norm() / (ya - ya.mean(0)).norm()) < 0.1


@pytest.mark.parametrize("outputs", ["vertices", "faces", "global"])
def test_forward_backward_shapes(mesh_ops, outputs):
    net = PatchConvNet(3, 4, width=8, n_layers=2, outputs=outputs)
    y = net(mesh_ops.verts, mesh_ops)
    expected = {"vertices": (mesh_ops.n_verts, 4), "faces": (mesh_ops.faces.shape[0], 4), "global": (4,)}[outputs]
    assert y.shape == expected
    y.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


def test_point_cloud_and_mixed_batch(mesh_ops):
    cloud, small = _ops(sphere_points(200)), _ops(icosphere(1))
    net = PatchConvNet(3, 2, width=8, n_layers=2)
    ys = net([mesh_ops.verts, cloud.verts, small.verts], [mesh_ops, cloud, small])
    assert [y.shape[0] for y in ys] == [mesh_ops.n_verts, 200, 42]
    assert all(torch.isfinite(y).all() for y in ys)
    sum(y.sum() for y in ys).backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


def test_hks_input_is_nearly_invariant_to_rigid_motion(mesh_ops):
    # intrinsic inputs and patches; only the frames' orientation may change, which the angular
    # max pooling absorbs up to a fraction of a bin (measured: 0, the frames move with the shape)
    moved = _ops(random_rigid_motion(bumpy_sphere(2, amplitude=0.15), seed=2))
    net = PatchConvNet(mesh_ops.hks.shape[1], 3, width=8, n_layers=2).eval()
    with torch.no_grad():
        ya, yb = net(mesh_ops.hks, mesh_ops), net(moved.hks, moved)
    assert ((ya - yb).norm() / (ya - ya.mean(0)).norm()) < 0.25


@pytest.mark.parametrize("device", DEVICES)
def test_moving_model_and_operators_to_a_device(mesh_ops, device):
    net = PatchConvNet(3, 4, width=8, n_layers=2)
    with torch.no_grad():
        ref = net(mesh_ops.verts, mesh_ops)
        ops = _ops(bumpy_sphere(2, amplitude=0.15), device=device)
        y = net.to(device)(ops.verts, ops)
    assert y.device.type == device
    assert torch.allclose(y.cpu(), ref, atol=1e-5)


def test_requires_and_bad_input(mesh_ops):
    assert PatchConvNet.requires == {"patches"}
    assert "patches" in meshlearn.OperatorSpec.for_net(PatchConvNet).operators
    bad = PatchData(mesh_ops.patches.edge_index + mesh_ops.n_verts, mesh_ops.patches.radius, mesh_ops.patches.angle, 1.0)
    with pytest.raises(ConfigError, match="reference vertex"):
        patch_operator(bad, mesh_ops.n_verts)
    with pytest.raises(ConfigError, match="positive"):
        PatchConv(2, 2, n_theta=0)
    with pytest.raises(ConfigError, match="n_layers and width"):
        PatchConvNet(3, 2, width=0)
    with pytest.raises(ConfigError, match="dropout"):
        PatchConvNet(3, 2, dropout=-0.1)
    with pytest.raises(ConfigError, match="built for 2 input channels"):
        PatchConvNet(2, 2)(mesh_ops.verts, mesh_ops)
    with pytest.raises(ConfigError, match="missing fields"):
        PatchConvNet(3, 2)(mesh_ops.verts, _with_patches(mesh_ops, None))
