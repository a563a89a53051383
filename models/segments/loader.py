"""Read a rules file: YAML (composed with PyYAML's safe loader, never constructed into
arbitrary objects) -> validated segments -> parsed, type-checked, compiled :class:`RuleSet`.

Errors are :class:`~models.segments.errors.RuleError` with the file, 1-based line and
column of the problem (inside a ``when:`` expression: of the offending token).

>>> rules = parse_rules('''
... version: 1
... segments:
...   - id: buyer
...     name: Buyer
...     when: count(purchase) >= 1
... ''')
>>> rules.segment_ids()
('buyer',)
>>> try:
...     parse_rules('segments: [{id: x, when: "cnt(purchase) >= 1"}]')
... except RuleError as err:
...     print(err.line, err.column, err.reason[:37])
1 27 unknown function 'cnt' in segment 'x'
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from models.segments.checker import check_condition
from models.segments.errors import ExprError, RuleError
from models.segments.nodes import Node
from models.segments.parser import parse_expression
from models.segments.rule_set import RuleSegment, RuleSet

#: The shipped default rules.
DEFAULT_RULES_PATH: Path = Path(__file__).resolve().parent.parent / "segments.yaml"

#: Most segments per file.
MAX_SEGMENTS = 256
#: The rules-file format version this code reads.
SUPPORTED_VERSION = "1"

_ID = re.compile(r"[a-z0-9_]{1,64}")
_TOP_KEYS = ("version", "segments")
_SEGMENT_KEYS = ("id", "name", "description", "when")
_SKIPPABLE = frozenset(" \t\r\n\\\"'")
_KIND = {
    yaml.MappingNode: "a mapping",
    yaml.SequenceNode: "a list",
    yaml.ScalarNode: "a single value",
}


def parse_rules(text: str, source: str = "<string>") -> RuleSet:
    """Parse rules from YAML ``text``; ``source`` names it in error messages."""
    return _Loader(text, source).load()


def load_rules(path: str | os.PathLike[str]) -> RuleSet:
    """Read and parse the rules file at ``path`` (UTF-8)."""
    source = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(source, 1, 1, f"cannot read rules file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise RuleError(
            source, 1, 1, f"rules file is not valid UTF-8 (byte {exc.start}); save it as UTF-8"
        ) from None
    return parse_rules(text, source)


def _kind(node: yaml.Node) -> str:
    return _KIND.get(type(node), "a value")


class _Loader:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source

    # -- errors -----------------------------------------------------------------------
    def error_at(self, node: yaml.Node, reason: str) -> RuleError:
        mark = node.start_mark
        return RuleError(self.source, mark.line + 1, mark.column + 1, reason)

    def error_at_index(self, index: int, reason: str) -> RuleError:
        before = self.text[: max(0, index)]
        line = before.count("\n") + 1
        column = index - (before.rfind("\n") + 1) + 1
        return RuleError(self.source, line, column, reason)

    # -- YAML -------------------------------------------------------------------------
    def compose(self) -> yaml.Node | None:
        try:
            return yaml.compose(self.text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            reason = f"YAML syntax error: {exc.problem or exc.context or 'invalid YAML'}"
            if exc.context and exc.problem:
                reason += f" ({exc.context})"
            reason += "; check indentation, and quote expressions that contain ': ' or ' #'"
            if mark is None:
                raise RuleError(self.source, 1, 1, reason) from None
            raise RuleError(self.source, mark.line + 1, mark.column + 1, reason) from None
        except yaml.reader.ReaderError as exc:
            raise self.error_at_index(
                exc.position, f"YAML syntax error: character {exc.character!r} is not allowed"
            ) from None
        except yaml.YAMLError as exc:
            raise RuleError(self.source, 1, 1, f"YAML error: {exc}") from None
        except RecursionError:
            raise RuleError(
                self.source, 1, 1, "YAML nested too deeply; a rules file needs only a few levels"
            ) from None

    def mapping(
        self, node: yaml.MappingNode, allowed: tuple[str, ...], where: str
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error_at(key_node, f"keys of {where} must be plain names")
            key = str(key_node.value)
            if key not in allowed:
                raise self.error_at(
                    key_node, f"unknown key {key!r} in {where} (allowed: {', '.join(allowed)})"
                )
            if key in out:
                first = out[key][0].start_mark.line + 1
                raise self.error_at(
                    key_node, f"duplicate key {key!r} in {where} (first on line {first}); keep one"
                )
            out[key] = (key_node, value_node)
        return out

    def text_value(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.error_at(node, f"{what} must be text, got {_kind(node)}")
        return str(node.value)

    # -- structure --------------------------------------------------------------------
    def load(self) -> RuleSet:
        root = self.compose()
        if root is None:
            raise RuleError(
                self.source, 1, 1,
                "empty rules file; expected a mapping with 'version: 1' and 'segments: [...]'",
            )  # fmt: skip
        if not isinstance(root, yaml.MappingNode):
            raise self.error_at(
                root,
                f"rules file must be a mapping with 'version' and 'segments', got {_kind(root)}",
            )
        top = self.mapping(root, _TOP_KEYS, "the rules file")
        if "version" in top:
            vnode = top["version"][1]
            version = vnode.value if isinstance(vnode, yaml.ScalarNode) else None
            if version != SUPPORTED_VERSION:
                raise self.error_at(
                    vnode,
                    f"unsupported rules version {version!r}; "
                    f"this service reads 'version: {SUPPORTED_VERSION}'",
                )
        if "segments" not in top:
            raise self.error_at(root, "missing 'segments'; add 'segments:' with a list of segments")
        seq = top["segments"][1]
        if not isinstance(seq, yaml.SequenceNode):
            raise self.error_at(seq, f"'segments' must be a list of segments, got {_kind(seq)}")
        if len(seq.value) > MAX_SEGMENTS:
            raise self.error_at(
                seq.value[MAX_SEGMENTS],
                f"too many segments: {len(seq.value)} (max {MAX_SEGMENTS}); "
                "remove some or split them over several rule sets",
            )
        segments: list[RuleSegment] = []
        conditions: list[Node] = []
        seen: dict[str, int] = {}
        for number, item in enumerate(seq.value, start=1):
            segment, condition = self.segment(number, item, seen)
            segments.append(segment)
            conditions.append(condition)
        return RuleSet(segments, conditions, text=self.text, source=self.source)

    def segment(self, number: int, item: yaml.Node, seen: dict[str, int]) -> tuple[RuleSegment, Node]:
        if not isinstance(item, yaml.MappingNode):
            raise self.error_at(
                item,
                f"segment #{number} must be a mapping with id, name and when, got {_kind(item)}",
            )
        fields = self.mapping(item, _SEGMENT_KEYS, f"segment #{number}")
        line = item.start_mark.line + 1
        if "id" not in fields:
            raise self.error_at(item, f"segment #{number} has no 'id'; add e.g. 'id: my_segment'")
        id_node = fields["id"][1]
        sid = self.text_value(id_node, f"'id' of segment #{number}")
        if not _ID.fullmatch(sid):
            raise self.error_at(
                id_node,
                f"bad segment id {sid!r}; use 1-64 characters of lowercase a-z, 0-9 and _",
            )
        if sid in seen:
            raise self.error_at(
                id_node,
                f"duplicate segment id {sid!r} (first on line {seen[sid]}); ids must be unique",
            )
        seen[sid] = id_node.start_mark.line + 1
        where = f"segment {sid!r}"
        name = self.text_value(fields["name"][1], f"'name' of {where}") if "name" in fields else sid
        description = (
            self.text_value(fields["description"][1], f"'description' of {where}")
            if "description" in fields
            else ""
        )
        if "when" not in fields:
            raise self.error_at(
                item, f"{where} has no 'when'; add a condition, e.g. 'when: count(purchase) >= 1'"
            )
        when_node = fields["when"][1]
        expression = self.text_value(when_node, f"'when' of {where}")
        assert isinstance(when_node, yaml.ScalarNode)
        try:
            condition = parse_expression(expression)
            check_condition(condition)
        except ExprError as exc:
            line_no, column = self.expression_position(when_node, exc.offset)
            raise RuleError(self.source, line_no, column, f"{exc.what} in {where}{exc.hint}") from None
        segment = RuleSegment(sid, name.strip(), description.strip(), expression.strip(), line)
        return segment, condition

    # -- positions --------------------------------------------------------------------
    def expression_position(self, node: yaml.ScalarNode, offset: int) -> tuple[int, int]:
        """1-based (line, column) in the file of character ``offset`` of a scalar's value.

        Aligns the decoded value with the raw text, skipping quotes, escapes and folding.
        """
        start = node.start_mark
        raw = self.text[start.index : node.end_mark.index]
        value = str(node.value)
        j = 0
        if node.style in ('"', "'"):
            j = 1
        elif node.style in ("|", ">"):
            newline = raw.find("\n")
            j = newline + 1 if newline >= 0 else len(raw)
        offset = min(max(offset, 0), len(value))
        for i in range(offset + 1):
            if i == len(value):
                break
            k = raw.find(value[i], j)
            if k >= 0 and all(c in _SKIPPABLE for c in raw[j:k]):
                j = k + 1 if i < offset else k
        before = raw[:j]
        newline = before.rfind("\n")
        if newline < 0:
            return start.line + 1, start.column + j + 1
        return start.line + 1 + before.count("\n"), j - newline
