"""Benchmark outputs: a Markdown summary and PNG plots."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from . import metrics

METHOD_NAMES = {"bouclier": "bouclier", "pdq": "PDQ (HMA/StopNCII)", "pdq-dihedral": "PDQ + 8 dihedral", "phash": "pHash"}


def _secs(v) -> str:
    return "–" if v is None else f"{v:.1f} s"


def _mb(v) -> str:
    return "–" if v is None else f"{v:,.0f} MB"


def _pct(v, digits: int = 1) -> str:
    return "–" if v is None else f"{100 * v:.{digits}f} %"


def write_markdown(res: dict, path: Path) -> None:
    c = res["corpus"]
    q = c["queries"]
    lines = [
        f"Corpus: **{c['name']}** ({c['source']}), {c['photos']} photos: {c['protected']} protected "
        f"({c['calibration_protected']} for calibration), {c['distractors']} distractors never protected "
        f"({c['calibration_distractors']} for calibration). Test queries: {q['test_protected']} derivatives of "
        f"protected photos, {q['test_distractor']} of distractors. Seed {res['seed']}.",
        "",
        "| method | recall @ 1 % FA | recall @ 0.1 % FA | recall @ 0.01 % FA | right photo (top-1) |",
        "|---|---|---|---|---|",
    ]
    for m, name in METHOD_NAMES.items():
        r = res[m]["recall_at_far"]
        lines.append(f"| {name} | {_pct(r['0.01'])} | {_pct(r['0.001'])} | {_pct(r['0.0001'])} | "
                     f"{_pct(res[m]['right_photo_accuracy'])} |")
    ops_b = res["bouclier"].get("operating_points", {})
    n_cal = ops_b.get("0.001", {}).get("calibration_negatives")
    short = [f"{float(f) * 100:g} %" for f in metrics.FAR_LEVELS if ops_b.get(f, {}).get("certified") is False]
    lines += ["", f"Thresholds come from the calibration split ({n_cal} negatives): the lowest one whose "
              f"false-alarm rate there is within the level with {metrics.CONFIDENCE * 100:g} % confidence (one-sided "
              "Clopper-Pearson)" + (f"; at {', '.join(short)} even no false alarm in that many negatives cannot show "
                                    "the rate, so the threshold sits above all of them" if short else "")
              + ". False alarms they gave on the test split, and the "
              "recall reached when the threshold is set on the test split itself at the same rate:", "",
              "| method | false alarms @ 1 % / 0.1 % / 0.01 % | recall, threshold set on test @ 1 % / 0.1 % / 0.01 % |",
              "|---|---|---|"]
    for m, name in METHOD_NAMES.items():
        ops, oracle = res[m].get("operating_points", {}), res[m].get("recall_at_far_test_thresholds", {})
        fa = " / ".join(_pct(ops.get(f, {}).get("false_alarm_rate"), 2) for f in metrics.FAR_LEVELS)
        lines.append(f"| {name} | {fa} | " + " / ".join(_pct(oracle.get(f)) for f in metrics.FAR_LEVELS) + " |")
    for m in ("pdq", "pdq-dihedral"):
        a = res[m]["at_distance_31"]
        lines.append(f"\n{METHOD_NAMES[m]} at distance ≤ 31 (no calibration): recall {_pct(a['recall'])}, "
                     f"false alarms {_pct(a['false_alarm_rate'])} per query.")
    n_fa = q["test_distractor"] + q["test_protected"]
    lines.append(f"\nFalse-alarm resolution: 1 in {n_fa} test queries; a rate below {1 / max(n_fa, 1):.5f} "
                 "cannot be distinguished from zero on this corpus.")
    b = res["bouclier"]
    lines += ["", "Recall at 0.1 % false alarms, by edited area:", "",
              "| edited area | " + " | ".join(METHOD_NAMES.values()) + " |", "|---|" + "---|" * len(METHOD_NAMES)]
    areas = sorted(b["recall_by_area"], key=float)
    for a in areas:
        lines.append(f"| {float(a):.0%} | " + " | ".join(_pct(res[m]["recall_by_area"].get(a, {}).get("recall"))
                                                        for m in METHOD_NAMES) + " |")
    lines += ["", "By transform (a query with a chain counts for each transform in it):", "",
              "| transform | n | " + " | ".join(METHOD_NAMES.values()) + " |", "|---|---|" + "---|" * len(METHOD_NAMES)]
    for t, v in b["recall_by_transform"].items():
        lines.append(f"| {t} | {v['n']} | " + " | ".join(_pct(res[m]["recall_by_transform"].get(t, {}).get("recall"))
                                                         for m in METHOD_NAMES) + " |")
    lines += ["", f"Localisation IoU (bouclier, from fingerprints only, right-photo matches of edited derivatives, "
                  f"n={b['iou_n']}): mean {b['iou_mean'] or 0:.3f}, median {b['iou_median'] or 0:.3f}.",
              f"Derivative vs near-duplicate verdict accuracy: {_pct(res['verdicts']['derivative_vs_near_duplicate_accuracy'])}."]
    s = res["speed"]
    lines += ["", "Speed (medians per photo, ms): " + ", ".join(
        f"{k} {v:.1f}" for k, v in s.items() if not k.startswith(("throughput", "fingerprint_over")) and isinstance(v, float)),
        f"Fingerprint / decode: **{s['fingerprint_over_decode']:.2f}×** (decode at reduced size, the path bouclier "
        f"uses); {s['fingerprint_over_full_decode']:.2f}× a full-size decode.",
        *_by_size(s.get("large_photo", {})),
        f"Throughput: {s['throughput_1_process_per_s']:.1f} photos/s on 1 process, "
        f"{s['throughput_2_processes_per_s']:.1f} on 2."]
    if res.get("scale"):  # absent when only the accuracy part ran
        lines += ["", "Match latency by index size (one process, one query at a time; synthetic fingerprints beyond "
                  "the real protected photos; index build = bulk load as at service start):", "",
                  "| protected photos | synthetic | match p50 | match p99 | index | index build | index bytes/photo "
                  "| RSS | peak RSS |", "|---|---|---|---|---|---|---|---|---|"]
        for n, v in res["scale"].items():
            lines.append(f"| {int(n):,} | {v['synthetic']:,} | {v['p50_ms']:.1f} ms | {v['p99_ms']:.1f} ms | "
                         f"{v.get('index', '–')} | {_secs(v.get('build_s'))} | {v.get('index_bytes_per_photo', '–')} | "
                         f"{_mb(v.get('rss_mb'))} | {_mb(v.get('peak_rss_mb'))} |")
    if "service_load" in res:
        sl = res["service_load"]
        lines.append(f"\nService on loopback (`bouclier serve`, HTTP, {sl.get('protected', 0):,} protected photos, "
                     f"synthetic beyond {min(50, sl.get('protected', 0))} real ones, {sl.get('concurrency')} clients, "
                     f"uploads are JPEG derivatives): **{sl.get('matches_per_s')} matches/s**, latency p50 "
                     f"{sl.get('p50_ms')} ms, p95 {sl.get('p95_ms')} ms, **p99 {sl.get('p99_ms')} ms** "
                     f"({sl.get('requests')} requests, {sl.get('errors')} errors, verdicts {sl.get('verdicts')}). "
                     f"Restart with the index rebuilt from the store: **{sl.get('restart_with_rebuild_s')} s** "
                     f"(filling the store over HTTP: {sl.get('populate_s')} s).")
    by = res["bytes_per_photo"]
    top = res["scale"][max(res["scale"], key=int)] if res.get("scale") else {}
    in_index = top.get("index_bytes_per_photo", by["index_in_memory_estimate"])
    lines.append(f"\nBytes per protected photo: {by['storage_fingerprint_mean']:.0f} stored (max "
                 f"{by['storage_fingerprint_max']}), about {in_index} in the in-memory descriptor index "
                 f"(plus the fingerprint itself, kept in memory for verification).")
    path.write_text("\n".join(lines) + "\n")


def write_plots(records: list[dict], res: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    test = [r for r in records if r["split"] == "test"]
    n = max(len(test), 1)
    fars = np.logspace(np.log10(max(1 / n, 1e-5)), -0.5, 40)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for m, name in METHOD_NAMES.items():
        ax.plot(fars, metrics.recall_curve(test, m, fars), label=name, lw=2 if m == "bouclier" else 1.3)
    ax.set_xscale("log")
    ax.set_xlabel("false alarms per query")
    ax.set_ylabel("recall (right protected photo)")
    ax.set_ylim(0, 1.02)
    ax.axvline(1e-3, color="grey", ls=":", lw=1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Derivative detection (test split)")
    fig.tight_layout()
    fig.savefig(out / "recall_vs_far.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    areas = sorted(res["bouclier"]["recall_by_area"], key=float)
    x = np.arange(len(areas))
    for i, (m, name) in enumerate(METHOD_NAMES.items()):
        ax.bar(x + (i - 1.5) * 0.2, [res[m]["recall_by_area"][a]["recall"] for a in areas], 0.2, label=name)
    ax.set_xticks(x, [f"{float(a):.0%}" for a in areas])
    ax.set_xlabel("area replaced (0 % = unedited copy)")
    ax.set_ylabel("recall at 0.1 % false alarms")
    ax.set_ylim(0, 1.18)  # room above the bars for a one-row legend
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.legend(fontsize=8, ncol=4, loc="upper center")
    ax.set_title("Recall vs edited area")
    fig.tight_layout()
    fig.savefig(out / "recall_vs_area.png", dpi=120)
    plt.close(fig)

    ious = [r["iou"] for r in test if "iou" in r]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.hist(ious, bins=np.linspace(0, 1, 21), color="#4062bb")
    ax.axvline(0.7, color="k", ls=":", lw=1, label="target 0.7")
    ax.set_xlabel("IoU of the localised edit (suspect frame)")
    ax.set_ylabel("queries")
    ax.legend()
    ax.set_title("Edit localisation from fingerprints alone")
    fig.tight_layout()
    fig.savefig(out / "iou_hist.png", dpi=120)
    plt.close(fig)


TARGETS = (("derivative recall at 0.1 % false alarms", lambda r: r["bouclier"]["recall_at_far"]["0.001"], ">=", 0.95),
           # the same target seen from the other side: the false alarms that threshold gave on the test split
           ("false alarms on the test split at that threshold",
            lambda r: r["bouclier"].get("operating_points", {}).get("0.001", {}).get("false_alarm_rate"), "<=", 0.001),
           ("localisation IoU (mean)", lambda r: r["bouclier"]["iou_mean"], ">=", 0.7),
           ("fingerprint time / decode time", lambda r: r["speed"]["fingerprint_over_decode"], "<=", 2.0))


def targets(res: dict) -> list[tuple[str, float | None, str, float, bool]]:
    out = []
    for name, get, op, goal in TARGETS:
        v = get(res)
        ok = v is not None and (v >= goal if op == ">=" else v <= goal)
        out.append((name, v, op, goal, ok))
    return out


def write_benchmarks(res: dict, results_md: Path, path: Path, command: str, notes: str = "") -> None:
    """BENCHMARKS.md: the latest full run, how it was made, and whether the targets are met."""
    m = res["machine"]
    runs = res.get("runs", {})
    acc = runs.get("accuracy", {})
    if not acc.get("command") and path.is_file():  # a results.json from before `runs`: keep the old header's
        head = re.search(r"Produced by `([^`]+)`", path.read_text())
        acc = {**acc, "command": head.group(1) if head else None}
    later: dict[str, list[str]] = {}
    busy: set[str] = set()  # commands that ran while other work loaded the machine beyond its cores
    for name, r in runs.items():
        if name != "accuracy" and r.get("command") and r["command"] != acc.get("command"):
            later.setdefault(r["command"], []).append(
                f"{name.replace('_', ' ')} {r['elapsed_s'] / 60:.0f} min on {r['date']}, 1-minute load average "
                f"{r.get('load_average')} at its end")
            if (r.get("load_average") or 0) > m["cores"]:
                busy.add(r["command"])
    parts = [f"`{c}` ({'; '.join(v)}" + (f"; the {m['cores']} cores were shared with other work)" if c in busy else ")")
             for c, v in later.items()]
    lines = ["# Benchmarks", "",
             f"Produced by `{acc.get('command') or command}` (bouclier {res['tool_version']}, algorithm "
             f"{res['algorithm']['name']} v{res['algorithm']['version']}), seed {res['seed']}, "
             f"in {(acc.get('elapsed_s') or res['elapsed_s']) / 60:.0f} minutes on {m['cpu']} ({m['cores']} cores, "
             f"no GPU), Python {m['python']}.",
             *([f"Scale and service-load rows from {'; '.join(parts)}, merged into the same results.json."]
               if parts else []),
             "All methods answered the same queries in the same run. Thresholds were set on the calibration "
             "split and are reported on the test split. Plots: `bench-results/recall_vs_far.png`, "
             "`recall_vs_area.png`, `iou_hist.png` (copies in `docs/benchmark/`).", "",
             "## Targets", "", "| target | measured | goal | met |", "|---|---|---|---|"]
    for name, v, op, goal, ok in targets(res):
        lines.append(f"| {name} | {'–' if v is None else f'{v:.3f}'} | {op} {goal} | {'yes' if ok else '**no**'} |")
    op = res["bouclier"].get("operating_points", {}).get("0.001", {})
    oracle = res["bouclier"].get("recall_at_far_test_thresholds", {}).get("0.001")
    if op.get("false_alarm_rate") is not None and oracle is not None:
        lines += ["", f"Recall at 0.1 % uses the threshold set on the calibration split; on the test split that "
                      f"threshold gave {_pct(op['false_alarm_rate'], 2)} false alarms. With the threshold set on the test "
                      f"split at 0.1 %, recall is {oracle:.3f}."]
    lines += ["", "## Results", "", results_md.read_text().strip(), ""]
    th = res["calibrated_thresholds"]
    lines += ["## Calibrated thresholds (shipped in `bouclier/thresholds.json`)", "",
              f"`min_score` {th['min_score']}, `min_edited_fraction` {th['min_edited_fraction']}, "
              f"`pdq_distance` {th['pdq_distance']}: {th['calibrated_by']}."
              + ("" if th.get("certified", True) else " **Not certified**: this calibration split cannot show 0.1 % "
                 "false alarms with 95 % confidence, so `--write-thresholds` does not install them."), ""]
    if notes:
        lines += [notes.strip(), ""]
    path.write_text("\n".join(lines))


def _by_size(lp: dict) -> list[str]:
    """Fingerprint vs decode for JPEGs of several sizes (decode grows with pixels, fingerprinting does not)."""
    rows = lp.get("by_size") or ([lp] if lp else [])
    if not rows:
        return []
    out = ["", "Fingerprint vs decode by photo size (JPEG q90 made from scikit-image's astronaut, one process):", "",
           "| photo | decode (DCT-scaled) | decode (full) | fingerprint | fingerprint / decode |", "|---|---|---|---|---|"]
    for r in rows:
        mp = r.get("megapixels", r.get("pixels", 0) / 1e6)
        ok = "yes" if r["fingerprint_over_decode"] <= 2 else "no"
        out.append(f"| {mp:g} MP | {r['decode_ms']:.1f} ms | {r['decode_full_ms']:.1f} ms | {r['fingerprint_ms']:.1f} ms | "
                   f"**{r['fingerprint_over_decode']:.2f}×** (≤ 2: {ok}) |")
    return out + [""]

