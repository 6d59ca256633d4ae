//! Field-level validation errors, collected so that a client learns every
//! problem of a request at once.

use std::fmt;

use serde::Serialize;

/// One invalid field and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's wire name, dotted for nested values (`settings.maxAgents`).
    pub field: String,
    /// What is wrong, in words a client developer can act on.
    pub message: String,
}

impl FieldError {
    /// A new field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every invalid field of one request. Empty means valid.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A single error.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }

    /// Records an error.
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Takes the errors of a nested validation.
    pub fn extend(&mut self, other: ValidationErrors) {
        self.0.extend(other.0);
    }

    /// Unwraps a parse result, recording its error under `field` (the message
    /// is the error's `Display`).
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        result
            .map_err(|e| self.push(FieldError::new(field, e.to_string())))
            .ok()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded errors, in the order found.
    pub fn fields(&self) -> &[FieldError] {
        &self.0
    }

    /// `Ok(value)` when nothing was recorded, else the errors.
    ///
    /// # Errors
    /// `self`, when it holds at least one error.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for e in &self.0 {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{}: {}", e.field, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}
