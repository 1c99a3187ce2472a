"""DynamoDB's expression language, for the local DynamoDB.

A tokenizer and a recursive-descent parser turn condition, key-condition,
filter, projection and update expressions into small trees; #name and :value
placeholders are resolved while parsing and recorded, because AWS rejects a
request that defines placeholders it never uses. The trees are evaluated
against items held as DynamoDB's typed values ({"S": "x"}, {"N": "1.5"}, ...).

Grammar (keywords are case-insensitive, function names are not):

    condition   := conjunction ("OR" conjunction)*
    conjunction := negation ("AND" negation)*
    negation    := "NOT" negation | "(" condition ")" | function | comparison
    comparison  := operand comparator operand
                 | operand "BETWEEN" operand "AND" operand
                 | operand "IN" "(" operand ("," operand)* ")"
    function    := name "(" operand ("," operand)* ")"     attribute_exists, begins_with, ...
    operand     := path | :value | "size" "(" path ")"
    path        := name ("." name | "[" digits "]")*        name: identifier or #placeholder
    projection  := path ("," path)*
    update      := clause+, each of SET, REMOVE, ADD, DELETE at most once
    clause      := "SET" path "=" value ("," path "=" value)*
                 | "REMOVE" path ("," path)*
                 | ("ADD" | "DELETE") path :value ("," path :value)*
    value       := term (("+" | "-") term)?
    term        := path | :value | "if_not_exists" "(" path "," term ")" | "list_append" "(" term "," term ")"
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation
from typing import Any

from facerec.local.base import ServiceError
from facerec.local.dynamodb_reserved import RESERVED_WORDS

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

TYPE_NAMES = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
ORDERED_TYPES = ("N", "S", "B")
COMPARATORS = ("=", "<>", "<", "<=", ">", ">=")
# Function name -> its arity; the first argument of each is a document path.
CONDITION_FUNCTIONS = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
}
UPDATE_CLAUSES = ("SET", "REMOVE", "ADD", "DELETE")

# DynamoDB numbers: 38 significant digits, magnitudes from 1E-130 to below 1E+126.
NUMBER_CONTEXT = Context(prec=38, traps=[Inexact, InvalidOperation])
MAX_DIGITS = 38
MAX_EXPONENT = 125
MIN_EXPONENT = -130


def invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


# Numbers


def parse_number(text: str) -> Decimal:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise invalid("A value provided cannot be converted into a number")
    return number


def number_text(number: Decimal) -> str:
    """DynamoDB's canonical text for a number ("1.50" and "15E-1" are both "1.5"), range-checked."""
    if number.is_zero():
        return "0"
    sign, digits, exponent = number.as_tuple()
    all_digits = "".join(map(str, digits))
    significant = all_digits.rstrip("0")  # as_tuple() has no leading zeros for a nonzero number
    trailing_zeros = len(all_digits) - len(significant)
    if len(significant) > MAX_DIGITS:
        raise invalid("Attempting to store more than 38 significant digits in a Number")
    magnitude = number.adjusted()
    if magnitude > MAX_EXPONENT:
        raise invalid("Number overflow. Attempting to store a number with magnitude larger than supported range")
    if magnitude < MIN_EXPONENT:
        raise invalid("Number underflow. Attempting to store a number with magnitude smaller than supported range")
    canonical = Decimal((sign, tuple(int(d) for d in significant), exponent + trailing_zeros))
    return format(canonical, "f")


def arithmetic(op: str, left: str, right: str) -> str:
    try:
        if op == "+":
            result = NUMBER_CONTEXT.add(Decimal(left), Decimal(right))
        else:
            result = NUMBER_CONTEXT.subtract(Decimal(left), Decimal(right))
    except Inexact:
        raise invalid("Attempting to store more than 38 significant digits in a Number") from None
    return number_text(result)


# Tokens

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<attr_name>\#[A-Za-z0-9_]+)
    | (?P<attr_value>:[A-Za-z0-9_]+)
    | (?P<index>[0-9]+)
    | (?P<symbol><>|<=|>=|[=<>(),.\[\]+-])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # name, attr_name, attr_value, index, symbol or end
    text: str
    at: int


