"""`bouclier bench`: derivative detection, localisation, speed and scale, against PDQ and pHash.

All methods answer the same queries in one run. Thresholds are set on a calibration split and
measured on the test split. Results go to bench-results/ (JSON, Markdown, PNG plots).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from .. import bundle as bundle_mod
from ..decide import Thresholds
from ..fingerprint import Fingerprint, Query
from ..load import load_array
from ..match import algorithm_info
from . import metrics
from .corpus import load_corpus, split
from .edits import AREAS
from .protect import large_photo_speed, protect_one, stage_summary
from .queries import POLICY_SCORE, Task, init_worker, run_task

METHODS = ("bouclier", "pdq", "pdq-dihedral", "phash")


@dataclass
class Plan:
    n_protected: int
    n_cal_protected: int
    n_cal_distractors: int
    variants_protected: int  # derivatives per protected photo
    variants_distractor: int  # derivatives per distractor photo
    n_distractors: int  # distractor photos queried (all of them serve as fill donors)
    scale_sizes: tuple[int, ...]

    @classmethod
    def full(cls) -> "Plan":
        return cls(1000, 200, 80, 6, 34, 10_000, (1_000, 10_000, 100_000, 1_000_000))

    @classmethod
    def quick(cls) -> "Plan":
        return cls(60, 20, 12, 3, 6, 60, (1_000,))


def _specs(rng: np.random.Generator, n: int, areas: tuple[float, ...]) -> list[tuple[float, int]]:
    """n (area, transform count) pairs, cycling through the areas from a random start."""
    start = int(rng.integers(len(areas)))
    return [(areas[(start + i) % len(areas)], int(rng.integers(1, 4))) for i in range(n)]


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "os": platform.platform()}


PARTS = ("accuracy", "scale", "service")


def run_bench(corpus_path: Path | None, out: Path, *, quick: bool = False, seed: int = 1, workers: int = 2,
              progress=None, plan: Plan | None = None, service_load: int = 0, only: tuple[str, ...] = PARTS,
              resume: dict | None = None, scale_sizes: tuple[int, ...] | None = None, command: str = "") -> dict:
    """The benchmark; `only` some parts, merged into `resume` (a previous results.json) when the
    accuracy part is not rerun."""
    plan = plan or (Plan.quick() if quick else Plan.full())
    if scale_sizes:
        plan.scale_sizes = tuple(scale_sizes)
    if "accuracy" not in only:
        if resume is None:
            raise ValueError("running without the accuracy part needs --resume RESULTS_JSON")
        return _run_parts(corpus_path, out, plan, seed, workers, progress, service_load, only, resume, command)
    t_start = time.time()
    corpus = load_corpus(corpus_path)
    ctx = mp.get_context("spawn")
    dup_pairs, unreadable = group_near_duplicates(corpus, ctx, workers, progress)
    sp = split(corpus, n_protected=plan.n_protected, n_calibration_protected=plan.n_cal_protected,
               n_distractor_calibration=plan.n_cal_distractors, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    # 1. Protect (timed per stage), in worker processes.
    prot_photos = sp.protected
    rows = []
    with ctx.Pool(workers) as pool:
        bar = progress("protecting", len(prot_photos)) if progress else None
        for r in pool.imap(protect_one, [(p.id, str(p.path)) for p in prot_photos], chunksize=4):
            rows.append(r)
            if bar:
                bar()
    fps = [Fingerprint.from_bytes(r["fingerprint"]) for r in rows]
    bundle_bytes = bundle_mod.dumps(bundle_mod.Bundle(fps, bundle_mod.new_meta(purpose="benchmark")))
    ids = [r["id"] for r in rows]
    pdq = np.frombuffer(b"".join(r["pdq"] for r in rows), np.uint8).reshape(-1, 32)
    phash = np.frombuffer(b"".join(r["phash"] for r in rows), np.uint8).reshape(-1, 8)
    speed = stage_summary(rows)
    speed["throughput_1_process_per_s"], speed["throughput_2_processes_per_s"] = _throughput(prot_photos, ctx)
    speed["large_photo"] = large_photo_speed()

    # 2. Queries: derivatives of protected photos and of distractors, every method on each.
    cal_ids = {p.id for p in sp.calibration_protected}
    # Donor photos (patch / texture fills) are never protected: a fill cut from a protected photo
    # would make a distractor a genuine partial copy of it.
    donors = sp.distractors
    tasks = []
    for p in prot_photos:
        tasks.append(Task(p.id, str(p.path), str(p.person_mask) if p.person_mask else None, "protected",
                          "calibration" if p.id in cal_ids else "test", _donor(rng, donors, p),
                          int(rng.integers(2**31)), _specs(rng, plan.variants_protected, (0.0, *AREAS)), p.person_boxes))
    cal_d = {p.id for p in sp.calibration_distractors}
    for p in sp.distractors[: plan.n_distractors]:
        tasks.append(Task(p.id, str(p.path), str(p.person_mask) if p.person_mask else None, "distractor",
                          "calibration" if p.id in cal_d else "test", _donor(rng, donors, p),
                          int(rng.integers(2**31)), _specs(rng, plan.variants_distractor, (0.0, *AREAS)), p.person_boxes))
    records: list[dict] = []
    with ctx.Pool(workers, initializer=init_worker, initargs=(bundle_bytes, pdq, phash, ids)) as pool:
        bar = progress("querying", len(tasks)) if progress else None
        for recs in pool.imap_unordered(run_task, tasks, chunksize=1):
            records.extend(recs)
            if bar:
                bar()

    results = summarise(records, corpus, sp, plan, speed, seed)
    results["corpus"]["near_duplicate_pairs"] = dup_pairs
    results["corpus"]["unreadable"] = unreadable
    results["bytes_per_photo"] = _sizes(fps, bundle_bytes)

    results["runs"] = {"accuracy": {"command": command, "elapsed_s": None, "date": _today()}}
    _scale_and_service(results, fps, prot_photos, plan, seed, progress, service_load, only, command)
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["elapsed_s"] = results["runs"]["accuracy"]["elapsed_s"] = round(time.time() - t_start, 1)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "records.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    (out / "thresholds.json").write_text(json.dumps(results["calibrated_thresholds"], indent=2))
    from .report import write_markdown, write_plots

    write_plots(records, results, out)
    write_markdown(results, out / "results.md")
    return results


def _today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


def _scale_and_service(results, fps, prot_photos, plan, seed, progress, service_load, only, command) -> None:
    """3. Scale: latency as the index grows (synthetic fingerprints). 4. Service load on loopback."""
    from .scale import run_scale

    if "scale" in only:
        t = time.time()
        qs = [Query.compute(load_array(_sample_query(p, seed))) for p in prot_photos[:50]]
        bar = progress("scale", max(plan.scale_sizes)) if progress else None
        last = [len(fps)]

        def adv(n):
            if bar:
                bar(n - last[0])
            last[0] = n

        results["scale"] = run_scale(fps, qs, list(plan.scale_sizes), adv, seed)
        _ran(results, "scale", command, t)
    if service_load and "service" in only:
        t = time.time()
        results["service_load"] = _service_load(fps, prot_photos, service_load, seed)
        _ran(results, "service_load", command, t)


def _ran(results: dict, part: str, command: str, t0: float) -> None:
    """Record how a part was produced (BENCHMARKS.md names each part's command)."""
    results.setdefault("runs", {})[part] = {"command": command, "elapsed_s": round(time.time() - t0, 1),
                                            "date": _today(), "load_average": _loadavg()}


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 1)
    except OSError:
        return None


