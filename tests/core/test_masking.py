"""Masker: every derived form of a secret is masked, in text and in bytes."""

from __future__ import annotations

import base64
import json
import threading
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scd_core.masking import MASK, Masker

SECRET = 'p@ss w/rd"é+x=1&y'


def both(masker: Masker, text: str) -> str:
    """Mask as text and as bytes; both must agree."""
    masked = masker.mask(text)
    assert masker.mask_bytes(text.encode()).decode() == masked
    return masked


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        base64.b64encode(SECRET.encode()).decode(),
        base64.b64encode(SECRET.encode()).decode().rstrip("="),
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
        json.dumps(SECRET, ensure_ascii=False)[1:-1],
    ],
    ids=["value", "base64", "base64-unpadded", "quote", "quote_plus", "json", "json-unicode"],
)
def test_every_derived_form_is_masked(form: str) -> None:
    masker = Masker([SECRET])
    assert both(masker, f"before {form} after") == f"before {MASK} after"


def test_base64_without_padding_is_masked_for_a_value_needing_padding() -> None:
    masker = Masker(["abcd"])  # base64 YWJjZA== : the unpadded form is YWJjZA
    assert both(masker, "token=YWJjZA;") == f"token={MASK};"


def test_alphanumeric_secret_is_masked_everywhere_on_a_line() -> None:
    masker = Masker(["hunter2hunter2"])
    text = "a hunter2hunter2 b hunter2hunter2c\nhunter2hunter2"
    assert both(masker, text) == f"a {MASK} b {MASK}c\n{MASK}"


def test_each_line_of_a_multiline_secret_is_masked_alone() -> None:
    key = (
        "-----BEGIN KEY-----\n  MIIBOgIBAAJBAKj34GkxFhD9  \n\n   \n"
        "ZmFrZWtleWRhdGE=\n-----END KEY-----\n"
    )
    masker = Masker([key])
    assert both(masker, "line: MIIBOgIBAAJBAKj34GkxFhD9") == f"line: {MASK}"
    assert both(masker, "ZmFrZWtleWRhdGE= tail") == f"{MASK} tail"
    assert both(masker, key) == MASK  # the whole value at once, not line by line
    # Blank lines of the value were not registered: blanks stay in the output.
    assert both(masker, "a\n\n   \nb") == "a\n\n   \nb"


def test_secret_contained_in_another_is_masked_cleanly() -> None:
    masker = Masker(["abc123", "xxabc123yy"])
    assert both(masker, "[xxabc123yy] [abc123]") == f"[{MASK}] [{MASK}]"
    masker = Masker(["xxabc123yy", "abc123"])  # registration order does not matter
    assert both(masker, "[xxabc123yy] [abc123]") == f"[{MASK}] [{MASK}]"


def test_overlapping_secrets_leave_no_fragment() -> None:
    masker = Masker(["abcdef12", "ef12ghij"])
    assert both(masker, "<abcdef12ghij>") == f"<{MASK}>"
    assert both(masker, "<ef12ghij abcdef12>") == f"<{MASK} {MASK}>"


def test_secret_overlapping_itself_leaves_no_fragment() -> None:
    masker = Masker(["abab"])
    assert both(masker, "<ababab>") == f"<{MASK}>"


def test_empty_secret_is_ignored_and_nothing_is_masked() -> None:
    masker = Masker(["", ""])
    assert not masker.active
    assert both(masker, "nothing here") == "nothing here"


def test_active_turns_true_on_first_add() -> None:
    masker = Masker()
    assert not masker.active
    masker.add("s3cr3t-value")
    assert masker.active
    assert both(masker, "s3cr3t-value") == MASK


def test_short_secret_with_special_characters_is_masked_in_each_form() -> None:
    masker = Masker(["a b"])  # no long safe run: each form is its own key
    assert both(masker, "x a b y a%20b z a+b") == f"x {MASK} y {MASK} z {MASK}"


def test_invalid_utf8_bytes_pass_through_unharmed() -> None:
    masker = Masker(["topsecret"])
    data = b"\xff\xfe topsecret \xc3"
    assert masker.mask_bytes(data) == b"\xff\xfe *** \xc3"


