"""The deep functional-map pipelines the correspondence benchmarks run side by side, behind one interface.

Letters: V vertices (``Va``, ``Vb``), D descriptor channels, K eigenpairs of the maps, C_in input
channels. A pair is (A, B); a pointwise map ``T : (Vb,) int64`` sends vertex y of B to ``T[y]`` of A
(meshlearn's convention; ULRSSM's ``p2p`` "shape y -> shape x" and DiffusionNet's
``pred_labels2to1`` are the same map with x = 1 = A, y = 2 = B).

==================  ===========  =====================================================================
name                supervision  what runs
==================  ===========  =====================================================================
``meshlearn``       none         meshlearn's ``fmap-unsupervised`` run: the DeepFunctionalMap and loss
                                 that ``meshlearn.train.fmap_model`` builds from a TrainConfig
                                 (DiffusionNet, resolvent-regularised bidirectional solver,
                                 bijectivity + orthogonality + coupling, soft maps in blocks); WKS
                                 input; matching from the soft map's functional map (ULRSSM's test)
``ulrssm``          none         ULRSSM's pieces: its DiffusionNet (``networks/diffusion_network.py``:
                                 first linear, its blocks, last linear, on operators already in
                                 memory), ``RegularizedFMNet`` bidirectional, ``SURFMNetLoss`` (w_lap
                                 0) + the alignment ``SquaredFrobeniusLoss`` on the ``Similarity``
                                 soft maps (tau 0.07) formed as dense (Va, Vb) matrices, gradient
                                 clipping at 1 as its ``optimize_parameters``; its operators
                                 (``utils/geometry_util.get_operators``, cotan Laplacian) and WKS
                                 (``compute_wks_autoscale``) on the shape centred and scaled to unit
                                 area (its ``preprocess.py``); matching as its ``validate_single``
                                 (hard ``Similarity`` -> C -> ``fmap2pointmap``)
``meshlearn-sup``   C_gt         meshlearn's ``fmap-supervised`` run (the unsupervised terms + the
                                 squared distance to the ground-truth functional map); HKS input;
                                 matching from the solver's C
``meshlearn-sup-``  C_gt         the same model trained on the supervised term alone (the other
``only``                         weights 0, so no soft maps are formed): the like-for-like of
                                 ``dn-sup``, whose loss is that term alone
``dn-sup``          C_gt         DiffusionNet's ``experiments/functional_correspondence``:
                                 ``FunctionalMapCorrespondenceWithDiffusionNetFeatures`` (k = 30
                                 fixed in its code), mean squared error to the ground-truth C from
                                 ``lstsq`` on the template points (its dataset's formula, with
                                 ``torch.linalg.lstsq`` for the removed ``torch.lstsq``), its
                                 operators and HKS on the shape scaled to unit area; matching as its
                                 ``test()`` (C -> nearest neighbours of the spectral embeddings)
==================  ===========  =====================================================================

The two unsupervised pipelines share :data:`UNSUPERVISED` (ULRSSM's FAUST widths: WKS 128 in,
width 128, 4 blocks, 256 descriptors, dropout 0.5, k_eig 128, Adam 1e-3; k = 50 here, ULRSSM's
FAUST file uses 200), the two supervised ones :data:`SUPERVISED` (DiffusionNet's: HKS 16 in, width
128, 4 blocks, 128 descriptors, dropout 0.5, k = 30, Adam 5e-4).

Every pipeline: ``prepare(shape)`` is its own preprocessing of one shape (what its data loader would
cache), ``step(pa, pb, vts_a, vts_b)`` one training step on a pair (forward of both shapes, maps,
loss, backward, optimiser step), ``match(pa, pb)`` its pointwise map T (B -> A) at test time, and
``dense_tensors(Va, Vb, what)`` the dense (Va, Vb)- or (V, V)-sized float32 tensors its code forms
(what a benchmark uses to compute, not measure, a size that would not fit).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from _common import peers_dir

__all__ = [
    "Settings", "UNSUPERVISED", "SUPERVISED", "PIPELINES", "PAIRED", "make_pipeline", "peer_problem", "body_pair",
    "dense_tensors", "FMAP_OPTIONS",
]


@dataclass(frozen=True)
class Settings:
    """What both pipelines of a comparison share."""

    k: int  # eigenpairs of the functional maps
    dim: int  # descriptor channels out of the feature network
    n_in: int  # input channels (WKS or HKS)
    width: int = 128
    n_blocks: int = 4
    dropout: float = 0.5
    k_eig: int = 128  # eigenpairs of the diffusion layers
    lr: float = 1e-3


UNSUPERVISED = Settings(k=50, dim=256, n_in=128, lr=1e-3)
SUPERVISED = Settings(k=30, dim=128, n_in=16, lr=5e-4)

#: pipeline -> (settings, supervised, input descriptor)
PIPELINES: dict[str, tuple[Settings, bool, str]] = {
    "meshlearn": (UNSUPERVISED, False, "wks"),
    "ulrssm": (UNSUPERVISED, False, "wks"),
    "meshlearn-sup": (SUPERVISED, True, "hks"),
    "meshlearn-sup-only": (SUPERVISED, True, "hks"),
    "dn-sup": (SUPERVISED, True, "hks"),
}

#: each peer and the meshlearn pipelines it is compared with
PAIRED = {"ulrssm": ("meshlearn",), "dn-sup": ("meshlearn-sup", "meshlearn-sup-only")}

#: meshlearn pipeline -> its run's ``fmap_options`` (the loss weights; ``meshlearn.train.fmap_model``)
FMAP_OPTIONS: dict[str, dict[str, float]] = {
    "meshlearn-sup-only": {"bijectivity": 0.0, "orthogonality": 0.0, "laplacian": 0.0, "coupling": 0.0},
}

#: peer pipeline -> the folders (relative to the peers folder) it puts on sys.path
_PEER_PATHS = {
    "ulrssm": ("ulrssm",),
    "dn-sup": ("diffusion-net/src", "diffusion-net/experiments/functional_correspondence"),
}



def selected_pipelines(parser, text: str) -> list[str]:
    """The pipeline names of a comma-separated ``--pipelines`` value; ``parser.error`` (exit 2)
    naming the unknown ones and the known ones."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(PIPELINES))
    if unknown:
        parser.error(f"unknown pipeline(s) {', '.join(unknown)}; known: {', '.join(PIPELINES)}")
    return names

