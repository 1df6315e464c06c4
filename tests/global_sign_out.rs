//! With COGNITO_USER_POOL_ID set, a committed change revokes the user's refresh tokens
//! (`AdminUserGlobalSignOut`, SPEC §7), against moto's Cognito; a failure never fails the change.

mod support;

use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType};
use support::*;

/// A pool with the demo user signed in: (pool id, client id, refresh token).
async fn signed_in_pool(sdk: &aws_config::SdkConfig) -> (String, String, String) {
    let cognito = Cognito::new(sdk);
    let pool = cognito
        .create_user_pool()
        .pool_name(format!("pool-{}", std::process::id()))
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("app")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    cognito
        .admin_create_user()
        .user_pool_id(&pool)
        .username("demo")
        .send()
        .await
        .unwrap();
    cognito
        .admin_set_user_password()
        .user_pool_id(&pool)
        .username("demo")
        .password("Pool-password-1!")
        .permanent(true)
        .send()
        .await
        .unwrap();
    let refresh = cognito
        .admin_initiate_auth()
        .user_pool_id(&pool)
        .client_id(&client)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "demo")
        .auth_parameters("PASSWORD", "Pool-password-1!")
        .send()
        .await
        .unwrap()
        .authentication_result
        .unwrap()
        .refresh_token
        .unwrap();
    (pool, client, refresh)
}

async fn refresh_works(sdk: &aws_config::SdkConfig, pool: &str, client: &str, token: &str) -> bool {
    Cognito::new(sdk)
        .admin_initiate_auth()
        .user_pool_id(pool)
        .client_id(client)
        .auth_flow(AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", token)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn a_committed_change_revokes_the_users_refresh_tokens() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let (pool, client, refresh) = signed_in_pool(&sdk).await;
    assert!(refresh_works(&sdk, &pool, &client, &refresh).await);
    let app = change_password::app::build(
        &config(&table, &[("COGNITO_USER_POOL_ID", pool.as_str())]),
        &sdk,
    )
    .unwrap();
    // A refused change revokes nothing.
    let mut wrong = load_event("apigw-http-jwt.json");
    wrong["isBase64Encoded"] = serde_json::json!(false);
    wrong["body"] = serde_json::json!(
        serde_json::json!({"CurrentPassword": "not it", "NewPassword": DEMO_NEW}).to_string()
    );
    invoke(&app, wrong, "wrong")
        .await
        .assert_code(400, "CurrentPasswordIncorrect");
    assert!(refresh_works(&sdk, &pool, &client, &refresh).await);
    // The sample's token names the Cognito user `demo`: its refresh tokens end with the change.
    let a = invoke(&app, load_event("apigw-http-jwt.json"), "change").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(!refresh_works(&sdk, &pool, &client, &refresh).await);
}

#[tokio::test]
async fn a_failed_revocation_never_fails_the_change() {
    let sdk = sdk().await;
    let table = new_table(&sdk).await;
    seed_demo(&sdk, &table, DEMO_CURRENT).await;
    let app = change_password::app::build(
        &config(&table, &[("COGNITO_USER_POOL_ID", "eu-west-1_NoSuchPool")]),
        &sdk,
    )
    .unwrap();
    let a = invoke(&app, load_event("apigw-http-jwt.json"), "change").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        n(&item(&sdk, &table, DEMO_SUB).await, "PasswordVersion"),
        Some(1)
    );
}
