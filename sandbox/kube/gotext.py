"""How Go prints values, for error messages that quote them as kube-apiserver does.

- :func:`go_quote`: ``strconv.Quote`` / ``%q`` (a double-quoted string with Go escapes);
- :func:`go_value`: ``%v`` / ``%+v`` of a decoded JSON value (``map[a:1 b:[x y]]``, maps with
  sorted keys, ``<nil>`` for null), as a strategic merge patch is shown in its errors.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def go_quote(text: str) -> str:
    """``text`` quoted as Go's ``strconv.Quote`` does."""
    out = ['"']
    for char in text:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            if code < 0x80:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def go_float(number: float) -> str:
    """A float64 as ``%v`` prints it: shortest digits, exponent only below 1e-4 or from
    1e21 on (``100000``, ``1.5``, ``1e+21``)."""
    if number != number or number in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(number)]
    text = repr(number)
    exponent = Decimal(text).adjusted()
    if -4 <= exponent < 21:
        plain = format(Decimal(text), "f")
        if "." in plain:
            plain = plain.rstrip("0").rstrip(".")
        return plain
    mantissa, _, power = format(Decimal(text), "e").partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    sign = "-" if power.startswith("-") else "+"
    return f"{mantissa}e{sign}{power.lstrip('+-').zfill(2)}"


def go_value(value: Any) -> str:
    """A decoded JSON value as Go's ``%+v`` prints the ``map[string]interface{}`` it
    decodes to."""
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict):
        inner = " ".join(f"{key}:{go_value(value[key])}" for key in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(item) for item in value) + "]"
    if isinstance(value, float):
        return go_float(value)
    return str(value)
