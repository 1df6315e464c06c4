"""Tests of scripts/iam_check.py, the evaluator of a template role's IAM statements against the
DynamoDB requests a program sent: the condition keys it computes from a request
(dynamodb:Attributes, Select, ReturnValues), IAM's operators (ForAllValues, ForAnyValue,
...IfExists, negated operators, a missing key), explicit denies, the template's intrinsics, the
command line, and the project's roles against requests written like the code's.

Run: .venv/bin/python -m unittest tests/iam_check_test.py -v
"""

import contextlib
import io
import json
import pathlib
import sys
import tempfile
import textwrap
import unittest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import iam_check  # noqa: E402

TABLE = "users-test"
KEY = {"UserId": {"S": "user-1"}}

# A template of one table and one role, the way template.yaml writes them.
TEMPLATE = textwrap.dedent("""\
    Parameters:
      ExistingUsersTableName:
        Type: String
        Default: ""
    Conditions:
      CreateTable: !Equals [!Ref ExistingUsersTableName, ""]
    Resources:
      UsersTable:
        Type: AWS::DynamoDB::Table
        Condition: CreateTable
        Properties:
          KeySchema:
            - {AttributeName: UserId, KeyType: HASH}
      Role:
        Type: AWS::IAM::Role
        Properties:
          Policies:
            - PolicyName: p
              PolicyDocument:
                Statement:
                  - Sid: Read
                    Effect: Allow
                    Action: dynamodb:GetItem
                    Resource: !If
                      - CreateTable
                      - !GetAtt UsersTable.Arn
                      - !Sub "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ExistingUsersTableName}"
                    Condition:
                      ForAllValues:StringEquals:
                        dynamodb:Attributes: [UserId, Email, Address]
                      StringEqualsIfExists:
                        dynamodb:Select: SPECIFIC_ATTRIBUTES
                  - Sid: Write
                    Effect: Allow
                    Action: [dynamodb:UpdateItem]
                    Resource: !If
                      - CreateTable
                      - !GetAtt UsersTable.Arn
                      - !Sub "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ExistingUsersTableName}"
                    Condition:
                      ForAllValues:StringEquals:
                        dynamodb:Attributes: [UserId, Counter, Address]
                      StringEqualsIfExists:
                        dynamodb:ReturnValues: NONE
                  - Sid: NeverTheCounterOfAdmin
                    Effect: Deny
                    Action: dynamodb:UpdateItem
                    Resource: "*"
                    Condition:
                      ForAnyValue:StringEquals:
                        dynamodb:LeadingKeys: [admin]
    """)


def stack(**parameters):
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp, "template.yaml")
        path.write_text(TEMPLATE)
        template = iam_check.load_template(path)
    return iam_check.Stack(template, parameters, table_name=TABLE)


def decide(operation, body, stack_=None):
    st = stack_ or stack()
    request = iam_check.make_request(operation, {"TableName": TABLE, "Key": KEY, **body}, st)
    return request, iam_check.evaluate(st.role_statements("Role"), request)


class AttributesTest(unittest.TestCase):
    """dynamodb:Attributes: every top-level name a request names."""

    def test_key_projection_update_and_condition_names(self):
        body = {"Key": KEY, "ProjectionExpression": "Email, Address.City",
                "UpdateExpression": "SET Counter = if_not_exists(Counter, :zero) + :one REMOVE Old",
                "ConditionExpression": "attribute_exists(UserId) AND size(Tags) < :max AND Version BETWEEN :a AND :b"}
        self.assertEqual(iam_check.request_attributes(body),
                         ["Address", "Counter", "Email", "Old", "Tags", "UserId", "Version"])

    def test_names_are_resolved(self):
        body = {"Key": KEY, "UpdateExpression": "SET #s = :v", "ConditionExpression": "#s <> :v",
                "ExpressionAttributeNames": {"#s": "Status"}}
        self.assertEqual(iam_check.request_attributes(body), ["Status", "UserId"])

    def test_an_unknown_name_is_an_error(self):
        with self.assertRaises(iam_check.CheckError):
            iam_check.request_attributes({"Key": KEY, "UpdateExpression": "SET #s = :v"})

    def test_a_nested_path_counts_as_its_top_level_name(self):
        body = {"Key": KEY,
                "UpdateExpression": "SET Deliveries.Claims.#a = :until, List[2].Name = :n REMOVE Deliveries.Sent.#a",
                "ConditionExpression": "attribute_not_exists(Deliveries.Sent.#a) AND #m.Inner[0] = :x",
                "ExpressionAttributeNames": {"#a": "someone@example.com", "#m": "Map"}}
        self.assertEqual(iam_check.request_attributes(body), ["Deliveries", "List", "Map", "UserId"])

    def test_legacy_parameters(self):
        body = {"Key": KEY, "AttributesToGet": ["Email"], "Expected": {"Version": {}},
                "AttributeUpdates": {"Counter": {}}}
        self.assertEqual(iam_check.request_attributes(body), ["Counter", "Email", "UserId", "Version"])

    def test_an_expression_it_cannot_read_is_an_error(self):
        with self.assertRaises(iam_check.CheckError):
            iam_check.request_attributes({"Key": KEY, "UpdateExpression": "SET A = :a; DROP B"})


