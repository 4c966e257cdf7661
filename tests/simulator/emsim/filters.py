"""EM query filter grammar: parser, evaluator and compiler.

Grammar (Veeam "query_comparison", "query_and_or", "query_grouping" pages)::

    expr       := term (';' term)*  |  term (',' term)*
    term       := '(' expr ')' | comparison
    comparison := FIELD OP VALUE
    OP         := '==' | '!=' | '<=' | '>=' | '<' | '>'
    VALUE      := '"' ( any char except '"' | '""' )* '"'  |  unquoted token

Choices where EM's behaviour is undocumented (all deliberately strict):
- mixing ';' and ',' at one level without parentheses is rejected;
- unquoted values may only hold letters, digits and ``_ . : -`` (spaces are
  dropped, as EM does); anything else must be quoted;
- string comparisons are case-insensitive (SQL Server default collation);
- datetimes are UTC: date-only means midnight; offsets are rejected;
- a comparison against a missing value (e.g. EndTimeUTC of a running
  session) is false, whatever the operator (SQL NULL semantics).
"""

import datetime
import operator
import re
from collections import namedtuple

Comparison = namedtuple('Comparison', 'field op value quoted')
And = namedtuple('And', 'terms')
Or = namedtuple('Or', 'terms')

OPERATORS = ('==', '!=', '<=', '>=', '<', '>')
_OP_FUNCS = {
    '==': operator.eq, '!=': operator.ne, '<=': operator.le,
    '>=': operator.ge, '<': operator.lt, '>': operator.gt,
}
RESULT_ORDER = ('None', 'Success', 'Warning', 'Failed')
_RESULT_INDEX = dict((name.lower(), idx) for idx, name in enumerate(RESULT_ORDER))

# Filterable/sortable fields per query type, as documented by Veeam.
QUERY_FIELDS = {
    'CdpReplicaTaskSession': (
        ('Id', 'uid'), ('Name', 'str'), ('PolicySessionUid', 'uid'), ('PolicySessionName', 'str'),
        ('BackupServerUid', 'uid'), ('BackupServerName', 'str'), ('CreationTimeUTC', 'datetime'),
        ('EndTimeUTC', 'datetime'), ('State', 'str'), ('Reason', 'str'), ('TotalSize', 'long'),
        ('VmDisplayName', 'str'),
    ),
    'CdpReplicaSession': (
        ('Id', 'uid'), ('Name', 'str'), ('PolicyUid', 'uid'), ('PolicyName', 'str'),
        ('BackupServerUid', 'uid'), ('BackupServerName', 'str'), ('CreationTimeUTC', 'datetime'),
        ('EndTimeUTC', 'datetime'), ('State', 'str'), ('Result', 'result'), ('FailureMessage', 'str'),
    ),
    'CdpPolicy': (
        ('UID', 'uid'), ('Name', 'str'), ('Description', 'str'), ('NextRun', 'datetime'),
        ('ScheduleConfigured', 'bool'), ('ScheduleEnabled', 'bool'), ('BackupServerUid', 'uid'),
        ('BackupServerName', 'str'),
    ),
}


def _schema(fields):
    return dict((name.lower(), (name, kind)) for name, kind in fields)


SCHEMAS = dict((qtype, _schema(fields)) for qtype, fields in QUERY_FIELDS.items())
# Used by evaluate() when no query type is given: every field of every CDP type.
DEFAULT_SCHEMA = {}
for _fields in QUERY_FIELDS.values():
    DEFAULT_SCHEMA.update(_schema(_fields))
DEFAULT_SCHEMA.update(_schema((('Result', 'result'),)))


class FilterError(ValueError):
    """A filter that EM would reject; the message is sent back in the Error body."""


