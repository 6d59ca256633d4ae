//! `POST /leads/import` and `GET /leads/export`: leads as CSV, streamed both
//! ways so that a large file never sits in memory whole.
//!
//! The import reads the body as it arrives, validates each row exactly as
//! `POST /leads` validates a lead, and routes the valid rows in file order
//! through [`proposal::LeadService::ingest_batch`], [`IMPORT_CHUNK`] rows per
//! transaction. The export writes pages of [`EXPORT_PAGE`] leads one after
//! another, with the filters, order and visibility of `GET /leads`, each
//! page read after the last lead of the one before (keyset paging: the
//! last page of a large organization costs what the first one does).

use std::{borrow::Cow, collections::HashSet, io};

use actix_web::{
    HttpMessage, HttpRequest, HttpResponse,
    http::{
        StatusCode,
        header::{self, ContentDisposition, DispositionParam, DispositionType},
    },
    web,
};
use chrono::SecondsFormat;
use futures::{SinkExt, StreamExt, TryStreamExt, channel::mpsc};
use lead::{Lead, LeadFilter, LeadKey, NewLead};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tenancy::Actor;
use utoipa::{IntoParams, ToSchema};

use crate::{
    envelope::DataEnvelope,
    error::{ApiError, ErrorEnvelope},
    extract::{Authenticated, QueryParams},
    routes::leads::{LeadBody, LeadStatusDto, lead_filter},
    startup::AppState,
};

/// The largest CSV body `POST /leads/import` takes (413 above it).
pub const MAX_IMPORT_BYTES: usize = 50 * 1024 * 1024;

/// Rows routed per transaction: large enough to share the commit, small
/// enough that one transaction holds the routing locks only briefly.
pub const IMPORT_CHUNK: usize = 500;

/// The most row errors one import reports (`errorsTruncated` says when more
/// were left out): a broken file must not make a response as large as itself.
pub const MAX_IMPORT_ERRORS: usize = 1000;

/// Leads read per page of an export.
pub const EXPORT_PAGE: u64 = 1000;

/// The columns of an export, in order.
pub const EXPORT_COLUMNS: [&str; 16] = [
    "id",
    "externalId",
    "name",
    "email",
    "phone",
    "company",
    "source",
    "region",
    "country",
    "score",
    "status",
    "assignedAgentId",
    "unroutedReason",
    "createdAt",
    "updatedAt",
    "fields",
];

/// One refused row of an import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportErrorDto {
    /// The data row, from 1 (the header is not counted).
    pub row: usize,
    /// The lead field at fault (`email`, `fields.plan`...), or `row` for a
    /// row that cannot be read at all.
    pub field: String,
    /// Why.
    pub message: String,
}

/// What `POST /leads/import` did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::leads_import_dto)]
pub struct ImportDto {
    /// Data rows read (rows whose cells are all blank are skipped and not
    /// counted, but keep their number).
    pub rows: usize,
    /// Leads created and routed.
    pub created: usize,
    /// Rows whose `externalId` the organization already had: nothing new.
    pub replayed: usize,
    /// Rows refused (see `errors`).
    pub failed: usize,
    /// Why rows were refused, in file order; at most 1,000 entries.
    pub errors: Vec<ImportErrorDto>,
    /// Whether `errors` was cut at 1,000 entries.
    pub errors_truncated: bool,
    /// Header columns that were not read: an export's read-only columns
    /// (`id`, `status`, `createdAt`...) and unnamed columns.
    pub ignored_columns: Vec<String>,
}

/// Where a header column goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    ExternalId,
    Name,
    Email,
    Phone,
    Company,
    Source,
    Region,
    Country,
    Score,
    /// A JSON object of custom fields, as the export writes it.
    Fields,
    /// A custom field of that name.
    Custom(String),
    Ignored,
}

