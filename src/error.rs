//! `ApiError` -> RFC 9457 `application/problem+json`, with a stable snake_case `code` and the
//! message in English (`detail`) and Simplified Chinese (`detail_zh`).
//!
//! Store errors are mapped to HTTP here and nowhere else. For unexpected errors the client gets a
//! generic detail and the cause is logged once, inside the request span; never a cause, SQL, a
//! token or a personal ID in a response.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::record::FieldError;
use crate::store::StoreError;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "https://integrity-exchange.cn/problems/validation_failed",
    "title": "Unprocessable Entity",
    "status": 422,
    "code": "validation_failed",
    "detail": "the record has 1 invalid field",
    "detail_zh": "记录有 1 个字段不合格",
    "errors": [{"field": "subject_code", "code": "uscc_check_character",
                "detail": "check character is '4' but the code's checksum requires 'T'",
                "detail_zh": "统一社会信用代码校验位错误"}]
}))]
pub struct Problem {
    /// URI naming the problem type (stable; derived from `code`).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// HTTP reason phrase.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Stable machine-readable code; switch on this.
    pub code: String,
    /// What went wrong and what to do, in English.
    pub detail: String,
    /// The same in Simplified Chinese.
    pub detail_zh: String,
    /// Per-field or per-item problems, when there are several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemItem>,
}

/// One problem inside a request (a field, or a field of one batch item).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProblemItem {
    /// Index of the batch item, for batch requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Field name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Stable code.
    pub code: String,
    /// English message.
    pub detail: String,
    /// Chinese message.
    pub detail_zh: String,
}

impl ProblemItem {
    /// A field error, optionally of batch item `index`.
    pub fn from_field(error: &FieldError, index: Option<usize>) -> Self {
        Self {
            index,
            field: Some(error.field.to_owned()),
            code: error.code.to_owned(),
            detail: error.message.clone(),
            detail_zh: error.message_zh.clone(),
        }
    }
}

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// English message.
    pub detail: String,
    /// Chinese message.
    pub detail_zh: String,
    /// Item-level problems.
    pub errors: Vec<ProblemItem>,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after_secs: Option<u64>,
    /// Internal cause, logged and never sent.
    pub cause: Option<String>,
}

