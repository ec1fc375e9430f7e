"""Secret masking for log output.

A :class:`Masker` holds the secret values of a run and replaces every
occurrence of them, and of the forms a program is likely to print them in,
with :data:`MASK`. Forms registered per value:

* the value itself;
* its base64 (standard alphabet), with and without ``=`` padding, and the base64 of
  the value followed by a newline (``echo "$X" | base64``) up to its last whole group;
* each line of those base64 texts wrapped at :data:`WRAP_WIDTHS` columns (coreutils'
  ``base64`` wraps at 76, PEM and ``openssl base64`` at 64), so a long value's
  encoding is masked line by line; a last line shorter than :data:`_MIN_PIECE` is
  left (it encodes at most a few bytes of the value);
* its URL-encoded forms, ``quote(v, safe="")`` and ``quote_plus(v)``;
* its JSON-escaped forms, ``json.dumps(v)[1:-1]`` with and without ``ensure_ascii``;
* for a multi-line value, each of its lines, stripped (empty or blank lines are ignored).

Contract: longer forms are replaced before shorter ones, and a run of text where
two forms overlap is masked as a whole, so a secret contained in, or overlapping,
another one never leaks a fragment. ``add`` is thread-safe and may run while
other threads mask: a masking call sees either the old or the new set of forms.

Speed: text that holds no secret (nearly all of it) costs, per *key*, a few
one-character ``in`` tests (memchr) and at most one substring scan. A key is a
substring shared by a family of forms (the longest URL- and JSON-safe run of a
value stands for all five of its plain encodings, the unpadded base64 for both
base64 forms); its test characters are its rarest ones, judged by a sample of
recent output taken every 64 ``mask_bytes`` calls, so a key whose characters do
not all occur in a chunk is ruled out without a scan. Keys are led by test
characters they share (a set cover over the characters missing from the
sample), and a chunk holding none of the leads returns at once: ten random
secrets cost two or three memchr scans of such a chunk. Only when a key is found
are its forms looked for and replaced, each with one ``bytes.replace``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import AnyStr, Generic
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "WRAP_WIDTHS", "Masker"]

MASK = "***"
_MASK_BYTES = MASK.encode()

# Bytes that no URL or JSON encoding changes: a run of them is common to every plain form.
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
# Log text by falling frequency (English letters, digits, punctuation, capitals):
# a character late in the list, or missing from it, is a cheap first test for a key.
_COMMON = (
    b" etaoinsrhldcumfpgwybvkxjqz0123456789\n.-_:/=,'\"()[]<>{};#*+@$&%!?|\\"
    b"ETAOINSRHLDCUMFPGWYBVKXJQZ\t\r~^`"
)
_RARE_CHARS = 3
# Every so many mask_bytes calls, a sample of the data tells which characters are rare now.
_SAMPLE_EVERY = 64
_SAMPLE_MIN = 1024
_SAMPLE_SIZE = 4096
# A shorter safe run would make a slow, noisy key; such a value's forms are their own keys.
_MIN_KEY = 6
#: Line widths at which base64 encoders wrap their output (coreutils 76, PEM/openssl 64).
WRAP_WIDTHS = (76, 64)
# A wrapped base64 line shorter than this is not a form: it would mask innocent text.
_MIN_PIECE = 8


def _encode(text: str) -> bytes:
    # surrogateescape: a value decoded from invalid UTF-8 output maps back to its raw bytes.
    return text.encode("utf-8", "surrogateescape")


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _longest_safe_run(raw: bytes) -> bytes:
    best_start, best_len, start = 0, 0, 0
    for i, byte in enumerate(raw):
        if byte not in _SAFE:
            start = i + 1
        elif i + 1 - start > best_len:
            best_start, best_len = start, i + 1 - start
    return raw[best_start : best_start + best_len]


def _families(value: str) -> list[tuple[bytes, list[bytes]]]:
    """Every form of ``value`` as (key, forms) families: each form contains its key."""
    raw = _encode(value)
    plain = [
        raw,
        quote(raw, safe="").encode(),
        quote_plus(raw).encode(),
        _encode(json.dumps(value)[1:-1]),
        _encode(json.dumps(value, ensure_ascii=False)[1:-1]),
    ]
    run = _longest_safe_run(raw)
    families: list[tuple[bytes, list[bytes]]]
    if len(run) >= _MIN_KEY or run == raw:
        families = [(run, plain)]
    else:
        families = [(form, [form]) for form in plain]
    b64 = base64.b64encode(raw)
    families.append((b64.rstrip(b"="), [b64, b64.rstrip(b"=")]))
    families.extend((piece, [piece]) for piece in _base64_pieces(raw))
    if "\n" in value or "\r" in value:
        for line in value.splitlines():
            stripped = _encode(line.strip())
            if stripped:
                families.append((stripped, [stripped]))
    return families


def _base64_pieces(raw: bytes) -> list[bytes]:
    """The base64 forms of ``raw`` that are not whole-value forms: the encoding of
    ``raw + b"\\n"`` up to its last whole group (what ``echo`` pipes to ``base64``),
    and every line of both encodings wrapped at each of :data:`WRAP_WIDTHS`."""
    echoed = base64.b64encode(raw + b"\n")
    pieces = [echoed, echoed[: 4 * ((len(raw) + 1) // 3)]]
    for encoded in (base64.b64encode(raw), echoed):
        for width in WRAP_WIDTHS:
            if len(encoded) > width:
                pieces.extend(encoded[i : i + width] for i in range(0, len(encoded), width))
    return [piece for piece in dict.fromkeys(pieces) if len(piece.rstrip(b"=")) >= _MIN_PIECE]


def _unions(a: AnyStr, b: AnyStr) -> tuple[AnyStr, ...]:
    """Every ``a[:i] + b`` where a's tail ``a[i:]`` is b's head (b not inside a, nor a in b)."""
    if a != b and (a in b or b in a):
        return ()  # containment: longest-first replacement already covers it
    out: list[AnyStr] = []
    head = b[:1]
    i = a.find(head, max(1, len(a) - len(b) + 1))
    while i >= 0:
        if b.startswith(a[i:]):
            out.append(a[:i] + b)
        i = a.find(head, i + 1)
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class _Plan(Generic[AnyStr]):
    """An immutable snapshot of what to look for; swapped whole by ``Masker.add``."""

    keys: tuple[AnyStr, ...]
    rares: tuple[tuple[AnyStr, ...], ...]  # parallel to keys: their rarest characters
    forms_by_key: tuple[tuple[AnyStr, ...], ...]  # parallel to keys, longest first
    unions: dict[tuple[AnyStr, AnyStr], tuple[AnyStr, ...]]  # a cache shared by all plans
    mask: AnyStr
    leads: tuple[AnyStr, ...] = ()  # every key's first test character, each once

    def apply(self, data: AnyStr) -> AnyStr:
        for lead in self.leads:
            if lead in data:
                return self._search(data)
        return data  # no key's first test character, so no key: the common case

    def _search(self, data: AnyStr) -> AnyStr:
        # A one-character `in` is a memchr, ten times the speed of a multi-character
        # scan: a key is scanned for only when its rarest characters are all there.
        seen: dict[AnyStr, bool] = {}
        present: set[AnyStr] = set()
        for key, rare, forms in zip(self.keys, self.rares, self.forms_by_key, strict=True):
            for char in rare:
                found = seen.get(char)
                if found is None:
                    found = seen[char] = char in data
                if not found:
                    break
            else:
                if key in data:
                    present.update(form for form in forms if form in data)
        if not present:
            return data  # the fast path: no key, no secret
        # Two forms printed overlapping ("abcXYZ" for "abcX" and "cXYZ") are masked as one:
        # their union joins the forms to replace (longest first), so no fragment is left.
        for a in tuple(present):
            for b in tuple(present):
                unions = self.unions.get((a, b))
                if unions is None:
                    unions = self.unions[a, b] = _unions(a, b)
                present.update(u for u in unions if u in data)
        for form in _longest_first(present):
            data = data.replace(form, self.mask)
        return data


def _rank(code: int, seen: frozenset[int]) -> int:
    """How rare a character is in log output: higher is rarer.

    A character missing from the latest sample of the output outranks any seen
    one; the static table orders the rest.
    """
    index = _COMMON.find(code) if code < 128 else -1
    static = len(_COMMON) if index < 0 else index
    return static if code in seen else static + 1024


def _rarest(units: list[tuple[int, AnyStr]], seen: frozenset[int]) -> tuple[AnyStr, ...]:
    distinct = {code: unit for code, unit in units}
    ranked = sorted(distinct, key=lambda code: (-_rank(code, seen), code))
    return tuple(distinct[code] for code in ranked[:_RARE_CHARS])


def _gated(
    keys: Sequence[bytes], rares: Sequence[tuple[bytes, ...]], seen: frozenset[int]
) -> list[tuple[bytes, ...]]:
    """Each key's test characters, led by one that few distinct keys share.

    A plan tests a character once per chunk however many keys share it, so each
    key that has characters absent from the output sample is led by one of them,
    picked greedily as the one absent character that most keys still without a
    leader hold (a set cover): ten random secrets then cost two or three scans of
    a chunk that holds none of them, not twenty. Other keys keep ``rares``.
    """
    out = list(rares)
    if not seen:
        return out
    absent = [frozenset(key).difference(seen) for key in keys]
    todo = {i for i, chars in enumerate(absent) if chars}
    while todo:
        counts = Counter(code for i in todo for code in absent[i])
        # Most keys first; then the rarest by the static table; then a fixed order.
        gate = max(counts, key=lambda code: (counts[code], _rank(code, seen), -code))
        unit = bytes([gate])
        for i in [i for i in todo if gate in absent[i]]:
            out[i] = (unit, *(char for char in rares[i] if char != unit))[:_RARE_CHARS]
            todo.discard(i)
    return out


def _leads(rares: Iterable[tuple[AnyStr, ...]]) -> tuple[AnyStr, ...]:
    return tuple(dict.fromkeys(rare[0] for rare in rares))


def _longest_first(forms: Iterable[AnyStr]) -> tuple[AnyStr, ...]:
    return tuple(sorted(forms, key=lambda f: (-len(f), f)))


@dataclasses.dataclass(frozen=True)
class _Entry:
    """One key with everything a plan needs about it, in bytes and in text."""

    key: bytes
    text_key: str
    rare: tuple[bytes, ...]
    text_rare: tuple[str, ...]
    forms: tuple[bytes, ...]  # longest first
    text_forms: tuple[str, ...]


class Masker:
    """Replaces registered secret values with MASK in log output. Thread-safe add()."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        # key -> its forms; a key never contains another key (it would be redundant).
        self._groups: dict[bytes, set[bytes]] = {}
        self._entries: dict[bytes, _Entry] = {}  # parallel to _groups: what plans are made of
        self._seen: frozenset[int] = frozenset()  # bytes in the latest sample of the output
        self._calls = 0
        # Overlap caches filled while masking; plans share them (dict get and set are atomic).
        self._unions: dict[tuple[bytes, bytes], tuple[bytes, ...]] = {}
        self._unions_text: dict[tuple[str, str], tuple[str, ...]] = {}
        self._bytes_plan: _Plan[bytes] = _Plan((), (), (), self._unions, _MASK_BYTES)
        self._str_plan: _Plan[str] = _Plan((), (), (), self._unions_text, MASK)
        for secret in secrets:
            self.add(secret)

    def add(self, value: str) -> None:
        """Register ``value`` and its derived forms; an empty or known value is ignored."""
        if not value:
            return
        with self._lock:
            if value in self._values:
                return
            for key, forms in _families(value):
                self._group(key, {form for form in forms if form})
            self._values.add(value)
            self._publish()

    def _group(self, key: bytes, forms: set[bytes]) -> None:
        owner = next((kept for kept in self._groups if kept in key), None)
        if owner is not None:
            key = owner
        else:
            for longer in [kept for kept in self._groups if key in kept]:
                forms |= self._groups.pop(longer)
                del self._entries[longer]
        group = self._groups.setdefault(key, set())
        group |= forms
        text_key = _decode(key)
        ordered = _longest_first(group)
        self._entries[key] = _Entry(
            key=key,
            text_key=text_key,
            rare=_rarest([(b, bytes([b])) for b in key], self._seen),
            text_rare=_rarest([(ord(c), c) for c in text_key], frozenset()),
            forms=ordered,
            text_forms=tuple(_decode(f) for f in ordered),
        )

    def _publish(self) -> None:
        """Swap in new plans built from the groups (readers see old or new, whole)."""
        entries = tuple(self._entries.values())
        keys = tuple(e.key for e in entries)
        rares = tuple(_gated(keys, [e.rare for e in entries], self._seen))
        self._bytes_plan = _Plan(
            keys=keys,
            rares=rares,
            forms_by_key=tuple(e.forms for e in entries),
            unions=self._unions,
            mask=_MASK_BYTES,
            leads=_leads(rares),
        )
        self._str_plan = _Plan(
            keys=tuple(e.text_key for e in entries),
            rares=tuple(e.text_rare for e in entries),
            forms_by_key=tuple(e.text_forms for e in entries),
            unions=self._unions_text,
            mask=MASK,
            leads=_leads(e.text_rare for e in entries),
        )

    def mask(self, text: str) -> str:
        """``text`` with every registered form replaced by MASK."""
        return self._str_plan.apply(text)

    def mask_bytes(self, data: bytes) -> bytes:
        """``data`` with every registered form replaced by MASK (the hot path)."""
        self._calls += 1  # a lost increment under threads only shifts the next sample
        if self._calls % _SAMPLE_EVERY == 1 and len(data) >= _SAMPLE_MIN:
            self._sample(data)
        return self._bytes_plan.apply(data)

    def _sample(self, data: bytes) -> None:
        """Re-pick each key's test characters from those absent in a sample of ``data``."""
        # Two contiguous windows: a stride would alias with a fixed line length.
        half = _SAMPLE_SIZE // 2
        middle = max(half, len(data) // 2)
        seen = frozenset(data[:half]) | frozenset(data[middle : middle + half])
        if seen == self._seen:
            return
        with self._lock:
            self._seen = seen
            for key, entry in self._entries.items():
                rare = _rarest([(b, bytes([b])) for b in key], seen)
                self._entries[key] = dataclasses.replace(entry, rare=rare)
            self._publish()

    @property
    def active(self) -> bool:
        """True when anything is registered."""
        return bool(self._values)
