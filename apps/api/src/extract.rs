//! Request extractors that answer every bad input with the error envelope
//! and name the offending field: actix's own extractors answer in plain text.

use std::{future::Future, pin::Pin};

use actix_web::{
    FromRequest, HttpMessage, HttpRequest, dev::Payload, error::PayloadError, http::StatusCode, web,
};
use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use tenancy::{Actor, FieldError, ValidationErrors};

use crate::{credentials::AuthOutcome, error::ApiError};

/// The largest request body accepted (413 above it).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON object body deserialized into `T`.
///
/// Refuses, each with a 400 in the error envelope: a content type other than
/// `application/json`, malformed JSON, a body that is not an object, and
/// fields of the wrong type, unknown or missing (naming the field). A body
/// over [`MAX_BODY_BYTES`] is a 413.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = check_json_content_type(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            content_type?;
            let bytes = body.await.map_err(|e| match e.as_error::<PayloadError>() {
                Some(PayloadError::Overflow) => payload_too_large(),
                _ => ApiError::bad_request(format!("The request body could not be read: {e}")),
            })?;
            parse_object(&bytes).map(JsonBody)
        })
    }
}

/// The largest body of a bulk request (`POST /leads/batch`: up to 1,000
/// leads of a few KiB each).
pub const MAX_BULK_BODY_BYTES: usize = 8 * 1024 * 1024;

/// A JSON object body as [`JsonBody`] takes it, up to
/// [`MAX_BULK_BODY_BYTES`] instead.
#[derive(Debug)]
pub struct BulkJsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for BulkJsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = check_json_content_type(req);
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut stream = payload.take();
        Box::pin(async move {
            content_type?;
            if declared.is_some_and(|n| n > MAX_BULK_BODY_BYTES) {
                return Err(too_large(MAX_BULK_BODY_BYTES));
            }
            let mut bytes = web::BytesMut::with_capacity(declared.unwrap_or(0));
            while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
                let chunk = chunk.map_err(|e| {
                    ApiError::bad_request(format!("The request body could not be read: {e}"))
                })?;
                if bytes.len() + chunk.len() > MAX_BULK_BODY_BYTES {
                    return Err(too_large(MAX_BULK_BODY_BYTES));
                }
                bytes.extend_from_slice(&chunk);
            }
            parse_object(&bytes).map(BulkJsonBody)
        })
    }
}

/// A JSON value deserialized into `T`, a 400 naming the field otherwise
/// (one item of a bulk body, checked on its own).
pub(crate) fn deserialize<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| field_error(&e.path().to_string(), &e.into_inner().to_string()))
}

/// A JSON object body that may be omitted: no body at all is `T::default()`;
/// a body that is sent follows every rule of [`JsonBody`].
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared_empty = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0");
        let no_body = declared_empty
            || (req
                .headers()
                .get(actix_web::http::header::CONTENT_TYPE)
                .is_none()
                && req
                    .headers()
                    .get(actix_web::http::header::CONTENT_LENGTH)
                    .is_none()
                && req
                    .headers()
                    .get(actix_web::http::header::TRANSFER_ENCODING)
                    .is_none());
        if no_body {
            return Box::pin(std::future::ready(Ok(OptionalJsonBody(T::default()))));
        }
        let inner = JsonBody::<T>::from_request(req, payload);
        Box::pin(async move { inner.await.map(|JsonBody(v)| OptionalJsonBody(v)) })
    }
}

pub(crate) fn payload_too_large() -> ApiError {
    too_large(MAX_BODY_BYTES)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        format!("The request body exceeds {} KiB", limit / 1024),
    )
}

fn check_json_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let is_json = req.mime_type().ok().flatten().is_some_and(|mime| {
        mime.type_() == "application"
            && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
    });
    if is_json {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED_CONTENT_TYPE",
            "Content-Type must be application/json",
        ))
    }
}

/// Parses `bytes` as a JSON object and deserializes it into `T`.
fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object",
        ));
    }
    let value = crate::strict_json::parse(bytes).map_err(|e| match e {
        crate::strict_json::StrictError::Malformed(e) => {
            ApiError::bad_request(format!("Malformed JSON: {e}"))
        }
        crate::strict_json::StrictError::Refused(r) => ApiError::invalid_field(r.field, r.message),
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object",
        ));
    }
    serde_path_to_error::deserialize(value)
        .map_err(|e| field_error(&e.path().to_string(), &e.into_inner().to_string()))
}

