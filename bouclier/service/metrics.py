"""Prometheus text-format metrics, kept in memory (no extra dependency)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(d: dict) -> str:
    if not d:
        return ""
    esc = {k: str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for k, v in d.items()}
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(esc.items())) + "}"


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.time()
        self.requests: dict[tuple, int] = defaultdict(int)  # (method, route, status)
        self.verdicts: dict[str, int] = defaultdict(int)
        self.rate_limited = 0
        self._hist = [0] * (len(BUCKETS) + 1)
        self._sum = 0.0
        self._count = 0

    def request(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1

    def match(self, verdict: str, seconds: float) -> None:
        with self._lock:
            self.verdicts[verdict] += 1
            self._sum += seconds
            self._count += 1
            for i, b in enumerate(BUCKETS):
                if seconds <= b:
                    self._hist[i] += 1
                    break
            else:
                self._hist[-1] += 1

    def limited(self) -> None:
        with self._lock:
            self.rate_limited += 1

    def render(self, index_sizes: dict[str, int], counts: dict[str, int]) -> str:
        out = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[dict, float]]) -> None:
            out.append(f"# HELP {name} {help_}\n# TYPE {name} {kind}\n")
            out.extend(f"{name}{_labels(lb)} {v}\n" for lb, v in samples)

        with self._lock:
            metric("bouclier_http_requests_total", "counter", "HTTP requests by route and status.",
                   [({"method": m, "route": r, "status": s}, n) for (m, r, s), n in sorted(self.requests.items())])
            metric("bouclier_match_verdicts_total", "counter", "Match answers by verdict.",
                   [({"verdict": v}, n) for v, n in sorted(self.verdicts.items())])
            metric("bouclier_rate_limited_total", "counter", "Requests refused by a rate limit.", [({}, self.rate_limited)])
            cum, hist = 0, []
            for b, n in zip(BUCKETS, self._hist):
                cum += n
                hist.append(({"le": b}, cum))
            hist.append(({"le": "+Inf"}, self._count))
            out.append("# HELP bouclier_match_seconds Time to answer one match (fingerprinting included).\n"
                       "# TYPE bouclier_match_seconds histogram\n")
            out.extend(f"bouclier_match_seconds_bucket{_labels(lb)} {v}\n" for lb, v in hist)
            out.append(f"bouclier_match_seconds_sum {self._sum}\nbouclier_match_seconds_count {self._count}\n")
        metric("bouclier_index_fingerprints", "gauge", "Fingerprints in the in-memory index, per bank.",
               [({"bank": b}, n) for b, n in sorted(index_sizes.items())])
        for k, v in counts.items():
            metric(f"bouclier_{k}", "gauge", f"{k.replace('_', ' ').capitalize()} in the store.", [({}, v)])
        metric("bouclier_uptime_seconds", "gauge", "Seconds since the server started.", [({}, round(time.time() - self.started, 3))])
        return "".join(out)
