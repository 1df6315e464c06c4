"""Checks of template.yaml (and of the template lines of the docs) that cfn-lint cannot make:
least privilege, the routes and their authorizers, the table and its stream, the environment
contract, references, alarms, limits, canary deployments, access logs, tracing, the dashboard,
token-authorizer, the security-event pipe and its enrichment, change-notice (only with
NoticeFrom), and the real SAM transform of every front-door combination, with and without
change-notice (every door invokes the alias). Issue 21: access tokens only at the API Gateway
doors (AccessTokensOnly, through the transform too), each role's DynamoDB attributes against
those the Rust stores name, the optional customer key (KmsKeyArn) on every table, log group,
environment and queue, and checkov's inline skips (each with its reason). Issue 22: traces
(EnableTracing) as Lambda's active tracing plus, on change-password only, the ADOT collector layer
(TracesCollectorLayerArn), its OTEL_* variables and the X-Ray writes, and none of it without.

Run: .venv/bin/python -m unittest tests/template_test.py -v
(stdlib unittest; cfn-lint's YAML loader; samtranslator from aws-sam-cli for the transform.)
"""

import copy
import itertools
import json
import logging
import os
import pathlib
import re
import tempfile
import unittest

from cfnlint.decode.cfn_yaml import loads

ROOT = pathlib.Path(__file__).resolve().parent.parent
# CHANGE_PASSWORD_TEMPLATE: check another file (e.g. a deliberately broken copy).
TEMPLATE = pathlib.Path(os.environ.get("CHANGE_PASSWORD_TEMPLATE", ROOT / "template.yaml"))
CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"
RUNBOOK = ROOT / "docs" / "runbook.md"
METRICS_RS = ROOT / "src" / "edge" / "metrics.rs"
HANDLER_RS = ROOT / "src" / "edge" / "handler.rs"
# Where the Rust code names its EMF metrics: the function's and the authorizer's.
METRIC_SOURCES = [METRICS_RS, *sorted((ROOT / "src" / "auth").glob("*.rs"))]

ROUTE_PATH = "/api/workspace/account/change-password"
FUNCTION = "ChangePasswordFunction"
ALIAS = "live"
ALIAS_REF = {"Ref": f"{FUNCTION}.Alias"}
DEPLOY_ROLE = "ChangePasswordDeployRole"
# The alarms that roll a deployment back; AccountLockedAlarm is driven by attackers, not releases.
ROLLBACK_ALARMS = ["ErrorsAlarm", "InternalErrorAlarm", "DependencyFailureAlarm", "DurationAlarm",
                   "ThrottlesAlarm"]

# token-authorizer (issue 13): its function, roles and the alarms that roll it back.
AUTHORIZER = "TokenAuthorizerFunction"
AUTHORIZER_ROLE = "TokenAuthorizerRole"
AUTHORIZER_DEPLOY_ROLE = "TokenAuthorizerDeployRole"
AUTHORIZER_ALIAS_REF = {"Ref": f"{AUTHORIZER}.Alias"}
AUTHORIZER_ROLLBACK_ALARMS = ["TokenAuthorizerErrorsAlarm", "TokenAuthorizerThrottlesAlarm",
                              "AuthorizerUnavailableAlarm"]
# SPEC.md section 6: what token-authorizer reads (and the template may set).
AUTHORIZER_VARIABLES = ["USERS_TABLE", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_JWKS_URL", "JWT_HS256_SECRET_ID"]

# The security event (SPEC.md section 7).
PIPE = "SecurityEventPipe"
PIPE_ROLE = "SecurityEventPipeRole"
DEAD_LETTER_QUEUE = "SecurityEventDeadLetterQueue"
EVENT_BUS = "SecurityEventBus"
STREAM_ARN = {"Fn::If": ["ExistingTableStream", {"Ref": "ExistingUsersTableStreamArn"},
                         {"Fn::GetAtt": ["UsersTable", "StreamArn"]}]}
BUS_ARN = {"Fn::If": ["CreateSecurityEventBus", {"Fn::GetAtt": [EVENT_BUS, "Arn"]},
                      {"Ref": "SecurityEventBusArn"}]}
# The pipe's enrichment (issue 19): it builds each event's detail.
ENRICHMENT = "SecurityEventFunction"
ENRICHMENT_ROLE = "SecurityEventRole"
DEFAULT_ISSUER = "urn:change-password:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}"
# change-notice (issue 19): every resource it brings, all under SendNotices (NoticeFrom given).
NOTICE_FUNCTION = "ChangeNoticeFunction"
NOTICE_ROLE = "ChangeNoticeRole"
NOTICE_RULE = "ChangeNoticeRule"
NOTICE_QUEUE = "ChangeNoticeDeadLetterQueue"
NOTICE_RESOURCES = sorted([
    NOTICE_FUNCTION, NOTICE_ROLE, "ChangeNoticeLogGroup", NOTICE_RULE, "ChangeNoticeInvokePermission",
    "ChangeNoticeInvokeConfig", NOTICE_QUEUE, "ChangeNoticeDeadLetterQueuePolicy",
    "ChangeNoticeErrorsAlarm", "ChangeNoticeDeadLetterAlarm"])
NOTICE_VALUES = {"NoticeFrom": "no-reply@security.example.com",
                 "NoticeHelpUrl": "https://help.example.com/account/not-me",
                 "NoticeContact": "security@example.com or +44 20 7946 0000"}
# What change-notice reads on the account's item (src/aws/dynamodb_notices.rs): the key, the
# addresses, its progress, and the account's last change (what an event is checked against);
# and what it writes: its progress, and PasswordChangeEvent, which each of its writes removes.
NOTICE_READ_ATTRIBUTES = ["UserId", "Email", "NotificationEmails", "NoticeSentVersion", "NoticeDeliveries",
                          "PasswordVersion", "LastPasswordChange"]
NOTICE_WRITE_ATTRIBUTES = ["UserId", "NoticeSentVersion", "NoticeDeliveries", "PasswordChangeEvent"]
NOTICE_ATTRIBUTES = sorted(set(NOTICE_READ_ATTRIBUTES) | set(NOTICE_WRITE_ATTRIBUTES))
SAMPLE_EVENT = ROOT / "events" / "eventbridge-password-changed.json"
TABLE_ARN = {"Fn::If": [
    "CreateTable",
    {"Fn::GetAtt": ["UsersTable", "Arn"]},
    {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ExistingUsersTableName}"},
]}
USER_POOL_ARN = {"Fn::Sub": "arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/${CognitoUserPoolId}"}

# The EMF metrics of issue 13 that the Rust code emits (the function and token-authorizer).
NEW_METRICS = ["TokenRevoked", "AuthorizerAllowed", "AuthorizerDenied", "AuthorizerUnavailable",
               "GlobalSignOutFailed"]

# SPEC.md section 6: the variables the function reads (the AWS_ENDPOINT_URL* overrides are
# for local emulators only and must never be set by the template).
def _config_variables():
    """The variables the function reads: `VARIABLES` in the config module (src/config.rs, or
    src/config/mod.rs)."""
    import re
    module = ROOT / "src" / "config.rs"
    source = (module if module.exists() else ROOT / "src" / "config" / "mod.rs").read_text()
    block = source[source.index("pub const VARIABLES"):]
    block = block[: block.index("];")]
    return re.findall(r'"([A-Z0-9_]+)"', block)


SPEC_VARIABLES = _config_variables()

PSEUDO_PARAMETERS = {
    "AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
    "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
}

NO_VALUE = {"Ref": "AWS::NoValue"}
XRAY_ACTIONS = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]

# Traces (issue 22): AWS's ADOT collector layer for arm64 (the default of TracesCollectorLayerArn,
# "adot"), as the template builds it and as it resolves in PSEUDO_VALUES' region; a layer of the
# operator's own; the endpoint of the collector's OTLP/HTTP receiver.
ADOT_LAYER = {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:901920570463:layer:"
                         "aws-otel-collector-arm64-ver-0-151-0:1"}
ADOT_LAYER_ARN = "arn:aws:lambda:eu-west-1:901920570463:layer:aws-otel-collector-arm64-ver-0-151-0:1"
OWN_LAYER_ARN = "arn:aws:lambda:eu-west-1:123456789012:layer:otel-collector-arm64:3"
COLLECTOR_ENDPOINT = "http://localhost:4318"
# The OpenTelemetry variables the template may set on change-password (the standard names, read
# by the OpenTelemetry SDK that src/telemetry.rs builds, not by src/config): only with EnableTracing.
OTEL_VARIABLES = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"]
TELEMETRY_RS = ROOT / "src" / "telemetry.rs"
# Every function of the template and its role.
FUNCTION_ROLES = {"ChangePasswordFunction": "ChangePasswordRole", "TokenAuthorizerFunction": "TokenAuthorizerRole",
                  "SecurityEventFunction": "SecurityEventRole", "ChangeNoticeFunction": "ChangeNoticeRole"}

# AccessTokensOnly (issue 21): the scope that only Cognito access tokens carry.
ACCESS_TOKEN_SCOPE = "aws.cognito.signin.user.admin"
# KmsKeyArn (issue 21): the customer key, where it is used, and a value for the tests.
KMS_KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KMS_KEY_IF_GIVEN = {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, NO_VALUE]}
# The statement every role that uses the key gets (Sid CustomerKey), as statement_summary gives it.
KMS_DECRYPT = ("HasKmsKey", ["kms:Decrypt"], [{"Ref": "KmsKeyArn"}])
KMS_DECRYPT_AND_SEND = ("HasKmsKey", ["kms:Decrypt", "kms:GenerateDataKey"], [{"Ref": "KmsKeyArn"}])
# The functions and log groups KmsKeyArn encrypts (every one of the template).
KMS_FUNCTIONS = ["ChangePasswordFunction", "TokenAuthorizerFunction", "SecurityEventFunction",
                 "ChangeNoticeFunction"]
KMS_LOG_GROUPS = ["ChangePasswordLogGroup", "HttpApiAccessLogGroup", "RestApiAccessLogGroup",
                  "TokenAuthorizerLogGroup", "SecurityEventLogGroup", "ChangeNoticeLogGroup"]