class ConditionKeysTest(unittest.TestCase):
    def test_select_and_return_values(self):
        st = stack()
        get = iam_check.make_request("GetItem", {"TableName": TABLE, "Key": KEY}, st)
        self.assertEqual(get.context["dynamodb:select"], "ALL_ATTRIBUTES")
        self.assertNotIn("dynamodb:returnvalues", get.context)
        get = iam_check.make_request("GetItem", {"TableName": TABLE, "Key": KEY, "ProjectionExpression": "Email"}, st)
        self.assertEqual(get.context["dynamodb:select"], "SPECIFIC_ATTRIBUTES")
        update = iam_check.make_request("DynamoDB_20120810.UpdateItem", {"TableName": TABLE, "Key": KEY}, st)
        self.assertEqual((update.operation, update.context["dynamodb:returnvalues"]), ("UpdateItem", "NONE"))
        self.assertNotIn("dynamodb:select", update.context)
        self.assertEqual(update.context["dynamodb:leadingkeys"], ["user-1"])
        self.assertEqual(update.resource, "arn:aws:dynamodb:eu-west-1:123456789012:table/users-test")


class OperatorTest(unittest.TestCase):
    """IAM's condition operators, one key at a time."""

    def holds(self, operator, key, values, context):
        return iam_check.condition_holds(operator, key, values, context)[0]

    def test_for_all_values_with_an_empty_or_absent_set_holds(self):
        self.assertTrue(self.holds("ForAllValues:StringEquals", "dynamodb:Attributes", ["A"],
                                   {"dynamodb:attributes": []}))
        self.assertTrue(self.holds("ForAllValues:StringEquals", "dynamodb:Attributes", ["A"], {}))

    def test_for_all_values_needs_every_value_in_the_list(self):
        context = {"dynamodb:attributes": ["A", "B"]}
        self.assertTrue(self.holds("ForAllValues:StringEquals", "dynamodb:Attributes", ["A", "B", "C"], context))
        self.assertFalse(self.holds("ForAllValues:StringEquals", "dynamodb:Attributes", ["A"], context))
        # Case-sensitive, as StringEquals is; the key's name is not.
        self.assertFalse(self.holds("ForAllValues:StringEquals", "DynamoDB:Attributes", ["a", "b"], context))
        self.assertTrue(self.holds("ForAllValues:StringEqualsIgnoreCase", "DynamoDB:Attributes", ["a", "b"], context))
        self.assertTrue(self.holds("ForAllValues:StringLike", "dynamodb:Attributes", ["*"], context))

    def test_for_any_value_with_an_empty_set_does_not_hold(self):
        self.assertFalse(self.holds("ForAnyValue:StringEquals", "dynamodb:Attributes", ["A"],
                                    {"dynamodb:attributes": []}))
        self.assertTrue(self.holds("ForAnyValue:StringEquals", "dynamodb:Attributes", ["A"],
                                   {"dynamodb:attributes": ["B", "A"]}))

    def test_a_missing_key(self):
        self.assertFalse(self.holds("StringEquals", "dynamodb:ReturnValues", "NONE", {}))
        self.assertTrue(self.holds("StringEqualsIfExists", "dynamodb:ReturnValues", "NONE", {}))
        self.assertTrue(self.holds("StringNotEquals", "dynamodb:ReturnValues", "ALL_NEW", {}))
        self.assertTrue(self.holds("Null", "dynamodb:Select", "true", {}))
        self.assertFalse(self.holds("Null", "dynamodb:Select", "true", {"dynamodb:select": "ALL_ATTRIBUTES"}))

    def test_single_valued_operators(self):
        context = {"dynamodb:returnvalues": "UPDATED_NEW"}
        self.assertTrue(self.holds("StringEqualsIfExists", "dynamodb:ReturnValues", ["NONE", "UPDATED_NEW"], context))
        self.assertFalse(self.holds("StringEqualsIfExists", "dynamodb:ReturnValues", "NONE", context))
        self.assertTrue(self.holds("StringNotEquals", "dynamodb:ReturnValues", ["ALL_NEW", "ALL_OLD"], context))
        self.assertTrue(self.holds("StringLike", "dynamodb:ReturnValues", "UPDATED_*", context))

    def test_what_it_does_not_evaluate_never_allows(self):
        # A single-valued operator on a multivalued key, an unknown key, an unknown operator.
        self.assertFalse(self.holds("StringEquals", "dynamodb:Attributes", ["A"], {"dynamodb:attributes": ["A"]}))
        self.assertFalse(self.holds("StringEqualsIfExists", "aws:SourceIp", ["10.0.0.1"], {}))
        self.assertFalse(self.holds("NumericLessThan", "dynamodb:Select", "1", {"dynamodb:select": "x"}))


