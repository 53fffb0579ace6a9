"""The compiled CSV block parser (meanshift._textparse) against numpy.loadtxt.

Every value it returns must have exactly the bits numpy.loadtxt gives the
same text; every text loadtxt refuses it must refuse (None), so that the
reader sends that block to loadtxt for the error message.  It may refuse
more than loadtxt does (blocks it leaves to loadtxt), but never a plain
table of numbers.
"""

import io
import math
import re
import struct
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from meanshift import _csv, _threads
from meanshift._fields import InputError
from meanshift._textparse import count_lines, decimal_to_double, parse_block


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def same_bits(a, b):
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def loadtxt(text, delimiter=",", usecols=None):
    """numpy.loadtxt as the reader calls it, on the non-blank lines; None
    where it refuses the text."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    try:
        return np.loadtxt(lines, delimiter=delimiter, usecols=usecols, ndmin=2,
                          dtype=np.float64, quotechar='"', comments=None)
    except ValueError:
        return None


def check_against_loadtxt(text, n_fields, delimiter=",", usecols=None):
    """parse_block's answer for text is loadtxt's, or None where loadtxt
    refuses it (or has another number of fields): returns that answer."""
    got = parse_block(text.encode("utf-8", "surrogatepass"), delimiter, n_fields, usecols)
    expected = loadtxt(text, delimiter, usecols)
    if got is not None:
        assert expected is not None, (text, got)
        assert same_bits(got, expected), (text, got, expected)
    elif expected is not None and usecols is None:
        # loadtxt may take rows of another width as a whole: not our table
        lines = [line for line in text.splitlines() if line.strip()]
        assert any(line.count(delimiter) != n_fields - 1 for line in lines) or not plain(
            text
        ), ("refused a table loadtxt reads", text)
    return got


def plain(text):
    """Only plain decimal numbers, commas, spaces, tabs and newlines: text
    the compiled parser must take whole."""
    number = r"[ \t]*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[ \t]*"
    return all(
        re.fullmatch(rf"{number}(?:,{number})*", line) or not line.strip(" \t")
        for line in text.replace("\r\n", "\n").split("\n")
    )


# ---------------------------------------------------------------------------
# One number: w * 10**q
# ---------------------------------------------------------------------------


@settings(max_examples=3000, deadline=None)
@given(w=st.integers(0, 10**19 - 1), q=st.integers(-400, 400), negative=st.booleans())
@example(w=9007199254740993, q=0, negative=False)  # 2**53 + 1: a tie, to even
@example(w=9007199254740995, q=0, negative=False)  # the tie up
@example(w=17976931348623157, q=292, negative=False)  # the largest double
@example(w=17976931348623159, q=292, negative=False)  # rounds to inf
@example(w=49406564584124654, q=-340, negative=False)  # the smallest subnormal
@example(w=24703282292062328, q=-340, negative=False)  # just above half of it
@example(w=22250738585072011, q=-324, negative=True)  # near the smallest normal
@example(w=1, q=-400, negative=True)
@example(w=10**19 - 1, q=308, negative=False)
@pytest.mark.slow
def test_decimal_to_double_rounds_correctly(w, q, negative):
    """When the compiled routine decides, it gives Python's (correctly
    rounded) float of the decimal; it decides nearly always."""
    got = decimal_to_double(w, q, negative)
    expected = float(f"{'-' if negative else ''}{w}e{q}")
    if got is not None:
        assert bits(got) == bits(expected), (w, q, got, expected)
    elif 1e-300 < abs(expected) < math.inf:
        # undecided only within 2**-64 relative of a halfway point between
        # two doubles (ties included)
        exact = Fraction(w) * Fraction(10) ** q
        a = abs(expected)
        gaps = [
            abs(exact - (Fraction(a) + Fraction(b)) / 2) / abs(Fraction(a) - Fraction(b))
            for b in (math.nextafter(a, 0), math.nextafter(a, math.inf))
        ]
        assert min(gaps) < Fraction(1, 2**50), (w, q)


def test_decimal_to_double_decides_nearly_always():
    rng = np.random.default_rng(0)
    w = rng.integers(1, 10**18, size=20000, dtype=np.int64).tolist()
    q = rng.integers(-300, 290, size=20000).tolist()
    undecided = [(a, b) for a, b in zip(w, q, strict=True) if decimal_to_double(a, b) is None]
    # only exact ties of a non-exact power of five, e.g. 4503599627370496.5
    for a, b in undecided:
        exact = Fraction(a) * Fraction(10) ** b
        assert -4 <= b < 0 and float(exact) != exact
        assert exact == (Fraction(float(exact)) + Fraction(math.nextafter(float(exact), 0))) / 2 \
            or exact == (Fraction(float(exact)) + Fraction(math.nextafter(float(exact), 9e99))) / 2
    assert len(undecided) < 10
    assert decimal_to_double(9007199254740993, 0) == 9007199254740992.0  # a tie: to even
    assert decimal_to_double(9007199254740995, 0) == 9007199254740996.0
    assert decimal_to_double(45035996273704965, -1) is None  # 2**52 + 1/2: deferred


def test_decimal_to_double_argument_range():
    with pytest.raises(ValueError, match="10\\*\\*19"):
        decimal_to_double(10**19, 0)


# ---------------------------------------------------------------------------
# Doubles as text, every way they are printed
# ---------------------------------------------------------------------------

PRINT = [repr, "{:.17g}".format, "{:.6g}".format, "{:e}".format, "{:.3E}".format,
         "{:.25e}".format, "{:.40f}".format, "{:+.17g}".format, "{:.0f}".format,
         lambda v: f"{v:.17g}".replace("e", "E"), lambda v: f" {v!r}\t"]


def as_text(values, fmt):
    return [PRINT[fmt](v) for v in values]


doubles = st.floats(allow_nan=False, allow_infinity=False, width=64)
any_double = st.one_of(
    doubles,
    st.integers(0, 2**64 - 1).map(lambda u: struct.unpack("<d", struct.pack("<Q", u))[0])
    .filter(math.isfinite),
    st.integers(1, 2**52 - 1).map(lambda m: m * 5e-324),  # subnormals
    st.integers(-2**53, 2**53).map(float),
)


@settings(max_examples=1500, deadline=None)
@given(values=st.lists(any_double, min_size=1, max_size=30),
       fmt=st.sampled_from(range(len(PRINT))))
@pytest.mark.slow
def test_printed_doubles_have_loadtxt_bits(values, fmt):
    text = "".join(f"{t}\n" for t in as_text(values, fmt))
    got = parse_block(text.encode(), ",", 1)
    assert got is not None, text
    expected = np.array([[float(t)] for t in as_text(values, fmt)])
    assert same_bits(got, expected)
    assert same_bits(got, loadtxt(text))


@pytest.mark.slow
def test_many_random_doubles():
    """Half a million doubles from random bits, five ways each, to the bit."""
    rng = np.random.default_rng(1)
    values = rng.integers(0, 2**64, size=100_000, dtype=np.uint64).view(np.float64)
    values = values[np.isfinite(values)].tolist()
    for fmt in (repr, "{:.17g}".format, "{:.6g}".format, "{:e}".format, "{:.21e}".format):
        text = "".join(f"{fmt(v)},{fmt(-v)}\n" for v in values)
        got = parse_block(text.encode(), ",", 2)
        expected = np.array([[float(fmt(v)), float(fmt(-v))] for v in values])
        assert same_bits(got, expected)


@pytest.mark.parametrize(
    "token",
    ["0", "-0", "+0", "0.0", "-0.0", ".5", "5.", "+.5", "-5.e-1", "00012.50", "1e0", "1E+0",
     "1e-0", "0e99999999999", "-0e-99999", "1e308", "1.7976931348623157e308",
     "1.7976931348623158e308", "1.7976931348623159e308", "1e309", "1e400", "-1e400",
     "4.9406564584124654e-324", "2.4703282292062328e-324", "2.4703282292062327e-324",
     "2.2250738585072011e-308", "2.2250738585072014e-308", "1e-400", "-1e-400",
     "9007199254740993", "9007199254740992.5", "9007199254740993.0000000000000001",
     "123456789012345678901234567890", "0.1000000000000000055511151231257827021181583404541015625",
     "0." + "0" * 400 + "1e400", "1" + "0" * 400 + "e-400", "1" * 800,
     "inf", "-inf", "+inf", "Infinity", "-INFINITY", "iNf", "nan", "-nan", "+NaN", "NAN",
     "7e22", "7e23", "8.98846567431158e307", "1e23", "1e-5", "123.456e-7",
     "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791.9999999999999999999999999999999999999999999999999999999999999999999999"],  # noqa: E501
)
def test_numbers_loadtxt_reads(token):
    """Zeros, signs, extremes, ties, inf/nan spellings, long digit strings:
    accepted, with loadtxt's bits (NaN's sign too)."""
    text = f"{token},{token}\n  {token} ,\t{token}\r\n"
    got = parse_block(text.encode(), ",", 2)
    assert got is not None, token
    assert same_bits(got, loadtxt(text)), (token, got, loadtxt(text))


BAD_TOKENS = ["", " ", "1e", "1e+", "1e-", ".", "-", "+", "e5", "E5", ".e5", "1.2.3", "1..2",
              "0x10", "0X1p3", "1_000", "--1", "+-1", "1e5.5", "1e5e5", "1 2", "nan(1)",
              "nan()", "infinit", "infinityy", "in", "na", "1\x00", "\x002", "1\x0b", "\x0c1",
              "1\x1c", "é", "1é", "٣", "１", "1\u2028", '"1"', "'1'", "#1", "1#",
              "1f", "1d", "1L", "0b1", "1/2", "1+1", "--", "true", "None", "\x7f", "1\x7f",
              "9" * 5000 + "x", "1" * 30 + "e"]


@pytest.mark.parametrize("token", BAD_TOKENS)
@pytest.mark.parametrize("where", ["first", "last", "middle"])
def test_malformed_fields_are_refused(token, where):
    """Truncated numbers, junk, NUL bytes, non-ASCII, quotes: the block is
    refused (None) where loadtxt refuses it, and never crashes."""
    rows = ["1.5,2.5,3.5"] * 3
    i = {"first": 0, "last": 2, "middle": 1}[where]
    rows[i] = f"1.5,{token},3.5" if where == "middle" else (
        f"{token},2.5,3.5" if where == "first" else f"1.5,2.5,{token}")
    text = "\n".join(rows) + "\n"
    check_against_loadtxt(text, 3)
    # (loadtxt reads a quoted number; a line break, for str.splitlines, at
    # the start or end of a line leaves whole lines)
    if '"' not in token and len(token.splitlines()) <= 1 and len(token.strip()) == len(token):
        assert loadtxt(text) is None, token  # the list holds only bad tokens
        assert parse_block(text.encode(), ",", 3) is None


@pytest.mark.parametrize(
    "text",
    ["1,2\n3\n", "1,2\n3,4,5\n", "1,2,\n", ",1,2\n", "1,,2\n", "1,2\r3,4\n", "1,2\n\r\n3,4\r",
     "1,2", "\n", "", "1,2\n,\n", "1;2\n", "1\t2\n", '"1",2\n', "1,2 3\n", "1,2\n3,4 \r \n"],
)
def test_malformed_tables_are_refused(text):
    """A field too many or too few, empty fields, lone carriage returns, a
    block without its final newline: refused."""
    assert parse_block(text.encode(), ",", 2) is None
    if text.endswith("\n"):
        check_against_loadtxt(text, 2)


def test_blank_lines_and_whitespace():
    text = "\n 1 ,\t2\t\r\n \t\n\r\n3,+4\n\n"
    got = parse_block(text.encode(), ",", 2)
    assert same_bits(got, np.array([[1.0, 2.0], [3.0, 4.0]]))
    # a tab-delimited block: a line of tabs has empty fields, for the reader
    assert same_bits(parse_block(b" 1\t 2 \n\n  \n3\t4\n", "\t", 2), np.array([[1.0, 2], [3, 4]]))
    assert parse_block(b"1\t2\n\t\n3\t4\n", "\t", 2) is None
    assert parse_block(b"\n\n", ",", 1) is None  # no rows


def test_usecols_skip_any_plain_field():
    text = "7,name one,1.5,x\n8,,2.5,\n9,#?!,3.5,abc def\n"
    got = parse_block(text.encode(), ",", 4, [2, 0])
    assert same_bits(got, np.array([[1.5, 7.0], [2.5, 8.0], [3.5, 9.0]]))
    assert same_bits(got, loadtxt(text, ",", [2, 0]))
    # but not quotes (they may hide delimiters), nor unusual bytes
    assert parse_block(b'7,"a, b",1.5,x\n', ",", 4, [2, 0]) is None
    assert parse_block("7,é,1.5,x\n".encode(), ",", 4, [2, 0]) is None
    assert parse_block(b"7,a\x00b,1.5,x\n", ",", 4, [2, 0]) is None
    assert parse_block(b"7,a\rb,1.5,x\n", ",", 4, [2, 0]) is None
    with pytest.raises(ValueError, match="usecols"):
        parse_block(text.encode(), ",", 4, [2, 2])
    with pytest.raises(ValueError, match="usecols"):
        parse_block(text.encode(), ",", 4, [4])
    with pytest.raises(ValueError, match="delimiter"):
        parse_block(text.encode(), ".", 4)


def test_count_lines():
    for text in [b"", b"\n", b"a\nb\n", b"a" * 1000 + b"\n" * 77 + b"x"]:
        assert count_lines(text) == text.count(b"\n")


# ---------------------------------------------------------------------------
# Random tables and random junk
# ---------------------------------------------------------------------------

FIELD = st.one_of(
    any_double.map(repr), any_double.map("{:.6g}".format), any_double.map("{:+e}".format),
    st.sampled_from(["inf", "-inf", "nan", "1e400", "-1e-400", "0", "-0", ".5", "5."]),
    st.integers(0, 10**40).map(str),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.integers(1, 4).flatmap(
        lambda k: st.lists(st.lists(FIELD, min_size=k, max_size=k), min_size=1, max_size=20)
    ),
    pad=st.sampled_from(["", " ", "\t", " \t "]),
    newline=st.sampled_from(["\n", "\r\n"]),
    delimiter=st.sampled_from([",", "\t", ";"]),
)
@pytest.mark.slow
def test_tables_match_loadtxt(rows, pad, newline, delimiter):
    if delimiter == "\t":
        pad = pad.replace("\t", "")
    text = newline.join(
        delimiter.join(f"{pad}{f}{pad}" for f in row) for row in rows
    ) + newline
    got = parse_block(text.encode(), delimiter, len(rows[0]))
    assert got is not None, text
    assert same_bits(got, loadtxt(text, delimiter))


JUNK = ["0", "1", "9", "12.5", ".", "-", "+", "e", "E", "e-3", "E+07", " ", "\t", ",", ",",
        "\n", "\n", "\r\n", "\r", '"', "nan", "inf", "infinity", "x", "1e400", "1e-400",
        "\x00", "é", "\x85", "#", "_", "0x", "9" * 25, "0." + "0" * 30]


@settings(max_examples=1500, deadline=None)
@given(tokens=st.lists(st.sampled_from(JUNK), max_size=40), n_fields=st.integers(1, 3),
       drop=st.booleans())
@pytest.mark.slow
def test_junk_matches_loadtxt_or_is_refused(tokens, n_fields, drop):
    text = "".join(tokens) + "\n"
    usecols = [n_fields - 1] if drop and n_fields > 1 else None
    check_against_loadtxt(text, n_fields, ",", usecols)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200), n_fields=st.integers(1, 4))
def test_random_bytes_never_crash(data, n_fields):
    got = parse_block(data + b"\n", ",", n_fields)
    if got is not None:
        assert got.shape[1] == n_fields
        expected = loadtxt((data + b"\n").decode("ascii"))
        assert same_bits(got, expected)


# ---------------------------------------------------------------------------
# The reader with threads
# ---------------------------------------------------------------------------


def read(content, n_threads, block_size=256, columns=None):
    saved = _csv.BLOCK_SIZE
    _csv.BLOCK_SIZE = block_size
    try:
        return _csv._read_table(io.BytesIO(content), "t.csv", ",", columns, None, None, None,
                                False, n_threads)[0]
    finally:
        _csv.BLOCK_SIZE = saved


def test_threads_give_the_same_rows():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 3)) * 10.0 ** rng.integers(-300, 300, size=(3000, 3))
    lines = ["a,b,c"] + [",".join(repr(v) for v in row) for row in X.tolist()]
    lines[1000] = '"1",2,3'  # a block read line by line, among compiled ones
    lines[2000] = ""
    content = ("\n".join(lines) + "\n").encode()
    one = read(content, 1)
    for n in (2, 3):
        assert same_bits(read(content, n), one)
    X[999] = [1, 2, 3]
    assert same_bits(one, np.delete(X, 1999, axis=0))


@pytest.mark.parametrize("n_threads", [1, 2, 4])
def test_threads_report_the_first_error(n_threads):
    lines = ["a,b,c"] + [f"{i},{i}.5,{i}.25" for i in range(2, 5002)]
    lines[4000 - 1] = "4000,x,1"
    lines[3000 - 1] = "3000,1"
    content = ("\n".join(lines) + "\n").encode()
    with pytest.raises(InputError, match="line 3000") as e:
        read(content, n_threads)
    assert len(str(e.value).splitlines()) == 1


@pytest.mark.parametrize("n_threads", [1, 2, 4])
def test_threads_report_the_first_value_that_is_not_finite(n_threads):
    """A value that is not finite is an error like a text cell: the first
    in the file wins, whichever thread read its block."""
    lines = ["a,b,c"] + [f"{i},{i}.5,{i}.25" for i in range(2, 5002)]
    lines[4000 - 1] = "4000,x,1"
    lines[3000 - 1] = "3000,1,-1e999"
    content = ("\n".join(lines) + "\n").encode()
    with pytest.raises(InputError, match="line 3000, column \"c\": '-1e999' is beyond"):
        read(content, n_threads)
    lines[2000 - 1] = "2000,x,1"
    content = ("\n".join(lines) + "\n").encode()
    with pytest.raises(InputError, match="line 2000, column \"b\": 'x' is not a number"):
        read(content, n_threads)


def test_parse_threads(monkeypatch):
    monkeypatch.setattr(_threads, "_CPU_COUNT", 4)  # the cores this process may use
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert _threads.parse_threads() == 4
    assert _threads.parse_threads(2) == 2
    assert _threads.parse_threads(64) == 4
    assert _threads.parse_threads(-1) == 4
    assert _threads.parse_threads(-2) == 3
    assert _threads.parse_threads(-9) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _threads.parse_threads() == 1
    assert _threads.parse_threads(4) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3,2")
    assert _threads.parse_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert _threads.parse_threads() == 4