def tokenize(text: str, kind: str) -> list[Token]:
    tokens, at = [], 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise invalid(f'Invalid {kind}: Syntax error; token: "{text[at]}", near: "{text[max(0, at - 8) : at + 8]}"')
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup, match.group(), at))
        at = match.end()
    tokens.append(Token("end", "<EOF>", len(text)))
    return tokens


# Trees


@dataclass(frozen=True)
class Path:
    elements: tuple[str | int, ...]

    def __str__(self) -> str:
        return ", ".join(str(e) if isinstance(e, str) else f"[{e}]" for e in self.elements)


@dataclass(frozen=True)
class Value:
    value: AttributeValue
    placeholder: str


@dataclass(frozen=True)
class Size:
    path: Path


@dataclass(frozen=True)
class Comparison:
    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True)
class Between:
    operand: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True)
class In:
    operand: Operand
    choices: tuple[Operand, ...]


@dataclass(frozen=True)
class Function:
    name: str
    args: tuple[Operand, ...]


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class Logical:
    op: str  # AND or OR
    left: Condition
    right: Condition


@dataclass(frozen=True)
class Arithmetic:
    op: str  # + or -
    left: Term
    right: Term


@dataclass(frozen=True)
class Call:
    name: str  # if_not_exists or list_append
    args: tuple[Term, ...]


@dataclass(frozen=True)
class Action:
    clause: str  # SET, REMOVE, ADD or DELETE
    path: Path
    value: UpdateValue | None


Operand = Path | Value | Size
Condition = Comparison | Between | In | Function | Not | Logical
Term = Path | Value | Call
UpdateValue = Term | Arithmetic


# Placeholders


class Placeholders:
    """A request's ExpressionAttributeNames and -Values, and which of them its expressions used."""

    def __init__(self, names: dict[str, str] | None, values: dict[str, AttributeValue] | None) -> None:
        self.names = names or {}
        self.values = values or {}
        self.used_names: set[str] = set()
        self.used_values: set[str] = set()

    def name(self, placeholder: str, kind: str) -> str:
        if placeholder not in self.names:
            raise invalid(
                f"Invalid {kind}: An expression attribute name used in the document path is not defined;"
                f" attribute name: {placeholder}"
            )
        self.used_names.add(placeholder)
        return self.names[placeholder]

    def value(self, placeholder: str, kind: str) -> AttributeValue:
        if placeholder not in self.values:
            raise invalid(
                f"Invalid {kind}: An expression attribute value used in expression is not defined;"
                f" attribute value: {placeholder}"
            )
        self.used_values.add(placeholder)
        return self.values[placeholder]

    def check_all_used(self) -> None:
        for provided, used, label in (
            (self.names, self.used_names, "Names"),
            (self.values, self.used_values, "Values"),
        ):
            unused = [key for key in provided if key not in used]
            if unused:
                raise invalid(
                    f"Value provided in ExpressionAttribute{label} unused in expressions: keys: {{{', '.join(unused)}}}"
                )


# Parser


