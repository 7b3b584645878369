"""The in-memory matching index: one engine Matcher per bank, behind one lock.

Rebuilt from the store at start (a bulk load: one index build per bank, on every core); then
follows submits (added after commit) and withdrawals (removed before commit, restored if the commit
fails), so a withdrawn fingerprint can never match once its DELETE has been answered. Keys are
fingerprint uids, never reused; `_dead` remembers removed uids so that a late `add` (a submit racing
its own withdrawal) cannot resurrect one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from . import engine


@dataclass(frozen=True)
class Entry:
    uid: str
    bank: str
    case_id: str | None  # None for imported hashes
    position: int
    source: str
    fp: engine.Fingerprint


@dataclass
class _Bank:
    matcher: engine.Matcher
    enabled: bool
    thresholds: dict | None


class Index:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._banks: dict[str, _Bank] = {}
        self._entries: dict[str, Entry] = {}
        self._dead: set[str] = set()
        self._empty: engine.Matcher | None = None

    def configure_bank(self, name: str, enabled: bool, thresholds: dict | None) -> None:
        """Create or reconfigure a bank (a threshold change keeps the bank's index: only the cuts change)."""
        with self._lock:
            b = self._banks.get(name)
            if b is None:
                self._banks[name] = _Bank(engine.new_matcher(thresholds), enabled, thresholds)
            else:
                if b.thresholds != thresholds:
                    b.matcher.thresholds = engine.bank_thresholds(thresholds)
                b.enabled, b.thresholds = enabled, thresholds

    def add(self, entries: list[Entry], flush: bool = True) -> None:
        """Index entries; `flush`: in this call (a submit), else at the next match or `settle` (bulk)."""
        with self._lock:
            banks = set()
            for e in entries:
                if e.uid in self._dead:
                    continue
                self._banks[e.bank].matcher.add(e.uid, e.fp)
                self._entries[e.uid] = e
                banks.add(e.bank)
            for name in banks if flush else ():
                self._banks[name].matcher.flush()

    def remove(self, uids: list[str]) -> list[Entry]:
        """Remove now; returns what was removed (for `restore` if the store then fails)."""
        out = []
        with self._lock:
            for uid in uids:
                self._dead.add(uid)
                e = self._entries.pop(uid, None)
                if e is not None:
                    self._banks[e.bank].matcher.remove(uid)
                    out.append(e)
        return out

    def restore(self, entries: list[Entry]) -> None:
        with self._lock:
            for e in entries:
                self._dead.discard(e.uid)
        self.add(entries)

    def match(self, query: engine.Query, bank: str | None = None) -> tuple[engine.MatchResult, Entry | None, str | None]:
        """The first of `match_all`: (result, matched entry, bank name)."""
        return self.match_all(query, bank)[0]

    def match_all(self, query: engine.Query, bank: str | None = None) -> list[tuple]:
        """Every protected photo found in the suspect over the enabled banks (or one bank), as
        (result, entry, bank name), ordered as `Matcher.match_all` orders them; an instance lying
        mostly inside one already listed (the same photo in two banks) is left out. No match: the
        best no-match result, alone."""
        found, negative = [], None
        with self._lock:
            for name, b in self._banks.items():
                if (bank is not None and name != bank) or not b.enabled or len(b.matcher) == 0:
                    continue
                for r in b.matcher.match_all(query):
                    if r.verdict != "no-match":
                        found.append((r, name))
                    elif negative is None or engine.rank_key(r) > engine.rank_key(negative):
                        negative = r
            if not found and negative is None:  # nothing indexed: ask an empty matcher for a well-formed no-match
                self._empty = self._empty or engine.new_matcher(None)
                negative = self._empty.match_query(query)
            bank_of = {id(r): name for r, name in found}
            out = []
            for r in engine.distinct([r for r, _ in found], query):
                e = self._entries.get(r.key) if r.key else None
                out.append((r, e, bank_of[id(r)] if e is not None else None))
        return out or [(negative, None, None)]

    def settle(self) -> None:
        """Finish pending index work of every bank now (at start, before serving)."""
        with self._lock:
            for b in self._banks.values():
                b.matcher.settle()

    def sizes(self) -> dict[str, int]:
        with self._lock:
            return {name: len(b.matcher) for name, b in self._banks.items()}

    def __contains__(self, uid: str) -> bool:
        with self._lock:
            return uid in self._entries

