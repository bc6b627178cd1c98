"""What a PromQL expression refers to: metric selectors and label names.

Used by the monitoring tests to check the alert rules and the Grafana
dashboard against a live cairnd's /metrics. This is not a full PromQL
parser, but it reads the whole token stream and rejects what it does not
understand (an unknown function, a stray token), so a metric name cannot
slip through unnoticed:

- A metric selector is an identifier that is not a keyword and not followed
  by "(", optionally followed by {matchers}; a bare {matchers} selector is
  accepted only with a __name__ matcher.
- Labels are read from matchers and from by/without/on/ignoring/group_left/
  group_right lists. An aggregation's grouping labels are attached to the
  selectors inside its argument; join labels (on, ignoring, group_*) to
  every selector of the expression.
- Grafana's $variables and ${variables} are accepted where PromQL has
  strings or durations; label_values(selector, label) (a Grafana variable
  query) is understood.

Only the Python standard library is used.
"""

import re

FUNCTIONS = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh",
    "atan", "atanh", "avg_over_time", "ceil", "changes", "clamp",
    "clamp_max", "clamp_min", "cos", "cosh", "count_over_time",
    "days_in_month", "day_of_month", "day_of_week", "day_of_year", "deg",
    "delta", "deriv", "exp", "floor", "histogram_count", "histogram_sum",
    "histogram_fraction", "histogram_quantile", "holt_winters", "hour",
    "idelta", "increase", "irate", "label_replace", "label_join",
    "last_over_time", "ln", "log10", "log2", "max_over_time",
    "min_over_time", "minute", "month", "pi", "predict_linear",
    "present_over_time", "quantile_over_time", "rad", "rate", "resets",
    "round", "scalar", "sgn", "sin", "sinh", "sort", "sort_desc", "sqrt",
    "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh",
    "time", "timestamp", "vector", "year",
}
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
    "count_values", "bottomk", "topk", "quantile",
}
GROUPING = {"by", "without"}
JOINS = {"on", "ignoring", "group_left", "group_right"}
BINARY_WORDS = {"and", "or", "unless", "atan2", "bool"}
LITERAL_WORDS = {"inf", "nan"}

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<var>\$\{[A-Za-z_][A-Za-z0-9_:.]*\}|\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<num>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}\[\]@])
""", re.VERBOSE)


class PromQLError(Exception):
    pass


class Selector:
    """One metric selector: name, matchers [(label, op, value)], and the
    grouping labels of the aggregations it is inside."""

    def __init__(self, name, matchers):
        self.name = name
        self.matchers = matchers
        self.grouping = set()

    def __repr__(self):
        return "Selector(%s, %s, by=%s)" % (self.name, self.matchers,
                                            sorted(self.grouping))


def tokenize(expr):
    tokens = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise PromQLError("cannot read %r at %r" % (expr, expr[pos:pos + 20]))
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        text = m.group(kind)
        if kind == "str":
            text = _unquote(text)
        tokens.append((kind, text))
    return tokens


def _unquote(s):
    if s[0] == "`":
        return s[1:-1]
    body = s[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(
        m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, expr):
        self.expr = expr
        self.toks = tokenize(expr)
        self.i = 0
        self.selectors = []
        self.join_labels = set()
        # (first token, last token, labels) of each aggregation argument.
        self.groupings = []
        # Token index of each selector, to attach grouping labels.
        self.sel_pos = []

    def peek(self, k=0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else (None, None)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def expect(self, text):
        kind, t = self.take()
        if t != text:
            raise PromQLError("%r: expected %r, got %r" % (self.expr, text, t))

    def matching(self, open_index):
        """Index of the token closing the bracket at open_index."""
        pairs = {"(": ")", "{": "}", "[": "]"}
        want = pairs[self.toks[open_index][1]]
        depth = 0
        for j in range(open_index, len(self.toks)):
            t = self.toks[j][1]
            if self.toks[j][0] != "op":
                continue
            if t in pairs:
                depth += 1
            elif t in pairs.values():
                depth -= 1
                if depth == 0:
                    if t != want:
                        break
                    return j
        raise PromQLError("%r: unbalanced %r" % (self.expr, self.toks[open_index][1]))

    def label_list(self):
        self.expect("(")
        labels = []
        while True:
            kind, t = self.take()
            if t == ")":
                return labels
            if kind != "ident":
                raise PromQLError("%r: label list holds %r" % (self.expr, t))
            labels.append(t)
            kind, t = self.peek()
            if t == ",":
                self.take()

    def matchers(self):
        self.expect("{")
        out = []
        while True:
            kind, t = self.take()
            if t == "}":
                return out
            if kind != "ident":
                raise PromQLError("%r: matcher label %r" % (self.expr, t))
            label = t
            kind, op = self.take()
            if op not in ("=", "!=", "=~", "!~"):
                raise PromQLError("%r: matcher operator %r" % (self.expr, op))
            kind, value = self.take()
            if kind not in ("str", "var"):
                raise PromQLError("%r: matcher value %r" % (self.expr, value))
            out.append((label, op, value))
            kind, t = self.peek()
            if t == ",":
                self.take()

    def skip_range(self):
        """[5m], [$__rate_interval], [1h:5m]: durations, no names."""
        start = self.i
        end = self.matching(start)
        for kind, t in self.toks[start + 1:end]:
            if kind == "ident" and not re.fullmatch(r"(ms|[smhdwy])+", t):
                raise PromQLError("%r: %r in a range" % (self.expr, t))
        self.i = end + 1

    def parse(self):
        while self.i < len(self.toks):
            self._step()
        for sel, pos in zip(self.selectors, self.sel_pos):
            for first, last, labels in self.groupings:
                if first <= pos <= last:
                    sel.grouping.update(labels)
        return self.selectors

    def add_selector(self, name, matchers, pos):
        self.selectors.append(Selector(name, matchers))
        self.sel_pos.append(pos)

    def ident(self):
        kind, name = self.take()
        low = name.lower()
        nxt = self.peek()[1]
        if low in LITERAL_WORDS or name in BINARY_WORDS:
            return
        if name == "offset":
            # offset 5m: a number and a unit.
            self.take()
            if self.peek()[0] == "ident":
                self.take()
            return
        if name in JOINS:
            if nxt == "(":
                self.join_labels.update(self.label_list())
            return
        if name in GROUPING:
            raise PromQLError("%r: %s outside an aggregation" % (self.expr, name))
        if name in AGGREGATIONS and nxt in ("(", "by", "without"):
            labels = []
            if nxt in GROUPING:
                self.take()
                labels = self.label_list()
            if self.peek()[1] != "(":
                raise PromQLError("%r: %s without an argument" % (self.expr, name))
            first = self.i
            last = self.matching(first)
            if last + 1 < len(self.toks) and self.toks[last + 1][1] in GROUPING:
                # sum (x) by (l): read the labels now, skip them later.
                save = self.i
                self.i = last + 2
                labels += self.label_list()
                after = self.i
                self.i = save
                self.groupings.append((first, last, labels))
                # Parse the argument, then jump over the trailing list.
                self.i = first + 1
                while self.i < last:
                    self._step()
                self.i = after
                return
            self.groupings.append((first, last, labels))
            self.take()  # "(": the argument is parsed by the main loop
            return
        if nxt == "(":
            if name == "label_values":
                self.label_values()
                return
            if name not in FUNCTIONS:
                raise PromQLError("%r: unknown function %s" % (self.expr, name))
            return  # its arguments are parsed by the main loop
        # A metric name.
        pos = self.i - 1
        matchers = self.matchers() if nxt == "{" else []
        self.add_selector(name, matchers, pos)

    def _step(self):
        kind, t = self.peek()
        if kind == "ident":
            self.ident()
        elif kind == "op" and t == "[":
            self.skip_range()
        elif kind == "op" and t == "{":
            m = self.matchers()
            names = [v for l, op, v in m if l == "__name__" and op == "="]
            if not names:
                raise PromQLError("%r: selector without a name" % self.expr)
            self.add_selector(names[0], [x for x in m if x[0] != "__name__"],
                              self.i)
        else:
            self.take()

    def label_values(self):
        """Grafana: label_values(label) or label_values(selector, label)."""
        open_i = self.i
        close = self.matching(open_i)
        inner = self.toks[open_i + 1:close]
        if not inner or inner[-1][0] != "ident":
            raise PromQLError("%r: label_values needs a label" % self.expr)
        label = inner[-1][1]
        if len(inner) > 1:
            if inner[-2][1] != ",":
                raise PromQLError("%r: label_values(selector, label)" % self.expr)
            first = open_i + 1
            self.i = first
            while self.i < close - 2:
                self._step()
            self.groupings.append((first, close - 2, [label]))
        else:
            self.join_labels.add(label)
        self.i = close + 1


def references(expr):
    """(selectors, join_labels) of a PromQL expression (see module doc)."""
    p = _Parser(expr)
    selectors = p.parse()
    return selectors, p.join_labels


def metric_names(expr):
    return sorted({s.name for s in references(expr)[0]})