class Parser:
    """Recursive descent over the tokens of one expression; `kind` names it in error messages."""

    def __init__(self, text: str, kind: str, placeholders: Placeholders) -> None:
        if not text.strip():
            raise invalid(f"Invalid {kind}: The expression can not be empty;")
        self.text = text
        self.kind = kind
        self.placeholders = placeholders
        self.tokens = tokenize(text, kind)
        self.index = 0

    # Token access

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.peek()
        self.index += 1
        return token

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "name" and token.text.upper() == word

    def at_symbol(self, symbol: str) -> bool:
        token = self.peek()
        return token.kind == "symbol" and token.text == symbol

    def at_call(self) -> bool:
        return self.peek().kind == "name" and self.peek(1).text == "("

    def expect_symbol(self, symbol: str) -> None:
        if not self.at_symbol(symbol):
            raise self.syntax_error()
        self.advance()

    def expect_keyword(self, word: str) -> None:
        if not self.at_keyword(word):
            raise self.syntax_error()
        self.advance()

    def expect_end(self) -> None:
        if self.peek().kind != "end":
            raise self.syntax_error()

    def syntax_error(self) -> ServiceError:
        token = self.peek()
        start = self.tokens[self.index - 1].at if self.index > 0 else token.at
        near = self.text[start : token.at + len(token.text)]
        return invalid(f'Invalid {self.kind}: Syntax error; token: "{token.text}", near: "{near}"')

    def error(self, message: str) -> ServiceError:
        return invalid(f"Invalid {self.kind}: {message}")

    # Conditions

    def condition(self) -> Condition:
        node = self.conjunction()
        while self.at_keyword("OR"):
            self.advance()
            node = Logical("OR", node, self.conjunction())
        return node

    def conjunction(self) -> Condition:
        node = self.negation()
        while self.at_keyword("AND"):
            self.advance()
            node = Logical("AND", node, self.negation())
        return node

    def negation(self) -> Condition:
        if self.at_keyword("NOT"):
            self.advance()
            return Not(self.negation())
        if self.at_symbol("("):
            self.advance()
            node = self.condition()
            self.expect_symbol(")")
            return node
        if self.at_call() and self.peek().text != "size":
            return self.function()
        return self.comparison()

    def comparison(self) -> Condition:
        left = self.operand()
        token = self.peek()
        if token.kind == "symbol" and token.text in COMPARATORS:
            self.advance()
            node = Comparison(token.text, left, self.operand())
            if node.op not in ("=", "<>"):
                self.check_ordered(node.op, (node.left, node.right))
            return node
        if self.at_keyword("BETWEEN"):
            self.advance()
            low = self.operand()
            self.expect_keyword("AND")
            return self.checked_between(Between(left, low, self.operand()))
        if self.at_keyword("IN"):
            self.advance()
            self.expect_symbol("(")
            choices = [self.operand()]
            while self.at_symbol(","):
                self.advance()
                choices.append(self.operand())
            self.expect_symbol(")")
            return In(left, tuple(choices))
        raise self.syntax_error()

    def function(self) -> Function:
        name = self.advance().text
        if name not in CONDITION_FUNCTIONS:
            raise self.error(f"Invalid function name; function: {name}")
        args = self.arguments(self.operand)
        if len(args) != CONDITION_FUNCTIONS[name]:
            raise self.error(
                f"Incorrect number of operands for operator or function; operator or function: {name},"
                f" number of operands: {len(args)}"
            )
        if not isinstance(args[0], Path):
            raise self.error(f"Operator or function requires a document path; operator or function: {name}")
        node = Function(name, tuple(args))
        self.check_function_operand(node)
        return node

    def arguments(self, parse_one: Any) -> list:
        self.expect_symbol("(")
        args = [parse_one()]
        while self.at_symbol(","):
            self.advance()
            args.append(parse_one())
        self.expect_symbol(")")
        return args

    def operand(self) -> Operand:
        token = self.peek()
        if token.kind == "attr_value":
            self.advance()
            return Value(self.placeholders.value(token.text, self.kind), token.text)
        if self.at_call():
            self.advance()
            if token.text != "size":
                raise self.error(f"Invalid function name; function: {token.text}")
            args = self.arguments(self.path)
            if len(args) != 1:
                raise self.error(
                    "Incorrect number of operands for operator or function; operator or function: size,"
                    f" number of operands: {len(args)}"
                )
            return Size(args[0])
        return self.path()

    # Static checks on literal operands, as AWS makes before looking at any item.

    def check_ordered(self, op: str, operands: tuple[Operand, ...]) -> None:
        for operand in operands:
            if isinstance(operand, Value) and type_of(operand.value) not in ORDERED_TYPES:
                raise self.error(
                    f"Incorrect operand type for operator or function; operator or function: {op},"
                    f" operand type: {type_of(operand.value)}"
                )

    def checked_between(self, node: Between) -> Between:
        self.check_ordered("BETWEEN", (node.operand, node.low, node.high))
        if isinstance(node.low, Value) and isinstance(node.high, Value):
            low, high = node.low.value, node.high.value
            bounds = (
                f"lower bound operand: AttributeValue: {_show(low)}, upper bound operand: AttributeValue: {_show(high)}"
            )
            if type_of(low) != type_of(high):
                raise self.error(f"The BETWEEN operator requires same data type for lower and upper bounds; {bounds}")
            if order(low, high) > 0:
                raise self.error(
                    f"The BETWEEN operator requires upper bound to be greater than or equal to lower bound; {bounds}"
                )
        return node

    def check_function_operand(self, node: Function) -> None:
        if len(node.args) < 2 or not isinstance(node.args[1], Value):
            return
        value = node.args[1].value
        if node.name == "begins_with" and type_of(value) not in ("S", "B"):
            raise self.error(
                "Incorrect operand type for operator or function; operator or function: begins_with,"
                f" operand type: {type_of(value)}"
            )
        if node.name == "attribute_type" and value.get("S") not in TYPE_NAMES:
            raise self.error(f"Invalid type for attribute_type function; type: {value.get('S', type_of(value))}")

    # Paths

    def path(self) -> Path:
        elements: list[str | int] = [self.path_name()]
        while True:
            if self.at_symbol("."):
                self.advance()
                elements.append(self.path_name())
            elif self.at_symbol("["):
                self.advance()
                token = self.advance()
                if token.kind != "index":
                    self.index -= 1
                    raise self.syntax_error()
                self.expect_symbol("]")
                elements.append(int(token.text))
            else:
                return Path(tuple(elements))

    def path_name(self) -> str:
        token = self.peek()
        if token.kind == "attr_name":
            self.advance()
            return self.placeholders.name(token.text, self.kind)
        if token.kind != "name":
            raise self.syntax_error()
        if token.text.upper() in RESERVED_WORDS:
            raise self.error(f"Attribute name is a reserved keyword; reserved keyword: {token.text}")
        self.advance()
        return token.text

    def projection(self) -> list[Path]:
        paths = [self.path()]
        while self.at_symbol(","):
            self.advance()
            paths.append(self.path())
        self.expect_end()
        return paths

    # Updates

    def update(self) -> list[Action]:
        actions: list[Action] = []
        seen: set[str] = set()
        while self.peek().kind != "end":
            token = self.peek()
            clause = token.text.upper() if token.kind == "name" else ""
            if clause not in UPDATE_CLAUSES:
                raise self.syntax_error()
            if clause in seen:
                raise self.error(f'The "{clause}" section can only be used once in an update expression;')
            seen.add(clause)
            self.advance()
            actions.append(self.action(clause))
            while self.at_symbol(","):
                self.advance()
                actions.append(self.action(clause))
        return actions

    def action(self, clause: str) -> Action:
        path = self.path()
        if clause == "REMOVE":
            return Action(clause, path, None)
        if clause == "SET":
            self.expect_symbol("=")
            return Action(clause, path, self.update_value())
        token = self.peek()
        if token.kind != "attr_value":
            raise self.syntax_error()
        self.advance()
        value = self.placeholders.value(token.text, self.kind)
        allowed = ("N", "SS", "NS", "BS") if clause == "ADD" else ("SS", "NS", "BS")
        if type_of(value) not in allowed:
            raise self.error(
                f"Incorrect operand type for operator or function; operator: {clause}, operand type: {type_of(value)}"
            )
        return Action(clause, path, Value(value, token.text))

    def update_value(self) -> UpdateValue:
        left = self.term()
        if self.at_symbol("+") or self.at_symbol("-"):
            op = self.advance().text
            return Arithmetic(op, left, self.term())
        return left

    def term(self) -> Term:
        token = self.peek()
        if token.kind == "attr_value":
            self.advance()
            return Value(self.placeholders.value(token.text, self.kind), token.text)
        if not self.at_call():
            return self.path()
        self.advance()
        if token.text == "if_not_exists":
            args = self.arguments(self.term)
            if len(args) != 2 or not isinstance(args[0], Path):
                raise self.error("Operator or function requires a document path; operator or function: if_not_exists")
            return Call(token.text, tuple(args))
        if token.text == "list_append":
            args = self.arguments(self.term)
            if len(args) != 2:
                raise self.error(
                    "Incorrect number of operands for operator or function; operator or function: list_append,"
                    f" number of operands: {len(args)}"
                )
            return Call(token.text, tuple(args))
        raise self.error(f"Invalid function name; function: {token.text}")


