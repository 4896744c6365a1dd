//! Extractors: who is calling (`Caller`), a JSON body with problem+json rejections (`AppJson`),
//! and the request id.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::audit::AuditEntry;
use crate::auth::{Role, TokenError};
use crate::domain::uscc::Uscc;
use crate::error::{ApiError, redact_identifiers};
use crate::gateway::keys::Scope;
use crate::gateway::{ActiveKey, Admission};
use crate::state::AppState;
use crate::store::Visibility;

/// The authenticated caller of a request. Built only from a verified token (or its absence),
/// so handlers cannot construct a more privileged caller than the credentials prove.
#[derive(Clone, Debug)]
pub enum Caller {
    /// No credentials: the public view.
    Anonymous,
    /// A data-providing department of this node's region.
    Provider {
        /// Token subject.
        sub: String,
        /// The department the token is bound to.
        dept: Uscc,
    },
    /// A supervisor of this node.
    Supervisor {
        /// Token subject.
        sub: String,
    },
    /// An administrator of this node.
    Admin {
        /// Token subject.
        sub: String,
    },
    /// A third party or platform with an API key, admitted by the gateway.
    ApiKey {
        /// The admitted key.
        key: Arc<ActiveKey>,
    },
}

impl Caller {
    /// What this caller may read.
    pub fn visibility(&self) -> Visibility {
        match self {
            Caller::Anonymous => Visibility::Public,
            Caller::Provider { dept, .. } => Visibility::Government {
                dept: dept.as_str().to_owned(),
            },
            Caller::Supervisor { .. } | Caller::Admin { .. } => Visibility::Full,
            Caller::ApiKey { key } => {
                if key.key.scopes.contains(&Scope::RecordsReadShared)
                    && key.key.holder_is_government()
                {
                    Visibility::Shared
                } else {
                    Visibility::Public
                }
            }
        }
    }

    /// Kind, for spans and the audit trail.
    pub fn kind(&self) -> &'static str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::Provider { .. } => "provider",
            Caller::Supervisor { .. } => "supervisor",
            Caller::Admin { .. } => "admin",
            Caller::ApiKey { .. } => "api_key",
        }
    }

    /// Id, for the audit trail and record history: `sub` plus, for providers, the department.
    pub fn actor_id(&self) -> String {
        match self {
            Caller::Anonymous => "anonymous".to_owned(),
            Caller::Provider { sub, dept } => format!("{sub}@{}", dept.as_str()),
            Caller::Supervisor { sub } | Caller::Admin { sub } => sub.clone(),
            Caller::ApiKey { key } => {
                format!("key:{}@{}", key.key.id, key.key.holder_uscc.as_str())
            }
        }
    }

    /// Whether reads by this caller touch non-public data (and so are audited). Public reads
    /// with a key are attributed through the key's usage counters instead.
    pub fn reads_non_public(&self) -> bool {
        match self {
            Caller::Anonymous => false,
            Caller::ApiKey { .. } => self.visibility() != Visibility::Public,
            _ => true,
        }
    }

    /// The department of a provider, or 403 for any other caller.
    pub fn require_provider(&self) -> Result<&Uscc, ApiError> {
        match self {
            Caller::Provider { dept, .. } => Ok(dept),
            Caller::Anonymous => Err(ApiError::unauthenticated(
                "authentication_required",
                "this operation needs a bearer token of a data-providing department (role provider)",
                "此操作需要数据提供部门（provider 角色）的令牌",
            )),
            Caller::ApiKey { .. } => Err(key_not_accepted()),
            other => Err(ApiError::forbidden(
                "role_not_allowed",
                format!(
                    "role '{}' cannot write records; only the providing department (role provider) can, as it answers for its data",
                    other.kind()
                ),
                format!(
                    "角色“{}”不能写入记录，只有数据提供部门（provider）可以（谁提供谁负责）",
                    other.kind()
                ),
            )),
        }
    }

    /// An audit entry for an action by this caller.
    pub fn audit(&self, action: &str, resource: String, request_id: &RequestId) -> AuditEntry {
        AuditEntry {
            actor_kind: self.kind().to_owned(),
            actor_id: self.actor_id(),
            action: action.to_owned(),
            resource,
            outcome: "ok".to_owned(),
            request_id: request_id.0.clone(),
            detail: String::new(),
        }
    }
}