_FIELD_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
_UNQUOTED_ALLOWED = re.compile(r'[A-Za-z0-9_.:\-]+\Z')
_DT_RE = re.compile(
    r'(\d{4})-(\d{2})-(\d{2})'
    r'(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?'
    r'(Z)?\Z'
)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def parse_datetime_us(text):
    """UTC datetime text -> integer microseconds since the epoch (FilterError if invalid)."""
    match = _DT_RE.match(text.strip())
    if not match:
        raise FilterError('Invalid DateTime value "%s": expected a UTC date or date-time '
                          '(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.fffffff]Z)' % text)
    year, month, day, hour, minute, second, frac, zulu = match.groups()
    if hour is None and zulu:
        raise FilterError('Invalid DateTime value "%s"' % text)
    try:
        value = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                                  int(second or 0), tzinfo=datetime.timezone.utc)
    except ValueError as exc:
        raise FilterError('Invalid DateTime value "%s": %s' % (text, exc)) from None
    micros = int((frac or '0').ljust(7, '0')[:6])
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000000 + micros


class _Parser(object):
    def __init__(self, text):
        self.text = text
        self.pos = 0

    def error(self, message):
        raise FilterError('Filter syntax error at position %d: %s (filter: %s)' % (self.pos + 1, message, self.text))

    def skip_ws(self):
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self):
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ''

    def parse(self):
        if not self.text.strip():
            self.error('empty filter')
        node = self.expr()
        if self.peek():
            self.error('unexpected "%s"' % self.peek())
        return node

    def expr(self):
        terms = [self.term()]
        joiner = None
        while self.peek() in (';', ','):
            sep = self.peek()
            if joiner is not None and sep != joiner:
                self.error('";" (AND) and "," (OR) mixed without parentheses; group them with ( )')
            joiner = sep
            self.pos += 1
            terms.append(self.term())
        if joiner is None:
            return terms[0]
        return And(tuple(terms)) if joiner == ';' else Or(tuple(terms))

    def term(self):
        char = self.peek()
        if char == '(':
            self.pos += 1
            node = self.expr()
            if self.peek() != ')':
                self.error('missing ")"')
            self.pos += 1
            return node
        if not char:
            self.error('expected a comparison, found end of filter')
        return self.comparison()

    def comparison(self):
        self.skip_ws()
        match = _FIELD_RE.match(self.text, self.pos)
        if not match:
            self.error('expected a field name, found "%s"' % self.text[self.pos])
        field = match.group(0)
        self.pos = match.end()
        self.skip_ws()
        for op in OPERATORS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                break
        else:
            self.error('expected one of %s after field "%s"' % (' '.join(OPERATORS), field))
        value, quoted = self.value()
        return Comparison(field, op, value, quoted)

    def value(self):
        self.skip_ws()
        if self.pos < len(self.text) and self.text[self.pos] == '"':
            self.pos += 1
            chunks = []
            while True:
                end = self.text.find('"', self.pos)
                if end < 0:
                    self.error('unterminated quoted value')
                chunks.append(self.text[self.pos:end])
                self.pos = end + 1
                if self.text.startswith('"', self.pos):
                    chunks.append('"')
                    self.pos += 1
                    continue
                return ''.join(chunks), True
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ';,()':
            self.pos += 1
        raw = ''.join(self.text[start:self.pos].split())
        if not raw:
            self.error('missing value')
        if not _UNQUOTED_ALLOWED.match(raw):
            self.pos = start
            self.error('unquoted value "%s" contains characters that must be quoted' % raw)
        return raw, False


def parse_filter(text):
    """Parse filter text into an AST of Comparison / And / Or namedtuples (pure function)."""
    if not isinstance(text, str):
        raise FilterError('filter must be a string')
    return _Parser(text).parse()


def iter_comparisons(ast):
    if isinstance(ast, Comparison):
        yield ast
    else:
        for term in ast.terms:
            yield from iter_comparisons(term)