def parse_condition(text: str, kind: str, placeholders: Placeholders) -> Condition:
    parser = Parser(text, kind, placeholders)
    node = parser.condition()
    parser.expect_end()
    return node


def parse_projection(text: str, placeholders: Placeholders) -> list[Path]:
    paths = Parser(text, "ProjectionExpression", placeholders).projection()
    check_overlaps(paths, "Invalid ProjectionExpression: ")
    return paths


def parse_update(text: str, placeholders: Placeholders) -> list[Action]:
    actions = Parser(text, "UpdateExpression", placeholders).update()
    check_overlaps([action.path for action in actions], "Invalid UpdateExpression: ")
    return actions


def check_overlaps(paths: list[Path], prefix: str) -> None:
    # AWS refuses two paths where one is, or lies inside, the other: the result would depend on their order.
    for i, first in enumerate(paths):
        for second in paths[i + 1 :]:
            common = min(len(first.elements), len(second.elements))
            if first.elements[:common] == second.elements[:common]:
                raise invalid(
                    f"{prefix}Two document paths overlap with each other; must remove or rewrite one of these paths;"
                    f" path one: [{first}], path two: [{second}]"
                )


def condition_paths(node: Condition | Operand) -> list[Path]:
    """Every document path a condition reads."""
    if isinstance(node, Path):
        return [node]
    if isinstance(node, Size):
        return [node.path]
    if isinstance(node, Value):
        return []
    if isinstance(node, Logical):
        return condition_paths(node.left) + condition_paths(node.right)
    if isinstance(node, Not):
        return condition_paths(node.operand)
    if isinstance(node, Comparison):
        return condition_paths(node.left) + condition_paths(node.right)
    if isinstance(node, Between):
        return [p for part in (node.operand, node.low, node.high) for p in condition_paths(part)]
    if isinstance(node, In):
        return [p for part in (node.operand, *node.choices) for p in condition_paths(part)]
    return [p for arg in node.args for p in condition_paths(arg)]


