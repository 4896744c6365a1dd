//! Extractors: who is calling (`Caller`), a JSON body with problem+json rejections (`AppJson`),
//! and the request id.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::audit::AuditEntry;
use crate::auth::{Role, TokenError};
use crate::domain::uscc::Uscc;
use crate::error::{ApiError, redact_identifiers};
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
        }
    }

    /// Kind, for spans and the audit trail.
    pub fn kind(&self) -> &'static str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::Provider { .. } => "provider",
            Caller::Supervisor { .. } => "supervisor",
            Caller::Admin { .. } => "admin",
        }
    }

    /// Id, for the audit trail and record history: `sub` plus, for providers, the department.
    pub fn actor_id(&self) -> String {
        match self {
            Caller::Anonymous => "anonymous".to_owned(),
            Caller::Provider { sub, dept } => format!("{sub}@{}", dept.as_str()),
            Caller::Supervisor { sub } | Caller::Admin { sub } => sub.clone(),
        }
    }

    /// Whether reads by this caller touch non-public data (and so are audited).
    pub fn reads_non_public(&self) -> bool {
        !matches!(self, Caller::Anonymous)
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
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

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
