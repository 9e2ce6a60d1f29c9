//! Every error answer is JSON: `{"error": "..."}` with a 4xx or 5xx status.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An HTTP error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

impl From<mmindex::Error> for ApiError {
    fn from(e: mmindex::Error) -> ApiError {
        use mmindex::Error as E;
        let status = match &e {
            // The request's own image or id is at fault.
            E::Image { .. } | E::Records { .. } | E::InvalidConfig(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            // The index's state does not allow it (yet, or any more).
            E::NoCodebook | E::StalePreparedQuery { .. } => StatusCode::CONFLICT,
            E::WriterBusy | E::Locked { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("request worker failed: {e}"),
        )
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(r: axum::extract::rejection::BytesRejection) -> ApiError {
        ApiError::new(r.status(), r.body_text())
    }
}

/// Makes every error answer JSON: one made elsewhere than by [`ApiError`]
/// (axum's own: 405, a path that is not UTF-8, ...) gets its text, or the
/// status's reason when it has none, as `{"error": ...}`; its other headers
/// (`Allow`, `WWW-Authenticate`) stay.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let r = next.run(req).await;
    let is_error = r.status().is_client_error() || r.status().is_server_error();
    let is_json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !is_error || is_json {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    // Error texts are short; a longer one is cut rather than buffered.
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("error")
            .to_lowercase()
    } else {
        text
    };
    let body = serde_json::json!({ "error": message }).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}