impl Column {
    /// The column a header cell names, matched case-insensitively.
    fn of(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "externalid" | "external_id" => Self::ExternalId,
            "name" => Self::Name,
            "email" => Self::Email,
            "phone" => Self::Phone,
            "company" => Self::Company,
            "source" => Self::Source,
            "region" => Self::Region,
            "country" => Self::Country,
            "score" => Self::Score,
            "fields" => Self::Fields,
            // What an export carries but a client may not set: ignored, so
            // that an exported file can be imported as it is.
            "id" | "orgid" | "org_id" | "status" | "assignedagentid" | "assigned_agent_id"
            | "unroutedreason" | "unrouted_reason" | "createdat" | "created_at" | "updatedat"
            | "updated_at" => Self::Ignored,
            "" => Self::Ignored,
            _ => Self::Custom(name.to_owned()),
        }
    }
}

/// The header, checked: every reason to refuse the file is found here,
/// before any row is read or anything written.
fn parse_header(cells: &csv_async::StringRecord) -> Result<(Vec<Column>, Vec<String>), ApiError> {
    let header_error = |message: String| ApiError::invalid_field("header", message);
    if cells
        .iter()
        .all(|c| c.trim().trim_start_matches('\u{feff}').is_empty())
    {
        return Err(header_error(
            "is missing: the first line must name the columns (`name` at least)".into(),
        ));
    }
    let mut columns = Vec::with_capacity(cells.len());
    let mut ignored = Vec::new();
    let mut seen = HashSet::new();
    for (i, cell) in cells.iter().enumerate() {
        // A UTF-8 byte order mark (as spreadsheets write) is not part of the name.
        let name = if i == 0 {
            cell.trim_start_matches('\u{feff}')
        } else {
            cell
        }
        .trim();
        let column = Column::of(name);
        if !name.is_empty() {
            // Known columns by what they set (`externalId` = `external_id`),
            // the others by name, case aside.
            let key = match &column {
                Column::Custom(_) | Column::Ignored => name.to_ascii_lowercase(),
                known => format!("{known:?}"),
            };
            if !seen.insert(key) {
                return Err(header_error(format!(
                    "names the column `{name}` twice (column {})",
                    i + 1
                )));
            }
        }
        if let Column::Custom(key) = &column
            && !lead::is_field_key(key)
        {
            return Err(header_error(format!(
                "column {} `{name}`: a custom column's name must be 1-64 letters, digits, `_` or `-`",
                i + 1
            )));
        }
        if column == Column::Ignored {
            ignored.push(name.to_owned());
        }
        columns.push(column);
    }
    if !columns.contains(&Column::Name) {
        return Err(header_error(
            "has no `name` column: every lead needs a name (known columns: externalId, name, \
             email, phone, company, source, region, country, score, fields)"
                .into(),
        ));
    }
    Ok((columns, ignored))
}

/// Undoes the export's guard against formula injection (see [`cell`]): a
/// quote before a formula character is dropped, so an export imports back
/// as it was.
fn unguarded(value: &str) -> &str {
    match value.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => value,
    }
}