def peer_problem(name: str) -> str:
    """Why the peer pipeline ``name`` cannot run here ("" when it can, and for meshlearn's)."""
    if name not in _PEER_PATHS:
        return ""
    root = peers_dir()
    if root is None:
        return "no peers folder (set MESHLEARN_PEERS to the folder holding ulrssm/ and diffusion-net/)"
    for rel in _PEER_PATHS[name]:
        if not (root / rel).is_dir():
            return f"{root / rel} is missing"
    return ""


def _add_peer_paths(name: str) -> None:
    root = peers_dir()
    for rel in reversed(_PEER_PATHS[name]):
        folder = str(root / rel)
        if folder not in sys.path:
            sys.path.insert(0, folder)


def make_pipeline(name: str, seed: int = 0, k: int | None = None):
    """The pipeline ``name`` (a key of :data:`PIPELINES`), its network initialised from ``seed``;
    ``k`` overrides the eigenpairs of the unsupervised maps."""
    import torch

    settings, supervised, inputs = PIPELINES[name]
    if k is not None and not supervised:
        settings = replace(settings, k=int(k))
    torch.manual_seed(seed)
    np.random.seed(seed)
    cls = _classes()[name]
    if name in _PEER_PATHS:
        why = peer_problem(name)
        if why:
            raise ImportError(why)
        _add_peer_paths(name)
    if cls is _Meshlearn:
        return cls(settings, supervised, inputs, seed, FMAP_OPTIONS.get(name, {}))
    return cls(settings, supervised, inputs, seed)


def _classes() -> dict[str, type]:
    return {"meshlearn": _Meshlearn, "meshlearn-sup": _Meshlearn, "meshlearn-sup-only": _Meshlearn, "ulrssm": _Ulrssm,
            "dn-sup": _DiffusionNetFmaps}


