//! Provisioning: writes a user with an argon2id hash of a password read from stdin, using the
//! function's own hashing code and configuration (`USERS_TABLE`, `ARGON2_*`, `PEPPER_SECRET_ID`).
//! Works against real DynamoDB or a local emulator (`AWS_ENDPOINT_URL`).
//!
//!     printf '%s' 'the password' | seed-user --user-id <sub> [--email e] [--username u]
//!         [--account-type User|Service] [--status Active|Disabled] [--create-table]

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use change_password::aws::dynamodb_store::{KEY, put_record};
use change_password::aws::secrets_pepper::SecretsManagerPepper;
use change_password::config::Config;
use change_password::domain::account::{AccountRecord, AccountStatus, AccountType};
use change_password::domain::password_hashing::{Argon2Hasher, PasswordHashing};
use change_password::domain::password_policy::normalize;
use change_password::domain::pepper::{PepperSource, StaticPepper};
use std::io::Read;
use std::process::ExitCode;

struct Args {
    user_id: String,
    email: Option<String>,
    username: Option<String>,
    account_type: AccountType,
    status: AccountStatus,
    create_table: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        user_id: String::new(),
        email: None,
        username: None,
        account_type: AccountType::User,
        status: AccountStatus::Active,
        create_table: false,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--user-id" => parsed.user_id = value()?,
            "--email" => parsed.email = Some(value()?),
            "--username" => parsed.username = Some(value()?),
            "--account-type" => parsed.account_type = AccountType::parse(Some(&value()?)),
            "--status" => parsed.status = AccountStatus::parse(Some(&value()?)),
            "--create-table" => parsed.create_table = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if parsed.user_id.is_empty() {
        return Err("--user-id is required".into());
    }
    Ok(parsed)
}

const USAGE: &str = "usage: printf '%s' PASSWORD | seed-user --user-id ID [--email E] [--username U] \
[--account-type User|Service] [--status Active|Disabled] [--create-table]";

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("seed-user: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("seed-user: {e}");
            return ExitCode::from(2);
        }
    };
    let mut password = String::new();
    if std::io::stdin().read_to_string(&mut password).is_err() || password.is_empty() {
        eprintln!("seed-user: the password is read from stdin, and it is empty");
        return ExitCode::from(2);
    }
    // A trailing newline from `echo` is not part of the password.
    let password = normalize(password.strip_suffix('\n').unwrap_or(&password));
    let sdk = change_password::aws::clients::load().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    if args.create_table {
        let created = client
            .create_table()
            .table_name(&config.users_table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(KEY)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attribute definition"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(KEY)
                    .key_type(KeyType::Hash)
                    .build()
                    .expect("key schema"),
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => eprintln!("seed-user: created table {}", config.users_table),
            Err(e) if format!("{e:?}").contains("ResourceInUseException") => {}
            Err(e) => {
                eprintln!("seed-user: cannot create table {}: {e}", config.users_table);
                return ExitCode::FAILURE;
            }
        }
    }
    let pepper: Box<dyn PepperSource> = match &config.pepper_secret_id {
        Some(id) => Box::new(SecretsManagerPepper::new(
            aws_sdk_secretsmanager::Client::new(&sdk),
            id.clone(),
        )),
        None => Box::new(StaticPepper::none()),
    };
    let keys = match pepper.keys().await {
        Ok(k) => k,
        Err(e) => {
            eprintln!("seed-user: {e}");
            return ExitCode::FAILURE;
        }
    };
    let hash = match Argon2Hasher::new(config.argon2).hash(&password, &keys) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("seed-user: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut record = AccountRecord::new_user(args.user_id.clone(), hash);
    record.email = args.email;
    record.username = args.username;
    record.account_type = args.account_type;
    record.status = args.status;
    match put_record(&client, &config.users_table, &record).await {
        Ok(()) => {
            eprintln!(
                "seed-user: wrote user {} to {}",
                args.user_id, config.users_table
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seed-user: {e}");
            ExitCode::FAILURE
        }
    }
}