# Typed values


def type_of(value: AttributeValue) -> str:
    return next(iter(value))


def same(a: AttributeValue, b: AttributeValue) -> bool:
    """DynamoDB equality: same type and value; numbers by value, sets regardless of order."""
    kind = type_of(a)
    if kind != type_of(b):
        return False
    x, y = a[kind], b[kind]
    if kind == "N":
        return Decimal(x) == Decimal(y)
    if kind == "NS":
        return {Decimal(n) for n in x} == {Decimal(n) for n in y}
    if kind in ("SS", "BS"):
        return set(x) == set(y)
    if kind == "L":
        return len(x) == len(y) and all(same(i, j) for i, j in zip(x, y, strict=True))
    if kind == "M":
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    return x == y


def order(a: AttributeValue, b: AttributeValue) -> int:
    """-1, 0 or 1 for two values of one ordered type (N, S, B); strings order by code point, as by UTF-8 bytes."""
    kind = type_of(a)
    x, y = a[kind], b[kind]
    if kind == "N":
        x, y = Decimal(x), Decimal(y)
    return (x > y) - (x < y)


def comparable(a: AttributeValue | None, b: AttributeValue | None) -> bool:
    return a is not None and b is not None and type_of(a) == type_of(b) and type_of(a) in ORDERED_TYPES


def _show(value: AttributeValue) -> str:
    kind = type_of(value)
    return f"{{{kind}:{value[kind]}}}"


# Evaluation