def dense_tensors(name: str, Va: int, Vb: int, what: str) -> list[tuple[str, int]]:
    """(description, bytes) of the dense float32 tensors of (Va, Vb) or (V, V) size that pipeline
    ``name`` forms at once in a training step (``what="train"``) or in matching (``"match"``), read
    from its code; nothing is built or run."""
    return _classes()[name].dense_tensors(Va, Vb, what)


def body_pair(n_vertices: int, seed: int = 3):
    """Two synthetic bodies of about ``n_vertices`` each (different meshing and pose) with their
    template correspondences: [(Shape, vts (T,) int64), (Shape, vts)]."""
    from meshlearn.datasets import generate_shapes

    return [(s.shape, np.asarray(s.vts, dtype=np.int64)) for s in generate_shapes(2, seed=seed, n_vertices=n_vertices, pose_amount=0.5)]


def _dense_bytes(rows: int, cols: int) -> int:
    return 4 * int(rows) * int(cols)


# ----------------------------------------------------------------------------------- meshlearn
class _Meshlearn:
    """meshlearn's fmap-unsupervised / fmap-supervised run, built as ``meshlearn train`` builds it."""

    def __init__(self, settings: Settings, supervised: bool, inputs: str, seed: int, options: dict | None = None) -> None:
        import torch

        from meshlearn.train.config import TrainConfig
        from meshlearn.train.fmap_model import build_fmap_model, fmap_loss

        s = self.settings = settings
        self.supervised, self.inputs = supervised, inputs
        self.config = TrainConfig(
            task="correspondence", method="fmap-supervised" if supervised else "fmap-unsupervised",
            model="diffusionnet", width=s.width, n_blocks=s.n_blocks, dropout=s.dropout, k=s.k_eig,
            fmap_k=s.k, fmap_dim=s.dim, lr=s.lr, seed=seed, fmap_options=dict(options or {}),
        )
        self.model = build_fmap_model(self.config, s.n_in)
        self.loss = fmap_loss(self.config)
        self.soft = any(term.name == "coupling" for term in self.loss.losses)  # soft maps only for the coupling term
        self.opt = torch.optim.Adam(self.model.parameters(), lr=s.lr)

    def prepare(self, shape) -> dict[str, Any]:
        import torch

        from meshlearn import OperatorSpec, compute_operators
        from meshlearn.nets import DiffusionNet

        n = {"n_wks": self.settings.n_in} if self.inputs == "wks" else {"n_hks": self.settings.n_in}
        spec = OperatorSpec.for_net(DiffusionNet, inputs=self.inputs, k=self.settings.k_eig, **n)
        ops = compute_operators(shape, spec).to("cpu", torch.float32)
        return {"ops": ops, "x": getattr(ops, self.inputs)}

    def step(self, pa, pb, vts_a=None, vts_b=None) -> float:
        import torch

        self.model.train()
        corr = None
        if self.supervised:
            corr = [(torch.as_tensor(vts_a), torch.as_tensor(vts_b))]
        self.opt.zero_grad()
        total, _ = self.loss(self.model(pa["x"], pa["ops"], pb["x"], pb["ops"], soft=self.soft, corr=corr))
        total.backward()
        self.opt.step()
        return float(total.detach())

    def match(self, pa, pb, source: str | None = None) -> np.ndarray:
        """``source``: the functional map that becomes T, the soft map's ("soft", ULRSSM's test; the
        unsupervised default) or the solver's ("solver"; the supervised default)."""
        from meshlearn.correspondence import match_pair

        source = source or ("solver" if self.supervised else "soft")
        T, _ = match_pair(self.model, pa["x"], pa["ops"], pb["x"], pb["ops"], source=source)
        return T.numpy()

    @staticmethod
    def dense_tensors(Va: int, Vb: int, what: str) -> list[tuple[str, int]]:
        return []  # soft maps and nearest neighbours in blocks of rows


