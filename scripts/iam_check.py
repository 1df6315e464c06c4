#!/usr/bin/env python3
"""Whether a role of template.yaml allows the DynamoDB requests a program really sent.

moto and DynamoDB Local check no IAM, so a request that a role's least-privilege policy refuses
(an attribute left out of a `dynamodb:Attributes` list, a `ReturnValues` the policy does not
allow, a `GetItem` without a projection) passes every local test and fails only in AWS. This
script closes that gap: given the template, a role's logical id and the requests (as the AWS SDK
sent them, recorded by a proxy in front of the emulator), it evaluates each request against the
role's policy statements as IAM would, and says which are refused and why.

What it evaluates, for each request:
  - the action `dynamodb:<Operation>` and the resource: the table's ARN, built from the request's
    TableName (or the TableName itself when it is an ARN; `/index/<IndexName>` for an index) in
    a fake account and region (--account, --region, --partition), against the statements'
    Action/NotAction and Resource/NotResource, after resolving the template's intrinsic
    functions (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If with the template's Conditions,
    Fn::Select, Fn::Split, Fn::FindInMap) with the parameters' defaults (--parameter overrides
    them). A table the stack creates is named --table-name (default: the requests' TableName),
    so that Ref/Fn::GetAtt of it name the table the requests used;
  - the condition keys, computed from the request the way the DynamoDB Developer Guide
    describes them ("Using IAM policy conditions for fine-grained access control",
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html,
    and the IAM example "Amazon DynamoDB: Allows access to specific attributes",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_dynamodb_attributes.html):
      dynamodb:Attributes  every top-level attribute name the request names: the key's
                           attributes, the ProjectionExpression, UpdateExpression,
                           ConditionExpression, KeyConditionExpression and FilterExpression
                           (#names resolved through ExpressionAttributeNames; a nested path such
                           as `Address.City` or `Items[0]` counts as its first name, `Address`),
                           and the legacy AttributesToGet, AttributeUpdates, Expected, Item,
                           KeyConditions, QueryFilter and ScanFilter;
      dynamodb:Select      GetItem: SPECIFIC_ATTRIBUTES with a ProjectionExpression (or
                           AttributesToGet), ALL_ATTRIBUTES without; Query/Scan: their Select, else
                           the same rule (ALL_PROJECTED_ATTRIBUTES for an index without one);
      dynamodb:ReturnValues  PutItem/UpdateItem/DeleteItem: their ReturnValues, NONE when absent;
      dynamodb:ReturnConsumedCapacity  its value, NONE when absent;
      dynamodb:LeadingKeys the partition key's value (the HASH key of the template's table, or
                           the key's only attribute);
    a condition on any other key is not guessed: the statement counts as not matching;
  - the condition operators as IAM defines them (IAM User Guide, "IAM JSON policy elements:
    Condition operators" and "Single-valued vs. multivalued context keys"): the operators of a
    block and the keys of an operator must all hold, any of a key's policy values may match;
    StringEquals / StringNotEquals / StringEqualsIgnoreCase / StringNotEqualsIgnoreCase /
    StringLike / StringNotLike, each with ...IfExists (true when the key is absent), and Null;
    a missing key makes a positive operator false and a negated one true; ForAllValues: true
    when every request value matches (so also for an empty or absent set); ForAnyValue: true
    when at least one does (false for an empty or absent set); a single-valued operator on a
    multivalued key (dynamodb:Attributes) is refused as ambiguous;
  - explicit Deny statements win over Allow; without a matching Allow the request is refused.

The role's statements are those of its inline Policies and of the template's AWS::IAM::Policy
and AWS::IAM::ManagedPolicy resources that name it; a role with ManagedPolicyArns cannot be
evaluated (exit 2). Only DynamoDB's item operations are understood (GetItem, PutItem, UpdateItem,
DeleteItem, Query, Scan); another operation is reported as refused.

Command line:

  scripts/iam_check.py --template template.yaml --role ChangePasswordRole --requests FILE
      [--parameter Name=Value ...] [--table-name NAME]
      [--region eu-west-1] [--account 123456789012] [--partition aws] [--verbose]

FILE holds one JSON object a line (blank lines ignored):
  {"operation": "UpdateItem", "body": {"TableName": "...", "Key": {...}, "UpdateExpression": "...",
   "ConditionExpression": "...", "ExpressionAttributeNames": {...}, "ReturnValues": "...", ...}}
`operation` may also be the X-Amz-Target value (`DynamoDB_20120810.UpdateItem`); `body` is the
JSON body the SDK sent. Exit status: 0 when every request is allowed; 1 when at least one is
refused (each is printed: its line, operation, attributes and the condition that failed); 2 on
a usage error, an unreadable file, an expression that cannot be parsed or a FILE with no request
(an empty recording proves nothing).

Run with the project's venv (.venv/bin/python) or any Python 3 with PyYAML.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import re
import sys

import pipe_event  # the CloudFormation-aware YAML loader, beside this script

DEFAULT_REGION = "eu-west-1"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_PARTITION = "aws"


class CheckError(Exception):
    """Input this script cannot evaluate (exit status 2)."""


# -- template.yaml ------------------------------------------------------------------------------


def load_template(path):
    """The template at `path` as plain Python values (short tags as their long forms)."""
    text = pathlib.Path(path).read_text()
    if text.lstrip().startswith("{"):
        return json.loads(text)
    return pipe_event.load_template(path)


_NO_VALUE = object()


class Stack:
    """The template's intrinsic functions resolved for given parameter values, in a fake account
    and region. A table the stack creates is named `table_name`; another resource's Ref is its
    logical id and its attributes are placeholders that match no real ARN."""

    def __init__(self, template, parameters=None, table_name=None, region=DEFAULT_REGION,
                 account=DEFAULT_ACCOUNT, partition=DEFAULT_PARTITION):
        self.t = template
        self.region, self.account, self.partition = region, account, partition
        self.table_name = table_name
        self.pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": partition,
                       "AWS::StackName": "stack", "AWS::StackId": f"arn:{partition}:cloudformation:"
                       f"{region}:{account}:stack/stack/00000000-0000-0000-0000-000000000000",
                       "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": []}
        overrides = dict(parameters or {})
        unknown = sorted(set(overrides) - set(template.get("Parameters", {})))
        if unknown:
            raise CheckError(f"unknown template parameters: {', '.join(unknown)}")
        self.params = {}
        for name, spec in template.get("Parameters", {}).items():
            value = overrides.get(name, spec.get("Default"))
            if value is None:
                value = ""
            value = str(value) if not isinstance(value, list) else ",".join(map(str, value))
            if spec.get("Type") == "CommaDelimitedList" or str(spec.get("Type", "")).startswith("List<"):
                self.params[name] = value.split(",")
            else:
                self.params[name] = value

    # conditions

    def condition(self, name):
        conditions = self.t.get("Conditions", {})
        if name not in conditions:
            raise CheckError(f"unknown condition {name}")
        return self.holds(conditions[name])

    def holds(self, expr):
        if not isinstance(expr, dict) or len(expr) != 1:
            raise CheckError(f"not a condition: {expr!r}")
        (fn, args), = expr.items()
        if fn == "Fn::Equals":
            return self.value(args[0]) == self.value(args[1])
        if fn == "Fn::Not":
            return not self.holds(args[0])
        if fn == "Fn::And":
            return all(self.holds(a) for a in args)
        if fn == "Fn::Or":
            return any(self.holds(a) for a in args)
        if fn == "Condition":
            return self.condition(args)
        raise CheckError(f"unsupported condition function {fn}")

    # values

    def resource_type(self, logical_id):
        return self.t.get("Resources", {}).get(logical_id, {}).get("Type")

    def physical_name(self, logical_id):
        if self.resource_type(logical_id) == "AWS::DynamoDB::Table":
            props = self.t["Resources"][logical_id].get("Properties", {})
            if "TableName" in props:
                return self.value(props["TableName"])
            if not self.table_name:
                raise CheckError(f"{logical_id} is created by the stack: give --table-name (or "
                                 "requests with a TableName)")
            return self.table_name
        return logical_id

    def ref(self, name):
        if name in self.params:
            return self.params[name]
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.t.get("Resources", {}):
            return self.physical_name(name)
        if name.endswith(".Alias") and name[: -len(".Alias")] in self.t.get("Resources", {}):
            return f"<{name}>"  # SAM's alias reference
        raise CheckError(f"Ref to unknown name {name}")

    def get_att(self, logical_id, attribute):
        if logical_id not in self.t.get("Resources", {}):
            raise CheckError(f"Fn::GetAtt of unknown resource {logical_id}")
        if self.resource_type(logical_id) == "AWS::DynamoDB::Table":
            arn = self.table_arn(self.physical_name(logical_id))
            if attribute == "Arn":
                return arn
            if attribute == "StreamArn":
                return arn + "/stream/1970-01-01T00:00:00.000"
        return f"<{logical_id}.{attribute}>"

    def table_arn(self, name):
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{name}"

    def sub(self, text, local):
        def one(match):
            name = match.group(1)
            if name in local:
                value = local[name]
            elif "." in name and "::" not in name:
                value = self.get_att(*name.split(".", 1))
            else:
                value = self.ref(name)
            if isinstance(value, list) or value is _NO_VALUE:
                raise CheckError(f"Fn::Sub variable {name} is not a string")
            return str(value)
        text = re.sub(r"\$\{([^!}][^}]*)\}", one, text)
        return text.replace("${!", "${")

    def value(self, node):
        if isinstance(node, dict) and len(node) == 1:
            (fn, args), = node.items()
            if fn == "Ref":
                return self.ref(args)
            if fn == "Fn::GetAtt":
                logical_id, attribute = args if isinstance(args, list) else args.split(".", 1)
                return self.get_att(logical_id, self.value(attribute))
            if fn == "Fn::If":
                cond, yes, no = args
                return self.value(yes if self.condition(cond) else no)
            if fn == "Fn::Join":
                parts = self.value(args[1])
                return args[0].join(str(p) for p in parts)
            if fn == "Fn::Split":
                return str(self.value(args[1])).split(args[0])
            if fn == "Fn::Select":
                items = self.value(args[1])
                index = int(self.value(args[0]))
                if not 0 <= index < len(items):
                    raise CheckError(f"Fn::Select index {index} out of range")
                return items[index]
            if fn == "Fn::Sub":
                text, local = (args, {}) if isinstance(args, str) else args
                return self.sub(text, {k: self.value(v) for k, v in local.items()})
            if fn == "Fn::FindInMap":
                name, top, second = (self.value(a) for a in args)
                return self.t["Mappings"][name][top][second]
            if fn.startswith("Fn::") or fn == "Condition":
                raise CheckError(f"unsupported intrinsic function {fn}")
        if isinstance(node, dict):
            out = {k: self.value(v) for k, v in node.items()}
            return {k: v for k, v in out.items() if v is not _NO_VALUE}
        if isinstance(node, list):
            return [v for v in (self.value(v) for v in node) if v is not _NO_VALUE]
        return node

    # the role

    def role_statements(self, role):
        """The statements (resolved) of every policy of the role: its inline Policies and the
        AWS::IAM::Policy / ManagedPolicy resources that attach to it."""
        resources = self.t.get("Resources", {})
        if resources.get(role, {}).get("Type") != "AWS::IAM::Role":
            roles = sorted(k for k, v in resources.items() if v.get("Type") == "AWS::IAM::Role")
            raise CheckError(f"{role} is not an AWS::IAM::Role of the template (roles: {', '.join(roles)})")
        resource = resources[role]
        if "Condition" in resource and not self.condition(resource["Condition"]):
            raise CheckError(f"{role} is not created for these parameters (Condition {resource['Condition']}): "
                             "give the --parameter values that create it")
        props = self.value(resource.get("Properties", {}))
        if props.get("ManagedPolicyArns"):
            raise CheckError(f"{role} has ManagedPolicyArns, which this script cannot read")
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        for logical_id, other in resources.items():
            if other.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                continue
            if "Condition" in other and not self.condition(other["Condition"]):
                continue
            roles = other.get("Properties", {}).get("Roles", [])
            if {"Ref": role} in roles:
                documents.append(self.value(other["Properties"]["PolicyDocument"]))
        statements = []
        for document in documents:
            found = document.get("Statement", [])
            statements.extend(found if isinstance(found, list) else [found])
        return statements

    def hash_key(self):
        """The HASH key attribute of the template's (only) table, if there is one."""
        tables = [r for r in self.t.get("Resources", {}).values() if r.get("Type") == "AWS::DynamoDB::Table"]
        if len(tables) != 1:
            return None
        for key in tables[0].get("Properties", {}).get("KeySchema", []):
            if key.get("KeyType") == "HASH":
                return key.get("AttributeName")
        return None