def _run_parts(corpus_path, out, plan, seed, workers, progress, service_load, only, resume, command) -> dict:
    """Scale and/or service load alone, on the protected photos of the resumed run, merged into it."""
    results = dict(resume)
    seed = results.get("seed", seed)
    results.setdefault("runs", {}).setdefault("accuracy", {"command": None, "elapsed_s": results.get("elapsed_s"),
                                                            "date": None})
    corpus = load_corpus(corpus_path)
    drop_unreadable(corpus, results.get("corpus", {}).get("unreadable", {}))
    _drop_near_duplicates(corpus, results.get("corpus", {}).get("near_duplicate_pairs", []))
    p = results.get("plan", {})
    sp = split(corpus, n_protected=p.get("n_protected", plan.n_protected),
               n_calibration_protected=p.get("n_cal_protected", plan.n_cal_protected),
               n_distractor_calibration=p.get("n_cal_distractors", plan.n_cal_distractors), seed=seed)
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers) as pool:
        rows = pool.map(protect_one, [(ph.id, str(ph.path)) for ph in sp.protected], chunksize=4)
    fps = [Fingerprint.from_bytes(r["fingerprint"]) for r in rows]
    results.setdefault("plan", {})["scale_sizes"] = list(plan.scale_sizes)
    _scale_and_service(results, fps, sp.protected, plan, seed, progress, service_load, only, command)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    from .report import write_markdown

    write_markdown(results, out / "results.md")
    return results