fn auth_failure(reason: &'static str, error: ApiError) -> ApiError {
    metrics::counter!("integrity_auth_failures_total", "reason" => reason).increment(1);
    error
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let span = tracing::Span::current();
        if let Some(admission) = parts.extensions.get::<Admission>() {
            span.record("caller.kind", "api_key");
            return Ok(Caller::ApiKey {
                key: admission.key.clone(),
            });
        }
        let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            span.record("caller.kind", "anonymous");
            return Ok(Caller::Anonymous);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                auth_failure(
                    "malformed",
                    ApiError::unauthenticated(
                        "malformed_authorization",
                        "the Authorization header must be `Bearer <token>`",
                        "Authorization 请求头格式应为 `Bearer <令牌>`",
                    ),
                )
            })?;
        let claims = state
            .tokens
            .verify(token, state.clock.now())
            .map_err(|error| match error {
                TokenError::Expired => auth_failure(
                    "expired",
                    ApiError::unauthenticated(
                        "token_expired",
                        "the bearer token has expired; obtain a new one",
                        "令牌已过期，请重新获取",
                    ),
                ),
                TokenError::Invalid(what) => {
                    let mut api = auth_failure(
                        "invalid",
                        ApiError::unauthenticated(
                            "invalid_token",
                            "the bearer token is not valid for this node (signature, algorithm, issuer or audience); obtain a token from this node's issuer",
                            "令牌无效（签名、算法、签发者或受众不符），请向本节点签发方重新获取",
                        ),
                    );
                    api.cause = Some(format!("token rejected: {what}"));
                    api
                }
            })?;
        let node_region = state.region.to_string();
        if claims.region != node_region {
            return Err(auth_failure(
                "wrong_region",
                ApiError::forbidden(
                    "wrong_region",
                    format!(
                        "the token was issued for region {} but this node serves region {node_region}",
                        claims.region
                    ),
                    format!(
                        "令牌签发给行政区划 {}，而本节点服务于 {node_region}",
                        claims.region
                    ),
                ),
            ));
        }
        span.record("caller.kind", claims.role.as_str());
        span.record("caller.region", claims.region.as_str());
        Ok(match claims.role {
            Role::Provider => {
                let dept = claims
                    .dept
                    .as_deref()
                    .and_then(|dept| Uscc::parse(dept).ok())
                    .ok_or_else(|| {
                        auth_failure(
                            "invalid",
                            ApiError::unauthenticated(
                                "invalid_token",
                                "a provider token must carry the department's USCC in the `dept` claim",
                                "provider 令牌必须在 dept 声明中携带部门统一社会信用代码",
                            ),
                        )
                    })?;
                // A provider is a department of this node's region: its USCC's registering
                // region (characters 3–8) must lie in this node's subtree. An abolished or
                // unknown registering code cannot be placed, so it is refused too.
                let in_region = dept
                    .registration_region()
                    .is_some_and(|registered| state.region.is_same_or_ancestor_of(registered));
                if !in_region {
                    return Err(auth_failure(
                        "dept_outside_region",
                        ApiError::forbidden(
                            "dept_outside_region",
                            format!(
                                "department {} is registered in region {}, outside this node's region {node_region}; it submits to the node of its own region",
                                dept.as_str(),
                                dept.region_part()
                            ),
                            format!(
                                "部门 {} 登记于行政区划 {}，不属于本节点 {node_region}，应向其所在地节点报送",
                                dept.as_str(),
                                dept.region_part()
                            ),
                        ),
                    ));
                }
                Caller::Provider {
                    sub: claims.sub,
                    dept,
                }
            }
            Role::Supervisor => Caller::Supervisor { sub: claims.sub },
            Role::Admin => Caller::Admin { sub: claims.sub },
        })
    }
}

/// The request id set by `SetRequestIdLayer` (echoed as `x-request-id`).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId(
            parts
                .headers
                .get("x-request-id")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("")
                .to_owned(),
        ))
    }
}

/// `Json` whose rejections are problem+json.
///
/// Hand-written rather than `#[from_request(via(axum::Json))]` for speed only: axum's `Json`
/// deserialises through `serde_path_to_error`, which tracks the path of every value; parsing
/// was ~8 % of a 1,000-bidder match request's CPU in a profile, much of it that tracking. Here the body is parsed with plain
/// `serde_json` first; only a body that fails is parsed again by `Json::from_bytes`, whose
/// rejection (with the path of the bad field) becomes the problem, exactly as before.
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                // What axum's `Json` accepts: application/json or application/<x>+json, with
                // any parameters.
                let essence = value.split(';').next().unwrap_or("").trim();
                essence.split_once('/').is_some_and(|(kind, sub)| {
                    kind.eq_ignore_ascii_case("application")
                        && (sub.eq_ignore_ascii_case("json")
                            || sub
                                .rsplit_once('+')
                                .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json")))
                })
            });
        if !json {
            return Err(ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::from_status(rejection.status()))?;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(AppJson(value)),
            Err(_) => match axum::Json::<T>::from_bytes(&bytes) {
                Ok(axum::Json(value)) => Ok(AppJson(value)),
                Err(rejection) => Err(ApiError::from(rejection)),
            },
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
            JsonRejection::JsonSyntaxError(error) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!(
                    "the body is not valid JSON: {}",
                    redact_identifiers(&error.body_text())
                ),
                "请求体不是合法的 JSON",
            ),
            JsonRejection::JsonDataError(error) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!(
                    "the body does not have the expected shape: {}",
                    redact_identifiers(&error.body_text())
                ),
                "请求体结构不符合接口定义，请对照 /docs 检查字段名称与类型",
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
            }
            other => ApiError::from_status(other.status()),
        }
    }
}