def coerce_constant(kind, value, field='value'):
    """Filter value text -> comparable Python constant for a field kind."""
    if kind in ('str', 'uid'):
        return value.casefold()
    if kind == 'datetime':
        return parse_datetime_us(value)
    if kind == 'long':
        try:
            return int(value)
        except ValueError:
            raise FilterError('Invalid value "%s" for numeric field %s' % (value, field)) from None
    if kind == 'result':
        try:
            return _RESULT_INDEX[value.lower()]
        except KeyError:
            raise FilterError('Invalid value "%s" for field %s; expected one of %s'
                              % (value, field, ', '.join(RESULT_ORDER))) from None
    if kind == 'bool':
        if value.lower() in ('true', 'false'):
            return value.lower() == 'true'
        raise FilterError('Invalid value "%s" for boolean field %s' % (value, field))
    raise FilterError('Unsupported field kind %s' % kind)


def lookup_field(schema, field, qtype=None):
    try:
        return schema[field.lower()]
    except KeyError:
        where = (' for query type %s' % qtype) if qtype else ''
        raise FilterError('Unknown filter field "%s"%s. Allowed fields: %s'
                          % (field, where, ', '.join(sorted(name for name, _kind in schema.values())))) from None


def bind(ast, qtype=None):
    """Validate field names and values; returns a tree of (canonical_field, kind, op, constant)."""
    schema = SCHEMAS[qtype] if qtype else DEFAULT_SCHEMA
    if isinstance(ast, Comparison):
        name, kind = lookup_field(schema, ast.field, qtype)
        return ('cmp', name, kind, ast.op, coerce_constant(kind, ast.value, name))
    return ('and' if isinstance(ast, And) else 'or', tuple(bind(term, qtype) for term in ast.terms))


def _record_value(kind, value):
    if value is None:
        return None
    if kind in ('str', 'uid'):
        return str(value).casefold()
    if kind == 'datetime':
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=datetime.timezone.utc)
            delta = value - _EPOCH
            return (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.endswith('+00:00'):
            text = text[:-6] + 'Z'
        return parse_datetime_us(text)
    if kind == 'long':
        return int(value)
    if kind == 'result':
        return _RESULT_INDEX.get(str(value).lower(), 0)
    if kind == 'bool':
        return value if isinstance(value, bool) else str(value).lower() == 'true'
    return value


def evaluate(ast, record, qtype=None):
    """Evaluate a parsed filter against a record dict (keys matched case-insensitively).

    Record values may be str, int, bool, None, datetime or ISO 8601 text for datetime fields.
    Semantics are the simulator's (case-insensitive strings, missing value -> False).
    """
    bound = ast if isinstance(ast, tuple) and ast and ast[0] in ('cmp', 'and', 'or') else bind(ast, qtype)
    folded = dict((str(key).lower(), value) for key, value in record.items())
    return _eval_bound(bound, folded)


def _eval_bound(node, folded):
    if node[0] == 'cmp':
        _tag, name, kind, op, const = node
        value = _record_value(kind, folded.get(name.lower()))
        if value is None:
            return False
        return _OP_FUNCS[op](value, const)
    if node[0] == 'and':
        return all(_eval_bound(term, folded) for term in node[1])
    return any(_eval_bound(term, folded) for term in node[1])


def compile_predicate(bound, getters):
    """Compile a bound filter into a fast predicate over the simulator's record tuples.

    getters maps canonical field name -> (python expression over ``r``, nullable, env dict).
    """
    env = {}
    consts = []

    def gen(node):
        if node[0] == 'cmp':
            _tag, name, _kind, op, const = node
            expr, nullable, extra_env = getters[name]
            env.update(extra_env)
            cname = '_c%d' % len(consts)
            consts.append(const)
            env[cname] = const
            test = '(%s %s %s)' % (expr, op, cname)
            if nullable:
                test = '(%s is not None and %s)' % (expr, test)
            return test
        joiner = ' and ' if node[0] == 'and' else ' or '
        return '(' + joiner.join(gen(term) for term in node[1]) + ')'

    source = 'lambda r: ' + gen(bound)
    return eval(compile(source, '<em-filter>', 'eval'), env)  # pylint: disable=eval-used
