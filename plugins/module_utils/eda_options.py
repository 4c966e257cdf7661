# -*- coding: utf-8 -*-
# Copyright: contributors to the veeam.enterprise_manager collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Arguments of the cdp_events event source (extensions/eda): validated before anything connects.

The connection arguments are derived from ``options.CONNECTION_OPTIONS``: same names, defaults and
``VEEAM_EM_*`` environment fallbacks as the modules, so a connection option added there reaches the
source too. Rulebook templating turns numbers and booleans into strings; they are converted here.
"""

from __future__ import annotations

import os

from ansible.module_utils.parsing.convert_bool import boolean

from .audit import prepare_audit
from .errors import InvalidInputError
from .options import CONNECTION_OPTIONS, ConnectionConfig
from .query import RESULTS
from .timeutil import parse_duration, parse_time, utcnow

DEFAULT_INTERVAL = 60.0
MIN_INTERVAL = 0.1
DEFAULT_LOOKBACK = "-15m"
DEFAULT_RESULTS = ("Failed", "Warning")
DEFAULT_VERDICT_WINDOW = "-24h"
# The source logs on itself, and again when EM expires the session: a caller's session id cannot be renewed.
EXCLUDED_CONNECTION_OPTIONS = {"session_id": "the source logs on with username and password, and again when EM expires the session"}
SOURCE_ARGUMENTS = ("interval", "lookback", "results", "state_file", "verdicts", "verdict_interval", "verdict_window",
                    "rules", "expected_vms", "waivers")


def connection_arguments():
    """Names of the connection arguments the source accepts, in table order."""
    return [name for name in CONNECTION_OPTIONS if name not in EXCLUDED_CONNECTION_OPTIONS]


def _typed(name, kind, value):
    if kind == "int":
        if isinstance(value, bool):
            raise InvalidInputError(name, "%r is not a whole number." % (value,), "Give a number.")
        try:
            return int(str(value).strip())
        except ValueError:
            raise InvalidInputError(name, "%r is not a whole number." % (value,), "Give a number.")
    if kind == "bool":
        try:
            return boolean(value, strict=True)
        except TypeError:
            raise InvalidInputError(name, "%r is not a boolean." % (value,), "Use true or false.")
    return str(value)


def connection_values(args, environ):
    """Connection settings from the source's arguments, else the VEEAM_EM_* environment, else the defaults."""
    values = {}
    for name in connection_arguments():
        option = CONNECTION_OPTIONS[name]
        value = args.get(name)
        if value is None:
            value = environ.get(option["env"])
        values[name] = None if value is None else _typed(name, option["type"], value)
    return values


def _seconds(name, value, default, minimum):
    if value is None:
        return default
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise InvalidInputError(name, str(exc), "Give seconds (60) or a duration such as 30s, 5m, 1h.")
    if seconds < minimum:
        raise InvalidInputError(name, "%s is below the minimum of %s seconds." % (value, minimum), "Give at least %s." % minimum)
    return seconds


def _past_time(name, value, now):
    try:
        moment = parse_time(str(value), now=now)
    except ValueError as exc:
        raise InvalidInputError(name, str(exc), "Use a relative time such as -15m, -2h, -1d (or an ISO 8601 time).")
    if moment > now:
        raise InvalidInputError(name, "%s is in the future." % value, "Use a time in the past, such as -15m.")
    return str(value)


def _results(value):
    if value is None:
        return list(DEFAULT_RESULTS)
    items = value if isinstance(value, (list, tuple)) else [value]
    canonical = {choice.lower(): choice for choice in RESULTS}
    chosen = []
    for item in items:
        key = str(item).strip().lower()
        if isinstance(item, (dict, list, bool)) or key not in canonical:
            raise InvalidInputError("results", "%r is not one of %s." % (item, ", ".join(RESULTS)),
                                    "Give a list such as [Failed, Warning]; an empty list raises no session events.")
        chosen.append(canonical[key])
    return list(dict.fromkeys(chosen))


def _state_file(value):
    if value is None or not str(value).strip():
        return None
    path = os.path.abspath(os.path.expanduser(str(value).strip()))
    directory = os.path.dirname(path)
    if os.path.isdir(path):
        raise InvalidInputError("state_file", "%s is a directory." % path, "Give a file path, e.g. /var/lib/eda/cdp-events.json.")
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        raise InvalidInputError("state_file", "the directory %s does not exist or is not writable." % directory,
                                "Create it, or point state_file at a writable directory.")
    return path


def source_options(args, environ=None, now=None):
    """Validated settings of the event source; raises InvalidInputError naming the bad argument."""
    environ = os.environ if environ is None else environ
    now = now or utcnow()
    args = {key: value for key, value in (args or {}).items() if not str(key).startswith("eda_")}  # ansible-rulebook's own
    for name, why in EXCLUDED_CONNECTION_OPTIONS.items():
        if args.get(name) is not None:
            raise InvalidInputError(name, "not supported by the event source: %s." % why, "Remove %s and give username and password." % name)
    known = set(connection_arguments()) | set(SOURCE_ARGUMENTS) | set(EXCLUDED_CONNECTION_OPTIONS)
    unknown = sorted(str(key) for key in args if key not in known)
    if unknown:
        raise InvalidInputError(unknown[0], "unknown argument of veeam.enterprise_manager.cdp_events.",
                                "Known arguments: %s." % ", ".join(sorted(known - set(EXCLUDED_CONNECTION_OPTIONS))))
    connection = connection_values(args, environ)
    ConnectionConfig.from_options(connection)  # checked now; runner.open_client builds the client from the same values
    interval = _seconds("interval", args.get("interval"), DEFAULT_INTERVAL, MIN_INTERVAL)
    verdicts = True if args.get("verdicts") is None else _typed("verdicts", "bool", args.get("verdicts"))
    audit = {"window_start": _past_time("verdict_window", args.get("verdict_window") or DEFAULT_VERDICT_WINDOW, now),
             "rules": args.get("rules") or {}, "expected_vms": args.get("expected_vms") or [], "waivers": args.get("waivers") or []}
    prepare_audit(audit)  # rules, expected_vms and waivers are checked exactly as the audit checks them
    return {
        "connection": connection,
        "interval": interval,
        "lookback": _past_time("lookback", args.get("lookback") or DEFAULT_LOOKBACK, now),
        "results": _results(args.get("results")),
        "state_file": _state_file(args.get("state_file")),
        "verdicts": verdicts,
        "verdict_interval": _seconds("verdict_interval", args.get("verdict_interval"), interval, MIN_INTERVAL),
        "audit": audit,
    }