# -------------------------------------------------------------------------------------- ULRSSM
class _Ulrssm:
    """ULRSSM's unsupervised training step and test-time matching, from its pieces."""

    def __init__(self, settings: Settings, supervised: bool, inputs: str, seed: int) -> None:
        import torch
        from losses.fmap_loss import SquaredFrobeniusLoss, SURFMNetLoss
        from networks.diffusion_network import DiffusionNet
        from networks.fmap_network import RegularizedFMNet
        from networks.permutation_network import Similarity

        s = self.settings = settings
        self.net = DiffusionNet(s.n_in, s.dim, hidden_channels=s.width, n_block=s.n_blocks, dropout=s.dropout > 0,
                                k_eig=s.k_eig, input_type="wks")
        self.fmap_net = RegularizedFMNet(bidirectional=True)  # its defaults: lmbda 100, resolvant_gamma 0.5
        self.surfmnet = SURFMNetLoss(w_bij=1.0, w_orth=1.0, w_lap=0.0)
        self.align = SquaredFrobeniusLoss(loss_weight=1.0)
        self.permutation = Similarity(tau=0.07)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=s.lr)

    def prepare(self, shape) -> dict[str, Any]:
        import torch
        from utils.geometry_util import compute_wks_autoscale, get_operators, laplacian_decomposition

        s = self.settings
        verts = np.asarray(shape.verts, dtype=np.float64)
        faces = np.asarray(shape.faces, dtype=np.int64)
        verts = verts - verts.mean(axis=0)  # its preprocess.py: centre, then unit area
        verts = verts / laplacian_decomposition(verts=verts, faces=faces, k=1)[-1]
        v, f = torch.from_numpy(verts).float(), torch.from_numpy(faces)
        _, mass, L, evals, evecs, gx, gy = get_operators(v, f, k=max(s.k_eig, s.k))
        wks = compute_wks_autoscale(evals[None], evecs[None], mass[None], n_descr=s.n_in, n_eig=s.k_eig)[0]
        k = s.k
        return {
            "x": wks[None], "mass": mass[None], "L": torch.stack([L]), "evals": evals[None, : s.k_eig],
            "evecs": evecs[None, :, : s.k_eig], "gradX": torch.stack([gx]), "gradY": torch.stack([gy]),
            "fmap_evals": evals[None, :k], "fmap_evecs": evecs[None, :, :k],
            "evecs_trans": (evecs[:, :k].T * mass[None, :])[None],
        }

    def features(self, p) -> Any:
        """Its DiffusionNet.forward after the operator look-up (which reads its disk cache)."""
        x = self.net.first_linear(p["x"])
        for block in self.net.blocks:
            x = block(x, p["mass"], p["L"], p["evals"], p["evecs"], p["gradX"], p["gradY"])
        return self.net.last_linear(x)

    def _soft_maps(self, fx, fy, bidirectional: bool):
        """Its FMNetModel.compute_permutation_matrix."""
        import torch
        import torch.nn.functional as F

        similarity = torch.bmm(F.normalize(fx, dim=-1, p=2), F.normalize(fy, dim=-1, p=2).transpose(1, 2))
        Pxy = self.permutation(similarity)
        return (Pxy, self.permutation(similarity.transpose(1, 2))) if bidirectional else Pxy

    def step(self, pa, pb, vts_a=None, vts_b=None) -> float:
        import torch

        self.net.train()
        self.permutation.hard = False
        fx, fy = self.features(pa), self.features(pb)
        Cxy, Cyx = self.fmap_net(fx, fy, pa["fmap_evals"], pb["fmap_evals"], pa["evecs_trans"], pb["evecs_trans"])
        terms = self.surfmnet(Cxy, Cyx, pa["fmap_evals"], pb["fmap_evals"])
        Pxy, Pyx = self._soft_maps(fx, fy, bidirectional=True)
        terms["l_align"] = self.align(Cxy, torch.bmm(pb["evecs_trans"], torch.bmm(Pyx, pa["fmap_evecs"])))
        terms["l_align"] = terms["l_align"] + self.align(Cyx, torch.bmm(pa["evecs_trans"], torch.bmm(Pxy, pb["fmap_evecs"])))
        total = sum(terms.values())
        self.opt.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
        self.opt.step()
        return float(total.detach())

    def match(self, pa, pb) -> np.ndarray:
        import torch
        from utils.fmap_util import fmap2pointmap

        self.net.eval()
        self.permutation.hard = True
        with torch.no_grad():
            fx, fy = self.features(pa), self.features(pb)
            Pyx = self._soft_maps(fy, fx, bidirectional=False).squeeze(0)
            Cxy = pb["evecs_trans"][0] @ (Pyx @ pa["fmap_evecs"][0])
            p2p = fmap2pointmap(Cxy, pa["fmap_evecs"][0], pb["fmap_evecs"][0])
        self.permutation.hard = False
        return p2p.numpy()

    @staticmethod
    def dense_tensors(Va: int, Vb: int, what: str) -> list[tuple[str, int]]:
        n = _dense_bytes(Va, Vb)
        if what == "train":  # Similarity.forward keeps log_alpha (for logsumexp) and alpha (for exp), both ways
            return [("Pxy: log_alpha and alpha kept for the backward pass", 2 * n),
                    ("Pyx: log_alpha and alpha kept for the backward pass", 2 * n)]
        return [("similarity, log_alpha, alpha, alpha_hard alive at once in the hard Similarity", 4 * n)]