KMS_QUEUES = ["SecurityEventDeadLetterQueue", "ChangeNoticeDeadLetterQueue"]
# checkov (make checkov): the checks a resource may skip inline, each with a written reason.
CHECKOV_SKIPPABLE = {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"}


def build_metadata(resource):
    """A function's Metadata without checkov's inline skips (checked on their own)."""
    return {k: v for k, v in resource["Metadata"].items() if k != "checkov"}

# The ALB door (AlbListenerArn): a listener of an existing load balancer, and what the stack adds.
ALB_LISTENER_ARN = ("arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/my-alb/"
                    "50dc6c495c0c9188/f2f7dc8efc522ab2")
ALB_PERMISSION = "AlbInvokePermission"
ALB_TARGET_GROUP = "AlbTargetGroup"
ALB_RULE = "AlbListenerRule"
ALB_RESOURCES = [ALB_PERMISSION, ALB_RULE, ALB_TARGET_GROUP]
ALB_PRINCIPAL = "elasticloadbalancing.amazonaws.com"


def alb_path_matches(pattern, path):
    """An ALB path-pattern value against a path: `*` is 0 or more characters (`/` included),
    `?` exactly one, everything else literal and case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, path, re.S) is not None


def route_cases():
    """[(path, accepted)] of the function's own routing tests (is_route in src/edge/http_request.rs)."""
    source = (ROOT / "src" / "edge" / "http_request.rs").read_text()
    route = re.search(r'pub const ROUTE: &str = "([^"]+)";', source).group(1)
    cases = [(route, True)] if "assert!(is_route(ROUTE));" in source else []
    cases += [(path, not negated) for negated, path in re.findall(r'assert!\((!?)is_route\("([^"]*)"\)\)', source)]
    return route, cases


def deployed(template, **values):
    """The resources CloudFormation creates for these parameter values (their Condition holds)."""
    ev = Evaluator(template, **values)
    return {k: v for k, v in template["Resources"].items() if "Condition" not in v or ev.condition(v["Condition"])}


def plain(node):
    """cfn-lint's dict_node/str_node/list_node as plain Python values."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def load_template(text=None):
    return plain(loads(TEMPLATE.read_text() if text is None else text, str(TEMPLATE)))


def policy_statements(role):
    """[(condition or None, statement)] of every inline policy of an IAM role resource."""
    out = []
    for policy in role["Properties"]["Policies"]:
        for stmt in as_list(policy["PolicyDocument"]["Statement"]):
            for cond, branch in if_branches(stmt):
                if branch != NO_VALUE:
                    out.append((cond, branch))
    return out


def statement_summary(testcase, role, allowed_conditions=()):
    """[(condition, sorted actions, resources)] of a role, checking every statement is a plain
    Allow (no NotAction, NotResource, Principal, or Condition but those of the statements whose
    Sid is in `allowed_conditions`)."""
    actual = []
    for cond, stmt in policy_statements(role):
        testcase.assertEqual(stmt.get("Effect"), "Allow", stmt)
        for key in ("NotAction", "NotResource", "Principal", "NotPrincipal", "Condition"):
            if key == "Condition" and stmt.get("Sid") in allowed_conditions:
                continue
            testcase.assertNotIn(key, stmt)
        actual.append((cond, sorted(as_list(stmt["Action"])), as_list(stmt["Resource"])))
    return actual


def by_type(template, type_):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def if_branches(value):
    """The statements/values a possibly conditional value can take: [(condition, value)]."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        cond, yes, no = value["Fn::If"]
        out = [(cond, v) for _, v in if_branches(yes)]
        out += [("!" + cond, v) for _, v in if_branches(no)]
        return out
    return [(None, value)]


def as_list(value):
    return value if isinstance(value, list) else [value]


def pattern_matches(pattern, event):
    """An EventBridge event pattern of exact values (lists of allowed values, nested objects)
    against an event; any other part of the pattern language is refused."""
    for key, allowed in pattern.items():
        if isinstance(allowed, dict):
            if not isinstance(event.get(key), dict) or not pattern_matches(allowed, event[key]):
                return False
            continue
        if not isinstance(allowed, list) or any(isinstance(a, (dict, list)) for a in allowed):
            raise ValueError(f"unsupported pattern for {key}: {allowed!r}")
        if key not in event or event[key] not in allowed:
            return False
    return True


def sub_string(value):
    """The template string of an Fn::Sub (short or long form), else None."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return None


def iter_references(node, path="$"):
    """Yield (path, kind, target) for every Ref, GetAtt, Sub variable and condition name."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if key == "Ref" and isinstance(value, str):
                yield here, "Ref", value
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                yield here, "GetAtt", target
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                local = {} if isinstance(value, str) else value[1]
                for var in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    if var not in local:
                        yield here, "Sub", var.split(".")[0] if "::" not in var else var
            elif key == "Fn::If":
                yield here, "Condition", value[0]
            elif key == "Condition" and isinstance(value, str):
                yield here, "Condition", value
            yield from iter_references(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from iter_references(value, f"{path}[{i}]")


# -- a small evaluator of the template's intrinsics, for given parameter values ----------------

PSEUDO_VALUES = {"AWS::Region": "eu-west-1", "AWS::StackName": "change-password",
                 "AWS::Partition": "aws", "AWS::AccountId": "123456789012",
                 "AWS::URLSuffix": "amazonaws.com"}
_DROP = object()


class Evaluator:
    """Resolves Ref, Fn::Sub, Fn::Join, Fn::Split, Fn::Select, Fn::If and the conditions as
    CloudFormation would for the given parameter values (defaults otherwise). A resource stands
    for itself as "<LogicalId>" (or "<LogicalId.Attribute>")."""

    def __init__(self, template, **overrides):
        self.t = template
        self.params = {}
        for name, spec in template["Parameters"].items():
            value = str(overrides.get(name, spec.get("Default", "")))
            self.params[name] = value.split(",") if spec["Type"] == "CommaDelimitedList" else value

    def condition(self, name):
        return self.holds(self.t["Conditions"][name])

    def holds(self, expr):
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
        raise ValueError(expr)

    def ref(self, name):
        if name in self.params:
            return self.params[name]
        if name in PSEUDO_VALUES:
            return PSEUDO_VALUES[name]
        if name == "AWS::NoValue":
            return _DROP
        return f"<{name}>"

    def value(self, node):
        if isinstance(node, dict) and len(node) == 1:
            (fn, args), = node.items()
            if fn == "Ref":
                return self.ref(args)
            if fn == "Fn::GetAtt":
                return "<{}>".format(".".join(args) if isinstance(args, list) else args)
            if fn == "Fn::If":
                return self.value(args[1] if self.condition(args[0]) else args[2])
            if fn == "Fn::Join":
                parts = self.value(args[1])
                return args[0].join(str(p) for p in parts)
            if fn == "Fn::Split":
                return self.value(args[1]).split(args[0])
            if fn == "Fn::Select":
                return self.value(args[1])[int(args[0])]
            if fn == "Fn::Sub":
                text, local = (args, {}) if isinstance(args, str) else args
                local = {k: self.value(v) for k, v in local.items()}

                def one(match):
                    name = match.group(1)
                    if name in local:
                        return str(local[name])
                    if "." in name and "::" not in name:
                        return f"<{name}>"
                    return str(self.ref(name))
                return re.sub(r"\$\{([^!}][^}]*)\}", one, text)
        if isinstance(node, dict):
            out = {k: self.value(v) for k, v in node.items()}
            return {k: v for k, v in out.items() if v is not _DROP}
        if isinstance(node, list):
            return [v for v in (self.value(v) for v in node) if v is not _DROP]
        return node


# -- access logs ------------------------------------------------------------------------------

# The only $context variables an access log format may use. Nothing here can hold the query
# string (where `access_token` may travel) or a header but the user agent (Authorization);
# `$context.path` is left out too: the route key / resource path name the route.
ACCESS_LOG_VARIABLES = {
    "HttpApi": {
        "requestId", "requestTime", "httpMethod", "routeKey", "status", "protocol",
        "responseLength", "responseLatency", "integrationLatency", "integrationStatus",
        "awsEndpointRequestId", "identity.sourceIp", "identity.userAgent",
        "authorizer.claims.sub", "authorizer.error", "error.message",
    },
    "RestApi": {
        "requestId", "requestTime", "httpMethod", "resourcePath", "status", "protocol",
        "responseLength", "responseLatency", "integrationLatency", "integrationStatus",
        "awsEndpointRequestId", "identity.sourceIp", "identity.userAgent",
        "authorizer.claims.sub", "error.message", "xrayTraceId",
    },
}
# What every access log line must say, as (JSON key, variable): request id, route, status,
# latency, source IP, user agent, the caller's sub.
ACCESS_LOG_REQUIRED = {
    "HttpApi": {"requestId": "requestId", "routeKey": "routeKey", "status": "status",
                "responseLatency": "responseLatency", "sourceIp": "identity.sourceIp",
                "userAgent": "identity.userAgent", "sub": "authorizer.claims.sub"},
    "RestApi": {"requestId": "requestId", "resourcePath": "resourcePath", "status": "status",
                "responseLatency": "responseLatency", "sourceIp": "identity.sourceIp",
                "userAgent": "identity.userAgent", "sub": "authorizer.claims.sub"},
}
# Whatever the allow-list says, none of these may appear (case-insensitive): request data,
# mapping-template variables, overrides, headers, the raw path, API keys, client certificates.
ACCESS_LOG_FORBIDDEN = ["authorization", "querystring", "query", "header", "$input", "$method",
                        "$request", "$util", "$stagevariables", "requestoverride",
                        "responseoverride", "$context.path", "apikey", "clientcert", "#"]


def access_log_problems(api, fmt):
    """Why this access log format is not acceptable for `api` ([] when it is)."""
    problems = [f"contains {word!r}" for word in ACCESS_LOG_FORBIDDEN if word in fmt.lower()]
    if "$" in re.sub(r"\$context\.[A-Za-z0-9_.]*[A-Za-z0-9_]", "", fmt):
        problems.append("a $ that is not a $context variable")
    used = re.findall(r"\$context\.([A-Za-z0-9_.]*[A-Za-z0-9_])", fmt)
    problems += [f"variable $context.{v} not allowed" for v in used
                 if v not in ACCESS_LOG_VARIABLES[api]]
    try:
        fields = json.loads(re.sub(r"\$context\.([A-Za-z0-9_.]*[A-Za-z0-9_])", r"<\1>", fmt))
    except json.JSONDecodeError as e:
        return problems + [f"not JSON: {e}"]
    for key, variable in ACCESS_LOG_REQUIRED[api].items():
        if fields.get(key) != f"<{variable}>":
            problems.append(f"{key} is not $context.{variable}")
    return problems


# -- the attributes the Rust code names on the users table ------------------------------------

STORE_RS = ROOT / "src" / "aws" / "dynamodb_store.rs"


def rust_string_literals(source):
    """The contents of the ordinary string literals of a Rust source (escapes left as they are)."""
    return re.findall(r'"((?:[^"\\\n]|\\.)*)"', source)


def expression_literals(source):
    """The string literals that are (pieces of) DynamoDB update or condition expressions: those
    with a :placeholder, those that open with an update clause or a condition function, and the
    ", Name" pieces pushed onto a SET or REMOVE list."""
    out = []
    for literal in rust_string_literals(source):
        text = literal.strip()
        if (re.search(r":[a-z]", literal) or re.match(r"(SET|ADD|REMOVE|DELETE) ", text)
                or re.search(r" (SET|ADD|REMOVE|DELETE) ", literal)
                or re.match(r"\(?attribute_(not_)?exists\(", text) or re.match(r", [A-Z][a-z]", literal)):
            out.append(literal)
    return out


def expression_names(expression):
    """The top-level attribute names of an expression written with plain names (CamelCase; the
    keywords are upper case): not a nested element (after a dot), a #name, :value or function."""
    return set(re.findall(r"(?<![.#:\w])([A-Z][a-z][A-Za-z0-9]*)\b(?!\()", expression))


def store_attributes():
    """(read, written) attribute names of the function's store (src/aws/dynamodb_store.rs): what
    record_from_item reads of an item (the key included), and every name of its update and
    condition expressions (the key included: every request names it)."""
    source = STORE_RS.read_text()
    read = {"UserId"}
    read |= set(re.findall(r'(?:string_attr|number_attr)\(\s*item,\s*"([A-Za-z0-9]+)"', source))
    read |= set(re.findall(r'\bitem\.get\("([A-Za-z0-9]+)"\)', source))
    written = {"UserId"}
    for literal in expression_literals(source):
        written |= expression_names(literal)
    return read, written


PROJECTION_LITERAL = re.compile(r"#?[A-Za-z][A-Za-z0-9_]*(, #?[A-Za-z][A-Za-z0-9_]*)*")


def projection_names(projection, source):
    """The names of a projection literal, its #names resolved through the source's
    expression_attribute_names("#x", "Name") calls."""
    aliases = dict(re.findall(r'expression_attribute_names\(\s*"(#[A-Za-z0-9_]+)",\s*"([A-Za-z0-9_]+)"', source))
    return {aliases.get(name.strip(), name.strip()) for name in projection.split(",")}


def marker_projection():
    """The attributes of token-authorizer's GetItem (MarkerSource::marker), the key included:
    the projection literal in that function."""
    source = STORE_RS.read_text()
    body = source[source.index("async fn marker"):]
    body = body[: body.index("\n    }\n")]
    projection = next(lit for lit in rust_string_literals(body) if PROJECTION_LITERAL.fullmatch(lit))
    return {"UserId"} | projection_names(projection, source)


def record_projection():
    """The attributes of the function's GetItem (RECORD_PROJECTION), or None without one."""
    source = STORE_RS.read_text()
    found = re.search(r'const RECORD_PROJECTION: &str = "([^"]+)";', source)
    return None if found is None else {"UserId"} | projection_names(found.group(1), source)


class TemplateTest(unittest.TestCase):
    def setUp(self):
        self.t = load_template()
        self.res = self.t["Resources"]
        self.fn = self.res[FUNCTION]["Properties"]
        self.env = self.fn["Environment"]["Variables"]

    # -- kept from the original template -----------------------------------------------------

    def test_function_runtime_build_and_sizes(self):
        fn = self.res[FUNCTION]
        self.assertEqual(fn["Type"], "AWS::Serverless::Function")
        self.assertEqual(fn["Metadata"]["BuildMethod"], "rust-cargolambda")
        self.assertEqual(fn["Metadata"]["BuildProperties"]["Binary"], "change-password")
        self.assertEqual(self.fn["Runtime"], "provided.al2023")
        self.assertEqual(self.fn["Architectures"], ["arm64"])
        self.assertEqual(self.fn["Handler"], "bootstrap")
        self.assertEqual(self.fn["MemorySize"], 1769)
        self.assertEqual(self.fn["Timeout"], 10)

    def test_logging_config_and_log_group(self):
        logging_config = self.fn["LoggingConfig"]
        self.assertEqual(logging_config["LogFormat"], "JSON")
        self.assertEqual(logging_config["LogGroup"], {"Ref": "ChangePasswordLogGroup"})
        group = self.res["ChangePasswordLogGroup"]
        self.assertEqual(group["Type"], "AWS::Logs::LogGroup")
        self.assertEqual(group["Properties"]["RetentionInDays"], {"Ref": "LogRetentionDays"})
        self.assertEqual(int(self.t["Parameters"]["LogRetentionDays"]["Default"]), 30)
        # A WARN/ERROR application level would make Lambda drop the EMF lines (no "level").
        allowed = self.t["Parameters"]["LogLevel"]["AllowedValues"]
        self.assertNotIn("WARN", allowed)
        self.assertNotIn("ERROR", allowed)

    def test_spec_defaults_in_environment(self):
        expected = {
            "ARGON2_MEMORY_KIB": "19456", "ARGON2_ITERATIONS": "2", "ARGON2_PARALLELISM": "1",
            "PASSWORD_MAX_LENGTH": "128", "PASSWORD_MIN_SCORE": "0", "PASSWORD_HISTORY": "5",
            "LOCKOUT_THRESHOLD": "5", "LOCKOUT_SECONDS": "900", "LOCKOUT_MAX_FAILURES": "100",
        }
        for name, value in expected.items():
            self.assertEqual(self.env.get(name), value, name)
        self.assertEqual(self.env["PASSWORD_MIN_LENGTH"], {"Ref": "PasswordMinLength"})
        self.assertEqual(int(self.t["Parameters"]["PasswordMinLength"]["Default"]), 15)
        self.assertEqual(int(self.t["Parameters"]["PasswordMinLength"]["MinValue"]), 8)

    # -- least privilege ---------------------------------------------------------------------

    def role(self):
        role_ref = self.fn.get("Role")
        self.assertEqual(role_ref, {"Fn::GetAtt": ["ChangePasswordRole", "Arn"]},
                         "the function must use the template's own role")
        self.assertNotIn("Policies", self.fn, "SAM Policies would need SAM's generated role")
        return self.res["ChangePasswordRole"]

    def statements(self):
        """[(condition or None, statement)] of every policy of the function's role."""
        props = self.role()["Properties"]
        out = []
        for policy in props["Policies"]:
            for stmt in as_list(policy["PolicyDocument"]["Statement"]):
                for cond, branch in if_branches(stmt):
                    if branch != NO_VALUE:
                        out.append((cond, branch))
        return out

    def test_role_is_the_only_iam_and_has_no_managed_policies(self):
        role = self.role()
        self.assertEqual(role["Type"], "AWS::IAM::Role")
        props = role["Properties"]
        for key in ("ManagedPolicyArns", "PermissionsBoundary"):
            self.assertNotIn(key, props)
        trust = as_list(props["AssumeRolePolicyDocument"]["Statement"])
        self.assertEqual(trust, [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }])
        others = sorted(k for k, v in self.res.items() if v["Type"].startswith("AWS::IAM::") and k != "ChangePasswordRole")
        self.assertEqual(others, sorted([DEPLOY_ROLE, AUTHORIZER_ROLE, AUTHORIZER_DEPLOY_ROLE, PIPE_ROLE,
                                         ENRICHMENT_ROLE, NOTICE_ROLE]),
                         "no other IAM resources but CodeDeploy's, the authorizer's, the pipe's, its "
                         "enrichment's and change-notice's roles")
        for name in others:
            for key in ("ManagedPolicyArns", "PermissionsBoundary"):
                self.assertNotIn(key, self.res[name]["Properties"], name)

    def test_policy_statements_are_exactly_least_privilege(self):
        log_group = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${ChangePasswordLogGroup}"
        expected = [
            # Reads and writes apart, each limited to its attributes (test_function_reads_and_writes_only_its_attributes).
            (None, ["dynamodb:GetItem"], [TABLE_ARN]),
            (None, ["dynamodb:UpdateItem"], [TABLE_ARN]),
            ("HasPepper", ["secretsmanager:GetSecretValue"], [{"Ref": "PepperSecretArn"}]),
            # Revoking refresh tokens: only when opted in, and on the configured pool only.
            ("RevokeRefreshTokens", ["cognito-idp:AdminUserGlobalSignOut"], [USER_POOL_ARN]),
            (None, ["logs:CreateLogStream", "logs:PutLogEvents"],
             [{"Fn::Sub": log_group}, {"Fn::Sub": log_group + ":*"}]),
            # X-Ray accepts no resource but "*"; only with EnableTracing.
            ("TracingEnabled", XRAY_ACTIONS, ["*"]),
            # KmsKeyArn: the environment, encrypted with the customer key.
            KMS_DECRYPT,
        ]
        self.role()
        actual = statement_summary(self, self.res["ChangePasswordRole"],
                                   allowed_conditions=("UsersTableRead", "UsersTableWrite"))
        self.assertEqual(sorted(actual, key=repr), sorted(expected, key=repr))
        self.assertEqual(self.t["Conditions"]["HasPepper"],
                         {"Fn::Not": [{"Fn::Equals": [{"Ref": "PepperSecretArn"}, ""]}]})

    # The attributes of ChangePasswordRole's DynamoDB statements (issue 21, SPEC.md section 5).
    FUNCTION_READS = ["UserId", "PasswordHash", "PasswordVersion", "PasswordHistory", "PreviousPasswordHash",
                      "PasswordChangedAt", "FailedPasswordAttempts", "LockedUntil", "LockPendingUntil",
                      "LockCount", "ConsecutiveFailedAttempts", "SignInRequiredAfter", "SignInFloor",
                      "AccountType", "Status",
                      "Email", "Username", "TokensValidAfter", "PasswordChangeSession"]
    FUNCTION_WRITES = ["UserId", "PasswordHash", "PreviousPasswordHash", "PasswordVersion", "PasswordChangedAt",
                       "PasswordHistory", "FailedPasswordAttempts", "LockedUntil", "LockPendingUntil", "LockCount",
                       "ConsecutiveFailedAttempts", "SignInRequiredAfter", "SignInFloor", "TokensValidAfter",
                       "PasswordChangeSession", "LastPasswordChange", "PasswordChangeEvent"]

    def test_function_reads_and_writes_only_its_attributes(self):
        statements = {s["Sid"]: s for _, s in self.statements() if s.get("Sid")}
        # AWS's pattern for attribute-level access (dynamodb:Attributes with ForAllValues, and
        # dynamodb:Select on a read so that a GetItem without a projection, the whole item, is
        # refused); a write gives back at most the attributes it updated (the reservation reads
        # its new count: UPDATED_NEW).
        self.assertEqual(statements["UsersTableRead"]["Action"], "dynamodb:GetItem")
        self.assertEqual(statements["UsersTableRead"]["Condition"], {
            "ForAllValues:StringEquals": {"dynamodb:Attributes": self.FUNCTION_READS},
            "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}})
        self.assertEqual(statements["UsersTableWrite"]["Action"], "dynamodb:UpdateItem")
        self.assertEqual(statements["UsersTableWrite"]["Condition"], {
            "ForAllValues:StringEquals": {"dynamodb:Attributes": self.FUNCTION_WRITES},
            "StringEqualsIfExists": {"dynamodb:ReturnValues": ["NONE", "UPDATED_NEW"]}})
        # Exactly what the store names (moto checks no IAM: nothing else would catch a
        # difference before AWS refuses the request). scripts/iam_check.py checks the requests
        # themselves, as the SDK sends them.
        read, written = store_attributes()
        self.assertEqual(sorted(read), sorted(self.FUNCTION_READS), "attributes record_from_item reads")
        # Its GetItem asks for those (a GetItem without a projection is refused).
        projection = record_projection()
        if projection is not None:
            self.assertEqual(sorted(projection), sorted(self.FUNCTION_READS), "RECORD_PROJECTION")
        self.assertEqual(sorted(written), sorted(self.FUNCTION_WRITES), "attributes of the update/condition expressions")
        # Never change-notice's progress, and no write to what provisioning owns.
        for name in ("NotificationEmails", "NoticeSentVersion", "NoticeDeliveries"):
            self.assertNotIn(name, self.FUNCTION_READS + self.FUNCTION_WRITES)
        for name in ("AccountType", "Status", "Email", "Username", "NotificationEmails"):
            self.assertNotIn(name, self.FUNCTION_WRITES)

    def test_attribute_derivation_reads_expressions_as_iam_does(self):
        # The source scan above, on expressions of the store's kind.
        self.assertEqual(expression_names(
            "SET Aa = :a, Bb.Cc = :c ADD Dd :one REMOVE Ee, Ff[0], #g AND attribute_not_exists(Gg) OR Hh.Ii < :now"),
            {"Aa", "Bb", "Dd", "Ee", "Ff", "Gg", "Hh"})
        literals = expression_literals('x("SET Aa = :a"); y("UpdateItem(reserve): failed"); z(", Bb"); w(" REMOVE Cc")')
        self.assertEqual(literals, ["SET Aa = :a", ", Bb", " REMOVE Cc"])
        self.assertEqual(projection_names("Aa, #s", 'q.expression_attribute_names("#s", "Status")'), {"Aa", "Status"})

    def test_no_wildcard_action_or_resource(self):
        for cond, stmt in self.statements():
            for action in as_list(stmt["Action"]):
                self.assertNotIn("*", action)
            if stmt["Resource"] == "*":
                # The one exception: X-Ray's writes, which have no resource-level permissions.
                self.assertEqual((cond, sorted(as_list(stmt["Action"]))), ("TracingEnabled", XRAY_ACTIONS))
                continue
            for resource in as_list(stmt["Resource"]):
                for _, branch in if_branches(resource):
                    self.assertNotEqual(branch, "*")
                    text = branch if isinstance(branch, str) else sub_string(branch) or ""
                    # The only wildcard allowed: the log streams of the function's own group.
                    if "*" in text:
                        self.assertTrue(text.endswith(":log-group:${ChangePasswordLogGroup}:*"), text)
                    self.assertNotIn("*", text[:-2])

    def test_pepper_variable_only_with_a_pepper(self):
        self.assertEqual(self.env["PEPPER_SECRET_ID"],
                         {"Fn::If": ["HasPepper", {"Ref": "PepperSecretArn"}, NO_VALUE]})

    # -- front doors ---------------------------------------------------------------------------

    def test_enable_parameters_and_conditions(self):
        params, conds = self.t["Parameters"], self.t["Conditions"]
        for name, default, cond in (("EnableHttpApi", "true", "HttpApiEnabled"),
                                    ("EnableRestApi", "false", "RestApiEnabled"),
                                    ("EnableFunctionUrl", "false", "FunctionUrlEnabled")):
            self.assertEqual(params[name]["Default"], default, name)
            self.assertEqual(sorted(params[name]["AllowedValues"]), ["false", "true"])
            self.assertEqual(conds[cond], {"Fn::Equals": [{"Ref": name}, "true"]})

    def test_http_api_route_has_the_jwt_authorizer(self):
        routes = [r for r in by_type(self.t, "AWS::ApiGatewayV2::Route").values()
                  if r["Properties"]["RouteKey"] == f"POST {ROUTE_PATH}"]
        self.assertEqual(len(routes), 1)
        route = routes[0]
        self.assertEqual(route.get("Condition"), "HttpApiEnabled")
        props = route["Properties"]
        self.assertEqual(props["AuthorizationType"], "JWT")
        authorizer = self.res[props["AuthorizerId"]["Ref"]]
        self.assertEqual(authorizer.get("Condition"), "HttpApiEnabled")
        auth = authorizer["Properties"]
        self.assertEqual(auth["AuthorizerType"], "JWT")
        self.assertEqual(auth["IdentitySource"], ["$request.header.Authorization"])
        self.assertEqual(auth["JwtConfiguration"]["Issuer"], {
            "Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${CognitoUserPoolId}"})
        self.assertEqual(auth["JwtConfiguration"]["Audience"], {"Ref": "CognitoAppClientIds"})
        api_id = props["ApiId"]["Ref"]
        self.assertEqual(auth["ApiId"], {"Ref": api_id})
        self.assertEqual(self.res[api_id]["Type"], "AWS::ApiGatewayV2::Api")
        self.assertEqual(self.res[api_id]["Properties"]["ProtocolType"], "HTTP")
        # Target: the Lambda proxy integration with payload 2.0.
        target = sub_string(props["Target"])
        integration_id = re.fullmatch(r"integrations/\$\{(\w+)\}", target).group(1)
        integration = self.res[integration_id]
        self.assertEqual(integration.get("Condition"), "HttpApiEnabled")
        self.assertEqual(integration["Properties"]["IntegrationType"], "AWS_PROXY")
        self.assertEqual(integration["Properties"]["IntegrationUri"], ALIAS_REF)
        self.assertEqual(integration["Properties"]["PayloadFormatVersion"], "2.0")
        # A stage that deploys, and a permission for API Gateway to invoke the function.
        stages = [s for s in by_type(self.t, "AWS::ApiGatewayV2::Stage").values()
                  if s["Properties"]["ApiId"] == {"Ref": api_id}]
        self.assertEqual(len(stages), 1)
        self.assertTrue(stages[0]["Properties"]["AutoDeploy"])
        self.assert_invoke_permission(api_id, "HttpApiEnabled")

    def assert_invoke_permission(self, api_id, condition):
        found = [p for p in by_type(self.t, "AWS::Lambda::Permission").values()
                 if p["Properties"].get("Principal") == "apigateway.amazonaws.com"
                 and f"${{{api_id}}}/" in (sub_string(p["Properties"].get("SourceArn")) or "")]
        self.assertEqual(len(found), 1, api_id)
        props = found[0]["Properties"]
        self.assertEqual(found[0].get("Condition"), condition)
        self.assertEqual(props["Action"], "lambda:InvokeFunction")
        self.assertEqual(props["FunctionName"], ALIAS_REF)
        self.assertTrue(sub_string(props["SourceArn"]).endswith(f"/*/POST{ROUTE_PATH}"))

    def test_rest_api_route_has_the_cognito_authorizer(self):
        api = self.res["RestApi"]
        self.assertEqual(api["Type"], "AWS::Serverless::Api")
        self.assertEqual(api.get("Condition"), "RestApiEnabled")
        props = api["Properties"]
        self.assertEqual(props["StageName"], "prod")
        auth = props["Auth"]
        authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
        self.assertEqual(authorizer["UserPoolArn"], {"Fn::Sub": (
            "arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}"
            ":userpool/${CognitoUserPoolId}")})
        operation = props["DefinitionBody"]["paths"][ROUTE_PATH]["post"]
        integration = operation["x-amazon-apigateway-integration"]
        self.assertEqual(integration["type"], "aws_proxy")
        self.assertEqual(integration["httpMethod"], "POST")
        # The alias ARN, through a Sub variable (cfn-lint reads `${X.Alias}` as a GetAtt).
        uri, variables = integration["uri"]["Fn::Sub"]
        self.assertTrue(uri.endswith("/functions/${AliasArn}/invocations"), uri)
        self.assertEqual(variables, {"AliasArn": ALIAS_REF})
        # The default authorizer, with the scope of AccessTokensOnly (test_access_tokens_only).
        self.assertEqual(operation["security"], [{auth["DefaultAuthorizer"]: {
            "Fn::If": ["RequireAccessTokens", [ACCESS_TOKEN_SCOPE], []]}}])
        self.assertEqual(list(props["DefinitionBody"]["paths"]), [ROUTE_PATH])
        self.assert_invoke_permission("RestApi", "RestApiEnabled")

    def test_access_tokens_only(self):
        # Issue 21: by default both API Gateway doors require the scope that only Cognito access
        # tokens carry, so that ID tokens are refused there (SPEC.md section 3).
        param = self.t["Parameters"]["AccessTokensOnly"]
        self.assertEqual((param["Default"], sorted(param["AllowedValues"])), ("true", ["false", "true"]))
        self.assertEqual(self.t["Conditions"]["RequireAccessTokens"],
                         {"Fn::Equals": [{"Ref": "AccessTokensOnly"}, "true"]})
        route = self.res["HttpApiRoute"]["Properties"]
        self.assertEqual(route["AuthorizationScopes"],
                         {"Fn::If": ["RequireAccessTokens", [ACCESS_TOKEN_SCOPE], NO_VALUE]})
        operation = self.res["RestApi"]["Properties"]["DefinitionBody"]["paths"][ROUTE_PATH]["post"]
        for value, scopes in (("true", [ACCESS_TOKEN_SCOPE]), ("false", [])):
            with self.subTest(AccessTokensOnly=value):
                ev = Evaluator(self.t, AccessTokensOnly=value)
                self.assertEqual(ev.value(route).get("AuthorizationScopes"), scopes or None)
                self.assertEqual(ev.value(operation)["security"], [{"CognitoAuthorizer": scopes}])
        self.assertEqual(Evaluator(self.t).value(route)["AuthorizationScopes"], [ACCESS_TOKEN_SCOPE])
        # The scope's condition is unresolved in the hash SAM names the REST deployment after:
        # only a new deployment on every update puts a new value on the stage.
        self.assertIs(self.res["RestApi"]["Properties"]["AlwaysDeploy"], True)
        groups = self.t["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        self.assertIn("AccessTokensOnly", next(g for g in groups if g["Label"]["default"] == "Front doors")["Parameters"])

    def test_function_url_and_its_environment(self):
        urls = by_type(self.t, "AWS::Lambda::Url")
        self.assertEqual(len(urls), 1)
        url = next(iter(urls.values()))
        self.assertEqual(url.get("Condition"), "FunctionUrlEnabled")
        self.assertEqual(url["Properties"]["AuthType"], "NONE")
        self.assertEqual(url["Properties"]["TargetFunctionArn"], ALIAS_REF)
        self.assertNotIn("Qualifier", url["Properties"])
        public = {(p["Properties"]["Action"], p.get("Condition"))
                  for p in by_type(self.t, "AWS::Lambda::Permission").values()
                  if p["Properties"]["Principal"] == "*"}
        self.assertEqual(public, {("lambda:InvokeFunctionUrl", "FunctionUrlEnabled"),
                                  ("lambda:InvokeFunction", "FunctionUrlEnabled")})
        for p in by_type(self.t, "AWS::Lambda::Permission").values():
            if p["Properties"]["Principal"] == "*":
                self.assertEqual(p["Properties"]["FunctionName"], ALIAS_REF)
            if p["Properties"]["Principal"] == "*" and p["Properties"]["Action"] == "lambda:InvokeFunction":
                self.assertIs(p["Properties"]["InvokedViaFunctionUrl"], True)
        # No authorizer in front of the function URL or the ALB: the function verifies tokens.
        self.assertEqual(self.env["JWT_ISSUER"], {"Fn::If": [
            "FunctionVerifiesTokens",
            {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${CognitoUserPoolId}"},
            NO_VALUE]})
        self.assertEqual(self.t["Conditions"]["FunctionVerifiesTokens"],
                         {"Fn::Or": [{"Condition": "FunctionUrlEnabled"}, {"Condition": "HasAlb"}]})
        # The audience always: authorizer claims must name one of the app clients too.
        self.assertEqual(self.env["JWT_AUDIENCE"], {"Fn::Join": [",", {"Ref": "CognitoAppClientIds"}]})

    def test_alb_parameters_and_condition(self):
        params, conds = self.t["Parameters"], self.t["Conditions"]
        listener = params["AlbListenerArn"]
        self.assertEqual((listener["Type"], listener["Default"]), ("String", ""))
        self.assertRegex(ALB_LISTENER_ARN, listener["AllowedPattern"])
        self.assertRegex("", listener["AllowedPattern"])
        self.assertNotRegex(ALB_LISTENER_ARN.replace(":listener/", ":loadbalancer/"), listener["AllowedPattern"])
        priority = params["AlbListenerRulePriority"]
        self.assertEqual((priority["Type"], int(priority["Default"])), ("Number", 100))
        self.assertEqual((int(priority["MinValue"]), int(priority["MaxValue"])), (1, 50000))
        self.assertEqual(conds["HasAlb"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlbListenerArn"}, ""]}]})
        for name in ALB_RESOURCES:
            self.assertEqual(self.res[name].get("Condition"), "HasAlb", name)
        self.assertEqual(self.t["Outputs"]["AlbTargetGroupArn"],
                         {"Condition": "HasAlb", "Description": self.t["Outputs"]["AlbTargetGroupArn"]["Description"],
                          "Value": {"Ref": ALB_TARGET_GROUP}})

    def test_alb_resources_only_with_a_listener(self):
        without = deployed(self.t)
        self.assertEqual([k for k, v in without.items() if v["Type"].startswith("AWS::ElasticLoadBalancingV2::")], [])
        self.assertEqual([k for k, v in without.items() if v["Type"] == "AWS::Lambda::Permission"
                          and v["Properties"]["Principal"] == ALB_PRINCIPAL], [])
        with_alb = deployed(self.t, AlbListenerArn=ALB_LISTENER_ARN)
        self.assertEqual(sorted(set(with_alb) - set(without)), ALB_RESOURCES)
        # Behind the ALB the function verifies bearer tokens itself, as behind the function URL.
        pool = {"CognitoUserPoolId": "eu-west-1_AbCdEf123"}
        self.assertNotIn("JWT_ISSUER", Evaluator(self.t, **pool).value(self.env))
        self.assertEqual(Evaluator(self.t, AlbListenerArn=ALB_LISTENER_ARN, **pool).value(self.env)["JWT_ISSUER"],
                         "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123")

    def test_alb_target_group_is_the_alias_without_health_checks(self):
        group = self.res[ALB_TARGET_GROUP]
        self.assertEqual(group["Type"], "AWS::ElasticLoadBalancingV2::TargetGroup")
        props = group["Properties"]
        self.assertEqual(props["TargetType"], "lambda")
        self.assertIs(props["HealthCheckEnabled"], False)
        self.assertEqual(props["Targets"], [{"Id": ALIAS_REF}])
        # ELB checks the invoke permission when it registers the target.
        self.assertEqual(as_list(group["DependsOn"]), [ALB_PERMISSION])
        for key in ("Port", "Protocol", "VpcId", "HealthCheckPath"):
            self.assertNotIn(key, props)

    def test_alb_permission_is_elb_on_the_alias(self):
        permissions = {k: v for k, v in by_type(self.t, "AWS::Lambda::Permission").items()
                       if v["Properties"]["Principal"] == ALB_PRINCIPAL}
        self.assertEqual(list(permissions), [ALB_PERMISSION])
        self.assertEqual(permissions[ALB_PERMISSION]["Properties"], {
            "Action": "lambda:InvokeFunction", "FunctionName": ALIAS_REF, "Principal": ALB_PRINCIPAL,
            "SourceAccount": {"Ref": "AWS::AccountId"}})

    def test_alb_rule_forwards_the_route_by_path_only(self):
        rule = self.res[ALB_RULE]
        self.assertEqual(rule["Type"], "AWS::ElasticLoadBalancingV2::ListenerRule")
        props = rule["Properties"]
        self.assertEqual(props["ListenerArn"], {"Ref": "AlbListenerArn"})
        self.assertEqual(props["Priority"], {"Ref": "AlbListenerRulePriority"})
        self.assertEqual(props["Actions"], [{"Type": "forward", "TargetGroupArn": {"Ref": ALB_TARGET_GROUP}}])
        # The path only: the function answers the other methods with 405 and Allow.
        self.assertEqual([c["Field"] for c in props["Conditions"]], ["path-pattern"])
        patterns = props["Conditions"][0]["PathPatternConfig"]["Values"]
        self.assertLessEqual(len(patterns), 5)
        route, cases = route_cases()
        self.assertEqual(route, ROUTE_PATH)
        self.assertGreaterEqual(len(cases), 6)
        for path in (route, "/prod" + route, "/v1" + route, "/x" + route):
            cases.append((path, True))
        for path in (route + "/", route + "x", "/prod" + route + "/", route.upper(), "/", "/api/workspace/account"):
            cases.append((path, False))
        for path, accepted in cases:
            with self.subTest(path=path):
                forwarded = any(alb_path_matches(p, path) for p in patterns)
                if accepted:
                    self.assertTrue(forwarded, "a path the function accepts must reach it")
                elif forwarded:
                    # ALB's `*` also matches `/`: only several stage segments get through, and
                    # the function answers them 404.
                    self.assertRegex(path, r"^/[^/]+/[^/]+(/[^/]+)*" + re.escape(route) + "$")

    def test_cors(self):
        self.assertEqual(self.t["Parameters"]["CorsAllowedOrigins"]["Type"], "CommaDelimitedList")
        self.assertEqual(self.t["Parameters"]["CorsAllowedOrigins"]["Default"], "")
        http = self.res["HttpApi"]["Properties"]["CorsConfiguration"]["Fn::If"]
        self.assertEqual(http[0], "HasCors")
        self.assertEqual(http[1], {
            "AllowOrigins": {"Ref": "CorsAllowedOrigins"}, "AllowMethods": ["POST", "OPTIONS"],
            "AllowHeaders": ["authorization", "content-type"], "MaxAge": 600})
        self.assertEqual(http[2], NO_VALUE)
        url = self.res["ChangePasswordFunctionUrl"]["Properties"]["Cors"]["Fn::If"]
        self.assertEqual(url[0], "HasCors")
        self.assertEqual(url[1]["AllowOrigins"], {"Ref": "CorsAllowedOrigins"})
        self.assertIn("POST", url[1]["AllowMethods"])
        self.assertEqual(url[2], NO_VALUE)

    # -- data ----------------------------------------------------------------------------------

    def test_table(self):
        table = self.res["UsersTable"]
        self.assertEqual(table["Type"], "AWS::DynamoDB::Table")
        self.assertEqual(table.get("Condition"), "CreateTable")
        self.assertEqual(self.t["Conditions"]["CreateTable"],
                         {"Fn::Equals": [{"Ref": "ExistingUsersTableName"}, ""]})
        self.assertEqual(table["DeletionPolicy"], "Retain")
        self.assertEqual(table["UpdateReplacePolicy"], "Retain")
        props = table["Properties"]
        self.assertEqual(props["KeySchema"], [{"AttributeName": "UserId", "KeyType": "HASH"}])
        self.assertEqual(props["AttributeDefinitions"], [{"AttributeName": "UserId", "AttributeType": "S"}])
        self.assertEqual(props["BillingMode"], "PAY_PER_REQUEST")
        self.assertIs(props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], True)
        self.assertIs(props["SSESpecification"]["SSEEnabled"], True)
        self.assertIs(props["DeletionProtectionEnabled"], True)
        self.assertEqual(self.env["USERS_TABLE"], {"Fn::If": [
            "CreateTable", {"Ref": "UsersTable"}, {"Ref": "ExistingUsersTableName"}]})

    def test_customer_key_encrypts_everything(self):
        # Issue 21: KmsKeyArn (optional) encrypts the table, every log group, every function's
        # environment and both queues with the customer key; without it nothing changes.
        param = self.t["Parameters"]["KmsKeyArn"]
        self.assertEqual(param["Default"], "")
        self.assertRegex(KMS_KEY_ARN, param["AllowedPattern"])
        self.assertRegex("arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
                         param["AllowedPattern"])
        self.assertNotRegex("arn:aws:kms:eu-west-1:123456789012:alias/users", param["AllowedPattern"])
        self.assertRegex("", param["AllowedPattern"])
        self.assertEqual(self.t["Conditions"]["HasKmsKey"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}]})
        self.assertEqual(sorted(by_type(self.t, "AWS::Serverless::Function")), sorted(KMS_FUNCTIONS))
        self.assertEqual(sorted(by_type(self.t, "AWS::Logs::LogGroup")), sorted(KMS_LOG_GROUPS))
        self.assertEqual(sorted(by_type(self.t, "AWS::SQS::Queue")), sorted(KMS_QUEUES))
        for name in KMS_FUNCTIONS:
            self.assertEqual(self.res[name]["Properties"]["KmsKeyArn"], KMS_KEY_IF_GIVEN, name)
        for name in KMS_LOG_GROUPS:
            self.assertEqual(self.res[name]["Properties"]["KmsKeyId"], KMS_KEY_IF_GIVEN, name)
        for name in KMS_QUEUES:
            self.assertEqual(self.res[name]["Properties"]["KmsMasterKeyId"], KMS_KEY_IF_GIVEN, name)
        table = self.res["UsersTable"]["Properties"]["SSESpecification"]
        default, keyed = Evaluator(self.t), Evaluator(self.t, KmsKeyArn=KMS_KEY_ARN)
        # Without the key: exactly the encryption of before (DynamoDB's AWS managed key, SQS
        # managed SSE, Lambda's and CloudWatch Logs' own keys).
        self.assertEqual(default.value(table), {"SSEEnabled": True})
        for name in KMS_QUEUES:
            self.assertEqual(default.value(self.res[name]["Properties"]),
                             {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 1209600})
        for name in KMS_FUNCTIONS + KMS_LOG_GROUPS:
            self.assertNotIn("KmsKeyArn", default.value(self.res[name]["Properties"]))
            self.assertNotIn("KmsKeyId", default.value(self.res[name]["Properties"]))
        # With it: the customer key everywhere.
        self.assertEqual(keyed.value(table), {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": KMS_KEY_ARN})
        for name in KMS_QUEUES:
            self.assertEqual(keyed.value(self.res[name]["Properties"]),
                             {"KmsMasterKeyId": KMS_KEY_ARN, "MessageRetentionPeriod": 1209600})
        for name in KMS_FUNCTIONS:
            self.assertEqual(keyed.value(self.res[name]["Properties"])["KmsKeyArn"], KMS_KEY_ARN)
        for name in KMS_LOG_GROUPS:
            self.assertEqual(keyed.value(self.res[name]["Properties"])["KmsKeyId"], KMS_KEY_ARN)
        # Each function's role may decrypt its environment with the key; those that send to a
        # dead-letter queue may also make its data keys (the role tests hold each statement).
        for role in ("ChangePasswordRole", AUTHORIZER_ROLE, ENRICHMENT_ROLE, NOTICE_ROLE, PIPE_ROLE):
            kms = [(c, s) for c, s in policy_statements(self.res[role]) if s.get("Sid") == "CustomerKey"]
            self.assertEqual(len(kms), 1, role)
            cond, stmt = kms[0]
            self.assertEqual((cond, stmt["Resource"]), ("HasKmsKey", {"Ref": "KmsKeyArn"}), role)
            raw = next(st for policy in self.res[role]["Properties"]["Policies"]
                       for st in policy["PolicyDocument"]["Statement"] if "CustomerKey" in json.dumps(st))
            self.assertEqual(default.value([raw]), [], role)
            self.assertEqual(keyed.value(raw)["Resource"], KMS_KEY_ARN, role)
        # The key's id is in the aliased functions' version descriptions (a new version, with
        # the new key, when it changes), and the key's policy is documented where it is given.
        for name in (FUNCTION, AUTHORIZER):
            self.assertIn("kms=1234abcd-12ab-34cd-56ef-1234567890ab",
                          keyed.value(self.res[name]["Properties"]["VersionDescription"]))
            self.assertIn("kms=none", default.value(self.res[name]["Properties"]["VersionDescription"]))
        text = TEMPLATE.read_text()
        comment = text[: text.index("  KmsKeyArn:")]
        for principal in ("logs.<region>.amazonaws.com", "events.amazonaws.com", "dynamodb.<region>.amazonaws.com"):
            self.assertIn(principal, comment)

    def test_checkov_skips_are_explained(self):
        # make checkov fails on any finding; what it reports and is not fixed is skipped on the
        # resource itself, with the reason, and only for these checks.
        found = []
        for name, res in self.res.items():
            for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", []):
                self.assertIn(skip["id"], CHECKOV_SKIPPABLE, name)
                self.assertGreaterEqual(len(skip.get("comment", "")), 60, f"{name} {skip['id']}: a reason")
                found.append((name, skip["id"]))
        self.assertEqual(len(found), len(set(found)))
        self.assertEqual(sorted(found), sorted(
            [(fn, check) for fn in KMS_FUNCTIONS for check in ("CKV_AWS_116", "CKV_AWS_117")]
            + [(fn, "CKV_AWS_115") for fn in KMS_FUNCTIONS if fn != FUNCTION]))
        # The function itself has a concurrency limit, so it needs no such skip.
        self.assertIn("ReservedConcurrentExecutions", self.fn)

    # -- environment contract and references ------------------------------------------------

    def test_every_spec_variable_is_set_or_documented(self):
        readme = CONFIGURATION_DOC.read_text()
        for name in SPEC_VARIABLES:
            self.assertTrue(name in self.env or name in readme, f"{name} neither set nor in docs/configuration.md")

    def test_every_variable_set_is_a_spec_variable(self):
        # Besides SPEC.md's, only OpenTelemetry's standard variables (test_tracing_on_...).
        unknown = sorted(set(self.env) - set(SPEC_VARIABLES) - set(OTEL_VARIABLES))
        self.assertEqual(unknown, [], "variables the function does not read (typo?)")
        self.assertIn('"OTEL_EXPORTER_OTLP_ENDPOINT"', TELEMETRY_RS.read_text())

    def test_every_reference_has_a_target(self):
        names = set(self.t["Parameters"]) | set(self.res) | PSEUDO_PARAMETERS
        conditions = set(self.t["Conditions"])
        bad = []
        for section in ("Resources", "Outputs", "Conditions"):
            for path, kind, target in iter_references(self.t.get(section, {}), section):
                if kind == "Condition":
                    if target not in conditions:
                        bad.append((path, target))
                elif kind == "GetAtt":
                    if target not in self.res:
                        bad.append((path, target))
                elif kind == "Ref" and target.endswith(".Alias"):
                    # SAM's reference to the alias of a function with AutoPublishAlias.
                    function = self.res.get(target[: -len(".Alias")], {})
                    if "AutoPublishAlias" not in function.get("Properties", {}):
                        bad.append((path, target))
                elif target not in names:
                    bad.append((path, target))
        self.assertEqual(bad, [])

    def test_reference_check_sees_environment_variables(self):
        # cfn-lint misses a broken Ref inside Environment.Variables; this walker must not.
        broken = copy.deepcopy(self.t)
        broken["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]["USERS_TABLE"] = {"Ref": "UserTable"}
        found = [t for _, _, t in iter_references(broken["Resources"]) if t == "UserTable"]
        self.assertEqual(found, ["UserTable"])

    # -- alarms --------------------------------------------------------------------------------

    def alarm(self, namespace, metric, function=None, dimensions=None):
        """The one alarm on this metric (of this function's, for AWS/Lambda; or with these
        dimensions)."""
        if function is not None:
            dimensions = [{"Name": "FunctionName", "Value": {"Ref": function}}]
        found = [a for a in by_type(self.t, "AWS::CloudWatch::Alarm").values()
                 if a["Properties"].get("Namespace") == namespace
                 and a["Properties"].get("MetricName") == metric
                 and (dimensions is None or a["Properties"].get("Dimensions") == dimensions)]
        self.assertEqual(len(found), 1, f"{namespace}/{metric} {dimensions or ''}")
        props = found[0]["Properties"]
        self.assertEqual(props["Period"], 300)
        self.assertEqual(props["EvaluationPeriods"], 1)
        self.assertEqual(props["ComparisonOperator"], "GreaterThanThreshold")
        self.assertEqual(props["AlarmActions"],
                         {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], NO_VALUE]})
        return props

    def test_lambda_alarms(self):
        for function in (FUNCTION, AUTHORIZER):
            for metric in ("Errors", "Throttles"):
                props = self.alarm("AWS/Lambda", metric, function)
                self.assertEqual(props["Statistic"], "Sum")
                self.assertEqual(props["Threshold"], 0)
        self.assertEqual(self.res["TokenAuthorizerErrorsAlarm"]["Properties"]["MetricName"], "Errors")
        self.assertEqual(self.res["TokenAuthorizerThrottlesAlarm"]["Properties"]["MetricName"], "Throttles")
        duration = self.alarm("AWS/Lambda", "Duration")
        self.assertEqual(duration["ExtendedStatistic"], "p99")
        self.assertNotIn("Statistic", duration)
        timeout_ms = self.fn["Timeout"] * 1000
        self.assertLess(duration["Threshold"], timeout_ms)
        self.assertEqual(duration["Threshold"], timeout_ms * 8 // 10)

    def test_business_alarms(self):
        locked = self.alarm("ChangePassword", "AccountLocked")
        self.assertEqual(locked["Statistic"], "Sum")
        self.assertEqual(locked["Threshold"], {"Ref": "AccountLockedAlarmThreshold"})
        self.assertNotIn("Dimensions", locked)
        self.assertEqual(int(self.t["Parameters"]["AccountLockedAlarmThreshold"]["Default"]), 20)
        dependency = self.alarm("ChangePassword", "DependencyFailure")
        self.assertEqual(dependency["Statistic"], "Sum")
        self.assertEqual(dependency["Threshold"], 5)
        self.assertNotIn("Dimensions", dependency)
        self.assertEqual(self.t["Parameters"]["AlarmTopicArn"]["Default"], "")

    def test_internal_error_alarm_and_its_metric_filter(self):
        internal = self.alarm("ChangePassword", "InternalError")
        self.assertEqual(internal["Statistic"], "Sum")
        self.assertEqual(internal["Threshold"], 0)
        self.assertNotIn("Dimensions", internal)
        filters = by_type(self.t, "AWS::Logs::MetricFilter")
        self.assertEqual(list(filters), ["InternalErrorMetricFilter"])
        props = filters["InternalErrorMetricFilter"]["Properties"]
        self.assertEqual(props["LogGroupName"], {"Ref": "ChangePasswordLogGroup"})
        self.assertEqual(props["FilterPattern"],
                         '{ ($.target = "change_password::request") && ($.status = 500) }')
        self.assertEqual(props["MetricTransformations"], [{
            "MetricNamespace": "ChangePassword", "MetricName": "InternalError",
            "MetricValue": "1", "Unit": "Count"}])
        # The fields the pattern reads are those of the function's request log line
        # (tracing's JSON: the target, and the `status` field of that event).
        handler = HANDLER_RS.read_text()
        self.assertIn('target: "change_password::request"', handler)
        self.assertRegex(handler, r'target: "change_password::request",\s+request_id = %trace_id,\s+status,')
        self.assertIn(".with_target(true)", (ROOT / "src" / "logging.rs").read_text())

    # -- limits (issue 11, point 7) ------------------------------------------------------------

    def test_reserved_concurrency_parameter(self):
        param = self.t["Parameters"]["ReservedConcurrentExecutions"]
        self.assertEqual(param["Type"], "Number")
        self.assertEqual(int(param["Default"]), 100)
        self.assertEqual(int(param["MinValue"]), -1)
        self.assertEqual(self.t["Conditions"]["HasReservedConcurrency"],
                         {"Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrentExecutions"}, "-1"]}]})
        self.assertEqual(self.fn["ReservedConcurrentExecutions"], {"Fn::If": [
            "HasReservedConcurrency", {"Ref": "ReservedConcurrentExecutions"}, NO_VALUE]})
        self.assertTrue(Evaluator(self.t).condition("HasReservedConcurrency"))
        self.assertFalse(Evaluator(self.t, ReservedConcurrentExecutions=-1).condition("HasReservedConcurrency"))
        self.assertTrue(Evaluator(self.t, ReservedConcurrentExecutions=0).condition("HasReservedConcurrency"))

    def test_stage_throttling(self):
        params = self.t["Parameters"]
        rate, burst = params["ApiThrottlingRateLimit"], params["ApiThrottlingBurstLimit"]
        self.assertEqual((rate["Type"], int(rate["Default"])), ("Number", 100))
        self.assertEqual((burst["Type"], int(burst["Default"])), ("Number", 100))
        # No more requests at once than the reserved concurrency runs.
        self.assertLessEqual(int(burst["Default"]), int(params["ReservedConcurrentExecutions"]["Default"]))
        expected = {"ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
                    "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"}}
        http = self.res["HttpApiStage"]["Properties"]["DefaultRouteSettings"]
        self.assertEqual({k: http[k] for k in expected}, expected)
        settings = self.res["RestApi"]["Properties"]["MethodSettings"]
        self.assertEqual(len(settings), 1)
        self.assertEqual((settings[0]["ResourcePath"], settings[0]["HttpMethod"]), ("/*", "*"))
        self.assertEqual({k: settings[0][k] for k in expected}, expected)

    def test_function_url_is_documented_as_the_door_without_a_throttle(self):
        runbook = RUNBOOK.read_text()
        section = runbook[runbook.index("## Limits"):]
        for words in ("function URL", "no throttle", "ReservedConcurrentExecutions",
                      "CloudFront", "rate-based rule"):
            self.assertIn(words, section)

    # -- canary deployments (issue 15, point 1) ------------------------------------------------

    def test_canary_deployment_preference(self):
        self.assertEqual(self.fn["AutoPublishAlias"], ALIAS)
        self.assertIs(self.fn["AutoPublishAliasAllProperties"], True)
        preference = self.fn["DeploymentPreference"]
        self.assertEqual(preference["Type"], {"Ref": "DeploymentType"})
        self.assertEqual(preference["Role"], {"Fn::GetAtt": [DEPLOY_ROLE, "Arn"]})
        self.assertEqual(preference["Alarms"], [{"Ref": name} for name in ROLLBACK_ALARMS])
        self.assertNotIn("AccountLockedAlarm", json.dumps(preference))
        for name in ROLLBACK_ALARMS:
            self.assertEqual(self.res[name]["Type"], "AWS::CloudWatch::Alarm")
        param = self.t["Parameters"]["DeploymentType"]
        self.assertEqual(param["Default"], "Canary10Percent5Minutes")
        self.assertIn("AllAtOnce", param["AllowedValues"])
        # Only the predefined configurations SAM turns into CodeDeployDefault.Lambda<Type>.
        from samtranslator.model.preferences.deployment_preference_collection import (
            CODEDEPLOY_PREDEFINED_CONFIGURATIONS_LIST)
        self.assertLessEqual(set(param["AllowedValues"]), set(CODEDEPLOY_PREDEFINED_CONFIGURATIONS_LIST))

    def assert_deploy_role(self, role, function, alarms):
        props = self.res[role]["Properties"]
        for key in ("ManagedPolicyArns", "PermissionsBoundary"):
            self.assertNotIn(key, props)
        self.assertEqual(as_list(props["AssumeRolePolicyDocument"]["Statement"]), [{
            "Effect": "Allow", "Principal": {"Service": "codedeploy.amazonaws.com"},
            "Action": "sts:AssumeRole"}])
        function_arn = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${%s}" % function
        expected = [
            (None, ["lambda:GetAlias", "lambda:GetProvisionedConcurrencyConfig", "lambda:UpdateAlias"],
             [{"Fn::Sub": function_arn}, {"Fn::Sub": function_arn + ":*"}]),
            # Exactly the rollback alarms, by ARN.
            (None, ["cloudwatch:DescribeAlarms"], [{"Fn::GetAtt": [name, "Arn"]} for name in alarms]),
        ]
        self.assertEqual(statement_summary(self, self.res[role]), expected)

    def test_deploy_role_is_least_privilege(self):
        self.assert_deploy_role(DEPLOY_ROLE, FUNCTION, ROLLBACK_ALARMS)

    # The function-level properties that are not part of a version's configuration.
    FUNCTION_LEVEL = {"VersionDescription", "DeploymentPreference", "AutoPublishAlias",
                      "AutoPublishAliasAllProperties", "ReservedConcurrentExecutions"}

    def assert_version_description_follows_the_configuration(self, function, longest_values, variations,
                                                             extras, min_changes):
        # SAM hashes the function's properties with their Refs unresolved: a new parameter value
        # alone publishes no version, and the alias keeps the old configuration. The version's
        # description spells those values out, so a new one replaces the version.
        fn = self.res[function]["Properties"]

        def version(**overrides):
            ev = Evaluator(self.t, **overrides)
            config = {k: ev.value(v) for k, v in fn.items() if k not in self.FUNCTION_LEVEL}
            return config, ev.value(fn["VersionDescription"])

        # Lambda refuses a version description over 256 characters: realistic long values fit.
        _, longest = version(**longest_values)
        self.assertLessEqual(len(longest), 256, longest)
        changed_config = 0
        for name, value in variations.items():
            for extra in extras:
                with self.subTest(function=function, parameter=name, **extra):
                    before = version(**extra)
                    after = version(**{**extra, name: value})
                    self.assertEqual(after[0] != before[0], after[1] != before[1])
                    changed_config += after[0] != before[0]
        self.assertGreaterEqual(changed_config, min_changes)
        # The parameters that shape the version are all in this test.
        refs = {t for _, kind, t in iter_references({k: v for k, v in fn.items()
                                                     if k not in self.FUNCTION_LEVEL})}
        conditions = {t for t in refs if t in self.t["Conditions"]}
        while conditions:
            cond = conditions.pop()
            found = {t for _, _, t in iter_references(self.t["Conditions"][cond])}
            conditions |= {t for t in found - refs if t in self.t["Conditions"]}
            refs |= found
        self.assertLessEqual(refs & set(self.t["Parameters"]), set(variations))

    LONGEST_VALUES = dict(
        EnableFunctionUrl="true", EnableTracing="true", LogLevel="DEBUG",
        ExistingUsersTableName="workspace-users-production",
        PepperSecretArn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:change-password/pepper-AbCdEf",
        CognitoUserPoolId="eu-west-1_AbCdEf123", RevokeRefreshTokensOnChange="true",
        CognitoAppClientIds="1example23456789abcdefghij,2example23456789abcdefghij",
        BreachedPasswordCheck="hibp", BreachedPasswordFail="closed", MaxAuthAgeSeconds=86400,
        KmsKeyArn="arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab")
    VARIATIONS = {
        "PasswordMinLength": 14, "LogLevel": "DEBUG", "EnableTracing": "true",
        "ExistingUsersTableName": "users-prod",
        "PepperSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pepper-AbCdEf",
        "EnableFunctionUrl": "true", "CognitoUserPoolId": "eu-west-1_Other",
        "CognitoAppClientIds": "client3", "EnableHttpApi": "false", "EnableRestApi": "true",
        "ReservedConcurrentExecutions": 10, "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:t",
        "DeploymentType": "AllAtOnce", "CorsAllowedOrigins": "https://app.example.com",
        "RevokeRefreshTokensOnChange": "true",
        "ExistingUsersTableStreamArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/users-prod/stream/2026-01-01T00:00:00.000",
        "SecurityEventBusArn": "arn:aws:events:eu-west-1:123456789012:event-bus/security",
        "BreachedPasswordCheck": "off", "BreachedPasswordFail": "closed", "MaxAuthAgeSeconds": 300,
        "AlbListenerArn": ALB_LISTENER_ARN, "KmsKeyArn": KMS_KEY_ARN,
        "TracesCollectorLayerArn": OWN_LAYER_ARN,
    }

    def test_version_description_changes_exactly_when_the_version_configuration_does(self):
        # With tracing on (and the default layer, or none) the layer parameter changes the
        # configuration too; with it off, nothing.
        self.assert_version_description_follows_the_configuration(
            FUNCTION, self.LONGEST_VALUES, self.VARIATIONS,
            extras=({}, {"EnableFunctionUrl": "true"}, {"RevokeRefreshTokensOnChange": "true"},
                    {"MaxAuthAgeSeconds": 0}, {"EnableTracing": "true"},
                    {"EnableTracing": "true", "TracesCollectorLayerArn": ""}),
            min_changes=15)

    # -- issue 13: token-authorizer ------------------------------------------------------------

    def test_token_authorizer_function(self):
        fn = self.res[AUTHORIZER]
        self.assertEqual(fn["Type"], "AWS::Serverless::Function")
        self.assertEqual(build_metadata(fn), {"BuildMethod": "rust-cargolambda",
                                              "BuildProperties": {"Binary": "token-authorizer"}})
        props = fn["Properties"]
        for key in ("CodeUri", "Handler", "Runtime", "Architectures", "Tracing",
                    "AutoPublishAlias", "AutoPublishAliasAllProperties"):
            self.assertEqual(props[key], self.fn[key], key)
        self.assertEqual((props["MemorySize"], props["Timeout"]), (256, 5))
        self.assertEqual(props["Role"], {"Fn::GetAtt": [AUTHORIZER_ROLE, "Arn"]})
        self.assertNotIn("Policies", props)
        self.assertNotIn("ReservedConcurrentExecutions", props, "every API behind it needs it")
        self.assertEqual(props["LoggingConfig"], {**self.fn["LoggingConfig"], "LogGroup": {"Ref": "TokenAuthorizerLogGroup"}})
        group = self.res["TokenAuthorizerLogGroup"]
        self.assertEqual((group["Type"], group["DeletionPolicy"]), ("AWS::Logs::LogGroup", "Retain"))
        self.assertEqual(group["Properties"]["RetentionInDays"], {"Ref": "LogRetentionDays"})
        # The same table and Cognito issuer and clients as the function; it always verifies the
        # token itself, so the issuer and audience are always set.
        env = props["Environment"]["Variables"]
        self.assertEqual(env, {
            "USERS_TABLE": self.env["USERS_TABLE"],
            "JWT_ISSUER": {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${CognitoUserPoolId}"},
            "JWT_AUDIENCE": {"Fn::Join": [",", {"Ref": "CognitoAppClientIds"}]},
        })
        self.assertLessEqual(set(env), set(AUTHORIZER_VARIABLES))

    def test_token_authorizer_role_is_least_privilege(self):
        role = self.res[AUTHORIZER_ROLE]
        self.assertEqual(as_list(role["Properties"]["AssumeRolePolicyDocument"]["Statement"]), [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}])
        log_group = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${TokenAuthorizerLogGroup}"
        expected = [
            # It reads the marker: GetItem, on the users table only; nothing that writes.
            (None, ["dynamodb:GetItem"], [TABLE_ARN]),
            (None, ["logs:CreateLogStream", "logs:PutLogEvents"],
             [{"Fn::Sub": log_group}, {"Fn::Sub": log_group + ":*"}]),
            ("TracingEnabled", XRAY_ACTIONS, ["*"]),
            KMS_DECRYPT,
        ]
        actual = statement_summary(self, role, allowed_conditions=("UsersTableRead",))
        self.assertEqual(sorted(actual, key=repr), sorted(expected, key=repr))
        actions = {a for _, acts, _ in actual for a in acts}
        for forbidden in ("dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
                          "dynamodb:Query", "dynamodb:Scan", "secretsmanager:GetSecretValue"):
            self.assertNotIn(forbidden, actions)
        # The read is limited to the key and the marker: never a password hash.
        read = next(s for _, s in policy_statements(role) if s.get("Sid") == "UsersTableRead")
        self.assertEqual(read["Condition"], {
            "ForAllValues:StringEquals": {
                "dynamodb:Attributes": ["UserId", "TokensValidAfter", "PasswordChangeSession"]},
            "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}})
        # Exactly the key and the projection of its GetItem (MarkerSource::marker).
        self.assertEqual(marker_projection(), set(read["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]))

    def test_token_authorizer_canary_and_output(self):
        props = self.res[AUTHORIZER]["Properties"]
        preference = props["DeploymentPreference"]
        self.assertEqual(preference["Type"], {"Ref": "DeploymentType"})
        self.assertEqual(preference["Role"], {"Fn::GetAtt": [AUTHORIZER_DEPLOY_ROLE, "Arn"]})
        self.assertEqual(preference["Alarms"], [{"Ref": name} for name in AUTHORIZER_ROLLBACK_ALARMS])
        self.assert_deploy_role(AUTHORIZER_DEPLOY_ROLE, AUTHORIZER, AUTHORIZER_ROLLBACK_ALARMS)
        # Other APIs invoke the alias, which the output gives.
        self.assertEqual(self.t["Outputs"]["TokenAuthorizerArn"]["Value"], AUTHORIZER_ALIAS_REF)
        self.assertEqual(self.t["Outputs"]["TokenAuthorizerLogGroupName"]["Value"], {"Ref": "TokenAuthorizerLogGroup"})
        # This stack grants no one the right to invoke it: each API that adopts it adds its own
        # permission (docs/operations.md).
        for permission in by_type(self.t, "AWS::Lambda::Permission").values():
            self.assertNotEqual(permission["Properties"]["FunctionName"], AUTHORIZER_ALIAS_REF)

    def test_token_authorizer_version_description_follows_its_configuration(self):
        self.assert_version_description_follows_the_configuration(
            AUTHORIZER, self.LONGEST_VALUES, self.VARIATIONS, extras=({},), min_changes=5)

    # -- issue 13: refresh tokens --------------------------------------------------------------

    def test_refresh_tokens_are_revoked_only_when_opted_in(self):
        param = self.t["Parameters"]["RevokeRefreshTokensOnChange"]
        self.assertEqual((param["Default"], sorted(param["AllowedValues"])), ("false", ["false", "true"]))
        self.assertEqual(self.t["Conditions"]["RevokeRefreshTokens"],
                         {"Fn::Equals": [{"Ref": "RevokeRefreshTokensOnChange"}, "true"]})
        self.assertEqual(self.env["COGNITO_USER_POOL_ID"],
                         {"Fn::If": ["RevokeRefreshTokens", {"Ref": "CognitoUserPoolId"}, NO_VALUE]})
        pool = {"CognitoUserPoolId": "eu-west-1_AbCdEf123"}
        off = Evaluator(self.t, **pool).value(self.fn["Environment"]["Variables"])
        on = Evaluator(self.t, RevokeRefreshTokensOnChange="true", **pool).value(self.fn["Environment"]["Variables"])
        self.assertNotIn("COGNITO_USER_POOL_ID", off)
        self.assertEqual(on["COGNITO_USER_POOL_ID"], "eu-west-1_AbCdEf123")
        self.assertEqual(set(on) - set(off), {"COGNITO_USER_POOL_ID"})
        # The role's statement exists under the same condition only, on that pool only
        # (test_policy_statements_are_exactly_least_privilege); the authorizer never gets it.
        statements = [(c, s) for c, s in self.statements() if "cognito-idp:AdminUserGlobalSignOut" in as_list(s["Action"])]
        self.assertEqual([(c, s["Resource"]) for c, s in statements], [("RevokeRefreshTokens", USER_POOL_ARN)])
        self.assertNotIn("cognito-idp", json.dumps(self.res[AUTHORIZER_ROLE]))
        self.assertNotIn("COGNITO_USER_POOL_ID", self.res[AUTHORIZER]["Properties"]["Environment"]["Variables"])

    # -- issue 13: the security event -----------------------------------------------------------

    def test_table_stream_feeds_the_pipe(self):
        self.assertEqual(self.res["UsersTable"]["Properties"]["StreamSpecification"],
                         {"StreamViewType": "NEW_AND_OLD_IMAGES"})
        pipe = self.res[PIPE]
        self.assertEqual(pipe["Type"], "AWS::Pipes::Pipe")
        self.assertNotIn("Condition", pipe)
        self.assertEqual(pipe["Properties"]["Source"], STREAM_ARN)
        # An existing table brings its stream, and only an existing table (Rules).
        param = self.t["Parameters"]["ExistingUsersTableStreamArn"]
        self.assertEqual(param["Default"], "")
        self.assertRegex("arn:aws:dynamodb:eu-west-1:123456789012:table/users/stream/2026-01-01T00:00:00.000",
                         param["AllowedPattern"])
        self.assertEqual(self.t["Conditions"]["ExistingTableStream"],
                         {"Fn::Not": [{"Fn::Equals": [{"Ref": "ExistingUsersTableStreamArn"}, ""]}]})
        rules = self.t["Rules"]
        self.assertEqual(rules["ExistingTableNeedsItsStream"]["RuleCondition"],
                         {"Fn::Not": [{"Fn::Equals": [{"Ref": "ExistingUsersTableName"}, ""]}]})
        self.assertEqual([a["Assert"] for a in rules["ExistingTableNeedsItsStream"]["Assertions"]],
                         [{"Fn::Not": [{"Fn::Equals": [{"Ref": "ExistingUsersTableStreamArn"}, ""]}]}])
        self.assertEqual(rules["StreamOnlyWithAnExistingTable"]["RuleCondition"],
                         {"Fn::Equals": [{"Ref": "ExistingUsersTableName"}, ""]})
        self.assertEqual([a["Assert"] for a in rules["StreamOnlyWithAnExistingTable"]["Assertions"]],
                         [{"Fn::Equals": [{"Ref": "ExistingUsersTableStreamArn"}, ""]}])
        stream = "arn:aws:dynamodb:eu-west-1:123456789012:table/users/stream/2026-01-01T00:00:00.000"
        self.assertEqual(Evaluator(self.t).value(STREAM_ARN), "<UsersTable.StreamArn>")
        self.assertEqual(Evaluator(self.t, ExistingUsersTableName="users",
                                   ExistingUsersTableStreamArn=stream).value(STREAM_ARN), stream)

    def test_pipe_source_filter_and_target(self):
        props = self.res[PIPE]["Properties"]
        source = props["SourceParameters"]["DynamoDBStreamParameters"]
        self.assertEqual(source["StartingPosition"], "LATEST")
        self.assertLessEqual(source["BatchSize"], 10)
        self.assertGreater(source["MaximumRetryAttempts"], 0)
        self.assertEqual(source["DeadLetterConfig"], {"Arn": {"Fn::GetAtt": [DEAD_LETTER_QUEUE, "Arn"]}})
        queue = self.res[DEAD_LETTER_QUEUE]
        self.assertEqual(queue["Type"], "AWS::SQS::Queue")
        # SQS managed SSE, or the customer key of KmsKeyArn (test_customer_key_encrypts_everything).
        self.assertEqual(queue["Properties"]["SqsManagedSseEnabled"], {"Fn::If": ["HasKmsKey", NO_VALUE, True]})
        # The enrichment builds the events (test_pipe_enrichment_builds_the_detail).
        self.assertEqual(props["Enrichment"], {"Fn::GetAtt": [ENRICHMENT, "Arn"]})
        # One filter: a MODIFY or INSERT whose new image has the marker only the change sets.
        filters = props["SourceParameters"]["FilterCriteria"]["Filters"]
        self.assertEqual([json.loads(f["Pattern"]) for f in filters], [{
            "eventName": ["MODIFY", "INSERT"],
            "dynamodb": {"NewImage": {"PasswordChangeEvent": {"N": [{"exists": True}]}}}}])
        self.assertEqual(props["Target"], BUS_ARN)
        self.assertEqual(props["TargetParameters"]["EventBridgeEventBusParameters"],
                         {"Source": "change-password", "DetailType": "Password Changed"})

    def test_pipe_enrichment_builds_the_detail(self):
        # Issue 19: no input template (it cannot turn the stream's string numbers into JSON
        # numbers); the enrichment's output elements are the events' details.
        props = self.res[PIPE]["Properties"]
        self.assertEqual(props["Enrichment"], {"Fn::GetAtt": [ENRICHMENT, "Arn"]})
        self.assertNotIn("EnrichmentParameters", props)
        self.assertEqual(props["TargetParameters"], {"EventBridgeEventBusParameters": {
            "Source": "change-password", "DetailType": "Password Changed"}})
        self.assertNotIn("InputTemplate", json.dumps(self.res[PIPE]))
        self.assertEqual(self.res[ENRICHMENT]["Type"], "AWS::Serverless::Function")

    def test_security_event_function(self):
        fn = self.res[ENRICHMENT]
        self.assertNotIn("Condition", fn)
        self.assertEqual(build_metadata(fn), {"BuildMethod": "rust-cargolambda",
                                              "BuildProperties": {"Binary": "security-event"}})
        props = fn["Properties"]
        for key in ("CodeUri", "Handler", "Runtime", "Architectures", "Tracing"):
            self.assertEqual(props[key], self.fn[key], key)
        self.assertEqual((props["MemorySize"], props["Timeout"]), (128, 10))
        self.assertEqual(props["Role"], {"Fn::GetAtt": [ENRICHMENT_ROLE, "Arn"]})
        self.assertNotIn("Policies", props)
        # The pipe invokes the function itself: no alias, hence no version to keep in step.
        for key in ("AutoPublishAlias", "DeploymentPreference", "VersionDescription", "Events"):
            self.assertNotIn(key, props)
        self.assertEqual(props["LoggingConfig"], {**self.fn["LoggingConfig"], "LogGroup": {"Ref": "SecurityEventLogGroup"}})
        group = self.res["SecurityEventLogGroup"]
        self.assertEqual((group["Type"], group["DeletionPolicy"], group["UpdateReplacePolicy"]),
                         ("AWS::Logs::LogGroup", "Retain", "Retain"))
        self.assertEqual(group["Properties"]["RetentionInDays"], {"Ref": "LogRetentionDays"})
        env = props["Environment"]["Variables"]
        self.assertEqual(env, {"SECURITY_EVENT_ISSUER": {"Fn::If": [
            "HasSecurityEventIssuer", {"Ref": "SecurityEventIssuer"}, {"Fn::Sub": DEFAULT_ISSUER}]}})
        self.assertEqual(self.t["Conditions"]["HasSecurityEventIssuer"],
                         {"Fn::Not": [{"Fn::Equals": [{"Ref": "SecurityEventIssuer"}, ""]}]})
        self.assertEqual(Evaluator(self.t).value(env),
                         {"SECURITY_EVENT_ISSUER": "urn:change-password:eu-west-1:123456789012:change-password"})
        given = "https://accounts.example.com"
        self.assertEqual(Evaluator(self.t, SecurityEventIssuer=given).value(env), {"SECURITY_EVENT_ISSUER": given})
        # Receivers learn the issuer from the stack's output.
        self.assertEqual(self.t["Outputs"]["SecurityEventIssuer"]["Value"], env["SECURITY_EVENT_ISSUER"])
        self.assertEqual(self.t["Outputs"]["SecurityEventLogGroupName"]["Value"], {"Ref": "SecurityEventLogGroup"})
        # The parameter: empty, a string without a colon, or a URI (RFC 8417's StringOrURI, as
        # security-event checks it).
        param = self.t["Parameters"]["SecurityEventIssuer"]
        self.assertEqual(param["Default"], "")
        for good in ("", given, "urn:example:accounts", "accounts-example"):
            self.assertRegex(good, param["AllowedPattern"])
        for bad in ("https://accounts.example.com/ x", "accounts example", ":no-scheme", "1http://x"):
            self.assertNotRegex(bad, param["AllowedPattern"])

    def test_security_event_role_may_only_write_its_logs(self):
        role = self.res[ENRICHMENT_ROLE]
        props = role["Properties"]
        for key in ("ManagedPolicyArns", "PermissionsBoundary"):
            self.assertNotIn(key, props)
        self.assertEqual(as_list(props["AssumeRolePolicyDocument"]["Statement"]), [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}])
        log_group = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${SecurityEventLogGroup}"
        expected = [
            (None, ["logs:CreateLogStream", "logs:PutLogEvents"],
             [{"Fn::Sub": log_group}, {"Fn::Sub": log_group + ":*"}]),
            ("TracingEnabled", XRAY_ACTIONS, ["*"]),
            KMS_DECRYPT,
        ]
        self.assertEqual(statement_summary(self, role), expected)
        text = json.dumps(role)
        for service in ("dynamodb:", "ses:", "sqs:", "events:", "secretsmanager:", "lambda:"):
            self.assertNotIn(service, text)

    def test_pipe_role_is_least_privilege(self):
        role = self.res[PIPE_ROLE]
        props = role["Properties"]
        for key in ("ManagedPolicyArns", "PermissionsBoundary"):
            self.assertNotIn(key, props)
        self.assertEqual(props["AssumeRolePolicyDocument"]["Statement"], [{
            "Effect": "Allow", "Principal": {"Service": "pipes.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}])
        self.assertEqual(self.res[PIPE]["Properties"]["RoleArn"], {"Fn::GetAtt": [PIPE_ROLE, "Arn"]})
        expected = [
            (None, ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams"], [STREAM_ARN]),
            # The enrichment, and no other function.
            (None, ["lambda:InvokeFunction"], [{"Fn::GetAtt": [ENRICHMENT, "Arn"]}]),
            (None, ["events:PutEvents"], [BUS_ARN]),
            (None, ["sqs:SendMessage"], [{"Fn::GetAtt": [DEAD_LETTER_QUEUE, "Arn"]}]),
            # KmsKeyArn: the dead-letter queue, encrypted with the customer key.
            KMS_DECRYPT_AND_SEND,
        ]
        self.assertEqual(statement_summary(self, role), expected)
        # The pipe invokes exactly what its role allows (the unqualified function).
        self.assertEqual(self.res[PIPE]["Properties"]["Enrichment"], expected[1][2][0])

    def test_security_event_bus_is_created_unless_one_is_given(self):
        param = self.t["Parameters"]["SecurityEventBusArn"]
        self.assertEqual(param["Default"], "")
        self.assertRegex("arn:aws:events:eu-west-1:123456789012:event-bus/workspace-security", param["AllowedPattern"])
        self.assertEqual(self.t["Conditions"]["CreateSecurityEventBus"],
                         {"Fn::Equals": [{"Ref": "SecurityEventBusArn"}, ""]})
        bus = self.res[EVENT_BUS]
        self.assertEqual((bus["Type"], bus["Condition"]), ("AWS::Events::EventBus", "CreateSecurityEventBus"))
        given = "arn:aws:events:eu-west-1:123456789012:event-bus/workspace-security"
        self.assertEqual(Evaluator(self.t).value(BUS_ARN), "<SecurityEventBus.Arn>")
        self.assertEqual(Evaluator(self.t, SecurityEventBusArn=given).value(BUS_ARN), given)
        outputs = self.t["Outputs"]
        self.assertEqual(outputs["SecurityEventBusArn"]["Value"], BUS_ARN)
        self.assertEqual(outputs["SecurityEventPipeName"]["Value"], {"Ref": PIPE})
        self.assertEqual(outputs["SecurityEventDeadLetterQueueUrl"]["Value"], {"Ref": DEAD_LETTER_QUEUE})

    def test_issue_13_alarms(self):
        for metric, threshold in (("GlobalSignOutFailed", 0), ("AuthorizerUnavailable", 0)):
            props = self.alarm("ChangePassword", metric)
            self.assertEqual((props["Statistic"], props["Threshold"]), ("Sum", threshold), metric)
            self.assertNotIn("Dimensions", props)
        self.assertEqual(self.res["GlobalSignOutFailedAlarm"]["Properties"]["MetricName"], "GlobalSignOutFailed")
        self.assertEqual(self.res["AuthorizerUnavailableAlarm"]["Properties"]["MetricName"], "AuthorizerUnavailable")
        # Not a rollback alarm of the function: the change succeeded, Cognito drives the failures.
        self.assertNotIn("GlobalSignOutFailedAlarm", json.dumps(self.fn["DeploymentPreference"]))
        pipe = self.alarm("AWS/EventBridge/Pipes", "ExecutionFailed")
        self.assertEqual(pipe["Dimensions"], [{"Name": "PipeName", "Value": {"Ref": PIPE}}])
        self.assertEqual((pipe["Statistic"], pipe["Threshold"]), ("Sum", 0))
        dead = self.alarm("AWS/SQS", "ApproximateNumberOfMessagesVisible", dimensions=[
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [DEAD_LETTER_QUEUE, "QueueName"]}}])
        self.assertEqual((dead["Statistic"], dead["Threshold"]), ("Maximum", 0))
        self.assertNotIn("Condition", self.res["SecurityEventDeadLetterAlarm"])
        # The enrichment's failures (the pipe retries the batch).
        enrichment = self.alarm("AWS/Lambda", "Errors", ENRICHMENT)
        self.assertEqual((enrichment["Statistic"], enrichment["Threshold"]), ("Sum", 0))
        self.assertNotIn("Condition", self.res["SecurityEventErrorsAlarm"])

    # -- issue 19: change-notice ----------------------------------------------------------------

    def test_notice_parameters_rules_and_condition(self):
        params = self.t["Parameters"]
        for name in ("NoticeFrom", "NoticeHelpUrl", "NoticeContact"):
            self.assertEqual((params[name]["Type"], params[name]["Default"]), ("String", ""), name)
        self.assertEqual(self.t["Conditions"]["SendNotices"],
                         {"Fn::Not": [{"Fn::Equals": [{"Ref": "NoticeFrom"}, ""]}]})
        # A plain address (change-notice refuses a display name), and nothing else.
        sender = params["NoticeFrom"]["AllowedPattern"]
        for good in ("", NOTICE_VALUES["NoticeFrom"], "security+notices@mail.example.co.uk"):
            self.assertRegex(good, sender)
        for bad in ("Security <no-reply@example.com>", "no-reply@example", "a@b@example.com",
                    "no reply@example.com", "example.com", "no-reply@example.com "):
            self.assertNotRegex(bad, sender)
        help_url = params["NoticeHelpUrl"]["AllowedPattern"]
        for good in ("", NOTICE_VALUES["NoticeHelpUrl"]):
            self.assertRegex(good, help_url)
        for bad in ("http://help.example.com", "help.example.com", "https://help.example.com/a b"):
            self.assertNotRegex(bad, help_url)
        contact = params["NoticeContact"]["AllowedPattern"]
        self.assertRegex(NOTICE_VALUES["NoticeContact"], contact)
        self.assertNotRegex("security@example.com\nEvil: header", contact)
        # Help and contact go with a sender, and only with one.
        rules = self.t["Rules"]
        sender_set = {"Fn::Not": [{"Fn::Equals": [{"Ref": "NoticeFrom"}, ""]}]}
        self.assertEqual(rules["NoticesNeedHelpAndContact"]["RuleCondition"], sender_set)
        self.assertEqual([a["Assert"] for a in rules["NoticesNeedHelpAndContact"]["Assertions"]], [
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "NoticeHelpUrl"}, ""]}]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "NoticeContact"}, ""]}]}])
        self.assertEqual(rules["NoticeSettingsOnlyWithASender"]["RuleCondition"],
                         {"Fn::Equals": [{"Ref": "NoticeFrom"}, ""]})
        self.assertEqual([a["Assert"] for a in rules["NoticeSettingsOnlyWithASender"]["Assertions"]], [
            {"Fn::And": [{"Fn::Equals": [{"Ref": "NoticeHelpUrl"}, ""]},
                         {"Fn::Equals": [{"Ref": "NoticeContact"}, ""]}]}])

    def test_notice_resources_only_with_a_sender(self):
        for name in NOTICE_RESOURCES:
            self.assertEqual(self.res[name].get("Condition"), "SendNotices", name)
        # Nothing else depends on the condition but the dashboard's notice row and the outputs.
        conditional = sorted(k for k, v in self.res.items() if v.get("Condition") == "SendNotices")
        self.assertEqual(conditional, NOTICE_RESOURCES)
        for extra in ({}, {"SecurityEventBusArn": "arn:aws:events:eu-west-1:123456789012:event-bus/security"},
                      {"ExistingUsersTableName": "users", "ExistingUsersTableStreamArn":
                       "arn:aws:dynamodb:eu-west-1:123456789012:table/users/stream/2026-01-01T00:00:00.000"}):
            with self.subTest(**extra):
                without = deployed(self.t, **extra)
                with_notices = deployed(self.t, **NOTICE_VALUES, **extra)
                self.assertEqual(sorted(set(with_notices) - set(without)), NOTICE_RESOURCES)
                self.assertEqual(set(without) - set(with_notices), set())
        for name in ("ChangeNoticeLogGroupName", "ChangeNoticeDeadLetterQueueUrl"):
            self.assertEqual(self.t["Outputs"][name]["Condition"], "SendNotices", name)
        self.assertEqual(self.t["Outputs"]["ChangeNoticeLogGroupName"]["Value"], {"Ref": "ChangeNoticeLogGroup"})
        self.assertEqual(self.t["Outputs"]["ChangeNoticeDeadLetterQueueUrl"]["Value"], {"Ref": NOTICE_QUEUE})

    def test_notice_function(self):
        fn = self.res[NOTICE_FUNCTION]
        self.assertEqual(fn["Type"], "AWS::Serverless::Function")
        self.assertEqual(build_metadata(fn), {"BuildMethod": "rust-cargolambda",
                                              "BuildProperties": {"Binary": "change-notice"}})
        props = fn["Properties"]
        for key in ("CodeUri", "Handler", "Runtime", "Architectures", "Tracing"):
            self.assertEqual(props[key], self.fn[key], key)
        self.assertEqual((props["MemorySize"], props["Timeout"]), (256, 30))
        self.assertEqual(props["Role"], {"Fn::GetAtt": [NOTICE_ROLE, "Arn"]})
        # The rule invokes the function itself ($LATEST): no alias, no event SAM would wire.
        for key in ("Policies", "AutoPublishAlias", "DeploymentPreference", "VersionDescription", "Events",
                    "EventInvokeConfig"):
            self.assertNotIn(key, props)
        self.assertEqual(props["LoggingConfig"], {**self.fn["LoggingConfig"], "LogGroup": {"Ref": "ChangeNoticeLogGroup"}})
        group = self.res["ChangeNoticeLogGroup"]
        self.assertEqual((group["Type"], group["DeletionPolicy"], group["UpdateReplacePolicy"]),
                         ("AWS::Logs::LogGroup", "Retain", "Retain"))
        self.assertEqual(group["Properties"]["RetentionInDays"], {"Ref": "LogRetentionDays"})
        env = props["Environment"]["Variables"]
        self.assertEqual(env, {"USERS_TABLE": self.env["USERS_TABLE"], "NOTICE_FROM": {"Ref": "NoticeFrom"},
                               "NOTICE_HELP_URL": {"Ref": "NoticeHelpUrl"}, "NOTICE_CONTACT": {"Ref": "NoticeContact"}})
        self.assertEqual(Evaluator(self.t, **NOTICE_VALUES).value(env), {
            "USERS_TABLE": "<UsersTable>", "NOTICE_FROM": NOTICE_VALUES["NoticeFrom"],
            "NOTICE_HELP_URL": NOTICE_VALUES["NoticeHelpUrl"], "NOTICE_CONTACT": NOTICE_VALUES["NoticeContact"]})

    def test_notice_role_is_least_privilege(self):
        role = self.res[NOTICE_ROLE]
        props = role["Properties"]
        for key in ("ManagedPolicyArns", "PermissionsBoundary"):
            self.assertNotIn(key, props)
        self.assertEqual(as_list(props["AssumeRolePolicyDocument"]["Statement"]), [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}])
        identity = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/"
        log_group = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${ChangeNoticeLogGroup}"
        expected = [
            # SendEmail from the sender's identity only: the address, or its domain.
            (None, ["ses:SendEmail"], [
                {"Fn::Sub": identity + "${NoticeFrom}"},
                {"Fn::Sub": [identity + "${Domain}",
                             {"Domain": {"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "NoticeFrom"}]}]}}]}]),
            # GetItem and UpdateItem on the users table, nothing that deletes, replaces or scans.
            (None, ["dynamodb:GetItem"], [TABLE_ARN]),
            (None, ["dynamodb:UpdateItem"], [TABLE_ARN]),
            # The dead-letter queue, where Lambda's on-failure destination sends with this role.
            (None, ["sqs:SendMessage"], [{"Fn::GetAtt": [NOTICE_QUEUE, "Arn"]}]),
            (None, ["logs:CreateLogStream", "logs:PutLogEvents"],
             [{"Fn::Sub": log_group}, {"Fn::Sub": log_group + ":*"}]),
            ("TracingEnabled", XRAY_ACTIONS, ["*"]),
            # KmsKeyArn: its environment, and its on-failure records sent to the queue.
            KMS_DECRYPT_AND_SEND,
        ]
        actual = statement_summary(
            self, role, allowed_conditions=("SendFromTheNoticeSender", "NoticeRead", "NoticeProgress"))
        self.assertEqual(actual, expected)
        statements = {s["Sid"]: s for _, s in policy_statements(role)}
        # With that From address only.
        self.assertEqual(statements["SendFromTheNoticeSender"]["Condition"],
                         {"StringEquals": {"ses:FromAddress": {"Ref": "NoticeFrom"}}})
        # Only the attributes it reads and writes (never a hash or a session), specific ones
        # on a read, and no item back from a write (AWS's documented pattern for attribute-level
        # access: dynamodb:Attributes, dynamodb:Select, dynamodb:ReturnValues).
        self.assertEqual(statements["NoticeRead"]["Condition"], {
            "ForAllValues:StringEquals": {"dynamodb:Attributes": NOTICE_READ_ATTRIBUTES},
            "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}})
        self.assertEqual(statements["NoticeProgress"]["Condition"], {
            "ForAllValues:StringEquals": {"dynamodb:Attributes": NOTICE_WRITE_ATTRIBUTES},
            "StringEqualsIfExists": {"dynamodb:ReturnValues": "NONE"}})
        for secret in ("PasswordHash", "PasswordHistory", "PasswordChangeSession", "TokensValidAfter"):
            self.assertNotIn(secret, json.dumps(role))
        # The attributes are those of change-notice's requests (moto does not check IAM, so
        # nothing else would catch a difference before AWS refuses): the key, its projection,
        # and the top-level names of its update and condition expressions (a nested path such
        # as NoticeDeliveries.Claims.#a counts as its first name).
        store = (ROOT / "src" / "aws" / "dynamodb_notices.rs").read_text()
        projection = re.search(r'pub const PROJECTION: &str = "([^"]+)";', store).group(1)
        used = {"UserId"} | set(projection.split(", "))
        expressions = re.findall(r'"((?:SET |REMOVE |attribute_|\(|NoticeDeliveries\.)[^"]*)"', store)
        self.assertGreaterEqual(len(expressions), 5)
        for expression in expressions:
            used |= {name for name in re.findall(r"(?<![.#:\w])([A-Z][A-Za-z]+)\b", expression)
                     if name not in ("SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT")}
        self.assertEqual(sorted(used), sorted(NOTICE_ATTRIBUTES))
        # Resolved for a sender: the address's identity and its domain's, that From only.
        ev = Evaluator(self.t, **NOTICE_VALUES)
        send = ev.value(statements["SendFromTheNoticeSender"])
        self.assertEqual(send["Resource"], [
            "arn:aws:ses:eu-west-1:123456789012:identity/no-reply@security.example.com",
            "arn:aws:ses:eu-west-1:123456789012:identity/security.example.com"])
        self.assertEqual(send["Condition"], {"StringEquals": {"ses:FromAddress": "no-reply@security.example.com"}})
        self.assertEqual(ev.value(statements["NoticeProgress"])["Resource"], "<UsersTable.Arn>")
        self.assertEqual(Evaluator(self.t, ExistingUsersTableName="users", **NOTICE_VALUES)
                         .value(statements["NoticeProgress"])["Resource"],
                         "arn:aws:dynamodb:eu-west-1:123456789012:table/users")

    def test_notice_rule_takes_the_password_changed_events_of_the_bus(self):
        rule = self.res[NOTICE_RULE]
        self.assertEqual(rule["Type"], "AWS::Events::Rule")
        props = rule["Properties"]
        # The bus the pipe puts the events on, created or given.
        self.assertEqual(props["EventBusName"], BUS_ARN)
        self.assertEqual(props["EventBusName"], self.res[PIPE]["Properties"]["Target"])
        self.assertEqual(props["State"], "ENABLED")
        self.assertEqual(props["EventPattern"], {"source": ["change-password"], "detail-type": ["Password Changed"]})
        target = self.res[PIPE]["Properties"]["TargetParameters"]["EventBridgeEventBusParameters"]
        sample = json.loads(SAMPLE_EVENT.read_text())
        self.assertEqual((sample["source"], sample["detail-type"]), (target["Source"], target["DetailType"]))
        self.assertTrue(pattern_matches(props["EventPattern"], sample))
        for other in (dict(sample, source="other"), dict(sample, **{"detail-type": "Password Reset"})):
            self.assertFalse(pattern_matches(props["EventPattern"], other))
        # One target: the function, retried while Lambda cannot take the event, then the
        # dead-letter queue.
        self.assertEqual(props["Targets"], [{
            "Id": "change-notice", "Arn": {"Fn::GetAtt": [NOTICE_FUNCTION, "Arn"]},
            "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
            "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [NOTICE_QUEUE, "Arn"]}}}])
        # EventBridge may invoke it, from this rule only.
        permissions = {k: v for k, v in by_type(self.t, "AWS::Lambda::Permission").items()
                       if v["Properties"]["Principal"] == "events.amazonaws.com"}
        self.assertEqual(list(permissions), ["ChangeNoticeInvokePermission"])
        self.assertEqual(permissions["ChangeNoticeInvokePermission"]["Properties"], {
            "Action": "lambda:InvokeFunction", "FunctionName": {"Fn::GetAtt": [NOTICE_FUNCTION, "Arn"]},
            "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": [NOTICE_RULE, "Arn"]}})
        given = "arn:aws:events:eu-west-1:123456789012:event-bus/security"
        self.assertEqual(Evaluator(self.t, SecurityEventBusArn=given, **NOTICE_VALUES).value(props["EventBusName"]), given)

    def test_notice_failures_are_retried_then_dead_lettered(self):
        config = self.res["ChangeNoticeInvokeConfig"]
        self.assertEqual(config["Type"], "AWS::Lambda::EventInvokeConfig")
        # $LATEST: what the rule invokes (the function has no alias).
        self.assertEqual(config["Properties"], {
            "FunctionName": {"Ref": NOTICE_FUNCTION}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [NOTICE_QUEUE, "Arn"]}}}})
        self.assertNotIn("AutoPublishAlias", self.res[NOTICE_FUNCTION]["Properties"])
        queue = self.res[NOTICE_QUEUE]
        self.assertEqual(queue["Type"], "AWS::SQS::Queue")
        self.assertEqual(queue["Properties"], {
            "SqsManagedSseEnabled": {"Fn::If": ["HasKmsKey", NO_VALUE, True]},
            "KmsMasterKeyId": KMS_KEY_IF_GIVEN, "MessageRetentionPeriod": 1209600})
        # The rule's dead letters come in under the queue's policy, from that rule only.
        policy = self.res["ChangeNoticeDeadLetterQueuePolicy"]
        self.assertEqual(policy["Type"], "AWS::SQS::QueuePolicy")
        self.assertEqual(policy["Properties"]["Queues"], [{"Ref": NOTICE_QUEUE}])
        self.assertEqual(policy["Properties"]["PolicyDocument"]["Statement"], [{
            "Sid": "RuleDeadLetters", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": [NOTICE_QUEUE, "Arn"]},
            "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [NOTICE_RULE, "Arn"]}}}}])
        # A dead letter raises an alarm, to the same topic as the pipe's.
        dead = self.alarm("AWS/SQS", "ApproximateNumberOfMessagesVisible", dimensions=[
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [NOTICE_QUEUE, "QueueName"]}}])
        self.assertEqual((dead["Statistic"], dead["Threshold"]), ("Maximum", 0))
        pipe_dead = self.res["SecurityEventDeadLetterAlarm"]["Properties"]
        self.assertEqual((dead["AlarmActions"], dead["OKActions"]), (pipe_dead["AlarmActions"], pipe_dead["OKActions"]))
        self.assertEqual(self.res["ChangeNoticeDeadLetterAlarm"]["Properties"], dead)
        # And a failed invocation (retried) its own, like every function's Errors.
        errors = self.alarm("AWS/Lambda", "Errors", NOTICE_FUNCTION)
        self.assertEqual((errors["Statistic"], errors["Threshold"]), ("Sum", 0))
        self.assertEqual(self.res["ChangeNoticeErrorsAlarm"]["Properties"], errors)

    # -- access logs (issue 15, point 3) -------------------------------------------------------

    def access_log_formats(self):
        http = self.res["HttpApiStage"]["Properties"]["AccessLogSettings"]
        rest = self.res["RestApi"]["Properties"]["AccessLogSetting"]
        self.assertEqual(http["DestinationArn"], {"Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]})
        self.assertEqual(rest["DestinationArn"], {"Fn::GetAtt": ["RestApiAccessLogGroup", "Arn"]})
        return {"HttpApi": http["Format"], "RestApi": rest["Format"]}

    def test_access_logs_never_carry_the_query_string_or_authorization(self):
        formats = self.access_log_formats()
        for api, fmt in formats.items():
            with self.subTest(api=api):
                self.assertIsInstance(fmt, str)
                self.assertEqual(access_log_problems(api, fmt), [])
        # Every stage with an access log is one of these two (no other format to check).
        stages = [k for k, v in self.res.items()
                  if "AccessLogSettings" in v["Properties"] or "AccessLogSetting" in v["Properties"]]
        self.assertEqual(sorted(stages), ["HttpApiStage", "RestApi"])
        # The REST stage writes no execution log, whose data trace holds whole requests.
        settings = self.res["RestApi"]["Properties"]["MethodSettings"][0]
        self.assertEqual(settings["LoggingLevel"], "OFF")
        self.assertIs(settings["DataTraceEnabled"], False)

    def test_access_log_check_catches_what_could_carry_a_token(self):
        fmt = self.access_log_formats()["RestApi"]
        for bad in ('"q":"$context.requestOverride.querystring.access_token"',
                    '"a":"$method.request.header.Authorization"', '"p":"$context.path"',
                    '"b":"$input.params(\'access_token\')"', '"k":"$context.identity.apiKey"',
                    '"u":"$context.domainName"'):
            with self.subTest(bad=bad):
                self.assertNotEqual(access_log_problems("RestApi", fmt[:-1] + "," + bad + "}"), [])
        self.assertNotEqual(access_log_problems("RestApi", fmt.replace('"sub"', '"caller"')), [])

    def test_access_log_groups(self):
        for name, condition in (("HttpApiAccessLogGroup", "HttpApiEnabled"),
                                ("RestApiAccessLogGroup", "RestApiEnabled")):
            group = self.res[name]
            self.assertEqual(group["Type"], "AWS::Logs::LogGroup")
            self.assertEqual(group.get("Condition"), condition)
            self.assertEqual(group["Properties"]["RetentionInDays"], {"Ref": "LogRetentionDays"})
            self.assertEqual(group["DeletionPolicy"], "Retain")
            self.assertEqual(group["UpdateReplacePolicy"], "Retain")

    # -- tracing (issue 15, point 4) -----------------------------------------------------------

    def test_tracing_is_a_parameter_off_by_default(self):
        param = self.t["Parameters"]["EnableTracing"]
        self.assertEqual(param["Default"], "false")
        self.assertEqual(sorted(param["AllowedValues"]), ["false", "true"])
        self.assertEqual(self.t["Conditions"]["TracingEnabled"],
                         {"Fn::Equals": [{"Ref": "EnableTracing"}, "true"]})
        self.assertEqual(self.fn["Tracing"], {"Fn::If": ["TracingEnabled", "Active", "PassThrough"]})
        self.assertEqual(self.res["RestApi"]["Properties"]["TracingEnabled"],
                         {"Fn::If": ["TracingEnabled", True, False]})
        # The role's X-Ray statement exists only with tracing (test_policy_statements_...).
        self.assertIn(("TracingEnabled", XRAY_ACTIONS),
                      [(c, sorted(as_list(s["Action"]))) for c, s in self.statements()])

    # -- traces on OpenTelemetry (issue 22) ----------------------------------------------------

    def traced(self, function, **values):
        """(resolved properties of `function`, [(sorted actions, resources)] of its role) for
        these parameter values (with a notice sender, so that change-notice's resources exist)."""
        ev = Evaluator(self.t, **{**NOTICE_VALUES, **values})
        props = ev.value(self.res[function]["Properties"])
        role = ev.value(self.res[FUNCTION_ROLES[function]]["Properties"])
        statements = [(sorted(as_list(s["Action"])), as_list(s["Resource"]))
                      for policy in role["Policies"] for s in as_list(policy["PolicyDocument"]["Statement"])]
        return props, statements

    def test_collector_layer_parameter(self):
        param = self.t["Parameters"]["TracesCollectorLayerArn"]
        self.assertEqual(param["Default"], "adot")
        pattern = re.compile(param["AllowedPattern"])
        for value in ("", "adot", ADOT_LAYER_ARN, OWN_LAYER_ARN,
                      "arn:aws-cn:lambda:cn-north-1:123456789012:layer:collector:12"):
            self.assertTrue(pattern.fullmatch(value), value)
        for value in ("none", "ADOT", " adot", "arn:aws:lambda:eu-west-1:123456789012:layer:collector",
                      "arn:aws:lambda:eu-west-1:123456789012:function:collector:1",
                      "arn:aws:lambda:eu-west-1:1234:layer:collector:1", "https://example.com/layer.zip"):
            self.assertFalse(pattern.fullmatch(value), value)
        self.assertEqual(self.t["Conditions"]["HasTracesCollector"], {"Fn::And": [
            {"Condition": "TracingEnabled"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "TracesCollectorLayerArn"}, ""]}]}]})
        self.assertEqual(self.t["Conditions"]["AdotTracesCollector"],
                         {"Fn::Equals": [{"Ref": "TracesCollectorLayerArn"}, "adot"]})
        # "adot" is AWS's ADOT collector for arm64 (the function's architecture), in the stack's
        # partition and region, from AWS's account.
        self.assertEqual(self.fn["Layers"], {"Fn::If": [
            "HasTracesCollector", [{"Fn::If": ["AdotTracesCollector", ADOT_LAYER, {"Ref": "TracesCollectorLayerArn"}]}],
            NO_VALUE]})
        self.assertEqual(self.fn["Architectures"], ["arm64"])
        self.assertIn("-arm64-", ADOT_LAYER["Fn::Sub"])
        group = next(g for g in self.t["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
                     if "EnableTracing" in g["Parameters"])
        self.assertIn("TracesCollectorLayerArn", group["Parameters"])

    def test_tracing_off_adds_no_layer_no_otel_variable_and_no_x_ray_write(self):
        # Whatever the layer parameter holds: no layer, no OTEL_* (the function builds no
        # exporter), Lambda's tracing only passed through, and no X-Ray action on any role.
        for layer in ("adot", OWN_LAYER_ARN, ""):
            for function in FUNCTION_ROLES:
                with self.subTest(function=function, TracesCollectorLayerArn=layer):
                    props, statements = self.traced(function, EnableTracing="false", TracesCollectorLayerArn=layer)
                    self.assertEqual(props["Tracing"], "PassThrough")
                    self.assertNotIn("Layers", props)
                    self.assertEqual([v for v in props["Environment"]["Variables"] if v.startswith("OTEL_")], [])
                    self.assertEqual([a for actions, _ in statements for a in actions if a.startswith("xray:")], [])
        ev = Evaluator(self.t, EnableTracing="false")
        self.assertIs(ev.value(self.res["RestApi"]["Properties"]["TracingEnabled"]), False)
        self.assertIn("xray=off", ev.value(self.fn["VersionDescription"]))

    def test_tracing_on_adds_the_adot_collector_to_change_password(self):
        props, statements = self.traced(FUNCTION, EnableTracing="true")
        # Lambda samples and says Sampled=1 (the function exports only those), and records its
        # own segments.
        self.assertEqual(props["Tracing"], "Active")
        self.assertEqual(props["Layers"], [ADOT_LAYER_ARN])
        otel = {k: v for k, v in props["Environment"]["Variables"].items() if k.startswith("OTEL_")}
        self.assertEqual(otel, {"OTEL_EXPORTER_OTLP_ENDPOINT": COLLECTOR_ENDPOINT,
                                "OTEL_SERVICE_NAME": "change-password"})
        self.assertEqual(sorted(otel), OTEL_VARIABLES)
        # The collector's awsxray exporter and Lambda's segments: the two writes, on "*" (X-Ray
        # has no resource-level permissions), and no other X-Ray action (not xray:PutSpans:
        # no OTLP endpoint of X-Ray's).
        xray = [(actions, resources) for actions, resources in statements
                if any(a.startswith("xray:") for a in actions)]
        self.assertEqual(xray, [(XRAY_ACTIONS, ["*"])])
        self.assertIn("xray=adot", Evaluator(self.t, EnableTracing="true").value(self.fn["VersionDescription"]))
        self.assertIs(Evaluator(self.t, EnableTracing="true").value(self.res["RestApi"]["Properties"]["TracingEnabled"]),
                      True)

    def test_tracing_on_gives_the_other_functions_lambda_segments_only(self):
        for function in FUNCTION_ROLES:
            if function == FUNCTION:
                continue
            with self.subTest(function=function):
                props, statements = self.traced(function, EnableTracing="true")
                self.assertEqual(props["Tracing"], "Active")
                self.assertNotIn("Layers", props)
                self.assertEqual([v for v in props["Environment"]["Variables"] if v.startswith("OTEL_")], [])
                self.assertIn((XRAY_ACTIONS, ["*"]), statements)

    def test_tracing_with_a_layer_of_ones_own_or_none(self):
        # Another collector layer: that one, on the same endpoint.
        props, statements = self.traced(FUNCTION, EnableTracing="true", TracesCollectorLayerArn=OWN_LAYER_ARN)
        self.assertEqual(props["Layers"], [OWN_LAYER_ARN])
        self.assertEqual(props["Environment"]["Variables"]["OTEL_EXPORTER_OTLP_ENDPOINT"], COLLECTOR_ENDPOINT)
        self.assertIn((XRAY_ACTIONS, ["*"]), statements)
        # No layer: nothing listens on localhost, so no endpoint (the function exports nothing
        # until one is set); Lambda's active tracing and its X-Ray writes stay.
        props, statements = self.traced(FUNCTION, EnableTracing="true", TracesCollectorLayerArn="")
        self.assertEqual(props["Tracing"], "Active")
        self.assertNotIn("Layers", props)
        self.assertNotIn("OTEL_EXPORTER_OTLP_ENDPOINT", props["Environment"]["Variables"])
        self.assertEqual(props["Environment"]["Variables"]["OTEL_SERVICE_NAME"], "change-password")
        self.assertIn((XRAY_ACTIONS, ["*"]), statements)

    def test_version_description_names_the_collector_layer(self):
        def description(**values):
            return Evaluator(self.t, EnableTracing="true", **values).value(self.fn["VersionDescription"])
        self.assertIn("xray=adot", description())
        self.assertIn("xray=on", description(TracesCollectorLayerArn=""))
        # A layer of one's own: its account, name and version (partition and region are the stack's).
        self.assertIn("xray=123456789012:otel-collector-arm64:3", description(TracesCollectorLayerArn=OWN_LAYER_ARN))
        # The OpenTelemetry community's collector layer, a long name, fits with the other defaults.
        community = "arn:aws:lambda:eu-west-1:184161586896:layer:opentelemetry-collector-arm64-0_23_0:1"
        self.assertLessEqual(len(description(TracesCollectorLayerArn=community)), 256)

    def test_tracing_choice_is_explained(self):
        # The comment above EnableTracing says why the ADOT collector layer, what it costs and
        # what was not taken.
        text = TEMPLATE.read_text()
        comment = text[text.index("  # Traces (issue 22)."): text.index("  EnableTracing:")]
        for words in ("provided.al2023", "localhost:4318", "X-Ray", "Rust", "cold start",
                      "OTLP endpoint", "SigV4", "Transaction Search", "account- and region-wide",
                      "resource-level permissions"):
            self.assertIn(words, comment)
        # The role's comment says why "*".
        role = text[text.index("  ChangePasswordRole:"): text.index("  ChangePasswordDeployRole:")]
        self.assertIn("X-Ray does not support resource-level", role)

    # -- dashboard (issue 15, point 2) ---------------------------------------------------------

    def emitted_metrics(self):
        """The metrics the function and token-authorizer emit (src/edge/metrics.rs, src/auth/)
        and those the template counts."""
        source = METRICS_RS.read_text()
        self.assertIn('pub const NAMESPACE: &str = "ChangePassword";', source)
        # Each metric is published with and without the EventSource dimension: the dashboard
        # and the alarms read the dimensionless total.
        self.assertIn('"Dimensions": [["EventSource"], []]', source)
        names = set()
        for path in METRIC_SOURCES:
            names |= set(re.findall(r'Metric::\w+ => "(\w+)"', path.read_text()))
        self.assertIn("PasswordChanged", names)
        for f in by_type(self.t, "AWS::Logs::MetricFilter").values():
            for m in f["Properties"]["MetricTransformations"]:
                self.assertEqual(m["MetricNamespace"], "ChangePassword")
                names.add(m["MetricName"])
        return names

    def dashboard(self, **overrides):
        ev = Evaluator(self.t, **overrides)
        return json.loads(ev.value(self.res["ChangePasswordDashboard"]["Properties"]["DashboardBody"]))

    GRAPHS = ["Password changes", "Wrong current passwords", "Locks", "Duration p50 / p99 (ms)",
              "4xx by code", "5xx by code", "Throttles", "Concurrency", "DynamoDB throttles",
              "token-authorizer", "After a change",
              "4xx and 5xx answers by status and code (function log)"]
    # With NoticeFrom: a fourth row, change-notice's.
    NOTICE_GRAPHS = ["Change notices", "Change notices failed"]

    def test_new_metrics_are_named_in_the_rust_code(self):
        # The names the template's alarms and dashboard read for issue 13, each a string literal
        # of the code that emits it (src/edge/metrics.rs or src/auth/).
        literals = set()
        for path in METRIC_SOURCES:
            literals |= set(re.findall(r'"(\w+)"', path.read_text()))
        missing = [name for name in NEW_METRICS if name not in literals]
        self.assertEqual(missing, [], "metrics the Rust code does not name")

    def test_dashboard_is_one_screen_of_the_metrics_that_exist(self):
        emitted = self.emitted_metrics()
        aws_metrics = {
            "AWS/Lambda": {"Duration", "Errors", "Throttles", "ConcurrentExecutions",
                           "Url4xxCount", "Url5xxCount", "DestinationDeliveryFailures"},
            "AWS/ApiGateway": {"4xx", "5xx", "4XXError", "5XXError"},
            "AWS/DynamoDB": {"ReadThrottleEvents", "WriteThrottleEvents"},
            "AWS/EventBridge/Pipes": {"ExecutionFailed"},
            "AWS/SQS": {"ApproximateNumberOfMessagesVisible"},
        }
        doors = ("EnableHttpApi", "EnableRestApi", "EnableFunctionUrl")
        for combo in itertools.product(["true", "false"], repeat=3):
            for reserved, notices in itertools.product((100, -1), (False, True)):
                values = dict(zip(doors, combo), ReservedConcurrentExecutions=reserved,
                              **(NOTICE_VALUES if notices else {}))
                with self.subTest(**values):
                    body = self.dashboard(**values)
                    widgets = body["widgets"]
                    self.assertEqual([w["properties"]["title"] for w in widgets],
                                     self.GRAPHS + (self.NOTICE_GRAPHS if notices else []))
                    # One screen: 24 columns, 3 rows of 6 (a fourth with notices), no overlap,
                    # no gap.
                    cells = set()
                    for w in widgets:
                        self.assertLessEqual(w["x"] + w["width"], 24)
                        self.assertLessEqual(w["y"] + w["height"], 24 if notices else 18)
                        for x in range(w["x"], w["x"] + w["width"]):
                            for y in range(w["y"], w["y"] + w["height"]):
                                self.assertNotIn((x, y), cells)
                                cells.add((x, y))
                    self.assertEqual(len(cells), 24 * (24 if notices else 18))
                    used = set()
                    for w in widgets:
                        self.assertEqual(w["properties"]["region"], "eu-west-1")
                        for metric in w["properties"].get("metrics", []):
                            namespace, name = metric[0], metric[1]
                            used.add((namespace, name))
                            if namespace == "ChangePassword":
                                self.assertIn(name, emitted, "a metric the function does not emit")
                                self.assertIsInstance(metric[2], dict, "the dimensionless total")
                            else:
                                self.assertIn(name, aws_metrics[namespace], metric)
                    # A door's metrics only when that door exists.
                    self.assertEqual(("AWS/ApiGateway", "4xx") in used, combo[0] == "true")
                    self.assertEqual(("AWS/ApiGateway", "5XXError") in used, combo[1] == "true")
                    self.assertEqual(("AWS/Lambda", "Url5xxCount") in used, combo[2] == "true")
                    self.assertEqual(("AWS/Lambda", "DestinationDeliveryFailures") in used, notices)
                    concurrency = widgets[self.GRAPHS.index("Concurrency")]["properties"]
                    self.assertEqual(concurrency["annotations"]["horizontal"],
                                     [{"label": "ReservedConcurrentExecutions", "value": 100}] if reserved != -1 else [])
        body = self.dashboard()
        graphs = {w["properties"]["title"]: w["properties"] for w in body["widgets"]}
        # The graphs the issue asks for, from the function's metrics.
        for title, metrics in (("Password changes", ["PasswordChanged", "ChangeRetried"]),
                               ("Wrong current passwords", ["CurrentPasswordIncorrect"]),
                               ("Locks", ["AccountLocked"])):
            self.assertEqual([m[:2] for m in graphs[title]["metrics"]],
                             [["ChangePassword", metric] for metric in metrics])
        self.assertEqual({m[-1]["stat"] for m in graphs["Duration p50 / p99 (ms)"]["metrics"]}, {"p50", "p99"})
        self.assertEqual(graphs["Duration p50 / p99 (ms)"]["annotations"]["horizontal"][0]["value"],
                         self.res["DurationAlarm"]["Properties"]["Threshold"])
        self.assertEqual(graphs["Locks"]["annotations"]["horizontal"][0]["value"], 20)
        self.assertEqual({m[1] for m in graphs["4xx by code"]["metrics"] if m[0] == "ChangePassword"},
                         {"CurrentPasswordIncorrect", "PolicyRejected", "AccountLocked"})
        self.assertEqual({m[1] for m in graphs["5xx by code"]["metrics"] if m[0] == "ChangePassword"},
                         {"InternalError", "DependencyFailure"})
        self.assertEqual(graphs["DynamoDB throttles"]["metrics"][0][2:4], ["TableName", "<UsersTable>"])
        self.assertEqual(self.dashboard(ExistingUsersTableName="users")["widgets"][8]["properties"]["metrics"][0][3], "users")
        query = graphs["4xx and 5xx answers by status and code (function log)"]["query"]
        self.assertTrue(query.startswith("SOURCE '<ChangePasswordLogGroup>' | filter target = 'change_password::request'"))
        self.assertIn("by status, code", query)
        # Issue 13: the authorizer's outcomes, and what follows a change.
        self.assertEqual([m[:2] for m in graphs["token-authorizer"]["metrics"]], [
            ["ChangePassword", "AuthorizerAllowed"], ["ChangePassword", "AuthorizerDenied"],
            ["ChangePassword", "AuthorizerUnavailable"], ["AWS/Lambda", "Errors"]])
        self.assertEqual(graphs["token-authorizer"]["metrics"][3][2:4], ["FunctionName", f"<{AUTHORIZER}>"])
        after = graphs["After a change"]["metrics"]
        self.assertEqual([m[:2] for m in after], [
            ["ChangePassword", "TokenRevoked"], ["ChangePassword", "GlobalSignOutFailed"],
            ["AWS/EventBridge/Pipes", "ExecutionFailed"], ["AWS/SQS", "ApproximateNumberOfMessagesVisible"]])
        self.assertEqual(after[2][2:4], ["PipeName", f"<{PIPE}>"])
        self.assertEqual(after[3][2:4], ["QueueName", f"<{DEAD_LETTER_QUEUE}.QueueName>"])
        for title in ("Throttles", "Concurrency"):
            self.assertIn(["FunctionName", f"<{AUTHORIZER}>"], [m[2:4] for m in graphs[title]["metrics"]], title)
        for name in NEW_METRICS:
            self.assertTrue(any(m[:2] == ["ChangePassword", name] for g in graphs.values()
                                for m in g.get("metrics", [])), name)
        # Issue 19: change-notice's outcomes and failures, only with NoticeFrom.
        self.assertFalse(set(self.NOTICE_GRAPHS) & set(graphs))
        notices = {w["properties"]["title"]: w["properties"] for w in self.dashboard(**NOTICE_VALUES)["widgets"]}
        self.assertEqual([m[:2] for m in notices["Change notices"]["metrics"]], [
            ["ChangePassword", "NoticeSent"], ["ChangePassword", "NoticeDuplicate"],
            ["ChangePassword", "NoticeWithoutAddress"], ["ChangePassword", "NoticeAccountMissing"]])
        failed = notices["Change notices failed"]["metrics"]
        self.assertEqual([m[:4] for m in failed], [
            ["AWS/Lambda", "Errors", "FunctionName", f"<{NOTICE_FUNCTION}>"],
            ["AWS/Lambda", "DestinationDeliveryFailures", "FunctionName", f"<{NOTICE_FUNCTION}>"],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", f"<{NOTICE_QUEUE}.QueueName>"]])
        self.assertEqual(failed[2][-1]["stat"], "Maximum")
        # The notice row is picked by the same condition as the resources it graphs.
        row = self.res["ChangePasswordDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][1]["NoticeWidgets"]
        self.assertEqual((row["Fn::If"][0], row["Fn::If"][2]), ("SendNotices", ""))

    # -- runbook (issue 15, point 5) -----------------------------------------------------------

    def test_runbook_has_a_line_per_alarm_and_per_graph(self):
        runbook = RUNBOOK.read_text()
        rows = [f"| `{name}` |" for name in by_type(self.t, "AWS::CloudWatch::Alarm")]
        rows += [f"| {title} |" for title in self.GRAPHS + self.NOTICE_GRAPHS]
        self.assertEqual([row for row in rows if row not in runbook], [], "rows docs/runbook.md lacks")
        for words in ("rollback", "CodeDeploy", "AllAtOnce", "tracing"):
            self.assertIn(words, runbook)


try:
    from samtranslator.translator.transform import transform as sam_transform
except ImportError:  # pragma: no cover - aws-sam-cli is in requirements-dev.txt
    sam_transform = None


class _NoManagedPolicies:
    def load(self):
        return {}


@unittest.skipIf(sam_transform is None, "samtranslator (aws-sam-cli) is not installed")
class SamTransformTest(unittest.TestCase):
    """The real SAM transform, for every combination of the three front doors."""

    @classmethod
    def setUpClass(cls):
        os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
        logging.getLogger("samtranslator").setLevel(logging.ERROR)

    @staticmethod
    def packaged(template):
        # What `sam package` / `sam deploy` put in CodeUri.
        for function, binary in ((FUNCTION, "change-password"), (AUTHORIZER, "token-authorizer"),
                                 (ENRICHMENT, "security-event"), (NOTICE_FUNCTION, "change-notice")):
            template["Resources"][function]["Properties"]["CodeUri"] = f"s3://bucket/{binary}.zip"
        return template

    # EnableHttpApi, EnableRestApi, EnableFunctionUrl, the ALB ("true": AlbListenerArn set), and
    # change-notice ("true": NoticeFrom, NoticeHelpUrl and NoticeContact set). The notices are on
    # in half of the door combinations (an even number of doors on), so that each door, on and
    # off, goes with notices on and off; the transform itself does not read those values.
    DOOR_COMBINATIONS = [doors + ("true" if doors.count("true") % 2 == 0 else "false",)
                         for doors in itertools.product(["true", "false"], repeat=4)]

    @staticmethod
    def door_values(http, rest, url, alb="false", notices="false"):
        return {"EnableHttpApi": http, "EnableRestApi": rest, "EnableFunctionUrl": url,
                "AlbListenerArn": ALB_LISTENER_ARN if alb == "true" else "",
                **{k: (v if notices == "true" else "") for k, v in NOTICE_VALUES.items()}}

    def transformed(self, http, rest, url, alb="false", notices="false"):
        template = self.packaged(load_template())
        doors = self.door_values(http, rest, url, alb, notices)
        values = {**doors, "CognitoUserPoolId": "eu-west-1_AbCdEf123", "CognitoAppClientIds": "client1,client2"}
        for name in doors:
            template["Parameters"][name]["Default"] = values[name]
        return sam_transform(template, values, _NoManagedPolicies())

    def test_every_combination_transforms_and_lints_clean(self):
        from cfnlint.api import lint_file
        with tempfile.TemporaryDirectory() as tmp:
            for combo in self.DOOR_COMBINATIONS:
                with self.subTest(EnableHttpApi=combo[0], EnableRestApi=combo[1], EnableFunctionUrl=combo[2],
                                  Alb=combo[3], Notices=combo[4]):
                    out = self.transformed(*combo)
                    resources = out["Resources"]
                    # Our roles only: SAM generated none (no CodeDeployServiceRole either) and
                    # attached no managed policy.
                    roles = sorted(k for k, v in resources.items() if v["Type"] == "AWS::IAM::Role")
                    self.assertEqual(roles, sorted([DEPLOY_ROLE, "ChangePasswordRole", AUTHORIZER_ROLE,
                                                    AUTHORIZER_DEPLOY_ROLE, PIPE_ROLE, ENRICHMENT_ROLE,
                                                    NOTICE_ROLE]))
                    for role in roles:
                        self.assertNotIn("ManagedPolicyArns", resources[role]["Properties"])
                    # Every front-door resource keeps its condition through the transform.
                    for name, res in resources.items():
                        if res["Type"].startswith(("AWS::ApiGateway::", "AWS::ApiGatewayV2::", "AWS::Lambda::Url",
                                                   "AWS::ElasticLoadBalancingV2::")):
                            self.assertIn(res.get("Condition"),
                                          {"HttpApiEnabled", "RestApiEnabled", "FunctionUrlEnabled", "HasAlb"}, name)
                    # change-notice: the same resources after the transform (SAM adds none for a
                    # function with its own role and no events), each under SendNotices; they
                    # are created exactly when a sender is given.
                    notice = sorted(k for k, v in resources.items() if v.get("Condition") == "SendNotices")
                    self.assertEqual(notice, NOTICE_RESOURCES)
                    self.assertEqual(resources[NOTICE_FUNCTION]["Type"], "AWS::Lambda::Function")
                    created = deployed(out, **self.door_values(*combo))
                    self.assertEqual(sorted(set(NOTICE_RESOURCES) & set(created)),
                                     NOTICE_RESOURCES if combo[4] == "true" else [])
                    # The pipe's enrichment is the plain function SAM made, invoked unqualified.
                    self.assertEqual(resources[ENRICHMENT]["Type"], "AWS::Lambda::Function")
                    self.assertEqual(resources[PIPE]["Properties"]["Enrichment"], {"Fn::GetAtt": [ENRICHMENT, "Arn"]})
                    for function in (ENRICHMENT, NOTICE_FUNCTION):
                        self.assertFalse([k for k, v in resources.items()
                                          if v["Type"] in ("AWS::Lambda::Version", "AWS::Lambda::Alias")
                                          and v["Properties"]["FunctionName"] == {"Ref": function}], function)
                    # The REST route carries the Cognito authorizer, with AccessTokensOnly's scope.
                    body = resources["RestApi"]["Properties"]["Body"]
                    self.assertEqual(body["paths"][ROUTE_PATH]["post"]["security"], [{"CognitoAuthorizer": {
                        "Fn::If": ["RequireAccessTokens", [ACCESS_TOKEN_SCOPE], []]}}])
                    scheme = body["components"]["securitySchemes"]["CognitoAuthorizer"]
                    self.assertEqual(scheme["x-amazon-apigateway-authtype"], "cognito_user_pools")
                    path = pathlib.Path(tmp, "-".join(combo) + ".json")
                    path.write_text(json.dumps(out))
                    matches = lint_file(path, {"regions": ["eu-west-1"]})
                    # SAM resolves DeploymentType into the deployment group at transform time,
                    # so the transformed template no longer refers to the parameter.
                    matches = [m for m in matches
                               if not (m.rule.id == "W2001" and "DeploymentType" in m.message)]
                    self.assertEqual([str(m) for m in matches], [])

    def alias_id(self, resources, function=FUNCTION):
        aliases = {k: v for k, v in resources.items() if v["Type"] == "AWS::Lambda::Alias"
                   and v["Properties"]["FunctionName"] == {"Ref": function}}
        self.assertEqual(len(aliases), 1)
        (alias_id, alias), = aliases.items()
        self.assertEqual(alias["Properties"]["Name"], ALIAS)
        return alias_id

    def test_every_door_invokes_the_alias(self):
        for combo in self.DOOR_COMBINATIONS:
            with self.subTest(EnableHttpApi=combo[0], EnableRestApi=combo[1], EnableFunctionUrl=combo[2],
                              Alb=combo[3], Notices=combo[4]):
                out = self.transformed(*combo)
                resources = out["Resources"]
                alias = {"Ref": self.alias_id(resources)}
                # HTTP API: the integration and its permission.
                self.assertEqual(resources["HttpApiIntegration"]["Properties"]["IntegrationUri"], alias)
                # REST: the integration URI in the OpenAPI body, and its permission.
                uri = resources["RestApi"]["Properties"]["Body"]["paths"][ROUTE_PATH]["post"][
                    "x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
                self.assertTrue(uri[0].endswith("/functions/${AliasArn}/invocations"))
                self.assertEqual(uri[1], {"AliasArn": alias})
                # Function URL: the URL itself.
                self.assertEqual(resources["ChangePasswordFunctionUrl"]["Properties"]["TargetFunctionArn"], alias)
                # ALB: the target group's one target, registered once ELB may invoke the alias,
                # without health checks; the rule on the given listener forwards to it.
                group = resources[ALB_TARGET_GROUP]
                self.assertEqual(group["Properties"]["Targets"], [{"Id": alias}])
                self.assertEqual(as_list(group["DependsOn"]), [ALB_PERMISSION])
                self.assertIs(group["Properties"]["HealthCheckEnabled"], False)
                self.assertEqual(resources[ALB_PERMISSION]["Properties"]["Principal"], ALB_PRINCIPAL)
                self.assertEqual(resources[ALB_RULE]["Properties"]["Actions"],
                                 [{"Type": "forward", "TargetGroupArn": {"Ref": ALB_TARGET_GROUP}}])
                self.assertEqual(out["Outputs"]["AlbTargetGroupArn"]["Value"], {"Ref": ALB_TARGET_GROUP})
                # What CloudFormation creates for these values: a door's resources only when it is on.
                created = deployed(out, **self.door_values(*combo))
                self.assertEqual(sorted(set(ALB_RESOURCES) & set(created)), ALB_RESOURCES if combo[3] == "true" else [])
                self.assertEqual("ChangePasswordFunctionUrl" in created, combo[2] == "true")
                # Every permission to invoke the function (API Gateway, the public URL, ELB) is
                # the alias's; the one other permission is EventBridge's, on change-notice.
                permissions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Lambda::Permission"
                               and k != "ChangeNoticeInvokePermission"}
                self.assertEqual(resources["ChangeNoticeInvokePermission"]["Properties"]["FunctionName"],
                                 {"Fn::GetAtt": [NOTICE_FUNCTION, "Arn"]})
                self.assertEqual(sorted(permissions), [ALB_PERMISSION, "FunctionUrlInvokePermission",
                                                       "FunctionUrlPublicPermission",
                                                       "HttpApiInvokePermission", "RestApiInvokePermission"])
                for name, permission in permissions.items():
                    self.assertEqual(permission["Properties"]["FunctionName"], alias, name)
                # Nothing in the resources invokes the unqualified function ($LATEST): its ARN
                # is used only by the version and the alias SAM makes, and our deploy role.
                text = json.dumps({k: v for k, v in resources.items()
                                   if v["Type"] not in ("AWS::Lambda::Version", "AWS::Lambda::Alias")})
                self.assertNotIn('"Fn::GetAtt": ["ChangePasswordFunction", "Arn"]', text)
                self.assertNotIn('"ChangePasswordFunction.Arn"', text)
                self.assertNotIn("${ChangePasswordFunction.Arn}", text)

    def test_function_url_is_what_sam_makes_for_an_aliased_function(self):
        # SAM's own FunctionUrlConfig on a function with AutoPublishAlias, transformed.
        probe = {
            "Transform": "AWS::Serverless-2016-10-31",
            "Resources": {FUNCTION: {"Type": "AWS::Serverless::Function", "Properties": {
                "CodeUri": "s3://bucket/x.zip", "Handler": "bootstrap", "Runtime": "provided.al2023",
                "AutoPublishAlias": ALIAS, "FunctionUrlConfig": {"AuthType": "NONE"}}}},
        }
        sam = sam_transform(probe, {}, _NoManagedPolicies())["Resources"]
        ours = self.transformed("false", "false", "true")["Resources"]
        sam_alias, our_alias = self.alias_id(sam), self.alias_id(ours)

        def shape(props, alias_id):
            return json.loads(json.dumps({k: v for k, v in props.items() if k != "Cors"})
                              .replace(alias_id, "ALIAS"))
        sam_url = next(v for v in sam.values() if v["Type"] == "AWS::Lambda::Url")
        self.assertEqual(shape(ours["ChangePasswordFunctionUrl"]["Properties"], our_alias),
                         shape(sam_url["Properties"], sam_alias))
        sam_permissions = sorted((shape(v["Properties"], sam_alias) for v in sam.values()
                                  if v["Type"] == "AWS::Lambda::Permission"), key=repr)
        our_permissions = sorted((shape(ours[k]["Properties"], our_alias)
                                  for k in ("FunctionUrlPublicPermission", "FunctionUrlInvokePermission")), key=repr)
        self.assertEqual(our_permissions, sam_permissions)

    def test_canary_deployment_rolls_back_on_the_alarms(self):
        # The function and token-authorizer, each with its own group, role and alarms.
        cases = ((FUNCTION, DEPLOY_ROLE, ROLLBACK_ALARMS),
                 (AUTHORIZER, AUTHORIZER_DEPLOY_ROLE, AUTHORIZER_ROLLBACK_ALARMS))
        for deployment_type in ("Canary10Percent5Minutes", "AllAtOnce"):
            template = self.packaged(load_template())
            values = {"CognitoUserPoolId": "eu-west-1_AbCdEf123", "CognitoAppClientIds": "client1",
                      "DeploymentType": deployment_type}
            resources = sam_transform(template, values, _NoManagedPolicies())["Resources"]
            self.assertNotIn("CodeDeployServiceRole", resources)
            groups = {k: v for k, v in resources.items() if v["Type"] == "AWS::CodeDeploy::DeploymentGroup"}
            self.assertEqual(sorted(groups), sorted(f"{fn}DeploymentGroup" for fn, _, _ in cases))
            versions = [v for v in resources.values() if v["Type"] == "AWS::Lambda::Version"]
            self.assertEqual(len(versions), len(cases))
            for function, role, alarms in cases:
                with self.subTest(DeploymentType=deployment_type, function=function):
                    group = groups[f"{function}DeploymentGroup"]["Properties"]
                    self.assertEqual(group["AlarmConfiguration"], {
                        "Enabled": True, "Alarms": [{"Name": {"Ref": name}} for name in alarms]})
                    self.assertTrue(group["AutoRollbackConfiguration"]["Enabled"])
                    self.assertIn("DEPLOYMENT_STOP_ON_ALARM", group["AutoRollbackConfiguration"]["Events"])
                    self.assertEqual(group["DeploymentConfigName"], {"Fn::Sub": [
                        "CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": deployment_type}]})
                    self.assertEqual(group["ServiceRoleArn"], {"Fn::GetAtt": [role, "Arn"]})
                    alias = resources[self.alias_id(resources, function)]
                    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
                    self.assertEqual(update["DeploymentGroupName"], {"Ref": f"{function}DeploymentGroup"})
                    # The version carries the description that makes a new one for a new parameter value.
                    version_id = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
                    self.assertEqual(alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][1], "Version")
                    self.assertEqual(resources[version_id]["Properties"]["Description"],
                                     template["Resources"][function]["Properties"]["VersionDescription"])
                    self.assertEqual(resources[version_id]["Properties"]["FunctionName"], {"Ref": function})

    def test_token_authorizer_output_is_its_alias(self):
        out = self.transformed("true", "false", "false")
        alias = self.alias_id(out["Resources"], AUTHORIZER)
        self.assertEqual(out["Outputs"]["TokenAuthorizerArn"]["Value"], {"Ref": alias})
        self.assertEqual(out["Resources"][AUTHORIZER]["Properties"]["Role"], {"Fn::GetAtt": [AUTHORIZER_ROLE, "Arn"]})
        # The Rules that tie the stream to an existing table, and the notice settings to a
        # sender, survive the transform.
        self.assertEqual(sorted(out["Rules"]), ["ExistingTableNeedsItsStream", "NoticeSettingsOnlyWithASender",
                                                "NoticesNeedHelpAndContact", "StreamOnlyWithAnExistingTable"])

    def test_access_tokens_only_through_the_transform(self):
        # The REST method's security (SAM keeps the operation's own, for the default authorizer)
        # and the HTTP route's scopes, resolved for each AccessTokensOnly.
        out = self.transformed("true", "true", "false")
        resources = out["Resources"]
        operation = resources["RestApi"]["Properties"]["Body"]["paths"][ROUTE_PATH]["post"]
        scheme = resources["RestApi"]["Properties"]["Body"]["components"]["securitySchemes"]["CognitoAuthorizer"]
        self.assertEqual(scheme["x-amazon-apigateway-authtype"], "cognito_user_pools")
        for value, scopes in (("true", [ACCESS_TOKEN_SCOPE]), ("false", [])):
            with self.subTest(AccessTokensOnly=value):
                ev = Evaluator(out, AccessTokensOnly=value)
                self.assertEqual(ev.value(operation["security"]), [{"CognitoAuthorizer": scopes}])
                self.assertEqual(ev.value(resources["HttpApiRoute"]["Properties"]).get("AuthorizationScopes"),
                                 scopes or None)
        # AlwaysDeploy: a deployment whose name changes with every transform, so that the stage
        # takes the method's new scopes.
        deployments = [k for k, v in resources.items() if v["Type"] == "AWS::ApiGateway::Deployment"]
        self.assertEqual(len(deployments), 1)
        stage = next(v for v in resources.values() if v["Type"] == "AWS::ApiGateway::Stage")
        self.assertEqual(stage["Properties"]["DeploymentId"], {"Ref": deployments[0]})

    def test_customer_key_through_the_transform(self):
        resources = self.transformed("true", "true", "true", "true", "true")["Resources"]
        for name in KMS_FUNCTIONS:
            self.assertEqual(resources[name]["Type"], "AWS::Lambda::Function")
            self.assertEqual(resources[name]["Properties"]["KmsKeyArn"], KMS_KEY_IF_GIVEN, name)

    def test_stages_keep_throttling_access_logs_and_tracing_through_the_transform(self):
        resources = self.transformed("true", "true", "false")["Resources"]
        stages = {k: v for k, v in resources.items() if v["Type"] == "AWS::ApiGateway::Stage"}
        self.assertEqual(len(stages), 1)
        stage = next(iter(stages.values()))["Properties"]
        self.assertEqual(stage["StageName"], "prod")
        self.assertEqual(stage["TracingEnabled"], {"Fn::If": ["TracingEnabled", True, False]})
        self.assertEqual(stage["AccessLogSetting"]["DestinationArn"],
                         {"Fn::GetAtt": ["RestApiAccessLogGroup", "Arn"]})
        self.assertEqual(access_log_problems("RestApi", stage["AccessLogSetting"]["Format"]), [])
        self.assertEqual(stage["MethodSettings"][0]["ThrottlingRateLimit"], {"Ref": "ApiThrottlingRateLimit"})
        function = resources[FUNCTION]["Properties"]
        self.assertEqual(function["TracingConfig"], {"Mode": {"Fn::If": ["TracingEnabled", "Active", "PassThrough"]}})
        # The collector layer and its endpoint, as the template gives them.
        template = load_template()["Resources"][FUNCTION]["Properties"]
        self.assertEqual(function["Layers"], template["Layers"])
        for name in OTEL_VARIABLES:
            self.assertEqual(function["Environment"]["Variables"][name], template["Environment"]["Variables"][name])
        self.assertEqual(function["ReservedConcurrentExecutions"]["Fn::If"][0], "HasReservedConcurrency")


OPERATIONS_DOC = ROOT / "docs" / "operations.md"
API_DOC = ROOT / "docs" / "api.md"


def doc_section(path, heading):
    """The text of a markdown section, from its heading to the next heading of its level."""
    text = path.read_text()
    start = text.index(heading + "\n")
    level = heading.split(" ")[0]
    rest = text[start + len(heading) + 1:]
    end = re.search(rf"^{level} ", rest, re.M)
    return rest[: end.start()] if end else rest


def code_blocks(text, language):
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


@unittest.skipIf(sam_transform is None, "samtranslator (aws-sam-cli) is not installed")
class DocsTest(unittest.TestCase):
    """The template lines and examples of issue 13's docs do what the docs say."""

    AUTHORIZER_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:change-password-TokenAuthorizer:live"

    @classmethod
    def setUpClass(cls):
        os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
        logging.getLogger("samtranslator").setLevel(logging.ERROR)

    def adoption_snippet(self):
        section = doc_section(OPERATIONS_DOC, "## Adopting token-authorizer in another API")
        blocks = code_blocks(section, "yaml")
        self.assertEqual(len(blocks), 1)
        return blocks[0]

    def transform_snippet(self, text):
        template = load_template("Transform: AWS::Serverless-2016-10-31\n" + text)
        return sam_transform(template, {"TokenAuthorizerArn": self.AUTHORIZER_ARN}, _NoManagedPolicies())["Resources"]

    def test_adoption_snippet_attaches_the_authorizer_with_a_cache_of_60_s_at_most(self):
        resources = self.transform_snippet(self.adoption_snippet())
        # REST: a TOKEN authorizer on the Authorization header, invoking the alias, with SAM's
        # permission limited to this API's authorizers.
        rest = resources["OrdersRestApi"]["Properties"]["Body"]["securityDefinitions"]["TokenAuthorizer"]
        self.assertEqual((rest["in"], rest["name"]), ("header", "Authorization"))
        authorizer = rest["x-amazon-apigateway-authorizer"]
        self.assertEqual(authorizer["type"], "token")
        self.assertLessEqual(authorizer["authorizerResultTtlInSeconds"], 30)
        self.assertIn(self.AUTHORIZER_ARN, json.dumps(authorizer["authorizerUri"]))
        # HTTP API: simple responses, payload 2.0, the Authorization header, 30 s at most.
        http = resources["OrdersHttpApi"]["Properties"]["Body"]["components"]["securitySchemes"]["TokenAuthorizer"]
        authorizer = http["x-amazon-apigateway-authorizer"]
        self.assertEqual(authorizer["type"], "request")
        self.assertEqual(authorizer["authorizerPayloadFormatVersion"], "2.0")
        self.assertIs(authorizer["enableSimpleResponses"], True)
        self.assertEqual(authorizer["identitySource"], ["$request.header.Authorization"])
        self.assertLessEqual(authorizer["authorizerResultTtlInSeconds"], 30)
        # Both may invoke the authorizer (SAM adds the REST one; the snippet the HTTP API's),
        # from their own authorizers only.
        permissions = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::Lambda::Permission"}
        self.assertEqual(len(permissions), 2)
        for name, permission in permissions.items():
            self.assertEqual(permission["Principal"], "apigateway.amazonaws.com", name)
            self.assertIn(permission["FunctionName"], (self.AUTHORIZER_ARN, {"Ref": "TokenAuthorizerArn"}), name)
            source = permission["SourceArn"]["Fn::Sub"]
            source = source if isinstance(source, str) else source[0]
            self.assertTrue(source.endswith("/authorizers/*"), name)

    def test_adoption_snippet_as_a_request_authorizer(self):
        text = self.adoption_snippet().replace("FunctionPayloadType: TOKEN", "FunctionPayloadType: REQUEST")
        text = text.replace("              Header: Authorization\n", "              Headers: [Authorization]\n")
        resources = self.transform_snippet(text)
        rest = resources["OrdersRestApi"]["Properties"]["Body"]["securityDefinitions"]["TokenAuthorizer"]
        authorizer = rest["x-amazon-apigateway-authorizer"]
        self.assertEqual(authorizer["type"], "request")
        self.assertEqual(authorizer["identitySource"], "method.request.header.Authorization")
        self.assertLessEqual(authorizer["authorizerResultTtlInSeconds"], 30)

    def test_api_doc_event_is_what_the_stack_publishes(self):
        # The event's source and detail-type are the pipe's; its detail has the shape of the
        # sample event the tests use (events/eventbridge-password-changed.json: the SET payload of
        # SPEC.md section 7, with JSON numbers); the stack's notice rule and every rule of the
        # section's templates match it, and those templates are ones cfn-lint accepts.
        section = doc_section(API_DOC, "## The security event")
        example = json.loads(code_blocks(section, "json")[0])
        template = load_template()
        target = template["Resources"][PIPE]["Properties"]["TargetParameters"]["EventBridgeEventBusParameters"]
        self.assertEqual((example["source"], example["detail-type"]), (target["Source"], target["DetailType"]))
        detail, sample = example["detail"], json.loads(SAMPLE_EVENT.read_text())["detail"]
        self.assertEqual(sorted(detail), sorted(sample))
        self.assertNotIn("sub", detail, "SSF 1.0: no top-level sub")
        self.assertEqual(sorted(detail["events"]), sorted(sample["events"]))
        for uri, event in detail["events"].items():
            self.assertEqual(sorted(event), sorted(sample["events"][uri]))
            self.assertIs(type(event["event_timestamp"]), int)
        self.assertEqual(sorted(detail["change"]), sorted(sample["change"]))
        self.assertIs(type(detail["iat"]), int)
        self.assertIs(type(detail["change"]["password_version"]), int)
        self.assertIn(detail["sub_id"]["format"], ("iss_sub", "opaque"))
        rules = [template["Resources"][NOTICE_RULE]["Properties"]["EventPattern"]]
        from cfnlint.api import lint_all
        for block in code_blocks(section, "yaml"):
            matches = lint_all('AWSTemplateFormatVersion: "2010-09-09"\n' + block)
            self.assertEqual([str(m) for m in matches if m.rule.id[0] in "EW"], [])
            rules += [r["Properties"]["EventPattern"] for r in load_template(block)["Resources"].values()
                      if r["Type"] == "AWS::Events::Rule"]
        for pattern in rules:
            self.assertTrue(pattern_matches(pattern, example), pattern)
            self.assertFalse(pattern_matches(pattern, dict(example, source="other")), pattern)


if __name__ == "__main__":
    unittest.main()


class RecentSignInAndBreachedPasswordsTest(unittest.TestCase):
    """Issue 14: the breached-password check and the recent sign-in, as template parameters."""

    @classmethod
    def setUpClass(cls):
        cls.t = load_template()
        cls.params = cls.t["Parameters"]
        cls.env = cls.t["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]

    def test_production_defaults(self):
        self.assertEqual(self.params["BreachedPasswordCheck"]["Default"], "hibp")
        self.assertEqual(sorted(self.params["BreachedPasswordCheck"]["AllowedValues"]), ["hibp", "off"])
        self.assertEqual(self.params["BreachedPasswordFail"]["Default"], "open")
        self.assertEqual(sorted(self.params["BreachedPasswordFail"]["AllowedValues"]), ["closed", "open"])
        self.assertEqual(self.params["MaxAuthAgeSeconds"]["Default"], 900)

    def test_the_function_reads_them(self):
        self.assertEqual(self.env["BREACHED_PASSWORD_CHECK"], {"Ref": "BreachedPasswordCheck"})
        self.assertEqual(self.env["BREACHED_PASSWORD_FAIL"], {"Ref": "BreachedPasswordFail"})
        # 0 turns the requirement off: the variable is then not set at all.
        self.assertEqual(self.env["MAX_AUTH_AGE_SECONDS"],
                         {"Fn::If": ["RequireRecentSignIn", {"Ref": "MaxAuthAgeSeconds"}, NO_VALUE]})
        self.assertEqual(self.t["Conditions"]["RequireRecentSignIn"],
                         {"Fn::Not": [{"Fn::Equals": [{"Ref": "MaxAuthAgeSeconds"}, 0]}]})
        # The range API's default URL is the function's own: not overridden in production.
        self.assertNotIn("HIBP_API_URL", self.env)