# -- DynamoDB expressions -----------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<name>\#[A-Za-z0-9_]+)
  | (?P<value>:[A-Za-z0-9_]+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<index>\[\s*[0-9]+\s*\])
  | (?P<punct><>|<=|>=|[=<>+\-(),.])
""", re.VERBOSE)

# Words that are not attribute names where they stand (DynamoDB's reserved words, so they
# cannot be attribute names there without a #name anyway).
_KEYWORDS = {"SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN"}


def _tokens(expression):
    out, pos = [], 0
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        if not match:
            raise CheckError(f"cannot parse expression at {expression[pos:pos + 20]!r}: {expression!r}")
        pos = match.end()
        if match.lastgroup != "space":
            out.append((match.lastgroup, match.group()))
    return out


def top_level_names(expression, names=None):
    """The top-level attribute names an expression (projection, update, condition, key condition
    or filter) refers to, #names resolved: in `a.b[0].#c = :v AND attribute_exists(#d)`, a and #d."""
    names = names or {}
    found = []
    tokens = _tokens(expression)
    for i, (kind, text) in enumerate(tokens):
        if kind not in ("name", "word"):
            continue
        if i > 0 and tokens[i - 1] == ("punct", "."):
            continue  # a nested element of a path
        if kind == "word":
            if i + 1 < len(tokens) and tokens[i + 1] == ("punct", "("):
                continue  # a function: attribute_exists(...), if_not_exists(...), size(...)
            if text.upper() in _KEYWORDS:
                continue
            found.append(text)
        else:
            if text not in names:
                raise CheckError(f"{text} is not in ExpressionAttributeNames: {expression!r}")
            found.append(names[text])
    return found