def test_ansi_colour_codes_around_a_secret_are_kept() -> None:
    masker = Masker(["topsecret"])
    assert both(masker, "\x1b[31mtopsecret\x1b[0m") == f"\x1b[31m{MASK}\x1b[0m"


def test_add_from_many_threads_registers_every_value() -> None:
    masker = Masker()
    values = [f"secret-value-{i:03d}" for i in range(40)]

    def add(chunk: list[str]) -> None:
        for value in chunk:
            masker.add(value)

    threads = [threading.Thread(target=add, args=(values[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    text = " ".join(values)
    assert both(masker, text) == " ".join([MASK] * len(values))


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(min_size=1, max_size=24).filter(lambda s: s.strip() and "*" not in s),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
)
def test_registered_value_never_survives_masking(secret: str, before: str, after: str) -> None:
    masker = Masker([secret])
    text = before + secret + after
    assert secret not in masker.mask(text)
    masked = masker.mask_bytes(text.encode("utf-8", "surrogatepass"))
    assert secret.encode("utf-8", "surrogatepass") not in masked


def test_secret_is_masked_after_the_output_sample_changes_the_test_characters() -> None:
    masker = Masker(["deadbeef1234cafe"])
    quiet = b"a short line of log output 0123456789\n" * 100
    for _ in range(130):  # several samples of output lacking b, c, d, e, f
        assert masker.mask_bytes(quiet) == quiet
    noisy = quiet + b"token deadbeef1234cafe in the middle\n" + quiet
    assert masker.mask_bytes(noisy) == quiet + b"token *** in the middle\n" + quiet
    assert masker.mask_bytes(b"deadbeef1234cafe") == b"***"


def test_every_one_of_many_secrets_sharing_test_characters_is_masked_after_a_sample() -> None:
    values = [f"Key{i}Zq{i * 7919:06d}xW" for i in range(12)] + ["deadbeef1234cafe"]
    masker = Masker(values)
    quiet = b"a short line of log output 0123456789\n" * 100
    for _ in range(70):  # a sample of output lacking capitals: the keys share a few leads
        assert masker.mask_bytes(quiet) == quiet
    for value in values:
        line = quiet + f"got {value}!\n".encode()
        assert masker.mask_bytes(line) == quiet + b"got ***!\n"


LONG_SECRET = "s3cr3t-" + "".join(chr(ord("a") + (i * 7) % 26) for i in range(98))  # 105 chars


@pytest.mark.parametrize("width", [76, 64])
def test_base64_of_a_long_secret_wrapped_at_common_widths_is_masked_on_every_line(
    width: int,
) -> None:
    encoded = base64.b64encode(LONG_SECRET.encode()).decode()
    lines = [encoded[i : i + width] for i in range(0, len(encoded), width)]
    masked = Masker([LONG_SECRET]).mask("\n".join(lines) + "\n")
    for line in lines:
        if len(line.rstrip("=")) >= 8:
            assert line not in masked
    assert masked.count("***") >= len([ln for ln in lines if len(ln.rstrip("=")) >= 8])


def test_base64_of_a_secret_piped_by_echo_with_its_newline_is_masked() -> None:
    # echo "$SECRET" | base64 encodes the value and a newline, wrapped at 76 columns
    echoed = base64.b64encode(LONG_SECRET.encode() + b"\n").decode()
    text = "\n".join(echoed[i : i + 76] for i in range(0, len(echoed), 76))
    masked = Masker([LONG_SECRET]).mask(text)
    assert echoed[:76] not in masked
    assert echoed[76:] not in masked
    short = "abcdefgh12"
    assert base64.b64encode(short.encode() + b"\n").decode() not in Masker([short]).mask(
        base64.b64encode(short.encode() + b"\n").decode()
    )


def test_bytes_masking_of_wrapped_base64_matches_text_masking() -> None:
    encoded = base64.b64encode(LONG_SECRET.encode())
    wrapped = b"\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + b"\n"
    masker = Masker([LONG_SECRET])
    assert masker.mask_bytes(wrapped) == masker.mask(wrapped.decode()).encode()
    assert encoded[:76] not in masker.mask_bytes(wrapped)


def test_short_base64_tail_line_does_not_mask_innocent_text() -> None:
    masker = Masker([LONG_SECRET])
    assert masker.mask("hello world, nothing secret here\n") == (
        "hello world, nothing secret here\n"
    )
