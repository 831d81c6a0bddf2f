"""GemConv: agreement with the defining sum, and gauge equivariance on synthetic and real meshes."""

import pytest
import torch

import meshlearn
from meshlearn.errors import ConfigError
from meshlearn.gauge import FeatureType, GemConv, mean_edge_weight, rotate, rotate_frames
from meshlearn.gauge.testing import assert_gauge_equivariant, random_angles, synthetic_gauge
from meshlearn.geometry.frames import tangent_frames
from meshlearn.geometry.transport import gauge_data
from meshlearn.testing import bumpy_sphere


TYPE_PAIRS = [
    (FeatureType.scalar(3), FeatureType.regular(4, 2)),
    (FeatureType.regular(3, 2), FeatureType.regular(2, 2)),
    (FeatureType.regular(3, 2), FeatureType.scalar(2)),
    (FeatureType((1, 0, 3, 2)), FeatureType((2, 1, 0, 1))),
]


def _dense_reference(conv, x, gauge, w):
    """out_p = K_self x_p + sum_q w_pq K(theta_pq) rho_in(g_qp) x_q + bias, with dense per-edge matrices."""
    ei = torch.as_tensor(gauge.edge_index)
    K = conv.kernel(gauge.angle)  # (E, D_out, D_in) from the basis at each angle
    R = conv.in_type.rho(gauge.transport)  # (E, D_in, D_in)
    msg = torch.einsum("eij,ejk,ek->ei", K, R, x[ei[1]]) * w[:, None]
    out = x @ conv.self_kernel().T
    out = out.index_add(0, ei[0], msg)
    bias = torch.zeros(conv.out_type.dim, dtype=x.dtype)
    bias[conv.out_type.scalar_mask] = conv.bias
    return out + bias


