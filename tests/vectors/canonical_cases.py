"""RFC 8785 vectors: the RFC's own examples, the corners of numbers, strings and key order."""

from __future__ import annotations

import json
import struct
from typing import Any

import rfc8785

from tests.vectors.common import Vector

# RFC 8785 Appendix B: IEEE 754 bit patterns and how each must be written.
RFC8785_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]

# RFC 8785 §3.2.2 and §3.2.3: the example of the whole transformation, and of key order.
RFC8785_EXAMPLES = [
    (
        "the example of RFC 8785 section 3.2.2",
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], '
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", '
        '"literals": [null, true, false]}',
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    ),
    (
        "the key order example of RFC 8785 section 3.2.3",
        '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet '
        'With Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": '
        '"Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}',
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O '
        'With Diaeresis","\u20ac":"Euro Sign","\U0001f600":"Emoji: Grinning Face","\ufb33":'
        '"Hebrew Letter Dalet With Dagesh"}',
    ),
]

CANONICAL_INPUTS = [
    ("an empty object", "{}"),
    ("an empty array", "[]"),
    ("nested objects keep no spaces", '{ "b" : [ 1 , { "d" : null , "c" : true } ] , "a" : "" }'),
    ("a very small number underflows to zero", "-1e-400"),
    ("1e21 has an exponent", "1e21"),
    ("1e20 has none", "1e20"),
    ("1e-7 has an exponent", "1e-7"),
    ("1e-6 has none", "0.000001"),
    ("a float that is a whole number", "100.0"),
    ("the largest safe integer", "9007199254740991"),
    ("the smallest safe integer", "-9007199254740991"),
    ("0.1 + 0.2 as a double", "0.30000000000000004"),
    ("controls are escaped, lower-case hex", '"\\u0000\\u0001\\u001f\\b\\t\\n\\f\\r"'),
    ("quote and backslash are escaped, slash is not", '"\\"\\\\\\/"'),
    ("DEL, U+2028, U+2029 and other non-ASCII stay as they are", '"\\u007f\\u2028\\u2029\\u00e9"'),
    ("a surrogate pair is one character", '"\\ud83d\\ude00"'),
    ("keys sort by UTF-16 code units, not code points", '{"\\uff61": 1, "\\ud83d\\ude00": 2}'),
    ("keys sort as strings, not numbers", '{"10": 1, "9": 2, "1": 3}'),
    ("upper case sorts before lower case", '{"b": 1, "B": 2, "a": 3, "A": 4}'),
    ("a prefix sorts first", '{"ab": 1, "a": 2, "": 3}'),
    (
        "an event",
        '{"seq": 1, "channel": "water-roads", "type": "notice.sent", "at": '
        '"2026-11-21T09:30:00.000Z", "actor": {"party": "water", "operator": "ana"}, '
        '"data": {"subject": "Hydrant test, Caf\\u00e9 Lane", "area": null}}',
    ),
]

# Inputs no canonical form exists for: as JSON text, or as a number spelled for float()
# and Number() alike, where JSON cannot hold it.
CANONICAL_REFUSED = [
    ("a lone high surrogate", {"json": '"\\ud800"'}),
    ("a lone low surrogate in a key", {"json": '{"\\udc00": 1}'}),
    ("surrogates in the wrong order", {"json": '["\\ude00\\ud83d"]'}),
    ("a number too large for a double", {"json": "[1e400]"}),
    ("not a number", {"number": "NaN"}),
    ("infinity", {"number": "Infinity"}),
    ("minus infinity", {"number": "-Infinity"}),
]


def canonical_case(name: str, given: dict[str, str], expected: str | None = None) -> Vector:
    """A vector for the input ``given``: ``{"json": text}`` or ``{"number": spelling}``."""
    value = json.loads(given["json"]) if "json" in given else float(given["number"])
    try:
        canonical: str | None = rfc8785.dumps(value).decode("utf-8")
    except ValueError as error:  # rfc8785 lets a lone surrogate in a key out as UnicodeError
        return {"name": name, **given, "canonical": None, "error": type(error).__name__}
    assert expected is None or canonical == expected, (name, canonical, expected)
    return {"name": name, **given, "canonical": canonical, "error": None}


def canonical_vectors() -> dict[str, Any]:
    vectors = []
    for bits, expected in RFC8785_NUMBERS:
        number = struct.unpack(">d", bytes.fromhex(bits))[0]
        # repr is the shortest text that reads back as the same double
        given = {"json": repr(number)}
        vectors.append(canonical_case(f"RFC 8785 number {bits}", given, expected))
    for name, text, expected in RFC8785_EXAMPLES:
        vectors.append(canonical_case(name, {"json": text}, expected))
    for name, text in CANONICAL_INPUTS:
        vectors.append(canonical_case(name, {"json": text}))
    for name, given in CANONICAL_REFUSED:
        vector = canonical_case(name, given)
        assert vector["error"] is not None, name
        vectors.append(vector)
    return {
        "about": (
            "RFC 8785 canonical JSON. Each vector's input is a JSON text (json) or a number "
            "spelled for float() and Number() (number); canonical is the output text (its "
            "UTF-8 is the canonical form), or null with error naming the Python exception "
            "when the input has no canonical form."
        ),
        "vectors": vectors,
    }
