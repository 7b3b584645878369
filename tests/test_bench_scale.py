"""The scale part of the benchmark on a tiny index, and BENCHMARKS.md from a merged results.json."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from bouclier.bench.report import write_benchmarks, write_markdown
from bouclier.bench.scale import run_scale, synthetic
from bouclier.fingerprint import Query
from bouclier.load import load_array
from bouclier.signals import keypoints as K


def test_every_synthetic_photo_stays_indexed(monkeypatch):
    monkeypatch.setattr(K, "FLAT_LIMIT", 2_000)
    real = synthetic(np.random.default_rng(1), 5)
    real = [r.__class__(f"real-{i}", r.sha256, r.width, r.height, r.signals) for i, r in enumerate(real)]
    rng = np.random.default_rng(2)
    q = Query.compute(load_array(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8), name="q"))
    out = run_scale(real, [q], [10, 60])
    assert set(out) == {"10", "60"}
    assert out["60"]["protected"] == 60 and out["60"]["synthetic"] == 55 and out["60"]["index"].startswith("ivf")
    assert out["60"]["index_bytes_per_photo"] == 128 * (16 + 8 + 4 + 1)  # all 60 photos, each 128 rows
    assert out["10"]["index"] == "flat" and out["60"]["p99_ms"] >= out["60"]["p50_ms"] > 0


def test_benchmarks_md_names_the_command_of_each_part(tmp_path):
    res = _minimal_results()
    res["runs"] = {"accuracy": {"command": "bouclier bench --seed 1", "elapsed_s": 1200, "date": "d"},
                   "scale": {"command": "bouclier bench --only scale --resume r.json", "elapsed_s": 600,
                             "date": "d", "load_average": 3.0}}
    md = tmp_path / "results.md"
    write_markdown(res, md)
    bm = tmp_path / "BENCHMARKS.md"
    write_benchmarks(res, md, bm, "ignored")
    text = bm.read_text()
    assert "Produced by `bouclier bench --seed 1`" in text and "in 20 minutes" in text
    assert "`bouclier bench --only scale --resume r.json` (scale 10 min" in text
    assert "| 1,000,000 | 999,000 | 250.0 ms | 300.0 ms | ivf45254 |" in text
    assert "Restart with the index rebuilt from the store: **20.5 s**" in text


def test_a_calibrated_recall_is_not_met_when_its_test_false_alarms_exceed_the_goal(tmp_path):
    res = _minimal_results()
    res["bouclier"]["operating_points"] = {"0.001": {"false_alarm_rate": 0.0032}}
    res["bouclier"]["recall_at_far_test_thresholds"] = {"0.001": 0.911}
    md, bm = tmp_path / "results.md", tmp_path / "BENCHMARKS.md"
    write_markdown(res, md)
    write_benchmarks(res, md, bm, "bouclier bench")
    text = bm.read_text()
    assert "| derivative recall at 0.1 % false alarms | 1.000 | >= 0.95 | yes |" in text
    assert "| false alarms on the test split at that threshold | 0.003 | <= 0.001 | **no** |" in text
    assert "that threshold gave 0.32 % false alarms" in text and "recall is 0.911" in text


def test_results_md_of_the_accuracy_part_alone(tmp_path):
    res = _minimal_results()
    del res["scale"], res["service_load"]  # `bench --only accuracy`: scale and service come later (--resume)
    md = tmp_path / "results.md"
    write_markdown(res, md)
    text = md.read_text()
    assert "| bouclier | 100.0 % |" in text and "Match latency by index size" not in text
    assert "about 2720 in the in-memory descriptor index" in text


def test_only_without_resume_is_a_clear_error():
    r = subprocess.run([sys.executable, "-c", "from bouclier.cli import app; app()", "bench", "--only", "scale"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "--resume" in r.stderr + r.stdout and "Traceback" not in r.stderr


def _minimal_results() -> dict:
    m = {"recall_at_far": {"0.01": 1, "0.001": 1, "0.0001": 1}, "right_photo_accuracy": 1, "recall_by_area": {},
         "recall_by_transform": {}, "at_distance_31": {"recall": 1, "false_alarm_rate": 0}}
    return {
        "tool_version": "0", "algorithm": {"name": "a", "version": 1}, "seed": 1,
        "machine": {"cpu": "cpu", "cores": 2, "python": "3.11"}, "elapsed_s": 1200,
        "corpus": {"name": "c", "source": "s", "photos": 3, "protected": 2, "calibration_protected": 1,
                   "distractors": 1, "calibration_distractors": 0,
                   "queries": {"test_protected": 1, "test_distractor": 1}},
        "bouclier": {**m, "iou_n": 0, "iou_mean": None, "iou_median": None}, "pdq": m, "pdq-dihedral": m, "phash": m,
        "verdicts": {"derivative_vs_near_duplicate_accuracy": 1},
        "speed": {"fingerprint_over_decode": 1.0, "fingerprint_over_full_decode": 1.0,
                  "throughput_1_process_per_s": 1.0, "throughput_2_processes_per_s": 2.0},
        "scale": {"1000000": {"p50_ms": 250.0, "p99_ms": 300.0, "synthetic": 999000, "index": "ivf45254",
                              "build_s": 100.0, "index_bytes_per_photo": 3712, "rss_mb": 9000, "peak_rss_mb": 9500}},
        "service_load": {"protected": 100000, "concurrency": 2, "matches_per_s": 3.0, "p50_ms": 500, "p95_ms": 700,
                         "p99_ms": 800, "requests": 300, "errors": 0, "verdicts": {}, "restart_with_rebuild_s": 20.5,
                         "populate_s": 100},
        "bytes_per_photo": {"storage_fingerprint_mean": 3705, "storage_fingerprint_max": 3705,
                            "index_in_memory_estimate": 2720},
        "calibrated_thresholds": {"min_score": 10.0, "min_edited_fraction": 0.05, "pdq_distance": 31,
                                  "calibrated_by": "x"},
    }