_EXPRESSIONS = ("ProjectionExpression", "UpdateExpression", "ConditionExpression",
                "KeyConditionExpression", "FilterExpression")
_LEGACY_MAPS = ("AttributeUpdates", "Expected", "Item", "KeyConditions", "QueryFilter", "ScanFilter")
ITEM_OPERATIONS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"}


def request_attributes(body):
    """dynamodb:Attributes of a request body: every top-level attribute name it names."""
    names = body.get("ExpressionAttributeNames") or {}
    found = set(body.get("Key") or {})
    for field in _EXPRESSIONS:
        if body.get(field):
            found.update(top_level_names(body[field], names))
    found.update(body.get("AttributesToGet") or [])
    for field in _LEGACY_MAPS:
        found.update(body.get(field) or {})
    return sorted(found)


def operation_name(operation):
    """`UpdateItem` from `UpdateItem` or `DynamoDB_20120810.UpdateItem`."""
    return str(operation).rsplit(".", 1)[-1]


@dataclasses.dataclass
class Request:
    operation: str
    action: str
    resource: str
    context: dict  # condition key (lower case) -> str, or list for a multivalued key
    line: int = 0

    @property
    def attributes(self):
        return self.context.get("dynamodb:attributes", [])


MULTIVALUED = {"dynamodb:attributes", "dynamodb:leadingkeys"}


