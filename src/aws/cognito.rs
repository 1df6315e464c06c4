//! Cognito's `AdminUserGlobalSignOut`: after a committed change, the user's refresh tokens are
//! revoked (SPEC §7), with the same timeouts and retries as every other SDK client.

use crate::aws::clients::error_chain;
use crate::domain::sessions::{RefreshTokenRevoker, RevokeFailed, RevokeFuture};
use aws_sdk_cognitoidentityprovider::Client;

pub struct CognitoSignOut {
    client: Client,
    user_pool_id: String,
}

impl CognitoSignOut {
    pub fn new(client: Client, user_pool_id: String) -> Self {
        CognitoSignOut {
            client,
            user_pool_id,
        }
    }
}

impl RefreshTokenRevoker for CognitoSignOut {
    /// Cognito takes the user name, or the `sub` where user names are not aliases.
    fn revoke<'a>(&'a self, user_id: &'a str, username: Option<&'a str>) -> RevokeFuture<'a> {
        Box::pin(async move {
            self.client
                .admin_user_global_sign_out()
                .user_pool_id(&self.user_pool_id)
                .username(username.unwrap_or(user_id))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| RevokeFailed(error_chain(&e)))
        })
    }
}
