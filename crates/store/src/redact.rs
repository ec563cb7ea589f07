//! Removes secrets from text before it reaches a log line, an error message or a record.
//!
//! Written by hand: it has to know the secret-bearing parameters of both clouds (SAS `sig`,
//! SigV4 query signing, connection-string keys), which no general crate covers.

/// Query parameters and `key=value` fields whose values are secret.
const SECRET_FIELDS: &[&str] = &[
    "sig",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "accountkey",
    "sharedaccesssignature",
    "x-ms-encryption-key",
    "x-amz-server-side-encryption-customer-key",
    "aws_secret_access_key",
    "azure_storage_key",
];

/// The text that replaces a secret value.
pub const REDACTED: &str = "REDACTED";

/// Returns `text` with the value of every secret field replaced by [`REDACTED`].
///
/// A value runs from the `=` (or `: `) after the field name up to the next `&`, `;`, quote or
/// whitespace, which covers URLs, connection strings and header dumps.
pub fn redact(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while pos < text.len() {
        match next_secret_value(&lower, pos) {
            Some((value_start, value_end)) => {
                out.push_str(&text[pos..value_start]);
                out.push_str(REDACTED);
                pos = value_end;
            }
            None => {
                out.push_str(&text[pos..]);
                break;
            }
        }
    }
    out
}

/// Finds the byte span of the first secret value at or after `from` in the lowercased text.
fn next_secret_value(lower: &str, from: usize) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for field in SECRET_FIELDS {
        let mut search = from;
        while let Some(found) = lower[search..].find(field) {
            let start = search + found;
            let after = start + field.len();
            search = after;
            let preceded_ok = start == 0
                || !lower.as_bytes()[start - 1].is_ascii_alphanumeric()
                    && lower.as_bytes()[start - 1] != b'-'
                    && lower.as_bytes()[start - 1] != b'_';
            let separator = if lower[after..].starts_with('=') {
                1
            } else if lower[after..].starts_with(": ") {
                2
            } else {
                0
            };
            if !preceded_ok || separator == 0 {
                continue;
            }
            let value_start = after + separator;
            let value_len = lower[value_start..]
                .find(|c: char| matches!(c, '&' | ';' | '"' | '\'' | ',') || c.is_whitespace())
                .unwrap_or(lower.len() - value_start);
            if value_len > 0 && best.is_none_or(|(s, _)| value_start < s) {
                best = Some((value_start, value_start + value_len));
            }
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_sas_signature_in_url() {
        let url = "https://acct.blob.core.windows.net/c/b?sv=2024-08-04&sig=abc%2Bdef%3D&se=2026";
        let out = redact(url);
        assert_eq!(
            out,
            "https://acct.blob.core.windows.net/c/b?sv=2024-08-04&sig=REDACTED&se=2026"
        );
    }

    #[test]
    fn redacts_connection_string_key_and_sigv4_query() {
        let cs =
            "DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=Eby8vdM0==;BlobEndpoint=x";
        assert_eq!(
            redact(cs),
            "DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=REDACTED;BlobEndpoint=x"
        );
        let presigned = "http://h/b/k?X-Amz-Credential=AKIA%2F20260101&X-Amz-Signature=deadbeef";
        let out = redact(presigned);
        assert!(!out.contains("AKIA") && !out.contains("deadbeef"), "{out}");
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        let text = "signature of design=ok; designation=sig";
        assert_eq!(redact(text), text);
    }
}