def make_request(operation, body, stack, line=0):
    """The action, resource and condition keys of one recorded request."""
    op = operation_name(operation)
    table = body.get("TableName")
    if not isinstance(table, str) or not table:
        raise CheckError(f"line {line}: {op} without a TableName")
    resource = table if table.startswith("arn:") else stack.table_arn(table)
    if body.get("IndexName"):
        resource += "/index/" + body["IndexName"]
    context = {"dynamodb:attributes": request_attributes(body)}
    if op == "GetItem":
        specific = bool(body.get("ProjectionExpression") or body.get("AttributesToGet"))
        context["dynamodb:select"] = "SPECIFIC_ATTRIBUTES" if specific else "ALL_ATTRIBUTES"
    elif op in ("Query", "Scan"):
        if body.get("Select"):
            context["dynamodb:select"] = body["Select"]
        elif body.get("ProjectionExpression") or body.get("AttributesToGet"):
            context["dynamodb:select"] = "SPECIFIC_ATTRIBUTES"
        else:
            context["dynamodb:select"] = "ALL_PROJECTED_ATTRIBUTES" if body.get("IndexName") else "ALL_ATTRIBUTES"
    if op in ("PutItem", "UpdateItem", "DeleteItem"):
        context["dynamodb:returnvalues"] = body.get("ReturnValues") or "NONE"
    context["dynamodb:returnconsumedcapacity"] = body.get("ReturnConsumedCapacity") or "NONE"
    key = body.get("Key") or body.get("Item") or {}
    hash_key = stack.hash_key() if stack else None
    if hash_key is None and len(body.get("Key") or {}) == 1:
        hash_key = next(iter(body["Key"]))
    if hash_key in key and isinstance(key[hash_key], dict) and len(key[hash_key]) == 1:
        context["dynamodb:leadingkeys"] = [str(next(iter(key[hash_key].values())))]
    return Request(op, f"dynamodb:{op}", resource, context, line)