/// A row as the body of `POST /leads`, validated the same way; the field
/// errors otherwise.
fn parse_row(
    columns: &[Column],
    record: &csv_async::StringRecord,
) -> Result<NewLead, Vec<(String, String)>> {
    if record.len() > columns.len() {
        return Err(vec![(
            "row".into(),
            format!(
                "has {} cells; the header has {}",
                record.len(),
                columns.len()
            ),
        )]);
    }
    let mut body = LeadBody {
        external_id: None,
        name: String::new(),
        email: None,
        phone: None,
        company: None,
        source: None,
        region: None,
        country: None,
        score: None,
        fields: None,
    };
    let mut fields = Map::new();
    let mut errors = Vec::new();
    for (column, raw) in columns.iter().zip(record.iter()) {
        let value = unguarded(raw.trim());
        // A blank cell is an absent value (CSV cannot tell them apart).
        if value.is_empty() {
            continue;
        }
        let text = Some(value.to_owned());
        match column {
            Column::ExternalId => body.external_id = text,
            Column::Name => body.name = value.to_owned(),
            Column::Email => body.email = text,
            Column::Phone => body.phone = text,
            Column::Company => body.company = text,
            Column::Source => body.source = text,
            Column::Region => body.region = text,
            Column::Country => body.country = text,
            Column::Score => match value.parse::<i64>() {
                Ok(n) => body.score = Some(n),
                Err(_) => errors.push((
                    "score".into(),
                    "must be an integer between 0 and 100".into(),
                )),
            },
            Column::Fields => match serde_json::from_str::<Map<String, Value>>(value) {
                // Named columns win over the same key in `fields`.
                Ok(map) => {
                    for (k, v) in map {
                        fields.entry(k).or_insert(v);
                    }
                }
                Err(_) => errors.push(("fields".into(), "must be a JSON object".into())),
            },
            Column::Custom(key) => {
                fields.insert(key.clone(), Value::String(value.to_owned()));
            }
            Column::Ignored => {}
        }
    }
    if !fields.is_empty() {
        body.fields = Some(fields);
    }
    match body.into_new_lead() {
        Ok(lead) if errors.is_empty() => Ok(lead),
        Ok(_) => Err(errors),
        Err(err) => {
            errors.extend(problems(&err));
            Err(errors)
        }
    }
}

/// A refused row's problems as (field, message): the error's field details,
/// or its message under `row` when it names no field.
fn problems(err: &ApiError) -> Vec<(String, String)> {
    let error = err.envelope().error;
    if error.details.is_empty() {
        vec![("row".to_owned(), error.message)]
    } else {
        error
            .details
            .into_iter()
            .map(|d| (d.field, d.message))
            .collect()
    }
}

/// The body went over [`MAX_IMPORT_BYTES`] (carried through the reader as an
/// I/O error).
#[derive(Debug, thiserror::Error)]
#[error("the CSV body exceeds the limit")]
struct TooLarge;

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        format!(
            "The CSV body exceeds {} MiB: split the file",
            MAX_IMPORT_BYTES / (1024 * 1024)
        ),
    )
}

/// The content type must be CSV, in UTF-8 if a charset is named.
fn check_csv_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let mime = req.mime_type().ok().flatten();
    let csv = mime.as_ref().is_some_and(|m| {
        m.type_() == "text"
            && m.subtype() == "csv"
            && m.get_param("charset")
                .is_none_or(|c| c.as_str().eq_ignore_ascii_case("utf-8"))
    });
    if csv {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_CONTENT_TYPE",
            "Content-Type must be text/csv (UTF-8)",
        ))
    }
}

/// What an import has done so far.
#[derive(Debug, Default)]
struct Tally {
    created: usize,
    replayed: usize,
    failed: usize,
    errors: Vec<ImportErrorDto>,
    errors_truncated: bool,
}

impl Tally {
    fn refuse(&mut self, row: usize, problems: Vec<(String, String)>) {
        self.failed += 1;
        for (field, message) in problems {
            if self.errors.len() < MAX_IMPORT_ERRORS {
                self.errors.push(ImportErrorDto {
                    row,
                    field,
                    message,
                });
            } else {
                self.errors_truncated = true;
            }
        }
    }
}

/// Routes one chunk of valid rows in one transaction.
async fn flush(
    state: &AppState,
    actor: &Actor,
    chunk: &mut Vec<(usize, NewLead)>,
    tally: &mut Tally,
) -> Result<(), ApiError> {
    if chunk.is_empty() {
        return Ok(());
    }
    let (rows, leads): (Vec<usize>, Vec<NewLead>) = std::mem::take(chunk).into_iter().unzip();
    let routed = state.leads.ingest_batch(actor, leads).await?;
    for (row, outcome) in rows.into_iter().zip(routed) {
        match outcome {
            Ok(r) => {
                state.metrics.lead_routed(&r);
                if r.created {
                    tally.created += 1;
                } else {
                    tally.replayed += 1;
                }
            }
            Err(err) => tally.refuse(row, problems(&ApiError::from(err))),
        }
    }
    Ok(())
}