/// An optional field that may not be `null`: absent is `None`.
pub fn non_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    de: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(de).map(Some)
}

/// A field whose presence matters: absent is `None`, `null` is `Some(None)`.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    de: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(de).map(Some)
}

/// Query parameters deserialized into `T`; a bad or unknown parameter is a
/// 400 naming it.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned> FromRequest for QueryParams<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = form_urlencoded::parse(req.query_string().as_bytes());
        // The same text rule as bodies: no NUL character in any parameter.
        if let Some((name, _)) = pairs
            .clone()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return std::future::ready(Err(ApiError::invalid_field(
                name.replace('\0', ""),
                "must not contain NUL characters",
            )));
        }
        let de = serde_urlencoded::Deserializer::new(pairs);
        std::future::ready(
            serde_path_to_error::deserialize(de)
                .map(QueryParams)
                .map_err(|e| field_error(&e.path().to_string(), &e.into_inner().to_string())),
        )
    }
}

/// A 400 for one field, named by its path or, for missing and unknown fields
/// (whose path is the parent), by the name in serde's message.
fn field_error(path: &str, message: &str) -> ApiError {
    let named_in_message = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    let field = match (path, named_in_message) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => "body".to_owned(),
        // Unknown fields already end their path with their name.
        (path, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => {
            path.to_owned()
        }
        (path, Some(name)) => format!("{path}.{name}"),
        (path, None) => path.to_owned(),
    };
    let mut errors = ValidationErrors::new();
    errors.push(FieldError::new(field, message));
    ApiError::validation(&errors)
}

/// The authenticated caller. A handler that takes it requires credentials:
/// without them, or with invalid ones, the request is a 401.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let outcome = match req.extensions().get::<AuthOutcome>() {
            Some(AuthOutcome::Authenticated(actor)) => Ok(Authenticated(actor.clone())),
            Some(AuthOutcome::Rejected { code, message }) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                code,
                message.clone(),
            )),
            None => Err(ApiError::unauthorized(
                "Missing credentials: send `Authorization: Bearer <token>` or `x-api-key: <key>`",
            )),
        };
        std::future::ready(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        name: String,
        display_name: Option<String>,
    }

    fn detail(err: ApiError) -> (u16, String) {
        let env = err.envelope();
        (
            err.status().as_u16(),
            env.error
                .details
                .first()
                .map(|d| d.field.clone())
                .unwrap_or_default(),
        )
    }

    #[test]
    fn wrong_types_missing_and_unknown_fields_are_named() {
        assert_eq!(
            detail(parse_object::<Body>(br#"{"name": 5}"#).unwrap_err()),
            (400, "name".into())
        );
        assert_eq!(
            detail(parse_object::<Body>(br#"{}"#).unwrap_err()),
            (400, "name".into())
        );
        assert_eq!(
            detail(parse_object::<Body>(br#"{"name":"a","nmae":1}"#).unwrap_err()),
            (400, "nmae".into())
        );
        assert_eq!(
            detail(parse_object::<Body>(br#"{"name":"a","displayName":[]}"#).unwrap_err()),
            (400, "displayName".into())
        );
    }

    #[test]
    fn non_objects_and_broken_json_are_bad_requests() {
        for body in [&b"[]"[..], b"\"x\"", b"null", b"{", b"", b"  "] {
            let err = parse_object::<Body>(body).unwrap_err();
            assert_eq!(err.status().as_u16(), 400);
            assert_eq!(err.envelope().error.code, "BAD_REQUEST");
        }
    }
}

/// The caller, if it sent credentials: for routes open to everyone that
/// behave differently for a signed-in caller (`POST /auth/register`).
/// Credentials that were sent but are invalid are still a 401.
#[derive(Debug, Clone)]
pub struct MaybeAuthenticated(pub Option<Actor>);

impl FromRequest for MaybeAuthenticated {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let has_outcome = req.extensions().get::<AuthOutcome>().is_some();
        let result = if has_outcome {
            Authenticated::from_request(req, payload)
                .into_inner()
                .map(|a| MaybeAuthenticated(Some(a.0)))
        } else {
            Ok(MaybeAuthenticated(None))
        };
        std::future::ready(result)
    }
}