# -- IAM evaluation -----------------------------------------------------------------------------


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _policy_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _glob(pattern, text, ignore_case=False):
    if ignore_case:
        pattern, text = pattern.lower(), text.lower()
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.S) is not None


def _string_match(base, policy_value, request_value):
    if base in ("StringEquals", "StringNotEquals"):
        return request_value == policy_value
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return request_value.casefold() == policy_value.casefold()
    if base in ("StringLike", "StringNotLike"):
        return _glob(policy_value, request_value)
    raise AssertionError(base)


_STRING_OPERATORS = {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase",
                     "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike"}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike"}


def condition_holds(operator, key, policy_values, context):
    """(holds, why not) of one operator/key pair against the request's context."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    key_lc = key.lower()
    values = [_policy_string(v) for v in _as_list(policy_values)]
    present = key_lc in context
    request = context.get(key_lc)
    shown = f"{operator} {key} {values}"
    if base == "Null":
        if qualifier or if_exists:
            return False, f"{shown}: unsupported operator"
        absent = not present or request == []
        wanted = {v.lower() for v in values}
        return (("true" if absent else "false") in wanted), f"{shown}: the key is {'absent' if absent else 'present'}"
    if base not in _STRING_OPERATORS:
        return False, f"{shown}: operator not evaluated by this script"
    if key_lc not in {"dynamodb:attributes", "dynamodb:select", "dynamodb:returnvalues",
                      "dynamodb:returnconsumedcapacity", "dynamodb:leadingkeys"}:
        return False, f"{shown}: condition key not evaluated by this script"
    negated = base in _NEGATED
    if qualifier in ("ForAllValues", "ForAnyValue"):
        items = [] if not present else _as_list(request)
        if qualifier == "ForAllValues":
            if negated:
                bad = [v for v in items if any(_string_match(base, p, v) for p in values)]
            else:
                bad = [v for v in items if not any(_string_match(base, p, v) for p in values)]
            return not bad, f"{operator} {key}: not in the policy's values: {', '.join(bad)}"
        if negated:
            good = [v for v in items if not any(_string_match(base, p, v) for p in values)]
        else:
            good = [v for v in items if any(_string_match(base, p, v) for p in values)]
        return bool(good), f"{shown}: no request value matches (request: {items})"
    if qualifier:
        return False, f"{shown}: unknown set operator {qualifier}"
    if key_lc in MULTIVALUED:
        return False, (f"{shown}: a single-valued operator on the multivalued key {key} "
                       "(use ForAllValues or ForAnyValue)")
    if not present:
        if if_exists or negated:
            return True, ""
        return False, f"{shown}: the request has no {key}"
    if negated:
        ok = not any(_string_match(base, p, request) for p in values)
    else:
        ok = any(_string_match(base, p, request) for p in values)
    return ok, f"{shown}: the request's {key} is {request}"


def _matches_any(patterns, text, ignore_case):
    return any(_glob(p, text, ignore_case) for p in _as_list(patterns))


def statement_applies(statement, request):
    """Whether the statement's Action and Resource cover the request (conditions aside)."""
    if "Action" in statement:
        if not _matches_any(statement["Action"], request.action, True):
            return False
    elif "NotAction" in statement:
        if _matches_any(statement["NotAction"], request.action, True):
            return False
    else:
        return False
    if "Resource" in statement:
        return _matches_any(statement["Resource"], request.resource, False)
    if "NotResource" in statement:
        return not _matches_any(statement["NotResource"], request.resource, False)
    return False