/// Import leads from a CSV file (UTF-8, optional byte order mark, a header
/// row). Columns are matched by name, case-insensitively: `externalId` (or
/// `external_id`), `name`, `email`, `phone`, `company`, `source`, `region`,
/// `country`, `score`, and `fields` (a JSON object, as the export writes it);
/// an export's read-only columns (`id`, `status`, `assignedAgentId`,
/// `createdAt`...) are ignored; every other column is a custom field, its
/// non-blank cells stored as strings. A blank cell is an absent value.
///
/// Each row is validated as `POST /leads` validates a lead and refused alone
/// (`errors`, at most 1,000 entries) while the others go on; valid rows are
/// routed in file order, 500 per transaction, and a row whose `externalId`
/// the organization already has is a replay: importing the same file twice
/// creates nothing the second time. A header problem refuses the whole file
/// before anything is written. A failure mid-file (a body over 50 MiB sent
/// without `Content-Length`, a storage error) keeps the chunks already
/// routed: send the file again, the rows with an `externalId` are replays.
#[utoipa::path(post, path = "/leads/import", operation_id = "import_leads_csv", tag = "leads",
    request_body(content = String, content_type = "text/csv",
        description = "A CSV file with a header row, at most 50 MiB",
        example = json!("externalId,name,email,plan\ncrm-1,Jane Doe,jane@globex.com,pro\n")),
    responses(
        (status = 200, description = "What was created, replayed and refused", body = DataEnvelope<ImportDto>),
        (status = 400, description = "A header problem (missing, no `name` column, a column named twice, a custom column name that cannot be a field key), or a body that cannot be read; nothing was written", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 413, description = "The body exceeds 50 MiB: `PAYLOAD_TOO_LARGE`", body = ErrorEnvelope),
        (status = 415, description = "Content-Type is not `text/csv` (UTF-8): `UNSUPPORTED_CONTENT_TYPE`", body = ErrorEnvelope),
    ))]