class DecisionTest(unittest.TestCase):
    def test_allowed(self):
        request, decision = decide("UpdateItem", {"UpdateExpression": "ADD Counter :one",
                                                  "ConditionExpression": "attribute_exists(UserId)"})
        self.assertTrue(decision.allowed, decision.reasons)
        self.assertEqual(decision.reasons, ["allowed by Write"])
        _, decision = decide("GetItem", {"ProjectionExpression": "Email, Address.Street"})
        self.assertTrue(decision.allowed, decision.reasons)

    def test_an_extra_attribute_is_denied(self):
        request, decision = decide("UpdateItem", {"UpdateExpression": "ADD Counter :one SET Email = :e"})
        self.assertFalse(decision.allowed)
        self.assertEqual(request.attributes, ["Counter", "Email", "UserId"])
        self.assertEqual(len(decision.reasons), 1)
        self.assertIn("Write", decision.reasons[0])
        self.assertIn("not in the policy's values: Email", decision.reasons[0])
        # An attribute named only in the condition counts too.
        _, decision = decide("UpdateItem", {"UpdateExpression": "ADD Counter :one",
                                            "ConditionExpression": "Email = :e"})
        self.assertFalse(decision.allowed)

    def test_return_values_all_new_is_denied(self):
        _, decision = decide("UpdateItem", {"UpdateExpression": "ADD Counter :one", "ReturnValues": "ALL_NEW"})
        self.assertFalse(decision.allowed)
        self.assertIn("dynamodb:ReturnValues is ALL_NEW", decision.reasons[0])
        _, decision = decide("UpdateItem", {"UpdateExpression": "ADD Counter :one", "ReturnValues": "NONE"})
        self.assertTrue(decision.allowed, decision.reasons)

    def test_a_get_item_without_a_projection_is_denied(self):
        request, decision = decide("GetItem", {})
        self.assertEqual(request.attributes, ["UserId"])
        self.assertFalse(decision.allowed)
        self.assertIn("dynamodb:Select is ALL_ATTRIBUTES", decision.reasons[0])

    def test_no_statement_for_the_action_or_the_table(self):
        _, decision = decide("DeleteItem", {})
        self.assertFalse(decision.allowed)
        self.assertIn("no Allow statement for dynamodb:DeleteItem", decision.reasons[0])
        st = stack()
        request = iam_check.make_request("GetItem", {"TableName": "other", "Key": KEY, "ProjectionExpression": "Email"}, st)
        self.assertFalse(iam_check.evaluate(st.role_statements("Role"), request).allowed)
        request = iam_check.make_request("BatchGetItem", {"TableName": TABLE}, st)
        self.assertFalse(iam_check.evaluate(st.role_statements("Role"), request).allowed)

    def test_an_explicit_deny_wins(self):
        st = stack()
        request = iam_check.make_request("UpdateItem", {"TableName": TABLE, "Key": {"UserId": {"S": "admin"}},
                                                        "UpdateExpression": "ADD Counter :one"}, st)
        decision = iam_check.evaluate(st.role_statements("Role"), request)
        self.assertFalse(decision.allowed)
        self.assertEqual(decision.reasons, ["NeverTheCounterOfAdmin: explicitly denied"])

    def test_an_existing_table_through_the_parameters(self):
        st = stack(ExistingUsersTableName="users-prod")
        request = iam_check.make_request("GetItem", {"TableName": "users-prod", "Key": KEY,
                                                     "ProjectionExpression": "Email"}, st)
        self.assertTrue(iam_check.evaluate(st.role_statements("Role"), request).allowed)
        request = iam_check.make_request("GetItem", {"TableName": TABLE, "Key": KEY,
                                                     "ProjectionExpression": "Email"}, st)
        self.assertFalse(iam_check.evaluate(st.role_statements("Role"), request).allowed)
        with self.assertRaises(iam_check.CheckError):
            stack(NoSuchParameter="x")