@pytest.mark.parametrize("in_type,out_type", TYPE_PAIRS)
def test_matches_the_defining_sum(in_type, out_type):
    conv = GemConv(in_type, out_type).double()
    with torch.no_grad():
        conv.bias.normal_() if conv.bias is not None else None
    gauge = synthetic_gauge(40, 5, seed=1)
    x = torch.randn(40, in_type.dim, dtype=torch.float64)
    w = mean_edge_weight(gauge.edge_index[0], 40, torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(conv(x, gauge), _dense_reference(conv, x, gauge, w), atol=1e-12, rtol=0)
        w2 = torch.rand(w.shape, dtype=torch.float64)
        torch.testing.assert_close(conv(x, gauge, w2), _dense_reference(conv, x, gauge, w2), atol=1e-12, rtol=0)


@pytest.mark.parametrize("in_type,out_type", TYPE_PAIRS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gauge_equivariant_on_synthetic_gauge(in_type, out_type, dtype):
    conv = GemConv(in_type, out_type).to(dtype)
    gauge = synthetic_gauge(60, 6, seed=2, dtype=dtype)
    x = torch.randn(60, in_type.dim, dtype=dtype)
    assert_gauge_equivariant(conv, x, gauge, in_type, out_type, seed=3)


def _real_meshes(shared):
    return [bumpy_sphere(2), meshlearn.load(shared / "clean" / "fox.ply")]


@pytest.mark.parametrize("in_type,out_type", TYPE_PAIRS)
def test_gauge_equivariant_on_real_meshes_with_recomputed_angles(in_type, out_type, shared_meshes):
    # Rotate every vertex frame by its own random angle, recompute the gauge data from the rotated
    # frames, transform the input by rho_in(-g): the output must be rho_out(-g) times the old one.
    conv = GemConv(in_type, out_type).double()
    for shape in _real_meshes(shared_meshes):
        frames = tangent_frames(shape)
        g = random_angles(shape.n_verts, seed=7)
        before = gauge_data(shape, frames=frames)
        after = gauge_data(shape, frames=rotate_frames(frames, g).numpy())
        x = torch.randn(shape.n_verts, in_type.dim, dtype=torch.float64)
        with torch.no_grad():
            y = conv(x, before)
            y_moved = conv(rotate(x, -g, in_type), after)
        err = float((y_moved - rotate(y, -g, out_type)).abs().max()) / max(1.0, float(y.abs().max()))
        assert err < 1e-5, f"{shape.name}: relative error {err:.2g}"


def test_scalar_outputs_of_scalar_inputs_are_gauge_invariant():
    t_in, t_out = FeatureType.scalar(2), FeatureType.scalar(3)
    conv = GemConv(t_in, t_out).double()
    shape = bumpy_sphere(1)
    frames = tangent_frames(shape)
    g = random_angles(shape.n_verts, seed=1)
    x = torch.randn(shape.n_verts, 2, dtype=torch.float64)
    with torch.no_grad():
        a = conv(x, gauge_data(shape, frames=frames))
        b = conv(x, gauge_data(shape, frames=rotate_frames(frames, g).numpy()))
    torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_every_parameter_gets_a_gradient():
    t_in, t_out = FeatureType.regular(2, 2), FeatureType.regular(3, 1)
    conv = GemConv(t_in, t_out)
    gauge = synthetic_gauge(20, 4, dtype=torch.float32)
    conv(torch.randn(20, t_in.dim), gauge).pow(2).sum().backward()
    for name, p in conv.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


def test_bad_inputs_get_clear_errors():
    conv = GemConv(FeatureType.scalar(2), FeatureType.regular(2, 1))
    gauge = synthetic_gauge(10, 3, dtype=torch.float32)
    with pytest.raises(ConfigError, match=r"shape \(V, 2\)"):
        conv(torch.zeros(10, 3), gauge)
    with pytest.raises(ConfigError, match="another shape"):
        conv(torch.zeros(5, 2), gauge)
    with pytest.raises(ConfigError, match="edge_weight"):
        conv(torch.zeros(10, 2), gauge, torch.ones(3))
    bad = meshlearn.geometry.operators.GaugeData(gauge.edge_index, gauge.angle[:-1], gauge.transport)
    with pytest.raises(ConfigError, match="angle"):
        conv(torch.zeros(10, 2), bad)


def test_band_limited_conv_is_still_equivariant_and_has_fewer_coefficients():
    t = FeatureType.regular(2, 2)
    full, limited = GemConv(t, t).double(), GemConv(t, t, band_limit=1).double()
    assert limited.kernel.n_basis < full.kernel.n_basis
    gauge = synthetic_gauge(30, 4, seed=6)
    assert_gauge_equivariant(limited, torch.randn(30, t.dim, dtype=torch.float64), gauge, t, t)


def _saved_bytes(conv, n_verts, degree):
    gauge = synthetic_gauge(n_verts, degree, seed=0, dtype=torch.float32)
    x = torch.randn(n_verts, conv.in_type.dim, requires_grad=True)
    seen, total = set(), [0]

    def pack(t):
        st = t.untyped_storage()
        if st.data_ptr() not in seen:
            seen.add(st.data_ptr())
            total[0] += st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        conv(x, gauge).sum()
    return total[0]


def test_memory_kept_for_backward_is_linear_in_edges_and_has_no_per_edge_kernels():
    t = FeatureType.regular(4, 2)
    conv = GemConv(t, t)
    small, double_v, double_e = _saved_bytes(conv, 500, 6), _saved_bytes(conv, 1000, 6), _saved_bytes(conv, 500, 12)
    assert 1.9 < double_v / small < 2.1 and 1.8 < double_e / small < 2.1
    # per edge: a few feature-sized rows and indices, never a (D_out, D_in) matrix per edge
    assert small / (500 * 6) < 4 * (2 * t.dim + 8)
    assert small / (500 * 6) < 4 * t.dim * t.dim / 4  # a quarter of one float32 (D, D) matrix
