//! Request extractors whose rejections are [`AppError`]s, so every error of the API, a body
//! over the limit or a malformed query string included, has the documented JSON shape.

use super::error::AppError;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// Largest accepted request body; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The raw request body, at most [`MAX_BODY_BYTES`] (the router's `DefaultBodyLimit`).
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        Bytes::from_request(request, state)
            .await
            .map(Body)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge(format!(
                        "the request body is larger than {MAX_BODY_BYTES} bytes"
                    ))
                } else {
                    AppError::BadRequest(format!("cannot read the request body: {rejection}"))
                }
            })
    }
}

/// A query string parsed into `T`; a bad one names its field.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(query)| ApiQuery(query))
            .map_err(|rejection: QueryRejection| AppError::BadRequest(rejection.body_text()))
    }
}