pub async fn import(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_csv_content_type(&req)?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_IMPORT_BYTES) {
        return Err(too_large());
    }
    // The payload is tied to this worker's thread, and the CSV reader wants
    // a `Send` source: a local task forwards the chunks through a small
    // bounded channel (back-pressure: the body is read as fast as the rows
    // are routed), counting the bytes on the way.
    let (mut tx, rx) = mpsc::channel::<io::Result<web::Bytes>>(4);
    actix_web::rt::spawn(async move {
        let mut seen = 0usize;
        while let Some(chunk) = payload.next().await {
            let item = match chunk {
                Ok(bytes) => {
                    seen += bytes.len();
                    if seen > MAX_IMPORT_BYTES {
                        Err(io::Error::other(TooLarge))
                    } else {
                        Ok(bytes)
                    }
                }
                Err(e) => Err(io::Error::other(e.to_string())),
            };
            let failed = item.is_err();
            // A closed channel means the handler is done with the body.
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    let mut reader = csv_async::AsyncReaderBuilder::new()
        .flexible(true)
        .end_on_io_error(true)
        .create_reader(rx.into_async_read());

    let read_error = |e: csv_async::Error| match e.kind() {
        csv_async::ErrorKind::Io(io)
            if io.get_ref().is_some_and(|inner| inner.is::<TooLarge>()) =>
        {
            too_large()
        }
        csv_async::ErrorKind::Io(io) => {
            ApiError::bad_request(format!("The request body could not be read: {io}"))
        }
        _ => ApiError::invalid_field("header", format!("cannot be read: {e}")),
    };
    let header = reader.headers().await.map_err(read_error)?.clone();
    let (columns, ignored_columns) = parse_header(&header)?;

    let mut tally = Tally::default();
    let mut rows = 0usize;
    let mut number = 0usize;
    let mut chunk = Vec::with_capacity(IMPORT_CHUNK);
    let mut record = csv_async::StringRecord::new();
    loop {
        match reader.read_record(&mut record).await {
            Ok(false) => break,
            Ok(true) => {
                number += 1;
                if record.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                rows += 1;
                match parse_row(&columns, &record) {
                    Ok(lead) => chunk.push((number, lead)),
                    Err(problems) => tally.refuse(number, problems),
                }
            }
            Err(e) => match e.kind() {
                csv_async::ErrorKind::Io(_) => return Err(read_error(e)),
                // Invalid UTF-8: this row only; the reader goes on.
                _ => {
                    number += 1;
                    rows += 1;
                    tally.refuse(number, vec![("row".into(), format!("cannot be read: {e}"))]);
                }
            },
        }
        if chunk.len() >= IMPORT_CHUNK {
            flush(&state, &actor, &mut chunk, &mut tally).await?;
        }
    }
    flush(&state, &actor, &mut chunk, &mut tally).await?;
    tracing::info!(
        rows,
        created = tally.created,
        replayed = tally.replayed,
        failed = tally.failed,
        "leads imported"
    );
    Ok(HttpResponse::Ok().json(DataEnvelope {
        ok: true,
        data: ImportDto {
            rows,
            created: tally.created,
            replayed: tally.replayed,
            failed: tally.failed,
            errors: tally.errors,
            errors_truncated: tally.errors_truncated,
            ignored_columns,
        },
    }))
}

/// Filters of `GET /leads/export`: those of `GET /leads`, without paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ExportLeadsQuery {
    /// Only this status.
    pub status: Option<LeadStatusDto>,
    /// Only leads assigned to this agent.
    pub assigned_agent_id: Option<String>,
}

/// What a spreadsheet would read as a formula when a cell starts with it.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell as exported: text a spreadsheet would run as a formula gets a
/// leading `'` (OWASP's advice against CSV injection).
fn cell(value: &str) -> Cow<'_, str> {
    if value.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// One page of the export as CSV bytes (the header first when asked).
fn write_page(leads: Vec<Lead>, with_header: bool) -> io::Result<web::Bytes> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(leads.len() * 256));
    if with_header {
        out.write_record(EXPORT_COLUMNS)?;
    }
    for lead in leads {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let fields = serde_json::to_string(&lead.fields).map_err(io::Error::other)?;
        let row = [
            lead.id.to_string(),
            opt(lead.external_id.clone()),
            lead.name.clone(),
            opt(lead.email.clone().map(String::from)),
            opt(lead.phone.clone()),
            opt(lead.company.clone()),
            opt(lead.source.clone()),
            opt(lead.region.clone()),
            opt(lead.country.clone()),
            lead.score.map(|s| s.to_string()).unwrap_or_default(),
            lead.status.as_str().to_owned(),
            lead.assigned_agent_id()
                .map(ToString::to_string)
                .unwrap_or_default(),
            opt(lead.unrouted_reason.clone()),
            lead.created_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            lead.updated_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            fields,
        ];
        out.write_record(row.iter().map(|v| cell(v).into_owned()))?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(web::Bytes::from(bytes))
}

/// Where an export stands between two pages.
struct ExportCursor {
    state: web::Data<AppState>,
    actor: Actor,
    filter: LeadFilter,
    /// The first page, read before the response started.
    first: Option<Vec<Lead>>,
    /// The last lead written: the next page starts after it, so that a
    /// page costs the same at the end of a large export as at its start.
    after: Option<LeadKey>,
    done: bool,
}

impl ExportCursor {
    async fn next_page(&mut self) -> Result<Vec<Lead>, ApiError> {
        if let Some(first) = self.first.take() {
            return Ok(first);
        }
        Ok(self
            .state
            .leads
            .leads_after(
                &self.actor,
                self.filter.clone(),
                self.after.as_ref(),
                EXPORT_PAGE,
            )
            .await?)
    }
}