impl ApiError {
    /// A new error with both messages.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        detail: impl Into<String>,
        detail_zh: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            detail_zh: detail_zh.into(),
            errors: Vec::new(),
            retry_after_secs: None,
            cause: None,
        }
    }

    /// Adds item-level problems.
    pub fn with_items(mut self, errors: Vec<ProblemItem>) -> Self {
        self.errors = errors;
        self
    }

    /// 401: no or bad credentials.
    pub fn unauthenticated(code: &'static str, detail: &str, detail_zh: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail, detail_zh)
    }

    /// 403: authenticated but not allowed.
    pub fn forbidden(
        code: &'static str,
        detail: impl Into<String>,
        detail_zh: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail, detail_zh)
    }

    /// 404 for a resource, phrased for people.
    pub fn not_found(what: &str, what_zh: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} does not exist or is not visible to you"),
            format!("{what_zh}不存在或您无权查看"),
        )
    }

    /// 422 with field errors of one object.
    pub fn validation(errors: &[FieldError]) -> Self {
        let n = errors.len();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!(
                "the request has {n} invalid field{}",
                if n == 1 { "" } else { "s" }
            ),
            format!("请求有 {n} 个字段不合格"),
        )
        .with_items(
            errors
                .iter()
                .map(|e| ProblemItem::from_field(e, None))
                .collect(),
        )
    }

    /// 500 with a generic message; the cause is logged.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the node could not complete the request; it has been logged, please retry later",
            "节点无法完成请求，已记录错误，请稍后重试",
        );
        error.cause = Some(cause.to_string());
        error
    }

    /// A problem for a bare status produced outside a handler (routing, timeouts, limits).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, detail, detail_zh) = match status {
            StatusCode::NOT_FOUND => (
                "route_not_found",
                "no such endpoint; see /docs for the API",
                "没有这个接口，请查看 /docs",
            ),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                "this endpoint does not accept that HTTP method; see /docs",
                "该接口不支持此 HTTP 方法，请查看 /docs",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => (
                "body_too_large",
                "the request body is larger than the node accepts; split it (batches take up to 1,000 records)",
                "请求体超过节点上限，请拆分（批量最多 1000 条）",
            ),
            StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => (
                "request_timeout",
                "the request took too long and was stopped; nothing was written, retry later",
                "请求处理超时已中止，未写入任何数据，请稍后重试",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
                "请以 JSON 发送请求体，并设置 Content-Type: application/json",
            ),
            _ if status.is_client_error() => (
                "bad_request",
                "the request could not be processed",
                "请求无法处理",
            ),
            _ => (
                "internal_error",
                "the node could not complete the request; it has been logged, please retry later",
                "节点无法完成请求，已记录错误，请稍后重试",
            ),
        };
        Self::new(status, code, detail, detail_zh)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::not_found("the record", "该记录"),
            StoreError::Conflict(constraint) => {
                let mut api = ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    "a concurrent request changed the same data; retry the request",
                    "并发请求修改了相同数据，请重试",
                );
                api.cause = Some(format!("unique constraint {constraint}"));
                api
            }
            StoreError::VersionMismatch { expected, current } => ApiError::new(
                StatusCode::CONFLICT,
                "version_conflict",
                format!(
                    "the record is at version {current}, not {expected}; read it again and resend the change"
                ),
                format!("记录当前为第 {current} 版而非第 {expected} 版，请重新读取后再提交"),
            ),
            StoreError::InvalidState { status } => ApiError::new(
                StatusCode::CONFLICT,
                "invalid_record_state",
                format!("a record with status '{status}' cannot be changed this way"),
                format!("状态为“{status}”的记录不能执行此操作"),
            ),
            StoreError::Unavailable(cause) => {
                let mut api = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the node's database is unavailable; nothing was written, retry shortly",
                    "节点数据库暂不可用，未写入任何数据，请稍后重试",
                );
                api.retry_after_secs = Some(5);
                api.cause = Some(cause.to_string());
                api
            }
            other => ApiError::internal(format!(
                "{other}: {:?}",
                std::error::Error::source(&other).map(ToString::to_string)
            )),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            if self.status.is_server_error() {
                tracing::error!(error.code = self.code, error.cause = %cause, "request failed");
            } else {
                tracing::warn!(error.code = self.code, error.cause = %cause, "request refused");
            }
        }
        let problem = Problem {
            problem_type: format!("https://integrity-exchange.cn/problems/{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            code: self.code.to_owned(),
            detail: self.detail,
            detail_zh: self.detail_zh,
            errors: self.errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"integrity-exchange\""),
            );
        }
        response.extensions_mut().insert(ProblemCode(self.code));
        response
    }
}

/// The problem code of an error response, for metrics and the audit trail.
#[derive(Clone, Copy, Debug)]
pub struct ProblemCode(pub &'static str);

/// Removes anything that looks like a personal ID (a run of 15+ characters that is mostly
/// digits) from text that echoes client input, e.g. serde's messages.
pub fn redact_identifiers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let digits = run.chars().filter(char::is_ascii_digit).count();
        if run.chars().count() >= 15 && digits >= 14 {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_identifiers;

    #[test]
    fn personal_ids_are_redacted_from_echoed_text() {
        let text = "invalid type: string \"44512219900101123X\", expected u8";
        let redacted = redact_identifiers(text);
        assert!(!redacted.contains("19900101"), "{redacted}");
        assert!(redacted.contains("expected u8"));
        assert_eq!(redact_identifiers("line 1 column 20"), "line 1 column 20");
    }
}