def _drop_near_duplicates(corpus, pairs) -> list[list[str]]:
    """Keep the first photo of each group that the pairs (photo ids) join; returns the pairs that joined
    two groups (sorted ids), as results.json lists them. A resumed run replays its listed pairs."""
    parent = {p.id: p.id for p in corpus.photos}

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    joined = []
    for a, b in pairs:
        if a in parent and b in parent and root(a) != root(b):
            parent[root(a)] = root(b)
            joined.append(sorted([a, b]))
    seen, kept = set(), []
    for p in corpus.photos:
        if root(p.id) not in seen:
            seen.add(root(p.id))
            kept.append(p)
    corpus.photos = kept
    return joined


def drop_unreadable(corpus, unreadable: dict[str, str]) -> None:
    """Leave out the corpus files that cannot be loaded ({photo id: reason}), with a note naming them."""
    if not unreadable:
        return
    corpus.photos = [p for p in corpus.photos if p.id not in unreadable]
    named = "; ".join(f"{k}: {v}" for k, v in sorted(unreadable.items())[:5])
    more = f"; and {len(unreadable) - 5} more (results.json)" if len(unreadable) > 5 else ""
    corpus.notes.append(f"{len(unreadable)} unreadable files left out ({named}{more})")


def group_near_duplicates(corpus, ctx, workers: int, progress=None) -> tuple[list[list[str]], dict[str, str]]:
    """Photos of the corpus that are the same picture (e.g. consecutive frames of one shot) are kept once,
    so a "distractor" is never a copy of a protected photo. Found with the engine at a strict threshold.
    Files that cannot be loaded are left out first; returns (near-duplicate pairs, {id: reason})."""
    from .queries import _dedupe_fingerprint, init_dedupe, near_duplicates_of

    with ctx.Pool(workers) as pool:
        fps = pool.map(_dedupe_fingerprint, [str(p.path) for p in corpus.photos], chunksize=8)
    unreadable = {p.id: f for p, f in zip(corpus.photos, fps) if isinstance(f, str)}
    drop_unreadable(corpus, unreadable)
    fps = [f for f in fps if not isinstance(f, str)]
    paths = [str(p.path) for p in corpus.photos]
    with ctx.Pool(workers, initializer=init_dedupe, initargs=(fps,)) as pool:
        bar = progress("corpus near-duplicates", len(paths)) if progress else None
        found = []
        for r in pool.imap(near_duplicates_of, paths, chunksize=4):
            found.append(r)
            if bar:
                bar()
    id_of = {str(p.path): p.id for p in corpus.photos}
    n = len(corpus.photos)
    pairs = _drop_near_duplicates(corpus, [(p.id, id_of[o]) for p, others in zip(corpus.photos, found) for o in others])
    if len(corpus.photos) < n:
        corpus.notes.append(f"{n - len(corpus.photos)} photos dropped as near-duplicates of others in the "
                            f"corpus (>= 25 inliers or PDQ <= 31; pairs in results.json)")
    return pairs, unreadable


def _donor(rng, photos, p):
    others = [d for d in photos if d.group != p.group]
    return str(others[int(rng.integers(len(others)))].path) if others else None


