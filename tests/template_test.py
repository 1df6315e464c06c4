"""Checks of template.yaml that cfn-lint cannot make: least privilege, the routes and their
authorizers, the table, the environment contract, references, alarms, and the real SAM
transform of every front-door combination.

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
README = ROOT / "README.md"

ROUTE_PATH = "/api/workspace/account/change-password"
FUNCTION = "ChangePasswordFunction"

# SPEC.md section 6: the variables the function reads (the AWS_ENDPOINT_URL* overrides are
# for local emulators only and must never be set by the template).
SPEC_VARIABLES = [
    "USERS_TABLE", "ARGON2_MEMORY_KIB", "ARGON2_ITERATIONS", "ARGON2_PARALLELISM",
    "PEPPER_SECRET_ID", "PASSWORD_MIN_LENGTH", "PASSWORD_MAX_LENGTH", "PASSWORD_MIN_SCORE",
    "PASSWORD_HISTORY", "LOCKOUT_THRESHOLD", "LOCKOUT_SECONDS", "JWT_ISSUER", "JWT_AUDIENCE",
    "JWT_JWKS_URL", "JWT_HS256_SECRET_ID",
]

PSEUDO_PARAMETERS = {
    "AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
    "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
}

NO_VALUE = {"Ref": "AWS::NoValue"}


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
            "PASSWORD_MAX_LENGTH": "128", "PASSWORD_MIN_SCORE": "3", "PASSWORD_HISTORY": "5",
            "LOCKOUT_THRESHOLD": "5", "LOCKOUT_SECONDS": "900",
        }
        for name, value in expected.items():
            self.assertEqual(self.env.get(name), value, name)
        self.assertEqual(self.env["PASSWORD_MIN_LENGTH"], {"Ref": "PasswordMinLength"})
        self.assertEqual(int(self.t["Parameters"]["PasswordMinLength"]["Default"]), 12)

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
        others = [k for k, v in self.res.items() if v["Type"].startswith("AWS::IAM::") and k != "ChangePasswordRole"]
        self.assertEqual(others, [], "no other IAM resources")

    def test_policy_statements_are_exactly_least_privilege(self):
        table_arn = {"Fn::If": [
            "CreateTable",
            {"Fn::GetAtt": ["UsersTable", "Arn"]},
            {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ExistingUsersTableName}"},
        ]}
        log_group = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${ChangePasswordLogGroup}"
        expected = [
            (None, ["dynamodb:GetItem", "dynamodb:UpdateItem"], [table_arn]),
            ("HasPepper", ["secretsmanager:GetSecretValue"], [{"Ref": "PepperSecretArn"}]),
            (None, ["logs:CreateLogStream", "logs:PutLogEvents"],
             [{"Fn::Sub": log_group}, {"Fn::Sub": log_group + ":*"}]),
        ]
        actual = []
        for cond, stmt in self.statements():
            self.assertEqual(stmt.get("Effect"), "Allow", stmt)
            for key in ("NotAction", "NotResource", "Principal", "NotPrincipal", "Condition"):
                self.assertNotIn(key, stmt)
            actual.append((cond, sorted(as_list(stmt["Action"])), as_list(stmt["Resource"])))
        self.assertEqual(sorted(actual, key=repr), sorted(expected, key=repr))
        self.assertEqual(self.t["Conditions"]["HasPepper"],
                         {"Fn::Not": [{"Fn::Equals": [{"Ref": "PepperSecretArn"}, ""]}]})

    def test_no_wildcard_action_or_resource(self):
        for _, stmt in self.statements():
            for action in as_list(stmt["Action"]):
                self.assertNotIn("*", action)
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
        self.assertEqual(integration["Properties"]["IntegrationUri"], {"Fn::GetAtt": [FUNCTION, "Arn"]})
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
        self.assertEqual(props["FunctionName"], {"Ref": FUNCTION})
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
        self.assertIn("${ChangePasswordFunction.Arn}", sub_string(integration["uri"]))
        self.assertNotIn("security", operation, "the default authorizer applies; no override")
        self.assertEqual(list(props["DefinitionBody"]["paths"]), [ROUTE_PATH])
        self.assert_invoke_permission("RestApi", "RestApiEnabled")

    def test_function_url_and_its_environment(self):
        urls = by_type(self.t, "AWS::Lambda::Url")
        self.assertEqual(len(urls), 1)
        url = next(iter(urls.values()))
        self.assertEqual(url.get("Condition"), "FunctionUrlEnabled")
        self.assertEqual(url["Properties"]["AuthType"], "NONE")
        self.assertEqual(url["Properties"]["TargetFunctionArn"], {"Fn::GetAtt": [FUNCTION, "Arn"]})
        public = {(p["Properties"]["Action"], p.get("Condition"))
                  for p in by_type(self.t, "AWS::Lambda::Permission").values()
                  if p["Properties"]["Principal"] == "*"}
        self.assertEqual(public, {("lambda:InvokeFunctionUrl", "FunctionUrlEnabled"),
                                  ("lambda:InvokeFunction", "FunctionUrlEnabled")})
        for p in by_type(self.t, "AWS::Lambda::Permission").values():
            if p["Properties"]["Principal"] == "*" and p["Properties"]["Action"] == "lambda:InvokeFunction":
                self.assertIs(p["Properties"]["InvokedViaFunctionUrl"], True)
        self.assertEqual(self.env["JWT_ISSUER"], {"Fn::If": [
            "FunctionUrlEnabled",
            {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${CognitoUserPoolId}"},
            NO_VALUE]})
        self.assertEqual(self.env["JWT_AUDIENCE"], {"Fn::If": [
            "FunctionUrlEnabled", {"Fn::Join": [",", {"Ref": "CognitoAppClientIds"}]}, NO_VALUE]})

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

    # -- environment contract and references ------------------------------------------------

    def test_every_spec_variable_is_set_or_documented(self):
        readme = README.read_text()
        for name in SPEC_VARIABLES:
            self.assertTrue(name in self.env or name in readme, f"{name} neither set nor in README.md")

    def test_every_variable_set_is_a_spec_variable(self):
        unknown = sorted(set(self.env) - set(SPEC_VARIABLES))
        self.assertEqual(unknown, [], "variables the function does not read (typo?)")

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

    def alarm(self, namespace, metric):
        found = [a for a in by_type(self.t, "AWS::CloudWatch::Alarm").values()
                 if a["Properties"].get("Namespace") == namespace
                 and a["Properties"].get("MetricName") == metric]
        self.assertEqual(len(found), 1, f"{namespace}/{metric}")
        props = found[0]["Properties"]
        self.assertEqual(props["Period"], 300)
        self.assertEqual(props["EvaluationPeriods"], 1)
        self.assertEqual(props["ComparisonOperator"], "GreaterThanThreshold")
        self.assertEqual(props["AlarmActions"],
                         {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], NO_VALUE]})
        return props

    def test_lambda_alarms(self):
        for metric in ("Errors", "Throttles"):
            props = self.alarm("AWS/Lambda", metric)
            self.assertEqual(props["Statistic"], "Sum")
            self.assertEqual(props["Threshold"], 0)
            self.assertEqual(props["Dimensions"], [{"Name": "FunctionName", "Value": {"Ref": FUNCTION}}])
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

    def transformed(self, http, rest, url):
        template = load_template()
        # What `sam package` / `sam deploy` put in CodeUri.
        template["Resources"][FUNCTION]["Properties"]["CodeUri"] = "s3://bucket/change-password.zip"
        values = {"EnableHttpApi": http, "EnableRestApi": rest, "EnableFunctionUrl": url,
                  "CognitoUserPoolId": "eu-west-1_AbCdEf123", "CognitoAppClientIds": "client1,client2"}
        for name in ("EnableHttpApi", "EnableRestApi", "EnableFunctionUrl"):
            template["Parameters"][name]["Default"] = values[name]
        return sam_transform(template, values, _NoManagedPolicies())

    def test_every_combination_transforms_and_lints_clean(self):
        from cfnlint.api import lint_file
        with tempfile.TemporaryDirectory() as tmp:
            for combo in itertools.product(["true", "false"], repeat=3):
                with self.subTest(EnableHttpApi=combo[0], EnableRestApi=combo[1], EnableFunctionUrl=combo[2]):
                    out = self.transformed(*combo)
                    resources = out["Resources"]
                    # Our role only: SAM generated no role and attached no managed policy.
                    roles = [k for k, v in resources.items() if v["Type"] == "AWS::IAM::Role"]
                    self.assertEqual(roles, ["ChangePasswordRole"])
                    self.assertNotIn("ManagedPolicyArns", resources["ChangePasswordRole"]["Properties"])
                    # Every front-door resource keeps its condition through the transform.
                    for name, res in resources.items():
                        if res["Type"].startswith(("AWS::ApiGateway::", "AWS::ApiGatewayV2::", "AWS::Lambda::Url")):
                            self.assertIn(res.get("Condition"), {"HttpApiEnabled", "RestApiEnabled", "FunctionUrlEnabled"}, name)
                    # The REST route carries the Cognito authorizer.
                    body = resources["RestApi"]["Properties"]["Body"]
                    self.assertEqual(body["paths"][ROUTE_PATH]["post"]["security"], [{"CognitoAuthorizer": []}])
                    scheme = body["components"]["securitySchemes"]["CognitoAuthorizer"]
                    self.assertEqual(scheme["x-amazon-apigateway-authtype"], "cognito_user_pools")
                    path = pathlib.Path(tmp, "-".join(combo) + ".json")
                    path.write_text(json.dumps(out))
                    matches = lint_file(path, {"regions": ["eu-west-1"]})
                    self.assertEqual([str(m) for m in matches], [])


if __name__ == "__main__":
    unittest.main()