def resolve(item: Item, path: Path) -> AttributeValue | None:
    current: AttributeValue | None = {"M": item}
    for element in path.elements:
        if isinstance(element, str):
            children = current.get("M")
            current = children.get(element) if children is not None else None
        else:
            children = current.get("L")
            current = children[element] if children is not None and element < len(children) else None
        if current is None:
            return None
    return current


def operand_value(operand: Operand, item: Item) -> AttributeValue | None:
    if isinstance(operand, Value):
        return operand.value
    if isinstance(operand, Size):
        return size_of(resolve(item, operand.path))
    return resolve(item, operand)


def size_of(value: AttributeValue | None) -> AttributeValue | None:
    if value is None or type_of(value) in ("N", "BOOL", "NULL"):
        return None
    return {"N": str(len(value[type_of(value)]))}


def evaluate(node: Condition, item: Item | None) -> bool:
    """Whether `item` (None: there is none) satisfies the condition."""
    item = item or {}
    if isinstance(node, Logical):
        if node.op == "AND":
            return evaluate(node.left, item) and evaluate(node.right, item)
        return evaluate(node.left, item) or evaluate(node.right, item)
    if isinstance(node, Not):
        return not evaluate(node.operand, item)
    if isinstance(node, Comparison):
        return compare(node.op, operand_value(node.left, item), operand_value(node.right, item))
    if isinstance(node, Between):
        value = operand_value(node.operand, item)
        return compare(">=", value, operand_value(node.low, item)) and compare(
            "<=", value, operand_value(node.high, item)
        )
    if isinstance(node, In):
        value = operand_value(node.operand, item)
        return any(compare("=", value, operand_value(choice, item)) for choice in node.choices)
    return call_function(node, item)


def compare(op: str, left: AttributeValue | None, right: AttributeValue | None) -> bool:
    # A missing attribute equals nothing, so `a <> :v` holds when there is no `a`.
    if op in ("=", "<>"):
        equal = left is not None and right is not None and same(left, right)
        return equal if op == "=" else not equal
    if not comparable(left, right):
        return False
    sign = order(left, right)
    return {"<": sign < 0, "<=": sign <= 0, ">": sign > 0, ">=": sign >= 0}[op]


def call_function(node: Function, item: Item) -> bool:
    target = resolve(item, node.args[0])
    if node.name == "attribute_exists":
        return target is not None
    if node.name == "attribute_not_exists":
        return target is None
    argument = operand_value(node.args[1], item)
    if target is None or argument is None:
        return False
    if node.name == "attribute_type":
        return type_of(target) == argument.get("S")
    if node.name == "begins_with":
        kind = type_of(target)
        return kind in ("S", "B") and type_of(argument) == kind and target[kind].startswith(argument[kind])
    return contains(target, argument)


def contains(target: AttributeValue, element: AttributeValue) -> bool:
    kind, other = type_of(target), type_of(element)
    if kind in ("S", "B"):
        return other == kind and element[kind] in target[kind]
    if kind in ("SS", "NS", "BS"):
        return other == kind[0] and any(same({other: member}, element) for member in target[kind])
    if kind == "L":
        return any(same(member, element) for member in target[kind])
    return False


def project(item: Item, paths: list[Path]) -> Item:
    """The parts of `item` that `paths` name, nested as in the item; list elements keep their order."""
    trie: dict = {}
    for path in paths:
        node = trie
        for element in path.elements[:-1]:
            node = node.setdefault(element, {})
        node[path.elements[-1]] = None
    picked = _pick({"M": item}, trie)
    return picked["M"] if picked else {}


def _pick(value: AttributeValue, trie: dict | None) -> AttributeValue | None:
    if trie is None:
        return value
    if "M" in value:
        children = {k: _pick(v, trie[k]) for k, v in value["M"].items() if k in trie}
        children = {k: v for k, v in children.items() if v is not None}
        return {"M": children} if children else None
    if "L" in value:
        members = [_pick(v, trie[i]) for i, v in enumerate(value["L"]) if i in trie]
        members = [v for v in members if v is not None]
        return {"L": members} if members else None
    return None


