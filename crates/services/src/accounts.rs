//! Staff and system accounts. Admins create them and grant roles within their own
//! jurisdiction: nobody can hand out access to units they do not cover themselves.

use outbreak_domain::{Invalid, Permission, Role, UnitCode, now};
use outbreak_store::{Account, AccountKind, ApiToken, NewAccount};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{hash_password, random_token, sha256};
use crate::{Caller, Result, ServiceError, Services};

/// An account as an admin types it in.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountRequest {
    pub username: String,
    pub display_name: String,
    /// Required for people, absent for systems.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub system: bool,
    pub grants: Vec<GrantRequest>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GrantRequest {
    pub role: String,
    pub unit: String,
}

/// A new API token: the secret is shown once and never stored.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub id: Uuid,
    pub secret: String,
}

fn check_username(username: &str) -> Result<String> {
    let username = username.trim().to_lowercase();
    let valid = (3..=40).contains(&username.len())
        && username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(username)
    } else {
        Err(Invalid::new("username", "invalid_format", "username must be 3 to 40 letters, digits, '.', '_' or '-'")
            .into())
    }
}

impl Services {
    /// Checks each grant names a role and a unit inside the caller's jurisdiction.
    async fn checked_grants(&self, caller: &Caller, grants: &[GrantRequest]) -> Result<Vec<(Role, UnitCode)>> {
        let jurisdiction = self.authorize(caller, Permission::ManageAccounts)?;
        let mut checked = Vec::with_capacity(grants.len());
        for (i, grant) in grants.iter().enumerate() {
            let role = Role::parse(&format!("grants[{i}].role"), &grant.role)?;
            let code = UnitCode::parse(&format!("grants[{i}].unit"), &grant.unit)?;
            let unit = self.store.unit(&code).await?.ok_or_else(|| {
                Invalid::new(format!("grants[{i}].unit"), "unknown_unit", format!("{code} is not a known unit code"))
            })?;
            if !jurisdiction.covers(&unit.path) {
                return Err(ServiceError::Forbidden(format!("{} is outside your jurisdiction", unit.name)));
            }
            checked.push((role, code));
        }
        Ok(checked)
    }

    pub async fn create_account(&self, caller: &Caller, request: &AccountRequest) -> Result<Account> {
        let grants = self.checked_grants(caller, &request.grants).await?;
        let username = check_username(&request.username)?;
        let display_name = outbreak_domain::error::text_field("display_name", &request.display_name, 100, true)?;
        let (kind, password_hash) = match (request.system, request.password.as_deref()) {
            (true, None) => (AccountKind::System, None),
            (true, Some(_)) => {
                return Err(Invalid::new(
                    "password",
                    "not_allowed",
                    "system accounts sign in with API tokens, not passwords",
                )
                .into());
            }
            (false, Some(password)) => (AccountKind::User, Some(hash_password(password)?)),
            (false, None) => return Err(Invalid::new("password", "required", "password is required").into()),
        };
        let id = Uuid::now_v7();
        let account =
            NewAccount { id, kind, username: username.clone(), display_name, password_hash, grants, created_at: now() };
        self.store.insert_account(&account).await.map_err(|e| match ServiceError::from(e) {
            ServiceError::Conflict { existing, .. } => ServiceError::Conflict {
                field: "username".into(),
                message: format!("the username {username} is taken"),
                existing,
            },
            other => other,
        })?;
        self.audit(caller, "account.create", "account", &id.to_string(), &username).await?;
        self.store.account(id).await?.ok_or_else(|| ServiceError::Internal("account vanished after insert".into()))
    }

    /// The accounts with a grant inside the caller's jurisdiction.
    pub async fn list_accounts(&self, caller: &Caller) -> Result<Vec<Account>> {
        let jurisdiction = self.authorize(caller, Permission::ManageAccounts)?;
        Ok(self.store.list_accounts(&jurisdiction.paths).await?)
    }

    /// An account the caller manages: every one of its grants lies in their jurisdiction.
    async fn managed_account(&self, caller: &Caller, id: Uuid) -> Result<Account> {
        let jurisdiction = self.authorize(caller, Permission::ManageAccounts)?;
        let account = self.store.account(id).await?.ok_or_else(|| ServiceError::NotFound("account".into()))?;
        if account.grants.iter().any(|g| !jurisdiction.covers(&g.unit_path)) {
            return Err(ServiceError::Forbidden("this account holds roles outside your jurisdiction".into()));
        }
        Ok(account)
    }

    pub async fn set_grants(&self, caller: &Caller, id: Uuid, grants: &[GrantRequest]) -> Result<Account> {
        self.managed_account(caller, id).await?;
        let grants = self.checked_grants(caller, grants).await?;
        self.store.set_grants(id, &grants).await?;
        self.forget_tokens();
        self.audit(caller, "account.grants", "account", &id.to_string(), "").await?;
        self.store.account(id).await?.ok_or_else(|| ServiceError::NotFound("account".into()))
    }

    pub async fn set_account_disabled(&self, caller: &Caller, id: Uuid, disabled: bool) -> Result<()> {
        self.managed_account(caller, id).await?;
        self.store.set_account_disabled(id, disabled).await?;
        self.forget_tokens();
        let action = if disabled { "account.disable" } else { "account.enable" };
        self.audit(caller, action, "account", &id.to_string(), "").await
    }

    /// Issues an API token for a system account.
    pub async fn issue_api_token(&self, caller: &Caller, account_id: Uuid, name: &str) -> Result<IssuedToken> {
        let account = self.managed_account(caller, account_id).await?;
        if account.kind != AccountKind::System {
            return Err(Invalid::new("account", "not_system", "API tokens are for system accounts").into());
        }
        let name = outbreak_domain::error::text_field("name", name, 100, true)?;
        let secret = format!("obt_{}", random_token(32));
        let id = Uuid::now_v7();
        self.store
            .insert_api_token(&ApiToken {
                id,
                account_id,
                name,
                hash: sha256(secret.as_bytes()),
                created_at: now(),
                revoked_at: None,
            })
            .await?;
        self.audit(caller, "token.create", "account", &account_id.to_string(), &id.to_string()).await?;
        Ok(IssuedToken { id, secret })
    }

    pub async fn api_tokens(&self, caller: &Caller, account_id: Uuid) -> Result<Vec<ApiToken>> {
        self.managed_account(caller, account_id).await?;
        Ok(self.store.api_tokens(account_id).await?)
    }

    pub async fn revoke_api_token(&self, caller: &Caller, account_id: Uuid, token_id: Uuid) -> Result<()> {
        self.managed_account(caller, account_id).await?;
        if !self.store.api_tokens(account_id).await?.iter().any(|t| t.id == token_id) {
            return Err(ServiceError::NotFound("token".into()));
        }
        self.store.revoke_api_token(token_id, now()).await?;
        self.forget_tokens();
        self.audit(caller, "token.revoke", "account", &account_id.to_string(), &token_id.to_string()).await
    }
}