# ----------------------------------------------------------------------- DiffusionNet's fmaps
class _DiffusionNetFmaps:
    """DiffusionNet's supervised functional-map experiment: its model, loss and test-time map."""

    def __init__(self, settings: Settings, supervised: bool, inputs: str, seed: int) -> None:
        import torch
        from fmaps_model import FunctionalMapCorrespondenceWithDiffusionNetFeatures

        s = self.settings = settings
        self.model = FunctionalMapCorrespondenceWithDiffusionNetFeatures(n_feat=s.dim, n_fmap=s.k, input_features="hks")
        self.k = self.model.n_fmap
        self.opt = torch.optim.Adam(self.model.parameters(), lr=s.lr)

    def prepare(self, shape) -> dict[str, Any]:
        import diffusion_net
        import torch

        s = self.settings
        verts = torch.tensor(np.asarray(shape.verts), dtype=torch.float32)
        faces = torch.tensor(np.asarray(shape.faces, dtype=np.int64))
        verts = diffusion_net.geometry.normalize_positions(verts, faces=faces, scale_method="area")
        frames, mass, L, evals, evecs, gx, gy = diffusion_net.geometry.compute_operators(verts, faces, k_eig=s.k_eig)
        hks = diffusion_net.geometry.compute_hks_autoscale(evals, evecs, s.n_in)
        return {"shape": [verts, faces, frames, mass, L, evals, evecs, gx, gy, hks, None]}

    def step(self, pa, pb, vts_a=None, vts_b=None) -> float:
        import torch

        self.model.train()
        ea, eb = pa["shape"][6][:, : self.k], pb["shape"][6][:, : self.k]
        C_gt = torch.linalg.lstsq(ea[torch.as_tensor(vts_a)], eb[torch.as_tensor(vts_b)]).solution.t()[None]
        C_pred, _, _ = self.model(pa["shape"], pb["shape"])
        loss = torch.mean(torch.square(C_pred - C_gt))
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def match(self, pa, pb) -> np.ndarray:
        import diffusion_net
        import torch

        self.model.eval()
        with torch.no_grad():
            C, _, _ = self.model(pa["shape"], pb["shape"])
            e1_on_2 = pa["shape"][6][:, : self.k] @ C.squeeze(0).transpose(0, 1)
            _, labels = diffusion_net.geometry.find_knn(pb["shape"][6][:, : self.k], e1_on_2, k=1, method="cpu_kd")
        return labels.squeeze(-1).numpy()

    @staticmethod
    def dense_tensors(Va: int, Vb: int, what: str) -> list[tuple[str, int]]:
        # its forward: evecs.t()[:n_fmap] @ torch.diag(mass), a dense (V, V) mass matrix per shape
        return [("torch.diag(mass) of the larger shape, (V, V)", _dense_bytes(max(Va, Vb), max(Va, Vb)))]
