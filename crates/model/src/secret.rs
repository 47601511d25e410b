//! Values that must never be printed.

/// A token or password: `Debug` shows `Secret(***)`, and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_hides_the_value() {
        assert_eq!(
            format!("{:?}", super::Secret::new("hunter2")),
            "Secret(***)"
        );
    }
}