fn key_not_accepted() -> ApiError {
    ApiError::forbidden(
        "key_not_accepted",
        "this operation is not open to API keys; it needs a bearer token of this node's departments or staff",
        "此操作不对 API 密钥开放，需要本节点部门或工作人员的令牌",
    )
}

fn missing_scope(scope: Scope) -> ApiError {
    ApiError::forbidden(
        "missing_scope",
        format!(
            "the API key does not have scope '{}'; ask the node's administrator to grant it",
            scope.as_str()
        ),
        format!("API 密钥没有“{}”权限，请向节点管理员申请", scope.as_str()),
    )
}

fn api_key_required(scope: Scope) -> ApiError {
    ApiError::unauthenticated(
        "api_key_required",
        match scope {
            Scope::EvaluationsWrite => {
                "this operation needs an API key with scope 'evaluations:write' in the X-API-Key header"
            }
            Scope::FindingsWrite => {
                "this operation needs an API key with scope 'findings:write' in the X-API-Key header"
            }
            _ => "this operation needs an API key in the X-API-Key header",
        },
        "此操作需要在 X-API-Key 请求头中提供具有相应权限的 API 密钥",
    )
}

/// Who may call an endpoint. Checked by [`Authorized`] before the body is read, so a caller
/// without the right learns nothing from body validation.
pub trait Policy: Send + Sync + 'static {
    /// Accepts or refuses a caller.
    fn check(caller: &Caller) -> Result<(), ApiError>;
}

/// Reading records: everyone; a key needs `records:read:public` or `records:read:shared`.
pub struct ReadRecords;

impl Policy for ReadRecords {
    fn check(caller: &Caller) -> Result<(), ApiError> {
        match caller {
            Caller::ApiKey { key }
                if !key.key.scopes.contains(&Scope::RecordsReadPublic)
                    && !key.key.scopes.contains(&Scope::RecordsReadShared) =>
            {
                Err(missing_scope(Scope::RecordsReadPublic))
            }
            _ => Ok(()),
        }
    }
}

/// Writing records: a providing department's token only (谁提供谁负责); never a key.
pub struct WriteRecords;

impl Policy for WriteRecords {
    fn check(caller: &Caller) -> Result<(), ApiError> {
        caller.require_provider().map(|_| ())
    }
}

/// Third-party submissions: the agency's API key with `scope`.
fn key_with_scope(caller: &Caller, scope: Scope) -> Result<(), ApiError> {
    match caller {
        Caller::ApiKey { key } if key.key.scopes.contains(&scope) => Ok(()),
        Caller::ApiKey { .. } => Err(missing_scope(scope)),
        Caller::Anonymous => Err(api_key_required(scope)),
        _ => Err(ApiError::forbidden(
            "api_key_required",
            "third-party submissions are made with the agency's API key, not a staff token",
            "第三方报送须使用机构的 API 密钥，而非工作人员令牌",
        )),
    }
}

/// Submitting evaluations: a key with `evaluations:write`.
pub struct WriteEvaluations;

impl Policy for WriteEvaluations {
    fn check(caller: &Caller) -> Result<(), ApiError> {
        key_with_scope(caller, Scope::EvaluationsWrite)
    }
}

/// Submitting monitoring findings: a key with `findings:write`.
pub struct WriteFindings;

impl Policy for WriteFindings {
    fn check(caller: &Caller) -> Result<(), ApiError> {
        key_with_scope(caller, Scope::FindingsWrite)
    }
}

/// Node administration: an `admin` token.
pub struct Admins;

impl Policy for Admins {
    fn check(caller: &Caller) -> Result<(), ApiError> {
        match caller {
            Caller::Admin { .. } => Ok(()),
            Caller::ApiKey { .. } => Err(key_not_accepted()),
            Caller::Anonymous => Err(ApiError::unauthenticated(
                "authentication_required",
                "this operation needs a bearer token with role admin",
                "此操作需要 admin 角色的令牌",
            )),
            other => Err(ApiError::forbidden(
                "role_not_allowed",
                format!(
                    "role '{}' cannot administer API keys; role admin can",
                    other.kind()
                ),
                format!("角色“{}”不能管理 API 密钥，需要 admin 角色", other.kind()),
            )),
        }
    }
}

/// Key usage: an administrator, or a key holder asking about its own key (checked by the
/// handler, which knows the id).
pub struct AdminsOrKeys;

impl Policy for AdminsOrKeys {
    fn check(caller: &Caller) -> Result<(), ApiError> {
        match caller {
            Caller::ApiKey { .. } => Ok(()),
            other => Admins::check(other),
        }
    }
}

/// A caller that passed policy `P`.
pub struct Authorized<P: Policy>(pub Caller, pub PhantomData<P>);

impl<P: Policy> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        P::check(&caller)?;
        Ok(Authorized(caller, PhantomData))
    }
}
