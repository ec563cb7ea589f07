//! Minting Azure SAS tokens from an account key: a service SAS for one blob (the source of a
//! server-side copy) and an account SAS.
//!
//! Written by hand for the same reason as Shared Key signing: the SDK does not mint SAS tokens.
//! String-to-sign layouts follow "Create a service SAS" and "Create an account SAS" for
//! version 2020-12-06 and later.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::shared_key::hmac_sha256_b64;
use crate::error::{Result, StoreError};
use crate::secret::Secret;

/// The service version SAS tokens are minted for.
pub const SAS_VERSION: &str = "2022-11-02";

/// What a SAS token grants and for how long.
#[derive(Debug, Clone)]
pub struct SasGrant {
    /// Permissions in Azure's canonical order, e.g. `r`, `rw`, `racwdl`.
    pub permissions: String,
    /// Start of validity; `None` for "now" as the service sees it.
    pub start: Option<OffsetDateTime>,
    /// End of validity.
    pub expiry: OffsetDateTime,
    /// `https` or `https,http`.
    pub protocol: Option<String>,
}

fn timestamp(t: OffsetDateTime) -> String {
    // Whole seconds, UTC, as the SAS examples show them (e.g. 2026-11-22T10:00:00Z).
    let t = t
        .replace_nanosecond(0)
        .unwrap_or(t)
        .to_offset(time::UtcOffset::UTC);
    t.format(&Rfc3339).unwrap_or_default()
}

/// An expiry in whole seconds, rounded up so a grant never ends before it was asked to.
fn expiry_timestamp(t: OffsetDateTime) -> String {
    let whole = if t.nanosecond() > 0 {
        t + time::Duration::seconds(1)
    } else {
        t
    };
    timestamp(whole)
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn sign(key: &Secret, to_sign: &str) -> Result<String> {
    hmac_sha256_b64(key.expose(), to_sign).map_err(|m| StoreError::new(crate::ErrorKind::Auth, m))
}

/// The string-to-sign of a service SAS for one blob.
pub fn blob_sas_string_to_sign(
    account: &str,
    container: &str,
    blob: &str,
    grant: &SasGrant,
) -> String {
    let start = grant.start.map(timestamp).unwrap_or_default();
    [
        grant.permissions.as_str(),
        &start,
        &expiry_timestamp(grant.expiry),
        &format!("/blob/{account}/{container}/{blob}"),
        "", // signed identifier
        "", // signed IP
        grant.protocol.as_deref().unwrap_or(""),
        SAS_VERSION,
        "b", // signed resource: blob
        "",  // snapshot time
        "",  // encryption scope
        "",  // rscc
        "",  // rscd
        "",  // rsce
        "",  // rscl
        "",  // rsct
    ]
    .join("\n")
}

/// A service SAS query string granting `grant` on one blob.
pub fn blob_sas(
    account: &str,
    key: &Secret,
    container: &str,
    blob: &str,
    grant: &SasGrant,
) -> Result<Secret> {
    let signature = sign(
        key,
        &blob_sas_string_to_sign(account, container, blob, grant),
    )?;
    let mut query = format!("sv={SAS_VERSION}&sr=b&sp={}", encode(&grant.permissions));
    if let Some(start) = grant.start {
        query.push_str(&format!("&st={}", encode(&timestamp(start))));
    }
    query.push_str(&format!("&se={}", encode(&expiry_timestamp(grant.expiry))));
    if let Some(protocol) = &grant.protocol {
        query.push_str(&format!("&spr={}", encode(protocol)));
    }
    query.push_str(&format!("&sig={}", encode(&signature)));
    Ok(Secret::new(query))
}

/// The string-to-sign of an account SAS for the Blob service, all resource types.
pub fn account_sas_string_to_sign(account: &str, grant: &SasGrant) -> String {
    let start = grant.start.map(timestamp).unwrap_or_default();
    let mut out = [
        account,
        grant.permissions.as_str(),
        "b",   // signed services: blob
        "sco", // signed resource types: service, container, object
        &start,
        &expiry_timestamp(grant.expiry),
        "", // signed IP
        grant.protocol.as_deref().unwrap_or(""),
        SAS_VERSION,
        "", // encryption scope
    ]
    .join("\n");
    out.push('\n');
    out
}

/// An account SAS query string for the Blob service.
pub fn account_sas(account: &str, key: &Secret, grant: &SasGrant) -> Result<Secret> {
    let signature = sign(key, &account_sas_string_to_sign(account, grant))?;
    let mut query = format!(
        "sv={SAS_VERSION}&ss=b&srt=sco&sp={}",
        encode(&grant.permissions)
    );
    if let Some(start) = grant.start {
        query.push_str(&format!("&st={}", encode(&timestamp(start))));
    }
    query.push_str(&format!("&se={}", encode(&expiry_timestamp(grant.expiry))));
    if let Some(protocol) = &grant.protocol {
        query.push_str(&format!("&spr={}", encode(protocol)));
    }
    query.push_str(&format!("&sig={}", encode(&signature)));
    Ok(Secret::new(query))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    fn grant() -> SasGrant {
        SasGrant {
            permissions: "r".into(),
            start: Some(datetime!(2026-11-22 10:00:00.123 UTC)),
            expiry: datetime!(2026-11-23 10:00:00 UTC),
            protocol: Some("https,http".into()),
        }
    }

    /// Field order and count as listed for version 2020-12-06 and later (16 fields).
    #[test]
    fn blob_sas_layout_follows_the_documented_order() {
        let s = blob_sas_string_to_sign("acct", "cont", "dir/blob.txt", &grant());
        let fields: Vec<&str> = s.split('\n').collect();
        assert_eq!(fields.len(), 16);
        assert_eq!(
            &fields[..10],
            &[
                "r",
                "2026-11-22T10:00:00Z",
                "2026-11-23T10:00:00Z",
                "/blob/acct/cont/dir/blob.txt",
                "",
                "",
                "https,http",
                SAS_VERSION,
                "b",
                ""
            ]
        );
    }

    #[test]
    fn expiry_rounds_up_start_rounds_down() {
        let t = datetime!(2026-11-22 10:00:00.2 UTC);
        assert_eq!(timestamp(t), "2026-11-22T10:00:00Z");
        assert_eq!(expiry_timestamp(t), "2026-11-22T10:00:01Z");
        assert_eq!(
            expiry_timestamp(datetime!(2026-11-22 10:00:00 UTC)),
            "2026-11-22T10:00:00Z"
        );
    }

    #[test]
    fn account_sas_layout_ends_with_newline() {
        let s = account_sas_string_to_sign("acct", &grant());
        assert_eq!(
            s,
            format!("acct\nr\nb\nsco\n2026-11-22T10:00:00Z\n2026-11-23T10:00:00Z\n\nhttps,http\n{SAS_VERSION}\n\n")
        );
    }

    /// The signature checked against Python's hmac over the same string-to-sign.
    #[test]
    fn blob_sas_query_carries_an_independently_checked_signature() {
        let sas = blob_sas("acct", &Secret::new(KEY), "cont", "dir/blob.txt", &grant()).unwrap();
        assert_eq!(
            sas.expose(),
            "sv=2022-11-02&sr=b&sp=r&st=2026-11-22T10%3A00%3A00Z&se=2026-11-23T10%3A00%3A00Z&spr=https%2Chttp&sig=sxLTnRuBkw0W8OCoSzGgiEWNwzpxkF6Xi0b3V4ub6vQ%3D"
        );
    }
}