/// Export leads as CSV, newest first, with the filters and the visibility of
/// `GET /leads` (an agent gets its own leads). Columns: `id, externalId,
/// name, email, phone, company, source, region, country, score, status,
/// assignedAgentId, unroutedReason, createdAt, updatedAt, fields` (custom
/// fields as one JSON object). A cell starting with `=`, `+`, `-`, `@`, tab
/// or carriage return gets a leading `'` so that spreadsheets do not run it
/// as a formula (the import drops that quote again). Streamed page by page;
/// a storage failure midway cuts the response short (an incomplete chunked
/// body), never a partial file that looks complete.
#[utoipa::path(get, path = "/leads/export", operation_id = "export_leads_csv", tag = "leads", params(ExportLeadsQuery),
    responses(
        (status = 200, description = "The leads as CSV (`Content-Disposition: attachment; filename=\"leads.csv\"`)",
            content_type = "text/csv", body = String,
            example = json!("id,externalId,name,email,phone,company,source,region,country,score,status,assignedAgentId,unroutedReason,createdAt,updatedAt,fields\r\nlead_0195,crm-1,Jane Doe,jane@globex.com,'+33 1 23 45 67 89,Globex,web,,FR,72,assigned,agt_0195,,2025-03-03T10:00:00Z,2025-03-03T10:05:00Z,\"{\"\"plan\"\":\"\"pro\"\"}\"\r\n")),
        (status = 400, description = "Invalid filter", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
    ))]
pub async fn export(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ExportLeadsQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = lead_filter(q.status, q.assigned_agent_id)?;
    // The first page is read before answering, so that a failure to read
    // anything is still an ordinary error response.
    let first = state
        .leads
        .leads_after(&actor, filter.clone(), None, EXPORT_PAGE)
        .await?;
    let cursor = ExportCursor {
        state,
        actor,
        filter,
        first: Some(first),
        after: None,
        done: false,
    };
    let body = futures::stream::unfold(cursor, |mut cursor| async move {
        if cursor.done {
            return None;
        }
        let with_header = cursor.first.is_some();
        let chunk = match cursor.next_page().await {
            Ok(leads) => {
                cursor.done = (leads.len() as u64) < EXPORT_PAGE;
                cursor.after = leads.last().map(LeadKey::of);
                write_page(leads, with_header)
            }
            Err(err) => Err(io::Error::other(err.to_string())),
        };
        if let Err(err) = &chunk {
            tracing::error!(error = %err, "lead export stopped");
            cursor.done = true;
        }
        Some((chunk, cursor))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename("leads.csv".into())],
        })
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cells: &[&str]) -> csv_async::StringRecord {
        csv_async::StringRecord::from(cells.to_vec())
    }

    #[test]
    fn header_names_match_case_insensitively_with_aliases() {
        let (columns, ignored) = parse_header(&record(&[
            "\u{feff}Name",
            "EXTERNAL_ID",
            "Email",
            "plan",
            "Status",
            "",
        ]))
        .unwrap();
        assert_eq!(
            columns,
            [
                Column::Name,
                Column::ExternalId,
                Column::Email,
                Column::Custom("plan".into()),
                Column::Ignored,
                Column::Ignored
            ]
        );
        assert_eq!(ignored, ["Status", ""]);
    }

    #[test]
    fn bad_headers_are_refused_with_the_reason() {
        for (cells, reason) in [
            (&["", ""][..], "missing"),
            (&["email", "phone"][..], "no `name`"),
            (&["name", "Name"][..], "twice"),
            (&["name", "externalId", "external_id"][..], "twice"),
            (&["name", "Lead score"][..], "custom column"),
        ] {
            let err = parse_header(&record(cells)).unwrap_err();
            let message = &err.envelope().error.details[0].message;
            assert!(message.contains(reason), "{cells:?}: {message}");
        }
    }

    #[test]
    fn formula_cells_are_quoted_and_unquoted_again() {
        for v in ["=SUM(A1)", "+33 1", "-1", "@x", "\tx", "\rx"] {
            assert_eq!(cell(v), format!("'{v}"));
            assert_eq!(unguarded(&cell(v)), v);
        }
        assert_eq!(cell("Jane"), "Jane");
        assert_eq!(unguarded("'quoted"), "'quoted");
    }
}
