"""A small grid of settings per net, trained with one budget and compared on validation shapes only.

Every setting is one ``meshlearn train`` run in its own process (``--threads``, ``--quiet
--log none``, the run's ``--val-fraction`` of the training shapes held out by the seeded
stratified draw); its figure is the best validation accuracy of the run's ``metrics.jsonl``
(``val_acc``: vertices right for segmentation, shapes right for classification, template vertices
right for ``--method template`` correspondence). Beside it the table shows the epoch of that best,
the training accuracy of the last epoch (low and close to the validation figure: underfitting;
near 100% above a low validation figure: overfitting), the median seconds an epoch and the number of
weights. The grid (``GRID``) starts from ``BASE``, the defaults before tuning, and has two stages:
the learning rates, then one change at a time (width, depth, one of the net's own options) on top of
the setting picked among those. A stage's pick, and the net's, is the setting with the fewest
weights among those within ``--tolerance`` points (default 1) of the net's best validation accuracy
so far (then the higher accuracy): with three validation bodies a wider net must gain more than
that to be worth its time. ``--tolerance 0`` picks the highest.

``--test`` then runs ``meshlearn eval RUN --json`` on the picked run of each net (its ``best.pt``)
and prints the test figures; the test shapes never enter the choice. ``--defaults`` runs one
setting per net, the model's defaults (``TrainConfig``'s ``MODEL_DEFAULTS``), with no setting
flags at all: the check that the defaults reproduce what the grid picked.

Runs go to ``--out/<task>/<net>/<setting>``; a folder whose ``metrics.jsonl`` already holds the
``--epochs`` epochs and whose ``config.yaml`` equals the config its command resolves to now is
read, not trained again, so adding a setting to the grid trains only that one. ``--around-defaults
--stages 1`` tries the learning rates around the current ``MODEL_DEFAULTS`` instead (runs in
``<net>/around_defaults/``): the check on a second task of what the first one picked. One
``--cache`` folder serves all runs on one dataset; ``RUN/command.json`` records each command.

Run::

    python benchmarks/tune_nets.py --task segmentation --data D2k --cache C_seg --out T --epochs 15
    python benchmarks/tune_nets.py --task classification --data C --cache C_cls --out T --epochs 15 --around-defaults --stages 1
    python benchmarks/tune_nets.py --task segmentation --data D2k --cache C_seg --out T --epochs 15 --defaults --test
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's meshlearn
from _common import REPO, command_line, load_average, print_table  # noqa: E402

#: the flags every run of a task takes besides data, cache and out
TASK_FLAGS = {
    "segmentation": ["--task", "segmentation", "--augment", "none"],
    "classification": ["--task", "classification"],
    "correspondence": ["--task", "correspondence", "--method", "template", "--inputs", "xyz"],
}

#: per net, the settings the search starts from: the defaults before tuning (width 64, 4 blocks,
#: Adam 1e-3, the constructors' own defaults; GemCNN at the width of the reference's FAUST model,
#: PatchConvNet at its constructor's), written out so that the grid does not move when
#: ``MODEL_DEFAULTS`` does
BASE: dict[str, list[str]] = {
    "diffusionnet": ["--lr", "1e-3", "--width", "64", "--blocks", "4"],
    "gem": ["--width", "16", "--lr", "1e-3", "--blocks", "4"],
    "cheb": ["--lr", "1e-3", "--width", "64", "--blocks", "4"],
    "patch": ["--width", "32", "--lr", "1e-3", "--blocks", "4", "--net-option", "n_theta=8"],
    "spectral": ["--lr", "1e-3", "--width", "64", "--blocks", "4", "--net-option", "n_basis=8"],
}

#: per net, two stages of changes to BASE (flags of ``meshlearn train``): first the learning rates,
#: then, on top of the one picked among those, one change at a time (width, depth, one of the net's
#: own options). A coordinate search, cheap by design.
GRID: dict[str, list[list[list[str]]]] = {
    "diffusionnet": [
        [["--lr", "1e-3"], ["--lr", "3e-3"]],
        [["--width", "128"], ["--blocks", "6"]],
    ],
    "gem": [
        [["--width", "16", "--lr", "1e-3"], ["--width", "16", "--lr", "3e-3"], ["--width", "16", "--lr", "1e-2"]],
        [["--width", "32"], ["--net-option", "nonlinearity=gated"]],
    ],
    "cheb": [
        [["--lr", "1e-3"], ["--lr", "3e-3"], ["--lr", "1e-2"]],
        [["--width", "128"], ["--blocks", "6"], ["--net-option", "K=12"]],
    ],
    "patch": [
        [["--width", "32", "--lr", "1e-3"], ["--width", "32", "--lr", "3e-3"]],
        [["--width", "64"], ["--net-option", "n_theta=6"]],
    ],
    "spectral": [
        [["--lr", "1e-3"], ["--lr", "3e-3"], ["--lr", "1e-2"]],
        [["--width", "128"], ["--blocks", "6"], ["--net-option", "n_basis=16"]],
    ],
}

#: the test figures printed per task (keys of ``meshlearn eval --json``)
TEST_KEYS = {
    "segmentation": ["accuracy", "mean_iou"],
    "classification": ["accuracy", "mean_class_accuracy"],
    "correspondence": ["mean_geodesic_error_x100", "pck_0.05", "pck_0.1"],
}


def setting_name(flags: list[str]) -> str:
    """``["--lr", "3e-3", "--net-option", "K=12"]`` -> ``"lr3e-3_K12"``; ``[]`` -> ``"defaults"``."""
    parts, i = [], 0
    while i < len(flags):
        name, value = flags[i].lstrip("-"), flags[i + 1]
        parts.append(value.replace("=", "") if name == "net-option" else f"{name}{value}")
        i += 2
    return "_".join(parts) or "defaults"


def merged(base: list[str], change: list[str]) -> list[str]:
    """``base`` flags with those of ``change`` replacing the same flag (a ``--net-option`` the same name)."""
    def pairs(flags: list[str]) -> dict[str, str]:
        out = {}
        for flag, value in zip(flags[::2], flags[1::2]):
            out[f"{flag} {value.partition('=')[0]}" if flag == "--net-option" else flag] = value
        return out

    both = {**pairs(base), **pairs(change)}
    return [part for key, value in both.items() for part in (key.split(" ")[0], value)]


def read_metrics(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def resolved_config(train_args: list[str]):
    """The TrainConfig that ``meshlearn train TRAIN_ARGS`` runs with (parsed as the command line is)."""
    import typer.main

    from meshlearn.cli import app
    from meshlearn.cli.train import _OPTIONS, given_on_command_line, resolve_train_config

    command = typer.main.get_command(app).commands["train"]
    ctx = command.make_context("train", list(train_args))
    explicit = {name: ctx.params[name] for name in _OPTIONS if given_on_command_line(ctx, name)}
    return resolve_train_config(None, explicit, ctx.params["net_option"], ctx.params["fmap_option"])


def train(cmd: list[str], run: Path, epochs: int, reuse: bool) -> tuple[list[dict], bool]:
    """The run's epoch records, training it first unless a finished run is there whose
    ``config.yaml`` is the config ``cmd`` resolves to now."""
    from meshlearn.train.config import TrainConfig

    stamp = run / "command.json"
    if reuse and len(read_metrics(run)) >= epochs and (run / "best.pt").exists() and (run / "config.yaml").exists() \
            and TrainConfig.from_file(run / "config.yaml") == resolved_config(cmd[cmd.index("train") + 1:]):
        return read_metrics(run), False
    if run.exists():
        for name in ("metrics.jsonl", "last.pt", "best.pt"):
            (run / name).unlink(missing_ok=True)
    run.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    stamp.write_text(json.dumps(cmd))
    return read_metrics(run), True


def summary(records: list[dict]) -> dict:
    best = max(records, key=lambda r: r.get("val_acc", float("-inf")))
    return {
        "val": best.get("val_acc"), "epoch": best["epoch"], "train": records[-1].get("train_acc"),
        "s_epoch": statistics.median(r["time_s"] for r in records),
    }


def n_weights(run: Path) -> int:
    """Numbers in the network's state of the run's ``best.pt`` (its weights, and buffers if any)."""
    import torch

    state = torch.load(run / "best.pt", map_location="cpu", weights_only=False)["model"]
    return int(sum(v.numel() for v in state.values() if isinstance(v, torch.Tensor)))


def pick(rows: list[dict], tolerance: float) -> dict:
    """Among the rows within ``tolerance`` (a fraction) of the best validation accuracy, the one with
    the fewest weights, then the highest validation accuracy, then the earliest: a setting that
    costs more must earn it by more than the noise of a few validation shapes."""
    best = max(r["val"] for r in rows)
    close = [r for r in rows if r["val"] >= best - tolerance - 1e-12]
    return min(close, key=lambda r: (r["weights"], -r["val"], rows.index(r)))


def evaluate(run: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "meshlearn", "eval", str(run), "--json"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", choices=tuple(TASK_FLAGS), required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True, help="operator cache shared by every run on --data")
    ap.add_argument("--out", type=Path, required=True, help="folder of the runs")
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--nets", default=",".join(GRID), help="comma-separated models")
    ap.add_argument("--stages", type=int, default=2, help="stages of the grid to run (1: the learning rates only)")
    ap.add_argument("--defaults", action="store_true", help="one run per net with the model's defaults only")
    ap.add_argument("--around-defaults", action="store_true",
                    help="start the grid from the model's defaults (MODEL_DEFAULTS) instead of BASE")
    ap.add_argument("--tolerance", type=float, default=1.0,
                    help="points of validation accuracy within which the setting with fewer weights is picked")
    ap.add_argument("--test", action="store_true", help="evaluate each net's picked run on the test shapes")
    ap.add_argument("--val-fraction", default="0.1")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--seed", default="0")
    ap.add_argument("--no-reuse", action="store_true", help="train every run again")
    args = ap.parse_args(argv)

    nets = [n.strip() for n in args.nets.split(",") if n.strip()]
    unknown = [n for n in nets if n not in GRID]
    if unknown:
        raise SystemExit(f"--nets: unknown {', '.join(unknown)} (choose from {', '.join(GRID)})")
    print(f"# {command_line()}\n# load average before: {load_average()}", flush=True)
    rows: list[dict] = []

    def run_setting(net: str, chain: list[str], folder: Path) -> dict:
        name = setting_name(chain)
        run = folder / name
        base = [] if args.around_defaults or args.defaults else BASE[net]
        cmd = [sys.executable, "-m", "meshlearn", "train", *TASK_FLAGS[args.task], "--model", net,
               "--data", str(args.data), "--out", str(run), "--cache", str(args.cache),
               "--epochs", str(args.epochs), "--val-fraction", args.val_fraction, "--seed", args.seed,
               "--threads", args.threads, "--quiet", "--log", "none", *merged(base, chain)]
        records, trained = train(cmd, run, args.epochs, not args.no_reuse)
        s = summary(records)
        row = {"net": net, "setting": name, "chain": chain, **s, "weights": n_weights(run), "run": run}
        rows.append(row)
        print(f"{net:12s} {name:32s} val {s['val']:.4f} (epoch {s['epoch']}) train {s['train']:.4f} "
              f"{s['s_epoch']:.1f} s/epoch{'' if trained else ' (read)'}", flush=True)
        return row

    picked: dict[str, dict] = {}
    for net in nets:
        if args.defaults:
            picked[net] = run_setting(net, [], args.out / args.task / net)
            continue
        folder = args.out / args.task / net / ("around_defaults" if args.around_defaults else "")
        for stage in GRID[net][: args.stages]:
            chain = picked[net]["chain"] if net in picked else []
            for change in stage:
                run_setting(net, merged(chain, change), folder)
            picked[net] = pick([r for r in rows if r["net"] == net], args.tolerance / 100)
    print(f"\n# load average after: {load_average()}")
    table = [[r["net"], r["setting"] + (" *" if picked.get(r["net"]) is r else ""), f"{r['weights']:,}",
              f"{100 * r['val']:.2f}", r["epoch"], f"{100 * r['train']:.2f}", f"{r['s_epoch']:.1f}"] for r in rows]
    print(f"\n{args.task}, {args.epochs} epochs, best validation accuracy (* picked per net: the fewest weights "
          f"within {args.tolerance:g} points of the net's best)")
    print_table(["net", "setting", "weights", "val acc %", "best epoch", "train acc % (last)", "s/epoch"], table)
    if args.test:
        keys = TEST_KEYS[args.task]
        test_rows = []
        for net, r in picked.items():
            result = evaluate(r["run"])
            test_rows.append([net, r["setting"], *[_fmt(k, result.get(k)) for k in keys], f"{100 * r['val']:.2f}",
                              f"{100 * r['train']:.2f}"])
        print(f"\n{args.task}, test shapes, the picked run of each net (meshlearn eval RUN --json)")
        print_table(["net", "setting", *keys, "val acc %", "train acc % (last)"], test_rows)


def _fmt(key: str, value) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if key.startswith("mean_geodesic") else f"{100 * value:.2f}%"


if __name__ == "__main__":
    main()
