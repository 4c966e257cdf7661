# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build EM query filter expressions from typed values.

EM grammar: ``field<op>value``, ``;`` is AND, ``,`` is OR, parentheses group. Strings are
always double-quoted with ``"`` doubled, so no value can change the expression's meaning.
OR groups are always parenthesised: EM does not document the precedence of ``;`` and ``,``.
"""

from __future__ import annotations

import datetime
import re

from .errors import InvalidInputError
from .timeutil import format_filter_time, parse_time

OPERATORS = ("==", "!=", "<", "<=", ">", ">=")
# Aliases accepted in a `filters` dict, for readability in YAML.
OPERATOR_ALIASES = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "=": "=="}
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_TIME_FIELD = re.compile(r"(time|date)", re.IGNORECASE)
MAX_FILTER_LENGTH = 16384


def quote(value):
    """A double-quoted EM string literal."""
    return '"' + str(value).replace('"', '""') + '"'


def literal(value):
    """The EM literal for a typed Python value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime.datetime):
        return quote(format_filter_time(value))
    return quote(value)


def comparison(field, operator, value):
    if not _FIELD.match(field or ""):
        raise InvalidInputError("filters", "%r is not a valid EM field name." % (field,), "Use a field name such as VmDisplayName.")
    if operator not in OPERATORS:
        raise InvalidInputError("filters", "%r is not an EM comparison operator." % (operator,), "Use one of %s." % ", ".join(OPERATORS))
    return "%s%s%s" % (field, operator, literal(value))


def any_of(terms):
    """OR of terms, parenthesised when there is more than one."""
    terms = [term for term in terms if term]
    if not terms:
        return ""
    if len(terms) == 1:
        return terms[0]
    return "(" + ",".join(terms) + ")"


def all_of(terms):
    """AND of terms; every OR group inside is already parenthesised by any_of()."""
    return ";".join(term for term in terms if term)


def wrap_raw(expression):
    """A user-written raw expression, parenthesised so it ANDs safely with the typed filters."""
    expression = (expression or "").strip()
    if not expression:
        return ""
    _check_balanced(expression)
    return "(" + expression + ")"


def _check_balanced(expression):
    depth = 0
    in_quotes = False
    for char in expression:
        if char == '"':
            in_quotes = not in_quotes
        elif not in_quotes and char == "(":
            depth += 1
        elif not in_quotes and char == ")":
            depth -= 1
            if depth < 0:
                break
    if in_quotes or depth != 0:
        raise InvalidInputError("filter", "unbalanced quotes or parentheses in %r." % expression,
                                'Quote strings with double quotes, double any quote inside ("") and close every parenthesis.')


def time_value(option, value, now):
    """A point in time from user input, with the option named in any error."""
    try:
        return parse_time(value, now=now)
    except ValueError as exc:
        raise InvalidInputError(option, str(exc), "Use an ISO 8601 date or datetime (2024-05-01, 2024-05-01T10:00:00+02:00), now, or -30m, -24h, -7d.")


def generic_filters(filters, now):
    """Translate a `filters` dict: field -> value | [values] (ORed) | {operator: value} (ANDed).

    Values of fields whose name mentions time or date go through parse_time, so relative
    times and any ISO 8601 offset work there as in the typed filters.
    """
    if filters is None:
        return ""
    if not isinstance(filters, dict):
        raise InvalidInputError("filters", "must be a dictionary of field names to values.",
                                "For example {VmDisplayName: web01, State: [InProgress, Pending]}.")
    terms = []
    for field, spec in filters.items():
        field = str(field)
        if isinstance(spec, dict):
            if not spec:
                raise InvalidInputError("filters", "the operator dict for %r is empty." % field, "Use for example {'>=': '-24h'}.")
            for operator, value in spec.items():
                operator = OPERATOR_ALIASES.get(str(operator).lower(), str(operator))
                terms.append(_field_term(field, operator, value, now))
        elif isinstance(spec, (list, tuple)):
            if not spec:
                raise InvalidInputError("filters", "the list of values for %r is empty." % field, "Give at least one value, or remove the field.")
            terms.append(any_of([_field_term(field, "==", value, now) for value in spec]))
        else:
            terms.append(_field_term(field, "==", spec, now))
    return all_of(terms)


def _field_term(field, operator, value, now):
    if isinstance(value, (list, tuple, dict)) or value is None:
        raise InvalidInputError("filters", "the value for %r must be a string, number or boolean, not %s." % (field, type(value).__name__),
                                "Nest lists only one level deep: {field: [a, b]}.")
    if _TIME_FIELD.search(field) and isinstance(value, (str, datetime.date)):
        value = time_value("filters", value, now)
    return comparison(field, operator, value)


def check_length(expression):
    if len(expression) > MAX_FILTER_LENGTH:
        raise InvalidInputError("filter", "the filter expression is %d characters long; the limit is %d." % (len(expression), MAX_FILTER_LENGTH),
                                "Narrow the query (fewer list values per field, or a time window) and run it several times.")
    return expression
