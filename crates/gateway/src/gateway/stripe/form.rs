//! Stripe's request parameters: flat `key=value` pairs with bracket nesting
//! (`metadata[invoice_number]=INV-1`, `created[gte]=…`, `expand[]=…`), sent as a query
//! string on GET and as an `application/x-www-form-urlencoded` body on POST.
//!
//! Building the pairs by hand keeps the order stable (so the same request is byte-for-byte
//! the same on every retry, which Stripe's idempotency check compares) and keeps money as
//! integers on the wire. Percent-encoding is left to reqwest.

use std::collections::BTreeMap;

/// The parameters of one request, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn new() -> Form {
        Form::default()
    }

    /// Adds `key=value`.
    pub fn set(mut self, key: &str, value: impl ToString) -> Form {
        self.pairs.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds `key=value` when there is a value.
    pub fn set_opt(self, key: &str, value: Option<impl ToString>) -> Form {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    /// Adds `parent[child]=value`.
    pub fn nested(self, parent: &str, child: &str, value: impl ToString) -> Form {
        self.set(&format!("{parent}[{child}]"), value)
    }

    /// Adds every metadata entry as `metadata[key]=value`, in key order.
    pub fn metadata(self, metadata: &BTreeMap<String, String>) -> Form {
        metadata
            .iter()
            .fold(self, |form, (k, v)| form.nested("metadata", k, v))
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(form: &Form) -> String {
        let request = reqwest::Client::new()
            .post("http://127.0.0.1:9/v1/refunds")
            .form(form.pairs())
            .build()
            .unwrap();
        let bytes = request.body().and_then(|b| b.as_bytes()).unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn metadata_is_nested_in_brackets_and_escaped() {
        let metadata = BTreeMap::from([
            ("invoice_number".to_string(), "INV 1/2&3".to_string()),
            ("idempotency_key".to_string(), "cg-refund-7".to_string()),
        ]);
        let form = Form::new()
            .set("charge", "ch_1")
            .set("amount", 1099)
            .metadata(&metadata);
        assert_eq!(
            body_of(&form),
            "charge=ch_1&amount=1099&metadata%5Bidempotency_key%5D=cg-refund-7&metadata%5Binvoice_number%5D=INV+1%2F2%263"
        );
    }

    #[test]
    fn the_same_parameters_encode_the_same_way_every_time() {
        let build = || {
            Form::new()
                .nested("created", "gte", 100)
                .set_opt("starting_after", Some("ch_9"))
                .set_opt("customer", None::<&str>)
        };
        assert_eq!(body_of(&build()), body_of(&build()));
        assert_eq!(
            body_of(&build()),
            "created%5Bgte%5D=100&starting_after=ch_9"
        );
    }
}