def write_lines(directory, name, records):
    path = pathlib.Path(directory, name)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


class CommandLineTest(unittest.TestCase):
    def run_cli(self, *args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = iam_check.main([str(a) for a in args])
        return status, out.getvalue(), err.getvalue()

    def test_exit_status_and_report(self):
        with tempfile.TemporaryDirectory() as tmp:
            template = pathlib.Path(tmp, "template.yaml")
            template.write_text(TEMPLATE)
            good = {"operation": "GetItem", "body": {"TableName": TABLE, "Key": KEY, "ProjectionExpression": "Email"}}
            bad = {"operation": "UpdateItem", "body": {"TableName": TABLE, "Key": KEY,
                                                       "UpdateExpression": "SET Email = :e"}}
            allowed = write_lines(tmp, "allowed.jsonl", [good])
            status, out, _ = self.run_cli("--template", template, "--role", "Role", "--requests", allowed)
            self.assertEqual(status, 0, out)
            self.assertIn("1 requests, 1 allowed, 0 denied", out)
            denied = write_lines(tmp, "denied.jsonl", [good, bad])
            status, out, _ = self.run_cli("--template", template, "--role", "Role", "--requests", denied)
            self.assertEqual(status, 1)
            self.assertIn("DENIED line 2: UpdateItem", out)
            self.assertIn("dynamodb:Attributes = ['Email', 'UserId']", out)
            self.assertIn("Email", out.split("DENIED", 1)[1])
            # No request at all proves nothing; an unknown role or a broken line is an error.
            empty = write_lines(tmp, "empty.jsonl", [])
            self.assertEqual(self.run_cli("--template", template, "--role", "Role", "--requests", empty)[0], 2)
            self.assertEqual(self.run_cli("--template", template, "--role", "Nope", "--requests", allowed)[0], 2)
            broken = pathlib.Path(tmp, "broken.jsonl")
            broken.write_text("{not json\n")
            self.assertEqual(self.run_cli("--template", template, "--role", "Role", "--requests", broken)[0], 2)

    def test_help_names_the_cli(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), self.assertRaises(SystemExit):
            iam_check.main(["--help"])
        for word in ("--template", "--role", "--requests", "ChangePasswordRole", "operation", "body"):
            self.assertIn(word, out.getvalue())


class ProjectRolesTest(unittest.TestCase):
    """The project's roles against requests written the way its stores send them (the Rust
    tests record the real ones and run the command line on them)."""

    NOT_LOCKED = "(attribute_not_exists(LockedUntil) OR LockedUntil <= :now)"

    def decide(self, role, operation, body, **parameters):
        st = iam_check.Stack(iam_check.load_template(ROOT / "template.yaml"), parameters, table_name=TABLE)
        request = iam_check.make_request(operation, {"TableName": TABLE, "Key": KEY, **body}, st)
        return iam_check.evaluate(st.role_statements(role), request)

    def test_change_password_role(self):
        get = {"ConsistentRead": True, "ExpressionAttributeNames": {"#status": "Status"},
               "ProjectionExpression": "UserId, PasswordHash, PasswordVersion, AccountType, #status, Email, "
                                       "Username, TokensValidAfter, PasswordChangeSession, LockedUntil"}
        self.assertTrue(self.decide("ChangePasswordRole", "GetItem", get).allowed)
        reserve = {"UpdateExpression": "ADD FailedPasswordAttempts :one, ConsecutiveFailedAttempts :one "
                                       "REMOVE PasswordChangeEvent",
                   "ConditionExpression": f"attribute_exists(UserId) AND {self.NOT_LOCKED} AND "
                                          "attribute_not_exists(SignInRequiredAfter)",
                   "ReturnValues": "UPDATED_NEW"}
        self.assertTrue(self.decide("ChangePasswordRole", "UpdateItem", reserve).allowed)
        change = {"UpdateExpression": "SET PasswordHash = :new, PasswordVersion = :version, "
                                      "TokensValidAfter = :now, LastPasswordChange = :last REMOVE LockedUntil",
                  "ConditionExpression": "PasswordHash = :expectedHash AND attribute_not_exists(PasswordVersion)"}
        self.assertTrue(self.decide("ChangePasswordRole", "UpdateItem", change).allowed)
        # The existing-table case resolves through the parameter.
        self.assertTrue(self.decide("ChangePasswordRole", "UpdateItem", change, ExistingUsersTableName=TABLE,
                                    ExistingUsersTableStreamArn="x").allowed)
        # What it must not do: the whole item, a notice's progress, provisioning's attributes,
        # the item back from a write.
        self.assertFalse(self.decide("ChangePasswordRole", "GetItem", {"ConsistentRead": True}).allowed)
        self.assertFalse(self.decide("ChangePasswordRole", "GetItem", {"ProjectionExpression": "NotificationEmails"}).allowed)
        self.assertFalse(self.decide("ChangePasswordRole", "UpdateItem", {"UpdateExpression": "SET Email = :e"}).allowed)
        self.assertFalse(self.decide("ChangePasswordRole", "UpdateItem",
                                     {**change, "ReturnValues": "ALL_OLD"}).allowed)
        self.assertFalse(self.decide("ChangePasswordRole", "PutItem", {"Item": KEY}).allowed)

    def test_token_authorizer_role(self):
        marker = {"ConsistentRead": True, "ProjectionExpression": "TokensValidAfter, PasswordChangeSession"}
        self.assertTrue(self.decide("TokenAuthorizerRole", "GetItem", marker).allowed)
        self.assertFalse(self.decide("TokenAuthorizerRole", "GetItem", {"ProjectionExpression": "PasswordHash"}).allowed)
        self.assertFalse(self.decide("TokenAuthorizerRole", "UpdateItem", {"UpdateExpression": "SET TokensValidAfter = :t"}).allowed)

    def test_change_notice_role_needs_its_parameters(self):
        with self.assertRaises(iam_check.CheckError):
            self.decide("ChangeNoticeRole", "GetItem", {"ProjectionExpression": "Email"})
        notice = dict(NoticeFrom="n@example.com", NoticeHelpUrl="https://help.example.com", NoticeContact="c")
        claim = {"UpdateExpression": "SET NoticeDeliveries.Claims.#a = :until REMOVE PasswordChangeEvent",
                 "ConditionExpression": "NoticeDeliveries.Version = :v AND attribute_not_exists(NoticeDeliveries.Sent.#a)",
                 "ExpressionAttributeNames": {"#a": "someone@example.com"}}
        self.assertTrue(self.decide("ChangeNoticeRole", "UpdateItem", claim, **notice).allowed)
        self.assertFalse(self.decide("ChangeNoticeRole", "GetItem", {"ProjectionExpression": "PasswordHash"},
                                     **notice).allowed)


if __name__ == "__main__":
    unittest.main()