def conditions_hold(statement, context):
    """(all hold, [why not]) of a statement's Condition block."""
    failures = []
    for operator, pairs in (statement.get("Condition") or {}).items():
        for key, values in pairs.items():
            ok, why = condition_holds(operator, key, values, context)
            if not ok:
                failures.append(why)
    return not failures, failures


@dataclasses.dataclass
class Decision:
    allowed: bool
    reasons: list


def evaluate(statements, request):
    """IAM's decision on the request for these identity-policy statements."""
    if request.operation not in ITEM_OPERATIONS:
        return Decision(False, [f"{request.operation} is not an operation this script evaluates"])
    allowing, reasons = [], []
    for index, statement in enumerate(statements):
        if not statement_applies(statement, request):
            continue
        label = statement.get("Sid") or f"statement {index + 1}"
        ok, failures = conditions_hold(statement, request.context)
        effect = statement.get("Effect")
        if effect == "Deny" and ok:
            return Decision(False, [f"{label}: explicitly denied"])
        if effect == "Allow":
            if ok:
                allowing.append(label)
            else:
                reasons.extend(f"{label}: {why}" for why in failures)
    if allowing:
        return Decision(True, [f"allowed by {', '.join(allowing)}"])
    if not reasons:
        reasons = [f"no Allow statement for {request.action} on {request.resource}"]
    return Decision(False, reasons)


# -- command line -------------------------------------------------------------------------------


def read_requests(path):
    """[(line number, operation, body)] of a JSON-lines file."""
    out = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise CheckError(f"{path}:{number}: not JSON: {e}") from e
            if not isinstance(record, dict) or "operation" not in record or not isinstance(record.get("body"), dict):
                raise CheckError(f"{path}:{number}: expected {{\"operation\": ..., \"body\": {{...}}}}")
            out.append((number, record["operation"], record["body"]))
    return out