def _sample_query(p, seed) -> np.ndarray:
    from ..load import load
    from .edits import make_derivative

    from .queries import PHOTO_MAX_SIDE

    px = load(p.path, max_side=PHOTO_MAX_SIDE).pixels
    return make_derivative(px, np.random.default_rng(seed), area=0.25, n_transforms=2).pixels


def _service_load(fps, photos, n: int, seed: int) -> dict:
    """Bounded load test of `bouclier serve` on loopback with n protected photos (HTTP, real server)."""
    from ..load import encode_jpeg
    from ..service.loadtest import measure

    uploads = [encode_jpeg(_sample_query(p, seed + i)) for i, p in enumerate(photos[:50])]
    return measure(fps[:50], uploads, protected=n, requests=300, seconds=180.0, concurrency=2)


def _throughput(photos, ctx, n: int = 60) -> tuple[float, float]:
    """Protected photos per second with 1 and with 2 processes (decode + fingerprint)."""
    args = [(p.id, str(p.path)) for p in photos[:n]]
    res = []
    for procs in (1, 2):
        with ctx.Pool(procs) as pool:
            pool.map(protect_one, args[:4])  # warm up imports
            t = time.perf_counter()
            pool.map(protect_one, args, chunksize=2)
            res.append(len(args) / (time.perf_counter() - t))
    return res[0], res[1]


def _sizes(fps, bundle_bytes) -> dict:
    kp = fps[0].signals.get("orb")
    per_index = 32 + (kp.desc.shape[1] + 4 + 1) * len(kp.xy) if kp is not None else 32  # codes + ids + angle
    return {"storage_bundle": len(bundle_bytes) / len(fps),
            "storage_fingerprint_mean": float(np.mean([len(f.to_bytes()) for f in fps])),
            "storage_fingerprint_max": max(len(f.to_bytes()) for f in fps),
            "index_in_memory_estimate": per_index}


def summarise(records, corpus, sp, plan, speed, seed) -> dict:
    cal = [r for r in records if r["split"] == "calibration"]
    test = [r for r in records if r["split"] == "test"]
    res: dict = {"tool_version": __version__, "algorithm": algorithm_info(), "seed": seed, "machine": machine(),
                 "corpus": {"name": corpus.name, "source": corpus.source, "photos": len(corpus.photos),
                            "protected": len(sp.protected), "calibration_protected": len(sp.calibration_protected),
                            "distractors": min(len(sp.distractors), plan.n_distractors),
                            "calibration_distractors": len(sp.calibration_distractors),
                            "notes": corpus.notes + sp.notes,
                            "queries": {"calibration": len(cal), "test": len(test),
                                        "test_protected": sum(r["kind"] == "protected" for r in test),
                                        "test_distractor": sum(r["kind"] == "distractor" for r in test)}},
                 "plan": plan.__dict__, "speed": speed}
    for m in METHODS:
        ops = {f: metrics.operating_point(cal, test, m, float(f)) for f in metrics.FAR_LEVELS}
        res[m] = {"recall_at_far": {f: o["recall"] for f, o in ops.items()}, "operating_points": ops,
                  "recall_at_far_test_thresholds": metrics.recall_at_far_on(test, m)}
        t = ops["0.001"]["threshold"]
        t = np.inf if t is None else t
        pos = [r for r in test if r["kind"] == "protected"]
        res[m]["right_photo_accuracy"] = float(np.mean([r["methods"][m]["photo"] == r["photo"] for r in pos])) if pos else None
        res[m]["recall_by_area"] = metrics.breakdown(test, m, t, lambda r: [r["area"]])
        res[m]["recall_by_transform"] = metrics.breakdown(test, m, t, lambda r: [x.split(":")[0] for x in r["transforms"]])
        res[m]["recall_by_fill"] = metrics.breakdown(test, m, t, lambda r: [r["fill"] or "unedited"])
    # PDQ exactly as HMA / StopNCII use it: distance <= 31, no calibration.
    for m in ("pdq", "pdq-dihedral"):
        fa = metrics.false_alarm_scores(test, m) >= -31
        pos = np.array([r["kind"] == "protected" for r in test])
        res[m]["at_distance_31"] = {"recall": float(metrics.hits(test, m, -31)[pos].mean()) if pos.any() else None,
                                    "false_alarm_rate": float(fa.mean()) if len(fa) else None}
    ious = [r["iou"] for r in test if "iou" in r]
    res["bouclier"]["iou_mean"] = float(np.mean(ious)) if ious else None
    res["bouclier"]["iou_median"] = float(np.median(ious)) if ious else None
    res["bouclier"]["iou_n"] = len(ious)
    ms = np.array([[r["ms"]["query"], r["ms"]["match"]] for r in records])
    res["speed"]["query_fingerprint_ms_p50"] = float(np.percentile(ms[:, 0], 50))
    res["speed"]["match_ms_p50"] = float(np.percentile(ms[:, 1], 50))
    res["speed"]["match_ms_p99"] = float(np.percentile(ms[:, 1], 99))
    res["calibrated_thresholds"] = calibrate(cal, res)
    res["verdicts"] = verdict_accuracy(test, res["calibrated_thresholds"])
    return res


