//! Offset paging shared by every list endpoint.

use serde::Serialize;

use crate::{FieldError, ValidationErrors};

/// Page size when the caller names none.
pub const DEFAULT_PAGE_LIMIT: u64 = 100;
/// The largest page a caller may ask for.
pub const MAX_PAGE_LIMIT: u64 = 1000;

/// A validated `limit`/`offset` pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    limit: u64,
    offset: u64,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_PAGE_LIMIT,
            offset: 0,
        }
    }
}

impl PageRequest {
    /// Validates raw query values: `limit` in 1..=1000 (default 100), `offset`
    /// at least 0 (default 0).
    ///
    /// # Errors
    /// One [`FieldError`] per bad field, named `limit` or `offset`.
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let limit = match limit {
            None => DEFAULT_PAGE_LIMIT,
            Some(l) if (1..=MAX_PAGE_LIMIT as i64).contains(&l) => l as u64,
            Some(_) => {
                errors.push(FieldError::new(
                    "limit",
                    format!("must be between 1 and {MAX_PAGE_LIMIT}"),
                ));
                0
            }
        };
        let offset = match offset {
            None => 0,
            Some(o) if o >= 0 => o as u64,
            Some(_) => {
                errors.push(FieldError::new("offset", "must be 0 or more"));
                0
            }
        };
        errors.into_result(Self { limit, offset })
    }

    /// The page size.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// How many rows to skip.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// One page of a list, with the total count of matching rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The rows of this page, in the list's stable order.
    pub items: Vec<T>,
    /// How many rows match the filter, over all pages.
    pub total: u64,
    /// The page size used.
    pub limit: u64,
    /// The offset used.
    pub offset: u64,
}

impl<T> Page<T> {
    /// Transforms every item, keeping the paging numbers.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            limit: self.limit,
            offset: self.offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_100_and_0() {
        assert_eq!(PageRequest::new(None, None), Ok(PageRequest::default()));
        assert_eq!(PageRequest::default().limit(), 100);
    }

    #[test]
    fn limit_must_be_within_1_and_1000() {
        assert_eq!(
            PageRequest::new(Some(1000), None).map(|p| p.limit()),
            Ok(1000)
        );
        for bad in [0, -1, 1001] {
            let err = PageRequest::new(Some(bad), None).unwrap_err();
            assert_eq!(err.fields()[0].field, "limit");
        }
    }

    #[test]
    fn both_errors_are_reported_at_once() {
        let err = PageRequest::new(Some(5000), Some(-3)).unwrap_err();
        let fields: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["limit", "offset"]);
    }
}
