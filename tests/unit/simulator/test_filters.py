"""Filter grammar: parser, evaluator, compiled predicates."""

import datetime
import random

import pytest

from emsim import filters
from emsim.filters import And, Comparison, FilterError, Or, evaluate, parse_filter


def test_single_comparison_unquoted():
    assert parse_filter('State==Completed') == Comparison('State', '==', 'Completed', False)


@pytest.mark.parametrize('op', ['==', '!=', '<', '<=', '>', '>='])
def test_all_operators(op):
    assert parse_filter('TotalSize%s5' % op).op == op


def test_and_or_and_nesting():
    ast = parse_filter('(State==Completed;TotalSize>1),(VmDisplayName=="a b";(Reason!=x,Reason==y))')
    assert isinstance(ast, Or)
    assert ast.terms[0] == And((Comparison('State', '==', 'Completed', False), Comparison('TotalSize', '>', '1', False)))
    inner = ast.terms[1]
    assert isinstance(inner, And) and isinstance(inner.terms[1], Or)


def test_quoted_value_with_doubled_quote_and_separators():
    ast = parse_filter('VmDisplayName=="O""Brien; x, (y)"')
    assert ast == Comparison('VmDisplayName', '==', 'O"Brien; x, (y)', True)


def test_empty_quoted_value():
    assert parse_filter('Reason==""') == Comparison('Reason', '==', '', True)


def test_spaces_in_unquoted_value_are_dropped():
    assert parse_filter('State == In Progress').value == 'InProgress'


@pytest.mark.parametrize('text,fragment', [
    ('State==A;State==B,State==C', 'mixed'),
    ('(State==A', 'missing ")"'),
    ('State==A)', 'unexpected'),
    ('State=A', 'expected one of'),
    ('==A', 'field name'),
    ('State==', 'missing value'),
    ('Name=="abc', 'unterminated'),
    ('Name==a@b', 'must be quoted'),
    ('Name=="a"b', 'unexpected'),
    ('', 'empty'),
    ('State==A;', 'expected a comparison'),
])
def test_syntax_errors(text, fragment):
    with pytest.raises(FilterError) as err:
        parse_filter(text)
    assert fragment in str(err.value)


def test_unknown_field_is_rejected_per_type():
    ast = parse_filter('Result==Failed')
    with pytest.raises(FilterError, match='Unknown filter field "Result"'):
        filters.bind(ast, 'CdpReplicaTaskSession')
    filters.bind(ast, 'CdpReplicaSession')


def test_field_names_case_insensitive():
    bound = filters.bind(parse_filter('vmdisplayname==x;creationtimeutc>=2021-06-15'), 'CdpReplicaTaskSession')
    assert [node[1] for node in bound[1]] == ['VmDisplayName', 'CreationTimeUTC']


@pytest.mark.parametrize('text,expected', [
    ('2021-06-15', '2021-06-15T00:00:00'),
    ('2021-06-15T07:00:06Z', '2021-06-15T07:00:06'),
    ('2021-06-15T07:00:06', '2021-06-15T07:00:06'),
    ('2021-06-15T07:00:06.787Z', '2021-06-15T07:00:06.787000'),
    ('2025-08-14T12:31:30.389954Z', '2025-08-14T12:31:30.389954'),
    ('2021-06-15T07:00', '2021-06-15T07:00:00'),
])
def test_datetime_forms(text, expected):
    micros = filters.parse_datetime_us(text)
    value = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=micros)
    assert value.isoformat() == expected


@pytest.mark.parametrize('text', ['yesterday', '2021-13-01', '2021-06-15T07:00:06+02:00', '2021-06-15Z'])
def test_bad_datetimes(text):
    with pytest.raises(FilterError):
        filters.parse_datetime_us(text)


RECORD = {'VmDisplayName': 'Virt03-Ubuntu01', 'CreationTimeUTC': '2021-06-15T07:00:06.787Z', 'EndTimeUTC': None,
          'State': 'InProgress', 'TotalSize': 17179869184, 'Reason': None, 'Result': 'Warning'}


@pytest.mark.parametrize('text,expected', [
    ('VmDisplayName=="virt03-ubuntu01"', True),           # case-insensitive strings
    ('vmdisplayname==VIRT03-UBUNTU01', True),
    ('CreationTimeUTC>="2021-06-15";CreationTimeUTC<="2021-06-16"', True),
    ('CreationTimeUTC>"2021-06-15T07:00:06.787Z"', False),
    ('CreationTimeUTC>"2021-06-15T07:00:06.786Z"', True),
    ('EndTimeUTC<"2030-01-01"', False),                    # missing value: every comparison is false
    ('EndTimeUTC!="2030-01-01"', False),
    ('(EndTimeUTC<"2030-01-01"),(State==InProgress)', True),
    ('TotalSize>=17179869184;TotalSize<17179869185', True),
    ('Result>Success', True),                              # enum compared by index
    ('Result>=Failed', False),
    ('Result<Failed;Result>None', True),
])
def test_evaluate(text, expected):
    assert evaluate(parse_filter(text), RECORD) is expected


def test_evaluate_accepts_datetime_objects():
    rec = {'CreationTimeUTC': datetime.datetime(2021, 6, 15, 7, 0, 6, tzinfo=datetime.timezone.utc)}
    assert evaluate(parse_filter('CreationTimeUTC=="2021-06-15T07:00:06Z"'), rec)


def test_bad_typed_values():
    with pytest.raises(FilterError):
        filters.bind(parse_filter('TotalSize>big'), 'CdpReplicaTaskSession')
    with pytest.raises(FilterError):
        filters.bind(parse_filter('Result==Meh'), 'CdpReplicaSession')
    with pytest.raises(FilterError):
        filters.bind(parse_filter('ScheduleEnabled==maybe'), 'CdpPolicy')


def test_compiled_predicate_matches_evaluator():
    """The server's compiled predicates and the pure evaluator agree on random filters."""
    rng = random.Random(7)
    names = ['a', 'B', 'c d', 'O"x']
    getters = {
        'VmDisplayName': ('_N[r[0]]', False, {'_N': [n.casefold() for n in names]}),
        'TotalSize': ('r[1]', False, {}),
        'EndTimeUTC': ('r[2]', True, {}),
    }
    records = [(rng.randrange(len(names)), rng.randrange(5), rng.choice([None, 1623715200000000, 1623801600000000]))
               for dummy in range(50)]

    def leaf():
        field = rng.choice(['VmDisplayName', 'TotalSize', 'EndTimeUTC'])
        op = rng.choice(filters.OPERATORS)
        if field == 'VmDisplayName':
            return '%s%s"%s"' % (field, op, rng.choice(names).upper().replace('"', '""'))
        if field == 'TotalSize':
            return '%s%s%d' % (field, op, rng.randrange(5))
        return '%s%s"%s"' % (field, op, rng.choice(['2021-06-15', '2021-06-16T00:00:00Z']))

    def expr(depth):
        if depth == 0 or rng.random() < 0.3:
            return leaf()
        sep = rng.choice([';', ','])
        return '(' + sep.join(expr(depth - 1) for dummy in range(rng.randrange(2, 4))) + ')'

    for dummy in range(200):
        text = expr(3)
        bound = filters.bind(parse_filter(text), 'CdpReplicaTaskSession')
        predicate = filters.compile_predicate(bound, getters)
        for rec in records:
            as_dict = {'VmDisplayName': names[rec[0]], 'TotalSize': rec[1], 'EndTimeUTC': rec[2]}
            assert predicate(rec) == evaluate(parse_filter(text), as_dict, 'CdpReplicaTaskSession'), text