def check(template_path, role, requests_path, parameters=None, table_name=None,
          region=DEFAULT_REGION, account=DEFAULT_ACCOUNT, partition=DEFAULT_PARTITION):
    """[(Request, Decision)] of every request of the file."""
    records = read_requests(requests_path)
    if not records:
        raise CheckError(f"{requests_path}: no request (an empty recording proves nothing)")
    if table_name is None:
        tables = {body.get("TableName") for _, _, body in records}
        table_name = tables.pop() if len(tables) == 1 else None
    stack = Stack(load_template(template_path), parameters, table_name, region, account, partition)
    statements = stack.role_statements(role)
    results = []
    for number, operation, body in records:
        request = make_request(operation, body, stack, number)
        results.append((request, evaluate(statements, request)))
    return results


def _parameter(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {text!r}")
    return name, value


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="iam_check.py",
        description=(
            "Evaluate, as IAM would, whether a role of a CloudFormation/SAM template allows "
            "every DynamoDB request of a JSON-lines recording (one "
            '{"operation": "UpdateItem", "body": {...the JSON body the SDK sent...}} a line): '
            "the action dynamodb:<Operation>, the table's ARN, and the conditions on "
            "dynamodb:Attributes (every top-level attribute the key and the expressions name), "
            "dynamodb:Select, dynamodb:ReturnValues, dynamodb:ReturnConsumedCapacity and "
            "dynamodb:LeadingKeys. Example: scripts/iam_check.py --template template.yaml "
            "--role ChangePasswordRole --requests requests.jsonl"),
        epilog=("A role the template creates only under a condition needs the parameters that "
                "create it, e.g. --role ChangeNoticeRole --parameter NoticeFrom=no-reply@example.com "
                "--parameter NoticeHelpUrl=https://help.example.com --parameter NoticeContact=x. "
                "Exit status: 0 = every request allowed; 1 = at least one refused (each printed "
                "with its attributes and the failed condition); 2 = usage or input error, or no "
                "request in the file."))
    parser.add_argument("--template", required=True, help="the template (YAML or JSON), e.g. template.yaml")
    parser.add_argument("--role", required=True,
                        help="logical id of the AWS::IAM::Role, e.g. ChangePasswordRole, TokenAuthorizerRole, ChangeNoticeRole")
    parser.add_argument("--requests", required=True, help="JSON-lines file of the recorded requests")
    parser.add_argument("--parameter", action="append", type=_parameter, default=[], metavar="NAME=VALUE",
                        help="a template parameter's value (default: its Default); repeatable, "
                             "e.g. --parameter ExistingUsersTableName=users")
    parser.add_argument("--table-name", help="the name of the table the stack creates (default: the "
                                             "requests' TableName, when they all use one)")
    parser.add_argument("--region", default=DEFAULT_REGION, help=f"fake region (default {DEFAULT_REGION})")
    parser.add_argument("--account", default=DEFAULT_ACCOUNT, help=f"fake account id (default {DEFAULT_ACCOUNT})")
    parser.add_argument("--partition", default=DEFAULT_PARTITION, help=f"partition (default {DEFAULT_PARTITION})")
    parser.add_argument("--verbose", action="store_true", help="also print every allowed request")
    args = parser.parse_args(argv)
    try:
        results = check(args.template, args.role, args.requests, dict(args.parameter), args.table_name,
                        args.region, args.account, args.partition)
    except (CheckError, OSError, pipe_event.yaml.YAMLError) as e:
        print(f"iam_check: {e}", file=sys.stderr)
        return 2
    denied = 0
    for request, decision in results:
        if decision.allowed and not args.verbose:
            continue
        denied += not decision.allowed
        verdict = "ALLOWED" if decision.allowed else "DENIED"
        print(f"{verdict} line {request.line}: {request.operation} on {request.resource}")
        print(f"  dynamodb:Attributes = {request.attributes}")
        for key in ("dynamodb:select", "dynamodb:returnvalues"):
            if key in request.context:
                print(f"  {key} = {request.context[key]}")
        for reason in decision.reasons:
            print(f"  {reason}")
    print(f"iam_check: {args.role}: {len(results)} requests, {len(results) - denied} allowed, {denied} denied")
    return 1 if denied else 0


if __name__ == "__main__":
    sys.exit(main())