# Updates


def apply_update(item: Item, actions: list[Action]) -> Item:
    """A new item: `item` with the update's actions applied; `item` itself is left as it was."""
    updated = copy.deepcopy(item)
    # Every right-hand side reads the item as it was before the update, as in DynamoDB.
    assignments = [(a.path, update_value(a.value, item)) for a in actions if a.clause == "SET"]
    for path, value in assignments:
        assign(updated, path, value)
    removals = [a.path for a in actions if a.clause == "REMOVE"]
    # Remove list elements from the highest index down, so that each index means what it did before.
    for path in sorted(removals, key=lambda p: p.elements[-1] if isinstance(p.elements[-1], int) else -1, reverse=True):
        remove(updated, path)
    for action in actions:
        if action.clause == "ADD":
            add(updated, action.path, action.value.value)
        elif action.clause == "DELETE":
            delete_members(updated, action.path, action.value.value)
    return updated


def update_value(node: UpdateValue, item: Item) -> AttributeValue:
    if isinstance(node, Value):
        return node.value
    if isinstance(node, Path):
        value = resolve(item, node)
        if value is None:
            raise invalid("The provided expression refers to an attribute that does not exist in the item")
        return value
    if isinstance(node, Arithmetic):
        left, right = update_value(node.left, item), update_value(node.right, item)
        if type_of(left) != "N" or type_of(right) != "N":
            raise invalid("An operand in the update expression has an incorrect data type")
        return {"N": arithmetic(node.op, left["N"], right["N"])}
    if node.name == "if_not_exists":
        existing = resolve(item, node.args[0])
        return existing if existing is not None else update_value(node.args[1], item)
    first, second = update_value(node.args[0], item), update_value(node.args[1], item)
    if type_of(first) != "L" or type_of(second) != "L":
        raise invalid("An operand in the update expression has an incorrect data type")
    return {"L": first["L"] + second["L"]}


def _parent(item: Item, path: Path) -> AttributeValue | None:
    return resolve(item, Path(path.elements[:-1]))


def assign(item: Item, path: Path, value: AttributeValue) -> None:
    parent, last = _parent(item, path), path.elements[-1]
    container = None if parent is None else parent.get("M" if isinstance(last, str) else "L")
    if container is None:
        raise invalid("The document path provided in the update expression is invalid for update")
    if isinstance(last, str):
        container[last] = copy.deepcopy(value)
    elif last < len(container):
        container[last] = copy.deepcopy(value)
    else:
        # Setting past the end of a list appends, as DynamoDB does.
        container.append(copy.deepcopy(value))


def remove(item: Item, path: Path) -> None:
    parent, last = _parent(item, path), path.elements[-1]
    container = None if parent is None else parent.get("M" if isinstance(last, str) else "L")
    if isinstance(container, dict):
        container.pop(last, None)
    elif isinstance(container, list) and last < len(container):
        del container[last]


def add(item: Item, path: Path, value: AttributeValue) -> None:
    current = resolve(item, path)
    if current is None:
        assign(item, path, value)
        return
    kind = type_of(value)
    if type_of(current) != kind:
        raise invalid("An operand in the update expression has an incorrect data type")
    if kind == "N":
        assign(item, path, {"N": arithmetic("+", current["N"], value["N"])})
    else:
        members = list(current[kind])
        members += [m for m in value[kind] if not any(same({kind[0]: m}, {kind[0]: n}) for n in members)]
        assign(item, path, {kind: members})


def delete_members(item: Item, path: Path, value: AttributeValue) -> None:
    current = resolve(item, path)
    if current is None:
        return
    kind = type_of(value)
    if type_of(current) != kind:
        raise invalid("An operand in the update expression has an incorrect data type")
    members = [m for m in current[kind] if not any(same({kind[0]: m}, {kind[0]: n}) for n in value[kind])]
    if members:
        assign(item, path, {kind: members})
    else:
        # DynamoDB has no empty sets: removing the last member removes the attribute.
        remove(item, path)
