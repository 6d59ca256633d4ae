//! The success envelopes of the API contract: `{ok: true, data}`, lists with
//! `pagination`, and `{ok: true, message}` for deletions.

use actix_web::{HttpResponse, http::StatusCode};
use serde::Serialize;
use tenancy::Page;
use utoipa::ToSchema;

/// `{"ok": true, "data": ...}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataEnvelope<T> {
    /// Always `true`.
    #[schema(example = true)]
    pub ok: bool,
    /// The payload.
    pub data: T,
}

/// `{"ok": true, "data": [...], "pagination": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListEnvelope<T> {
    /// Always `true`.
    #[schema(example = true)]
    pub ok: bool,
    /// One page of results.
    pub data: Vec<T>,
    /// Where this page sits.
    pub pagination: Pagination,
}

/// Paging of a list response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = crate::examples::envelope_pagination)]
pub struct Pagination {
    /// Matching rows over all pages.
    pub total: u64,
    /// Page size used.
    pub limit: u64,
    /// Rows skipped.
    pub offset: u64,
}

/// `{"ok": true, "message": "...", "data"?: ...}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageEnvelope<T> {
    /// Always `true`.
    #[schema(example = true)]
    pub ok: bool,
    /// What happened.
    pub message: String,
    /// The affected object, when there still is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
}

/// 200 with `data`.
pub fn ok<T: Serialize>(data: T) -> HttpResponse {
    with_status(StatusCode::OK, data)
}

/// 201 with `data`.
pub fn created<T: Serialize>(data: T) -> HttpResponse {
    with_status(StatusCode::CREATED, data)
}

fn with_status<T: Serialize>(status: StatusCode, data: T) -> HttpResponse {
    HttpResponse::build(status).json(DataEnvelope { ok: true, data })
}

/// 200 with one page.
pub fn page<D: Serialize, T>(page: Page<T>, to_dto: impl FnMut(T) -> D) -> HttpResponse {
    let page = page.map(to_dto);
    HttpResponse::Ok().json(ListEnvelope {
        ok: true,
        data: page.items,
        pagination: Pagination {
            total: page.total,
            limit: page.limit,
            offset: page.offset,
        },
    })
}

/// 200 with a message and, optionally, data.
pub fn message<T: Serialize>(message: &str, data: Option<T>) -> HttpResponse {
    HttpResponse::Ok().json(MessageEnvelope {
        ok: true,
        message: message.to_owned(),
        data,
    })
}