# Shipped min_score never goes below this (a few close, exact inliers), whatever a small calibration says.
MIN_SCORE_FLOOR = 1.0


def calibrate(cal: list[dict], res: dict) -> dict:
    """Engine thresholds from the calibration split (0.1 % false alarms per query, with 95 % confidence).

    `certified` says whether the split shows that rate: it needs enough negatives (about 3,000 for 0.1 %),
    and no more policy matches among them (same bytes, PDQ <= 31; no score threshold removes those)
    than the rate allows. Otherwise min_score is the strictest useful one, above every negative's score,
    or the shipped one when there are no negatives; it is never loosened to a code default.
    """
    scores = metrics.false_alarm_scores(cal, "bouclier", left_out=True)
    allowed, certified = metrics.allowed_false_alarms(len(scores), 0.001, metrics.CONFIDENCE)
    certified = certified and int((scores >= POLICY_SCORE).sum()) <= allowed
    t = metrics.threshold_at_far(scores, 0.001, metrics.CONFIDENCE)
    if t >= POLICY_SCORE:  # the strictest useful one: just above every score a threshold can still remove
        t = metrics.threshold_at_far(scores[scores < POLICY_SCORE], 0.0)
    if np.isfinite(t):
        min_score = float(np.ceil(max(t, MIN_SCORE_FLOOR) * 100) / 100)
    else:
        min_score = Thresholds.default().min_score
    # Edited-fraction cut: best balanced accuracy between unedited copies and edited derivatives.
    rows = [(r["area"] > 0, r["methods"]["bouclier"]["edited_fraction"]) for r in cal
            if r["kind"] == "protected" and r["methods"]["bouclier"]["photo"] == r["photo"]
            and r["methods"]["bouclier"]["edited_fraction"] is not None]
    best, cut = -1.0, 0.05
    if rows:
        edited = np.array([e for e, _ in rows])
        frac = np.array([f for _, f in rows])
        for c in np.linspace(0.01, 0.3, 59):
            acc = np.mean([(frac[edited] >= c).mean() if edited.any() else 1, (frac[~edited] < c).mean() if (~edited).any() else 1])
            if acc > best:
                best, cut = acc, float(c)
    return {"pdq_distance": 31, "min_score": max(min_score, MIN_SCORE_FLOOR), "min_edited_fraction": round(cut, 3),
            "certified": bool(certified),
            "candidates": Thresholds().candidates, "calibrated_by": f"bouclier bench (seed {res['seed']}, corpus {res['corpus']['name']}, "
                                               f"{len(cal)} calibration queries)"}


def verdict_accuracy(test: list[dict], th: dict) -> dict:
    """How often a right-photo match gets the right verdict kind at the calibrated thresholds."""
    ok = n = 0
    for r in test:
        b = r["methods"]["bouclier"]
        if r["kind"] != "protected" or b["photo"] != r["photo"] or b["edited_fraction"] is None:
            continue
        n += 1
        ok += (b["edited_fraction"] >= th["min_edited_fraction"]) == (r["area"] > 0)
    return {"derivative_vs_near_duplicate_accuracy": ok / n if n else None, "n": n}
